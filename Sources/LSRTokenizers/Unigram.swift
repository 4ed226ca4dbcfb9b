/// The Unigram model of `tokenizers` 0.23 (tokenizers/src/models/unigram/model.rs,
/// `encode_optimized` and `tokenize`): the segmentation of a pre-token that maximises the sum of
/// its pieces' log probabilities (Viterbi over byte positions, a trie giving every piece that
/// starts at a position). Where no one-character piece starts, the unknown piece may cover that
/// character at score min(scores) − 10 (`K_UNK_PENALTY`); consecutive unknown pieces fuse
/// (tokenizers always sets fuse_unk for Unigram). A fused unknown span that is not itself a
/// piece becomes `<0xNN>` byte pieces when byte_fallback is set and they all exist, else the
/// unknown id.
final class UnigramModel: Sendable {
    /// Piece → id, keyed by UTF-8 bytes; a piece listed twice keeps its last id (as tokenizers'
    /// token_to_ids map).
    let vocabulary: [[UInt8]: Int32]
    /// Every piece, by id.
    let pieces: [String]
    let scores: [Double]
    let unknownId: Int32?
    let byteFallback: Bool
    /// min(scores) − 10.
    let unknownScore: Double
    private let trie: ByteTrie

    /// tokenizers' K_UNK_PENALTY.
    static let unknownPenalty = 10.0

    init(pieces: [(piece: String, score: Double)], unknownId: Int32?, byteFallback: Bool) {
        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(pieces.count)
        var trie = ByteTrie()
        var minimum = Double.infinity
        for (id, entry) in pieces.enumerated() {
            let key = Array(entry.piece.utf8)
            vocab[key] = Int32(id)
            if !key.isEmpty { trie.insert(key) }
            minimum = min(minimum, entry.score)
        }
        for (key, id) in vocab where !key.isEmpty { trie.setValue(id, for: key) }
        vocabulary = vocab
        self.pieces = pieces.map(\.piece)
        scores = pieces.map(\.score)
        self.unknownId = unknownId
        self.byteFallback = byteFallback
        unknownScore = minimum - Self.unknownPenalty
        self.trie = trie
    }

    /// Appends the ids and tokens of one pre-token.
    func tokenize(_ text: String, ids: inout [Int32], tokens: inout [String]) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return }
        // best[e]: the best path over bytes[0..<e]: its score, where its last piece starts, which id.
        var bestScore = [Double](repeating: 0, count: bytes.count + 1)
        var bestStart = [Int](repeating: -1, count: bytes.count + 1)
        var bestId = [Int32](repeating: 0, count: bytes.count + 1)
        var start = 0
        while start < bytes.count {
            let here = bestScore[start]
            let scalarLength = Self.scalarLength(bytes[start])
            var hasSingle = false
            trie.forEachPrefix(of: bytes, from: start) { end, id in
                let candidate = scores[Int(id)] + here
                if bestStart[end] < 0 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    bestStart[end] = start
                    bestId[end] = id
                }
                if end - start == scalarLength { hasSingle = true }
            }
            if !hasSingle, let unknownId {
                let end = min(start + scalarLength, bytes.count)
                let candidate = unknownScore + here
                if bestStart[end] < 0 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    bestStart[end] = start
                    bestId[end] = unknownId
                }
            }
            start += scalarLength
        }
        // Back from the end; consecutive unknown pieces fuse into one span.
        var spans: [(range: Range<Int>, id: Int32)] = []
        var end = bytes.count
        while end > 0 {
            let begin = bestStart[end]
            guard begin >= 0 else {
                // No piece and no unknown id covers this character (tokenizers: MissingUnkId).
                end = Self.previousBoundary(bytes, before: end)
                continue
            }
            let id = bestId[end]
            if id == unknownId, let last = spans.last, last.id == id, last.range.lowerBound == end {
                spans[spans.count - 1].range = begin..<last.range.upperBound
            } else {
                spans.append((begin..<end, id))
            }
            end = begin
        }
        for (range, id) in spans.reversed() {
            let piece = bytes[range]
            if id != unknownId || (range.count == Array(pieces[Int(id)].utf8).count && piece.elementsEqual(pieces[Int(id)].utf8)) {
                ids.append(id)
                tokens.append(pieces[Int(id)])
                continue
            }
            // An unknown span: itself a piece (when fused spans spell one), bytes, or unknown.
            if let known = vocabulary[Array(piece)] {
                ids.append(known)
                tokens.append(String(decoding: piece, as: UTF8.self))
                continue
            }
            if byteFallback {
                let byteIds = piece.map { vocabulary[Array(Self.bytePiece($0).utf8)] }
                if byteIds.allSatisfy({ $0 != nil }) {
                    for (byte, byteId) in zip(piece, byteIds) {
                        ids.append(byteId!)
                        tokens.append(Self.bytePiece(byte))
                    }
                    continue
                }
            }
            ids.append(id)
            tokens.append(String(decoding: piece, as: UTF8.self))
        }
    }

    /// "<0x41>" for byte 0x41 (SentencePiece's byte pieces).
    static func bytePiece(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    private static func scalarLength(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    private static func previousBoundary(_ bytes: [UInt8], before end: Int) -> Int {
        var i = end - 1
        while i > 0, bytes[i] & 0xC0 == 0x80 { i -= 1 }
        return i
    }
}

/// A byte trie of the pieces: every piece that is a prefix of a text at a position, shortest
/// first (what tokenizers' unigram/trie.rs `common_prefix_search` yields).
struct ByteTrie: Sendable {
    /// Per node: children as (byte, node) sorted by byte, and the id of the piece ending here.
    private var children: [[(byte: UInt8, node: Int32)]] = [[]]
    private var values: [Int32] = [-1]

    mutating func insert(_ key: [UInt8]) {
        var node = 0
        for byte in key {
            if let child = child(of: node, byte) {
                node = child
            } else {
                children.append([])
                values.append(-1)
                let new = children.count - 1
                let index = children[node].firstIndex { $0.byte > byte } ?? children[node].count
                children[node].insert((byte, Int32(new)), at: index)
                node = new
            }
        }
    }

    mutating func setValue(_ id: Int32, for key: [UInt8]) {
        var node = 0
        for byte in key {
            guard let child = child(of: node, byte) else { return }
            node = child
        }
        values[node] = id
    }

    private func child(of node: Int, _ byte: UInt8) -> Int? {
        let list = children[node]
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].byte < byte { low = mid + 1 } else { high = mid }
        }
        return low < list.count && list[low].byte == byte ? Int(list[low].node) : nil
    }

    /// Calls `body(end, id)` for every piece equal to `bytes[start..<end]`, shortest first.
    func forEachPrefix(of bytes: [UInt8], from start: Int, _ body: (Int, Int32) -> Void) {
        var node = 0
        var position = start
        while position < bytes.count, let next = child(of: node, bytes[position]) {
            node = next
            position += 1
            if values[node] >= 0 { body(position, values[node]) }
        }
    }
}
