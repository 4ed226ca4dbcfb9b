import LSREngine
import LSRFormats

/// RoBERTa encoder + sequence-classification head on the CPU (transformers
/// modeling_roberta.py: RobertaEmbeddings, RobertaLayer ×L, RobertaClassificationHead), in
/// eval mode (dropout is the identity) unless `forward` is given `DropoutSettings`.
///
/// Legend: B batch, T tokens per item (padded), N = B·T, C hidden, H heads, D = C/H,
/// F intermediate, L labels.
public final class RobertaModel: @unchecked Sendable {
    public let config: RobertaConfig
    public let weights: RobertaWeights
    public let activation: Activation
    /// Adapter terms per layer and module (empty: the base model). Set with `attach`.
    public private(set) var adapters: [[AdaptedLinear: LowRankDelta]]

    /// The Linear layers of a RoBERTa layer an adapter can attach to, by transformers' path.
    public enum AdaptedLinear: String, CaseIterable, Sendable {
        case query = "attention.self.query"
        case key = "attention.self.key"
        case value = "attention.self.value"
        case attentionOutput = "attention.output.dense"
        case intermediate = "intermediate.dense"
        case output = "output.dense"

        /// Parses "roberta.encoder.layer.N.<path>" (or without the roberta. prefix).
        public static func parse(_ module: String) -> (layer: Int, linear: AdaptedLinear)? {
            let bare = module.hasPrefix("roberta.") ? String(module.dropFirst("roberta.".count)) : module
            let parts = bare.split(separator: ".", maxSplits: 3).map(String.init)
            guard parts.count == 4, parts[0] == "encoder", parts[1] == "layer", let layer = Int(parts[2]), layer >= 0,
                let linear = AdaptedLinear(rawValue: parts[3])
            else { return nil }
            return (layer, linear)
        }
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case unsupportedActivation(String)
        case tokenOutOfRange(id: Int32, row: Int, vocabulary: Int)
        case tokenTypeOutOfRange(id: Int32, row: Int, typeVocabulary: Int)
        /// Position ids run past the position table (RoBERTa counts from pad_token_id + 1).
        case sequenceTooLong(row: Int, tokens: Int, maximum: Int)
        case batchShape(String)
        /// A dropout probability outside [0, 1]; `site` is hidden, attention or classifier.
        case invalidDropout(site: String, probability: Float)

        public var description: String {
            switch self {
            case .unsupportedActivation(let a):
                "config field /hidden_act: '\(a)' is not supported (supported: \(Activation.configNames.joined(separator: ", ")))"
            case .tokenOutOfRange(let id, let row, let v): "row \(row): token id \(id) is outside the vocabulary of \(v)"
            case .tokenTypeOutOfRange(let id, let row, let v): "row \(row): token type \(id) is outside the \(v) token types"
            case .sequenceTooLong(let row, let n, let m): "row \(row): \(n) tokens exceed the model's limit of \(m)"
            case .batchShape(let s): "batch: \(s)"
            case .invalidDropout(let site, let p): "\(site) dropout probability \(p) is outside [0, 1]"
            }
        }
    }

    public init(config: RobertaConfig, weights: RobertaWeights) throws(Error) {
        guard let activation = Activation(configName: config.hiddenAct) else { throw .unsupportedActivation(config.hiddenAct) }
        self.config = config
        self.weights = weights
        self.activation = activation
        adapters = Array(repeating: [:], count: weights.layers.count)
    }

