import LSREngine

/// A matrix written as a sum of s Kronecker products (DESIGN.md §4, the paper's Def. 3.1):
/// M = Σₖ λₖ · (Pₖ ⊗ Qₖ), Pₖ [a×b], Qₖ [c×d], M [(a·c)×(b·d)], with numpy.kron/torch.kron's
/// row-major convention (P⊗Q)[i·c+k, j·d+l] = P[i,j]·Q[k,l].
///
/// Viewing M as the 4-index array M4[i,k,j,l] makes every operation a small contraction over
/// the term index: materialising is O(s·a·b·c·d) = O(s·|M|), and so are the factor gradients
/// (the "reshape contraction" of DESIGN.md §4; the vec trick costs ~8.5× more at these shapes).
public struct KroneckerSum: @unchecked Sendable {
    /// Term count s and factor shapes: P [a×b], Q [c×d].
    public let terms: Int
    public let a: Int, b: Int, c: Int, d: Int
    public var left: FloatBuffer  // P [s, a, b]
    public var right: FloatBuffer  // Q [s, c, d]
    public var scales: FloatBuffer  // λ [s]

    public init(terms: Int, a: Int, b: Int, c: Int, d: Int, left: FloatBuffer, right: FloatBuffer, scales: FloatBuffer) {
        precondition(left.count == terms * a * b && right.count == terms * c * d && scales.count == terms, "KroneckerSum shapes")
        self.terms = terms
        (self.a, self.b, self.c, self.d) = (a, b, c, d)
        self.left = left
        self.right = right
        self.scales = scales
    }

    /// A zero sum of the given shape with λ = 1.
    public init(terms: Int, a: Int, b: Int, c: Int, d: Int) {
        self.init(
            terms: terms, a: a, b: b, c: c, d: d, left: FloatBuffer(count: terms * a * b), right: FloatBuffer(count: terms * c * d),
            scales: FloatBuffer([Float](repeating: 1, count: terms)))
    }

    public var rows: Int { a * c }
    public var columns: Int { b * d }
    /// Factor parameters (λ not counted: fixed at 1 unless trained).
    public var factorParameters: Int { terms * (a * b + c * d) }

    /// M [rows × columns] = Σₖ λₖ (Pₖ ⊗ Qₖ), overwriting `m`.
    public func materialize(into m: UnsafeMutablePointer<Float>) {
        let (columns, p, q, lambda) = (self.columns, left.pointer, right.pointer, scales.pointer)
        m.update(repeating: 0, count: rows * columns)
        for s in 0..<terms {
            for i in 0..<a {
                for j in 0..<b {
                    let pij = lambda[s] * p[(s * a + i) * b + j]
                    if pij == 0 { continue }
                    let qs = q + s * c * d
                    for k in 0..<c {
                        let row = m + (i * c + k) * columns + j * d
                        let qk = qs + k * d
                        for l in 0..<d { row[l] += pij * qk[l] }
                    }
                }
            }
        }
    }

    /// The materialised matrix as an array (tests, export).
    public func materialized() -> [Float] {
        let m = FloatBuffer(count: rows * columns)
        materialize(into: m.pointer)
        return m.array
    }

    /// Accumulates the gradients of the factors given G = ∂L/∂M [rows × columns]:
    /// ∂L/∂Pₖ[i,j] += λₖ Σ_{k,l} G4[i,k,j,l]·Qₖ[k,l];  ∂L/∂Qₖ[k,l] += λₖ Σ_{i,j} G4[i,k,j,l]·Pₖ[i,j];
    /// ∂L/∂λₖ += Σ G4[i,k,j,l]·Pₖ[i,j]·Qₖ[k,l] (when `dScales` is given).
    public func backward(
        _ g: UnsafePointer<Float>, dLeft: UnsafeMutablePointer<Float>, dRight: UnsafeMutablePointer<Float>,
        dScales: UnsafeMutablePointer<Float>? = nil
    ) {
        let (columns, p, q, lambda) = (self.columns, left.pointer, right.pointer, scales.pointer)
        for s in 0..<terms {
            let qs = q + s * c * d
            let dqs = dRight + s * c * d
            var dLambda: Float = 0
            for i in 0..<a {
                for j in 0..<b {
                    let pij = p[(s * a + i) * b + j]
                    var gq: Float = 0  // Σ_{k,l} G4[i,k,j,l]·Q[k,l]
                    for k in 0..<c {
                        let row = g + (i * c + k) * columns + j * d
                        let qk = qs + k * d
                        let dqk = dqs + k * d
                        for l in 0..<d {
                            gq += row[l] * qk[l]
                            dqk[l] += lambda[s] * pij * row[l]
                        }
                    }
                    dLeft[(s * a + i) * b + j] += lambda[s] * gq
                    dLambda += pij * gq
                }
            }
            dScales?[s] += dLambda
        }
    }

    /// The condition number γ of the representation (paper Def. 3.3, after Beylkin and
    /// Mohlenkamp): with every term rescaled to unit-norm factors, λ'ₖ = λₖ‖Pₖ‖_F‖Qₖ‖_F
    /// (‖P⊗Q‖_F = ‖P‖_F‖Q‖_F), γ = (Σₖ λ'ₖ²)^½ / ‖M‖_F. γ = 1 for a single term or orthogonal
    /// terms; large γ means terms cancel, and rounding to a narrow dtype loses ‖M‖ to
    /// γ·μ·‖M‖. Nil when M = 0 (a freshly initialised Up).
    public func conditionNumber() -> Double? {
        var termNorms = 0.0
        for s in 0..<terms {
            var pp = 0.0
            var qq = 0.0
            for x in 0..<(a * b) { pp += Double(left.pointer[s * a * b + x]) * Double(left.pointer[s * a * b + x]) }
            for x in 0..<(c * d) { qq += Double(right.pointer[s * c * d + x]) * Double(right.pointer[s * c * d + x]) }
            let lambda = Double(scales.pointer[s])
            termNorms += lambda * lambda * pp * qq
        }
        let m = materialized()
        let norm = m.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { return nil }
        return termNorms.squareRoot() / norm
    }
}
