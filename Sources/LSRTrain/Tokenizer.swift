/// RoBERTa's byte-level BPE tokenizer, encoding exactly as Hugging Face `tokenizers` 0.23.3
/// does for the same files: added tokens split out of the raw text, the GPT-2 pre-tokenizer
/// (ByteLevel.swift), BPE merges (BPE.swift), truncation, then `<s> A </s>` or
/// `<s> A </s></s> B </s>` (or the file's template).
///
/// Load one with `Tokenizer.load(directory:)` (TokenizerLoading.swift). Values are immutable and
/// safe to share across threads; the BPE cache inside is synchronised.
public struct Tokenizer: Sendable {
    let model: BPEModel
    let addedVocabulary: AddedVocabulary
    let preTokenizer: PreTokenizer
    let postProcessor: PostProcessor

    /// Id of the padding token (`<pad>` for RoBERTa).
    public let padId: Int32
    /// Id of the classification / beginning token (`<s>`).
    public let clsId: Int32
    /// Id of the separator / end token (`</s>`).
    public let sepId: Int32
    /// Id of the mask token (`<mask>`), when the tokenizer has one.
    public let maskId: Int32?
    /// Id of the unknown token (`<unk>`), when the tokenizer has one.
    public let unkId: Int32?
    /// `model_max_length` from tokenizer_config.json, when given (RoBERTa: 512).
    public let modelMaxLength: Int?
    /// One more than the largest id, added tokens included: the embedding rows it needs.
    public let vocabularySize: Int

    /// The ByteLevel pre-tokenizer's settings.
    struct PreTokenizer: Sendable {
        /// Prepend a space to every text segment that does not start with one.
        var addPrefixSpace: Bool
        /// Split with the GPT-2 regex (false: each segment is one pre-token).
        var useRegex: Bool
    }

    /// How special tokens frame the sequences: tokenizers' RobertaProcessing and
    /// TemplateProcessing both reduce to a template.
    struct PostProcessor: Sendable {
        enum Piece: Sendable {
            /// Tokens with their type id, e.g. `<s>` → ([0], ["<s>"]).
            case special(ids: [Int32], tokens: [String], typeId: Int32)
            /// The first (0) or second (1) sequence with its type id.
            case sequence(index: Int, typeId: Int32)
        }

        var single: [Piece]
        var pair: [Piece]

        /// No post-processor: sequences as they are, the second with type id 1 (as tokenizers
        /// encodes a pair's second sequence).
        static let plain = PostProcessor(
            single: [.sequence(index: 0, typeId: 0)], pair: [.sequence(index: 0, typeId: 0), .sequence(index: 1, typeId: 1)])

        /// `RobertaProcessing`: `<s> A </s>` and `<s> A </s> </s> B </s>`, type ids all 0.
        static func roberta(cls: (String, Int32), sep: (String, Int32)) -> PostProcessor {
            let open = Piece.special(ids: [cls.1], tokens: [cls.0], typeId: 0)
            let close = Piece.special(ids: [sep.1], tokens: [sep.0], typeId: 0)
            return PostProcessor(
                single: [open, .sequence(index: 0, typeId: 0), close],
                pair: [open, .sequence(index: 0, typeId: 0), close, close, .sequence(index: 1, typeId: 0), close])
        }

        /// `added_tokens(is_pair)`: how many special tokens the template adds.
        func addedCount(pair isPair: Bool) -> Int {
            (isPair ? pair : single).reduce(0) { count, piece in
                if case .special(let ids, _, _) = piece { count + ids.count } else { count }
            }
        }
    }

    // MARK: - Encoding

    /// The number of special tokens `encode` adds around one text, or around a pair.
    public func specialTokenCount(pair: Bool) -> Int { postProcessor.addedCount(pair: pair) }

