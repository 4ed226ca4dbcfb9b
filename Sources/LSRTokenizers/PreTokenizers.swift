/// The pre-tokenizers of Hugging Face `tokenizers` that RoBERTa-, BERT- and XLM-R-family
/// tokenizer.json files use (tokenizers/src/pre_tokenizers/{byte_level,bert,metaspace,
/// whitespace,sequence}.rs): each splits every piece the previous one produced.
indirect enum PreTokenizer: Sendable {
    /// GPT-2's regex split (ByteLevel.swift); a space first when `addPrefixSpace` and the
    /// piece does not start with one. Its pieces are still raw text: BPE spells the bytes.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// Split on whitespace (removed), then every punctuation character a piece of its own.
    case bert
    /// ' ' becomes `replacement`, which is put first as `prependScheme` says; then (with `split`)
    /// a new piece starts at every replacement character.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    /// Split on whitespace (removed).
    case whitespaceSplit
    case sequence([PreTokenizer])

    /// Metaspace's `prepend_scheme`.
    enum PrependScheme: String, Sendable {
        /// Before every piece that does not start with the replacement.
        case always
        /// Only before the piece at the start of the original text.
        case first
        case never
    }

    /// One piece of text; `atStart`: it begins at offset 0 of the text being encoded (what
    /// Metaspace's "first" scheme checks).
    struct Piece {
        var text: String
        var atStart: Bool
    }

    func split(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case .sequence(let members):
            return members.reduce(pieces) { $1.split($0) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            return pieces.flatMap { piece -> [Piece] in
                var bytes = Array(piece.text.utf8)
                if addPrefixSpace && bytes.first != UInt8(ascii: " ") { bytes.insert(UInt8(ascii: " "), at: 0) }
                guard useRegex else { return bytes.isEmpty ? [] : [Piece(text: String(decoding: bytes, as: UTF8.self), atStart: piece.atStart)] }
                var ranges: [Range<Int>] = []
                var scratch = ByteLevel.Scratch()
                bytes.withUnsafeBufferPointer { ByteLevel.split($0, 0..<$0.count, scratch: &scratch, into: &ranges) }
                return ranges.enumerated().map { index, range in
                    Piece(text: String(decoding: bytes[range], as: UTF8.self), atStart: piece.atStart && index == 0)
                }
            }
        case .bert:
            return pieces.flatMap { piece in
                Self.splitScalars(piece, removing: { $0.properties.isWhitespace }, isolating: BertUnicode.isPunctuation)
            }
        case .whitespaceSplit:
            return pieces.flatMap { Self.splitScalars($0, removing: { $0.properties.isWhitespace }, isolating: { _ in false }) }
        case .metaspace(let replacement, let scheme, let split):
            return pieces.flatMap { piece -> [Piece] in
                var scalars = piece.text.unicodeScalars.map { $0 == " " ? replacement : $0 }
                let prepend =
                    switch scheme {
                    case .always: scalars.first != replacement
                    case .first: scalars.first != replacement && piece.atStart
                    case .never: false
                    }
                if prepend { scalars.insert(replacement, at: 0) }
                guard split else { return scalars.isEmpty ? [] : [Piece(text: Self.string(scalars[...]), atStart: piece.atStart)] }
                // SplitDelimiterBehavior::MergedWithNext: each replacement starts a piece.
                var result: [Piece] = []
                var current = 0
                for index in scalars.indices where scalars[index] == replacement && index > current {
                    result.append(Piece(text: Self.string(scalars[current..<index]), atStart: piece.atStart && current == 0))
                    current = index
                }
                if current < scalars.count {
                    result.append(Piece(text: Self.string(scalars[current...]), atStart: piece.atStart && current == 0))
                }
                return result
            }
        }
    }

    /// Splits on scalars `removing` matches (dropped) and `isolating` matches (kept alone).
    private static func splitScalars(
        _ piece: Piece, removing: (Unicode.Scalar) -> Bool, isolating: (Unicode.Scalar) -> Bool
    ) -> [Piece] {
        var result: [Piece] = []
        var current: [Unicode.Scalar] = []
        var currentStart = 0
        var position = 0
        func flush() {
            if !current.isEmpty {
                result.append(Piece(text: string(current[...]), atStart: piece.atStart && currentStart == 0))
                current.removeAll(keepingCapacity: true)
            }
        }
        for scalar in piece.text.unicodeScalars {
            if removing(scalar) {
                flush()
            } else if isolating(scalar) {
                flush()
                result.append(Piece(text: String(scalar), atStart: piece.atStart && position == 0))
            } else {
                if current.isEmpty { currentStart = position }
                current.append(scalar)
            }
            position += 1
        }
        flush()
        return result
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars)
        return text
    }
}
