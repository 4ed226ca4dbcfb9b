/// The WordPiece model of `tokenizers` 0.23 (tokenizers/src/models/wordpiece/mod.rs): each
/// pre-token greedily split longest-match-first, pieces after the first spelled with the
/// continuing-subword prefix ("##"); a word with more than `maxInputCharsPerWord` scalars, or
/// with a part no piece matches, becomes the one unknown token.
final class WordPieceModel: Sendable {
    /// Token → id, keyed by the token's UTF-8 bytes (exact: no Unicode equivalence).
    let vocabulary: [[UInt8]: Int32]
    /// Id → token (the first token in file order wins when two share an id).
    let tokenForId: [Int32: String]
    let unknownToken: String
    /// The unknown token's id; nil when the vocabulary lacks it (tokenizers then fails to
    /// encode such a word; lsrconv drops it).
    let unknownId: Int32?
    let continuingSubwordPrefix: [UInt8]
    let maxInputCharsPerWord: Int

    init(vocabulary: [(token: String, id: Int32)], unknownToken: String, continuingSubwordPrefix: String, maxInputCharsPerWord: Int) {
        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(vocabulary.count)
        var reverse: [Int32: String] = [:]
        for (token, id) in vocabulary {
            vocab[Array(token.utf8)] = id
            if reverse[id] == nil { reverse[id] = token }
        }
        self.vocabulary = vocab
        tokenForId = reverse
        self.unknownToken = unknownToken
        unknownId = vocab[Array(unknownToken.utf8)]
        self.continuingSubwordPrefix = Array(continuingSubwordPrefix.utf8)
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    /// Appends the ids and tokens of one pre-token.
    func tokenize(_ word: String, ids: inout [Int32], tokens: inout [String]) {
        let bytes = Array(word.utf8)
        guard !bytes.isEmpty else { return }
        // Scalar boundaries: the candidate ends, longest first.
        var boundaries: [Int] = []
        boundaries.reserveCapacity(bytes.count + 1)
        for (index, byte) in bytes.enumerated() where byte & 0xC0 != 0x80 { boundaries.append(index) }
        boundaries.append(bytes.count)
        guard boundaries.count - 1 <= maxInputCharsPerWord else { return appendUnknown(&ids, &tokens) }
        let start = ids.count
        var startBoundary = 0
        var key: [UInt8] = []
        while startBoundary < boundaries.count - 1 {
            var found: (id: Int32, end: Int)?
            var endBoundary = boundaries.count - 1
            while endBoundary > startBoundary {
                key.removeAll(keepingCapacity: true)
                if startBoundary > 0 { key += continuingSubwordPrefix }
                key += bytes[boundaries[startBoundary]..<boundaries[endBoundary]]
                if let id = vocabulary[key] {
                    found = (id, endBoundary)
                    break
                }
                endBoundary -= 1
            }
            guard let (id, end) = found else {
                ids.removeSubrange(start...)
                tokens.removeSubrange(start...)
                return appendUnknown(&ids, &tokens)
            }
            ids.append(id)
            tokens.append(String(decoding: key, as: UTF8.self))
            startBoundary = end
        }
    }

    private func appendUnknown(_ ids: inout [Int32], _ tokens: inout [String]) {
        guard let unknownId else { return }
        ids.append(unknownId)
        tokens.append(unknownToken)
    }
}
