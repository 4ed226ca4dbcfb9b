import LSREngine

/// Which low-rank form an adapter takes. Both travel through the same files and commands.
public enum AdapterKind: String, Sendable, CaseIterable {
    /// LSR-Adapt: Up and Down each a sum of s Kronecker products (DESIGN.md §4).
    case lsr
    /// LoRA (Hu et al. 2021): Up = B [out×r] and Down = A [r×in] as plain matrices.
    case lora
}

/// The adapter of one Linear layer W [out×in]: ΔW = scaling · Up·Down, Up [out×r], Down [r×in],
/// scaling = α/r (PEFT's lora_alpha/r).
public struct AdaptedModule: @unchecked Sendable {
    /// transformers' module path, e.g. roberta.encoder.layer.0.attention.self.query.
    public let name: String
    public let outFeatures: Int
    public let inFeatures: Int
    public let rank: Int
    public var factors: Factors

    public enum Factors: @unchecked Sendable {
        /// Up = Σ λ (Lᵘ ⊗ Rᵘ): Lᵘ [o1×r1], Rᵘ [o2×r2]; Down = Σ λ (Lᵈ ⊗ Rᵈ): Lᵈ [r1×i1], Rᵈ [r2×i2].
        case lsr(up: KroneckerSum, down: KroneckerSum)
        /// Up [out×r] (LoRA's B), Down [r×in] (LoRA's A).
        case lora(up: FloatBuffer, down: FloatBuffer)
    }

    public init(name: String, outFeatures: Int, inFeatures: Int, rank: Int, factors: Factors) {
        self.name = name
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.rank = rank
        self.factors = factors
    }

    public var kind: AdapterKind {
        if case .lsr = factors { return .lsr }
        return .lora
    }

    /// Trainable factor parameters (λ not counted: fixed at 1 unless trained).
    public var parameterCount: Int {
        switch factors {
        case .lsr(let up, let down): up.factorParameters + down.factorParameters
        case .lora: rank * (outFeatures + inFeatures)
        }
    }

    /// Up [out×r], materialised.
    public func up() -> FloatBuffer {
        switch factors {
        case .lsr(let up, _):
            let m = FloatBuffer(count: outFeatures * rank)
            up.materialize(into: m.pointer)
            return m
        case .lora(let up, _): return up
        }
    }

    /// Down [r×in], materialised.
    public func down() -> FloatBuffer {
        switch factors {
        case .lsr(_, let down):
            let m = FloatBuffer(count: rank * inFeatures)
            down.materialize(into: m.pointer)
            return m
        case .lora(_, let down): return down
        }
    }

    /// ΔW [out×in] = scaling · Up·Down (one GEMM; only merging and export form it).
    public func deltaW(scaling: Float) -> FloatBuffer {
        let (u, d) = (up(), down())
        let delta = FloatBuffer(count: outFeatures * inFeatures)
        BLAS.gemm(
            m: outFeatures, n: inFeatures, k: rank, alpha: scaling, a: u.pointer, lda: rank, b: d.pointer, ldb: inFeatures,
            c: delta.pointer, ldc: inFeatures)
        return delta
    }
}
