import COpenBLAS
import LSREngine

/// LAPACK's single-precision SVD, as OpenBLAS exports it (Debian builds OpenBLAS without
/// LAPACKE but with LAPACK, so we call the Fortran symbol). Fortran ABI: every argument by
/// reference, matrices column-major, and one hidden length per CHARACTER argument at the end.
@_silgen_name("sgesvd_")
private func sgesvd_(
    _ jobu: UnsafePointer<CChar>, _ jobvt: UnsafePointer<CChar>, _ m: UnsafePointer<Int32>, _ n: UnsafePointer<Int32>,
    _ a: UnsafeMutablePointer<Float>, _ lda: UnsafePointer<Int32>, _ s: UnsafeMutablePointer<Float>,
    _ u: UnsafeMutablePointer<Float>, _ ldu: UnsafePointer<Int32>, _ vt: UnsafeMutablePointer<Float>, _ ldvt: UnsafePointer<Int32>,
    _ work: UnsafeMutablePointer<Float>, _ lwork: UnsafePointer<Int32>, _ info: UnsafeMutablePointer<Int32>,
    _ jobuLength: Int, _ jobvtLength: Int)

/// The nearest sum of s Kronecker products to a matrix, in Frobenius norm (Van Loan and
/// Pitsianis 1993; DESIGN.md §4, "LoRA → LSR").
///
/// For M [(a·c)×(b·d)] the rearrangement R(M) [(a·b)×(c·d)], R[i·b+j, k·d+l] = M[i·c+k, j·d+l],
/// maps P⊗Q (numpy.kron's row-major convention) to the rank-one matrix vec(P)·vec(Q)ᵀ, and is
/// an isometry: ‖M − Σ P_k⊗Q_k‖_F = ‖R − Σ vec(P_k)vec(Q_k)ᵀ‖_F. So the best s-term sum is the
/// rank-s truncated SVD R ≈ Σ_{k≤s} σ_k u_k v_kᵀ (Eckart–Young), and its error is
/// (Σ_{k>s} σ_k²)^½. At s = min(a·b, c·d) every matrix is represented exactly.
///
/// Convention (our choice): the singular value is split evenly between the factors and λ = 1,
/// P_k = reshape(√σ_k·u_k, a×b), Q_k = reshape(√σ_k·v_k, c×d). That is the default LSR
/// parameterisation (λ fixed at 1, not trained), so a converted adapter trains on as a fresh
/// one would; ‖P_k‖_F = ‖Q_k‖_F = √σ_k, and the terms are orthogonal, so γ = 1 (up to rounding).
public enum KroneckerApproximation {
    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// More terms than the rearrangement has singular values.
        case separationRankTooLarge(requested: Int, maximum: Int, shape: String)
        case invalidSeparationRank(Int)
        /// LAPACK sgesvd returned INFO ≠ 0 (< 0: argument -INFO was illegal; > 0: no convergence).
        case lapack(routine: String, info: Int32)

