import LSRAdapters
import LSREngine
import TestSupport
import Testing

/// Van Loan–Pitsianis: the nearest sum of s Kronecker products through LAPACK sgesvd.
///
/// Tolerances: sgesvd (on any BLAS kernel) is backward stable, its σ, U, V exact for R + E with
/// ‖E‖ ≤ p(n)·u·‖R‖, p(n) a modest multiple of n ≤ 28 here; so σ moves by ≤ ‖E‖ (Weyl), the
/// truncation error by ≤ 2‖E‖ (Mirsky), and materialising the terms rounds by a few u: all
/// within ~100u ≈ 6e-6 relative to ‖M‖, hence 1e-5 (measured ≤ 7e-7).
@Suite struct KroneckerApproximationTests {
    func random(_ count: Int, _ g: inout SplitMix64) -> [Float] { (0..<count).map { _ in 2 * g.nextUnit() - 1 } }

    /// M = Σ_{k<3} P_k ⊗ Q_k with P [4×3], Q [5×2] random: M is [20×6], R(M) [12×10] has rank 3.
    func exactSum(_ g: inout SplitMix64) -> [Float] {
        let (a, b, c, d) = (4, 3, 5, 2)
        let sum = KroneckerSum(
            terms: 3, a: a, b: b, c: c, d: d, left: FloatBuffer(random(3 * a * b, &g)), right: FloatBuffer(random(3 * c * d, &g)),
            scales: FloatBuffer([1, 0.5, 0.25]))
        return sum.materialized()
    }

    @Test func recoversAnExactSumOfThreeTerms() throws {
        var g = SplitMix64(seed: 7)
        let m = exactSum(&g)
        let approximation = try KroneckerApproximation.approximate(m, a: 4, b: 3, c: 5, d: 2, terms: 3)
        #expect(approximation.relativeError < 1e-5, "s = 3: \(approximation.relativeError)")
        #expect(approximation.sum.terms == 3 && approximation.sum.scales.array == [1, 1, 1])
        // The rearranged matrix has rank 3: the other singular values vanish.
        let sigma = approximation.singularValues
        #expect(sigma.count == 10 && sigma[3...].allSatisfy { $0 <= 1e-5 * sigma[0] }, "σ = \(sigma)")
    }

    @Test func truncationErrorIsTheSingularValueTail() throws {
        var g = SplitMix64(seed: 11)
        let m = exactSum(&g)
        let norm = KroneckerApproximation.frobenius(m)
        let full = try KroneckerApproximation.approximate(m, a: 4, b: 3, c: 5, d: 2, terms: 3)
        for s in 1...2 {
            let approximation = try KroneckerApproximation.approximate(m, a: 4, b: 3, c: 5, d: 2, terms: s)
            let tail = full.singularValues[s...].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() / norm
            #expect(abs(approximation.relativeError - tail) < 1e-5, "s = \(s): \(approximation.relativeError) vs \(tail)")
            // The same sgesvd of the same matrix in this process, and the same formula: equal.
            #expect(abs(approximation.predictedError - tail) < 1e-7)
            #expect(approximation.relativeError > 1e-3)
        }
    }

    @Test func fullSeparationRankIsExactForAnyMatrix() throws {
        var g = SplitMix64(seed: 3)
        // Both orientations of R: a·b < c·d and a·b > c·d.
        for (a, b, c, d) in [(4, 2, 8, 2), (8, 3, 2, 2), (3, 5, 4, 7)] {
            let m = random(a * b * c * d, &g)
            let s = KroneckerApproximation.maximumTerms(a: a, b: b, c: c, d: d)
            let approximation = try KroneckerApproximation.approximate(m, a: a, b: b, c: c, d: d, terms: s)
            #expect(approximation.relativeError < 1e-5, "[\(a)×\(b)]⊗[\(c)×\(d)], s = \(s): \(approximation.relativeError)")
            // The terms are orthogonal and balanced: γ = 1.
            // γ² = Σσₖ²‖uₖ‖²‖vₖ‖²/‖M‖²: 1 up to the same ~100u (U, V orthonormal to p(n)·u).
            let gamma = try #require(approximation.sum.conditionNumber())
            #expect(abs(gamma - 1) < 1e-5, "γ = \(gamma)")
        }
    }

    @Test func rearrangementFollowsTheDocumentedIndexing() {
        var g = SplitMix64(seed: 5)
        let (a, b, c, d) = (2, 3, 4, 5)
        let m = random(a * b * c * d, &g)
        let r = m.withUnsafeBufferPointer { KroneckerApproximation.rearrange($0.baseAddress!, a: a, b: b, c: c, d: d) }
        for i in 0..<a { for j in 0..<b { for k in 0..<c { for l in 0..<d {
            #expect(r[(i * b + j) * (c * d) + k * d + l] == m[(i * c + k) * (b * d) + j * d + l])
        } } } }
    }

    @Test func tooManyTermsIsATypedError() {
        let m = [Float](repeating: 1, count: 4 * 3 * 5 * 2)
        #expect(throws: KroneckerApproximation.Error.separationRankTooLarge(requested: 11, maximum: 10, shape: "[4×3] ⊗ [5×2]")) {
            _ = try KroneckerApproximation.approximate(m, a: 4, b: 3, c: 5, d: 2, terms: 11)
        }
        #expect(throws: KroneckerApproximation.Error.invalidSeparationRank(0)) {
            _ = try KroneckerApproximation.approximate(m, a: 4, b: 3, c: 5, d: 2, terms: 0)
        }
    }
}
