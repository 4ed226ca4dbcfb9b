import LSREngine
import LSRFormats
import TestSupport
import Testing

/// Each layer's backward pass against torch autograd (Fixtures/reference/layer_grads.safetensors,
/// written by Fixtures/generate/layer_grads_reference.py with torch 2.13 in float64 from float32
/// inputs). Tolerance: 1e-5 absolute on gradients of order 0.05–9; every element compared, the
/// max difference printed on failure. The f32 sums here are at most 12 roundings deep
/// (LowRankDelta's dUp: 6 features, then 5 rows). Their worst-case bound depth·u·Σ|terms| is
/// ≤ 3.3e-6 for Linear and LowRankDelta's y and dx, 1.1e-5 for dDown (10·u·17.7) and 2.1e-5
/// for dUp (12·u·29.4), whose independent roundings add to √12·u·29.4 ≈ 6e-6; LayerNorm,
/// softmax and the activations add a few ulps of values ≤ 5. Measured ≤ 1.2e-6 under Zen,
/// Sandybridge and Prescott kernels.
@Suite struct BackwardTests {
    let reference: TensorArchive
    init() throws { reference = try Checkpoint.open(TestPaths.fixture("reference/layer_grads.safetensors")) }

    func buffer(_ name: String) throws -> FloatBuffer { FloatBuffer(try floats(reference, name)) }

    func expectClose(_ got: FloatBuffer, _ name: String, tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let want = try floats(reference, name)
        #expect(got.count == want.count, "\(name): \(got.count) values, expected \(want.count)", sourceLocation: sourceLocation)
        let d = maxAbsDifference(got.array, want)
        #expect(d <= tolerance, "\(name): max |Δ| = \(d)", sourceLocation: sourceLocation)
    }

    @Test func linear() throws {
        let layer = Linear(weight: try buffer("linear.w"), bias: try buffer("linear.b"), inFeatures: 6, outFeatures: 4)
        let (x, dy) = (try buffer("linear.x"), try buffer("linear.dy"))
        let (dx, dw, db) = (FloatBuffer(count: 30), FloatBuffer(count: 24), FloatBuffer(count: 4))
        layer.backward(x.pointer, dy: dy.pointer, rows: 5, dx: dx.pointer, dWeight: dw.pointer, dBias: db.pointer)
        try expectClose(dx, "linear.dx")
        try expectClose(dw, "linear.dw")
        try expectClose(db, "linear.db")
    }

    @Test func layerNorm() throws {
        let norm = LayerNorm(weight: try buffer("layernorm.gamma"), bias: try buffer("layernorm.beta"), eps: 1e-5)
        let (x, dy) = (try buffer("layernorm.x"), try buffer("layernorm.dy"))
        let (y, mean, rstd) = (FloatBuffer(count: 40), FloatBuffer(count: 5), FloatBuffer(count: 5))
        norm.forward(x.pointer, rows: 5, into: y.pointer, mean: mean.pointer, rstd: rstd.pointer)
        let (dx, dg, db) = (FloatBuffer(count: 40), FloatBuffer(count: 8), FloatBuffer(count: 8))
        norm.backward(x.pointer, mean: mean.pointer, rstd: rstd.pointer, dy: dy.pointer, rows: 5, dx: dx.pointer, dGamma: dg.pointer, dBeta: db.pointer)
        try expectClose(dx, "layernorm.dx")
        try expectClose(dg, "layernorm.dgamma")
        try expectClose(db, "layernorm.dbeta")
    }

    @Test func activations() throws {
        for (activation, prefix, count) in [(Activation.gelu, "gelu", 50), (.tanh, "tanh", 20)] {
            let (x, dy) = (try buffer(prefix + ".x"), try buffer(prefix + ".dy"))
            let (y, dx) = (FloatBuffer(count: count), FloatBuffer(count: count))
            activation.forward(x.pointer, count: count, into: y.pointer)
            activation.backward(x.pointer, y: y.pointer, dy: dy.pointer, count: count, dx: dx.pointer)
            try expectClose(dx, prefix + ".dx")
        }
    }

    /// Masked attention: forward reproduces torch's context and probabilities, and the gradient
    /// reaches query, key and value of every real key; padded keys get exactly 0.
    @Test func maskedAttention() throws {
        let shape = AttentionShape(batch: 2, length: 5, heads: 2, headDim: 3)
        let (qkv, mask, dcontext) = (try buffer("attention.qkv"), try buffer("attention.mask"), try buffer("attention.dcontext"))
        let (probs, context) = (FloatBuffer(count: shape.probsCount), FloatBuffer(count: 60))
        Attention.forward(qkv: qkv.pointer, keyMask: mask.pointer, shape: shape, probs: probs.pointer, context: context.pointer)
        try expectClose(context, "attention.context")
        try expectClose(probs, "attention.probs")
        let (dqkv, scratch) = (FloatBuffer(count: 180), FloatBuffer(count: shape.probsCount))
        Attention.backward(qkv: qkv.pointer, probs: probs.pointer, dcontext: dcontext.pointer, shape: shape, scratch: scratch.pointer, dqkv: dqkv.pointer)
        try expectClose(dqkv, "attention.dqkv")
        #expect(dqkv.array.filter { $0 == 0 }.count == 24)  // key and value columns of the 2 padded tokens
    }

