import LSREngine

/// Gradients of one training step: adapter terms (dUp, dDown per adapted Linear) and, unless the
/// head is frozen, the classification head. The encoder's own weights are frozen: only
/// activation gradients flow through them (no dW is ever formed). Buffers are sized once per
/// batch shape and zeroed at the start of each `backward` (llm.c: gradients accumulate within it).
///
/// Legend: B batch, T tokens, N = B·T, C hidden, F intermediate, L labels.
public final class RobertaGradients: @unchecked Sendable {
    /// dUp [out, r] and dDown [r, in] per layer and adapted Linear.
    public private(set) var adapters: [[RobertaModel.AdaptedLinear: (up: FloatBuffer, down: FloatBuffer)]]
    /// dW, db of classifier.dense and classifier.out_proj (nil: head frozen or absent).
    public private(set) var head: (denseWeight: FloatBuffer, denseBias: FloatBuffer, outWeight: FloatBuffer, outBias: FloatBuffer)?
    public let shape: AttentionShape
    // Activation gradients, reused layer after layer.
    let dHidden: FloatBuffer  // [N, C]: w.r.t. the current layer's output
    let dInput: FloatBuffer  // [N, C]: w.r.t. its input
    let dAttended: FloatBuffer  // [N, C]
    let dAttentionSum: FloatBuffer  // [N, C]
    let dContext: FloatBuffer  // [N, C]
    let dQKV: FloatBuffer  // [N, 3C]
    let dIntermediate: FloatBuffer  // [N, F]
    let dActivated: FloatBuffer  // [N, F]
    let dOutputSum: FloatBuffer  // [N, C]
    let scratch: FloatBuffer  // [B, H, T, T]
    let dLogits: FloatBuffer  // [B, L]
    let dPooledDense: FloatBuffer  // [B, C]
    let dPooledPre: FloatBuffer  // [B, C]
    let dPooled: FloatBuffer  // [B, C]

    public init(model: RobertaModel, shape: AttentionShape, trainHead: Bool) {
        self.shape = shape
        let (n, c, f) = (shape.batch * shape.length, model.config.hiddenSize, model.config.intermediateSize)
        adapters = model.adapters.map { layer in
            layer.mapValues { (FloatBuffer(count: $0.outFeatures * $0.rank), FloatBuffer(count: $0.rank * $0.inFeatures)) }
        }
        if trainHead, let h = model.weights.classifier {
            head = (
                FloatBuffer(count: h.dense.weight.count), FloatBuffer(count: h.dense.outFeatures), FloatBuffer(count: h.outProjection.weight.count),
                FloatBuffer(count: h.outProjection.outFeatures)
            )
        }
        let labels = model.weights.labelCount ?? 1
        (dHidden, dInput, dAttended, dAttentionSum, dContext) = (
            FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: n * c)
        )
        dQKV = FloatBuffer(count: n * 3 * c)
        (dIntermediate, dActivated) = (FloatBuffer(count: n * f), FloatBuffer(count: n * f))
        dOutputSum = FloatBuffer(count: n * c)
        scratch = FloatBuffer(count: shape.probsCount)
        dLogits = FloatBuffer(count: shape.batch * labels)
        (dPooledDense, dPooledPre, dPooled) = (FloatBuffer(count: shape.batch * c), FloatBuffer(count: shape.batch * c), FloatBuffer(count: shape.batch * c))
    }

    func zeroParameters() {
        for layer in adapters { for (_, g) in layer { g.up.zero(); g.down.zero() } }
        if let head { [head.denseWeight, head.denseBias, head.outWeight, head.outBias].forEach { $0.zero() } }
    }
}

extension RobertaModel {
    /// The training objective on the logits of `ws`: mean cross-entropy against class ids, or
    /// mean squared error for a one-label (regression) head.
    public enum Targets: Sendable {
        case classes([Int])
        case values([Float])
    }

