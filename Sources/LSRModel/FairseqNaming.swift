import LSRFormats

/// fairseq RoBERTa checkpoints under Hugging Face names, as transformers'
/// `convert_roberta_original_pytorch_checkpoint_to_pytorch.py` maps them (REFERENCE.md, "RoBERTa").
///
/// Two layouts occur (fairseq `models/roberta/model.py`, `upgrade_state_dict_named`):
/// - the original release (fairseq 0.8/0.9): `decoder.sentence_encoder.*`, `emb_layer_norm`, and
///   a fused `self_attn.in_proj_weight` = cat(q, k, v) along dim 0; `args` is an argparse.Namespace;
/// - fairseq ≥ 0.10: `encoder.sentence_encoder.*`, `layernorm_embedding`, separate
///   `q_proj`/`k_proj`/`v_proj`, a `version` buffer; `args` is None and `cfg["model"]` holds the
///   Namespace (fairseq/dataclass/utils.py, convert_namespace_to_omegaconf).
/// Both carry the masked-LM head `(encoder|decoder).lm_head.*` (its weight tied to embed_tokens)
/// and any number of `classification_heads.<name>.{dense,out_proj}.*`. fairseq RoBERTa has no
/// token type embeddings; the HF model adds one row of zeros, which changes nothing.
public enum FairseqNaming {
    /// Prefixes of the encoder body; a checkpoint with either is a fairseq RoBERTa.
    public static let sentenceEncoderPrefixes = ["encoder.sentence_encoder.", "decoder.sentence_encoder."]
    /// Tag used as `ArchiveTensor.file` for tensors made here rather than read.
    public static let synthesizedFile = "<synthesized: fairseq has no token type embeddings>"

    /// The converted archive and what happened to each input tensor.
    public struct Conversion: Sendable {
        /// Tensors under HF names (`roberta.` prefix when a classification head is kept), in
        /// input order; fused projections become query, key, value (zero-copy views).
        public var archive: TensorArchive
        /// Input name → output names (three for a fused projection), in input order.
        public var renamed: [(from: String, to: [String])] = []
        /// Tensors with no HF counterpart: the MLM head, `version` and `_float_tensor` buffers,
        /// classification heads other than the one kept.
        public var dropped: [String] = []
        /// Tensors this map does not know, kept under their own names.
        public var unknown: [String] = []
        /// Tensors made here: `embeddings.token_type_embeddings.weight`, zeros [1, hidden].
        public var synthesized: [String] = []
        /// The `classification_heads.<name>` mapped to `classifier.*`, if any.
        public var classificationHead: String?
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// Several classification heads, none chosen (by the caller or the checkpoint's
        /// `classification_head_name`).
        case ambiguousClassificationHead(available: [String])
        /// The head asked for is not in the checkpoint.
        case unknownClassificationHead(String, available: [String])
        /// A tensor of the wrong rank, or a fused `in_proj_weight` / `in_proj_bias` whose first
        /// dimension is not a multiple of 3; `expected` describes the shape wanted.
        case unexpectedShape(tensor: String, shape: [Int], expected: String)
        /// A tensor whose byte count is not its shape's elements times the dtype size.
        case byteCountMismatch(tensor: String, expected: Int, actual: Int)
        /// A sub-byte dtype whose rows (or projection thirds) do not end on byte boundaries.
        case unsplittableDType(tensor: String, dtype: DType)
        /// Two input tensors map to the same HF name.
        case collision(String, sources: [String])
        /// A tensor every RoBERTa has is absent.
        case missingTensor(String)
        /// A field of `args` / `cfg` with the wrong JSON type or an impossible value.
        case invalidConfigField(pointer: String, reason: String)

