/// SentencePiece's `precompiled_charsmap` (the Precompiled normalizer of XLM-R, CamemBERT and
/// other SentencePiece conversions): a little-endian u32 trie size in bytes, that many bytes of
/// darts-clone double-array units (u32 each), then the replacement strings, each ended by NUL.
/// A key's last unit has a leaf whose value is a byte offset into those strings.
///
/// The bytes are untrusted (base64 inside tokenizer.json), so parsing walks the whole trie once,
/// checking every index against the array, every value against the strings, and the key length
/// against `maxKeyBytes`; the walk flattens it into `rules`, and normalization never reads the
/// array again. Semantics as huggingface/spm_precompiled 0.1 (`transform`, `normalize_string`)
/// and tokenizers/src/normalizers/precompiled.rs.
struct PrecompiledCharsmap: Sendable {
    /// Longest key accepted (SentencePiece keys are one character or a short sequence).
    static let maxKeyBytes = 64
    /// Most keys accepted (the full nmt_nfkc map has ~6,000).
    static let maxRules = 1 << 20

    /// Key bytes → replacement.
    let rules: [[UInt8]: String]
    /// The first byte of every key, for a quick miss.
    private let firstBytes: [Bool]

    /// Parses and checks the whole charsmap; errors name the byte offset at fault.
    init(bytes: [UInt8]) throws(CharsmapError) {
        guard bytes.count >= 4 else { throw .truncated(offset: 0, needed: 4, available: bytes.count) }
        let trieSize = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard trieSize % 4 == 0 else { throw .trieSizeNotMultipleOfFour(trieSize) }
        guard trieSize <= bytes.count - 4 else { throw .truncated(offset: 4, needed: trieSize, available: bytes.count - 4) }
        guard trieSize >= 4 else { throw .emptyTrie }
        let unitCount = trieSize / 4
        var units = [UInt32](repeating: 0, count: unitCount)
        for i in 0..<unitCount {
            let o = 4 + 4 * i
            units[i] = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        }
        let strings = Array(bytes[(4 + trieSize)...])
        let stringsOffset = 4 + trieSize

        // Depth-first over every (node, byte) edge, as common_prefix_search would follow it.
        var rules: [[UInt8]: String] = [:]
        var visited = Set<Int>()
        var stack: [(position: Int, key: [UInt8])] = []
        let root = units[0]
        stack.append((Self.offset(root), []))
        while let (base, key) = stack.popLast() {
            for byte in 1...255 {  // the search stops at a NUL byte, so label 0 is never followed
                let child = base ^ byte
                guard child < unitCount else { continue }  // out of the array: no such edge
                let unit = units[child]
                guard Self.label(unit) == UInt32(byte) else { continue }
                let next = child ^ Self.offset(unit)
                let childKey = key + [UInt8(byte)]
                guard childKey.count <= Self.maxKeyBytes else { throw .keyTooLong(unitOffset: 4 + 4 * child) }
                guard visited.insert(child).inserted else { throw .cycle(unitOffset: 4 + 4 * child) }
                if Self.hasLeaf(unit) {
                    guard next < unitCount else { throw .indexOutOfRange(unitOffset: 4 + 4 * child, index: next, count: unitCount) }
                    let value = Int(units[next] & 0x7FFF_FFFF)
                    guard value <= strings.count else {
                        throw .valueOutOfRange(unitOffset: 4 + 4 * next, value: value, stringsBytes: strings.count)
                    }
                    let end = strings[value...].firstIndex(of: 0) ?? strings.count
                    guard let replacement = String(validating: strings[value..<end], as: UTF8.self) else {
                        throw .invalidUTF8(offset: stringsOffset + value)
                    }
                    guard rules.count < Self.maxRules else { throw .tooManyRules(limit: Self.maxRules) }
                    rules[childKey] = replacement
                }
                if next < unitCount { stack.append((next, childKey)) }
            }
        }
        // spm_precompiled converts the whole string area to a Rust String: it must be UTF-8.
        guard String(validating: strings, as: UTF8.self) != nil else { throw .invalidUTF8(offset: stringsOffset) }
        self.rules = rules
        var first = [Bool](repeating: false, count: 256)
        for key in rules.keys { first[Int(key[0])] = true }
        firstBytes = first
    }

    // darts-clone unit fields (spm_precompiled's ArrayUnitTrait).
    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func label(_ unit: UInt32) -> UInt32 { unit & (1 << 31 | 0xFF) }
    private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }

    /// `transform`: the replacement of the *shortest* key that is a prefix of `chunk`.
    func transform(_ chunk: ArraySlice<UInt8>) -> String? {
        guard let first = chunk.first, firstBytes[Int(first)] else { return nil }
        var end = chunk.startIndex
        while end < chunk.endIndex, chunk[end] != 0, end - chunk.startIndex < Self.maxKeyBytes {
            end += 1
            if let replacement = rules[Array(chunk[chunk.startIndex..<end])] { return replacement }
        }
        return nil
    }

    /// precompiled.rs `normalize`: per extended grapheme cluster, the whole cluster's
    /// replacement when it is under 6 bytes and one applies, else each scalar's.
    func normalize(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for grapheme in text {
            let bytes = Array(grapheme.utf8)
            if bytes.count < 6, let replacement = transform(bytes[...]) {
                result += replacement
                continue
            }
            for scalar in grapheme.unicodeScalars {
                let part = Array(String(scalar).utf8)
                if let replacement = transform(part[...]) { result += replacement } else { result.unicodeScalars.append(scalar) }
            }
        }
        return result
    }
}

/// Why a precompiled_charsmap was refused; offsets count from the first byte of the decoded map.
enum CharsmapError: Error, Equatable, Sendable {
    case truncated(offset: Int, needed: Int, available: Int)
    case trieSizeNotMultipleOfFour(Int)
    case emptyTrie
    case keyTooLong(unitOffset: Int)
    case cycle(unitOffset: Int)
    case indexOutOfRange(unitOffset: Int, index: Int, count: Int)
    case valueOutOfRange(unitOffset: Int, value: Int, stringsBytes: Int)
    case invalidUTF8(offset: Int)
    case tooManyRules(limit: Int)
}

extension CharsmapError: CustomStringConvertible {
    var description: String {
        switch self {
        case .truncated(let o, let n, let a): "byte \(o): \(n) bytes needed, \(a) present"
        case .trieSizeNotMultipleOfFour(let s): "byte 0: trie size \(s) is not a multiple of 4"
        case .emptyTrie: "byte 0: the trie is empty"
        case .keyTooLong(let o): "byte \(o): a key longer than \(PrecompiledCharsmap.maxKeyBytes) bytes"
        case .cycle(let o): "byte \(o): the trie reaches this unit twice"
        case .indexOutOfRange(let o, let i, let c): "byte \(o): unit index \(i) is outside the \(c) units"
        case .valueOutOfRange(let o, let v, let s): "byte \(o): string offset \(v) is beyond the \(s) bytes of strings"
        case .invalidUTF8(let o): "byte \(o): invalid UTF-8 in the replacement strings"
        case .tooManyRules(let l): "more than \(l) keys"
        }
    }
}
