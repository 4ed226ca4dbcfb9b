import Dispatch

/// The sgemm rate this process reaches, on one thread and on the engine's threads, at a shape the
/// encoder's GEMMs have: `lsrconv env --measure`. Every Linear in the engine is this call, so
/// the rate bounds how fast a forward or train step can go (DESIGN.md §6) and shows at once
/// whether OpenBLAS runs the kernels the CPU deserves.
public enum SgemmRate {
    public struct Measurement: Sendable {
        /// C[m×n] = A[m×k]·B[n×k]ᵀ, as a Linear computes it.
        public var m: Int, n: Int, k: Int
        public var threads: Int
        /// Best of the timed repetitions.
        public var gflops: Double
        public var repetitions: Int
    }

    /// RoBERTa-base's FFN up-projection for 8 × 128 tokens: [1024 × 768] · [3072 × 768]ᵀ,
    /// 4.8 GFLOP; tens of milliseconds a call on current CPUs.
    public static let shape = (m: 1024, n: 3072, k: 768)

    /// Times sgemm on `threads` engine threads (1: one OpenBLAS call; more: the engine's row
    /// split, `BLAS.gemmRows`, as the layers run it): one untimed call, then calls until
    /// `budgetSeconds` have passed (at least 3), best time kept. The engine's thread count is
    /// restored after.
    public static func measure(threads: Int, budgetSeconds: Double = 0.15) -> Measurement {
        let (m, n, k) = shape
        let a = FloatBuffer(count: m * k)
        let b = FloatBuffer(count: n * k)
        let c = FloatBuffer(count: m * n)
        // Values in [-1, 1) from a fixed sequence: denormals or zeros would time other paths.
        var state: UInt32 = 12345
        for buffer in [a, b] {
            for i in 0..<buffer.count {
                state = state &* 1_664_525 &+ 1_013_904_223
                buffer.pointer[i] = Float(state >> 8) / Float(1 << 23) - 1
            }
        }
        let saved = Parallel.threads
        Engine.setThreads(threads)
        defer { Engine.setThreads(saved) }
        func run() {
            BLAS.gemmRows(transposeB: true, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k, c: c.pointer, ldc: n)
        }
        run()
        var best = Double.infinity
        var repetitions = 0
        let start = DispatchTime.now().uptimeNanoseconds
        repeat {
            let t0 = DispatchTime.now().uptimeNanoseconds
            run()
            let t1 = DispatchTime.now().uptimeNanoseconds
            best = min(best, Double(t1 - t0) / 1e9)
            repetitions += 1
        } while repetitions < 3 || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < budgetSeconds
        return Measurement(m: m, n: n, k: k, threads: threads, gflops: 2 * Double(m * n * k) / best / 1e9, repetitions: repetitions)
    }
}