        public var description: String {
            switch self {
            case .ambiguousClassificationHead(let heads):
                "fairseq checkpoint has \(heads.count) classification heads (\(heads.joined(separator: ", "))); choose one"
            case .unknownClassificationHead(let name, let heads):
                "no classification head '\(name)' in the fairseq checkpoint (has: \(heads.isEmpty ? "none" : heads.joined(separator: ", ")))"
            case .unexpectedShape(let t, let s, let e): "tensor '\(t)' has shape \(s), expected \(e)"
            case .byteCountMismatch(let t, let e, let a): "tensor '\(t)': \(a) bytes, its shape and dtype need \(e)"
            case .unsplittableDType(let t, let d): "tensor '\(t)': \(d.rawValue) elements do not split on byte boundaries"
            case .collision(let n, let s): "tensors \(s.map { "'\($0)'" }.joined(separator: " and ")) both map to '\(n)'"
            case .missingTensor(let t): "fairseq checkpoint has no '\(t)'"
            case .invalidConfigField(let p, let r): "fairseq config field \(p): \(r)"
            }
        }
    }

    /// Whether `archive` holds a fairseq RoBERTa (any tensor under a sentence-encoder prefix).
    public static func isFairseq(_ archive: TensorArchive) -> Bool {
        archive.tensors.contains { tensor in sentenceEncoderPrefixes.contains { tensor.name.hasPrefix($0) } }
    }

    /// The head fairseq itself would use: `classification_head_name` of the sentence_prediction
    /// task, from `args`, `cfg.criterion` or `cfg.model`.
    public static func classificationHeadName(in auxiliary: JSONObject) -> String? {
        let places: [JSONValue?] = [auxiliary["args"], auxiliary["cfg"]?["criterion"], auxiliary["cfg"]?["model"]]
        return places.lazy.compactMap { $0?["classification_head_name"]?.stringValue }.first
    }

    /// Renames every tensor of a fairseq RoBERTa to its HF name.
    ///
    /// - Parameter head: the `classification_heads.<name>` to keep as `classifier.*`; nil keeps the
    ///   only one, or the one the checkpoint's `classification_head_name` names.
    public static func convert(_ archive: TensorArchive, head: String? = nil) throws(Error) -> Conversion {
        let heads = headNames(archive.names)
        let selected: String?
        if let head {
            guard heads.contains(head) else { throw .unknownClassificationHead(head, available: heads) }
            selected = head
        } else if heads.count <= 1 {
            selected = heads.first
        } else if let named = classificationHeadName(in: archive.auxiliary), heads.contains(named) {
            selected = named
        } else {
            throw .ambiguousClassificationHead(available: heads)
        }
        let encoderPrefix = selected == nil ? "" : "roberta."

        var conversion = Conversion(archive: archive)
        conversion.classificationHead = selected
        var outputs: [ArchiveTensor] = []
        var sources: [String: String] = [:]
        func emit(_ tensor: ArchiveTensor, from source: String) throws(Error) {
            if let other = sources[tensor.name] { throw .collision(tensor.name, sources: [other, source]) }
            sources[tensor.name] = source
            outputs.append(tensor)
        }

        for tensor in archive.tensors {
            switch target(of: tensor.name, selectedHead: selected) {
            case .rename(let bare, let isEncoder):
                var renamed = tensor
                renamed.name = (isEncoder ? encoderPrefix : "") + bare
                try emit(renamed, from: tensor.name)
                conversion.renamed.append((tensor.name, [renamed.name]))
            case .fused(let layer):
                let names = ["query", "key", "value"].map {
                    "\(encoderPrefix)encoder.layer.\(layer).attention.self.\($0).\(tensor.name.hasSuffix("_weight") ? "weight" : "bias")"
                }
                let thirds = try splitInThree(tensor, names: names)
                for third in thirds { try emit(third, from: tensor.name) }
                conversion.renamed.append((tensor.name, names))
            case .drop:
                conversion.dropped.append(tensor.name)
            case .unknown:
                try emit(tensor, from: tensor.name)
                conversion.unknown.append(tensor.name)
            }
        }

        // fairseq RoBERTa has no token types; HF adds a single row of zeros (the conversion
        // script sets token_type_embeddings to zeros_like), placed after the position embeddings.
        let tokenTypes = encoderPrefix + "embeddings.token_type_embeddings.weight"
        if sources[tokenTypes] == nil {
            let words = encoderPrefix + "embeddings.word_embeddings.weight"
            guard let embedding = outputs.first(where: { $0.name == words }) else {
                let prefix = archive.names.first { $0.hasPrefix("decoder.sentence_encoder.") } != nil
                    ? "decoder.sentence_encoder." : "encoder.sentence_encoder."
                throw .missingTensor(prefix + "embed_tokens.weight")
            }
            guard embedding.shape.count == 2 else {
                throw .unexpectedShape(tensor: embedding.name, shape: embedding.shape, expected: "[vocab, hidden]")
            }
            guard let byteCount = embedding.dtype.byteCount(elements: embedding.shape[1]) else {
                throw .unsplittableDType(tensor: embedding.name, dtype: embedding.dtype)
            }
            let zeros = ArchiveTensor(
                name: tokenTypes, dtype: embedding.dtype, shape: [1, embedding.shape[1]],
                bytes: TensorBytes(owning: [UInt8](repeating: 0, count: byteCount)), file: synthesizedFile, offset: 0)
            let positions = encoderPrefix + "embeddings.position_embeddings.weight"
            let index = outputs.firstIndex { $0.name == positions } ?? outputs.firstIndex { $0.name == words }!
            outputs.insert(zeros, at: index + 1)
            conversion.synthesized.append(tokenTypes)
        }
        conversion.archive.tensors = outputs
        return conversion
    }

