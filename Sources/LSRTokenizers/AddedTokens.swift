/// A token matched in raw text before pre-tokenization (`<s>`, `<mask>`, user additions), with
/// the flags of tokenizers' `AddedToken` (tokenizers/src/tokenizer/added_vocabulary.rs).
public struct AddedToken: Equatable, Sendable {
    public var content: String
    /// Match only where no word character (`\w`) touches either side.
    public var singleWord: Bool
    /// Swallow the whitespace on the left of a match.
    public var leftStrip: Bool
    /// Swallow the whitespace on the right of a match.
    public var rightStrip: Bool
    /// Match against the normalized text (after the non-normalized tokens split the raw text).
    public var normalized: Bool
    public var special: Bool

    public init(
        content: String, singleWord: Bool = false, leftStrip: Bool = false, rightStrip: Bool = false, normalized: Bool, special: Bool
    ) {
        self.content = content
        self.singleWord = singleWord
        self.leftStrip = leftStrip
        self.rightStrip = rightStrip
        self.normalized = normalized
        self.special = special
    }
}

/// The added tokens of a tokenizer and the split of raw text around them
/// (`AddedVocabulary::extract_and_normalize`).
struct AddedVocabulary: Sendable {
    /// One part of the input: plain text for the pre-tokenizer, or an added token.
    enum Segment: Equatable {
        case text(Range<Int>)
        case added(id: Int32, Range<Int>)
    }

    /// Tokens with their ids, in the order they were added.
    private(set) var entries: [(id: Int32, token: AddedToken)] = []
    /// Content (UTF-8 bytes: exact, no Unicode equivalence) → index in `entries`.
    private var indexByContent: [[UInt8]: Int] = [:]
    private var indexById: [Int32: Int] = [:]
    private var nonNormalized = Matcher()
    private var normalized = Matcher()

    /// The largest id ever added.
    private(set) var maxId: Int32?

    var isEmpty: Bool { entries.isEmpty }

    func id(of content: String) -> Int32? { indexByContent[Array(content.utf8)].map { entries[$0].id } }
    func token(for id: Int32) -> AddedToken? { indexById[id].map { entries[$0].token } }

    /// `AddedVocabulary::add_tokens`: a token whose content is already present replaces it
    /// (keeping its id); empty contents are ignored. Call `buildMatchers()` once all are added.
    mutating func add(_ token: AddedToken, id: Int32) {
        guard !token.content.isEmpty else { return }
        let key = Array(token.content.utf8)
        if let index = indexByContent[key] {
            entries[index].token = token
            return
        }
        maxId = max(maxId ?? id, id)
        if let taken = indexById[id] {
            // The id now names the new content only (tokenizers' reverse map is keyed by id).
            indexByContent[Array(entries[taken].token.content.utf8)] = nil
            entries[taken] = (id, token)
            indexByContent[key] = taken
            return
        }
        indexByContent[key] = entries.count
        indexById[id] = entries.count
        entries.append((id, token))
    }

    /// Builds the two search automata (`refresh_added_tokens`): non-normalized and normalized tokens.
    mutating func buildMatchers() {
        nonNormalized = Matcher(entries.filter { !$0.token.normalized })
        normalized = Matcher(entries.filter { $0.token.normalized })
    }

    /// Splits `text` around the non-normalized added tokens (raw text), or around the
    /// normalized ones (`normalized`: a normalized text segment), as
    /// `extract_and_normalize` does in two passes. Empty segments are dropped.
    func split(_ text: UnsafeBufferPointer<UInt8>, normalized isNormalized: Bool) -> [Segment] {
        if text.isEmpty { return [] }
        return findMatches(text, 0..<text.count, isNormalized ? normalized : nonNormalized).filter {
            switch $0 {
            case .text(let r), .added(_, let r): !r.isEmpty
            }
        }
    }