        public var description: String {
            switch self {
            case .separationRankTooLarge(let s, let max, let shape):
                "separation rank \(s) is more than the \(max) terms a sum of \(shape) Kronecker products can have (min(a·b, c·d))"
            case .invalidSeparationRank(let s): "separation rank \(s) must be at least 1"
            case .lapack(let routine, let info):
                info < 0
                    ? "LAPACK \(routine) rejected argument \(-info) (INFO = \(info))"
                    : "LAPACK \(routine) did not converge (INFO = \(info): \(info) superdiagonals did not converge to zero)"
            }
        }
    }

    /// The approximation and what it cost.
    public struct Approximation: @unchecked Sendable {
        /// Σ_{k≤s} P_k ⊗ Q_k with λ = 1.
        public var sum: KroneckerSum
        /// Every singular value of R(M), largest first (min(a·b, c·d) of them).
        public var singularValues: [Float]
        /// ‖M − Σ‖_F / ‖M‖_F, computed from the materialised sum (0 when M = 0).
        public var relativeError: Double
        /// (Σ_{k>s} σ_k²)^½ / ‖M‖_F: the error the SVD predicts (Eckart–Young).
        public var predictedError: Double
    }

    /// The largest useful separation rank for factors P [a×b], Q [c×d].
    public static func maximumTerms(a: Int, b: Int, c: Int, d: Int) -> Int { min(a * b, c * d) }

    /// R(M) [(a·b)×(c·d)] of M [(a·c)×(b·d)] (row-major both).
    public static func rearrange(_ m: UnsafePointer<Float>, a: Int, b: Int, c: Int, d: Int) -> [Float] {
        let columns = b * d
        var r = [Float](repeating: 0, count: a * b * c * d)
        for i in 0..<a {
            for j in 0..<b {
                let row = (i * b + j) * (c * d)
                for k in 0..<c {
                    let source = m + (i * c + k) * columns + j * d
                    for l in 0..<d { r[row + k * d + l] = source[l] }
                }
            }
        }
        return r
    }

    /// The rank-`terms` approximation of `matrix` [(a·c)×(b·d)] by Σ_k P_k [a×b] ⊗ Q_k [c×d].
    public static func approximate(_ matrix: [Float], a: Int, b: Int, c: Int, d: Int, terms: Int) throws(Error) -> Approximation {
        precondition(matrix.count == a * b * c * d, "KroneckerApproximation: matrix is not [(a·c)×(b·d)]")
        let maximum = maximumTerms(a: a, b: b, c: c, d: d)
        guard terms >= 1 else { throw .invalidSeparationRank(terms) }
        guard terms <= maximum else {
            throw .separationRankTooLarge(requested: terms, maximum: maximum, shape: "[\(a)×\(b)] ⊗ [\(c)×\(d)]")
        }
        var r = matrix.withUnsafeBufferPointer { rearrange($0.baseAddress!, a: a, b: b, c: c, d: d) }
        // Row-major R [(ab)×(cd)] is column-major Rᵀ [(cd)×(ab)]. sgesvd of Rᵀ = V Σ Uᵀ gives
        // LAPACK's "U" = V [(cd)×k] (column k contiguous: vec(Q_k)) and "VT" = Uᵀ [k×(ab)]
        // (column-major: U[x, k] at x·k_min + k).
        let (rows, columns) = (c * d, a * b)  // of Rᵀ, column-major
        let kMin = min(rows, columns)
        var sigma = [Float](repeating: 0, count: kMin)
        var v = [Float](repeating: 0, count: rows * kMin)
        var ut = [Float](repeating: 0, count: kMin * columns)
        try svd(&r, rows: rows, columns: columns, sigma: &sigma, u: &v, vt: &ut)

        let left = FloatBuffer(count: terms * a * b)
        let right = FloatBuffer(count: terms * c * d)
        for k in 0..<terms {
            let root = max(sigma[k], 0).squareRoot()
            for x in 0..<(a * b) { left.pointer[k * a * b + x] = root * ut[x * kMin + k] }
            for y in 0..<(c * d) { right.pointer[k * c * d + y] = root * v[k * rows + y] }
        }
        let sum = KroneckerSum(
            terms: terms, a: a, b: b, c: c, d: d, left: left, right: right, scales: FloatBuffer([Float](repeating: 1, count: terms)))

        let norm = frobenius(matrix)
        let tail = sigma[terms...].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return Approximation(
            sum: sum, singularValues: sigma, relativeError: relativeError(sum.materialized(), matrix),
            predictedError: norm > 0 ? tail / norm : 0)
    }

    /// ‖x − reference‖_F / ‖reference‖_F in double (0 when both are 0; ‖x‖ when the reference is 0).
    public static func relativeError(_ x: [Float], _ reference: [Float]) -> Double {
        precondition(x.count == reference.count, "relativeError: sizes differ")
        var difference = 0.0
        for (p, q) in zip(x, reference) { difference += (Double(p) - Double(q)) * (Double(p) - Double(q)) }
        let norm = frobenius(reference)
        return norm > 0 ? difference.squareRoot() / norm : difference.squareRoot()
    }

    public static func frobenius(_ x: [Float]) -> Double { x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// Thin SVD of the column-major `a` [rows×columns] (destroyed): sigma [k], u [rows×k],
    /// vt [k×columns], k = min(rows, columns), both column-major.
    static func svd(
        _ a: inout [Float], rows: Int, columns: Int, sigma: inout [Float], u: inout [Float], vt: inout [Float]
    ) throws(Error) {
        var m = Int32(rows)
        var n = Int32(columns)
        var lda = Int32(max(rows, 1))
        var ldu = Int32(max(rows, 1))
        var ldvt = Int32(max(min(rows, columns), 1))
        var info: Int32 = 0
        var jobu = CChar(UInt8(ascii: "S"))
        var jobvt = CChar(UInt8(ascii: "S"))
        // Workspace query (lwork = -1), then the decomposition.
        var query: Float = 0
        var lwork: Int32 = -1
        sgesvd_(&jobu, &jobvt, &m, &n, &a, &lda, &sigma, &u, &ldu, &vt, &ldvt, &query, &lwork, &info, 1, 1)
        guard info == 0 else { throw .lapack(routine: "sgesvd", info: info) }
        lwork = Int32(query.rounded(.up))
        lwork = max(lwork, 1)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgesvd_(&jobu, &jobvt, &m, &n, &a, &lda, &sigma, &u, &ldu, &vt, &ldvt, &work, &lwork, &info, 1, 1)
        guard info == 0 else { throw .lapack(routine: "sgesvd", info: info) }
    }
}