    // MARK: - Names

    enum Target: Equatable {
        /// HF name without the `roberta.` prefix; whether it belongs to the encoder (gets it).
        case rename(String, encoder: Bool)
        /// A fused in_proj_weight / in_proj_bias of this layer.
        case fused(layer: Int)
        case drop
        case unknown
    }

    /// fairseq module (under `layers.N.`) → HF module (under `encoder.layer.N.`).
    static let layerModules: [String: String] = [
        "self_attn.q_proj": "attention.self.query",
        "self_attn.k_proj": "attention.self.key",
        "self_attn.v_proj": "attention.self.value",
        "self_attn.out_proj": "attention.output.dense",
        "self_attn_layer_norm": "attention.output.LayerNorm",
        "fc1": "intermediate.dense",
        "fc2": "output.dense",
        "final_layer_norm": "output.LayerNorm",
    ]

    static func headNames(_ names: [String]) -> [String] {
        var heads: [String] = []
        for name in names where name.hasPrefix("classification_heads.") {
            let head = String(name.dropFirst("classification_heads.".count).prefix { $0 != "." })
            if !heads.contains(head) { heads.append(head) }
        }
        return heads
    }

    static func target(of name: String, selectedHead: String?) -> Target {
        if let prefix = sentenceEncoderPrefixes.first(where: { name.hasPrefix($0) }) {
            return encoderTarget(String(name.dropFirst(prefix.count)))
        }
        if name.hasPrefix("encoder.lm_head.") || name.hasPrefix("decoder.lm_head.") { return .drop }
        if name.hasPrefix("classification_heads.") {
            let rest = name.dropFirst("classification_heads.".count)
            let head = String(rest.prefix { $0 != "." })
            guard head == selectedHead else { return .drop }
            let part = String(rest.dropFirst(head.count + 1))
            let parts = ["dense.weight", "dense.bias", "out_proj.weight", "out_proj.bias"]
            return parts.contains(part) ? .rename("classifier." + part, encoder: false) : .unknown
        }
        // Buffers fairseq keeps for its own bookkeeping: `*.version`, sinusoidal `_float_tensor`.
        let last = name.split(separator: ".").last.map(String.init)
        return last == "version" || last == "_float_tensor" ? .drop : .unknown
    }

    /// Names under `(encoder|decoder).sentence_encoder.`.
    static func encoderTarget(_ rest: String) -> Target {
        switch rest {
        case "embed_tokens.weight": return .rename("embeddings.word_embeddings.weight", encoder: true)
        case "embed_positions.weight": return .rename("embeddings.position_embeddings.weight", encoder: true)
        case "emb_layer_norm.weight", "layernorm_embedding.weight": return .rename("embeddings.LayerNorm.weight", encoder: true)
        case "emb_layer_norm.bias", "layernorm_embedding.bias": return .rename("embeddings.LayerNorm.bias", encoder: true)
        case "version", "embed_positions._float_tensor": return .drop
        default: break
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, parts[0] == "layers", let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1] else {
            return .unknown
        }
        let module = parts[2..<(parts.count - 1)].joined(separator: ".")
        let parameter = parts[parts.count - 1]
        if module == "self_attn", parameter == "in_proj_weight" || parameter == "in_proj_bias" { return .fused(layer: layer) }
        guard let hf = layerModules[module], parameter == "weight" || parameter == "bias" else { return .unknown }
        return .rename("encoder.layer.\(layer).\(hf).\(parameter)", encoder: true)
    }