    public enum AttachError: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case unknownModule(String)
        case shapeMismatch(module: String, expected: [Int], adapter: [Int])
        public var description: String {
            switch self {
            case .unknownModule(let m): "module '\(m)' is not an adaptable Linear layer of this model"
            case .shapeMismatch(let m, let e, let a): "module '\(m)': adapter is \(a[0])×\(a[1]), the model's layer is \(e[0])×\(e[1])"
            }
        }
    }

    /// Adds `delta` to the output of `module` (transformers' path, e.g.
    /// roberta.encoder.layer.0.attention.self.query); replaces an earlier one on the same module.
    public func attach(_ delta: LowRankDelta, to module: String) throws(AttachError) {
        guard let (layer, linear) = AdaptedLinear.parse(module), layer < adapters.count else { throw .unknownModule(module) }
        let (out, inputs) = shape(of: linear)
        guard delta.outFeatures == out, delta.inFeatures == inputs else {
            throw .shapeMismatch(module: module, expected: [out, inputs], adapter: [delta.outFeatures, delta.inFeatures])
        }
        adapters[layer][linear] = delta
    }

    /// Removes every adapter (back to the base model).
    public func detachAll() { adapters = Array(repeating: [:], count: weights.layers.count) }

    /// [out, in] of an adaptable Linear.
    public func shape(of linear: AdaptedLinear) -> (out: Int, in: Int) {
        let (c, f) = (config.hiddenSize, config.intermediateSize)
        switch linear {
        case .query, .key, .value, .attentionOutput: return (c, c)
        case .intermediate: return (f, c)
        case .output: return (c, f)
        }
    }

    /// Longest sequence the position table allows: positions run from pad+1 to pad+T.
    public var maxTokens: Int { config.maxPositionEmbeddings - config.padTokenId - 1 }

    /// Which inputs of the Linears after attention each layer must keep for backward: with the
    /// weights frozen a Linear's input is read only for its adapter's gradient (and tanh's
    /// backward reads its output), so the others share one scratch buffer across layers. At
    /// 16×128 on RoBERTa-base with adapters on query/value this keeps ~400 MB less.
    func retained() -> [ActivationRetention] {
        adapters.map { d in
            ActivationRetention(context: d[.attentionOutput] != nil, attended: d[.intermediate] != nil, activated: d[.output] != nil || activation == .tanh)
        }
    }

    /// One forward pass. `workspace` is reused when its shape matches the batch (no allocation
    /// in steady state); pass the one returned last time.
    /// `keepActivations`: keep every layer's activations for `backward` (training).
    /// `dropout`: training-mode dropout with masks drawn from (settings.seed, `stream`, site)
    /// (see `DropoutSettings`); pass a different `stream` for every micro-batch (the trainer's
    /// global micro-batch index). nil or all probabilities 0: eval mode, bit for bit the pass
    /// without dropout. `backward` reuses the masks this pass drew (the workspace records them).
    /// `firstRow`: where `batch` starts within the micro-batch the masks are drawn for (a
    /// data-parallel rank's share; see `DropoutSites`).
    public func forward(
        _ batch: TokenBatch, workspace: RobertaWorkspace? = nil, keepActivations: Bool = false, dropout: DropoutSettings? = nil,
        stream: UInt64 = 0, firstRow: Int = 0
    ) throws(Error) -> RobertaWorkspace {
        try validate(batch)
        try dropout?.validate()
        let (b, t, c) = (batch.batch, batch.length, config.hiddenSize)
        let n = b * t
        let shape = AttentionShape(batch: b, length: t, heads: config.numAttentionHeads, headDim: c / config.numAttentionHeads)
        let labels = weights.labelCount ?? 0
        let retention = keepActivations ? retained() : []
        let ws = workspace?.fits(shape: shape, config: config, labels: labels, retention: retention, keepsActivations: keepActivations) == true
            ? workspace!
            : RobertaWorkspace(
                shape: shape, config: config, labels: labels, layers: weights.layers.count, keepsActivations: keepActivations, retention: retention)
        let sites = dropout.flatMap {
            $0.isOff
                ? nil
                : DropoutSites(
                    settings: $0, stream: stream, layers: weights.layers.count, firstRow: firstRow, length: t, hidden: c,
                    heads: config.numAttentionHeads)
        }
        ws.dropoutSites = sites
        if sites?.settings.attention ?? 0 > 0, ws.droppedProbs == nil { ws.droppedProbs = FloatBuffer(count: shape.probsCount) }

        // Embeddings, then LayerNorm: hidden [N, C].
        let positions = Embedding.positionIds(batch.ids, batch: b, length: t, padId: Int32(config.padTokenId))
        batch.ids.withUnsafeBufferPointer { ids in
            positions.withUnsafeBufferPointer { pos in
                batch.tokenTypes.withUnsafeBufferPointer { types in
                    Embedding.forward(
                        ids: ids.baseAddress!, positions: pos.baseAddress!, tokenTypes: types.baseAddress!, count: n,
                        word: weights.wordEmbeddings, position: weights.positionEmbeddings, tokenType: weights.tokenTypeEmbeddings,
                        width: c, into: ws.hidden.pointer)
                }
            }
        }
        weights.embeddingNorm.forward(ws.hidden.pointer, rows: n, into: ws.hidden.pointer)
        if let mask = sites?.embeddings { Dropout.forward(ws.hidden.pointer, count: n * c, mask: mask, into: ws.hidden.pointer) }
        for i in 0..<n { ws.keyMask.pointer[i] = batch.mask[i] != 0 ? 1 : 0 }

        for (i, layer) in weights.layers.enumerated() { encoderLayer(layer, index: i, ws: ws, rows: n, shape: shape, dropout: sites) }

        if let classifier = weights.classifier {
            // x[:, 0] (the <s> token of each item) → dropout → dense → tanh → dropout → out_proj.
            for item in 0..<b { (ws.pooled.pointer + item * c).update(from: ws.hidden.pointer + item * t * c, count: c) }
            if let mask = sites?.classifierInput { Dropout.forward(ws.pooled.pointer, count: b * c, mask: mask, into: ws.pooled.pointer) }
            classifier.dense.forward(ws.pooled.pointer, rows: b, into: ws.pooledDense.pointer)
            Activation.tanh.forward(ws.pooledDense.pointer, count: b * c, into: ws.pooledDense.pointer)
            if let mask = sites?.classifierHidden { Dropout.forward(ws.pooledDense.pointer, count: b * c, mask: mask, into: ws.pooledDropped.pointer) }
            classifier.outProjection.forward(ws.headInput.pointer, rows: b, into: ws.logits.pointer)
        }
        return ws
    }

    /// One RobertaLayer: attention block, then feed-forward block, each closed by a residual
    /// sum and LayerNorm (post-norm), with any attached adapter added to its Linear's output.
    /// Reads and writes ws.hidden.
    /// `dropout`: the pass's masks (nil: eval mode), applied where RobertaSelfAttention (probs),
    /// RobertaSelfOutput and RobertaOutput apply theirs.
    private func encoderLayer(
        _ layer: RobertaLayerWeights, index: Int, ws: RobertaWorkspace, rows n: Int, shape: AttentionShape, dropout sites: DropoutSites?
    ) {
        let c = config.hiddenSize
        let f = config.intermediateSize
        let deltas = adapters[index]
        let a = ws.layers[index]
        // Only layer 0 keeps a copy of its input for backward; later layers' inputs are
        // recomputed there from the previous layer's outputSum (one LayerNorm, bit for bit the same).
        if a.input.count > 0 { a.input.pointer.update(from: ws.hidden.pointer, count: n * c) }
        let x = a.input.count > 0 ? a.input.pointer : ws.hidden.pointer  // [N, C], read until the first residual
        layer.queryKeyValue.forward(x, rows: n, into: a.qkv.pointer)  // [N, 3C]
        // Adapters on query/key/value add into their column block of the fused output.
        for (linear, offset) in [(AdaptedLinear.query, 0), (.key, c), (.value, 2 * c)] {
            deltas[linear]?.forward(x, rows: n, into: a.qkv.pointer + offset, ldy: 3 * c)
        }
        Attention.forward(
            qkv: a.qkv.pointer, keyMask: ws.keyMask.pointer, shape: shape, probs: a.probs.pointer, context: a.context.pointer,
            dropout: sites?.attentionProbs(index), dropped: ws.droppedProbs?.pointer)
        layer.attentionOutput.forward(a.context.pointer, rows: n, into: a.attentionSum.pointer)  // [N, C]
        deltas[.attentionOutput]?.forward(a.context.pointer, rows: n, into: a.attentionSum.pointer, ldy: c)
        if let mask = sites?.attentionOutput(index) { Dropout.forward(a.attentionSum.pointer, count: n * c, mask: mask, into: a.attentionSum.pointer) }
        Elementwise.add(x, into: a.attentionSum.pointer, count: n * c)
        layer.attentionNorm.forward(
            a.attentionSum.pointer, rows: n, into: a.attended.pointer, mean: a.attentionMean.pointer, rstd: a.attentionRstd.pointer)
        layer.intermediate.forward(a.attended.pointer, rows: n, into: a.intermediate.pointer)  // [N, F]
        deltas[.intermediate]?.forward(a.attended.pointer, rows: n, into: a.intermediate.pointer, ldy: f)
        activation.forward(a.intermediate.pointer, count: n * f, into: a.activated.pointer)
        layer.output.forward(a.activated.pointer, rows: n, into: a.outputSum.pointer)  // [N, C]
        deltas[.output]?.forward(a.activated.pointer, rows: n, into: a.outputSum.pointer, ldy: c)
        if let mask = sites?.feedForwardOutput(index) { Dropout.forward(a.outputSum.pointer, count: n * c, mask: mask, into: a.outputSum.pointer) }
        Elementwise.add(a.attended.pointer, into: a.outputSum.pointer, count: n * c)
        layer.outputNorm.forward(a.outputSum.pointer, rows: n, into: ws.hidden.pointer, mean: a.outputMean.pointer, rstd: a.outputRstd.pointer)
    }

    private func validate(_ batch: TokenBatch) throws(Error) {
        let n = batch.batch * batch.length
        guard batch.batch >= 1, batch.length >= 1, batch.ids.count == n, batch.mask.count == n, batch.tokenTypes.count == n else {
            throw .batchShape("ids, mask and token types must each hold batch × length = \(n) values")
        }
        guard batch.length <= maxTokens else {
            throw .sequenceTooLong(row: 0, tokens: batch.length, maximum: maxTokens)
        }
        for i in 0..<n {
            if batch.ids[i] < 0 || Int(batch.ids[i]) >= config.vocabSize {
                throw .tokenOutOfRange(id: batch.ids[i], row: i / batch.length, vocabulary: config.vocabSize)
            }
            if batch.tokenTypes[i] < 0 || Int(batch.tokenTypes[i]) >= config.typeVocabSize {
                throw .tokenTypeOutOfRange(id: batch.tokenTypes[i], row: i / batch.length, typeVocabulary: config.typeVocabSize)
            }
        }
    }
}