    /// The classification head (dense → tanh → out_proj) with cross-entropy, and with MSE on a
    /// one-output head: loss, input gradient and every parameter gradient.
    @Test func headAndLosses() throws {
        let dense = Linear(weight: try buffer("head.dense.w"), bias: try buffer("head.dense.b"), inFeatures: 6, outFeatures: 6)
        let x = try buffer("head.x")
        let (h, t) = (FloatBuffer(count: 18), FloatBuffer(count: 18))
        dense.forward(x.pointer, rows: 3, into: h.pointer)
        Activation.tanh.forward(h.pointer, count: 18, into: t.pointer)
        let labels = try #require(reference["head.labels"]).bytes.buffer.bindMemory(to: Int64.self).map { Int($0) }

        for regression in [false, true] {
            let prefix = regression ? "head.reg." : "head."
            let outputs = regression ? 1 : 2
            let out = Linear(weight: try buffer(prefix + "out.w"), bias: try buffer(prefix + "out.b"), inFeatures: 6, outFeatures: outputs)
            let (logits, dlogits) = (FloatBuffer(count: 3 * outputs), FloatBuffer(count: 3 * outputs))
            out.forward(t.pointer, rows: 3, into: logits.pointer)
            let loss =
                regression
                ? Loss.meanSquaredError(outputs: logits.pointer, targets: try floats(reference, "head.reg.targets"), doutputs: dlogits.pointer)
                : Loss.crossEntropy(logits: logits.pointer, labels: labels, classes: 2, dlogits: dlogits.pointer)
            // Logits of two 6-term layers (Σ|terms| ≤ 2.6 and 2.4): worst case 7u·Σ each, 3e-6
            // with the dense layer's error passed on, but the partial sums are about the results
            // (≤ 0.8), so ≈ 2e-7 RMS; the loss moves by ≤ 2·max|Δlogit| (CE) or 2·|Δpred| (MSE)
            // averaged over 3 rows, and the f32 reference adds ½ ulp (3e-8): 1e-6 (7e-8 measured).
            let want = Double(try floats(reference, prefix + "loss")[0])
            #expect(abs(loss - want) < 1e-6, "\(prefix)loss \(loss), reference \(want)")
            let (dt, dOutW, dOutB) = (FloatBuffer(count: 18), FloatBuffer(count: 6 * outputs), FloatBuffer(count: outputs))
            out.backward(t.pointer, dy: dlogits.pointer, rows: 3, dx: dt.pointer, dWeight: dOutW.pointer, dBias: dOutB.pointer)
            let dh = FloatBuffer(count: 18)
            Activation.tanh.backward(h.pointer, y: t.pointer, dy: dt.pointer, count: 18, dx: dh.pointer)
            let (dx, dDenseW, dDenseB) = (FloatBuffer(count: 18), FloatBuffer(count: 36), FloatBuffer(count: 6))
            dense.backward(x.pointer, dy: dh.pointer, rows: 3, dx: dx.pointer, dWeight: dDenseW.pointer, dBias: dDenseB.pointer)
            try expectClose(dx, prefix + "dx")
            try expectClose(dOutW, prefix + "out.dw")
            try expectClose(dOutB, prefix + "out.db")
            try expectClose(dDenseW, regression ? "head.reg.dense.dw" : "head.dense.dw")
            try expectClose(dDenseB, regression ? "head.reg.dense.db" : "head.dense.db")
        }
    }

    /// The adapter term of a Linear: forward y = 2·(x·Downᵀ)·Upᵀ and its gradients.
    @Test func lowRankDelta() throws {
        let delta = LowRankDelta(up: try buffer("lowrank.up"), down: try buffer("lowrank.down"), outFeatures: 4, inFeatures: 6, rank: 2, scaling: 2)
        let (x, dy) = (try buffer("lowrank.x"), try buffer("lowrank.dy"))
        let y = FloatBuffer(count: 20)
        delta.forward(x.pointer, rows: 5, into: y.pointer, ldy: 4)
        try expectClose(y, "lowrank.y")
        let (dUp, dDown, dx) = (FloatBuffer(count: 8), FloatBuffer(count: 12), FloatBuffer(count: 30))
        delta.backward(x.pointer, dy: dy.pointer, ldy: 4, rows: 5, dUp: dUp.pointer, dDown: dDown.pointer, dx: dx.pointer)
        try expectClose(dUp, "lowrank.dup")
        try expectClose(dDown, "lowrank.ddown")
        try expectClose(dx, "lowrank.dx")
    }
}
