#if canImport(Glibc)
    import Glibc
#endif
import LSREngine
import Testing

/// The vectorised and parallel forms of three kernels (GELU backward, attention softmax,
/// LowRankDelta) at sizes that reach their 8-lane tails and their splits across workers, which
/// the small fixtures of BackwardTests and LayerTests do not.
@Suite struct KernelTests {
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

    /// Attention probabilities against a double softmax: lengths with and without an 8-lane
    /// tail, items with and without padded keys (padded keys exactly 0).
    @Test(arguments: [(32, 32), (32, 27), (19, 19), (19, 11), (3, 2)])
    func softmaxProbabilities(length t: Int, real: Int) {
        let (h, d) = (2, 4)
        let c = h * d
        let shape = AttentionShape(batch: 2, length: t, heads: h, headDim: d)
        // Scores of order ±10 so that exp spans a wide range.
        let qkv = values(2 * t * 3 * c, seed: 21).map { $0 * 4 }
        let mask = (0..<(2 * t)).map { $0 < t || $0 - t < real ? Float(1) : 0 }  // item 0 full, item 1 `real` keys
        let (probs, context) = (FloatBuffer(count: shape.probsCount), FloatBuffer(count: 2 * t * c))
        qkv.withUnsafeBufferPointer { q in
            mask.withUnsafeBufferPointer { m in
                Attention.forward(qkv: q.baseAddress!, keyMask: m.baseAddress!, shape: shape, probs: probs.pointer, context: context.pointer)
            }
        }
        let p = probs.array
        var worst = 0.0
        for b in 0..<2 {
            for head in 0..<h {
                for i in 0..<t {
                    var scores = [Double](repeating: -.infinity, count: t)
                    for j in 0..<t where mask[b * t + j] != 0 {
                        var s = 0.0
                        for e in 0..<d {
                            s += Double(qkv[(b * t + i) * 3 * c + head * d + e]) * Double(qkv[(b * t + j) * 3 * c + c + head * d + e])
                        }
                        scores[j] = s / Double(d).squareRoot()
                    }
                    let top = scores.max()!
                    let exps = scores.map { $0 == -.infinity ? 0 : exp($0 - top) }
                    let total = exps.reduce(0, +)
                    let row = ((b * h + head) * t + i) * t
                    for j in 0..<t {
                        if mask[b * t + j] == 0 { #expect(p[row + j] == 0) }
                        worst = max(worst, abs(Double(p[row + j]) - exps[j] / total))
                    }
                }
            }
        }
        // The scores come from sgemm (4 products of values ≤ 4, any kernel's order): ≈ √4·u·Σ|qₑkₑ|/2
        // ≈ 1e-6 typical, and p moves by ≤ 2·p·max|δs|; exp's ≤ 3e-7 relative error mostly
        // cancels in the normalisation. Measured ≤ 3.8e-7 (Zen, Sandybridge, Prescott kernels).
        #expect(worst < 1e-6, "max |Δp| = \(worst)")
    }

    /// Every key of an item padded: probabilities 0, as before vectorising.
    @Test func softmaxAllMasked() {
        let shape = AttentionShape(batch: 1, length: 9, heads: 1, headDim: 2)
        let qkv = values(9 * 6, seed: 31)
        let mask = [Float](repeating: 0, count: 9)
        let (probs, context) = (FloatBuffer(count: shape.probsCount), FloatBuffer(count: 18))
        qkv.withUnsafeBufferPointer { q in
            mask.withUnsafeBufferPointer { m in
                Attention.forward(qkv: q.baseAddress!, keyMask: m.baseAddress!, shape: shape, probs: probs.pointer, context: context.pointer)
            }
        }
        #expect(probs.array.allSatisfy { $0 == 0 })
    }

    /// LowRankDelta with enough rows to be split across workers (300 rows, 96 + 40 features):
    /// forward and every gradient against double precision, dy with a row stride wider than
    /// `out`; a second run gives the same bits (the weight-gradient split does not depend on
    /// timing).
    @Test func lowRankDeltaSplit() {
        let (n, out, inputs, r, ldy) = (300, 96, 40, 3, 100)
        let scaling: Float = 0.5
        let (up, down) = (values(out * r, seed: 41), values(r * inputs, seed: 42))
        let delta = LowRankDelta(up: FloatBuffer(up), down: FloatBuffer(down), outFeatures: out, inFeatures: inputs, rank: r, scaling: scaling)
        let x = FloatBuffer(values(n * inputs, seed: 43))
        let dy = FloatBuffer(values(n * ldy, seed: 44))
        let y0 = values(n * ldy, seed: 45)
        let y = FloatBuffer(y0)
        delta.forward(x.pointer, rows: n, into: y.pointer, ldy: ldy)

        let (xa, dya) = (x.array, dy.array)
        var t = [Double](repeating: 0, count: n * r)
        var dt = [Double](repeating: 0, count: n * r)
        for row in 0..<n {
            for k in 0..<r {
                for i in 0..<inputs { t[row * r + k] += Double(xa[row * inputs + i]) * Double(down[k * inputs + i]) }
                for o in 0..<out { dt[row * r + k] += Double(scaling) * Double(dya[row * ldy + o]) * Double(up[o * r + k]) }
            }
        }
        var worst = 0.0
        let ya = y.array
        for row in 0..<n {
            for o in 0..<ldy {
                var want = Double(y0[row * ldy + o])
                if o < out { for k in 0..<r { want += Double(scaling) * t[row * r + k] * Double(up[o * r + k]) } }
                worst = max(worst, abs(Double(ya[row * ldy + o]) - want))
            }
        }
        // y: 40 + 3 products of values < 1 (Σ|terms| ≤ 20), random signs: ~1e-6 (1.3e-6 measured).
        #expect(worst < 1e-5, "y: max |Δ| = \(worst)")

        func run() -> (dUp: [Float], dDown: [Float], dx: [Float]) {
            let (dUp, dDown) = (FloatBuffer(values(out * r, seed: 46)), FloatBuffer(values(r * inputs, seed: 47)))
            let dx = FloatBuffer(values(n * inputs, seed: 48))
            delta.backward(x.pointer, dy: dy.pointer, ldy: ldy, rows: n, dUp: dUp.pointer, dDown: dDown.pointer, dx: dx.pointer)
            return (dUp.array, dDown.array, dx.array)
        }
        let first = run()
        let (dUp0, dDown0, dx0) = (values(out * r, seed: 46), values(r * inputs, seed: 47), values(n * inputs, seed: 48))
        var (wUp, wDown, wx) = (0.0, 0.0, 0.0)
        for o in 0..<out {
            for k in 0..<r {
                var s = Double(dUp0[o * r + k])
                for row in 0..<n { s += Double(scaling) * Double(dya[row * ldy + o]) * t[row * r + k] }
                wUp = max(wUp, abs(Double(first.dUp[o * r + k]) - s))
            }
        }
        for k in 0..<r {
            for i in 0..<inputs {
                var s = Double(dDown0[k * inputs + i])
                for row in 0..<n { s += dt[row * r + k] * Double(xa[row * inputs + i]) }
                wDown = max(wDown, abs(Double(first.dDown[k * inputs + i]) - s))
            }
        }
        for row in 0..<n {
            for i in 0..<inputs {
                var s = Double(dx0[row * inputs + i])
                for k in 0..<r { s += dt[row * r + k] * Double(down[k * inputs + i]) }
                wx = max(wx, abs(Double(first.dx[row * inputs + i]) - s))
            }
        }
        // dUp and dDown sum 300 rows in the kernel's order. The terms have random signs (σ ≈ 0.6
        // and 0.9), so the partial sums grow as √k and the roundings add to ≈ u·σ·n/√6 ≈ 5e-6 and
        // 7e-6 RMS, ~2e-5 at the worst of 288 and 120 elements (≤ 3.4e-5 measured under Zen,
        // Sandybridge and Prescott kernels): 1e-4. The worst case n·u·Σ|terms| (≈ 5e-2) is no guide
        // for random signs. dx sums 96 + 3 terms: ~1e-6 (≤ 2.7e-6 measured).
        #expect(wUp < 1e-4, "dUp: max |Δ| = \(wUp)")
        #expect(wDown < 1e-4, "dDown: max |Δ| = \(wDown)")
        #expect(wx < 1e-5, "dx: max |Δ| = \(wx)")
        let second = run()
        #expect(first.dUp == second.dUp && first.dDown == second.dDown && first.dx == second.dx)

        // Without dx (the first adapted layer's input needs none).
        let (dUp, dDown) = (FloatBuffer(values(out * r, seed: 46)), FloatBuffer(values(r * inputs, seed: 47)))
        delta.backward(x.pointer, dy: dy.pointer, ldy: ldy, rows: n, dUp: dUp.pointer, dDown: dDown.pointer, dx: nil)
        #expect(dUp.array == first.dUp && dDown.array == first.dDown)
    }

    /// The engine keeps OpenBLAS at one thread (it splits GEMMs itself). Attention's per-head
    /// GEMMs used to restore OpenBLAS's start-up thread count when they were a process's first
    /// engine call, leaving later GEMMs multi-threaded and their bits timing-dependent. Fails
    /// without the fix when it runs first in its process (`swift test --filter KernelTests`).
    @Test func attentionLeavesOpenBLASSingleThreaded() {
        let shape = AttentionShape(batch: 1, length: 4, heads: 1, headDim: 4)
        let (qkv, mask) = (FloatBuffer((0..<48).map { Float($0 % 7) / 7 }), FloatBuffer([1, 1, 1, 1]))
        let (probs, context) = (FloatBuffer(count: 16), FloatBuffer(count: 16))
        Attention.forward(qkv: qkv.pointer, keyMask: mask.pointer, shape: shape, probs: probs.pointer, context: context.pointer)
        #expect(BLAS.threads == 1)
    }
}
