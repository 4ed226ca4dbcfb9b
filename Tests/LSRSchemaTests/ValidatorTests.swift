import LSRFormats
import LSRSchema
import Testing

/// What `JSONSchema` tells its users: exact messages and JSON Pointers for the failures an
/// adapter configuration runs into, how `anyOf` / `oneOf` failures are reported, the
/// recursion guard, and the typed errors for schemas that cannot be compiled.
@Suite struct ValidatorTests {
    /// A schema shaped like an adapter configuration: modules with a rank and factor shapes.
    static let adapterSchema: JSONValue = [
        "type": "object",
        "required": ["modules"],
        "properties": [
            "modules": [
                "type": "array",
                "items": [
                    "type": "object",
                    "required": ["name", "rank"],
                    "additionalProperties": false,
                    "properties": [
                        "name": ["type": "string", "pattern": "^[a-z_.0-9]+$"],
                        "rank": ["type": "integer", "minimum": 1],
                        "up": ["$ref": "#/$defs/factors"],
                    ],
                ],
            ]
        ],
        "$defs": [
            "factors": [
                "type": "object",
                "properties": [
                    "left": ["properties": ["shape": ["type": "array", "items": ["type": "integer", "minimum": 1]]]]
                ],
            ]
        ],
    ]

    private func errors(_ schema: JSONValue, _ instance: JSONValue) throws -> [ValidationError] {
        try JSONSchema(schema).validate(instance)
    }

    private func error(_ instance: String, _ keyword: String, _ message: String) -> ValidationError {
        ValidationError(instanceLocation: instance, keywordLocation: keyword, message: message)
    }

    @Test func validInstanceHasNoErrors() throws {
        let instance: JSONValue = [
            "modules": [["name": "encoder.0.q", "rank": 4, "up": ["left": ["shape": [768, 4]]]]]
        ]
        #expect(try errors(Self.adapterSchema, instance) == [])
        #expect(try JSONSchema(Self.adapterSchema).isValid(instance))
    }

