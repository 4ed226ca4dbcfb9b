/// A set of code points: what a character class, `.`, `\d`, `\p{…}` matches (ECMA-262
/// §22.2.2.9, CharSet). Ranges stay sorted and merged for a binary search; Unicode properties
/// stay predicates, asked per scalar. There is no `i` flag in JSON Schema patterns, so no
/// case folding (§22.2.2.7.3 Canonicalize is the identity).
struct ScalarSet: Sendable {
    /// Sorted, disjoint and non-adjacent once `normalize()` has run.
    private(set) var ranges: [ClosedRange<UInt32>]
    /// `\p{…}` / `\P{…}` members; the set holds a scalar when a range or any of these does.
    private(set) var properties: [PropertyTest]
    /// `[^…]`: the set is the complement of its members.
    var isNegated = false

    init(ranges: [ClosedRange<UInt32>] = [], properties: [PropertyTest] = []) {
        self.ranges = ranges
        self.properties = properties
        normalize()
    }

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        (containsInRanges(scalar.value) || properties.contains { $0.holds(for: scalar) }) != isNegated
    }

    private func containsInRanges(_ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < value {
                low = middle + 1
            } else if ranges[middle].lowerBound > value {
                high = middle
            } else {
                return true
            }
        }
        return false
    }

    /// Adds the members of `other`, which must not be negated (class escapes never are:
    /// `\D` is built as the complement ranges of `\d`, `\P{…}` as a negated property test).
    mutating func formUnion(_ other: ScalarSet) {
        ranges += other.ranges
        properties += other.properties
        normalize()
    }

    mutating func insert(_ range: ClosedRange<UInt32>) {
        ranges.append(range)
    }

    /// Sorts and merges the ranges; call after a run of `insert`s.
    mutating func normalize() {
        guard ranges.count > 1 else { return }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = [ranges[0]]
        for range in ranges.dropFirst() {
            let last = merged[merged.count - 1]
            if range.lowerBound <= last.upperBound || range.lowerBound == last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        ranges = merged
    }

    /// Every code point not in `ranges` (which must be normalized), over U+0000…U+10FFFF.
    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = range.upperBound + 1
        }
        if next <= maxCodePoint { result.append(next...maxCodePoint) }
        return result
    }

    static let maxCodePoint: UInt32 = 0x10FFFF

    // MARK: - The sets of ECMA-262 §22.2.2.9 CharacterClassEscape and §22.2.2.7 `.`

    /// `\d`: ASCII digits only.
    static let digitRanges: [ClosedRange<UInt32>] = [0x30...0x39]
    /// `\w` without the `i` flag: [A-Za-z0-9_] (§22.2.2.9.3 WordCharacters).
    static let wordRanges: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
    /// `\s`: WhiteSpace (§12.2: TAB, VT, FF, ZWNBSP and the Zs space separators) and
    /// LineTerminator (§12.3: LF, CR, LS, PS). Unicode's White_Space differs: it has U+0085
    /// and lacks U+FEFF.
    static let whitespaceRanges: [ClosedRange<UInt32>] = [
        0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A, 0x2028...0x2029,
        0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF,
    ]
    /// LineTerminator (§12.3), which `.` does not match without the `s` flag.
    static let lineTerminatorRanges: [ClosedRange<UInt32>] = [0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029]

    /// `\d \D \s \S \w \W`; nil for any other letter.
    static func classEscape(_ letter: Unicode.Scalar) -> ScalarSet? {
        switch letter {
        case "d": ScalarSet(ranges: digitRanges)
        case "D": ScalarSet(ranges: complement(digitRanges))
        case "s": ScalarSet(ranges: whitespaceRanges)
        case "S": ScalarSet(ranges: complement(whitespaceRanges))
        case "w": ScalarSet(ranges: wordRanges)
        case "W": ScalarSet(ranges: complement(wordRanges))
        default: nil
        }
    }

    /// `.`: every code point but a line terminator.
    static let dot = ScalarSet(ranges: complement(lineTerminatorRanges))
    /// Every code point, for the implicit `[^]*?` that makes a search unanchored.
    static let all = ScalarSet(ranges: [0...maxCodePoint])

    /// IsWordChar (§22.2.2.9.2) for `\b` / `\B`.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x30...0x39, 0x41...0x5A, 0x5F, 0x61...0x7A: true
        default: false
        }
    }
}

/// One `\p{…}` (or, negated, `\P{…}`) inside a set.
struct PropertyTest: Sendable {
    let property: UnicodeProperty
    let negated: Bool

    func holds(for scalar: Unicode.Scalar) -> Bool { property.holds(for: scalar) != negated }
}