    /// Encodes one text, or a pair, with special tokens. With `maxLength`, truncates to at most
    /// that many tokens, special tokens included, removing from the longer text first
    /// (tokenizers' `longest_first`); a `maxLength` below `specialTokenCount(pair:)` keeps no
    /// text tokens.
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = nil) -> Encoding {
        var first = encodeSequence(text)
        var second = pair.map { encodeSequence($0) }
        if let maxLength {
            let budget = max(0, maxLength - postProcessor.addedCount(pair: pair != nil))
            let kept = Self.truncationLengths(first.ids.count, second?.ids.count, maxLength: budget)
            first.truncate(to: kept.first)
            if let keptSecond = kept.second { second?.truncate(to: keptSecond) }
        }
        return frame(first, second)
    }

    /// Encodes texts (each with its pair, if any) and pads them into one batch with `padId`.
    public func encodeBatch(_ inputs: [(text: String, pair: String?)], maxLength: Int? = nil) -> PaddedBatch {
        Tokenizer.pad(inputs.map { encode($0.text, pair: $0.pair, maxLength: maxLength) }, padId: padId)
    }

    /// Pads encodings on the right to the longest of them ("dynamic padding"): `padId` where
    /// there is no token, attention mask 0 there.
    /// `length`: pad to this many tokens instead (at least the longest; a data-parallel rank
    /// pads its share to the whole micro-batch's length, see `Trainer`).
    public static func pad(_ encodings: [Encoding], padId: Int32, length minimum: Int = 0) -> PaddedBatch {
        let length = max(encodings.map(\.ids.count).max() ?? 0, minimum)
        var ids: [Int32] = []
        var mask: [Int32] = []
        var typeIds: [Int32] = []
        ids.reserveCapacity(encodings.count * length)
        mask.reserveCapacity(encodings.count * length)
        typeIds.reserveCapacity(encodings.count * length)
        for encoding in encodings {
            let padding = length - encoding.ids.count
            ids += encoding.ids
            ids += [Int32](repeating: padId, count: padding)
            mask += encoding.attentionMask
            mask += [Int32](repeating: 0, count: padding)
            typeIds += encoding.typeIds
            typeIds += [Int32](repeating: 0, count: padding)
        }
        return PaddedBatch(batch: encodings.count, length: length, ids: ids, attentionMask: mask, typeIds: typeIds)
    }

    /// The token an id stands for, or nil for an id the tokenizer does not have.
    public func token(for id: Int32) -> String? {
        addedVocabulary.token(for: id)?.content ?? model.tokenForId[id]
    }

    /// The tokens of `ids` ("<unk:ID>" for an id the tokenizer does not have).
    public func tokens(_ ids: [Int32]) -> [String] { ids.map { token(for: $0) ?? "<unk:\($0)>" } }

    /// The id of a token (added tokens first, then the vocabulary), or nil.
    public func id(for token: String) -> Int32? {
        addedVocabulary.id(of: token) ?? model.vocabulary[Array(token.utf8)]
    }

    /// One text through added-token splitting, pre-tokenization and BPE (`encode_single_sequence`).
    private func encodeSequence(_ text: String) -> Encoding {
        var ids: [Int32] = []
        var tokens: [String] = []
        var utf8 = Array(text.utf8)
        utf8.withUnsafeMutableBufferPointer { buffer in
            let text = UnsafeBufferPointer(buffer)
            var scratch = ByteLevel.Scratch()
            var pieces: [Range<Int>] = []
            var prefixed: [UInt8] = []
            for segment in addedVocabulary.split(text) {
                switch segment {
                case .added(let id, let range):
                    // tokenizers keeps the matched text, stripped whitespace included, as the token.
                    ids.append(id)
                    tokens.append(String(decoding: text[range], as: UTF8.self))
                case .text(let range):
                    let start = ids.count
                    if preTokenizer.addPrefixSpace && text[range.lowerBound] != UInt8(ascii: " ") {
                        prefixed.removeAll(keepingCapacity: true)
                        prefixed.append(UInt8(ascii: " "))
                        prefixed.append(contentsOf: text[range])
                        prefixed.withUnsafeBufferPointer { tokenize($0, 0..<$0.count, &scratch, &pieces, &ids) }
                    } else {
                        tokenize(text, range, &scratch, &pieces, &ids)
                    }
                    for id in ids[start...] { tokens.append(model.tokenForId[id] ?? "") }
                }
            }
        }
        return Encoding(ids: ids, tokens: tokens, typeIds: [Int32](repeating: 0, count: ids.count))
    }

    private func tokenize(
        _ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ scratch: inout ByteLevel.Scratch, _ pieces: inout [Range<Int>],
        _ ids: inout [Int32]
    ) {
        pieces.removeAll(keepingCapacity: true)
        if preTokenizer.useRegex {
            ByteLevel.split(text, range, scratch: &scratch, into: &pieces)
        } else {
            pieces.append(range)
        }
        for piece in pieces { model.tokenize(UnsafeBufferPointer(rebasing: text[piece]), into: &ids) }
    }

    /// Applies the post-processor's template to the (truncated) sequences.
    private func frame(_ first: Encoding, _ second: Encoding?) -> Encoding {
        var result = Encoding(ids: [], tokens: [], typeIds: [])
        for piece in second == nil ? postProcessor.single : postProcessor.pair {
            switch piece {
            case .special(let ids, let tokens, let typeId):
                result.ids += ids
                result.tokens += tokens
                result.typeIds += [Int32](repeating: typeId, count: ids.count)
            case .sequence(let index, let typeId):
                guard let sequence = index == 0 ? first : second else { continue }
                result.ids += sequence.ids
                result.tokens += sequence.tokens
                result.typeIds += [Int32](repeating: typeId, count: sequence.ids.count)
            }
        }
        result.attentionMask = [Int32](repeating: 1, count: result.ids.count)
        return result
    }

    /// tokenizers' `truncate_encodings` with `LongestFirst` (tokenizers/src/utils/truncation.rs):
    /// how many tokens of each sequence to keep within `maxLength` (special tokens excluded).
    /// For a pair with n1 ≤ n2: keep n1 and max(n1, maxLength − n1) of the longer; if that still
    /// exceeds maxLength, keep maxLength/2 of the shorter and the rest of the longer.
    static func truncationLengths(_ firstCount: Int, _ secondCount: Int?, maxLength: Int) -> (first: Int, second: Int?) {
        guard let secondCount else { return (min(firstCount, maxLength), nil) }
        if maxLength == 0 { return (0, 0) }
        if firstCount + secondCount <= maxLength { return (firstCount, secondCount) }
        let swapped = firstCount > secondCount
        var shorter = min(firstCount, secondCount)
        var longer: Int
        if shorter > maxLength {
            longer = shorter
        } else {
            longer = max(shorter, maxLength - shorter)
        }
        if shorter + longer > maxLength {
            shorter = maxLength / 2
            longer = shorter + maxLength % 2
        }
        return swapped ? (longer, shorter) : (shorter, longer)
    }
}

