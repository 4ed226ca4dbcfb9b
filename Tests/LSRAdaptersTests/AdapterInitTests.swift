import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import TestSupport
import Testing

/// Fresh adapters: the paper's parameter count, ΔW = 0 at the start by default (so the adapted
/// model is the base model exactly), and LoRA-matched initial scale.
@Suite struct AdapterInitTests {
    /// roberta-base: 12 layers, 768 hidden; query and value, r 4 (2×2), s 16, 768 = 32·24:
    /// 24 matrices × 3,584 = 86,016 parameters (LoRA r = 4: 147,456).
    @Test func robertaBaseParameterCount() throws {
        let set = try AdapterInit.make(config: RobertaConfig(), weights: [], options: AdapterInit.Options())
        #expect(set.modules.count == 24)
        #expect(set.parameterCount == 86_016)
        #expect(set.modules.allSatisfy { $0.parameterCount == 3_584 })
    }

    @Test func zeroStartIsTheBaseModel() throws {
        let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
        var options = AdapterInit.Options()
        options.separationRank = 3
        let set = try AdapterInit.make(config: model.config, weights: [], options: options)
        #expect(set.modules.allSatisfy { $0.deltaW(scaling: set.hyperparameters.scaling).array.allSatisfy { $0 == 0 } })
        let batch = TokenBatch(ids: [0, 100, 200, 2], mask: [1, 1, 1, 1], batch: 1, length: 4)
        let base = try model.forward(batch).logits.array
        try set.attach(to: model)
        #expect(try model.forward(batch).logits.array == base)
    }

    @Test func randomStartIsSeededAndNonZero() throws {
        var options = AdapterInit.Options()
        options.start = .random
        options.seed = 7
        let config = RobertaConfig()
        let a = try AdapterInit.make(config: config, weights: [], options: options)
        let b = try AdapterInit.make(config: config, weights: [], options: options)
        options.seed = 8
        let c = try AdapterInit.make(config: config, weights: [], options: options)
        let da = a.modules[0].deltaW(scaling: 1).array
        #expect(da.contains { $0 != 0 })
        #expect(da == b.modules[0].deltaW(scaling: 1).array)
        #expect(da != c.modules[0].deltaW(scaling: 1).array)
    }

    /// Down's entries have the variance of LoRA's A, 1/(3·in) (kaiming_uniform with a = √5),
    /// within 10% over the 3,072 entries of a 4×768 Down (fixed seed: not a flaky test).
    @Test func downMatchesLoRAScale() throws {
        let set = try AdapterInit.make(config: RobertaConfig(), weights: [], options: AdapterInit.Options())
        let down = set.modules[0].down().array
        let variance = down.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(down.count)
        let lora = 1 / (3.0 * 768)
        #expect(abs(variance / lora - 1) < 0.1, "variance \(variance) vs LoRA's \(lora)")
    }

    @Test func badOptions() {
        var options = AdapterInit.Options()
        options.targets = ["query", "gate"]
        #expect(throws: AdapterInit.Error.unknownTarget("gate", known: AdapterSet.targetNames)) {
            try AdapterInit.make(config: RobertaConfig(), weights: [], options: options)
        }
        options = AdapterInit.Options()
        options.rankSplit = FactorSplit(3, 2)
        #expect(throws: AdapterInit.Error.badSplit("rank split 3x2 does not multiply to --rank 4")) {
            try AdapterInit.make(config: RobertaConfig(), weights: [], options: options)
        }
    }
}
