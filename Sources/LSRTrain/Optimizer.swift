import LSREngine

/// Optimisers over f32 parameter tensors updated in place. Each parameter has its gradient
/// buffer beside it; the caller fills the gradients, then calls `step`.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case adamw, sgd
}

/// AdamW (Loshchilov & Hutter 2019) as torch.optim.AdamW computes it (torch/optim/adamw.py,
/// single-tensor path): decoupled weight decay p ← p·(1 − lr·wd), then
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).
/// With `kind: .sgd`: p ← p·(1 − lr·wd) − lr·g (no momentum).
public final class Optimizer: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public var kind: OptimizerKind = .adamw
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0.01
        public init() {}
    }

    /// One trained tensor: its values, its gradient, and Adam's moments.
    public struct Parameter {
        public let values: FloatBuffer
        public let gradient: FloatBuffer
        /// Adam's first and second moments (exp_avg, exp_avg_sq in torch's state dict).
        public let m: FloatBuffer
        public let v: FloatBuffer
        public init(values: FloatBuffer, gradient: FloatBuffer) {
            self.values = values
            self.gradient = gradient
            m = FloatBuffer(count: values.count)
            v = FloatBuffer(count: values.count)
        }
    }

    public let settings: Settings
    public private(set) var parameters: [Parameter]
    /// Updates done so far (t of the bias corrections).
    public private(set) var steps = 0

    public init(parameters: [Parameter], settings: Settings = Settings()) {
        self.parameters = parameters
        self.settings = settings
    }

    /// √(Σ g²) over every gradient (for clipping by global norm), summed in double.
    public var gradientNorm: Double {
        var total = 0.0
        for p in parameters {
            let g = p.gradient.pointer
            for i in 0..<p.gradient.count { total += Double(g[i]) * Double(g[i]) }
        }
        return total.squareRoot()
    }

    /// The gradient factor of torch.nn.utils.clip_grad_norm_: max_norm / (‖g‖ + 1e-6), at most 1
    /// (1 when `maxNorm` is 0: clipping off). `norm` is the global norm of the gradients as the
    /// update will see them.
    public static func clipFactor(norm: Double, maxNorm: Double) -> Double {
        guard maxNorm > 0 else { return 1 }
        return min(1, maxNorm / (norm + 1e-6))
    }

    /// Sets the update count, as a checkpoint recorded it (the moments are restored through
    /// `parameters`).
    public func restore(steps: Int) { self.steps = steps }

    /// One update with learning rate `lr`, gradients first scaled by `gradientScale` (clipping,
    /// accumulation).
    public func step(lr: Float, gradientScale: Float = 1) {
        steps += 1
        let s = settings
        let decay = 1 - lr * s.weightDecay
        let correction1 = 1 - pow(s.beta1, Float(steps))
        let correction2 = (1 - pow(s.beta2, Float(steps))).squareRoot()
        let stepSize = lr / correction1
        for p in parameters {
            let (w, g, m, v) = (p.values.pointer, p.gradient.pointer, p.m.pointer, p.v.pointer)
            for i in 0..<p.values.count {
                let grad = g[i] * gradientScale
                w[i] *= decay
                switch s.kind {
                case .adamw:
                    m[i] = s.beta1 * m[i] + (1 - s.beta1) * grad
                    v[i] = s.beta2 * v[i] + (1 - s.beta2) * grad * grad
                    w[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2 + s.epsilon)
                case .sgd:
                    w[i] -= lr * grad
                }
            }
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
