import LSRFormats

/// What applying one subschema to one value produced: its errors, and the annotations that
/// `unevaluatedProperties` / `unevaluatedItems` read (Core 2020-12 §11.2–11.3): which
/// members and items of this same value some keyword evaluated.
///
/// Annotations of a subschema that failed are dropped where validity still depends on it
/// (`anyOf`, `oneOf`, `not`, `if`, `contains`). Elsewhere (`allOf`, `$ref`, `properties`, …)
/// a failed subschema fails every schema up to the next such boundary, so keeping its
/// annotations cannot change any result; it only spares the user "unknown property" noise
/// about a property that was declared but holds a bad value.
struct Outcome {
    var errors: [ValidationError] = []
    /// Names of the object's members evaluated so far.
    var evaluatedProperties: Set<CodePoints> = []
    /// Items 0..<evaluatedPrefix were evaluated (`prefixItems`; `Int.max` after `items`).
    var evaluatedPrefix = 0
    /// Further items evaluated by `contains`.
    var evaluatedIndices: Set<Int> = []

    var isValid: Bool { errors.isEmpty }

    /// Takes `other`'s annotations (not its errors).
    mutating func addAnnotations(of other: Outcome) {
        if !other.evaluatedProperties.isEmpty { evaluatedProperties.formUnion(other.evaluatedProperties) }
        evaluatedPrefix = max(evaluatedPrefix, other.evaluatedPrefix)
        if !other.evaluatedIndices.isEmpty { evaluatedIndices.formUnion(other.evaluatedIndices) }
    }

    /// Takes `other`'s errors and annotations: the subschema applies in place, as part of this one.
    mutating func merge(_ other: Outcome) {
        errors += other.errors
        addAnnotations(of: other)
    }

    func evaluatedItem(_ index: Int) -> Bool { index < evaluatedPrefix || evaluatedIndices.contains(index) }
}

/// One step of an instance location: a member name or an array index.
enum InstanceStep {
    case member(String)
    case index(Int)
}

/// Applies a compiled schema to an instance, keeping the dynamic scope (Core 2020-12 §7.1:
/// the schema resources entered on the way to the keyword being evaluated) for `$dynamicRef`.
///
/// The instance and keyword locations are kept as stacks of steps and spelled as JSON
/// Pointers only when an error is made: most evaluations succeed, and building two strings
/// for every subschema applied was most of the cost of validating a large valid document.
struct Evaluator {
    let graph: SchemaGraph
    /// Whether any `unevaluated*` keyword exists; without one, annotations are not collected.
    let collectsAnnotations: Bool
    /// Resources entered, outermost first; consecutive repeats are not pushed.
    private var dynamicScope: [ResourceID] = []
    private var instanceSteps: [InstanceStep] = []
    private var keywordSteps: [String] = []
    private var depth = 0
    /// Set once evaluation passed `JSONSchema.maxEvaluationDepth`; everything then unwinds.
    private(set) var depthExceeded: ValidationError?
    /// Errors of patterns that gave up (`PatternMatch.exhausted`). A `not`, `anyOf`, `oneOf`,
    /// `if` or `contains` would read such an error as "does not match" and might drop it; the
    /// answer is unknown, so these errors reach the result wherever they occurred.
    private var undecidedPatterns: [ValidationError] = []

    init(graph: SchemaGraph) {
        self.graph = graph
        collectsAnnotations = graph.usesUnevaluated
    }

    /// Applies subschema `id` to `instance`, at the current instance and keyword locations.
    mutating func evaluate(_ id: NodeID, _ instance: JSONValue) -> Outcome {
        if let stop = depthExceeded { return Outcome(errors: [stop]) }
        guard depth < JSONSchema.maxEvaluationDepth else {
            let stop = error(
                "evaluation went deeper than \(JSONSchema.maxEvaluationDepth) levels: "
                    + "the schema refers to itself without descending into the value")
            depthExceeded = stop
            return Outcome(errors: [stop])
        }
        depth += 1
        defer { depth -= 1 }

        let node = graph.nodes[id]
        switch node.body {
        case .boolean(true):
            return Outcome()
        case .boolean(false):
            return Outcome(errors: [error("no value is allowed here (the schema is false)")])
        case .keywords(let keywords):
            let entered = dynamicScope.last != node.resource
            if entered { dynamicScope.append(node.resource) }
            defer { if entered { dynamicScope.removeLast() } }
            var outcome = Outcome()
            for keyword in keywords {
                keywordSteps.append(keyword.name)
                apply(keyword.kind, instance, into: &outcome)
                keywordSteps.removeLast()
                if depthExceeded != nil { break }
            }
            return outcome
        }
    }

    /// Applies `id` one step further down: below keyword step `keyword` (a subschema's index
    /// or name), and at `member` of the value when given.
    mutating func evaluate(_ id: NodeID, _ instance: JSONValue, keyword: String?, member: InstanceStep? = nil)
        -> Outcome
    {
        if let keyword { keywordSteps.append(keyword) }
        if let member { instanceSteps.append(member) }
        defer {
            if keyword != nil { keywordSteps.removeLast() }
            if member != nil { instanceSteps.removeLast() }
        }
        return evaluate(id, instance)
    }

