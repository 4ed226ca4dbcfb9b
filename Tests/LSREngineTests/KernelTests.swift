#if canImport(Glibc)
    import Glibc
#endif
import LSREngine
import Testing

/// The vectorised and parallel forms of three kernels (GELU backward, attention softmax,
/// LowRankDelta) at sizes that reach their 8-lane tails and their splits across workers, which
/// the small fixtures of BackwardTests and LayerTests do not.
@Suite struct KernelTests {
    /// Deterministic values in [-1, 1) (the LCG of LayerTests).
    func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
    }

    /// GELU backward as it was before 8-lane loads: every SIMD8 filled lane by lane, tail
    /// included. The new form must give the same bits.
    func geluBackwardLaneByLane(_ x: [Float], _ dy: [Float], _ dx: inout [Float]) {
        var i = 0
        while i < x.count {
            let n = min(8, x.count - i)
            var v = VectorMath.Vector(repeating: 0)
            var g = VectorMath.Vector(repeating: 0)
            for j in 0..<n {
                v[j] = x[i + j]
                g[j] = dy[i + j]
            }
            let cdf = 0.5 * (1 + VectorMath.erf(v * 0.707_106_781_186_547_5))
            let pdf = VectorMath.exp(-0.5 * v * v) * 0.398_942_280_401_432_7
            let d = g * (cdf + v * pdf)
            for j in 0..<n { dx[i + j] += d[j] }
            i += n
        }
    }

    /// 100 003 values (≥ 2 parallel blocks, none a multiple of 8 long), dx accumulated onto
    /// non-zero values: bit-identical to the lane-by-lane form.
    @Test(arguments: [100_003, 7, 8, 17])
    func geluBackwardIsBitIdentical(count: Int) {
        let x = values(count, seed: 11).map { $0 * 8 }
        let dy = values(count, seed: 12)
        var want = values(count, seed: 13)
        let got = FloatBuffer(want)
        geluBackwardLaneByLane(x, dy, &want)
        x.withUnsafeBufferPointer { xs in
            dy.withUnsafeBufferPointer { dys in
                Activation.gelu.backward(xs.baseAddress!, y: xs.baseAddress!, dy: dys.baseAddress!, count: count, dx: got.pointer)
            }
        }
        let mismatches = zip(got.array, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        #expect(mismatches == 0, "\(mismatches) of \(count) values differ")
    }
}
