import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import TestSupport
import Testing

/// `lsrconv export` of the PyTorch-written adapter (Fixtures/reference/adapter): the dense ΔW
/// and the PEFT factors give the reference ΔW (`<module>.delta_w` in
/// Fixtures/reference/adapted.safetensors, tolerance 1e-5: the f32 sums of ΔW in any order, with
/// or without FMA, stay within 2.9e-6 of torch's, see AdaptedForwardTests.deltaWMatchesTorch),
/// the PEFT config carries PEFT's fields,
/// the lsr copy reads back identical, and a failure writes nothing. That PEFT itself loads the
/// export is `make interop-torch` (Tests/interop/check_torch.py).
@Suite struct ExportCommandTests {
    static let adapter = TestPaths.fixture("reference/adapter")
    static let model = TestPaths.fixture("tiny-roberta")
    static let modules = (0..<2).flatMap { l in ["query", "value"].map { "roberta.encoder.layer.\(l).attention.self.\($0)" } }



    @Test func deltaExportIsTheReferenceDeltaW() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["export", "--adapter", Self.adapter, "--format", "delta", "--out", dir.file("delta")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileSystem.contents(of: dir.file("delta")) == ["delta_config.json", "delta_weights.safetensors"])
        let reference = try Checkpoint.open(TestPaths.fixture("reference/adapted.safetensors"))
        let delta = try Checkpoint.open(dir.file("delta/delta_weights.safetensors"))
        #expect(Set(delta.tensors.map(\.name)) == Set(Self.modules.map { $0 + ".weight" }))
        for module in Self.modules {
            #expect(try #require(delta[module + ".weight"]).shape == [64, 64])
            #expect(try #require(delta[module + ".weight"]).dtype == .f32)
            let d = maxAbsDifference(try floats(delta, module + ".weight"), try floats(reference, module + ".delta_w"))
            #expect(d <= 1e-5, "\(module): max |Δ| = \(d)")
        }
        let config = try JSON.parse(readFile(dir.file("delta/delta_config.json")))
        let adapterConfig = try JSON.parse(readFile(Self.adapter + "/adapter_config.json"))
        #expect(config["scaling"] == 2.0 && config["head"] == .null)
        #expect(config["base_model"] == adapterConfig["base_model"])
        #expect(config["modules"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == Self.modules)
    }

    @Test func peftExportGivesTheReferenceDeltaW() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["export", "--adapter", Self.adapter, "--format", "peft-lora", "--out", dir.file("peft"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSON.parse(Array(result.stdout.utf8))
        #expect(report["format"] == "peft-lora" && report["head"] == .null)
        #expect(try FileSystem.contents(of: dir.file("peft")) == ["adapter_config.json", "adapter_model.safetensors"])

        let config = try JSON.parse(readFile(dir.file("peft/adapter_config.json")))
        // No head and no --model: no SEQ_CLS (PEFT's wrapper would demand classifier tensors).
        #expect(config["peft_type"] == "LORA" && config["task_type"] == .null)
        #expect(config["r"] == 4 && config["lora_alpha"] == 8 && config["lora_dropout"] == 0.0)
        #expect(config["target_modules"] == ["query", "value"])
        #expect(config["modules_to_save"] == .null)
        #expect(config["base_model_name_or_path"] == "")
        #expect(config["bias"] == "none" && config["fan_in_fan_out"] == false && config["use_rslora"] == false && config["use_dora"] == false)
        #expect(config["peft_version"] == "0.21.2" && config["inference_mode"] == true)
        // json.dumps(indent=2, sort_keys=True): keys sorted, no final newline.
        let keys = try #require(config.objectValue?.keys)
        #expect(keys == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        let bytes = readFile(dir.file("peft/adapter_config.json"))
        #expect(bytes.last == UInt8(ascii: "}") && bytes.starts(with: Array("{\n  \"alora_invocation_tokens\": null,\n".utf8)))

        let weights = try Checkpoint.open(dir.file("peft/adapter_model.safetensors"))
        let reference = try Checkpoint.open(TestPaths.fixture("reference/adapted.safetensors"))
        #expect(weights.tensors.count == 2 * Self.modules.count)
        let scaling = Float(8.0 / 4.0)
        for module in Self.modules {
            let prefix = "base_model.model." + module
            let a = try #require(weights[prefix + ".lora_A.weight"])
            let b = try #require(weights[prefix + ".lora_B.weight"])
            #expect(a.shape == [4, 64] && b.shape == [64, 4] && a.dtype == .f32 && b.dtype == .f32)
            let (av, bv) = (try floats(weights, prefix + ".lora_A.weight"), try floats(weights, prefix + ".lora_B.weight"))
            // B·A summed here in f32 (one of the orders AdaptedForwardTests' 1e-5 covers).
            var delta = [Float](repeating: 0, count: 64 * 64)
            for i in 0..<64 {
                for j in 0..<64 {
                    var sum: Float = 0
                    for k in 0..<4 { sum += bv[i * 4 + k] * av[k * 64 + j] }
                    delta[i * 64 + j] = scaling * sum
                }
            }
            let d = maxAbsDifference(delta, try floats(reference, module + ".delta_w"))
            #expect(d <= 1e-5, "\(module): max |Δ| = \(d)")
        }
    }

    @Test func peftExportTakesTheBaseClassifierWithModel() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv([
            "export", "--adapter", Self.adapter, "--format", "peft-lora", "--out", dir.file("peft"), "--model", Self.model,
            "--base-model-name", "tiny-roberta", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSON.parse(Array(result.stdout.utf8))["head"] == "base model")
        let config = try JSON.parse(readFile(dir.file("peft/adapter_config.json")))
        #expect(config["task_type"] == "SEQ_CLS" && config["modules_to_save"] == ["classifier"])
        #expect(config["base_model_name_or_path"] == "tiny-roberta")
        let weights = try Checkpoint.open(dir.file("peft/adapter_model.safetensors"))
        let base = try Checkpoint.open(Self.model)
        for name in AdapterExport.classifierTensors {
            #expect(try floats(weights, "base_model.model." + name) == floats(base, name), "\(name)")
        }
        #expect(weights.tensors.count == 2 * Self.modules.count + 4)
    }

    @Test func peftExportCarriesTheHeadUnderModulesToSave() throws {
        let dir = TemporaryDirectory()
        var set = try AdapterFile.read(Self.adapter)
        let dense = FloatBuffer((0..<(64 * 64)).map { Float($0 % 7) * 0.01 })
        set.head = AdapterSet.Head(
            tensors: [
                (name: "classifier.dense.weight", shape: [64, 64], values: dense),
                (name: "classifier.dense.bias", shape: [64], values: FloatBuffer([Float](repeating: 0.5, count: 64))),
                (name: "classifier.out_proj.weight", shape: [3, 64], values: FloatBuffer([Float](repeating: 0.25, count: 3 * 64))),
                (name: "classifier.out_proj.bias", shape: [3], values: FloatBuffer([1, 2, 3])),
            ], id2label: [0: "a", 1: "b", 2: "c"])
        try AdapterFile.write(set, to: dir.file("adapter"))
        let result = try runLSRConv(["export", "--adapter", dir.file("adapter"), "--format", "peft-lora", "--out", dir.file("peft")])
        #expect(result.status == 0, "\(result.stderr)")
        let config = try JSON.parse(readFile(dir.file("peft/adapter_config.json")))
        #expect(config["modules_to_save"] == ["classifier"] && config["task_type"] == "SEQ_CLS")
        let weights = try Checkpoint.open(dir.file("peft/adapter_model.safetensors"))
        #expect(try floats(weights, "base_model.model.classifier.out_proj.bias") == [1, 2, 3])
        #expect(try floats(weights, "base_model.model.classifier.dense.weight") == dense.array)
        #expect(try #require(weights["base_model.model.classifier.out_proj.weight"]).shape == [3, 64])

        let delta = try runLSRConv(["export", "--adapter", dir.file("adapter"), "--format", "delta", "--out", dir.file("delta")])
        #expect(delta.status == 0, "\(delta.stderr)")
        #expect(try FileSystem.contents(of: dir.file("delta")) == ["delta_config.json", "delta_weights.safetensors", "head.safetensors"])
        let head = try Checkpoint.open(dir.file("delta/head.safetensors"))
        #expect(try floats(head, "classifier.out_proj.bias") == [1, 2, 3])
    }

    @Test func targetsPEFTWouldOvermatchBecomeARegex() throws {
        let dir = TemporaryDirectory()
        let made = try runLSRConv([
            "init-adapter", "--model", Self.model, "--out", dir.file("adapter"), "--targets", "query,output.dense", "--separation-rank", "2",
            "--init", "random",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let result = try runLSRConv(["export", "--adapter", dir.file("adapter"), "--format", "peft-lora", "--out", dir.file("peft")])
        #expect(result.status == 0, "\(result.stderr)")
        let config = try JSON.parse(readFile(dir.file("peft/adapter_config.json")))
        // "output.dense" as a PEFT suffix would also take attention.output.dense.
        let pattern = try #require(config["target_modules"]?.stringValue)
        #expect(pattern.contains("roberta\\.encoder\\.layer\\.1\\.output\\.dense") && !pattern.contains("attention\\.output"))
    }

    @Test func lsrExportRoundTrips() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["export", "--adapter", Self.adapter, "--format", "lsr", "--out", dir.file("lsr")])
        #expect(result.status == 0, "\(result.stderr)")
        let original = try Checkpoint.open(Self.adapter + "/adapter_model.safetensors")
        let copy = try Checkpoint.open(dir.file("lsr/adapter_model.safetensors"))
        #expect(Set(copy.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        for tensor in original.tensors {
            #expect(try floats(copy, tensor.name) == floats(original, tensor.name), "\(tensor.name)")
            #expect(try #require(copy[tensor.name]).shape == tensor.shape)
        }
        let (a, b) = (try AdapterFile.read(Self.adapter), try AdapterFile.read(dir.file("lsr")))
        #expect(a.hyperparameters == b.hyperparameters && a.base == b.base)
        #expect(zip(AdapterFile.tensors(a), AdapterFile.tensors(b)).allSatisfy { $0.name == $1.name && $0.shape == $1.shape })
        #expect(AdapterFile.config(a) == AdapterFile.config(b))
        // A second export of the copy is byte-identical: the copy is canonical.
        let again = try runLSRConv(["export", "--adapter", dir.file("lsr"), "--format", "lsr", "--out", dir.file("lsr2")])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(byteDifference(dir.file("lsr/adapter_model.safetensors"), dir.file("lsr2/adapter_model.safetensors")) == nil)
        #expect(byteDifference(dir.file("lsr/adapter_config.json"), dir.file("lsr2/adapter_config.json")) == nil)
    }

    @Test func missingAdapterWritesNothing() throws {
        let dir = TemporaryDirectory()
        for format in ["peft-lora", "delta", "lsr"] {
            let result = try runLSRConv(["export", "--adapter", dir.file("none"), "--format", format, "--out", dir.file("out")])
            #expect(result.status == 1)
            #expect(result.stderr == "error: \(dir.file("none"))/adapter_config.json: no such file or directory\n")
            #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
        }
        #expect(try FileSystem.contents(of: dir.path).isEmpty)
    }

    @Test func existingOutputNeedsForce() throws {
        let dir = TemporaryDirectory()
        let args = ["export", "--adapter", Self.adapter, "--format", "delta", "--out", dir.file("out")]
        #expect(try runLSRConv(args).status == 0)
        let second = try runLSRConv(args)
        #expect(second.status == 1 && second.stderr.hasPrefix("error: ") && second.stderr.contains(dir.file("out")))
        #expect(try runLSRConv(args + ["--force"]).status == 0)
    }
}