    /// `find_matches` over `text[range]`: leftmost-longest matches, filtered by single_word,
    /// widened by lstrip/rstrip, with the plain text between them.
    private func findMatches(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ matcher: Matcher) -> [Segment] {
        if range.isEmpty || matcher.isEmpty { return [.text(range)] }
        var segments: [Segment] = []
        var startOffset = range.lowerBound
        var searchFrom = range.lowerBound
        while let match = matcher.next(in: text, from: searchFrom, to: range.upperBound) {
            searchFrom = match.range.upperBound
            let token = match.token
            var start = match.range.lowerBound
            var stop = match.range.upperBound
            if token.singleWord {
                let startSpace = start == range.lowerBound || !Scalars.endsWithWord(text, range.lowerBound..<start)
                let stopSpace = stop == range.upperBound || !Scalars.startsWithWord(text, stop..<range.upperBound)
                if !startSpace || !stopSpace { continue }
            }
            if token.leftStrip {
                // The previous match may already have taken those spaces.
                start = max(Scalars.trailingWhitespaceStart(text, range.lowerBound..<start), startOffset)
            }
            if token.rightStrip {
                stop = Scalars.leadingWhitespaceEnd(text, stop..<range.upperBound)
            }
            if startOffset < start { segments.append(.text(startOffset..<start)) }
            segments.append(.added(id: match.id, min(start, stop)..<stop))
            startOffset = stop
        }
        if startOffset < range.upperBound { segments.append(.text(startOffset..<range.upperBound)) }
        return segments
    }
}

/// Leftmost-longest search for several byte patterns (what daachorse's LeftmostLongest
/// automaton returns); added tokens are few, so a first-byte index suffices.
private struct Matcher: Sendable {
    private var patterns: [(bytes: [UInt8], id: Int32, token: AddedToken)] = []
    /// Pattern indices by first byte, longest first.
    private var byFirstByte: [[Int]] = Array(repeating: [], count: 256)

    init() {}

    init(_ entries: [(id: Int32, token: AddedToken)]) {
        patterns = entries.map { (Array($0.token.content.utf8), $0.id, $0.token) }
        for (index, pattern) in patterns.enumerated() { byFirstByte[Int(pattern.bytes[0])].append(index) }
        for byte in 0..<256 { byFirstByte[byte].sort { patterns[$0].bytes.count > patterns[$1].bytes.count } }
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// The leftmost match starting at or after `from` and ending by `end`; the longest there.
    func next(in text: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> (range: Range<Int>, id: Int32, token: AddedToken)? {
        var position = from
        while position < end {
            for index in byFirstByte[Int(text[position])] {
                let bytes = patterns[index].bytes
                if bytes.count <= end - position, text[position..<position + bytes.count].elementsEqual(bytes) {
                    return (position..<position + bytes.count, patterns[index].id, patterns[index].token)
                }
            }
            position += 1
        }
        return nil
    }
}

/// Scalar-level scans over UTF-8 byte ranges, for the lstrip/rstrip/single_word checks.
private enum Scalars {
    /// Scalars of `text[range]` with their byte offsets (valid UTF-8).
    static func decode(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [(scalar: Unicode.Scalar, offset: Int)] {
        var result: [(Unicode.Scalar, Int)] = []
        var decoder = UTF8()
        var iterator = UnsafeBufferPointer(rebasing: text[range]).makeIterator()
        var offset = range.lowerBound
        while case .scalarValue(let scalar) = decoder.decode(&iterator) {
            result.append((scalar, offset))
            offset += UTF8.width(scalar)
        }
        return result
    }

    /// `\s*$`: where the run of whitespace ending `range` starts.
    static func trailingWhitespaceStart(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        var start = range.upperBound
        for (scalar, offset) in decode(text, range).reversed() {
            guard RegexCrateClasses.isWhitespace(scalar) else { break }
            start = offset
        }
        return start
    }

    /// `^\s*`: where the run of whitespace starting `range` ends.
    static func leadingWhitespaceEnd(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        for (scalar, offset) in decode(text, range) where !RegexCrateClasses.isWhitespace(scalar) { return offset }
        return range.upperBound
    }

    /// `\w$`.
    static func endsWithWord(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        decode(text, range).last.map { RegexCrateClasses.isWord($0.scalar) } ?? false
    }

    /// `^\w`.
    static func startsWithWord(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        decode(text, range).first.map { RegexCrateClasses.isWord($0.scalar) } ?? false
    }
}
