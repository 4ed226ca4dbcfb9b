import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import TestSupport
import Testing

/// The factor file: what is written is read back exactly, and every inconsistency between the
/// config and the tensors is refused with the pointer or tensor at fault.
@Suite struct AdapterFileTests {
    /// A two-module LSR set (12×10, r 4 = 2·2, s 3) with the reference factors of
    /// Fixtures/reference/lsr.safetensors in the first module and their negatives in the second.
    func sampleSet() throws -> AdapterSet {
        let reference = try Checkpoint.open(TestPaths.fixture("reference/lsr.safetensors"))
        func buffer(_ name: String, negate: Bool = false) throws -> FloatBuffer {
            let t = try #require(reference[name])
            let out = FloatBuffer(count: t.elementCount)
            try DTypeConversion.toFloat(t.bytes.buffer, dtype: t.dtype, into: out.buffer)
            if negate { for i in 0..<out.count { out.pointer[i] = -out.pointer[i] } }
            return out
        }
        var modules: [AdaptedModule] = []
        for (i, negate) in [false, true].enumerated() {
            let up = KroneckerSum(
                terms: 3, a: 4, b: 2, c: 3, d: 2, left: try buffer("up.left", negate: negate), right: try buffer("up.right"),
                scales: try buffer("up.scales"))
            let down = KroneckerSum(
                terms: 3, a: 2, b: 5, c: 2, d: 2, left: try buffer("down.left"), right: try buffer("down.right"), scales: try buffer("down.scales"))
            modules.append(
                AdaptedModule(name: "roberta.encoder.layer.\(i).attention.self.query", outFeatures: 12, inFeatures: 10, rank: 4, factors: .lsr(up: up, down: down)))
        }
        let hyper = AdapterSet.Hyperparameters(kind: .lsr, rank: 4, separationRank: 3, alpha: 8, rankSplit: FactorSplit(2, 2), targets: ["query"])
        let base = AdapterSet.BaseModel(hiddenSize: 12, layers: 2, attentionHeads: 1, intermediateSize: 48, vocabSize: 100, weights: [("model.safetensors", String(repeating: "0", count: 64))])
        return AdapterSet(hyperparameters: hyper, base: base, modules: modules)
    }

    @Test func roundTrip() throws {
        let dir = TemporaryDirectory()
        let set = try sampleSet()
        try AdapterFile.write(set, to: dir.file("adapter"))
        let back = try AdapterFile.read(dir.file("adapter"))
        #expect(back.hyperparameters == set.hyperparameters && back.base == set.base)
        #expect(back.modules.map(\.name) == set.modules.map(\.name))
        for (a, b) in zip(back.modules, set.modules) {
            #expect(a.deltaW(scaling: 2).array == b.deltaW(scaling: 2).array)
        }
        // ΔW of the first module is torch's (reference delta_w, α/r = 2, computed in float64 and
        // rounded: ½ ulp ≤ 9.5e-7 at |ΔW| ≤ 29.1), within 1e-5. Of lsrconv's f32 roundings only
        // the 4-term sum of the sgemm depends on the BLAS kernel; every order of it and of the
        // 3-term Kronecker sums, with and without FMA (288 variants, numpy), lands within 3.8e-6
        // of the reference (worst-case bound 12·u·Σ|terms| = 3.8e-5 with Σ|terms| ≤ 53.6).
        let reference = try Checkpoint.open(TestPaths.fixture("reference/lsr.safetensors"))
        let got = back.modules[0].deltaW(scaling: back.hyperparameters.scaling).array
        let d = maxAbsDifference(got, try floats(reference, "delta_w"))
        #expect(d < 1e-5, "ΔW: max |Δ| = \(d)")
        #expect(set.parameterCount == 2 * 3 * (4 * 2 + 3 * 2 + 2 * 5 + 2 * 2))
    }

    /// Rewrites adapter_config.json through `edit` and returns the error reading gives.
    func refusal(_ edit: (inout JSONObject) -> Void, tensors: ((inout [Safetensors.OutputTensor]) -> Void)? = nil) throws -> String {
        let dir = TemporaryDirectory()
        let set = try sampleSet()
        try AdapterFile.write(set, to: dir.file("a"))
        var config = try #require(AdapterFile.config(set).objectValue)
        edit(&config)
        try DurableFile.write(JSON.data(.object(config)), to: dir.file("a/adapter_config.json"))
        if let tensors {
            var outputs = AdapterFile.tensors(set)
            tensors(&outputs)
            try Safetensors.write(outputs, metadata: nil, to: dir.file("a/adapter_model.safetensors"))
        }
        do {
            _ = try AdapterFile.read(dir.file("a"))
            return "read"
        } catch let error as FileContextError {
            return "\(FileSystem.baseName(error.path)): \(error.underlying)"
        }
    }

    @Test func configErrorsNameTheirPointer() throws {
        #expect(try refusal { $0["rank"] = 0 } == "adapter_config.json: adapter_config.json at /rank: expected an integer ≥ 1, got 0")
        #expect(try refusal { $0["kind"] = "dora" } == "adapter_config.json: adapter_config.json at /kind: expected \"lsr\" or \"lora\", got \"dora\"")
        #expect(try refusal { $0["rank_split"] = [4, 2] } == "adapter_config.json: adapter_config.json at /rank_split: 4·2 ≠ rank 4")
        #expect(
            try refusal { config in
                var modules = config["modules"]!.arrayValue!
                var first = modules[0].objectValue!
                first["out_split"] = [5, 3]
                modules[0] = .object(first)
                config["modules"] = .array(modules)
            } == "adapter_config.json: adapter_config.json at /modules/0/out_split: 5·3 ≠ out_features 12")
    }

    @Test func tensorErrorsNameTheTensor() throws {
        let q0 = "roberta.encoder.layer.0.attention.self.query"
        #expect(
            try refusal({ _ in }, tensors: { $0.removeAll { $0.name == "\(q0).lsr_down.right" } })
                == "adapter_model.safetensors: tensor '\(q0).lsr_down.right' (named at /modules/0/down/right/tensor) is missing from adapter_model.safetensors")
        #expect(
            try refusal({ _ in }, tensors: { outputs in
                var extra = outputs[0]
                extra.name = "stray.weight"
                outputs.append(extra)
            }) == "adapter_model.safetensors: tensor 'stray.weight' is not named in adapter_config.json")
        #expect(
            try refusal({ _ in }, tensors: { outputs in
                let i = outputs.firstIndex { $0.name == "\(q0).lsr_up.scales" }!
                let nan = [Float](repeating: .nan, count: 3).withUnsafeBytes { [UInt8]($0) }
                outputs[i].source = TensorBytes(owning: nan)
            }) == "adapter_model.safetensors: tensor '\(q0).lsr_up.scales' holds a NaN or infinity at element 0")
        #expect(
            try refusal({ _ in }, tensors: { outputs in
                let i = outputs.firstIndex { $0.name == "\(q0).lsr_up.left" }!
                outputs[i].shape = [3, 2, 4]
            }) == "adapter_model.safetensors: tensor '\(q0).lsr_up.left' has shape [3, 2, 4], the config says [3, 4, 2]")
    }
}
