import LSRFormats

/// The fields of a Hugging Face RoBERTa config.json that matter here, with transformers'
/// class defaults where a field is absent (configuration_roberta.py). Real RoBERTa configs
/// differ from those defaults (514 positions, 1 token type, eps 1e-5): always read the file.
public struct RobertaConfig: Equatable, Sendable {
    public var vocabSize = 50265
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var intermediateSize = 3072
    public var hiddenAct = "gelu"
    public var hiddenDropoutProb = 0.1
    public var attentionProbsDropoutProb = 0.1
    public var maxPositionEmbeddings = 512
    public var typeVocabSize = 2
    public var layerNormEps = 1e-12
    public var padTokenId = 1
    public var bosTokenId = 0
    public var eosTokenId = 2
    public var classifierDropout: Double? = nil
    /// Label names by id, when the config has id2label.
    public var id2label: [Int: String] = [:]
    public var numLabels: Int? = nil
    /// The whole document, so writers keep fields this struct does not model.
    public var json: JSONObject = [:]

    public init() {}

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// A field with the wrong JSON type or an impossible value; `pointer` is its JSON pointer.
        case invalidField(pointer: String, reason: String)
        /// The config says one thing and a tensor's shape another.
        case contradictsWeights(field: String, config: Int, tensor: String, fromWeights: Int)

        public var description: String {
            switch self {
            case .invalidField(let p, let r): "config field \(p): \(r)"
            case .contradictsWeights(let f, let c, let t, let w):
                "config \(f) = \(c) contradicts tensor '\(t)', whose shape gives \(w)"
            }
        }
    }

    /// Reads a config.json document.
    public init(json: JSONValue) throws(Error) {
        guard case .object(let object) = json else { throw .invalidField(pointer: "", reason: "not a JSON object") }
        self.json = object
        func int(_ key: String, _ target: inout Int, minimum: Int = 0) throws(Error) {
            guard let value = object[key], value != .null else { return }
            guard let i = value.intValue, i >= minimum else {
                throw .invalidField(pointer: "/\(key)", reason: "expected an integer ≥ \(minimum), got \(JSON.serialize(value))")
            }
            target = i
        }
        func double(_ key: String, _ target: inout Double) throws(Error) {
            guard let value = object[key], value != .null else { return }
            guard let d = value.doubleValue, d >= 0 else { throw .invalidField(pointer: "/\(key)", reason: "expected a non-negative number") }
            target = d
        }
        if let type = object["model_type"], type != .null, type.stringValue != "roberta" {
            throw .invalidField(pointer: "/model_type", reason: "expected \"roberta\", got \(JSON.serialize(type))")
        }
        try int("vocab_size", &vocabSize, minimum: 1)
        try int("hidden_size", &hiddenSize, minimum: 1)
        try int("num_hidden_layers", &numHiddenLayers, minimum: 0)
        try int("num_attention_heads", &numAttentionHeads, minimum: 1)
        try int("intermediate_size", &intermediateSize, minimum: 1)
        try int("max_position_embeddings", &maxPositionEmbeddings, minimum: 1)
        try int("type_vocab_size", &typeVocabSize, minimum: 1)
        try int("pad_token_id", &padTokenId)
        try int("bos_token_id", &bosTokenId)
        try int("eos_token_id", &eosTokenId)
        try double("hidden_dropout_prob", &hiddenDropoutProb)
        try double("attention_probs_dropout_prob", &attentionProbsDropoutProb)
        try double("layer_norm_eps", &layerNormEps)
        if let value = object["classifier_dropout"], value != .null {
            guard let d = value.doubleValue else { throw .invalidField(pointer: "/classifier_dropout", reason: "expected a number or null") }
            classifierDropout = d
        }
        if let value = object["hidden_act"] {
            guard let s = value.stringValue else { throw .invalidField(pointer: "/hidden_act", reason: "expected a string") }
            hiddenAct = s
        }
        if let value = object["id2label"] {
            guard case .object(let labels) = value else { throw .invalidField(pointer: "/id2label", reason: "expected an object") }
            for (key, name) in labels.members {
                guard let id = Int(key), id >= 0, let s = name.stringValue else {
                    throw .invalidField(pointer: "/id2label/\(JSONPointer.escape(key))", reason: "expected an integer key and a string label")
                }
                id2label[id] = s
            }
        }
        var labels = -1
        try int("num_labels", &labels, minimum: 1)
        numLabels = labels >= 0 ? labels : (id2label.isEmpty ? nil : id2label.count)
        guard hiddenSize % numAttentionHeads == 0 else {
            throw .invalidField(
                pointer: "/num_attention_heads", reason: "hidden_size \(hiddenSize) is not a multiple of \(numAttentionHeads) heads")
        }
    }

    /// A config for weights that came without one: shapes give every size but the number of
    /// heads, taken as hidden/64 (RoBERTa's head size); the rest are real RoBERTa values.
    public static func inferred(from architecture: RobertaArchitecture) -> RobertaConfig {
        var config = RobertaConfig()
        config.vocabSize = architecture.vocabSize
        config.hiddenSize = architecture.hiddenSize
        config.numHiddenLayers = architecture.layers
        config.numAttentionHeads = architecture.inferredHeads
        config.intermediateSize = architecture.intermediateSize
        config.maxPositionEmbeddings = architecture.maxPositions
        config.typeVocabSize = architecture.typeVocabSize
        config.layerNormEps = 1e-5
        var json: JSONObject = [
            "architectures": [.string(architecture.head.transformersClass)],
            "attention_probs_dropout_prob": 0.1,
            "bos_token_id": 0,
            "classifier_dropout": nil,
            "eos_token_id": 2,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "hidden_size": JSONValue(config.hiddenSize),
            "initializer_range": 0.02,
            "intermediate_size": JSONValue(config.intermediateSize),
            "layer_norm_eps": 1e-05,
            "max_position_embeddings": JSONValue(config.maxPositionEmbeddings),
            "model_type": "roberta",
            "num_attention_heads": JSONValue(config.numAttentionHeads),
            "num_hidden_layers": JSONValue(config.numHiddenLayers),
            "pad_token_id": 1,
            "position_embedding_type": "absolute",
            "type_vocab_size": JSONValue(config.typeVocabSize),
            "use_cache": true,
            "vocab_size": JSONValue(config.vocabSize),
        ]
        if case .sequenceClassification(let labels) = architecture.head {
            config.numLabels = labels
            var id2label = JSONObject()
            var label2id = JSONObject()
            for i in 0..<labels {
                id2label[String(i)] = .string("LABEL_\(i)")
                label2id["LABEL_\(i)"] = JSONValue(i)
                config.id2label[i] = "LABEL_\(i)"
            }
            json["id2label"] = .object(id2label)
            json["label2id"] = .object(label2id)
        }
        config.json = json.sortedByKey()
        return config
    }

    /// Checks every size the weights determine against this config.
    public func check(against architecture: RobertaArchitecture) throws(Error) {
        let checks: [(String, Int, Int, String)] = [
            ("vocab_size", vocabSize, architecture.vocabSize, "embeddings.word_embeddings.weight"),
            ("hidden_size", hiddenSize, architecture.hiddenSize, "embeddings.word_embeddings.weight"),
            ("num_hidden_layers", numHiddenLayers, architecture.layers, "encoder.layer.\(max(architecture.layers, numHiddenLayers) - 1)"),
            ("intermediate_size", intermediateSize, architecture.intermediateSize, "encoder.layer.0.intermediate.dense.weight"),
            ("max_position_embeddings", maxPositionEmbeddings, architecture.maxPositions, "embeddings.position_embeddings.weight"),
            ("type_vocab_size", typeVocabSize, architecture.typeVocabSize, "embeddings.token_type_embeddings.weight"),
        ]
        for (field, configured, measured, tensor) in checks where configured != measured {
            throw .contradictsWeights(field: field, config: configured, tensor: tensor, fromWeights: measured)
        }
        if case .sequenceClassification(let labels) = architecture.head, let numLabels, numLabels != labels {
            throw .contradictsWeights(field: "num_labels", config: numLabels, tensor: "classifier.out_proj.weight", fromWeights: labels)
        }
    }
}

