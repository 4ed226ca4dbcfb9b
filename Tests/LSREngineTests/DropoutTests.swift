import LSREngine
import Testing

/// Dropout against its definition (LSREngine/Dropout.swift): the mask bit of element i is
/// mix(key + (i + 1)·γ)>>32 ≥ ⌊p·2³²⌋ with key = mix(mix(mix(seed) + stream) + site), kept values
/// are scaled by exactly 1/(1 − p), backward uses the same mask. The whole model with dropout
/// is checked against PyTorch in LSRAdaptersTests/DropoutParityTests.
@Suite struct DropoutTests {
    /// Values that are never 0, so a 0 in the output can only be a dropped element.
    func values(_ count: Int) -> [Float] { (0..<count).map { Float($0 % 97) * 0.25 + 0.5 } }

    func run(_ x: [Float], _ mask: DropoutMask) -> [Float] {
        let y = FloatBuffer(count: x.count)
        x.withUnsafeBufferPointer { Dropout.forward($0.baseAddress!, count: x.count, mask: mask, into: y.pointer) }
        return y.array
    }

    /// The definition, written out independently of DropoutMask's incremental loop.
    func definitionKeeps(_ i: Int, p: Float, seed: UInt64, stream: UInt64, site: UInt64) -> Bool {
        func mix(_ v: UInt64) -> UInt64 {
            var z = v
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let key = mix(mix(mix(seed) &+ stream) &+ site)
        return mix(key &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15) >> 32 >= UInt64(Double(p) * 4_294_967_296)
    }

    /// The hash is SplitMix64's output function: seeded with 1234567, splitmix64.c's first two
    /// outputs are 6457827717110365317 and 3203168211198807973 (the test vector of Rosetta
    /// Code's "Pseudo-random numbers/Splitmix64").
    @Test func mixIsSplitMix64() {
        #expect(DropoutMask.mix(1_234_567 &+ 0x9E37_79B9_7F4A_7C15) == 6_457_827_717_110_365_317)
        #expect(DropoutMask.mix(1_234_567 &+ 2 &* 0x9E37_79B9_7F4A_7C15) == 3_203_168_211_198_807_973)
    }

    /// Kept elements are x/(1 − p) exactly (the Float product torch's inverted dropout forms),
    /// dropped ones 0, each as the definition says; backward has the same zeros and scale.
    @Test(arguments: [Float(0.1), 0.5, 0.9])
    func forwardAndBackwardFollowTheDefinition(p: Float) {
        let count = 1 << 20  // crosses the parallel split
        let mask = DropoutMask(probability: p, seed: 42, stream: 7, site: 3)
        let x = values(count)
        let y = run(x, mask)
        let scale = 1 / (1 - p)
        #expect(mask.scale == scale)
        var kept = 0
        var wrong = 0
        for i in 0..<count {
            let keeps = definitionKeeps(i, p: p, seed: 42, stream: 7, site: 3)
            if keeps { kept += 1 }
            if keeps != mask.keeps(i) || y[i] != (keeps ? x[i] * scale : 0) { wrong += 1 }
        }
        #expect(wrong == 0, "\(wrong) elements differ from the definition")
        // Kept count ~ Binomial(n, 1 − p): within 5 standard deviations (a false alarm ~6e-7).
        let (n, q) = (Double(count), 1 - Double(p))
        let sigma = (n * q * (1 - q)).squareRoot()
        #expect(abs(Double(kept) - n * q) <= 5 * sigma, "kept \(kept) of \(count), expected \(n * q) ± \(5 * sigma)")

        let dy = values(count).map { -$0 }
        let dx = FloatBuffer(count: count)
        dy.withUnsafeBufferPointer { Dropout.backward($0.baseAddress!, count: count, mask: mask, into: dx.pointer) }
        let mismatches = (0..<count).filter { dx.pointer[$0] != (y[$0] == 0 ? 0 : dy[$0] * scale) }.count
        #expect(mismatches == 0, "backward: \(mismatches) elements not dy·m/(1 − p) with the forward's mask")
    }

    /// A buffer split anywhere (threads, attention's per-head blocks) gives the same bits as a
    /// single pass: element i's bit depends on i alone.
    @Test func splitsDoNotChangeTheMask() {
        let mask = DropoutMask(probability: 0.3, seed: 1, stream: 2, site: 5)
        let x = values(100_000)
        let whole = run(x, mask)
        let pieces = FloatBuffer(count: x.count)
        x.withUnsafeBufferPointer { xs in
            for (start, end) in [(0, 17), (17, 40_000), (40_000, 100_000)] {
                mask.apply(xs.baseAddress! + start, count: end - start, first: start, into: pieces.pointer + start)
            }
        }
        #expect(pieces.array == whole)
    }

    @Test func zeroProbabilityIsTheIdentity() {
        let x = values(70_000)
        #expect(run(x, DropoutMask(probability: 0, seed: 9, stream: 9, site: 9)) == x)
    }

    @Test func probabilityOneDropsEverything() {
        let x = values(1000)
        #expect(run(x, DropoutMask(probability: 1, seed: 3, stream: 0, site: 0)).allSatisfy { $0 == 0 })
    }

    /// The same (seed, stream, site) draws the same mask; changing any one of them draws one
    /// that agrees with it only as often as two independent masks would, (1 − p)² + p².
    @Test func masksDependOnSeedStreamAndSite() {
        let (count, p) = (1 << 18, Float(0.5))
        let x = values(count)
        let base = run(x, DropoutMask(probability: p, seed: 5, stream: 10, site: 1))
        #expect(run(x, DropoutMask(probability: p, seed: 5, stream: 10, site: 1)) == base)
        for (seed, stream, site) in [(UInt64(6), UInt64(10), UInt64(1)), (5, 11, 1), (5, 10, 2), (5, 0, 1)] {
            let other = run(x, DropoutMask(probability: p, seed: seed, stream: stream, site: site))
            let agree = zip(base, other).filter { ($0 == 0) == ($1 == 0) }.count
            let n = Double(count)
            let expected = n * 0.5  // (1 − p)² + p² at p = ½
            let sigma = (n * 0.25).squareRoot()
            #expect(abs(Double(agree) - expected) <= 5 * sigma, "seed \(seed) stream \(stream) site \(site): \(agree) of \(count) agree")
        }
    }

    /// Attention with dropout: the context is (P∘M/(1 − p))·V with P the (undropped) probabilities
    /// it keeps, M over the flat [B, H, T, T] index; without dropout it is P·V.
    @Test func attentionDropsProbabilities() {
        let shape = AttentionShape(batch: 2, length: 5, heads: 2, headDim: 3)
        let (t, h, d, c) = (5, 2, 3, 6)
        let qkv = FloatBuffer((0..<(2 * t * 3 * c)).map { Float(($0 * 37) % 23) * 0.1 - 1.1 })
        let keyMask = FloatBuffer([1, 1, 1, 1, 0, 1, 1, 1, 1, 1])
        let mask = DropoutMask(probability: 0.25, seed: 11, stream: 4, site: 1)
        let (probs, context, dropped) = (FloatBuffer(count: shape.probsCount), FloatBuffer(count: 2 * t * c), FloatBuffer(count: shape.probsCount))
        Attention.forward(
            qkv: qkv.pointer, keyMask: keyMask.pointer, shape: shape, probs: probs.pointer, context: context.pointer, dropout: mask,
            dropped: dropped.pointer)
        var worst: Double = 0
        var droppedCount = 0
        for b in 0..<2 {
            for head in 0..<h {
                for i in 0..<t {
                    for k in 0..<d {
                        var s: Double = 0
                        for j in 0..<t {
                            let index = ((b * h + head) * t + i) * t + j
                            if !mask.keeps(index) {
                                droppedCount += 1
                                continue
                            }
                            s += Double(probs.pointer[index]) * Double(mask.scale) * Double(qkv.pointer[(b * t + j) * 3 * c + 2 * c + head * d + k])
                        }
                        worst = max(worst, abs(s - Double(context.pointer[(b * t + i) * c + head * d + k])))
                    }
                }
            }
        }
        // The expectation uses the engine's own f32 probabilities, so only the kept weights
        // p·1/(1 − p) (one rounding) and sgemm's 5-term sum (≤ 5 more, any order) differ from
        // double: ≤ 6u·Σ|p·v|/(1 − p) ≤ 6u·1.1·4/3 = 5.2e-7 (worst case; values |v| ≤ 1.1, Σp = 1).
        #expect(worst < 1e-6, "max |Δ| = \(worst)")
        #expect(droppedCount > 0)
        // Rows of the kept probabilities still sum to 1 (P itself is not dropped).
        for row in 0..<(2 * h * t) {
            // exp's errors cancel in pⱼ = eⱼ·(1/Σe): the normalising sum (≤ 5 roundings), the
            // reciprocal, the products and the 4 additions here leave ≤ 11u = 6.6e-7.
            let sum = (0..<t).reduce(Float(0)) { $0 + probs.pointer[row * t + $1] }
            #expect(abs(sum - 1) < 1e-6, "row \(row): Σp = \(sum)")
        }
    }
}