/// One encoded text or pair, special tokens included.
public struct Encoding: Equatable, Sendable {
    public var ids: [Int32]
    /// The byte-level spelling of each token ("Ġworld" for " world"); added tokens as matched.
    public var tokens: [String]
    /// Which segment each token belongs to (RoBERTa: all 0).
    public var typeIds: [Int32]
    /// 1 for every token (an unpadded encoding); `Tokenizer.pad` adds the zeros.
    public var attentionMask: [Int32]

    public init(ids: [Int32], tokens: [String], typeIds: [Int32], attentionMask: [Int32]? = nil) {
        self.ids = ids
        self.tokens = tokens
        self.typeIds = typeIds
        self.attentionMask = attentionMask ?? [Int32](repeating: 1, count: ids.count)
    }

    public var count: Int { ids.count }

    /// Keeps the first `count` tokens (truncation direction right, no stride).
    mutating func truncate(to count: Int) {
        guard count < ids.count else { return }
        ids.removeSubrange(count...)
        tokens.removeSubrange(count...)
        typeIds.removeSubrange(count...)
        attentionMask.removeSubrange(count...)
    }
}

/// Encodings padded to one length, row-major [batch, length], ready for the model.
public struct PaddedBatch: Equatable, Sendable {
    public let batch: Int
    public let length: Int
    /// [batch, length] token ids, `padId` after each row's end.
    public let ids: [Int32]
    /// [batch, length] 1 for a token, 0 for padding.
    public let attentionMask: [Int32]
    /// [batch, length] segment ids, 0 for padding.
    public let typeIds: [Int32]
}
