import LSRFormats

/// Compiles the keywords of one schema object, checking each operand's shape as the 2020-12
/// meta-schemas would (a typo'd operand fails loudly instead of being ignored), and
/// compiling every subschema through the `SchemaCompiler` so that it is registered for
/// references even when no keyword of this object evaluates it (`$defs`, a lone `then`).
struct KeywordParser {
    let object: JSONObject
    let position: SchemaCompiler.Position

    /// The keywords in document order, then `unevaluatedItems` / `unevaluatedProperties`.
    func parse(compiler: inout SchemaCompiler) throws(SchemaError) -> [Keyword] {
        var keywords: [Keyword] = []
        var unevaluated: [Keyword] = []
        var conditionalIndex: Int?
        var ifSchema: NodeID?
        var thenSchema: NodeID?
        var elseSchema: NodeID?

        for (name, value) in object.members {
            switch name {
            case "$ref", "$dynamicRef":
                guard case .string = value else { throw invalid(name, "a URI reference string") }
                // Resolved by the compiler once every resource is registered.
                keywords.append(
                    Keyword(
                        name: name,
                        kind: name == "$ref" ? .ref(.unresolved("")) : .dynamicRef(.unresolved(""), anchor: nil)))
            case "$defs":
                _ = try schemaMap(name, value, &compiler)
            case "allOf":
                keywords.append(Keyword(name: name, kind: .allOf(try schemaList(name, value, &compiler))))
            case "anyOf":
                keywords.append(Keyword(name: name, kind: .anyOf(try schemaList(name, value, &compiler))))
            case "oneOf":
                keywords.append(Keyword(name: name, kind: .oneOf(try schemaList(name, value, &compiler))))
            case "not":
                keywords.append(Keyword(name: name, kind: .not(try schema(value, &compiler, name))))
            case "if":
                ifSchema = try schema(value, &compiler, name)
                // A placeholder, completed below once `then` and `else` (anywhere in the object) are known.
                conditionalIndex = keywords.count
                keywords.append(Keyword(name: name, kind: .allOf([])))
            case "then":
                thenSchema = try schema(value, &compiler, name)
            case "else":
                elseSchema = try schema(value, &compiler, name)
            case "dependentSchemas":
                let map = try schemaMap(name, value, &compiler)
                keywords.append(
                    Keyword(name: name, kind: .dependentSchemas(map.map { (name: $0.key, schema: $0.value) })))
            case "prefixItems":
                keywords.append(Keyword(name: name, kind: .prefixItems(try schemaList(name, value, &compiler))))
            case "items":
                if case .array = value {
                    throw invalid(name, "a schema (the array form is \"prefixItems\" in 2020-12)")
                }
                let prefixCount = object["prefixItems"]?.arrayValue?.count ?? 0
                keywords.append(
                    Keyword(name: name, kind: .items(try schema(value, &compiler, name), after: prefixCount)))
            case "contains":
                let minimum = try object["minContains"].map { v throws(SchemaError) in try count("minContains", v) }
                let maximum = try object["maxContains"].map { v throws(SchemaError) in try count("maxContains", v) }
                let kind = KeywordKind.contains(
                    try schema(value, &compiler, name), min: minimum ?? 1, max: maximum,
                    minName: minimum == nil ? "contains" : "minContains")
                keywords.append(Keyword(name: name, kind: kind))
            case "properties":
                let map = try schemaMap(name, value, &compiler)
                keywords.append(
                    Keyword(
                        name: name,
                        kind: .properties(
                            Dictionary(map.map { (CodePoints($0.key), $0.value) }, uniquingKeysWith: { a, _ in a }))))
            case "patternProperties":
                var compiled: [(pattern: ECMARegex, schema: NodeID)] = []
                for (pattern, schema) in try schemaMap(name, value, &compiler) {
                    compiled.append((try compiler.regex(pattern, at: position.location + "/" + name), schema))
                }
                keywords.append(Keyword(name: name, kind: .patternProperties(compiled)))
            case "additionalProperties":
                let declared = Set((object["properties"]?.objectValue?.keys ?? []).map(CodePoints.init))
                var patterns: [ECMARegex] = []
                for pattern in object["patternProperties"]?.objectValue?.keys ?? [] {
                    patterns.append(try compiler.regex(pattern, at: position.location + "/patternProperties"))
                }
                let kind = KeywordKind.additionalProperties(
                    try schema(value, &compiler, name), declared: declared, patterns: patterns)
                keywords.append(Keyword(name: name, kind: kind))
            case "propertyNames":
                keywords.append(Keyword(name: name, kind: .propertyNames(try schema(value, &compiler, name))))
            case "unevaluatedItems":
                unevaluated.append(Keyword(name: name, kind: .unevaluatedItems(try schema(value, &compiler, name))))
            case "unevaluatedProperties":
                unevaluated.append(
                    Keyword(name: name, kind: .unevaluatedProperties(try schema(value, &compiler, name))))
            default:
                if let keyword = try assertion(name, value, &compiler) { keywords.append(keyword) }
            }
        }
        if let conditionalIndex, let ifSchema {
            keywords[conditionalIndex].kind = .conditional(if: ifSchema, then: thenSchema, else: elseSchema)
        }
        return keywords + unevaluated
    }

