import LSRFormats

/// Why a tokenizer directory could not be loaded. `Tokenizer.load` wraps these in
/// `FileContextError`, naming the file; pointers are JSON pointers into that file.
public enum TokenizerError: Error, Equatable, Sendable {
    /// The directory holds neither tokenizer.json nor vocab.json with merges.txt.
    case noTokenizerFiles
    /// A file larger than `Tokenizer.maxFileBytes`.
    case fileTooLarge(bytes: Int, limit: Int)
    /// The file is not valid JSON.
    case invalidJSON(JSONError)
    /// A value of the wrong JSON type ("" is the whole document).
    case wrongType(pointer: String, expected: String, found: String)
    /// A required member is absent.
    case missingKey(pointer: String)
    /// A component lsrconv does not implement (another model type, a normalizer, dropout, …).
    case unsupported(pointer: String, what: String)
    /// A token id outside 0..<`Tokenizer.maxVocabularySize`.
    case idOutOfRange(pointer: String, id: String)
    /// A merges.txt line that is not two tokens separated by one space.
    case badMergeLine(line: Int, text: String)
    /// merges.txt is not UTF-8 (the line of the first bad byte).
    case invalidUTF8(line: Int)
    /// A merge naming a token the vocabulary lacks: the vocab and merges disagree. `location`
    /// is a JSON pointer into tokenizer.json or "line N" of merges.txt.
    case mergeTokenNotInVocabulary(location: String, merge: String, token: String)
    /// A special token encoding needs (padding, cls, sep) is neither added nor in the vocabulary.
    case missingSpecialToken(role: String, token: String)
    /// vocab.txt lists a token twice.
    case duplicateToken(token: String, firstLine: Int, line: Int)
    /// A precompiled_charsmap that cannot be read (`reason` names the byte offset).
    case badCharsmap(pointer: String, reason: String)
    /// Only a SentencePiece model, which lsrconv does not convert.
    case sentencePieceOnly(file: String)
}

extension TokenizerError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .noTokenizerFiles: "no tokenizer.json, no vocab.json with merges.txt, and no vocab.txt"
        case .fileTooLarge(let b, let l): "file of \(b) bytes exceeds the limit of \(l) bytes"
        case .invalidJSON(let e): "\(e)"
        case .wrongType(let p, let e, let f): "\(p.isEmpty ? "the document" : p): expected \(e), found \(f)"
        case .missingKey(let p): "\(p): missing"
        case .unsupported(let p, let w): "\(p): \(w) is not supported"
        case .idOutOfRange(let p, let id): "\(p): id \(id) is outside 0..<\(Tokenizer.maxVocabularySize)"
        case .badMergeLine(let n, let t): "line \(n): expected two tokens separated by one space, found \"\(t)\""
        case .invalidUTF8(let n): "line \(n): invalid UTF-8"
        case .mergeTokenNotInVocabulary(let l, let m, let t):
            "\(l): merge \"\(m)\" needs \"\(t)\", which is not in the vocabulary (the vocab and merges disagree)"
        case .missingSpecialToken(let r, let t): "the \(r) token \"\(t)\" is neither an added token nor in the vocabulary"
        case .duplicateToken(let t, let first, let line): "line \(line): token \"\(t)\" is already on line \(first)"
        case .badCharsmap(let p, let r): "\(p): precompiled_charsmap: \(r)"
        case .sentencePieceOnly(let f):
            "\(f) without tokenizer.json: not supported yet; save the tokenizer with transformers to get tokenizer.json"
        }
    }
}

extension Tokenizer {
    /// Largest tokenizer file read (tokenizer.json of a 250k vocabulary is ~20 MB).
    public static let maxFileBytes = 1 << 30
    /// Ids must be below this (2²⁴; RoBERTa uses 50,265).
    public static let maxVocabularySize = 1 << 24

