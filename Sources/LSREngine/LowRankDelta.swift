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
}
