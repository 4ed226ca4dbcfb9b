import LSREngine
import Testing

/// Each layer against a direct double-precision evaluation of its defining formula (the
/// PyTorch parity of the whole stack is in LSRModelTests/ForwardParityTests). Tolerance 1e-5
/// relative to the values' scale, argued at each test; inputs are deterministic pseudo-random
/// numbers in [−1, 1).
@Suite struct LayerTests {
    /// max |aᵢ − bᵢ|; infinity for unequal lengths, NaN for a NaN (as maxAbsDifference).
    func maxDifference(_ a: [Float], _ b: [Double]) -> Double {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).reduce(0) { d, pair in
            let e = abs(Double(pair.0) - pair.1)
            return d.isNaN || e.isNaN ? .nan : max(d, e)
        }
    }

    @Test(arguments: [1, 3, 70])  // 70 rows crosses the parallel split
    func linear(rows: Int) {
        let (input, output) = (24, 10)
        let x = values(rows * input, seed: 1)
        let w = values(output * input, seed: 2)
        let b = values(output, seed: 3)
        let layer = Linear(weight: FloatBuffer(w), bias: FloatBuffer(b), inFeatures: input, outFeatures: output)
        let y = FloatBuffer(count: rows * output)
        x.withUnsafeBufferPointer { layer.forward($0.baseAddress!, rows: rows, into: y.pointer) }
        var expected = [Double](repeating: 0, count: rows * output)
        for r in 0..<rows {
            for o in 0..<output {
                var s = Double(b[o])
                for i in 0..<input { s += Double(x[r * input + i]) * Double(w[o * input + i]) }
                expected[r * output + o] = s
            }
        }
        // sgemm, any kernel's order: 24 products and the bias, Σ|terms| ≤ 9.9; worst case
        // 25·u·9.9 = 1.5e-5, independent roundings √25·u·9.9 = 3e-6 (1e-6 measured, every core).
        let d = maxDifference(y.array, expected)
        #expect(d < 1e-5, "max |Δ| = \(d)")
    }

    @Test func layerNorm() {
        let (rows, c) = (40, 33)
        let x = values(rows * c, seed: 4).map { $0 * 3 + 0.5 }
        let gamma = values(c, seed: 5)
        let beta = values(c, seed: 6)
        let norm = LayerNorm(weight: FloatBuffer(gamma), bias: FloatBuffer(beta), eps: 1e-5)
        let y = FloatBuffer(count: rows * c)
        x.withUnsafeBufferPointer { norm.forward($0.baseAddress!, rows: rows, into: y.pointer) }
        var expected = [Double](repeating: 0, count: rows * c)
        for r in 0..<rows {
            let row = x[(r * c)..<((r + 1) * c)].map(Double.init)
            let mean = row.reduce(0, +) / Double(c)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(c)
            for i in 0..<c { expected[r * c + i] = (row[i] - mean) / (variance + 1e-5).squareRoot() * Double(gamma[i]) + Double(beta[i]) }
        }
        // No BLAS: mean and variance of 33 values ≤ 3.5 (sums ≈ √33·u relative), then a few
        // roundings of outputs ≤ ~3: ~1e-6 (3.5e-7 measured).
        let d = maxDifference(y.array, expected)
        #expect(d < 1e-5, "max |Δ| = \(d)")
    }

    @Test func exactGELU() {
        let x = values(1000, seed: 7).map { $0 * 6 }
        let y = FloatBuffer(count: x.count)
        x.withUnsafeBufferPointer { Activation.gelu.forward($0.baseAddress!, count: x.count, into: y.pointer) }
        let expected = x.map { 0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot())) }
        // VectorMath, no BLAS: the same bits on every CPU. erf errs by ≤ 6e-7 (VectorMathTests),
        // scaled by ½|x| where it is largest, plus an ulp or two of |y| ≤ 6: 4.5e-7 measured.
        let d = maxDifference(y.array, expected)
        #expect(d < 1e-6, "max |Δ| = \(d)")
        #expect(Activation(configName: "gelu") == .gelu && Activation(configName: "gelu_new") == .geluTanh)
        #expect(Activation(configName: "swishy") == nil)
    }

    /// Attention with padded keys: masked keys get probability exactly 0; rows sum to 1.
    @Test func maskedAttention() {
        let shape = AttentionShape(batch: 2, length: 5, heads: 2, headDim: 3)
        let (t, c, h, d) = (5, 6, 2, 3)
        let qkv = values(2 * t * 3 * c, seed: 8)
        let mask: [Float] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]  // second item: 3 real tokens
        let probs = FloatBuffer(count: shape.probsCount)
        let context = FloatBuffer(count: 2 * t * c)
        qkv.withUnsafeBufferPointer { q in
            mask.withUnsafeBufferPointer { m in
                Attention.forward(qkv: q.baseAddress!, keyMask: m.baseAddress!, shape: shape, probs: probs.pointer, context: context.pointer)
            }
        }
        // qkv[token, part, head, e] with part 0 query, 1 key, 2 value.
        func at(_ token: Int, _ part: Int, _ head: Int, _ e: Int) -> Double {
            let index: Int = token * 3 * c + part * c + head * d + e
            return Double(qkv[index])
        }
        var expected = [Double](repeating: 0, count: 2 * t * c)
        for b in 0..<2 {
            for head in 0..<h {
                for i in 0..<t {
                    var scores = [Double](repeating: -.infinity, count: t)
                    for j in 0..<t where mask[b * t + j] != 0 {
                        var s = 0.0
                        for e in 0..<d {
                            s += at(b * t + i, 0, head, e) * at(b * t + j, 1, head, e)
                        }
                        scores[j] = s / Double(d).squareRoot()
                    }
                    let top = scores.max()!
                    let exps = scores.map { $0 == -.infinity ? 0 : exp($0 - top) }
                    let total = exps.reduce(0, +)
                    for e in 0..<d {
                        var o = 0.0
                        for j in 0..<t { o += exps[j] / total * at(b * t + j, 2, head, e) }
                        expected[(b * t + i) * c + head * d + e] = o
                    }
                    let rowStart: Int = ((b * h + head) * t + i) * t
                    let p = probs.array[rowStart..<(rowStart + t)]
                    // exp's errors cancel in pⱼ = eⱼ·(1/Σe): the normalising sum (≤ 5 roundings),
                    // the reciprocal, the products and the 4 additions here: ≤ 11u = 6.6e-7.
                    #expect(abs(p.reduce(0, +) - 1) < 1e-6)
                    if b == 1 { #expect(p.suffix(2).allSatisfy { $0 == 0 }) }
                }
            }
        }
        // Scores are 3-term sums (≤ 4u·3 from exact), probabilities a few ulps more, the context
        // a 5-term sum of p·v with Σ|terms| ≤ 1: ~1e-6 at worst (5e-8 measured).
        let difference = maxDifference(context.array, expected)
        #expect(difference < 1e-5, "max |Δ| = \(difference)")
    }

    @Test func robertaPositionIds() {
        // transformers create_position_ids_from_input_ids with padding_idx 1.
        let ids: [Int32] = [0, 5, 6, 2, 1, 1, 0, 7, 2, 1, 1, 1]
        #expect(Embedding.positionIds(ids, batch: 2, length: 6, padId: 1) == [2, 3, 4, 5, 1, 1, 2, 3, 4, 1, 1, 1])
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// VectorMath against double-precision libm over a dense grid.
@Suite struct VectorMathTests {
    func grid(_ low: Float, _ high: Float, _ count: Int) -> [Float] {
        (0..<count).map { low + (high - low) * Float($0) / Float(count - 1) }
    }

    @Test func expRelativeError() {
        var worst = 0.0
        for x in grid(-87, 88, 8_001) {
            let got = VectorMath.exp(SIMD8(repeating: x))[0]
            let want = exp(Double(x))
            worst = max(worst, abs(Double(got) - want) / want)
        }
        // Cephes expf in f32 lanes, no BLAS (the same bits on every CPU): ≤ 2 ulp by its
        // documentation, i.e. ≤ 4u = 2.4e-7 relative; 3e-7 (7.4e-8 measured).
        #expect(worst < 3e-7, "max relative error \(worst)")
        #expect(VectorMath.exp(SIMD8(repeating: -100))[3] == 0)
        #expect(VectorMath.exp(SIMD8(repeating: 0))[5] == 1)
    }

    @Test func erfAbsoluteError() {
        var worst = 0.0
        for x in grid(-6, 6, 8_001) {
            let got = VectorMath.erf(SIMD8(repeating: x))[0]
            worst = max(worst, abs(Double(got) - erf(Double(x))))
        }
        // A&S 7.1.26 is good to 1.5e-7 in exact arithmetic; evaluating 1 − r·t·e^(−x²) in f32
        // adds a few ulp of 1 (6e-8 each). torch's vectorised erf has the same error.
        #expect(worst < 6e-7, "max absolute error \(worst)")
    }
}