    /// Loads a tokenizer directory: `tokenizer.json` (Hugging Face `tokenizers` format, read
    /// exactly as `tokenizers` reads it), else `vocab.json` + `merges.txt` (the original
    /// RoBERTa upload), configured as transformers 5's RobertaTokenizer configures it from
    /// `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json`.
    ///
    /// Throws `FileError` for a missing directory or file, and `FileContextError` wrapping a
    /// `TokenizerError` (or `JSONError`) naming the file at fault.
    public static func load(directory: String) throws -> Tokenizer {
        guard FileSystem.exists(directory) else { throw FileError.notFound(path: directory) }
        guard FileSystem.isDirectory(directory) else { throw FileError.notADirectory(path: directory) }
        let config = try TokenizerConfig(directory: directory)
        let tokenizerJSON = FileSystem.join(directory, "tokenizer.json")
        if FileSystem.exists(tokenizerJSON) {
            let root = try readJSON(tokenizerJSON)
            return try context(tokenizerJSON) { () throws(TokenizerError) in try fromTokenizerJSON(root, config: config) }
        }
        let vocabPath = FileSystem.join(directory, "vocab.json")
        let mergesPath = FileSystem.join(directory, "merges.txt")
        guard FileSystem.exists(vocabPath) || FileSystem.exists(mergesPath) else {
            let vocabText = FileSystem.join(directory, "vocab.txt")
            if FileSystem.exists(vocabText) { return try loadVocabText(vocabText, directory: directory, config: config) }
            for name in ["sentencepiece.bpe.model", "spiece.model", "tokenizer.model"]
            where FileSystem.exists(FileSystem.join(directory, name)) {
                throw FileContextError(path: directory, underlying: TokenizerError.sentencePieceOnly(file: name))
            }
            throw FileContextError(path: directory, underlying: TokenizerError.noTokenizerFiles)
        }
        let vocabularyJSON = try readJSON(vocabPath)
        let vocabulary = try context(vocabPath) { () throws(TokenizerError) in try parseVocabulary(vocabularyJSON, pointer: "") }
        let mergesText = try readFile(mergesPath)
        let merges = try context(mergesPath) { () throws(TokenizerError) in try parseMergesText(mergesText) }
        let addedTokensPath = FileSystem.join(directory, "added_tokens.json")
        // Not `exists ? try readJSON(…) : nil`: JSONValue is ExpressibleByNilLiteral, so that
        // `nil` is JSON's null (even typed as JSONValue?) and an absent file read as `null`.
        var extraTokens: JSONValue?
        if FileSystem.exists(addedTokensPath) { extraTokens = try readJSON(addedTokensPath) }
        let model = try context(mergesPath) { () throws(TokenizerError) in
            try TokenModel.bpe(BPEModel(
                vocabulary: vocabulary, merges: merges.pairs, mergeLocations: { "line \(merges.lines[$0])" }, unknownToken: nil,
                fuseUnknown: false, ignoreMerges: false))
        }
        let added = try context(addedTokensPath) { () throws(TokenizerError) in
            try config.addedTokens(model: model, defaults: .roberta, addedTokensFile: extraTokens)
        }
        return try context(directory) { () throws(TokenizerError) in
            let cls = try config.resolve("cls_token", default: "<s>", role: "cls", model: model, added: added)
            let sep = try config.resolve("sep_token", default: "</s>", role: "sep", model: model, added: added)
            return try Tokenizer(
                model: model, added: added, normalizer: nil,
                preTokenizer: .byteLevel(addPrefixSpace: config.addPrefixSpace ?? false, useRegex: true),
                postProcessor: .roberta(cls: cls, sep: sep), config: config, defaults: .roberta)
        }
    }

    /// Final assembly: special-token ids and the vocabulary size. `defaults` names the special
    /// tokens the configuration leaves unnamed (the family's).
    init(
        model: TokenModel, added: AddedVocabulary, normalizer: Normalizer?, preTokenizer: PreTokenizer, postProcessor: PostProcessor,
        config: TokenizerConfig, defaults: SpecialTokenDefaults
    ) throws(TokenizerError) {
        self.model = model
        var added = added
        added.buildMatchers()
        addedVocabulary = added
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.postProcessor = postProcessor
        padId = try config.resolve("pad_token", default: defaults.pad, role: "padding", model: model, added: added).id
        // The post-processor's own tokens frame sequences; fall back to the config's names.
        let framing = postProcessor.single.compactMap { piece -> Int32? in
            if case .special(let ids, _, _) = piece { ids.first } else { nil }
        }
        if framing.count >= 2 {
            clsId = framing[0]
            sepId = framing[framing.count - 1]
        } else {
            clsId = try config.resolve("cls_token", default: defaults.cls, role: "cls", model: model, added: added).id
            sepId = try config.resolve("sep_token", default: defaults.sep, role: "sep", model: model, added: added).id
        }
        maskId = try? config.resolve("mask_token", default: defaults.mask, role: "mask", model: model, added: added).id
        unkId = try? config.resolve("unk_token", default: defaults.unk, role: "unknown", model: model, added: added).id
        modelMaxLength = config.modelMaxLength
        let largest = max(model.maxId, added.maxId ?? -1)
        vocabularySize = Int(largest) + 1
    }

    // MARK: - tokenizer.json

