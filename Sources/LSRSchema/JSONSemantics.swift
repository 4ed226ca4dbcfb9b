import LSRFormats

/// JSON Schema's view of JSON values, which is not `JSONValue`'s `==`:
/// - numbers compare by mathematical value across representations, so 1, 1.0 and 1e0 are equal
///   (Validation 2020-12 §4.2.2), and 1.0 is an "integer" (§6.1.1);
/// - objects are equal when they have the same members in any order (Core 2020-12 §4.2.2);
/// - ints beyond 2⁵³ compare exactly, never through a rounded `Double`;
/// - strings (values and member names) are equal when their code points are, whereas Swift's
///   `String ==` treats canonically equivalent strings ("\u{E9}" and "e\u{301}") as equal.

/// The seven type names of Core 2020-12 §4.2.1, as `type` spells them.
enum JSONType: String, CaseIterable, Sendable {
    case null, boolean, object, array, number, string, integer

    /// Whether `value` is of this type ("number" includes integers; "integer" includes 1.0).
    func admits(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.null, .null), (.boolean, .bool), (.object, .object), (.array, .array), (.string, .string): true
        case (.number, .int), (.number, .uint), (.number, .double): true
        case (.integer, .int), (.integer, .uint): true
        case (.integer, .double(let d)): d.rounded(.towardZero) == d
        default: false
        }
    }
}

/// Whether `value` is a JSON number.
func isNumber(_ value: JSONValue) -> Bool {
    switch value {
    case .int, .uint, .double: true
    default: false
    }
}

/// Orders two numbers exactly (−1, 0, 1); nil when either is not a number.
func compareNumbers(_ lhs: JSONValue, _ rhs: JSONValue) -> Int? {
    switch (lhs, rhs) {
    case (.int(let a), .int(let b)): return a < b ? -1 : (a == b ? 0 : 1)
    case (.uint(let a), .uint(let b)): return a < b ? -1 : (a == b ? 0 : 1)
    // `.uint` only holds values above Int64.max.
    case (.int, .uint): return -1
    case (.uint, .int): return 1
    case (.double(let a), .double(let b)): return a < b ? -1 : (a == b ? 0 : 1)
    case (.int(let a), .double(let b)): return compareInteger(Int128(a), b)
    case (.uint(let a), .double(let b)): return compareInteger(Int128(a), b)
    case (.double(let a), .int(let b)): return compareInteger(Int128(b), a).map { -$0 }
    case (.double(let a), .uint(let b)): return compareInteger(Int128(b), a).map { -$0 }
    default: return nil
    }
}

/// Orders an integer against a finite double without rounding the integer: compare with the
/// double's floor (exact in Int128 for every double below 2¹²⁷), then its fraction breaks ties.
private func compareInteger(_ integer: Int128, _ double: Double) -> Int? {
    guard double.isFinite else { return nil }
    if double >= 0x1p126 { return -1 }
    if double <= -0x1p126 { return 1 }
    let floor = double.rounded(.down)
    let whole = Int128(floor)
    if integer < whole { return -1 }
    if integer > whole { return 1 }
    return double > floor ? -1 : 0
}

/// Whether `value` is an integer multiple of `divisor` (Validation 2020-12 §6.2.1; the
/// divisor is > 0). Integers divide exactly. Otherwise the quotient is computed in binary
/// floating point, where 0.0075 / 0.0001 comes out as 75.00000000000001: a quotient within a
/// few ulps of an integer counts as integral, as decimal literals intend. An overflowing
/// quotient (1e308 / 0.123) is not a multiple.
func isMultiple(_ value: JSONValue, of divisor: JSONValue) -> Bool {
    switch (value, divisor) {
    case (.int(let v), .int(let d)): return v % d == 0
    case (.uint(let v), .int(let d)): return v % UInt64(d) == 0
    case (.int(let v), .uint(let d)): return v == 0 || (v < 0 && v.magnitude % d == 0)
    case (.uint(let v), .uint(let d)): return v % d == 0
    default: break
    }
    guard let v = value.doubleValue, let d = divisor.doubleValue else { return false }
    let quotient = v / d
    guard quotient.isFinite else { return false }
    let nearest = quotient.rounded()
    return abs(quotient - nearest) <= 4 * quotient.ulp
}

/// Equality as JSON Schema defines it for `const`, `enum` and `uniqueItems`.
func jsonEqual(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.string(let a), .string(let b)): return sameCodePoints(a, b)
    case (.array(let a), .array(let b)):
        return a.count == b.count && zip(a, b).allSatisfy { jsonEqual($0, $1) }
    case (.object(let a), .object(let b)):
        guard a.count == b.count else { return false }
        let right = Dictionary(
            b.members.map { (CodePoints($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        return a.members.allSatisfy { member in
            right[CodePoints(member.key)].map { jsonEqual(member.value, $0) } ?? false
        }
    default:
        return compareNumbers(lhs, rhs) == 0
    }
}

/// A value wrapped so that `Hashable` agrees with `jsonEqual`: `uniqueItems` then costs one
/// hash per item instead of comparing every pair.
struct SchemaEquatable: Hashable {
    let value: JSONValue

    static func == (lhs: SchemaEquatable, rhs: SchemaEquatable) -> Bool { jsonEqual(lhs.value, rhs.value) }

    func hash(into hasher: inout Hasher) { Self.feed(value, into: &hasher) }

    private static func feed(_ value: JSONValue, into hasher: inout Hasher) {
        switch value {
        case .null: hasher.combine(0)
        case .bool(let b):
            hasher.combine(1)
            hasher.combine(b)
        // Every number hashes through its nearest double: equal numbers have equal doubles.
        case .int, .uint, .double:
            hasher.combine(2)
            hasher.combine(value.doubleValue ?? 0)
        case .string(let s):
            hasher.combine(3)
            hasher.combine(CodePoints(s))
        case .array(let items):
            hasher.combine(4)
            hasher.combine(items.count)
            for item in items { feed(item, into: &hasher) }
        case .object(let object):
            // Member order must not matter: add the members' own hashes (a commutative mix).
            hasher.combine(5)
            var sum = 0
            for member in object.members {
                var inner = Hasher()
                inner.combine(CodePoints(member.key))
                feed(member.value, into: &inner)
                sum &+= inner.finalize()
            }
            hasher.combine(sum)
        }
    }
}

/// A string compared and hashed by its Unicode code points, as JSON compares strings: the key
/// type for member names (`properties`, the evaluated-property annotations). Equal code
/// points mean equal UTF-8, so both work on the UTF-8 bytes.
struct CodePoints: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    static func == (lhs: CodePoints, rhs: CodePoints) -> Bool { sameCodePoints(lhs.text, rhs.text) }

    func hash(into hasher: inout Hasher) {
        let hashed: Void? = text.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        if hashed == nil {
            for byte in text.utf8 { hasher.combine(byte) }
        }
        hasher.combine(0xFF as UInt8)  // never in UTF-8: ends the name
    }
}

/// Whether two strings have the same code points (Swift's `==` also equates canonically
/// equivalent ones).
func sameCodePoints(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.count == rhs.utf8.count && lhs.utf8.elementsEqual(rhs.utf8)
}

extension JSONObject {
    /// Whether a member is named `name`, code point for code point.
    func hasMember(_ name: String) -> Bool {
        members.contains { sameCodePoints($0.key, name) }
    }
}
