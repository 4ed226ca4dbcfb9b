import LSREngine
import LSRModel

extension AdapterSet {
    public enum ApplyError: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// The adapter was made for a base model of another shape.
        case baseMismatch(field: String, adapter: Int, model: Int)
        public var description: String {
            switch self {
            case .baseMismatch(let f, let a, let m): "adapter made for \(f) = \(a), the model has \(m)"
            }
        }
    }

    /// Checks that `model` has the shape this adapter was made for (hidden size, layers, heads,
    /// intermediate size, vocabulary).
    public func checkBase(_ model: RobertaModel) throws(ApplyError) {
        let c = model.config
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
}