    private static func fromTokenizerJSON(_ root: JSONValue, config: TokenizerConfig) throws(TokenizerError) -> Tokenizer {
        let document = try JSONCursor(root, "").object()
        if let version = document.optional("version") {
            let text = try version.string()
            guard text == "1.0" else { throw .unsupported(pointer: version.pointer, what: "tokenizer.json version \"\(text)\"") }
        }
        let normalizer = try document.optional("normalizer").map { c throws(TokenizerError) in try parseNormalizer(c) }
        let preTokenizer = try document.optional("pre_tokenizer").map { c throws(TokenizerError) in try parsePreTokenizer(c) }
        let modelObject = try document.required("model").object()
        let model = try parseModel(modelObject, preTokenizer: preTokenizer)
        var added = AddedVocabulary()
        if let list = document.optional("added_tokens") {
            // tokenizers re-adds them with `add_tokens`: the vocabulary's id when the content is in
            // it, else the next id after the vocabulary (serialization.rs; added_vocabulary.rs).
            var nextId = Int32(model.vocabularyCount)
            for entry in try list.array() {
                let fields = try entry.object()
                let token = try parseAddedToken(fields, specialByDefault: false)
                let id: Int32
                if let existing = added.id(of: token.content) ?? model.id(of: token.content) {
                    id = existing
                } else {
                    id = nextId
                    nextId += 1
                }
                added.add(token, id: id)
            }
        }
        var postProcessor = PostProcessor.plain
        if let cursor = document.optional("post_processor"), let parsed = try parsePostProcessor(cursor) { postProcessor = parsed }
        let defaults: SpecialTokenDefaults = if case .wordPiece = model { .bert } else { .roberta }
        return try Tokenizer(
            model: model, added: added, normalizer: normalizer, preTokenizer: preTokenizer ?? .sequence([]),
            postProcessor: postProcessor, config: config, defaults: defaults)
    }

    /// The model: BPE (byte-level only), WordPiece or Unigram (TokenizerComponents.swift).
    private static func parseModel(_ model: JSONCursor.Object, preTokenizer: PreTokenizer?) throws(TokenizerError) -> TokenModel {
        if let type = model.optional("type") {
            switch try type.string() {
            case "BPE":
                guard preTokenizer?.containsByteLevel == true else {
                    throw .unsupported(
                        pointer: type.pointer, what: "model type \"BPE\" without a ByteLevel pre-tokenizer (lsrconv reads byte-level BPE)")
                }
            case "WordPiece": return .wordPiece(try parseWordPiece(model))
            case "Unigram": return .unigram(try parseUnigram(model))
            case let name:
                throw .unsupported(pointer: type.pointer, what: "model type \"\(name)\" (lsrconv reads BPE, WordPiece and Unigram)")
            }
        }
        return .bpe(try parseBPE(model))
    }