/// A padded batch of token ids, row-major [B, T].
public struct TokenBatch: Sendable {
    public var ids: [Int32]
    /// 1 for real tokens, 0 for padding.
    public var mask: [Int32]
    /// All zeros for RoBERTa (one token type).
    public var tokenTypes: [Int32]
    public var batch: Int
    public var length: Int

    public init(ids: [Int32], mask: [Int32], tokenTypes: [Int32]? = nil, batch: Int, length: Int) {
        self.ids = ids
        self.mask = mask
        self.tokenTypes = tokenTypes ?? [Int32](repeating: 0, count: ids.count)
        self.batch = batch
        self.length = length
    }
}

/// Per layer, whether the backward pass reads these activations (else they live in a scratch
/// buffer shared by all layers).
struct ActivationRetention: Equatable {
    var context: Bool
    var attended: Bool
    var activated: Bool
}

/// What one encoder layer computes, kept for the backward pass (shapes per field).
public final class LayerActivations: @unchecked Sendable {
    let input: FloatBuffer  // [N, C]: layer 0's input (training only; other layers recompute theirs in backward)
    let qkv: FloatBuffer  // [N, 3C]
    let probs: FloatBuffer  // [B, H, T, T]: one buffer for all layers (backward recomputes P)
    let context: FloatBuffer  // [N, C]
    let attentionSum: FloatBuffer  // [N, C]: dropout(dense(context)) + input, before LayerNorm
    let attentionMean: FloatBuffer  // [N]
    let attentionRstd: FloatBuffer  // [N]
    let attended: FloatBuffer  // [N, C]: attention block output
    let intermediate: FloatBuffer  // [N, F]: before the activation
    let activated: FloatBuffer  // [N, F]: after it
    let outputSum: FloatBuffer  // [N, C]: dropout(output(activated)) + attended, before LayerNorm
    let outputMean: FloatBuffer  // [N]
    let outputRstd: FloatBuffer  // [N]

