/// The adapter term of one Linear layer: y += scaling · (x·Downᵀ)·Upᵀ, two thin GEMMs per
/// batch, never forming ΔW = scaling·Up·Down (DESIGN.md §4: LSR and LoRA alike, once Up and
/// Down are materialised).
///
/// Shapes: x [N, in], Down [r, in], Up [out, r], t = x·Downᵀ [N, r], y [N, out] (row stride ldy:
/// a slice of a wider output, e.g. the query columns of the fused QKV projection).
public final class LowRankDelta: @unchecked Sendable {
    public let up: FloatBuffer  // [out, r]
    public let down: FloatBuffer  // [r, in]
    public let outFeatures: Int
    public let inFeatures: Int
    public let rank: Int
    public let scaling: Float
    /// t [N, r], grown as batches need.
    private var scratch = FloatBuffer(count: 0)

    public init(up: FloatBuffer, down: FloatBuffer, outFeatures: Int, inFeatures: Int, rank: Int, scaling: Float) {
        precondition(up.count == outFeatures * rank && down.count == rank * inFeatures, "LowRankDelta shapes")
        self.up = up
        self.down = down
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.rank = rank
        self.scaling = scaling
    }

    /// y[N, out] += scaling · (x·Downᵀ)·Upᵀ.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        if scratch.count < rows * rank { scratch = FloatBuffer(count: rows * rank) }
        let t = scratch.pointer
        BLAS.gemm(transposeB: true, m: rows, n: rank, k: inFeatures, a: x, lda: inFeatures, b: down.pointer, ldb: inFeatures, c: t, ldc: rank)
        BLAS.gemm(
            transposeB: true, m: rows, n: outFeatures, k: rank, alpha: scaling, a: t, lda: rank, b: up.pointer, ldb: rank,
            beta: 1, c: y, ldc: ldy)
    }

    /// Gradients of y += scaling·(x·Downᵀ)·Upᵀ given dy [N, out] (`ldy`: its row stride) and
    /// the input x: with t = x·Downᵀ [N, r] (recomputed: r is small) and dt = scaling·dy·Up,
    ///   dUp [out, r] += scaling·dyᵀ·t,  dDown [r, in] += dtᵀ·x,  dx [N, in] += dt·Down.
    /// dUp/dDown then go to the factors (KroneckerSum.backward for LSR).
    public func backward(
        _ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, ldy: Int, rows: Int, dUp: UnsafeMutablePointer<Float>,
        dDown: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?
    ) {
        if scratch.count < 2 * rows * rank { scratch = FloatBuffer(count: 2 * rows * rank) }
        let t = scratch.pointer
        let dt = scratch.pointer + rows * rank
        BLAS.gemm(transposeB: true, m: rows, n: rank, k: inFeatures, a: x, lda: inFeatures, b: down.pointer, ldb: inFeatures, c: t, ldc: rank)
        BLAS.gemm(
            transposeA: true, m: outFeatures, n: rank, k: rows, alpha: scaling, a: dy, lda: ldy, b: t, ldb: rank, beta: 1, c: dUp, ldc: rank)
        BLAS.gemm(m: rows, n: rank, k: outFeatures, alpha: scaling, a: dy, lda: ldy, b: up.pointer, ldb: rank, c: dt, ldc: rank)
        BLAS.gemm(transposeA: true, m: rank, n: inFeatures, k: rows, a: dt, lda: rank, b: x, ldb: inFeatures, beta: 1, c: dDown, ldc: inFeatures)
        if let dx {
            BLAS.gemm(m: rows, n: inFeatures, k: rank, a: dt, lda: rank, b: down.pointer, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
        }
    }
}
