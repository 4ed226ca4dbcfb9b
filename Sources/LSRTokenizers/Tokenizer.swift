/// A tokenizer of the RoBERTa, BERT and XLM-R families, encoding exactly as Hugging Face
/// `tokenizers` 0.23.3 does for the same files, through tokenizer.json's pipeline: added tokens
/// split out of the raw text, the normalizer (Normalizers.swift, PrecompiledCharsmap.swift) on
/// the rest, normalized added tokens split out of that, the pre-tokenizer (PreTokenizers.swift,
/// ByteLevel.swift), the model (byte-level BPE: BPE.swift; WordPiece.swift; Unigram.swift),
/// truncation, then the post-processor's special tokens (PostProcessors.swift): `<s> A </s>`,
/// `<s> A </s></s> B </s>`, `[CLS] A [SEP] B [SEP]` or the file's template.
///
/// Load one with `Tokenizer.load(directory:)` (TokenizerLoading.swift). Values are immutable and
/// safe to share across threads; the BPE cache inside is synchronised.
public struct Tokenizer: Sendable {
    let model: TokenModel
    let addedVocabulary: AddedVocabulary
    let normalizer: Normalizer?
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
        addedVocabulary.token(for: id)?.content ?? model.token(for: id)
    }

    /// The tokens of `ids` ("<unk:ID>" for an id the tokenizer does not have).
    public func tokens(_ ids: [Int32]) -> [String] { ids.map { token(for: $0) ?? "<unk:\($0)>" } }

    /// The id of a token (added tokens first, then the vocabulary), or nil.
    public func id(for token: String) -> Int32? {
        addedVocabulary.id(of: token) ?? model.id(of: token)
    }

    /// One text through added-token splitting, normalization, pre-tokenization and the model
    /// (`encode_single_sequence`).
    private func encodeSequence(_ text: String) -> Encoding {
        var ids: [Int32] = []
        var tokens: [String] = []
        var utf8 = Array(text.utf8)
        utf8.withUnsafeMutableBufferPointer { buffer in
            let raw = UnsafeBufferPointer(buffer)
            for segment in addedVocabulary.split(raw, normalized: false) {
                switch segment {
                case .added(let id, let range):
                    // tokenizers keeps the matched text, stripped whitespace included, as the token.
                    ids.append(id)
                    tokens.append(String(decoding: raw[range], as: UTF8.self))
                case .text(let range):
                    var segmentText = String(decoding: raw[range], as: UTF8.self)
                    if let normalizer { segmentText = normalizer.normalize(segmentText) }
                    encodeNormalized(segmentText, atStart: range.lowerBound == 0, &ids, &tokens)
                }
            }
        }
        return Encoding(ids: ids, tokens: tokens, typeIds: [Int32](repeating: 0, count: ids.count))
    }

    /// Normalized text: the normalized added tokens out of it, then pre-tokenizer and model.
    private func encodeNormalized(_ text: String, atStart: Bool, _ ids: inout [Int32], _ tokens: inout [String]) {
        var bytes = Array(text.utf8)
        var pieces: [PreTokenizer.Piece] = []
        var segments: [(range: Range<Int>, id: Int32?)] = []
        bytes.withUnsafeMutableBufferPointer { buffer in
            for segment in addedVocabulary.split(UnsafeBufferPointer(buffer), normalized: true) {
                switch segment {
                case .added(let id, let range): segments.append((range, id))
                case .text(let range): segments.append((range, nil))
                }
            }
        }
        for (range, id) in segments {
            if let id {
                ids.append(id)
                tokens.append(String(decoding: bytes[range], as: UTF8.self))
                continue
            }
            pieces = preTokenizer.split([PreTokenizer.Piece(text: String(decoding: bytes[range], as: UTF8.self), atStart: atStart && range.lowerBound == 0)])
            for piece in pieces { model.tokenize(piece.text, ids: &ids, tokens: &tokens) }
        }
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

/// The model a tokenizer.json names: byte-level BPE, WordPiece or Unigram.
enum TokenModel: Sendable {
    case bpe(BPEModel)
    case wordPiece(WordPieceModel)
    case unigram(UnigramModel)

    /// Appends the ids and tokens of one pre-token.
    func tokenize(_ text: String, ids: inout [Int32], tokens: inout [String]) {
        switch self {
        case .bpe(let bpe):
            let start = ids.count
            var bytes = Array(text.utf8)
            bytes.withUnsafeMutableBufferPointer { bpe.tokenize(UnsafeBufferPointer($0), into: &ids) }
            for id in ids[start...] { tokens.append(bpe.tokenForId[id] ?? "") }
        case .wordPiece(let wordPiece): wordPiece.tokenize(text, ids: &ids, tokens: &tokens)
        case .unigram(let unigram): unigram.tokenize(text, ids: &ids, tokens: &tokens)
        }
    }

    /// The vocabulary's id for a token (exact bytes), or nil.
    func id(of token: String) -> Int32? {
        switch self {
        case .bpe(let bpe): bpe.vocabulary[Array(token.utf8)]
        case .wordPiece(let wordPiece): wordPiece.vocabulary[Array(token.utf8)]
        case .unigram(let unigram): unigram.vocabulary[Array(token.utf8)]
        }
    }

    func token(for id: Int32) -> String? {
        switch self {
        case .bpe(let bpe): bpe.tokenForId[id]
        case .wordPiece(let wordPiece): wordPiece.tokenForId[id]
        case .unigram(let unigram): id >= 0 && Int(id) < unigram.pieces.count ? unigram.pieces[Int(id)] : nil
        }
    }

    /// How many entries the vocabulary has (the first id tokenizers gives an added token).
    var vocabularyCount: Int {
        switch self {
        case .bpe(let bpe): bpe.vocabulary.count
        case .wordPiece(let wordPiece): wordPiece.vocabulary.count
        case .unigram(let unigram): unigram.pieces.count
        }
    }

    /// The largest id the vocabulary assigns, or -1.
    var maxId: Int32 {
        switch self {
        case .bpe(let bpe): bpe.tokenForId.keys.max() ?? -1
        case .wordPiece(let wordPiece): wordPiece.tokenForId.keys.max() ?? -1
        case .unigram(let unigram): Int32(unigram.pieces.count) - 1
        }
    }
}