    private static func parseBPE(_ model: JSONCursor.Object) throws(TokenizerError) -> BPEModel {
        if let dropout = model.optional("dropout"), dropout.value.doubleValue != 0 {
            throw .unsupported(pointer: dropout.pointer, what: "BPE dropout")
        }
        if let fallback = model.optional("byte_fallback"), try fallback.bool() {
            throw .unsupported(pointer: fallback.pointer, what: "byte_fallback")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = model.optional(key), try !affix.string().isEmpty {
                throw .unsupported(pointer: affix.pointer, what: "a non-empty \(key) (byte-level BPE has none)")
            }
        }
        let vocabularyCursor = try model.required("vocab")
        let vocabulary = try parseVocabulary(vocabularyCursor.value, pointer: vocabularyCursor.pointer)
        let mergesCursor = try model.required("merges")
        var merges: [(left: String, right: String)] = []
        for entry in try mergesCursor.array() {
            if case .string(let text) = entry.value {
                // The legacy form "a b" (tokenizers' convert_merges_to_hashmap).
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw .wrongType(pointer: entry.pointer, expected: "\"left right\"", found: "\"\(text)\"") }
                merges.append((String(parts[0]), String(parts[1])))
            } else {
                let pair = try entry.array()
                guard pair.count == 2 else {
                    throw .wrongType(pointer: entry.pointer, expected: "a pair of tokens", found: "\(pair.count) elements")
                }
                merges.append((try pair[0].string(), try pair[1].string()))
            }
        }
        let mergesPointer = mergesCursor.pointer
        return try BPEModel(
            vocabulary: vocabulary, merges: merges, mergeLocations: { "\(mergesPointer)/\($0)" },
            unknownToken: try model.optional("unk_token")?.string(), fuseUnknown: try model.optional("fuse_unk")?.bool() ?? false,
            ignoreMerges: try model.optional("ignore_merges")?.bool() ?? false)
    }

    static func parseAddedToken(_ fields: JSONCursor.Object, specialByDefault: Bool) throws(TokenizerError) -> AddedToken {
        let special = try fields.optional("special")?.bool() ?? specialByDefault
        return AddedToken(
            content: try fields.required("content").string(),
            singleWord: try fields.optional("single_word")?.bool() ?? false,
            leftStrip: try fields.optional("lstrip")?.bool() ?? false,
            rightStrip: try fields.optional("rstrip")?.bool() ?? false,
            normalized: try fields.optional("normalized")?.bool() ?? !special,
            special: special)
    }

    // MARK: - vocab.json + merges.txt

    /// An object of token → id, every id an integer in 0..<maxVocabularySize; file order kept.
    static func parseVocabulary(_ value: JSONValue, pointer: String) throws(TokenizerError) -> [(token: String, id: Int32)] {
        let object = try JSONCursor(value, pointer).object()
        var vocabulary: [(token: String, id: Int32)] = []
        vocabulary.reserveCapacity(object.members.count)
        // Walk the members in order: JSONObject's subscript is a linear search.
        for (key, id) in object.members.members {
            vocabulary.append((key, try JSONCursor(id, pointer + "/" + JSONPointer.escape(key)).id()))
        }
        return vocabulary
    }

    /// merges.txt as tokenizers reads it (`BPE::read_file`): lines without their "\n" or "\r\n",
    /// those starting "#version" skipped, every other one exactly two tokens split by one space.
    static func parseMergesText(_ bytes: [UInt8]) throws(TokenizerError) -> (pairs: [(left: String, right: String)], lines: [Int]) {
        var pairs: [(left: String, right: String)] = []
        var lines: [Int] = []
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let next = end + 1
            if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let slice = bytes[start..<end]
            start = next
            guard let line = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(line: lineNumber) }
            if line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .badMergeLine(line: lineNumber, text: line) }
            pairs.append((String(parts[0]), String(parts[1])))
            lines.append(lineNumber)
        }
        return (pairs, lines)
    }

    // MARK: - Files

    static func readFile(_ path: String) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        guard file.size <= maxFileBytes else {
            throw FileContextError(path: path, underlying: TokenizerError.fileTooLarge(bytes: file.size, limit: maxFileBytes))
        }
        return try file.read(offset: 0, count: file.size)
    }

    static func readJSON(_ path: String) throws -> JSONValue {
        let bytes = try readFile(path)
        do { return try JSON.parse(bytes) } catch { throw FileContextError(path: path, underlying: TokenizerError.invalidJSON(error)) }
    }

    /// Runs `body`, naming `path` in any `TokenizerError` it throws.
    static func context<T>(_ path: String, _ body: () throws(TokenizerError) -> T) throws -> T {
        do { return try body() } catch { throw FileContextError(path: path, underlying: error) }
    }
}

/// A JSON value and the JSON pointer that reached it, so every type error can name its place.
struct JSONCursor {
    let value: JSONValue
    let pointer: String

    init(_ value: JSONValue, _ pointer: String) {
        self.value = value
        self.pointer = pointer
    }

    /// An object's members, each with its pointer.
    struct Object {
        let members: JSONObject
        let pointer: String

        func optional(_ key: String) -> JSONCursor? {
            guard let value = members[key], value != .null else { return nil }
            return JSONCursor(value, pointer + "/" + JSONPointer.escape(key))
        }

        func required(_ key: String) throws(TokenizerError) -> JSONCursor {
            guard let cursor = optional(key) else { throw .missingKey(pointer: pointer + "/" + JSONPointer.escape(key)) }
            return cursor
        }

        /// The "type" member, when it is a string.
        var typeName: String? { members["type"]?.stringValue }
    }

    func object() throws(TokenizerError) -> Object {
        guard case .object(let members) = value else { throw .wrongType(pointer: pointer, expected: "an object", found: value.kindName) }
        return Object(members: members, pointer: pointer)
    }

    func array() throws(TokenizerError) -> [JSONCursor] {
        guard case .array(let items) = value else { throw .wrongType(pointer: pointer, expected: "an array", found: value.kindName) }
        return items.enumerated().map { JSONCursor($1, "\(pointer)/\($0)") }
    }

    func string() throws(TokenizerError) -> String {
        guard case .string(let text) = value else { throw .wrongType(pointer: pointer, expected: "a string", found: value.kindName) }
        return text
    }

    func bool() throws(TokenizerError) -> Bool {
        guard case .bool(let flag) = value else { throw .wrongType(pointer: pointer, expected: "a boolean", found: value.kindName) }
        return flag
    }

    /// A token id: an integer in 0..<maxVocabularySize.
    func id() throws(TokenizerError) -> Int32 {
        switch value {
        case .int(let n):
            guard n >= 0, n < Tokenizer.maxVocabularySize else { throw .idOutOfRange(pointer: pointer, id: String(n)) }
            return Int32(n)
        case .uint(let n): throw .idOutOfRange(pointer: pointer, id: String(n))
        default: throw .wrongType(pointer: pointer, expected: "an integer id", found: value.kindName)
        }
    }
}
