/// Layer normalisation over the last dimension, as torch.nn.LayerNorm:
/// y = (x − mean) / sqrt(var + eps) · γ + β, with the biased variance.
///
/// Shapes: x, y [N, C]; γ, β [C]; mean, rstd [N] (kept for the backward pass).
public struct LayerNorm: @unchecked Sendable {
    public let weight: FloatBuffer  // γ [C]
    public let bias: FloatBuffer  // β [C]
    public let eps: Float
    public var width: Int { weight.count }

    public init(weight: FloatBuffer, bias: FloatBuffer, eps: Float) {
        precondition(weight.count == bias.count, "LayerNorm shapes")
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    /// y = LayerNorm(x); `x` and `y` may be the same buffer. Statistics in f32 with a
    /// two-pass variance (PyTorch's CPU kernel uses Welford in f32; both are well inside 1e-6
    /// here). `mean` and `rstd` receive the row statistics when given.
    public func forward(
        _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil
    ) {
        let c = width
        let gamma = weight.pointer
        let beta = bias.pointer
        let eps = self.eps
        Parallel.forEach(rows, grain: 16) { range in
            for r in range {
                let row = x + r * c
                let out = y + r * c
                var sum: Float = 0
                for i in 0..<c { sum += row[i] }
                let mu = sum / Float(c)
                var squares: Float = 0
                for i in 0..<c {
                    let d = row[i] - mu
                    squares += d * d
                }
                let inv = 1 / (squares / Float(c) + eps).squareRoot()
                for i in 0..<c { out[i] = (row[i] - mu) * inv * gamma[i] + beta[i] }
                mean?[r] = mu
                rstd?[r] = inv
            }
        }
    }

    /// Gradients given dy [N, C], the input x and the row statistics the forward pass saved:
    /// with x̂ = (x − mean)·rstd and g = dy∘γ,
    ///   dx = rstd·(g − mean(g) − x̂·mean(g∘x̂)),  dγ += Σ_rows dy∘x̂,  dβ += Σ_rows dy
    /// (llm.c layernorm_backward; dx accumulates).
    public func backward(
        _ x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
        dx: UnsafeMutablePointer<Float>, dGamma: UnsafeMutablePointer<Float>? = nil, dBeta: UnsafeMutablePointer<Float>? = nil
    ) {
        let c = width
        let gamma = weight.pointer
        Parallel.forEach(rows, grain: 16) { range in
            for r in range {
                let (row, grad, out) = (x + r * c, dy + r * c, dx + r * c)
                let (mu, inv) = (mean[r], rstd[r])
                var meanG: Float = 0
                var meanGX: Float = 0
                for i in 0..<c {
                    let g = grad[i] * gamma[i]
                    meanG += g
                    meanGX += g * (row[i] - mu) * inv
                }
                meanG /= Float(c)
                meanGX /= Float(c)
                for i in 0..<c {
                    let xhat = (row[i] - mu) * inv
                    out[i] += inv * (grad[i] * gamma[i] - meanG - xhat * meanGX)
                }
            }
        }
        // Parameter gradients sum over rows: one pass, not split (rows would race on them).
        if dGamma != nil || dBeta != nil {
            for r in 0..<rows {
                for i in 0..<c {
                    let g = dy[r * c + i]
                    dGamma?[i] += g * (x[r * c + i] - mean[r]) * rstd[r]
                    dBeta?[i] += g
                }
            }
        }
    }
}
