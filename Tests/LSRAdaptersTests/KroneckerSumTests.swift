import LSRAdapters
import LSREngine
import LSRFormats
import TestSupport
import Testing

/// The LSR math against torch.kron and autograd (Fixtures/reference/lsr.safetensors, written by
/// Fixtures/generate/lsr_reference.py with torch 2.13: out 12 = 4·3, in 10 = 5·2, r 4 = 2·2,
/// s 3, α 8). Tolerance 1e-5 absolute on values of order 1–10.
@Suite struct KroneckerSumTests {
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
        #expect(maxAbsDifference(up.materialized(), try buffer("up").array) < Self.tolerance)
        #expect(maxAbsDifference(down.materialized(), try buffer("down").array) < Self.tolerance)
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
    @Test func conditionNumber() {
        let one = KroneckerSum(
            terms: 1, a: 2, b: 1, c: 1, d: 2, left: FloatBuffer([3, 4]), right: FloatBuffer([1, 2]), scales: FloatBuffer([1]))
        #expect(abs(one.conditionNumber()! - 1) < 1e-6)
        // Two terms P⊗Q and −(1−ε)·P⊗Q: ‖M‖ = ε‖P⊗Q‖, (Σλ'²)^½ ≈ √2‖P⊗Q‖ → γ ≈ √2/ε.
        let cancelling = KroneckerSum(
            terms: 2, a: 1, b: 1, c: 1, d: 1, left: FloatBuffer([1, 1]), right: FloatBuffer([1, 1]), scales: FloatBuffer([1, -0.999]))
        #expect(abs(cancelling.conditionNumber()! - (1 + 0.999 * 0.999).squareRoot() / 0.001) / 1414 < 1e-3)
        #expect(KroneckerSum(terms: 2, a: 2, b: 2, c: 2, d: 2).conditionNumber() == nil)
    }
}