    /// Applies `id` as the sibling keyword `name` of the current one (`then` beside `if`).
    mutating func evaluate(_ id: NodeID, _ instance: JSONValue, sibling name: String) -> Outcome {
        let current = keywordSteps.removeLast()
        keywordSteps.append(name)
        defer {
            keywordSteps.removeLast()
            keywordSteps.append(current)
        }
        return evaluate(id, instance)
    }

    /// Runs one keyword, adding its errors and annotations to `outcome`.
    private mutating func apply(_ kind: KeywordKind, _ instance: JSONValue, into outcome: inout Outcome) {
        switch kind {
        case .ref(let target):
            follow(target, instance, into: &outcome)
        case .dynamicRef(let target, let anchor):
            follow(dynamicTarget(target, anchor: anchor), instance, into: &outcome)
        case .allOf, .anyOf, .oneOf, .not, .conditional, .dependentSchemas:
            applyInPlace(kind, instance, into: &outcome)
        case .prefixItems, .items, .contains, .unevaluatedItems:
            applyToItems(kind, instance, into: &outcome)
        case .properties, .patternProperties, .additionalProperties, .propertyNames, .unevaluatedProperties:
            applyToProperties(kind, instance, into: &outcome)
        default:
            applyAssertion(kind, instance, into: &outcome)
        }
    }

    /// `$ref` / `$dynamicRef`: the target applies in place (Core 2020-12 §8.2.3).
    private mutating func follow(_ target: ReferenceTarget, _ instance: JSONValue, into outcome: inout Outcome) {
        switch target {
        case .node(let id):
            outcome.merge(evaluate(id, instance))
        case .unresolved(let uri):
            outcome.errors.append(
                error(
                    "unresolvable reference '\(uri)' "
                        + "(only references within the schema and to the 2020-12 meta-schemas are supported)"))
        }
    }

    /// Where a `$dynamicRef` leads (Core 2020-12 §8.2.3.2): when its initial target carries the
    /// matching `$dynamicAnchor`, the outermost resource in the dynamic scope that declares a
    /// `$dynamicAnchor` of that name wins; otherwise it is a plain `$ref`.
    private func dynamicTarget(_ target: ReferenceTarget, anchor: String?) -> ReferenceTarget {
        guard let anchor else { return target }
        for resource in dynamicScope {
            if let node = graph.resources[resource].dynamicAnchors[anchor] { return .node(node) }
        }
        return target
    }

    /// Records `failure`, the error of a pattern that gave up, and returns it.
    mutating func undecided(_ failure: ValidationError) -> ValidationError {
        undecidedPatterns.append(failure)
        return failure
    }

    /// The errors of patterns that gave up which `errors` (the root's) lacks, because a
    /// combinator dropped them; one per location.
    func undecidedErrors(missingFrom errors: [ValidationError]) -> [ValidationError] {
        guard !undecidedPatterns.isEmpty else { return [] }
        var reported = Set(errors.map { $0.instanceLocation + "\u{0}" + $0.keywordLocation })
        return undecidedPatterns.filter { reported.insert($0.instanceLocation + "\u{0}" + $0.keywordLocation).inserted }
    }

    // MARK: - Locations

    /// An error at the current value, blamed on the current keyword.
    func error(_ message: String) -> ValidationError {
        ValidationError(instanceLocation: instancePointer(), keywordLocation: keywordPointer(), message: message)
    }

    /// An error blamed on the sibling keyword `name` (`maxContains` beside `contains`).
    func error(_ message: String, sibling name: String) -> ValidationError {
        ValidationError(
            instanceLocation: instancePointer(),
            keywordLocation: keywordPointer(dropping: 1) + "/" + JSONPointer.escape(name),
            message: message)
    }

    /// An error at `member` of the current value, blamed on the current keyword.
    func error(_ message: String, at member: InstanceStep) -> ValidationError {
        ValidationError(
            instanceLocation: instancePointer() + "/" + member.token, keywordLocation: keywordPointer(),
            message: message)
    }

    /// An error at `member` of the current value, blamed on `keyword` below the current keyword.
    func error(_ message: String, at member: InstanceStep, keyword: String) -> ValidationError {
        ValidationError(
            instanceLocation: instancePointer() + "/" + member.token,
            keywordLocation: keywordPointer() + "/" + JSONPointer.escape(keyword), message: message)
    }

    private func instancePointer() -> String {
        var pointer = ""
        for step in instanceSteps { pointer += "/" + step.token }
        return pointer
    }

    private func keywordPointer(dropping count: Int = 0) -> String {
        var pointer = ""
        for step in keywordSteps.dropLast(count) { pointer += "/" + JSONPointer.escape(step) }
        return pointer
    }
}

extension InstanceStep {
    /// The step as a JSON Pointer reference token.
    var token: String {
        switch self {
        case .member(let name): JSONPointer.escape(name)
        case .index(let index): String(index)
        }
    }
}
