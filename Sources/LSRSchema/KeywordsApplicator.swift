import LSRFormats

/// The applicator and unevaluated vocabularies (Core 2020-12 §10 and §11): keywords that
/// apply subschemas, either in place to the same value or to its items and members.
extension Evaluator {
    /// Keywords that apply subschemas to this same value (§10.2).
    mutating func applyInPlace(_ kind: KeywordKind, _ value: JSONValue, into outcome: inout Outcome) {
        switch kind {
        case .allOf(let ids):
            for (index, id) in ids.enumerated() {
                outcome.merge(evaluate(id, value, keyword: String(index)))
            }
        case .anyOf(let ids):
            // Every alternative runs, valid or not: all valid ones contribute annotations (§10.2.1.2).
            var branches: [Outcome] = []
            for (index, id) in ids.enumerated() {
                branches.append(evaluate(id, value, keyword: String(index)))
            }
            let valid = branches.filter(\.isValid)
            for branch in valid { outcome.addAnnotations(of: branch) }
            if valid.isEmpty { outcome.errors += noAlternativeMatches(branches, keyword: "anyOf") }
        case .oneOf(let ids):
            var branches: [Outcome] = []
            for (index, id) in ids.enumerated() {
                branches.append(evaluate(id, value, keyword: String(index)))
            }
            let validIndices = branches.indices.filter { branches[$0].isValid }
            switch validIndices.count {
            case 0:
                outcome.errors += noAlternativeMatches(branches, keyword: "oneOf")
            case 1:
                outcome.addAnnotations(of: branches[validIndices[0]])
            default:
                let names = validIndices.map(String.init)
                let which = names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1]
                outcome.errors.append(
                    error(
                        "value matches \(validIndices.count) of the \(ids.count) oneOf alternatives (\(which)); exactly one must match"
                    ))
            }
        case .not(let id):
            if evaluate(id, value).isValid { outcome.errors.append(error("value must not match the schema in 'not'")) }
        case .conditional(let condition, let then, let otherwise):
            // `if` only chooses; its errors never surface, its annotations count when it holds (§10.2.2.1).
            let test = evaluate(condition, value)
            if test.isValid {
                outcome.addAnnotations(of: test)
                if let then { outcome.merge(evaluate(then, value, sibling: "then")) }
            } else if let otherwise {
                outcome.merge(evaluate(otherwise, value, sibling: "else"))
            }
        case .dependentSchemas(let dependencies):
            guard case .object(let object) = value else { return }
            for dependency in dependencies where object.hasMember(dependency.name) {
                outcome.merge(evaluate(dependency.schema, value, keyword: dependency.name))
            }
        default:
            break
        }
    }

    /// The errors of an `anyOf` / `oneOf` that nothing matched: the combinator's own error,
    /// then the errors of the alternative that came closest, so that the user sees the
    /// deepest failing locations. An alternative that failed only on the value's type was not
    /// meant for this value and is passed over; one that failed a `const` / `enum` (a tag such
    /// as `"kind": "lsr"`) ranks after the others; then the one whose errors reach deepest
    /// into the value wins, then the one with fewest errors. When every alternative failed on
    /// the type alone, their messages are listed in the combinator's error instead.
    private func noAlternativeMatches(_ branches: [Outcome], keyword: String) -> [ValidationError] {
        let here = error("").instanceLocation
        let headline =
            branches.count == 1
            ? "value does not match the only \(keyword) alternative"
            : "value matches none of the \(branches.count) \(keyword) alternatives"
        func isTypeMismatch(_ branch: Outcome) -> Bool {
            branch.errors.allSatisfy { $0.instanceLocation == here && $0.keywordLocation.hasSuffix("/type") }
        }
        let candidates = branches.indices.filter { !isTypeMismatch(branches[$0]) }
        guard !candidates.isEmpty else {
            var messages: [String] = []
            for message in branches.flatMap({ $0.errors.map(\.message) }) where !messages.contains(message) {
                messages.append(message)
            }
            return [error(headline + ": " + messages.joined(separator: "; "))]
        }
        func rank(_ index: Int) -> (Int, Int, Int) {
            let errors = branches[index].errors
            let missesTag = errors.contains {
                $0.keywordLocation.hasSuffix("/const") || $0.keywordLocation.hasSuffix("/enum")
            }
            let reach = errors.map { $0.instanceLocation.count(where: { $0 == "/" }) }.max() ?? 0
            return (missesTag ? 1 : 0, -reach, errors.count)
        }
        let best = candidates.min { rank($0) < rank($1) } ?? candidates[0]
        return [error(headline + "; the closest is alternative \(best)")] + branches[best].errors
    }

    /// Keywords that apply subschemas to array items (§10.3.1, §11.2).
    mutating func applyToItems(_ kind: KeywordKind, _ value: JSONValue, into outcome: inout Outcome) {
        guard case .array(let items) = value else { return }
        switch kind {
        case .prefixItems(let ids):
            let covered = min(ids.count, items.count)
            for index in 0..<covered {
                outcome.errors +=
                    evaluate(ids[index], items[index], keyword: String(index), member: .index(index)).errors
            }
            outcome.evaluatedPrefix = max(outcome.evaluatedPrefix, covered)
        case .items(let id, let after):
            guard items.count > after else { return }
            for index in after..<items.count {
                outcome.errors += itemErrors(id, items[index], index, forbidden: "items is false")
            }
            outcome.evaluatedPrefix = Int.max
        case .contains(let id, let minimum, let maximum, let minName):
            var matches = 0
            for (index, item) in items.enumerated()
            where evaluate(id, item, keyword: nil, member: .index(index)).isValid {
                matches += 1
                if collectsAnnotations { outcome.evaluatedIndices.insert(index) }
            }
            if matches < minimum {
                let message =
                    minName == "contains"
                    ? "array has no item matching the 'contains' schema"
                    : "array has \(counted(matches, "item")) matching 'contains', fewer than minContains \(minimum)"
                outcome.errors.append(error(message, sibling: minName))
            }
            if let maximum, matches > maximum {
                outcome.errors.append(
                    error(
                        "array has \(counted(matches, "item")) matching 'contains', more than maxContains \(maximum)",
                        sibling: "maxContains"))
            }
        case .unevaluatedItems(let id):
            for (index, item) in items.enumerated() where !outcome.evaluatedItem(index) {
                outcome.errors += itemErrors(id, item, index, forbidden: "unevaluatedItems is false")
            }
            outcome.evaluatedPrefix = Int.max
        default:
            break
        }
    }

    /// Errors of item `index` against `id`; a `false` schema gets a sentence naming `forbidden`.
    private mutating func itemErrors(_ id: NodeID, _ item: JSONValue, _ index: Int, forbidden: String)
        -> [ValidationError]
    {
        if isFalseSchema(id) {
            return [error("unexpected item at index \(index) (\(forbidden))", at: .index(index))]
        }
        return evaluate(id, item, keyword: nil, member: .index(index)).errors
    }

    /// Keywords that apply subschemas to object members (§10.3.2, §11.3).
    mutating func applyToProperties(_ kind: KeywordKind, _ value: JSONValue, into outcome: inout Outcome) {
        guard case .object(let object) = value else { return }
        switch kind {
        case .properties(let schemas):
            for member in object.members {
                guard let id = schemas[CodePoints(member.key)] else { continue }
                outcome.errors += memberErrors(id, member, keyword: member.key, forbidden: nil)
                if collectsAnnotations { outcome.evaluatedProperties.insert(CodePoints(member.key)) }
            }
        case .patternProperties(let patterns):
            for member in object.members {
                for entry in patterns {
                    switch entry.pattern.matches(member.key) {
                    case .noMatch:
                        continue
                    case .match:
                        outcome.errors += memberErrors(
                            entry.schema, member, keyword: entry.pattern.source, forbidden: nil)
                        if collectsAnnotations { outcome.evaluatedProperties.insert(CodePoints(member.key)) }
                    case .exhausted(let steps):
                        let name = "property name \(shortJSON(.string(member.key)))"
                        outcome.errors.append(
                            undecided(
                                error(
                                    patternGaveUp(name, entry.pattern, steps: steps), at: .member(member.key),
                                    keyword: entry.pattern.source)))
                    }
                }
            }
        case .additionalProperties(let id, let declared, let patterns):
            // A name that no pattern matched but one gave up on is neither additional nor not;
            // the sibling patternProperties, which has the same patterns, reports it.
            for member in object.members
            where !declared.contains(CodePoints(member.key)) && anyPattern(patterns, matches: member.key) == .noMatch {
                outcome.errors += memberErrors(id, member, keyword: nil, forbidden: "additionalProperties is false")
                if collectsAnnotations { outcome.evaluatedProperties.insert(CodePoints(member.key)) }
            }
        case .propertyNames(let id):
            for member in object.members {
                let result = evaluate(id, .string(member.key), keyword: nil, member: .member(member.key))
                outcome.errors += result.errors.map {
                    ValidationError(
                        instanceLocation: $0.instanceLocation, keywordLocation: $0.keywordLocation,
                        message: "invalid property name \(quoted(member.key)): \($0.message)")
                }
            }
        case .unevaluatedProperties(let id):
            for member in object.members where !outcome.evaluatedProperties.contains(CodePoints(member.key)) {
                outcome.errors += memberErrors(id, member, keyword: nil, forbidden: "unevaluatedProperties is false")
            }
            outcome.evaluatedProperties.formUnion(object.members.map { CodePoints($0.key) })
        default:
            break
        }
    }

    /// Errors of one member against `id`, whose schema sits at `keyword` below the current
    /// keyword (nil: the keyword's own schema). A `false` schema gets "unknown property" when
    /// it stands for "no other members" (`forbidden` names the keyword), "not allowed" otherwise.
    private mutating func memberErrors(
        _ id: NodeID, _ member: (key: String, value: JSONValue), keyword: String?, forbidden: String?
    ) -> [ValidationError] {
        if isFalseSchema(id) {
            let message =
                forbidden.map { "unknown property \(quoted(member.key)) (\($0))" }
                ?? "property \(quoted(member.key)) is not allowed (its schema is false)"
            if let keyword { return [error(message, at: .member(member.key), keyword: keyword)] }
            return [error(message, at: .member(member.key))]
        }
        return evaluate(id, member.value, keyword: keyword, member: .member(member.key)).errors
    }

    /// `.match` when some pattern matches `name`; otherwise `.exhausted` when one gave up.
    private func anyPattern(_ patterns: [ECMARegex], matches name: String) -> PatternMatch {
        var result = PatternMatch.noMatch
        for pattern in patterns {
            switch pattern.matches(name) {
            case .match: return .match
            case .exhausted(let steps): result = .exhausted(steps: steps)
            case .noMatch: break
            }
        }
        return result
    }

    private func isFalseSchema(_ id: NodeID) -> Bool {
        if case .boolean(false) = graph.nodes[id].body { return true }
        return false
    }
}
