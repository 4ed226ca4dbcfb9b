import LSREngine
import LSRModel

extension AdapterSet {
    public enum ApplyError: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// The adapter was made for a base model of another shape.
        case baseMismatch(field: String, adapter: Int, model: Int)
        /// The adapter's head does not fit the model's classifier (another label count).
        case headMismatch(tensor: String, adapter: [Int], model: [Int])
        /// The base has no head and the adapter's lacks a tensor to make one from.
        case headIncomplete(missing: String)
        public var description: String {
            switch self {
            case .baseMismatch(let f, let a, let m): "adapter made for \(f) = \(a), the model has \(m)"
            case .headMismatch(let t, let a, let m): "adapter head tensor '\(t)' is \(a), the model's is \(m)"
            case .headIncomplete(let t): "the model has no classification head and the adapter's lacks '\(t)'"
            }
        }
    }

    /// Checks that `model` has the shape this adapter was made for (hidden size, layers, heads,
    /// intermediate size, vocabulary).
    public func checkBase(_ model: RobertaModel) throws(ApplyError) { try checkBase(model.config) }

    /// The same check against a config (merge reads no weights into a model).
    public func checkBase(_ c: RobertaConfig) throws(ApplyError) {
        for (field, adapter, actual) in [
            ("hidden_size", base.hiddenSize, c.hiddenSize), ("num_hidden_layers", base.layers, c.numHiddenLayers),
            ("num_attention_heads", base.attentionHeads, c.numAttentionHeads), ("intermediate_size", base.intermediateSize, c.intermediateSize),
            ("vocab_size", base.vocabSize, c.vocabSize),
        ] where adapter != actual {
            throw .baseMismatch(field: field, adapter: adapter, model: actual)
        }
    }

    /// Attaches every module's adapter to `model` (Up and Down materialised once; the forward
    /// pass then adds scaling·(x·Downᵀ)·Upᵀ to each adapted Linear).
    public func attach(to model: RobertaModel) throws {
        try checkBase(model)
        for module in modules {
            let delta = LowRankDelta(
                up: module.up(), down: module.down(), outFeatures: module.outFeatures, inFeatures: module.inFeatures, rank: module.rank,
                scaling: hyperparameters.scaling)
            try model.attach(delta, to: module.name)
        }
    }

    /// Attaches the adapters and, when the adapter carries a trained head, writes it over the
    /// model's classifier (same shapes required: a head for another label count is an error).
    public func apply(to model: RobertaModel) throws {
        try attach(to: model)
        guard let head, let classifier = model.weights.classifier else { return }
        let targets: [String: (FloatBuffer, [Int])] = [
            "classifier.dense.weight": (classifier.dense.weight, [classifier.dense.outFeatures, classifier.dense.inFeatures]),
            "classifier.dense.bias": (classifier.dense.bias!, [classifier.dense.outFeatures]),
            "classifier.out_proj.weight": (classifier.outProjection.weight, [classifier.outProjection.outFeatures, classifier.outProjection.inFeatures]),
            "classifier.out_proj.bias": (classifier.outProjection.bias!, [classifier.outProjection.outFeatures]),
        ]
        for tensor in head.tensors {
            guard let (buffer, shape) = targets[tensor.name] else { continue }
            guard shape == tensor.shape else { throw ApplyError.headMismatch(tensor: tensor.name, adapter: tensor.shape, model: shape) }
            buffer.pointer.update(from: tensor.values.pointer, count: buffer.count)
        }
    }
}

extension AdapterSet {
    /// `base` with this adapter attached and its head in place: what eval and predict run. A
    /// base without a head (a pretrained checkpoint an adapter was trained on with a fresh
    /// head) takes the adapter's: a head of its label count, every value then written over
    /// from the adapter. A base with a head keeps it unless the adapter carries one.
    public func model(on base: RobertaModel) throws -> RobertaModel {
        var model = base
        if base.weights.classifier == nil, let head, head.tensors.contains(where: { $0.name == "classifier.out_proj.weight" }) {
            model = try base.withFreshHead(id2label: head.labels, seed: 0)  // its draws are all replaced by apply
            let names = Set(head.tensors.map(\.name))
            for name in ["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"]
            where !names.contains(name) {
                throw ApplyError.headIncomplete(missing: name)
            }
        }
        try apply(to: model)
        return model
    }
}
