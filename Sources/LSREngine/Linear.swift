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
}
