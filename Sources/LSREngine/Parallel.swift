import Dispatch

/// Splits elementwise work across cores. OpenBLAS runs its own threads inside sgemm; the
/// kernels here (LayerNorm, GELU, softmax, bias) run between GEMMs, so the two never overlap.
public enum Parallel {
    /// Worker count for elementwise kernels and for per-head attention GEMMs (set from
    /// `--threads`; `BLAS.setThreads` keeps OpenBLAS in step).
    /// Its first use also puts OpenBLAS at one thread: the engine splits GEMMs itself.
    nonisolated(unsafe) public static var threads: Int = {
        BLAS.setThreads(1)
        return max(1, System.activeProcessorCount)
    }()

    /// Calls `body` on disjoint ranges covering 0..<count, in parallel when there is enough
    /// work: at least `grain` items per worker (below that, thread hand-off costs more than it
    /// saves).
    @inline(__always)
    public static func forEach(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let workers = min(threads, count / max(grain, 1))
        if workers <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let start = count * w / workers
            let end = count * (w + 1) / workers
            if start < end { body(start..<end) }
        }
    }
}

/// Processor count without Foundation (sysconf).
enum System {
    static var activeProcessorCount: Int {
        #if canImport(Glibc)
            return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
            return 1
        #endif
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// Engine-wide settings.
public enum Engine {
    /// Threads for the engine: `n` Parallel workers, which also split every GEMM by rows
    /// (BLAS.gemmRows) while OpenBLAS itself runs single-threaded inside each block.
    public static func setThreads(_ n: Int) {
        Parallel.threads = max(1, n)
        BLAS.setThreads(1)
    }
}
