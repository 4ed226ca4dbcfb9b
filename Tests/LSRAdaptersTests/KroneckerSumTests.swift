import LSRAdapters
import LSREngine
import LSRFormats
import TestSupport
import Testing

/// The LSR math against torch.kron and autograd (Fixtures/reference/lsr.safetensors, written by
/// Fixtures/generate/lsr_reference.py with torch 2.13: out 12 = 4·3, in 10 = 5·2, r 4 = 2·2,
/// s 3, α 8; float64 from the f32 factors, stored as f32). KroneckerSum's loops call no BLAS, so
/// their f32 results are the same on every CPU; the tolerances bound their rounding (below).
@Suite struct KroneckerSumTests {
    /// Up and Down: each element Σₖ λₖ·Pₖ·Qₖ over 3 terms is 4 roundings from exact, ≤ 4·u·Σ|terms|
    /// = 1.7e-6 with Σ|terms| ≤ 7.11 here, plus the reference's ½ ulp (2.4e-7 at |M| ≤ 5.85).
    static let materializedTolerance: Float = 2e-6
    /// Factor gradients: P's and Q's sum 4–10 terms of Σ|terms| ≤ 13.1, worst case 10·u·13.1 =
    /// 7.8e-6 plus ½ ulp (4.8e-7 at ≤ 7.9). λ's sum 40 and 48 terms (Σ|terms| ≤ 37.4) in nested
    /// sums about 15 roundings deep: worst case 3.3e-5, typical √15·u·37.4 ≈ 9e-6. Being fixed
    /// loops, they give the same 1.9e-6 (the largest, measured) on every CPU.
    static let tolerance: Float = 1e-5
    let reference: TensorArchive

    init() throws { reference = try Checkpoint.open(TestPaths.fixture("reference/lsr.safetensors")) }

    func buffer(_ name: String) throws -> FloatBuffer {
        let t = try #require(reference[name])
        let out = FloatBuffer(count: t.elementCount)
        try DTypeConversion.toFloat(t.bytes.buffer, dtype: t.dtype, into: out.buffer)
        return out
    }


    func sums() throws -> (up: KroneckerSum, down: KroneckerSum) {
        let up = KroneckerSum(
            terms: 3, a: 4, b: 2, c: 3, d: 2, left: try buffer("up.left"), right: try buffer("up.right"), scales: try buffer("up.scales"))
        let down = KroneckerSum(
            terms: 3, a: 2, b: 5, c: 2, d: 2, left: try buffer("down.left"), right: try buffer("down.right"),
            scales: try buffer("down.scales"))
        return (up, down)
    }

    @Test func materialisedFactorsMatchTorchKron() throws {
        let (up, down) = try sums()
        #expect(up.rows == 12 && up.columns == 4 && down.rows == 4 && down.columns == 10)
        let dUp = maxAbsDifference(up.materialized(), try buffer("up").array)
        let dDown = maxAbsDifference(down.materialized(), try buffer("down").array)
        #expect(dUp < Self.materializedTolerance, "Up: max |Δ| = \(dUp)")
        #expect(dDown < Self.materializedTolerance, "Down: max |Δ| = \(dDown)")
    }

    @Test func factorGradientsMatchAutograd() throws {
        let (up, down) = try sums()
        for (sum, prefix) in [(up, "up"), (down, "down")] {
            let g = try buffer("g_" + prefix)
            let dLeft = FloatBuffer(count: sum.left.count)
            let dRight = FloatBuffer(count: sum.right.count)
            let dScales = FloatBuffer(count: sum.terms)
            sum.backward(g.pointer, dLeft: dLeft.pointer, dRight: dRight.pointer, dScales: dScales.pointer)
            for (got, name) in [(dLeft, "left"), (dRight, "right"), (dScales, "scales")] {
                let d = maxAbsDifference(got.array, try buffer("grad.\(prefix).\(name)").array)
                #expect(d < Self.tolerance, "\(prefix).\(name): max |Δ| = \(d)")
            }
        }
    }

    /// The paper's RoBERTa-base setting: r = 4 (2×2), s = 16, 768 = 32·24 on both sides gives
    /// 2·16·(32·2 + 24·2) = 3,584 factor parameters per 768×768 matrix (LoRA r = 8: 12,288).
    @Test func parameterCountOfThePaperSetting() {
        let split = FactorSplit.auto(768)
        #expect(split == FactorSplit(32, 24))
        let rank = FactorSplit.auto(4)
        let up = KroneckerSum(terms: 16, a: split.first, b: rank.first, c: split.second, d: rank.second)
        let down = KroneckerSum(terms: 16, a: rank.first, b: split.first, c: rank.second, d: split.second)
        #expect(up.factorParameters + down.factorParameters == 3_584)
        #expect(FactorSplit.auto(3072) == FactorSplit(64, 48) && FactorSplit.auto(8) == FactorSplit(4, 2))
        #expect(FactorSplit.auto(7) == FactorSplit(7, 1) && FactorSplit(text: "32x24") == FactorSplit(32, 24))
    }

    /// γ = 1 for one term; a sum whose terms cancel has γ ≫ 1; M = 0 has none.
    @Test func conditionNumber() throws {
        let one = KroneckerSum(
            terms: 1, a: 2, b: 1, c: 1, d: 2, left: FloatBuffer([3, 4]), right: FloatBuffer([1, 2]), scales: FloatBuffer([1]))
        // In double from the f32 M, whose elements are one product each: γ is 1 to a few u.
        #expect(abs(one.conditionNumber()! - 1) < 1e-6)
        // Two terms P⊗Q and −(1−ε)·P⊗Q: ‖M‖ = ε‖P⊗Q‖, (Σλ'²)^½ ≈ √2‖P⊗Q‖ → γ ≈ √2/ε.
        let cancelling = KroneckerSum(
            terms: 2, a: 1, b: 1, c: 1, d: 1, left: FloatBuffer([1, 1]), right: FloatBuffer([1, 1]), scales: FloatBuffer([1, -0.999]))
        // M = 1 + λ₂ is exact in f32 (Sterbenz), but λ₂ = Float(−0.999) is 1.29e-8 off the decimal
        // the formula uses: γ moves by 1.29e-8/ε = 1.3e-5 relative; the rest is double.
        let gamma = try #require(cancelling.conditionNumber())
        let wanted = (1 + 0.999 * 0.999).squareRoot() / 0.001
        #expect(abs(gamma - wanted) / wanted < 1e-4, "γ = \(gamma), expected \(wanted)")
        #expect(KroneckerSum(terms: 2, a: 2, b: 2, c: 2, d: 2).conditionNumber() == nil)
    }
}
