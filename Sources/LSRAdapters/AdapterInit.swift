import LSREngine
import LSRFormats
import LSRModel

/// Fresh adapters for a model (`lsrconv init-adapter`, and the start of training).
public enum AdapterInit {
    public enum Start: String, Sendable, CaseIterable {
        /// ΔW = 0 at step 0 (DESIGN.md §4): Down factors and Lᵘ random, Rᵘ = 0 (LoRA: B = 0), so
        /// the adapted model starts exactly at the base model.
        case zero
        /// Every factor random, ΔW ≠ 0 (as the paper's official code starts).
        case random
    }

    public struct Options: Sendable {
        public var kind: AdapterKind = .lsr
        public var targets = ["query", "value"]
        public var rank = 4
        public var separationRank = 16
        /// Splits of out and in (n = n₁·n₂); nil: FactorSplit.auto per dimension.
        public var outSplit: FactorSplit?
        public var inSplit: FactorSplit?
        /// r = r1·r2; nil: FactorSplit.auto(rank).
        public var rankSplit: FactorSplit?
        public var alpha: Double = 8
        public var start: Start = .zero
        public var seed: UInt64 = 0
        public init() {}
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case unknownTarget(String, known: [String])
        case badSplit(String)
        case badValue(String)
        public var description: String {
            switch self {
            case .unknownTarget(let t, let k): "unknown target '\(t)' (known: \(k.joined(separator: ", ")))"
            case .badSplit(let s): s
            case .badValue(let s): s
            }
        }
    }

    /// An adapter set for `config`, made for the base whose weight files are `weights`.
    public static func make(config: RobertaConfig, weights: [(file: String, sha256: String)], options: Options) throws(Error) -> AdapterSet {
        guard options.rank >= 1 else { throw .badValue("--rank must be at least 1") }
        guard options.kind == .lora || options.separationRank >= 1 else { throw .badValue("--separation-rank must be at least 1") }
        guard !options.targets.isEmpty else { throw .badValue("--targets names no module") }
        let rankSplit = options.rankSplit ?? FactorSplit.auto(options.rank)
        guard rankSplit.product == options.rank else {
            throw .badSplit("rank split \(rankSplit) does not multiply to --rank \(options.rank)")
        }
        var generator = SplitMix64(seed: options.seed)
        var modules: [AdaptedModule] = []
        let model = RobertaModel.AdaptedLinear.self
        for layer in 0..<config.numHiddenLayers {
            for target in options.targets {
                guard let path = AdapterSet.modulePath(layer: layer, target: target), let (_, linear) = model.parse(path) else {
                    throw .unknownTarget(target, known: AdapterSet.targetNames)
                }
                let (out, inputs) = shape(linear, config)
                let outSplit = options.outSplit ?? FactorSplit.auto(out)
                let inSplit = options.inSplit ?? FactorSplit.auto(inputs)
                guard outSplit.product == out else { throw .badSplit("\(path): split \(outSplit) does not multiply to out_features \(out)") }
                guard inSplit.product == inputs else { throw .badSplit("\(path): split \(inSplit) does not multiply to in_features \(inputs)") }
                modules.append(
                    module(path, out: out, in: inputs, options: options, outSplit: outSplit, inSplit: inSplit, rankSplit: rankSplit, &generator))
            }
        }
        let hyper = AdapterSet.Hyperparameters(
            kind: options.kind, rank: options.rank, separationRank: options.kind == .lsr ? options.separationRank : 0, alpha: options.alpha,
            rankSplit: options.kind == .lsr ? rankSplit : FactorSplit(options.rank, 1), targets: options.targets)
        let base = AdapterSet.BaseModel(
            hiddenSize: config.hiddenSize, layers: config.numHiddenLayers, attentionHeads: config.numAttentionHeads,
            intermediateSize: config.intermediateSize, vocabSize: config.vocabSize, weights: weights)
        return AdapterSet(hyperparameters: hyper, base: base, modules: modules)
    }

    static func shape(_ linear: RobertaModel.AdaptedLinear, _ config: RobertaConfig) -> (Int, Int) {
        switch linear {
        case .query, .key, .value, .attentionOutput: (config.hiddenSize, config.hiddenSize)
        case .intermediate: (config.intermediateSize, config.hiddenSize)
        case .output: (config.hiddenSize, config.intermediateSize)
        }
    }

    /// Initial factors. LoRA's A is kaiming_uniform(a=√5), i.e. U(±1/√in), variance 1/(3·in)
    /// (PEFT LoraLayer.reset_lora_parameters). An LSR Down entry is a sum of s products of a left
    /// and a right factor entry, so its variance is s·σ²ₗ·σ²ᵣ; drawing both factors from
    /// U(±b) with b²/3 = (1/(3·in·s))^½ gives Down the variance of LoRA's A. Up uses the same
    /// scheme with `out`; with `.zero` its right factors (LoRA: B) are 0.
    static func module(
        _ name: String, out: Int, in inputs: Int, options: Options, outSplit: FactorSplit, inSplit: FactorSplit, rankSplit: FactorSplit,
        _ g: inout SplitMix64
    ) -> AdaptedModule {
        let r = options.rank
        func uniform(_ count: Int, bound: Float) -> FloatBuffer {
            let b = FloatBuffer(count: count)
            for i in 0..<count { b.pointer[i] = bound * (2 * g.nextUnit() - 1) }
            return b
        }
        switch options.kind {
        case .lora:
            let down = uniform(r * inputs, bound: 1 / Float(inputs).squareRoot())
            let up = options.start == .zero ? FloatBuffer(count: out * r) : uniform(out * r, bound: 1 / Float(r).squareRoot())
            return AdaptedModule(name: name, outFeatures: out, inFeatures: inputs, rank: r, factors: .lora(up: up, down: down))
        case .lsr:
            let s = options.separationRank
            func factorBound(_ fan: Int) -> Float { (3 * (1 / (3 * Double(fan) * Double(s))).squareRoot()).squareRoot().float }
            let (r1, r2) = (rankSplit.first, rankSplit.second)
            let down = KroneckerSum(
                terms: s, a: r1, b: inSplit.first, c: r2, d: inSplit.second, left: uniform(s * r1 * inSplit.first, bound: factorBound(inputs)),
                right: uniform(s * r2 * inSplit.second, bound: factorBound(inputs)), scales: FloatBuffer([Float](repeating: 1, count: s)))
            let upRight = options.start == .zero ? FloatBuffer(count: s * outSplit.second * r2) : uniform(s * outSplit.second * r2, bound: factorBound(r))
            let up = KroneckerSum(
                terms: s, a: outSplit.first, b: r1, c: outSplit.second, d: r2, left: uniform(s * outSplit.first * r1, bound: factorBound(r)),
                right: upRight, scales: FloatBuffer([Float](repeating: 1, count: s)))
            return AdaptedModule(name: name, outFeatures: out, inFeatures: inputs, rank: r, factors: .lsr(up: up, down: down))
        }
    }
}

extension Double {
    fileprivate var float: Float { Float(self) }
}