    /// Query, key and value of a fused projection: the three equal blocks along dim 0 of a
    /// row-major [3H, in] weight or [3H] bias, as views sharing the input's bytes
    /// (fairseq MultiheadAttention: q = in_proj_weight[:H], k = [H:2H], v = [2H:]).
    static func splitInThree(_ tensor: ArchiveTensor, names: [String]) throws(Error) -> [ArchiveTensor] {
        let isWeight = tensor.name.hasSuffix("_weight")
        guard tensor.shape.count == (isWeight ? 2 : 1), tensor.shape[0] % 3 == 0 else {
            let expected = isWeight ? "[3·n, in] (query, key, value stacked along dim 0)" : "[3·n] (query, key, value biases)"
            throw .unexpectedShape(tensor: tensor.name, shape: tensor.shape, expected: expected)
        }
        guard let elements = Safetensors.checkedProduct(tensor.shape),
            let total = tensor.dtype.byteCount(elements: elements), total == tensor.bytes.count
        else {
            let expected = Safetensors.checkedProduct(tensor.shape).flatMap { tensor.dtype.byteCount(elements: $0) } ?? -1
            throw .byteCountMismatch(tensor: tensor.name, expected: expected, actual: tensor.bytes.count)
        }
        guard let third = tensor.dtype.byteCount(elements: elements / 3) else {
            throw .unsplittableDType(tensor: tensor.name, dtype: tensor.dtype)
        }
        var shape = tensor.shape
        shape[0] /= 3
        var thirds: [ArchiveTensor] = []
        for (i, name) in names.enumerated() {
            // In range by construction: 3 * third == total == bytes.count.
            guard let bytes = tensor.bytes.slice(i * third..<(i + 1) * third) else {
                throw .byteCountMismatch(tensor: tensor.name, expected: total, actual: tensor.bytes.count)
            }
            thirds.append(
                ArchiveTensor(
                    name: name, dtype: tensor.dtype, shape: shape, bytes: bytes, file: tensor.file, offset: tensor.offset + i * third))
        }
        return thirds
    }

    // MARK: - Config

    /// fairseq `activation_fn` (fairseq/utils.py get_activation_fn) → transformers `hidden_act`
    /// (activations.py ACT2FN): fairseq's "gelu" is the exact erf form, "gelu_accurate" (and its
    /// deprecated alias "gelu_fast") the tanh approximation, transformers' "gelu_new".
    static let activations: [String: String] = [
        "gelu": "gelu", "gelu_accurate": "gelu_new", "gelu_fast": "gelu_new", "relu": "relu",
        "relu_squared": "relu2", "tanh": "tanh", "linear": "linear", "swish": "silu",
    ]

