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

    /// y[N, out] += scaling · (x·Downᵀ)·Upᵀ, the rows split across the `Parallel` workers (each
    /// runs both thin GEMMs on its block, OpenBLAS single-threaded as Engine keeps it; every row
    /// of t and y depends on that row of x alone). On one core these took 1.03 ms per call at
    /// 2048×768, r = 4; split over 2 workers 0.70 (lsrbench --mode components).
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        if scratch.count < rows * rank { scratch = FloatBuffer(count: rows * rank) }
        let t = scratch.pointer
        let (down, up, rank, inFeatures, outFeatures, scaling) = (down.pointer, up.pointer, rank, inFeatures, outFeatures, scaling)
        Parallel.forEach(rows, grain: Self.rowGrain) { block in
            let (m, first) = (block.count, block.lowerBound)
            BLAS.gemm(
                transposeB: true, m: m, n: rank, k: inFeatures, a: x + first * inFeatures, lda: inFeatures, b: down, ldb: inFeatures,
                c: t + first * rank, ldc: rank)
            BLAS.gemm(
                transposeB: true, m: m, n: outFeatures, k: rank, alpha: scaling, a: t + first * rank, lda: rank, b: up, ldb: rank,
                beta: 1, c: y + first * ldy, ldc: ldy)
        }
    }

    /// Gradients of y += scaling·(x·Downᵀ)·Upᵀ given dy [N, out] (`ldy`: its row stride) and
    /// the input x: with t = x·Downᵀ [N, r] (recomputed: r is small) and dt = scaling·dy·Up,
    ///   dUp [out, r] += scaling·dyᵀ·t,  dDown [r, in] += dtᵀ·x,  dx [N, in] += dt·Down.
    /// dUp/dDown then go to the factors (KroneckerSum.backward for LSR).
    ///
    /// Two parallel passes (one core took 3.26 ms per call at 2048×768, r = 4; see forward):
    ///  1. over token rows: t, dt and dx of each row need only that row of x and dy;
    ///  2. over the weight gradients' own rows and columns: dUp's rows (output features) and
    ///     dDown's columns (input features) side by side in one index range [0, out + in).
    ///     These GEMMs reduce over the N token rows; splitting N instead would need per-worker
    ///     partial sums. Split this way each element of dUp/dDown is still one sgemm dot
    ///     product over all N rows, the same for any worker count and on every run (a resumed
    ///     training run must repeat the original bit for bit).
    public func backward(
        _ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, ldy: Int, rows: Int, dUp: UnsafeMutablePointer<Float>,
        dDown: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?
    ) {
        if scratch.count < 2 * rows * rank { scratch = FloatBuffer(count: 2 * rows * rank) }
        let t = scratch.pointer
        let dt = scratch.pointer + rows * rank
        let (down, up, rank, inFeatures, outFeatures, scaling) = (down.pointer, up.pointer, rank, inFeatures, outFeatures, scaling)
        Parallel.forEach(rows, grain: Self.rowGrain) { block in
            let (m, first) = (block.count, block.lowerBound)
            let (xs, dys, ts, dts) = (x + first * inFeatures, dy + first * ldy, t + first * rank, dt + first * rank)
            BLAS.gemm(transposeB: true, m: m, n: rank, k: inFeatures, a: xs, lda: inFeatures, b: down, ldb: inFeatures, c: ts, ldc: rank)
            BLAS.gemm(m: m, n: rank, k: outFeatures, alpha: scaling, a: dys, lda: ldy, b: up, ldb: rank, c: dts, ldc: rank)
            if let dx {
                BLAS.gemm(
                    m: m, n: inFeatures, k: rank, a: dts, lda: rank, b: down, ldb: inFeatures, beta: 1, c: dx + first * inFeatures,
                    ldc: inFeatures)
            }
        }
        // Worth splitting only when each slice reduces over enough rows (same threshold as pass 1).
        let columnGrain = rows >= 2 * Self.rowGrain ? Self.columnGrain : outFeatures + inFeatures
        Parallel.forEach(outFeatures + inFeatures, grain: columnGrain) { block in
            // dUp[o, :] += scaling · Σₙ dy[n, o]·t[n, :] for the output features o in the block.
            let ups = block.clamped(to: 0..<outFeatures)
            if !ups.isEmpty {
                BLAS.gemm(
                    transposeA: true, m: ups.count, n: rank, k: rows, alpha: scaling, a: dy + ups.lowerBound, lda: ldy, b: t, ldb: rank,
                    beta: 1, c: dUp + ups.lowerBound * rank, ldc: rank)
            }
            // dDown[:, i] += Σₙ dt[n, :]ᵀ·x[n, i] for the input features i in the block.
            let downs = block.clamped(to: outFeatures..<(outFeatures + inFeatures))
            if !downs.isEmpty {
                let i = downs.lowerBound - outFeatures
                BLAS.gemm(
                    transposeA: true, m: rank, n: downs.count, k: rows, a: dt, lda: rank, b: x + i, ldb: inFeatures, beta: 1, c: dDown + i,
                    ldc: inFeatures)
            }
        }
    }

    /// Token rows per worker at least: below ~64 the hand-off costs more than the thin GEMMs.
    static let rowGrain = 64
    /// dUp rows / dDown columns per worker at least.
    static let columnGrain = 64
}
