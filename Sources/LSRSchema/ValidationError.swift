import LSRFormats

/// One way an instance fails its schema, located as JSON Schema's "basic" output format does
/// (JSON Schema Core 2020-12 §12.3–12.4): where in the instance, which keyword on the path the
/// evaluation took (through `$ref`), and a one-line sentence for people.
public struct ValidationError: Equatable, Sendable, CustomStringConvertible {
    /// JSON Pointer to the failing value in the instance, e.g. "/modules/3/up/left/shape";
    /// "" is the instance itself.
    public let instanceLocation: String
    /// JSON Pointer to the failing keyword along the evaluation path, e.g.
    /// "/properties/modules/items/required"; a `$ref` taken on the way appears as "/$ref".
    public let keywordLocation: String
    /// One line, e.g. "required property 'rank' is missing" or "expected integer, got string".
    public let message: String

    public init(instanceLocation: String, keywordLocation: String, message: String) {
        self.instanceLocation = instanceLocation
        self.keywordLocation = keywordLocation
        self.message = message
    }

    /// "/modules/3: required property 'rank' is missing (at /properties/modules/items/required)".
    public var description: String {
        let place = instanceLocation.isEmpty ? "(root)" : instanceLocation
        return "\(place): \(message) (at \(keywordLocation.isEmpty ? "/" : keywordLocation))"
    }
}

/// Why a schema could not be compiled. `location` is the JSON Pointer of the offending
/// subschema or keyword within the schema document ("" is the root).
public enum SchemaError: Error, Equatable, Sendable {
    /// A schema (or subschema) that is neither an object nor a boolean.
    case notASchema(location: String, got: String)
    /// A keyword whose value has the wrong shape, e.g. `"minimum": "1"` or `"required": [1]`.
    case invalidKeyword(location: String, keyword: String, expected: String)
    /// A `$ref` or `$dynamicRef` that is not a URI reference, or whose fragment is neither an
    /// anchor name nor a JSON Pointer (bad percent escape, "~" not followed by 0 or 1).
    case invalidReference(location: String, reference: String, reason: String)
    /// An `$id` that carries a non-empty fragment, or a base URI that is not absolute.
    case invalidIdentifier(location: String, identifier: String, reason: String)
    /// An `$anchor` or `$dynamicAnchor` outside `^[A-Za-z_][-A-Za-z0-9._]*$` (Core §8.2.2).
    case invalidAnchor(location: String, anchor: String)
    /// The same URI or anchor declared by two different subschemas.
    case duplicateIdentifier(location: String, identifier: String)
    /// A `pattern` or `patternProperties` key that is not a regular expression this
    /// validator can compile.
    case invalidPattern(location: String, pattern: String, reason: String)
    /// Subschemas nested deeper than `JSONSchema.maxSchemaDepth`.
    case tooDeep(location: String, limit: Int)
}

extension SchemaError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notASchema(let l, let got):
            "schema at \(pointerText(l)) must be an object or a boolean, got \(got)"
        case .invalidKeyword(let l, let k, let expected):
            "keyword '\(k)' at \(pointerText(l)) must be \(expected)"
        case .invalidReference(let l, let r, let reason):
            "invalid reference \(quoted(r)) at \(pointerText(l)): \(reason)"
        case .invalidIdentifier(let l, let id, let reason):
            "invalid identifier \(quoted(id)) at \(pointerText(l)): \(reason)"
        case .invalidAnchor(let l, let a):
            "invalid anchor name \(quoted(a)) at \(pointerText(l)): must match ^[A-Za-z_][-A-Za-z0-9._]*$"
        case .duplicateIdentifier(let l, let id):
            "\(quoted(id)) at \(pointerText(l)) is already declared elsewhere in the schema"
        case .invalidPattern(let l, let p, let reason):
            "invalid regular expression \(quoted(p)) at \(pointerText(l)): \(reason)"
        case .tooDeep(let l, let limit):
            "schema nested deeper than \(limit) levels at \(pointerText(l))"
        }
    }
}

/// "/" for the root pointer, so messages never show an empty location.
private func pointerText(_ pointer: String) -> String { pointer.isEmpty ? "/" : pointer }

/// A value as a short piece of JSON text for messages: at most `limit` characters, cut with "…".
func shortJSON(_ value: JSONValue, limit: Int = 60) -> String {
    let text = JSON.serialize(value)
    guard text.count > limit else { return text }
    return String(text.prefix(limit - 1)) + "…"
}

/// A list of names for messages: "a", "a or b", "a, b or c".
func alternatives(_ names: [String]) -> String {
    guard names.count > 1 else { return names.first ?? "" }
    return names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
}

/// A member name for messages, in single quotes with control characters escaped so that a
/// message stays on one line: 'rank', 'foo\nbar'.
func quoted(_ name: String) -> String {
    var out = "'"
    for scalar in name.unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{00}"..."\u{1F}", "\u{7F}": out += "\\u{" + String(scalar.value, radix: 16) + "}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "'"
}

/// "string "aaa…b" could not be checked against the pattern '^(a+)+\1$': gave up after 1000000 steps":
/// the message of a pattern whose matcher ran out of steps (`PatternMatch.exhausted`).
func patternGaveUp(_ subject: String, _ regex: ECMARegex, steps: Int) -> String {
    "\(subject) could not be checked against the pattern \(quoted(regex.source)): gave up after \(steps) steps"
}

/// "1 item", "2 items".
func counted(_ count: Int, _ noun: String) -> String {
    count == 1 ? "1 \(noun)" : "\(count) \(noun == "property" ? "properties" : noun + "s")"
}