    @Test func missingRequiredProperty() throws {
        let instance: JSONValue = ["modules": [["name": "a", "rank": 1], ["name": "b"]]]
        #expect(
            try errors(Self.adapterSchema, instance) == [
                error("/modules/1", "/properties/modules/items/required", "required property 'rank' is missing")
            ])
    }

    @Test func deepFailuresThroughRef() throws {
        let instance: JSONValue = [
            "modules": [
                ["name": "a", "rank": 1], ["name": "b", "rank": 1], ["name": "c", "rank": 1],
                ["name": "d", "rank": 0, "up": ["left": ["shape": "768x4"]]],
            ]
        ]
        #expect(
            try errors(Self.adapterSchema, instance) == [
                error(
                    "/modules/3/rank", "/properties/modules/items/properties/rank/minimum",
                    "value 0 is below the minimum 1"),
                error(
                    "/modules/3/up/left/shape",
                    "/properties/modules/items/properties/up/$ref/properties/left/properties/shape/type",
                    "expected array, got string"),
            ])
        let shapes: JSONValue = ["modules": [["name": "d", "rank": 2, "up": ["left": ["shape": [768, 0]]]]]]
        #expect(
            try errors(Self.adapterSchema, shapes) == [
                error(
                    "/modules/0/up/left/shape/1",
                    "/properties/modules/items/properties/up/$ref/properties/left/properties/shape/items/minimum",
                    "value 0 is below the minimum 1")
            ])
    }

    @Test func unknownPropertyAndTypeMessages() throws {
        let instance: JSONValue = ["modules": [["name": "Bad Name", "rank": "4", "foo": 1]]]
        #expect(
            try errors(Self.adapterSchema, instance) == [
                // In the schema's keyword order: additionalProperties comes before properties there.
                error(
                    "/modules/0/foo", "/properties/modules/items/additionalProperties",
                    "unknown property 'foo' (additionalProperties is false)"),
                error(
                    "/modules/0/name", "/properties/modules/items/properties/name/pattern",
                    "string \"Bad Name\" does not match the pattern '^[a-z_.0-9]+$'"),
                error(
                    "/modules/0/rank", "/properties/modules/items/properties/rank/type", "expected integer, got string"),
            ])
        #expect(try errors(Self.adapterSchema, []) == [error("", "/type", "expected object, got array")])
    }

    @Test func unevaluatedPropertiesNamesTheProperty() throws {
        let schema: JSONValue = [
            "allOf": [["properties": ["a": true]]], "properties": ["b": true], "unevaluatedProperties": false,
        ]
        #expect(try errors(schema, ["a": 1, "b": 2]) == [])
        #expect(
            try errors(schema, ["a": 1, "c/d~e": 3]) == [
                error("/c~1d~0e", "/unevaluatedProperties", "unknown property 'c/d~e' (unevaluatedProperties is false)")
            ])
        let items: JSONValue = ["prefixItems": [true], "unevaluatedItems": false]
        #expect(
            try errors(items, [1, 2]) == [
                error("/1", "/unevaluatedItems", "unexpected item at index 1 (unevaluatedItems is false)")
            ])
    }

    @Test func numericAndStringAssertions() throws {
        let schema: JSONValue = [
            "properties": [
                "m": ["exclusiveMinimum": 1, "exclusiveMaximum": 2.5],
                "k": ["multipleOf": 2, "maximum": 4],
                "s": ["minLength": 2, "maxLength": 3],
                "a": ["minItems": 2, "uniqueItems": true],
                "o": ["maxProperties": 1, "dependentRequired": ["x": ["y"]]],
                "e": ["enum": ["lsr", "lora"]],
                "c": ["const": 1],
            ]
        ]
        let instance: JSONValue = [
            "m": 1, "k": 7, "s": "🐲", "a": [1.0], "o": ["x": 1, "z": 2], "e": "dora", "c": 2,
        ]
        #expect(
            try errors(schema, instance) == [
                error("/m", "/properties/m/exclusiveMinimum", "value 1 is not above the exclusive minimum 1"),
                error("/k", "/properties/k/multipleOf", "value 7 is not a multiple of 2"),
                error("/k", "/properties/k/maximum", "value 7 is above the maximum 4"),
                error("/s", "/properties/s/minLength", "string has 1 character, fewer than the minimum length 2"),
                error("/a", "/properties/a/minItems", "array has 1 item, fewer than the minimum 2"),
                error("/o", "/properties/o/maxProperties", "object has 2 properties, more than the maximum 1"),
                error("/o", "/properties/o/dependentRequired", "property 'y' is required when 'x' is present"),
                error("/e", "/properties/e/enum", "value \"dora\" is not one of the allowed values: \"lsr\", \"lora\""),
                error("/c", "/properties/c/const", "value 2 is not the required constant 1"),
            ])
        // Numbers compare by value: 1.0 is 1, and an integer.
        #expect(try errors(["const": 1, "type": "integer"], 1.0) == [])
        #expect(try errors(["enum": [[1, ["a": 2]]]], [1.0, ["a": 2.0]]) == [])
        #expect(
            try errors(["uniqueItems": true], [1, 1.0]) == [
                error("", "/uniqueItems", "array items 0 and 1 are equal; items must be unique")
            ])
        #expect(try errors(["uniqueItems": true], [["a": 1, "b": 2], ["b": 2, "a": 1]]).count == 1)
        // Lengths count code points: "e" + combining acute is 2, "é" precomposed is 1.
        #expect(try errors(["maxLength": 1], "e\u{301}").count == 1)
        #expect(try errors(["maxLength": 1], "\u{E9}") == [])
    }

    /// ECMA-262 semantics where other regex dialects (Swift's `Regex`, PCRE, Python) differ
    /// (ECMA-262 §22.2), and Annex B's literal braces, which patterns here have always accepted.
    @Test func patternsFollowECMA262() throws {
        let cases: [(pattern: String, text: String, matches: Bool)] = [
            (#"^\d$"#, "\u{663}", false),  // ARABIC-INDIC DIGIT THREE is not \d
            (#"^\w$"#, "é", false),
            (#"^\s$"#, "\u{FEFF}", true),
            (#"^\s$"#, "\u{85}", false),
            (#"^[^\s]$"#, "x", true),
            (#"^\S$"#, "\u{FEFF}", false),
            (#"^[^]$"#, "\n", true),
            (#"[]"#, "anything", false),
            (#"^a{,3}$"#, "a{,3}", true),
            (#"^{foo}$"#, "{foo}", true),
            (#"^[a[&~]+$"#, "[&~a", true),
            (#"^\cJ$"#, "\n", true),
            (#"^.$"#, "e\u{301}", false),
            (#"^.$"#, "🐲", true),
            (#"\bb"#, "éb", true),
            (#"^\p{Letter}+$"#, "Aé", true),
            ("a{2,3}", "caab", true),
        ]
        for entry in cases {
            let schema = try JSONSchema(["pattern": .string(entry.pattern)])
            #expect(
                schema.isValid(.string(entry.text)) == entry.matches,
                "\(entry.pattern) on \(entry.text.debugDescription)")
        }
    }

    /// Found by `make fuzz` (target schema) when `pattern` ran on Swift's backtracking `Regex`: a
    /// nested quantifier took exponential time on a near-miss, more than 10 s (the fuzzer's
    /// timeout) for this 39-character instance, doubling with each further "a", so a schema
    /// passed to `lsrconv validate --schema FILE` was a denial of service. The matcher now
    /// memoizes (ECMARegexMatcher), so this is a plain, quick "does not match". The input is
    /// Fuzz/regressions/schema/timeout-nested-quantifier.
    @Test func nestedQuantifierPatternFinishes() throws {
        let instance = String(repeating: "a", count: 38) + "b"
        #expect(
            try errors(["pattern": "^(a+)+$"], .string(instance)) == [
                error("", "/pattern", "string \"\(instance)\" does not match the pattern '^(a+)+$'")
            ])
    }

    @Test func anyOfReportsTheClosestAlternative() throws {
        let schema: JSONValue = [
            "anyOf": [
                ["type": "integer"],
                ["type": "object", "required": ["kind"], "properties": ["kind": ["const": "lora"]]],
                [
                    "type": "object", "required": ["kind", "rank"],
                    "properties": ["kind": ["const": "lsr"], "rank": ["minimum": 1]],
                ],
            ]
        ]
        #expect(
            try errors(schema, ["kind": "lsr", "rank": 0]) == [
                error("", "/anyOf", "value matches none of the 3 anyOf alternatives; the closest is alternative 2"),
                error("/rank", "/anyOf/2/properties/rank/minimum", "value 0 is below the minimum 1"),
            ])
        #expect(
            try errors(["anyOf": [["type": "integer"], ["type": "string"]]], true) == [
                error(
                    "", "/anyOf",
                    "value matches none of the 2 anyOf alternatives: expected integer, got boolean; expected string, got boolean"
                )
            ])
        #expect(try errors(["anyOf": [["type": "integer"], ["minimum": 2]]], 1) == [])
    }

    @Test func oneOfReportsAmbiguity() throws {
        let schema: JSONValue = ["oneOf": [["type": "integer"], ["minimum": 2], ["type": "string"]]]
        #expect(
            try errors(schema, 3) == [
                error("", "/oneOf", "value matches 2 of the 3 oneOf alternatives (0 and 1); exactly one must match")
            ])
        #expect(try errors(schema, 1) == [])
        #expect(
            try errors(["oneOf": [["type": "integer"]]], "x") == [
                error("", "/oneOf", "value does not match the only oneOf alternative: expected integer, got string")
            ])
    }

    @Test func conditionalAndContainsLocations() throws {
        let schema: JSONValue = [
            "if": ["required": ["kind"], "properties": ["kind": ["const": "lsr"]]], "then": ["required": ["rank"]],
            "else": ["maxProperties": 1],
            "properties": ["list": ["contains": ["type": "string"], "maxContains": 1]],
        ]
        #expect(
            try errors(schema, ["kind": "lsr"]) == [error("", "/then/required", "required property 'rank' is missing")])
        #expect(
            try errors(schema, ["kind": "lora", "x": 1]) == [
                error("", "/else/maxProperties", "object has 2 properties, more than the maximum 1")
            ])
        #expect(
            try errors(schema, ["list": [1, 2]]) == [
                error("/list", "/properties/list/contains", "array has no item matching the 'contains' schema")
            ])
        #expect(
            try errors(schema, ["list": ["a", "b"]]) == [
                error(
                    "/list", "/properties/list/maxContains",
                    "array has 2 items matching 'contains', more than maxContains 1")
            ])
    }

    /// A schema value nested deeper than `maxSchemaDepth` (built in memory: parsed JSON stops
    /// at depth 64 first) is refused while compiling, before the recursion goes further.
    @Test func compilingStopsAtTheDepthLimit() throws {
        var value: JSONValue = ["type": "integer"]
        for _ in 0..<(JSONSchema.maxSchemaDepth + 1) { value = ["not": value] }
        #expect(throws: SchemaError.tooDeep(
            location: "/" + Array(repeating: "not", count: JSONSchema.maxSchemaDepth + 1).joined(separator: "/"),
            limit: JSONSchema.maxSchemaDepth)) { try JSONSchema(value) }
        var shallow: JSONValue = ["type": "integer"]
        for _ in 0..<JSONSchema.maxSchemaDepth { shallow = ["not": shallow] }
        #expect(try JSONSchema(shallow).isValid(1))  // 128 `not`s: an even number
    }

    @Test func recursionGuardStopsSelfReference() throws {
        let limit = JSONSchema.maxEvaluationDepth
        let message =
            "evaluation went deeper than \(limit) levels: the schema refers to itself without descending into the value"
        let selfReference = try JSONSchema(["$ref": "#"])
        #expect(
            selfReference.validate(1) == [
                error("", "/" + Array(repeating: "$ref", count: limit).joined(separator: "/"), message)
            ])
        // Mutual recursion through $defs, under anyOf: still one clear error.
        let mutual = try JSONSchema([
            "$defs": ["a": ["$ref": "#/$defs/b"], "b": ["anyOf": [["$ref": "#/$defs/a"]]]],
            "properties": ["x": ["$ref": "#/$defs/a"]],
        ])
        let found = mutual.validate(["x": 1])
        #expect(found.count == 1)
        #expect(found.first?.instanceLocation == "/x")
        #expect(found.first?.message == message)
        #expect(mutual.validate(["y": 1]) == [])
        // Recursion that descends into the value is fine, however often it repeats.
        let nested = try JSONSchema(["items": ["$ref": "#"], "type": "array"])
        var deep: JSONValue = []
        for _ in 0..<60 { deep = [deep, []] }
        #expect(nested.validate(deep) == [])
    }

    @Test func unresolvableReferenceIsAnError() throws {
        let schema = try JSONSchema(["properties": ["a": ["$ref": "http://example.com/other.json#/$defs/x"]]])
        #expect(
            schema.validate(["a": 1]) == [
                error(
                    "/a", "/properties/a/$ref",
                    "unresolvable reference 'http://example.com/other.json#/$defs/x' (only references within the schema and to the 2020-12 meta-schemas are supported)"
                )
            ])
        #expect(schema.validate(["b": 1]) == [])
        #expect(
            try JSONSchema(["$ref": "#/$defs/missing"]).validate(1).first?.message.hasPrefix(
                "unresolvable reference 'lsrschema:///schema.json#/$defs/missing'") == true)
    }

    @Test func referencesResolveAgainstBaseURIs() throws {
        let schema = try JSONSchema(
            [
                "$id": "https://example.com/root.json",
                "$defs": [
                    "a~b/c%d": ["type": "integer"],
                    "nested": ["$id": "nested/item.json", "$anchor": "item", "type": "string"],
                ],
                "properties": [
                    "pointer": ["$ref": "#/$defs/a~0b~1c%25d"],
                    "relative": ["$ref": "nested/item.json"],
                    "anchor": ["$ref": "https://example.com/nested/item.json#item"],
                    "dotted": ["$ref": "./other/../nested/item.json"],
                ],
            ])
        #expect(schema.validate(["pointer": 1, "relative": "x", "anchor": "y", "dotted": "z"]) == [])
        #expect(
            schema.validate(["pointer": "1", "anchor": 2]).map(\.keywordLocation) == [
                "/properties/pointer/$ref/type", "/properties/anchor/$ref/type",
            ])
    }

    @Test func metaSchemaValidatesSchemas() throws {
        let meta = try JSONSchema(["$ref": "https://json-schema.org/draft/2020-12/schema"])
        #expect(meta.validate(Self.adapterSchema) == [])
        let bad = meta.validate(["properties": ["a": ["minLength": -1]]])
        #expect(
            bad.contains {
                $0.instanceLocation == "/properties/a/minLength" && $0.message == "value -1 is below the minimum 0"
            })
    }

    @Test func invalidSchemasAreTypedErrors() {
        #expect(throws: SchemaError.notASchema(location: "/properties/a", got: "integer")) {
            try JSONSchema(["properties": ["a": 1]])
        }
        #expect(throws: SchemaError.invalidKeyword(location: "", keyword: "minimum", expected: "a number")) {
            try JSONSchema(["minimum": "1"])
        }
        #expect(
            throws: SchemaError.invalidKeyword(location: "/items", keyword: "required", expected: "an array of strings")
        ) {
            try JSONSchema(["items": ["required": [1]]])
        }
        #expect(
            throws: SchemaError.invalidReference(
                location: "/$ref", reference: "#/a~2", reason: "'~' in a JSON Pointer must be followed by 0 or 1")
        ) {
            try JSONSchema(["$ref": "#/a~2"])
        }
        #expect(
            throws: SchemaError.invalidReference(
                location: "/$ref", reference: "#/a%zz", reason: "malformed percent-encoding")
        ) {
            try JSONSchema(["$ref": "#/a%zz"])
        }
        #expect(
            throws: SchemaError.invalidIdentifier(
                location: "/$id", identifier: "http://x/y#frag",
                reason: "an $id must not have a fragment; use $anchor to name a subschema")
        ) {
            try JSONSchema(["$id": "http://x/y#frag"])
        }
        #expect(throws: SchemaError.invalidAnchor(location: "/$anchor", anchor: "1bad")) {
            try JSONSchema(["$anchor": "1bad"])
        }
        #expect(throws: SchemaError.self) { try JSONSchema(["pattern": "(unclosed"]) }
        #expect(
            throws: SchemaError.invalidIdentifier(
                location: "", identifier: "relative/path", reason: "a base URI must be absolute")
        ) {
            try JSONSchema(true, baseURI: "relative/path")
        }
        #expect((try? JSONSchema(["items": [true]])) == nil, "the array form of items is prefixItems in 2020-12")
    }

    @Test func errorDescriptionIsOneLine() {
        let failure = ValidationError(
            instanceLocation: "/modules/3", keywordLocation: "/properties/modules/items/required",
            message: "required property 'rank' is missing")
        #expect(
            failure.description
                == "/modules/3: required property 'rank' is missing (at /properties/modules/items/required)")
        #expect(
            SchemaError.invalidKeyword(location: "", keyword: "minimum", expected: "a number").description
                == "keyword 'minimum' at / must be a number")
    }
}