    /// `scratch`: where the activations `retain` does not keep are written instead (nil: keep all).
    init(shape: AttentionShape, hidden c: Int, intermediate f: Int, keepsInput: Bool, retain: ActivationRetention? = nil,
        scratch: (context: FloatBuffer, attended: FloatBuffer, activated: FloatBuffer)? = nil, sharedProbs: FloatBuffer? = nil
    ) {
        let n = shape.batch * shape.length
        input = FloatBuffer(count: keepsInput ? n * c : 0)
        qkv = FloatBuffer(count: n * 3 * c)
        // Training recomputes P in backward (Attention.backward recomputeWith:), so all layers share one.
        probs = sharedProbs ?? FloatBuffer(count: shape.probsCount)
        context = retain?.context == false && scratch != nil ? scratch!.context : FloatBuffer(count: n * c)
        attentionSum = FloatBuffer(count: n * c)
        attentionMean = FloatBuffer(count: n)
        attentionRstd = FloatBuffer(count: n)
        attended = retain?.attended == false && scratch != nil ? scratch!.attended : FloatBuffer(count: n * c)
        intermediate = FloatBuffer(count: n * f)
        activated = retain?.activated == false && scratch != nil ? scratch!.activated : FloatBuffer(count: n * f)
        outputSum = FloatBuffer(count: n * c)
        outputMean = FloatBuffer(count: n)
        outputRstd = FloatBuffer(count: n)
    }
}

