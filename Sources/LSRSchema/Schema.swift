import LSRFormats

/// A compiled JSON Schema (draft 2020-12) that validates `JSONValue` instances.
///
/// Compiling walks the schema once: every subschema becomes a node, every schema resource
/// (`$id`, or the document itself) registers its URI, anchors and the JSON Pointer of each of
/// its subschemas, and every `$ref` / `$dynamicRef` is resolved to a node before the first
/// validation. References this validator cannot load (another document over http, say) stay
/// unresolved and fail validation with "unresolvable reference". The 2020-12 meta-schemas are
/// built in, so `{"$ref": "https://json-schema.org/draft/2020-12/schema"}` validates schemas.
///
/// Supported: the core, applicator, unevaluated and validation vocabularies of JSON Schema
/// Core / Validation 2020-12. `format`, `content*`, `title` and the other meta-data keywords
/// are annotations and never fail; `$vocabulary` is not honoured (all vocabularies are on).
/// Patterns are ECMA-262 regular expressions (`u` flag semantics, ECMA-262 §22.2) run on an engine
/// of this module (`ECMARegex`) whose work is bounded: memoized, hence linear in the string,
/// without backreferences (the bit-state backtracker of RE2 and Go's regexp/backtrack.go), and
/// stopped after `ECMARegex.stepBudget` steps with them, in which case the value fails with a
/// "could not be checked … gave up" error wherever the pattern sits. A pattern compiling to more
/// than `ECMARegex.maxProgramSize` instructions is refused.
public struct JSONSchema: Sendable {
    /// Deepest nesting of subschemas accepted when compiling. A parsed document stops at JSON
    /// depth 64 first (JSON.parse); this bounds values built in memory, whose compilation
    /// recurses once per level: 128 leaves room on a 512 KiB thread stack even in a debug
    /// build, where 500 levels overflowed a Swift Testing worker thread (found writing
    /// `compilingStopsAtTheDepthLimit`, when the limit was 512).
    public static let maxSchemaDepth = 128
    /// Deepest evaluation accepted: each subschema applied on the way down counts one level,
    /// so `{"$ref": "#"}`, which applies itself forever to the same value, stops here with one
    /// clear error. Reaching it takes about 0.4 MiB of stack in release builds (3 MiB in
    /// debug builds), within the 8 MiB of a main thread or a default Linux thread.
    public static let maxEvaluationDepth = 512
    /// Base URI of a schema that gives neither `baseURI` nor a root `$id` (RFC 3986 §5.1.4:
    /// an application-chosen default). Hierarchical, so relative references resolve.
    public static let defaultBaseURI = "lsrschema:///schema.json"

    let graph: SchemaGraph

    /// Compiles `schema`. `baseURI`, when given, must be absolute; it is the retrieval URI that
    /// a root `$id` and relative references resolve against.
    public init(_ schema: JSONValue, baseURI: String? = nil) throws(SchemaError) {
        let base = URIReference(parsing: baseURI ?? Self.defaultBaseURI)
        guard base.isAbsolute else {
            throw .invalidIdentifier(location: "", identifier: baseURI ?? "", reason: "a base URI must be absolute")
        }
        var compiler = SchemaCompiler()
        let root = try compiler.compileDocument(schema, baseURI: base.withoutFragment.text, locationPrefix: "")
        try compiler.resolvePendingReferences()
        graph = compiler.finish(root: root)
    }

    /// Every way `instance` fails the schema, empty when it is valid. Errors come in evaluation
    /// order: the schema's keywords as written, members and items in the instance's order. A
    /// failed `anyOf` / `oneOf` reports its own error, then those of the alternative that came
    /// closest. Past `maxEvaluationDepth` the result is that one error alone.
    public func validate(_ instance: JSONValue) -> [ValidationError] {
        var evaluator = Evaluator(graph: graph)
        let outcome = evaluator.evaluate(graph.root, instance)
        if let stop = evaluator.depthExceeded { return [stop] }
        return outcome.errors + evaluator.undecidedErrors(missingFrom: outcome.errors)
    }

    /// Whether `instance` is valid: `validate(instance).isEmpty`.
    public func isValid(_ instance: JSONValue) -> Bool { validate(instance).isEmpty }
}

