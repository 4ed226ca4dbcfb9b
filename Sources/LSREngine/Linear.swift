/// A fully connected layer as torch.nn.Linear stores it: y = x·Wᵀ + b.
///
/// Shapes: x [N, in], W [out, in], b [out], y [N, out] (N: rows, the batch's tokens).
public struct Linear: @unchecked Sendable {
    public let weight: FloatBuffer  // [out, in]
    public let bias: FloatBuffer?  // [out]
    public let inFeatures: Int
    public let outFeatures: Int

    public init(weight: FloatBuffer, bias: FloatBuffer?, inFeatures: Int, outFeatures: Int) {
        precondition(weight.count == inFeatures * outFeatures && (bias?.count ?? outFeatures) == outFeatures, "Linear shapes")
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// y[N, out] = x[N, in]·Wᵀ + b. The bias is written first and the GEMM accumulates onto
    /// it (beta = 1): one pass over y instead of two.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let out = outFeatures
        if let bias {
            let b = bias.pointer
            Parallel.forEach(rows, grain: 64) { range in
                for r in range { (y + r * out).update(from: b, count: out) }
            }
        }
        BLAS.gemmRows(
            transposeB: true, m: rows, n: out, k: inFeatures, a: x, lda: inFeatures, b: weight.pointer, ldb: inFeatures,
            beta: bias == nil ? 0 : 1, c: y, ldc: out)
    }

    /// Gradients of y = x·Wᵀ + b given dy [N, out]: dx [N, in] += dy·W (the activation gradient
    /// a frozen layer passes down); with `dWeight`/`dBias` (a trained layer, e.g. the head)
    /// dW [out, in] += dyᵀ·x and db [out] += Σ_rows dy. Everything accumulates (llm.c: gradients
    /// are zeroed once per step).
    public func backward(
        _ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, dx: UnsafeMutablePointer<Float>?,
        dWeight: UnsafeMutablePointer<Float>? = nil, dBias: UnsafeMutablePointer<Float>? = nil
    ) {
        let out = outFeatures
        if let dx {
            BLAS.gemmRows(m: rows, n: inFeatures, k: out, a: dy, lda: out, b: weight.pointer, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
        }
        if let dWeight {
            BLAS.gemm(transposeA: true, m: out, n: inFeatures, k: rows, a: dy, lda: out, b: x, ldb: inFeatures, beta: 1, c: dWeight, ldc: inFeatures)
        }
        if let dBias {
            for r in 0..<rows {
                let row = dy + r * out
                for o in 0..<out { dBias[o] += row[o] }
            }
        }
    }
}