/// Buffers for one batch shape, allocated once and reused while the shape stays the same. For
/// inference every layer shares one set of activations; for training (`keepsActivations`) each
/// layer has its own, which the backward pass reads in reverse.
public final class RobertaWorkspace: @unchecked Sendable {
    public let shape: AttentionShape
    let hiddenSize: Int
    let intermediateSize: Int
    let labels: Int
    public let keepsActivations: Bool
    let retention: [ActivationRetention]
    public let hidden: FloatBuffer  // [N, C]: after each layer; the last hidden state at the end
    let keyMask: FloatBuffer  // [N]
    let layers: [LayerActivations]
    let pooled: FloatBuffer  // [B, C]: the <s> rows (after the head's first dropout)
    let pooledDense: FloatBuffer  // [B, C]: tanh(dense(pooled))
    let pooledDropped: FloatBuffer  // [B, C]: dropout(pooledDense), out_proj's input when the head drops
    public let logits: FloatBuffer  // [B, L]
    /// The masks the last forward pass drew (nil: it ran in eval mode), for backward.
    var dropoutSites: DropoutSites?
    /// [B, H, T, T]: one layer's dropped attention probabilities for P̃·V, shared by all layers
    /// (allocated by the first forward with attention dropout; the same for every later one).
    var droppedProbs: FloatBuffer?

    /// The dropout settings and stream of the last forward pass (nil: none, eval mode).
    public var dropout: (settings: DropoutSettings, stream: UInt64)? { dropoutSites.map { ($0.settings, $0.stream) } }

    /// out_proj's input: tanh(dense(pooled)), dropped out when the head's second dropout is on.
    var headInput: FloatBuffer { dropoutSites?.classifierHidden == nil ? pooledDense : pooledDropped }

    init(shape: AttentionShape, config: RobertaConfig, labels: Int, layers count: Int, keepsActivations: Bool = false, retention: [ActivationRetention] = []) {
        self.shape = shape
        let (n, c, f) = (shape.batch * shape.length, config.hiddenSize, config.intermediateSize)
        hiddenSize = c
        intermediateSize = f
        self.labels = labels
        self.keepsActivations = keepsActivations
        self.retention = retention
        hidden = FloatBuffer(count: n * c)
        keyMask = FloatBuffer(count: n)
        if keepsActivations {
            // One scratch set for what no layer's backward reads (only its context/attended/activated are used).
            let scratch = retention.count == count && retention.contains { !($0.context && $0.attended && $0.activated) }
                ? (context: FloatBuffer(count: n * c), attended: FloatBuffer(count: n * c), activated: FloatBuffer(count: n * f))
                : nil
            let probs = FloatBuffer(count: shape.probsCount)
            layers = (0..<count).map { i in
                LayerActivations(
                    shape: shape, hidden: c, intermediate: f, keepsInput: i == 0, retain: retention.count == count ? retention[i] : nil, scratch: scratch,
                    sharedProbs: probs)
            }
        } else {
            let shared = LayerActivations(shape: shape, hidden: c, intermediate: f, keepsInput: false)
            layers = Array(repeating: shared, count: count)
        }
        pooled = FloatBuffer(count: shape.batch * c)
        pooledDense = FloatBuffer(count: shape.batch * c)
        pooledDropped = FloatBuffer(count: shape.batch * c)
        logits = FloatBuffer(count: shape.batch * labels)
    }

    func fits(shape: AttentionShape, config: RobertaConfig, labels: Int, retention: [ActivationRetention], keepsActivations: Bool) -> Bool {
        self.shape == shape && hiddenSize == config.hiddenSize && intermediateSize == config.intermediateSize && self.labels == labels
            && self.keepsActivations == keepsActivations && self.retention == retention
    }
}