/// Index of a compiled subschema in `SchemaGraph.nodes`.
typealias NodeID = Int
/// Index of a schema resource in `SchemaGraph.resources`.
typealias ResourceID = Int

/// The compiled form of a whole schema document (and the meta-schemas it refers to).
struct SchemaGraph: Sendable {
    var nodes: [SchemaNode]
    var resources: [SchemaResource]
    var root: NodeID
    /// Whether some node has `unevaluatedItems` or `unevaluatedProperties`, the only readers
    /// of annotations.
    var usesUnevaluated: Bool
}

/// A schema resource (Core 2020-12 §4.3.5): the document root or a subschema with `$id`.
/// Its `$dynamicAnchor`s are what `$dynamicRef` looks for along the dynamic scope (§8.2.3.2).
struct SchemaResource: Sendable {
    /// Absolute URI without fragment.
    let uri: String
    /// The resource's JSON text, for `$ref` pointers into places no keyword compiles.
    let document: JSONValue
    var root: NodeID
    var anchors: [String: NodeID] = [:]
    var dynamicAnchors: [String: NodeID] = [:]
}

/// One subschema: a boolean schema or a list of keywords, run in order (the `unevaluated*`
/// keywords last, since they read the annotations of all others, Core 2020-12 §11).
struct SchemaNode: Sendable {
    enum Body: Sendable {
        case boolean(Bool)
        case keywords([Keyword])
    }

    var body: Body
    /// The resource the subschema belongs to; entering it joins that resource to the dynamic scope.
    let resource: ResourceID
    /// Its `$dynamicAnchor`, which a `$dynamicRef` landing here needs before it looks further.
    let dynamicAnchor: String?
}

/// A keyword: its name (the step it adds to `keywordLocation`) and what it does.
struct Keyword: Sendable {
    let name: String
    var kind: KeywordKind
}

/// Where a reference leads, settled once the whole document is compiled.
enum ReferenceTarget: Sendable {
    case node(NodeID)
    /// The absolute URI that no resource answers to.
    case unresolved(String)
}

/// Every keyword this validator evaluates, with its operands compiled. Keywords that only
/// annotate (`title`, `format`, `$comment`, …) compile to nothing.
enum KeywordKind: Sendable {
    // Core (Core 2020-12 §8.2.3).
    case ref(ReferenceTarget)
    /// `anchor` is the fragment's name when the initial target declares the same
    /// `$dynamicAnchor` (the "bookend" of §8.2.3.2); otherwise it acts as `$ref`.
    case dynamicRef(ReferenceTarget, anchor: String?)

    // Applicators (Core 2020-12 §10).
    case allOf([NodeID])
    case anyOf([NodeID])
    case oneOf([NodeID])
    case not(NodeID)
    /// `if`, with its `then` and `else` siblings (which do nothing on their own).
    case conditional(if: NodeID, then: NodeID?, else: NodeID?)
    case dependentSchemas([(name: String, schema: NodeID)])
    case prefixItems([NodeID])
    /// `items` applies from index `after` on (the length of a sibling `prefixItems`).
    case items(NodeID, after: Int)
    /// `contains` with its `minContains` (default 1) and `maxContains` siblings; `minName` is
    /// the keyword to blame when too few items match.
    case contains(NodeID, min: Int, max: Int?, minName: String)
    case properties([CodePoints: NodeID])
    case patternProperties([(pattern: ECMARegex, schema: NodeID)])
    /// `additionalProperties` with the names and patterns of its siblings, which decide what
    /// counts as additional.
    case additionalProperties(NodeID, declared: Set<CodePoints>, patterns: [ECMARegex])
    case propertyNames(NodeID)
    case unevaluatedItems(NodeID)
    case unevaluatedProperties(NodeID)

    // Validation (Validation 2020-12 §6).
    case type([JSONType])
    case enumeration([JSONValue])
    case constant(JSONValue)
    case multipleOf(JSONValue)
    case maximum(JSONValue)
    case exclusiveMaximum(JSONValue)
    case minimum(JSONValue)
    case exclusiveMinimum(JSONValue)
    case maxLength(Int)
    case minLength(Int)
    case pattern(ECMARegex)
    case maxItems(Int)
    case minItems(Int)
    case uniqueItems
    case maxProperties(Int)
    case minProperties(Int)
    case required([String])
    case dependentRequired([(name: String, required: [String])])
}