    /// Backward pass of the forward that filled `ws` (run with keepActivations): the loss, and
    /// its gradients in `grads`. The model's backward is its forward reversed: head, then each
    /// layer from the last, each block's LayerNorm, residual, Linears (and adapters) in turn.
    /// A forward with dropout is differentiated through the same masks (regenerated from the
    /// workspace's seed, stream and site: dx = dy∘M/(1 − p)).
    ///
    /// `lossScale` multiplies the loss's gradient (and so every gradient: backward is linear in
    /// it). A data-parallel rank holding n of a micro-batch's B rows passes n/B, so that the
    /// ranks' gradients sum to the gradient of the micro-batch's mean loss; the returned loss
    /// stays the mean over `ws`'s rows. 1 leaves every bit as it was.
    public func backward(_ ws: RobertaWorkspace, targets: Targets, grads g: RobertaGradients, lossScale: Float = 1) -> Double {
        precondition(ws.keepsActivations, "backward needs a forward with keepActivations")  // a programming error, not input
        let (b, t) = (ws.shape.batch, ws.shape.length)
        let (n, c, f) = (b * t, config.hiddenSize, config.intermediateSize)
        g.zeroParameters()
        guard let classifier = weights.classifier else { return .nan }
        let labels = classifier.outProjection.outFeatures
        let sites = ws.dropoutSites

        // Loss → dlogits [B, L].
        let loss: Double
        switch targets {
        case .classes(let ids): loss = Loss.crossEntropy(logits: ws.logits.pointer, labels: ids, classes: labels, dlogits: g.dLogits.pointer)
        case .values(let v): loss = Loss.meanSquaredError(outputs: ws.logits.pointer, targets: v, doutputs: g.dLogits.pointer)
        }
        if lossScale != 1 { for i in 0..<b * labels { g.dLogits.pointer[i] *= lossScale } }  // B×labels values

        // Head: out_proj ← tanh ← dense ← the <s> rows.
        [g.dPooledDense, g.dPooledPre, g.dPooled, g.dHidden].forEach { $0.zero() }
        classifier.outProjection.backward(
            ws.headInput.pointer, dy: g.dLogits.pointer, rows: b, dx: g.dPooledDense.pointer, dWeight: g.head?.outWeight.pointer,
            dBias: g.head?.outBias.pointer)
        if let mask = sites?.classifierHidden { Dropout.backward(g.dPooledDense.pointer, count: b * c, mask: mask, into: g.dPooledDense.pointer) }
        Activation.tanh.backward(ws.pooledDense.pointer, y: ws.pooledDense.pointer, dy: g.dPooledDense.pointer, count: b * c, dx: g.dPooledPre.pointer)
        classifier.dense.backward(
            ws.pooled.pointer, dy: g.dPooledPre.pointer, rows: b, dx: g.dPooled.pointer, dWeight: g.head?.denseWeight.pointer,
            dBias: g.head?.denseBias.pointer)
        if let mask = sites?.classifierInput { Dropout.backward(g.dPooled.pointer, count: b * c, mask: mask, into: g.dPooled.pointer) }
        for item in 0..<b { (g.dHidden.pointer + item * t * c).update(from: g.dPooled.pointer + item * c, count: c) }

        for index in weights.layers.indices.reversed() {
            let (layer, a, deltas, dDeltas) = (weights.layers[index], ws.layers[index], adapters[index], g.adapters[index])
            [g.dInput, g.dAttended, g.dAttentionSum, g.dContext, g.dQKV, g.dIntermediate, g.dActivated, g.dOutputSum].forEach { $0.zero() }
            // Feed-forward block: LayerNorm(output(act) + attended).
            layer.outputNorm.backward(
                a.outputSum.pointer, mean: a.outputMean.pointer, rstd: a.outputRstd.pointer, dy: g.dHidden.pointer, rows: n, dx: g.dOutputSum.pointer)
            Elementwise.add(g.dOutputSum.pointer, into: g.dAttended.pointer, count: n * c)  // residual
            if let mask = sites?.feedForwardOutput(index) {  // the residual is not dropped: mask after it
                Dropout.backward(g.dOutputSum.pointer, count: n * c, mask: mask, into: g.dOutputSum.pointer)
            }
            layer.output.backward(a.activated.pointer, dy: g.dOutputSum.pointer, rows: n, dx: g.dActivated.pointer)
            if let delta = deltas[.output], let d = dDeltas[.output] {
                delta.backward(a.activated.pointer, dy: g.dOutputSum.pointer, ldy: c, rows: n, dUp: d.up.pointer, dDown: d.down.pointer, dx: g.dActivated.pointer)
            }
            activation.backward(a.intermediate.pointer, y: a.activated.pointer, dy: g.dActivated.pointer, count: n * f, dx: g.dIntermediate.pointer)
            layer.intermediate.backward(a.attended.pointer, dy: g.dIntermediate.pointer, rows: n, dx: g.dAttended.pointer)
            if let delta = deltas[.intermediate], let d = dDeltas[.intermediate] {
                delta.backward(a.attended.pointer, dy: g.dIntermediate.pointer, ldy: f, rows: n, dUp: d.up.pointer, dDown: d.down.pointer, dx: g.dAttended.pointer)
            }
            // Attention block: LayerNorm(attention_output(attention(x·Wqkv)) + x).
            layer.attentionNorm.backward(
                a.attentionSum.pointer, mean: a.attentionMean.pointer, rstd: a.attentionRstd.pointer, dy: g.dAttended.pointer, rows: n,
                dx: g.dAttentionSum.pointer)
            Elementwise.add(g.dAttentionSum.pointer, into: g.dInput.pointer, count: n * c)  // residual
            if let mask = sites?.attentionOutput(index) {
                Dropout.backward(g.dAttentionSum.pointer, count: n * c, mask: mask, into: g.dAttentionSum.pointer)
            }
            layer.attentionOutput.backward(a.context.pointer, dy: g.dAttentionSum.pointer, rows: n, dx: g.dContext.pointer)
            if let delta = deltas[.attentionOutput], let d = dDeltas[.attentionOutput] {
                delta.backward(a.context.pointer, dy: g.dAttentionSum.pointer, ldy: c, rows: n, dUp: d.up.pointer, dDown: d.down.pointer, dx: g.dContext.pointer)
            }
            Attention.backward(
                qkv: a.qkv.pointer, probs: a.probs.pointer, dcontext: g.dContext.pointer, shape: ws.shape, scratch: g.scratch.pointer,
                dqkv: g.dQKV.pointer, dropout: sites?.attentionProbs(index), recomputeWith: ws.keyMask.pointer)
            // Layer 0's input gradient would only flow into the frozen embeddings: not computed
            // (a [N, C]×[C, 3C] GEMM less; autograd skips it too).
            let dInput = index > 0 ? g.dInput.pointer : nil
            // The layer's input, which only q/k/v adapters read: layer 0 kept it; a later layer's is
            // the previous one's output LayerNorm, recomputed (the same function of the same
            // values, so the same bits) into dAttended, free once the attention LayerNorm's
            // backward above has read it.
            var input = a.input.pointer
            if index > 0 && [AdaptedLinear.query, .key, .value].contains(where: { deltas[$0] != nil }) {
                let previous = ws.layers[index - 1]
                weights.layers[index - 1].outputNorm.forward(
                    previous.outputSum.pointer, rows: n, into: g.dAttended.pointer, mean: previous.outputMean.pointer, rstd: previous.outputRstd.pointer)
                input = g.dAttended.pointer
            }
            layer.queryKeyValue.backward(input, dy: g.dQKV.pointer, rows: n, dx: dInput)
            for (linear, offset) in [(AdaptedLinear.query, 0), (.key, c), (.value, 2 * c)] {
                if let delta = deltas[linear], let d = dDeltas[linear] {
                    delta.backward(input, dy: g.dQKV.pointer + offset, ldy: 3 * c, rows: n, dUp: d.up.pointer, dDown: d.down.pointer, dx: dInput)
                }
            }
            if index > 0 { g.dHidden.pointer.update(from: g.dInput.pointer, count: n * c) }
        }
        // The embeddings are frozen and below every adapter: the gradient stops here (their
        // dropout needs no backward).
        return loss
    }
}