/// What the tensor shapes say about a RoBERTa model.
public struct RobertaArchitecture: Equatable, Sendable {
    public enum Head: Equatable, Sendable {
        case none
        case sequenceClassification(labels: Int)
        case maskedLM

        public var description: String {
            switch self {
            case .none: "none (encoder only)"
            case .sequenceClassification(let n): "sequence classification (\(n) labels)"
            case .maskedLM: "masked language model"
            }
        }

        var transformersClass: String {
            switch self {
            case .none: "RobertaModel"
            case .sequenceClassification: "RobertaForSequenceClassification"
            case .maskedLM: "RobertaForMaskedLM"
            }
        }
    }

    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var head: Head
    public var hasPooler: Bool

    /// hidden/64, RoBERTa's head size; nil when hidden is not a positive multiple of 64, where
    /// no guess is better than another.
    public var guessedHeads: Int? { hiddenSize >= 64 && hiddenSize % 64 == 0 ? hiddenSize / 64 : nil }

    /// `guessedHeads`, else 1: what a config inferred from shapes alone gets.
    public var inferredHeads: Int { guessedHeads ?? 1 }

    /// Reads the architecture from tensor shapes keyed by canonical name (with or without the
    /// `roberta.` prefix); nil when the word embeddings are absent (not a RoBERTa checkpoint).
    public static func infer(shapes: [String: [Int]]) -> RobertaArchitecture? {
        var bare: [String: [Int]] = [:]
        for (name, shape) in shapes { bare[name.hasPrefix("roberta.") ? String(name.dropFirst(8)) : name] = shape }
        guard let words = bare["embeddings.word_embeddings.weight"], words.count == 2 else { return nil }
        var layers = 0
        for name in bare.keys where name.hasPrefix("encoder.layer.") {
            let index = name.dropFirst("encoder.layer.".count).prefix { $0 != "." }
            if let i = Int(index) { layers = max(layers, i + 1) }
        }
        var head = Head.none
        if let out = bare["classifier.out_proj.weight"], out.count == 2 {
            head = .sequenceClassification(labels: out[0])
        } else if bare.keys.contains(where: { $0.hasPrefix("lm_head.") }) {
            head = .maskedLM
        }
        return RobertaArchitecture(
            vocabSize: words[0], hiddenSize: words[1], layers: layers,
            intermediateSize: bare["encoder.layer.0.intermediate.dense.weight"]?.first ?? 0,
            maxPositions: bare["embeddings.position_embeddings.weight"]?.first ?? 0,
            typeVocabSize: bare["embeddings.token_type_embeddings.weight"]?.first ?? 0,
            head: head, hasPooler: bare["pooler.dense.weight"] != nil)
    }
}
