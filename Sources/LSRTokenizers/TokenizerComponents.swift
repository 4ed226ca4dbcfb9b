import Foundation
import LSRFormats

/// tokenizer.json's normalizer, pre-tokenizer, WordPiece and Unigram sections, read as
/// `tokenizers` 0.23 deserializes them (each component's serde fields and defaults), and the
/// older BERT layout, vocab.txt. Every error names the JSON pointer (or line) at fault.
extension Tokenizer {
    // MARK: - Normalizers

    static func parseNormalizer(_ cursor: JSONCursor) throws(TokenizerError) -> Normalizer {
        let object = try cursor.object()
        func flag(_ key: String, _ fallback: Bool) throws(TokenizerError) -> Bool { try object.optional(key)?.bool() ?? fallback }
        switch object.typeName {
        case "BertNormalizer":
            return .bert(
                BertNormalizer(
                    cleanText: try flag("clean_text", true), handleChineseChars: try flag("handle_chinese_chars", true),
                    stripAccents: try object.optional("strip_accents")?.bool(), lowercase: try flag("lowercase", true)))
        case "Precompiled":
            let field = try object.required("precompiled_charsmap")
            guard let bytes = Data(base64Encoded: try field.string()) else {
                throw .wrongType(pointer: field.pointer, expected: "base64", found: "other characters")
            }
            do {
                return .precompiled(try PrecompiledCharsmap(bytes: [UInt8](bytes)))
            } catch {
                throw .badCharsmap(pointer: field.pointer, reason: error.description)
            }
        case "Sequence":
            return .sequence(try object.required("normalizers").array().map { c throws(TokenizerError) in try parseNormalizer(c) })
        case "Replace":
            let pattern = try object.required("pattern").object()
            let content = try object.required("content").string()
            if let literal = pattern.optional("String") {
                return .replace(ReplacePattern(literal: Array(try literal.string().unicodeScalars), minimumRepeats: nil), content: content)
            }
            let regex = try pattern.required("Regex")
            guard let parsed = ReplacePattern.regex(try regex.string()) else {
                throw .unsupported(pointer: regex.pointer, what: "the regex \(String(reflecting: try regex.string())) (only a character repeated n or more times, \"X{n,}\")")
            }
            return .replace(parsed, content: content)
        case "Strip":
            return .strip(left: try flag("strip_left", true), right: try flag("strip_right", true))
        case "Lowercase": return .lowercase
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Prepend": return .prepend(try object.required("prepend").string())
        case let other:
            throw .unsupported(pointer: cursor.pointer, what: "normalizer \(other.map { "\"\($0)\"" } ?? "without a type")")
        }
    }

    // MARK: - Pre-tokenizers

    static func parsePreTokenizer(_ cursor: JSONCursor) throws(TokenizerError) -> PreTokenizer {
        let object = try cursor.object()
        switch object.typeName {
        case "ByteLevel":
            return .byteLevel(
                addPrefixSpace: try object.optional("add_prefix_space")?.bool() ?? true,
                useRegex: try object.optional("use_regex")?.bool() ?? true)
        case "BertPreTokenizer": return .bert
        case "WhitespaceSplit": return .whitespaceSplit
        case "Metaspace":
            let replacementCursor = try object.required("replacement")
            let scalars = Array(try replacementCursor.string().unicodeScalars)
            guard scalars.count == 1 else {
                throw .wrongType(pointer: replacementCursor.pointer, expected: "one character", found: "\(scalars.count) characters")
            }
            var scheme = PreTokenizer.PrependScheme.always
            if let field = object.optional("prepend_scheme") {
                let name = try field.string()
                guard let parsed = PreTokenizer.PrependScheme(rawValue: name) else {
                    throw .wrongType(pointer: field.pointer, expected: "\"always\", \"first\" or \"never\"", found: "\"\(name)\"")
                }
                scheme = parsed
            } else if let legacy = object.optional("add_prefix_space") {
                scheme = try legacy.bool() ? .always : .never  // files from tokenizers < 0.19
            }
            return .metaspace(replacement: scalars[0], prependScheme: scheme, split: try object.optional("split")?.bool() ?? true)
        case "Sequence":
            return .sequence(try object.required("pretokenizers").array().map { c throws(TokenizerError) in try parsePreTokenizer(c) })
        case let other:
            throw .unsupported(pointer: cursor.pointer, what: "pre-tokenizer \(other.map { "\"\($0)\"" } ?? "without a type")")
        }
    }

    // MARK: - Models

    /// `{"type": "WordPiece", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word", "vocab"}`.
    static func parseWordPiece(_ model: JSONCursor.Object) throws(TokenizerError) -> WordPieceModel {
        let vocabularyCursor = try model.required("vocab")
        let vocabulary = try parseVocabulary(vocabularyCursor.value, pointer: vocabularyCursor.pointer)
        var maxChars = 100
        if let field = model.optional("max_input_chars_per_word") {
            guard let value = field.value.intValue, value >= 0 else {
                throw .wrongType(pointer: field.pointer, expected: "a non-negative integer", found: field.value.kindName)
            }
            maxChars = value
        }
        return WordPieceModel(
            vocabulary: vocabulary, unknownToken: try model.optional("unk_token")?.string() ?? "[UNK]",
            continuingSubwordPrefix: try model.optional("continuing_subword_prefix")?.string() ?? "##", maxInputCharsPerWord: maxChars)
    }

    /// `{"type": "Unigram", "unk_id", "vocab": [[piece, score], …], "byte_fallback"}`.
    static func parseUnigram(_ model: JSONCursor.Object) throws(TokenizerError) -> UnigramModel {
        let entries = try model.required("vocab").array()
        guard entries.count <= maxVocabularySize else {
            throw .idOutOfRange(pointer: "\(model.pointer)/vocab/\(maxVocabularySize)", id: String(entries.count - 1))
        }
        var pieces: [(piece: String, score: Double)] = []
        pieces.reserveCapacity(entries.count)
        for entry in entries {
            let pair = try entry.array()
            guard pair.count == 2 else { throw .wrongType(pointer: entry.pointer, expected: "[piece, score]", found: "\(pair.count) elements") }
            guard let score = pair[1].value.doubleValue else {
                throw .wrongType(pointer: pair[1].pointer, expected: "a number", found: pair[1].value.kindName)
            }
            pieces.append((try pair[0].string(), score))
        }
        var unknownId: Int32?
        if let field = model.optional("unk_id") {
            let id = try field.id()
            guard Int(id) < pieces.count else { throw .idOutOfRange(pointer: field.pointer, id: String(id)) }
            unknownId = id
        }
        return UnigramModel(pieces: pieces, unknownId: unknownId, byteFallback: try model.optional("byte_fallback")?.bool() ?? false)
    }

    // MARK: - vocab.txt

    /// vocab.txt (+ tokenizer_config.json), built as transformers 5's BertTokenizer builds it:
    /// BertNormalizer(clean_text, tokenize_chinese_chars, strip_accents, do_lower_case),
    /// BertPreTokenizer, WordPiece("##", 100 characters, unk_token), `[CLS] A [SEP] B [SEP]`.
    static func loadVocabText(_ path: String, directory: String, config: TokenizerConfig) throws -> Tokenizer {
        let bytes = try readFile(path)
        let vocabulary = try context(path) { () throws(TokenizerError) in try parseVocabText(bytes) }
        return try context(directory) { () throws(TokenizerError) in
            let unknown = config.specialTokens["unk_token"]?.content ?? SpecialTokenDefaults.bert.unk
            let model = TokenModel.wordPiece(
                WordPieceModel(vocabulary: vocabulary, unknownToken: unknown, continuingSubwordPrefix: "##", maxInputCharsPerWord: 100))
            let added = try config.addedTokens(model: model, defaults: .bert, addedTokensFile: nil)
            let cls = try config.resolve("cls_token", default: "[CLS]", role: "cls", model: model, added: added)
            let sep = try config.resolve("sep_token", default: "[SEP]", role: "sep", model: model, added: added)
            let normalizer = BertNormalizer(
                cleanText: true, handleChineseChars: config.tokenizeChineseChars, stripAccents: config.stripAccents,
                lowercase: config.doLowerCase)
            return try Tokenizer(
                model: model, added: added, normalizer: .bert(normalizer), preTokenizer: .bert, postProcessor: .bert(cls: cls, sep: sep),
                config: config, defaults: .bert)
        }
    }

    /// One token per line, its id the line number − 1 (transformers' `load_vocab`: Python's
    /// universal newlines, so "\n", "\r\n" and "\r" all end a line). A token listed twice is an
    /// error naming both lines (transformers would keep the later id silently).
    static func parseVocabText(_ bytes: [UInt8]) throws(TokenizerError) -> [(token: String, id: Int32)] {
        var vocabulary: [(token: String, id: Int32)] = []
        var lineOf: [[UInt8]: Int] = [:]
        var start = 0
        var line = 0
        while start < bytes.count {
            line += 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n"), bytes[end] != UInt8(ascii: "\r") { end += 1 }
            let tokenBytes = Array(bytes[start..<end])
            if end < bytes.count, bytes[end] == UInt8(ascii: "\r"), end + 1 < bytes.count, bytes[end + 1] == UInt8(ascii: "\n") { end += 1 }
            start = end + 1
            guard let token = String(validating: tokenBytes, as: UTF8.self) else { throw .invalidUTF8(line: line) }
            guard line <= maxVocabularySize else { throw .idOutOfRange(pointer: "line \(line)", id: String(line - 1)) }
            if let first = lineOf[tokenBytes] { throw .duplicateToken(token: token, firstLine: first, line: line) }
            lineOf[tokenBytes] = line
            vocabulary.append((token, Int32(line - 1)))
        }
        return vocabulary
    }
}

extension PreTokenizer {
    /// Whether a ByteLevel pre-tokenizer is part of this one (byte-level BPE needs it).
    var containsByteLevel: Bool {
        switch self {
        case .byteLevel: true
        case .sequence(let members): members.contains { $0.containsByteLevel }
        default: false
        }
    }
}