    /// The validation-vocabulary keywords (Validation 2020-12 §6); nil for keywords that only
    /// annotate or that this validator does not know.
    private func assertion(_ name: String, _ value: JSONValue, _ compiler: inout SchemaCompiler) throws(SchemaError)
        -> Keyword?
    {
        let kind: KeywordKind
        switch name {
        case "type":
            let names: [JSONValue] = value.arrayValue ?? [value]
            var types: [JSONType] = []
            for entry in names {
                guard let text = entry.stringValue, let type = JSONType(rawValue: text) else {
                    throw invalid(
                        name, "a type name (null, boolean, object, array, number, string, integer) or an array of them")
                }
                types.append(type)
            }
            kind = .type(types)
        case "enum":
            guard let values = value.arrayValue else { throw invalid(name, "an array") }
            kind = .enumeration(values)
        case "const":
            kind = .constant(value)
        case "multipleOf":
            guard isNumber(value), compareNumbers(value, .int(0)) == 1 else { throw invalid(name, "a number above 0") }
            kind = .multipleOf(value)
        case "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum":
            guard isNumber(value) else { throw invalid(name, "a number") }
            switch name {
            case "maximum": kind = .maximum(value)
            case "exclusiveMaximum": kind = .exclusiveMaximum(value)
            case "minimum": kind = .minimum(value)
            default: kind = .exclusiveMinimum(value)
            }
        case "maxLength": kind = .maxLength(try count(name, value))
        case "minLength": kind = .minLength(try count(name, value))
        case "maxItems": kind = .maxItems(try count(name, value))
        case "minItems": kind = .minItems(try count(name, value))
        case "maxProperties": kind = .maxProperties(try count(name, value))
        case "minProperties": kind = .minProperties(try count(name, value))
        case "minContains", "maxContains":
            // Read by `contains`; checked here too so a bad operand fails even without it.
            _ = try count(name, value)
            return nil
        case "pattern":
            guard let pattern = value.stringValue else { throw invalid(name, "a string") }
            kind = .pattern(try compiler.regex(pattern, at: position.location + "/" + name))
        case "uniqueItems":
            guard let unique = value.boolValue else { throw invalid(name, "a boolean") }
            guard unique else { return nil }
            kind = .uniqueItems
        case "required":
            kind = .required(try strings(name, value))
        case "dependentRequired":
            guard let map = value.objectValue else { throw invalid(name, "an object of string arrays") }
            var dependencies: [(name: String, required: [String])] = []
            for member in map.members {
                dependencies.append((member.key, try strings(name, member.value)))
            }
            kind = .dependentRequired(dependencies)
        default:
            return nil
        }
        return Keyword(name: name, kind: kind)
    }

    // MARK: - Operands

    private func invalid(_ keyword: String, _ expected: String) -> SchemaError {
        .invalidKeyword(location: position.location, keyword: keyword, expected: expected)
    }

    private func schema(_ value: JSONValue, _ compiler: inout SchemaCompiler, _ tokens: String...) throws(SchemaError)
        -> NodeID
    {
        let child = position.child(tokens)
        return try compiler.compile(value, at: child)
    }

    /// A non-empty array of schemas (`allOf`, `anyOf`, `oneOf`, `prefixItems`).
    private func schemaList(_ name: String, _ value: JSONValue, _ compiler: inout SchemaCompiler) throws(SchemaError)
        -> [NodeID]
    {
        guard let items = value.arrayValue, !items.isEmpty else { throw invalid(name, "a non-empty array of schemas") }
        var ids: [NodeID] = []
        for (index, item) in items.enumerated() {
            ids.append(try schema(item, &compiler, name, String(index)))
        }
        return ids
    }

    /// An object whose members are schemas (`$defs`, `properties`, `dependentSchemas`, …).
    private func schemaMap(_ name: String, _ value: JSONValue, _ compiler: inout SchemaCompiler) throws(SchemaError)
        -> [(key: String, value: NodeID)]
    {
        guard let map = value.objectValue else { throw invalid(name, "an object of schemas") }
        var ids: [(key: String, value: NodeID)] = []
        for member in map.members {
            ids.append((member.key, try schema(member.value, &compiler, name, member.key)))
        }
        return ids
    }

    /// A non-negative integer; 2.0 counts as 2 (Validation 2020-12 §4.2: integers by value).
    private func count(_ name: String, _ value: JSONValue) throws(SchemaError) -> Int {
        switch value {
        case .int(let i) where i >= 0: return Int(i)
        case .uint: return Int.max
        case .double(let d) where d >= 0 && d.rounded(.towardZero) == d: return Int(exactly: d) ?? Int.max
        default: throw invalid(name, "a non-negative integer")
        }
    }

    private func strings(_ name: String, _ value: JSONValue) throws(SchemaError) -> [String] {
        guard let items = value.arrayValue else { throw invalid(name, "an array of strings") }
        var names: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw invalid(name, "an array of strings") }
            names.append(text)
        }
        return names
    }
}