    /// The HF config of a fairseq RoBERTa, from its `args` Namespace (fairseq < 0.10) or
    /// `cfg["model"]` (fairseq ≥ 0.10), as the pickle reader renders them (JSON objects of their
    /// fields); nil when the checkpoint carries neither.
    ///
    /// Fields read: encoder_layers, encoder_embed_dim, encoder_attention_heads,
    /// encoder_ffn_embed_dim, max_positions (HF max_position_embeddings = max_positions +
    /// padding_idx + 1, fairseq's LearnedPositionalEmbedding size, so 512 → 514), activation_fn,
    /// dropout, attention_dropout, pooler_dropout (HF classifier_dropout) and num_classes (also
    /// from cfg["task"]). Everything else, and any field absent, comes from the weights
    /// (`architecture`) and real RoBERTa values: layer_norm_eps 1e-5, pad 1, bos 0, eos 2, one
    /// token type. Contradictions with the weights are left to `RobertaConfig.check(against:)`.
    /// `encoder_normalize_before` is not read: it meant the embedding LayerNorm in fairseq 0.8
    /// and pre-norm layers later.
    public static func config(from auxiliary: JSONObject, architecture: RobertaArchitecture) throws(Error) -> RobertaConfig? {
        let fields: JSONObject
        let pointer: String
        if case .object(let args)? = auxiliary["args"] {
            (fields, pointer) = (args, "/args")
        } else if case .object(let model)? = auxiliary["cfg"]?["model"] {
            (fields, pointer) = (model, "/cfg/model")
        } else {
            return nil
        }
        var config = RobertaConfig.inferred(from: architecture)
        var json = config.json

        func int(_ key: String, minimum: Int, in object: JSONObject = fields, at base: String = pointer) throws(Error) -> Int? {
            guard let value = object[key], value != .null else { return nil }
            guard let i = value.intValue, i >= minimum else {
                throw .invalidConfigField(pointer: "\(base)/\(key)", reason: "expected an integer ≥ \(minimum), got \(JSON.serialize(value))")
            }
            return i
        }
        func probability(_ key: String) throws(Error) -> Double? {
            guard let value = fields[key], value != .null else { return nil }
            guard let p = value.doubleValue, p >= 0, p <= 1 else {
                throw .invalidConfigField(pointer: "\(pointer)/\(key)", reason: "expected a probability in [0, 1], got \(JSON.serialize(value))")
            }
            return p
        }

        if let layers = try int("encoder_layers", minimum: 0) {
            config.numHiddenLayers = layers
            json["num_hidden_layers"] = JSONValue(layers)
        }
        if let hidden = try int("encoder_embed_dim", minimum: 1) {
            config.hiddenSize = hidden
            json["hidden_size"] = JSONValue(hidden)
        }
        if let heads = try int("encoder_attention_heads", minimum: 1) {
            config.numAttentionHeads = heads
            json["num_attention_heads"] = JSONValue(heads)
        }
        guard config.hiddenSize % config.numAttentionHeads == 0 else {
            throw .invalidConfigField(
                pointer: "\(pointer)/encoder_attention_heads",
                reason: "hidden size \(config.hiddenSize) is not a multiple of \(config.numAttentionHeads) heads")
        }
        if let ffn = try int("encoder_ffn_embed_dim", minimum: 1) {
            config.intermediateSize = ffn
            json["intermediate_size"] = JSONValue(ffn)
        }
        if let positions = try int("max_positions", minimum: 1) {
            let (total, overflow) = positions.addingReportingOverflow(config.padTokenId + 1)
            guard !overflow else { throw .invalidConfigField(pointer: "\(pointer)/max_positions", reason: "too large") }
            config.maxPositionEmbeddings = total
            json["max_position_embeddings"] = JSONValue(total)
        }
        if let value = fields["activation_fn"], value != .null {
            guard let name = value.stringValue, let act = activations[name] else {
                throw .invalidConfigField(
                    pointer: "\(pointer)/activation_fn",
                    reason: "expected one of \(activations.keys.sorted().joined(separator: ", ")), got \(JSON.serialize(value))")
            }
            config.hiddenAct = act
            json["hidden_act"] = .string(act)
        }
        if let p = try probability("dropout") {
            config.hiddenDropoutProb = p
            json["hidden_dropout_prob"] = .double(p)
        }
        if let p = try probability("attention_dropout") {
            config.attentionProbsDropoutProb = p
            json["attention_probs_dropout_prob"] = .double(p)
        }
        if let p = try probability("pooler_dropout") {
            config.classifierDropout = p
            json["classifier_dropout"] = .double(p)
        }
        var classes = try int("num_classes", minimum: 1)
        if classes == nil, let task = auxiliary["cfg"]?["task"]?.objectValue {
            classes = try int("num_classes", minimum: 1, in: task, at: "/cfg/task")
        }
        if let classes, case .sequenceClassification = architecture.head {
            config.numLabels = classes  // a mismatch with the head's shape is reported by check(against:)
        }
        config.json = json.sortedByKey()
        return config
    }
}
