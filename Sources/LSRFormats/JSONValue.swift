/// The one JSON value type of lsrconv: parsed by `JSON.parse` (json-c underneath), written by
/// `JSON.serialize` (deterministic: keys in stored order, shortest round-trip numbers).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// Any integer literal within −2⁶³…2⁶³−1, exact.
    case int(Int64)
    /// An integer literal above 2⁶³−1 and at most 2⁶⁴−1, exact.
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }

    /// The value as an `Int` when it is an integer literal that fits.
    public var intValue: Int? {
        switch self {
        case .int(let i): Int(exactly: i)
        case .uint(let u): Int(exactly: u)
        default: nil
        }
    }

    /// Any number as a `Double` (integers beyond 2⁵³ round).
    public var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .uint(let u): Double(u)
        case .double(let d): d
        default: nil
        }
    }

    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .uint: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// A JSON object that keeps its members in order. Keys are unique: the parser rejects
/// duplicates, and `subscript(set:)` replaces in place. Keys are compared as exact UTF-8
/// (JSON's rule), not by Swift's canonical equivalence: "é" and "e\u{301}" are two keys.
/// Look-ups go through an index, so building or reading an object of n members is O(n)
/// (a 50,265-entry vocabulary object parses in milliseconds, not tens of seconds).
public struct JSONObject: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)] = []
    /// Position of each key in `members`.
    private var index: [ExactKey: Int] = [:]

    public init() {}
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (k, v) in elements { self[k] = v }
    }
    public init(_ members: [(String, JSONValue)]) {
        self.members.reserveCapacity(members.count)
        index.reserveCapacity(members.count)
        for (k, v) in members { self[k] = v }
    }

    public var keys: [String] { members.map(\.key) }
    public var count: Int { members.count }

    public subscript(key: String) -> JSONValue? {
        get { index[ExactKey(key)].map { members[$0].value } }
        set {
            let k = ExactKey(key)
            if let i = index[k] {
                if let newValue {
                    members[i].value = newValue
                } else {
                    members.remove(at: i)
                    index[k] = nil
                    for j in i..<members.count { index[ExactKey(members[j].key)] = j }
                }
            } else if let newValue {
                index[k] = members.count
                members.append((key, newValue))
            }
        }
    }

    /// Members sorted by key (UTF-8 byte order, as Python's `sort_keys=True` for ASCII keys).
    public func sortedByKey() -> JSONObject {
        JSONObject(members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(_ value: Int) { self = .int(Int64(value)) }
}

/// A string key compared and hashed by its exact UTF-8 bytes.
struct ExactKey: Hashable, Sendable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: ExactKey, b: ExactKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
    func hash(into hasher: inout Hasher) {
        for byte in text.utf8 { hasher.combine(byte) }
    }
}
