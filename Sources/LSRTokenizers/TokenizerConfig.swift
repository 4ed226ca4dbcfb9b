import LSRFormats

/// What transformers reads beside the vocabulary: `tokenizer_config.json` and
/// `special_tokens_map.json` (which overrides it, as `PreTrainedTokenizerBase._from_pretrained`
/// lets it). Both optional.
struct TokenizerConfig: Sendable {
    /// A special token named in the config: its text, and its flags when given as an object.
    struct SpecialToken: Sendable {
        var content: String
        var flags: AddedToken?
    }

    /// transformers' SPECIAL_TOKENS_ATTRIBUTES order, the order RobertaTokenizer adds them in.
    static let roles = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]

    var specialTokens: [String: SpecialToken] = [:]
    var additionalSpecialTokens: [SpecialToken] = []
    /// `added_tokens_decoder`: id → token with flags (transformers ≥ 4.34).
    var addedTokensDecoder: [(id: Int32, token: AddedToken)] = []
    var addPrefixSpace: Bool?
    var modelMaxLength: Int?
    /// BertTokenizer's options (vocab.txt): lowercase, space CJK ideographs, strip accents
    /// (nil: as lowercase).
    var doLowerCase = true
    var tokenizeChineseChars = true
    var stripAccents: Bool?

    init() {}

    /// transformers' VERY_LARGE_INTEGER (int(1e30)), which it writes as `model_max_length` for
    /// "no limit". JSON.parse refuses integers beyond 64 bits, so this literal reads as null.
    static let noLimitLiteral = "1000000000000000019884624838656"

    init(directory: String) throws {
        let configPath = FileSystem.join(directory, "tokenizer_config.json")
        if FileSystem.exists(configPath) {
            var bytes = try Tokenizer.readFile(configPath)
            var root: JSONValue?
            while root == nil {
                do {
                    root = try JSON.parse(bytes)
                } catch .integerOutOfRange(Self.noLimitLiteral, let offset) {
                    let blank = Array("null".utf8) + [UInt8](repeating: UInt8(ascii: " "), count: Self.noLimitLiteral.utf8.count - 4)
                    bytes.replaceSubrange(offset..<offset + blank.count, with: blank)
                } catch {
                    throw FileContextError(path: configPath, underlying: TokenizerError.invalidJSON(error))
                }
            }
            try Tokenizer.context(configPath) { () throws(TokenizerError) in try read(root!, isConfig: true) }
        }
        let mapPath = FileSystem.join(directory, "special_tokens_map.json")
        if FileSystem.exists(mapPath) {
            let root = try Tokenizer.readJSON(mapPath)
            try Tokenizer.context(mapPath) { () throws(TokenizerError) in try read(root, isConfig: false) }
        }
    }

    private mutating func read(_ root: JSONValue, isConfig: Bool) throws(TokenizerError) {
        let object = try JSONCursor(root, "").object()
        for role in Self.roles {
            if let entry = object.optional(role) { specialTokens[role] = try Self.specialToken(entry) }
        }
        if let list = object.optional("additional_special_tokens") {
            additionalSpecialTokens = try list.array().map { entry throws(TokenizerError) in try Self.specialToken(entry) }
        }
        guard isConfig else { return }
        addPrefixSpace = try object.optional("add_prefix_space")?.bool()
        doLowerCase = try object.optional("do_lower_case")?.bool() ?? true
        tokenizeChineseChars = try object.optional("tokenize_chinese_chars")?.bool() ?? true
        stripAccents = try object.optional("strip_accents")?.bool()
        // transformers writes 1e30 for "no limit"; only a length that fits an Int32 means one.
        if let length = object.optional("model_max_length")?.value.intValue, length > 0, length <= Int(Int32.max) {
            modelMaxLength = length
        }
        if let decoder = object.optional("added_tokens_decoder") {
            let entries = try decoder.object()
            for (key, value) in entries.members.members {
                let cursor = JSONCursor(value, entries.pointer + "/" + JSONPointer.escape(key))
                guard let id = Int32(key), id >= 0, Int(id) < Tokenizer.maxVocabularySize else {
                    throw .idOutOfRange(pointer: cursor.pointer, id: key)
                }
                addedTokensDecoder.append((id, try Tokenizer.parseAddedToken(try cursor.object(), specialByDefault: false)))
            }
            addedTokensDecoder.sort { $0.id < $1.id }
        }
    }

    /// A special token written as "<s>" or as {"content": "<s>", "lstrip": …}.
    private static func specialToken(_ cursor: JSONCursor) throws(TokenizerError) -> SpecialToken {
        if case .string(let content) = cursor.value { return SpecialToken(content: content, flags: nil) }
        let token = try Tokenizer.parseAddedToken(try cursor.object(), specialByDefault: true)
        var flags = token
        flags.special = true
        return SpecialToken(content: token.content, flags: flags)
    }

    /// The text and id of the special token `key` ("pad_token"): the configured text, else `fallback`;
    /// its id as an added token, else from the vocabulary.
    func resolve(_ key: String, default fallback: String, role: String, model: TokenModel, added: AddedVocabulary)
        throws(TokenizerError) -> (token: String, id: Int32)
    {
        let content = specialTokens[key]?.content ?? fallback
        guard let id = added.id(of: content) ?? model.id(of: content) else {
            throw .missingSpecialToken(role: role, token: content)
        }
        return (content, id)
    }

    /// The added tokens transformers 5's RobertaTokenizer (or BertTokenizer) ends up with for
    /// vocab.json + merges.txt (or vocab.txt): `added_tokens_decoder` entries, then the special
    /// tokens (the class defaults in `defaults` unless configured; a plain string keeps flags
    /// already given, an object sets them), then `added_tokens.json` as normalized,
    /// non-special tokens. Ids come from the vocabulary when it has the token, else from the
    /// file, else the next free id.
    func addedTokens(model: TokenModel, defaults: SpecialTokenDefaults, addedTokensFile: JSONValue?) throws(TokenizerError) -> AddedVocabulary {
        var added = AddedVocabulary()
        func add(_ token: AddedToken, declaredId: Int32?) {
            let nextId = max(Int32(model.vocabularyCount), (added.maxId ?? -1) + 1)
            let id = added.id(of: token.content) ?? model.id(of: token.content) ?? declaredId ?? nextId
            added.add(token, id: id)
        }
        for (id, token) in addedTokensDecoder { add(token, declaredId: id) }
        let named = Self.roles.compactMap { role in specialTokens[role] ?? defaults.byRole[role].map { SpecialToken(content: $0, flags: nil) } }
            + additionalSpecialTokens
        for special in named {
            if let flags = special.flags {
                add(flags, declaredId: nil)
            } else if let id = added.id(of: special.content), var existing = added.token(for: id) {
                existing.special = true
                add(existing, declaredId: nil)
            } else {
                add(AddedToken(content: special.content, normalized: false, special: true), declaredId: nil)
            }
        }
        if let addedTokensFile {
            let object = try JSONCursor(addedTokensFile, "").object()
            for (content, value) in object.members.members where added.id(of: content) == nil {
                let id = try JSONCursor(value, "/" + JSONPointer.escape(content)).id()
                add(AddedToken(content: content, normalized: true, special: false), declaredId: id)
            }
        }
        return added
    }
}

/// A family's special tokens, for the roles its files leave unnamed.
struct SpecialTokenDefaults: Sendable {
    var pad: String
    var cls: String
    var sep: String
    var mask: String
    var unk: String
    /// transformers' class defaults by role (bos/eos only where the family has them).
    var byRole: [String: String]

    /// RobertaTokenizer, XLMRobertaTokenizer.
    static let roberta = SpecialTokenDefaults(
        pad: "<pad>", cls: "<s>", sep: "</s>", mask: "<mask>", unk: "<unk>",
        byRole: ["bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "pad_token": "<pad>",
                 "cls_token": "<s>", "mask_token": "<mask>"])
    /// BertTokenizer.
    static let bert = SpecialTokenDefaults(
        pad: "[PAD]", cls: "[CLS]", sep: "[SEP]", mask: "[MASK]", unk: "[UNK]",
        byRole: ["unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"])
}
