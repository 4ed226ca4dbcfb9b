import LSREngine
import LSRFormats

/// A sequence-classification head for a checkpoint that has none (a pretrained masked-LM or
/// bare encoder, as every checkpoint on the Hub starts): what transformers'
/// `AutoModelForSequenceClassification.from_pretrained` does for such a checkpoint, so that
/// training starts where a PyTorch user's would.
///
/// transformers builds RobertaClassificationHead (dense [C, C] → tanh → out_proj [L, C]) and
/// initialises every nn.Linear it creates with weight ~ N(0, initializer_range) and bias 0
/// (modeling_roberta.py, RobertaPreTrainedModel._init_weights). The draws here come from
/// SplitMix64 (seeded from --seed), dense first, then out_proj, row-major: the same head for
/// the same seed on every machine, not torch's stream.
extension RobertaClassifierWeights {
    public static func fresh(hidden c: Int, labels: Int, initializerRange: Double, seed: UInt64) -> RobertaClassifierWeights {
        var generator = SplitMix64(seed: seed ^ 0x6865_6164_2D69_6E69)  // "head-ini": a stream apart from the adapter's
        func normal(_ count: Int) -> FloatBuffer {
            let buffer = FloatBuffer(count: count)
            for i in 0..<count { buffer.pointer[i] = Float(generator.nextNormal() * initializerRange) }
            return buffer
        }
        let dense = Linear(weight: normal(c * c), bias: FloatBuffer(count: c), inFeatures: c, outFeatures: c)
        let out = Linear(weight: normal(labels * c), bias: FloatBuffer(count: labels), inFeatures: c, outFeatures: labels)
        return RobertaClassifierWeights(dense: dense, outProjection: out)
    }
}

extension RobertaConfig {
    /// config.json's initializer_range (transformers' default 0.02 where absent).
    public var initializerRange: Double { json["initializer_range"]?.doubleValue ?? 0.02 }

    /// This config for a sequence classifier with these labels, as transformers writes one
    /// (configuration_utils.py): architectures, id2label and label2id (string keys), num_labels,
    /// and problem_type ("regression" for one label, else "single_label_classification").
    public func classifier(id2label labels: [Int: String]) -> RobertaConfig {
        var config = self
        config.id2label = labels
        config.numLabels = labels.count
        var id2label = JSONObject()
        var label2id = JSONObject()
        for id in labels.keys.sorted() {
            id2label[String(id)] = .string(labels[id]!)
            label2id[labels[id]!] = JSONValue(id)
        }
        config.json["architectures"] = ["RobertaForSequenceClassification"]
        config.json["id2label"] = .object(id2label)
        config.json["label2id"] = .object(label2id)
        config.json["num_labels"] = JSONValue(labels.count)
        config.json["problem_type"] = .string(labels.count == 1 ? "regression" : "single_label_classification")
        return config
    }
}

extension RobertaModel {
    /// This encoder with a fresh head for `id2label` (ids 0..<count; one label: regression).
    /// The encoder's weights are shared, not copied.
    public func withFreshHead(id2label: [Int: String], seed: UInt64) throws(Error) -> RobertaModel {
        var weights = self.weights
        weights.classifier = .fresh(
            hidden: config.hiddenSize, labels: id2label.count, initializerRange: config.initializerRange, seed: seed)
        return try RobertaModel(config: config.classifier(id2label: id2label), weights: weights)
    }
}
