import LSRFormats

/// The validation vocabulary (Validation 2020-12 §6): assertions on the value itself. Each
/// keyword applies only to the kinds of value it is about (`minLength` passes numbers, §6.3),
/// so a type mismatch is reported once, by `type`.
extension Evaluator {
    mutating func applyAssertion(_ kind: KeywordKind, _ value: JSONValue, into outcome: inout Outcome) {
        switch kind {
        case .type(let types):
            if !types.contains(where: { $0.admits(value) }) {
                outcome.errors.append(error("expected \(alternatives(types.map(\.rawValue))), got \(value.kindName)"))
            }
        case .enumeration(let allowed):
            if allowed.isEmpty {
                outcome.errors.append(error("no value is allowed (enum is empty)"))
            } else if !allowed.contains(where: { jsonEqual($0, value) }) {
                let shown = allowed.prefix(8).map { shortJSON($0, limit: 30) }.joined(separator: ", ")
                let more = allowed.count > 8 ? ", … (\(allowed.count) in all)" : ""
                outcome.errors.append(
                    error("value \(shortJSON(value)) is not one of the allowed values: \(shown)\(more)"))
            }
        case .constant(let expected):
            if !jsonEqual(expected, value) {
                outcome.errors.append(
                    error("value \(shortJSON(value)) is not the required constant \(shortJSON(expected))"))
            }
        case .multipleOf, .maximum, .exclusiveMaximum, .minimum, .exclusiveMinimum:
            assertNumber(kind, value, into: &outcome)
        case .maxLength(let limit):
            guard case .string(let text) = value else { return }
            // Length in Unicode code points (§6.3.1), not grapheme clusters or UTF-16 units.
            let length = text.unicodeScalars.count
            if length > limit {
                outcome.errors.append(
                    error("string has \(counted(length, "character")), more than the maximum length \(limit)"))
            }
        case .minLength(let limit):
            guard case .string(let text) = value else { return }
            let length = text.unicodeScalars.count
            if length < limit {
                outcome.errors.append(
                    error("string has \(counted(length, "character")), fewer than the minimum length \(limit)"))
            }
        case .pattern(let regex):
            guard case .string(let text) = value else { return }
            switch regex.matches(text) {
            case .match:
                break
            case .noMatch:
                outcome.errors.append(
                    error("string \(shortJSON(value)) does not match the pattern \(quoted(regex.source))"))
            case .exhausted(let steps):
                outcome.errors.append(
                    undecided(error(patternGaveUp("string \(shortJSON(value))", regex, steps: steps))))
            }
        case .maxItems, .minItems, .uniqueItems:
            assertArray(kind, value, into: &outcome)
        case .maxProperties, .minProperties, .required, .dependentRequired:
            assertObject(kind, value, into: &outcome)
        default:
            break
        }
    }

    /// `multipleOf`, `maximum`, `exclusiveMaximum`, `minimum`, `exclusiveMinimum` (§6.2),
    /// compared exactly across integer and floating-point representations.
    private func assertNumber(_ kind: KeywordKind, _ value: JSONValue, into outcome: inout Outcome) {
        guard isNumber(value) else { return }
        let shown = shortJSON(value)
        switch kind {
        case .multipleOf(let divisor):
            if !isMultiple(value, of: divisor) {
                outcome.errors.append(error("value \(shown) is not a multiple of \(shortJSON(divisor))"))
            }
        case .maximum(let limit):
            if let order = compareNumbers(value, limit), order > 0 {
                outcome.errors.append(error("value \(shown) is above the maximum \(shortJSON(limit))"))
            }
        case .exclusiveMaximum(let limit):
            if let order = compareNumbers(value, limit), order >= 0 {
                outcome.errors.append(error("value \(shown) is not below the exclusive maximum \(shortJSON(limit))"))
            }
        case .minimum(let limit):
            if let order = compareNumbers(value, limit), order < 0 {
                outcome.errors.append(error("value \(shown) is below the minimum \(shortJSON(limit))"))
            }
        case .exclusiveMinimum(let limit):
            if let order = compareNumbers(value, limit), order <= 0 {
                outcome.errors.append(error("value \(shown) is not above the exclusive minimum \(shortJSON(limit))"))
            }
        default:
            break
        }
    }

    /// `maxItems`, `minItems`, `uniqueItems` (§6.4).
    private func assertArray(_ kind: KeywordKind, _ value: JSONValue, into outcome: inout Outcome) {
        guard case .array(let items) = value else { return }
        switch kind {
        case .maxItems(let limit):
            if items.count > limit {
                outcome.errors.append(
                    error("array has \(counted(items.count, "item")), more than the maximum \(limit)"))
            }
        case .minItems(let limit):
            if items.count < limit {
                outcome.errors.append(
                    error("array has \(counted(items.count, "item")), fewer than the minimum \(limit)"))
            }
        case .uniqueItems:
            // One hash per item (`SchemaEquatable` hashes 1 and 1.0 alike, objects in any order).
            var firstIndex: [SchemaEquatable: Int] = [:]
            for (index, item) in items.enumerated() {
                if let earlier = firstIndex[SchemaEquatable(value: item)] {
                    outcome.errors.append(error("array items \(earlier) and \(index) are equal; items must be unique"))
                    return
                }
                firstIndex[SchemaEquatable(value: item)] = index
            }
        default:
            break
        }
    }

    /// `maxProperties`, `minProperties`, `required`, `dependentRequired` (§6.5).
    private func assertObject(_ kind: KeywordKind, _ value: JSONValue, into outcome: inout Outcome) {
        guard case .object(let object) = value else { return }
        switch kind {
        case .maxProperties(let limit):
            if object.count > limit {
                outcome.errors.append(
                    error("object has \(counted(object.count, "property")), more than the maximum \(limit)"))
            }
        case .minProperties(let limit):
            if object.count < limit {
                outcome.errors.append(
                    error("object has \(counted(object.count, "property")), fewer than the minimum \(limit)"))
            }
        case .required(let names):
            for name in names where !object.hasMember(name) {
                outcome.errors.append(error("required property \(quoted(name)) is missing"))
            }
        case .dependentRequired(let dependencies):
            for dependency in dependencies where object.hasMember(dependency.name) {
                for name in dependency.required where !object.hasMember(name) {
                    outcome.errors.append(
                        error("property \(quoted(name)) is required when \(quoted(dependency.name)) is present"))
                }
            }
        default:
            break
        }
    }
}
