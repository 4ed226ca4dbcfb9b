#if canImport(Glibc)
    import Glibc
#endif

/// Pointwise activations of the encoder (transformers activations.py ACT2FN names).
public enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)): "gelu", RoBERTa's hidden_act (erf to
    /// 1.5e-7, as torch computes it on the CPU; see VectorMath.erf).
    case gelu
    /// tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): "gelu_new",
    /// "gelu_pytorch_tanh", fairseq's "gelu_accurate".
    case geluTanh
    case relu
    /// The classification head's pooler-style activation.
    case tanh

    /// The activation a config.json `hidden_act` names; nil for one the engine lacks.
    public init?(configName name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "tanh": self = .tanh
        default: return nil
        }
    }

    /// The names `init(configName:)` accepts.
    public static let configNames = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "tanh"]

    /// y = f(x) elementwise over `count` values; `x` and `y` may be the same buffer.
    public func forward(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
        Parallel.forEach(count, grain: 1 << 14) { range in
            switch self {
            case .gelu:
                // Eight lanes at a time (VectorMath.erf), the tail scalar with the same formula.
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    let v = UnsafeRawPointer(x + i).loadUnaligned(as: VectorMath.Vector.self)
                    let g = 0.5 * v * (1 + VectorMath.erf(v * 0.707_106_781_186_547_5))
                    UnsafeMutableRawPointer(y + i).storeBytes(of: g, as: VectorMath.Vector.self)
                    i += 8
                }
                if i < range.upperBound {
                    var v = VectorMath.Vector(repeating: 0)
                    for j in i..<range.upperBound { v[j - i] = x[j] }
                    let g = 0.5 * v * (1 + VectorMath.erf(v * 0.707_106_781_186_547_5))
                    for j in i..<range.upperBound { y[j] = g[j - i] }
                }
            case .geluTanh:
                for i in range {
                    let v = x[i]
                    y[i] = 0.5 * v * (1 + tanhf(0.797_884_560_802_865_4 * (v + 0.044715 * v * v * v)))
                }
            case .relu:
                for i in range { y[i] = max(x[i], 0) }
            case .tanh:
                for i in range { y[i] = tanhf(x[i]) }
            }
        }
    }
}

extension Activation {
    /// dx += dy·f′(x) over `count` values; `y` = f(x) (tanh's derivative is 1 − y²).
    /// GELU: f′(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π); its tanh form as torch's
    /// gelu_backward(approximate='tanh').
    public func backward(
        _ x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEach(count, grain: 1 << 14) { range in
            switch self {
            case .gelu:
                // Eight lanes loaded and stored whole, as forward does: filling SIMD8 lanes one
                // by one cost half the time of this kernel (lsrbench --mode components: 35.6 →
                // 17.1 ms per call at 16·128×3072 on 2 threads). Lanes are independent and the
                // arithmetic is unchanged, so the result is bit-identical to the lane-by-lane
                // form; the tail (< 8 values) still fills a vector lane by lane.
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    let v = UnsafeRawPointer(x + i).loadUnaligned(as: VectorMath.Vector.self)
                    let g = UnsafeRawPointer(dy + i).loadUnaligned(as: VectorMath.Vector.self)
                    let acc = UnsafeRawPointer(dx + i).loadUnaligned(as: VectorMath.Vector.self)
                    let cdf = 0.5 * (1 + VectorMath.erf(v * 0.707_106_781_186_547_5))
                    let pdf = VectorMath.exp(-0.5 * v * v) * 0.398_942_280_401_432_7
                    UnsafeMutableRawPointer(dx + i).storeBytes(of: acc + g * (cdf + v * pdf), as: VectorMath.Vector.self)
                    i += 8
                }
                if i < range.upperBound {
                    let n = range.upperBound - i
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
                }
            case .geluTanh:
                for i in range {
                    let v = x[i]
                    let inner = 0.797_884_560_802_865_4 * (v + 0.044715 * v * v * v)
                    let t = tanhf(inner)
                    let dInner = 0.797_884_560_802_865_4 * (1 + 3 * 0.044715 * v * v)
                    dx[i] += dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dInner)
                }
            case .relu:
                for i in range where x[i] > 0 { dx[i] += dy[i] }
            case .tanh:
                for i in range { dx[i] += dy[i] * (1 - y[i] * y[i]) }
            }
        }
    }
}
