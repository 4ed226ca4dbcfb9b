import COpenBLAS

/// The one door to OpenBLAS. Row-major throughout, as the checkpoints store weights
/// (PyTorch's Linear keeps W as [out, in]).
public enum BLAS {
    /// C[m×n] = alpha · op(A)·op(B) + beta · C, row-major with leading dimensions.
    /// `transposeA`: A is stored [k×m] (lda ≥ m); otherwise [m×k] (lda ≥ k). Same for B.
    @inline(__always)
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C = alpha·A·op(B) + beta·C with A not transposed, its rows split across `Parallel`
    /// workers, each running a single-threaded sgemm on its block of rows. With OpenBLAS kept
    /// at one thread (`Engine.setThreads`) the engine owns every core: no OpenBLAS worker
    /// spins between GEMMs while the elementwise kernels run (perf showed ~10% of a forward
    /// pass in sched_yield from that contention).
    public static func gemmRows(
        transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Blocks of at least 32 rows: below that a split costs more than it gains.
        Parallel.forEach(m, grain: 32) { rows in
            gemm(
                transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha, a: a + rows.lowerBound * lda, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        }
    }

    /// Threads OpenBLAS uses inside one sgemm call.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's build description (version, kernel, thread count), for benchmark reports.
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// Runs `body` with OpenBLAS single-threaded: for many small independent GEMMs spread
    /// over `Parallel` workers (per-head attention), where OpenBLAS's own threads would only
    /// contend with them.
    public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        // Parallel's first use puts OpenBLAS at one thread. Read the count only after it: when a
        // process's first engine call was this one (a per-head attention GEMM), `saved` was
        // OpenBLAS's start-up default and the restore below left it multi-threaded for every
        // later GEMM, whose results then varied with timing (DropoutParityTests, full suite).
        _ = Parallel.threads
        let saved = threads
        if saved == 1 { return try body() }
        setThreads(1)
        defer { setThreads(saved) }
        return try body()
    }
}
