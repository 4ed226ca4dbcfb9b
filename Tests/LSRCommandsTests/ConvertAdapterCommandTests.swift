import Foundation
import LSRAdapters
import LSRCommands
import LSREngine
import LSRFormats
import LSRSchema
import TestSupport
import Testing

/// `lsrconv convert-adapter`: a PEFT-layout LoRA adapter (written here as PEFT's save_pretrained
/// lays it out: REFERENCE.md "PEFT on disk") for the tiny model's query and value (64×64, r 4)
/// turned into LSR.
@Suite struct ConvertAdapterCommandTests {
    static let model = TestPaths.fixture("tiny-roberta")
    static let rank = 4
    static let alpha = 8.0
    static let modules = (0..<2).flatMap { l in ["query", "value"].map { "roberta.encoder.layer.\(l).attention.self.\($0)" } }

    struct Written {
        var b: [String: [Float]] = [:]
        var a: [String: [Float]] = [:]
    }

    func tensor(_ name: String, _ shape: [Int], _ values: [Float]) -> Safetensors.OutputTensor {
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        return Safetensors.OutputTensor(name: name, dtype: .f32, shape: shape, source: TensorBytes(owning: bytes), sourceDType: .f32)
    }

    /// Writes a PEFT LoRA adapter directory; `edit` may change the config, `drop` leaves a tensor out.
    @discardableResult
    func writePEFT(
        _ directory: String, seed: UInt64 = 1, edit: (inout JSONObject) -> Void = { _ in }, drop: String? = nil, head: Bool = true
    ) throws -> Written {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config: JSONObject = [
            "alpha_pattern": [:], "auto_mapping": .null, "base_model_name_or_path": "roberta-base", "bias": "none",
            "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true, "layers_pattern": .null,
            "layers_to_transform": .null, "lora_alpha": .double(Self.alpha), "lora_dropout": 0.1, "modules_to_save": ["classifier"],
            "peft_type": "LORA", "r": JSONValue(Self.rank), "rank_pattern": [:], "revision": .null, "target_modules": ["query", "value"],
            "task_type": "SEQ_CLS", "use_dora": false, "use_rslora": false,
        ]
        edit(&config)
        try DurableFile.write(JSON.data(.object(config.sortedByKey()), style: .pretty), to: directory + "/adapter_config.json")
        var g = SplitMix64(seed: seed)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in 2 * g.nextUnit() - 1 } }
        var written = Written()
        var tensors: [Safetensors.OutputTensor] = []
        for m in Self.modules {
            let a = random(Self.rank * 64)
            let b = random(64 * Self.rank)
            (written.a[m], written.b[m]) = (a, b)
            tensors.append(tensor("base_model.model.\(m).lora_A.weight", [Self.rank, 64], a))
            tensors.append(tensor("base_model.model.\(m).lora_B.weight", [64, Self.rank], b))
        }
        if head {
            tensors.append(tensor("base_model.model.classifier.dense.weight", [64, 64], random(64 * 64)))
            tensors.append(tensor("base_model.model.classifier.dense.bias", [64], random(64)))
            tensors.append(tensor("base_model.model.classifier.out_proj.weight", [2, 64], random(128)))
            tensors.append(tensor("base_model.model.classifier.out_proj.bias", [2], random(2)))
        }
        try Safetensors.write(tensors.filter { $0.name != drop }, metadata: [(key: "format", value: "pt")], to: directory + "/adapter_model.safetensors")
        return written
    }

    /// (α/r)·B·A [64×64].
    func loraDelta(_ b: [Float], _ a: [Float], scaling: Float) -> [Float] {
        let out = FloatBuffer(count: 64 * 64)
        BLAS.gemm(m: 64, n: 64, k: Self.rank, alpha: scaling, a: b, lda: Self.rank, b: a, ldb: 64, c: out.pointer, ldc: 64)
        return out.array
    }

    @Test func fullSeparationRankReproducesDeltaW() throws {
        let dir = TemporaryDirectory()
        let lora = try writePEFT(dir.file("peft"))
        for s in ["full", "16"] {
            let out = dir.file("lsr-\(s)")
            let result = try runLSRConv([
                "convert-adapter", "--from", dir.file("peft"), "--out", out, "--separation-rank", s, "--model", Self.model,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try FileSystem.contents(of: out) == ["adapter_config.json", "adapter_model.safetensors", "conversion.json"])
            let set = try AdapterFile.read(out)
            #expect(set.hyperparameters.kind == .lsr && set.hyperparameters.separationRank == 16 && set.hyperparameters.rank == 4)
            #expect(set.hyperparameters.alpha == Self.alpha && set.hyperparameters.targets == ["query", "value"])
            #expect(set.modules.map(\.name) == Self.modules)
            #expect(set.head?.tensors.map(\.name).sorted() == ["classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias", "classifier.out_proj.weight"])
            #expect(set.head?.id2label == [0: "negative", 1: "positive"])  // tiny-roberta's config.json
            // At full separation rank the factors are R's whole SVD (n = 16): exact up to
            // sgesvd's backward error p(n)·u and the 16-term sums that materialise Up and Down
            // (≤ 17u·Σ|terms| per element), then ΔW's 4-term products: ~1e-6 relative (≤ 1.2e-6
            // measured under Zen, Sandybridge and Prescott kernels, in this process and the binary).
            for m in set.modules {
                let expected = loraDelta(lora.b[m.name]!, lora.a[m.name]!, scaling: Float(Self.alpha) / Float(Self.rank))
                let error = KroneckerApproximation.relativeError(m.deltaW(scaling: set.hyperparameters.scaling).array, expected)
                #expect(error < 1e-5, "\(m.name): ΔW relative error \(error)")
            }
            let record = try JSON.parse(readFile(out + "/conversion.json"))
            #expect(record["separation_rank"] == 16 && record["source"]?.stringValue == dir.file("peft"))
            let entries = try #require(record["modules"]?.arrayValue)
            #expect(entries.compactMap { $0["name"]?.stringValue } == Self.modules)
            for e in entries {
                for key in ["up_error", "down_error", "delta_error"] { #expect((e[key]?.doubleValue ?? 1) < 1e-5, "\(key)") }
            }
            // The written adapter is a valid factor file for the tiny model.
            let validate = try runLSRConv(["validate", out, "--model", Self.model])
            #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
        }
    }

    /// PEFT records no label names: the head keeps those of the base model it was trained on
    /// (--model's config.json id2label, tiny-roberta's negative/positive), so `eval` accepts
    /// the labelled data the base model accepts (with LABEL_0/LABEL_1 it refused "negative").
    @Test func headLabelsComeFromTheBaseModel() throws {
        let dir = TemporaryDirectory()
        try writePEFT(dir.file("peft"))
        let result = try runLSRConv([
            "convert-adapter", "--from", dir.file("peft"), "--out", dir.file("lsr"), "--separation-rank", "4", "--model", Self.model,
        ])
        #expect(result.status == 0 && result.stderr == "", "\(result.stderr)")
        let config = try JSON.parse(readFile(dir.file("lsr/adapter_config.json")))
        #expect(config["head"]?["id2label"] == ["0": "negative", "1": "positive"])
        #expect(config["head"]?["num_labels"] == 2)
        let rows = #"{"text": "a fine day", "label": "positive"}"# + "\n" + #"{"text": "a dull night", "label": "negative"}"# + "\n"
        let data = dir.write(Array(rows.utf8), to: "dev.jsonl")
        let eval = try runLSRConv(["eval", "--model", Self.model, "--adapter", dir.file("lsr"), "--data", data, "--json"])
        #expect(eval.status == 0 && eval.stderr == "", "\(eval.stderr)")
        #expect(try JSON.parse(eval.stdout)["examples"] == 2)

        #expect(LoRAConversion.labelNames([0: "a", 1: "b"], count: 2) == [0: "a", 1: "b"])
        #expect(LoRAConversion.labelNames([0: "a", 2: "b"], count: 2) == nil)
        #expect(LoRAConversion.labelNames([:], count: 2) == nil)
        #expect(LoRAConversion.defaultLabelNames(count: 2) == [0: "LABEL_0", 1: "LABEL_1"])
    }

    /// A base model whose config names another number of labels than the adapter's head has
    /// (here 3 against 2) cannot name them: LABEL_i, and one warning saying so.
    @Test func labelsOfAnotherCountAreNotTaken() throws {
        let dir = TemporaryDirectory()
        try writePEFT(dir.file("peft"))
        let model = dir.file("three-labels")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: false)
        let tiny = try Checkpoint.open(Self.model)
        var tensors: [Safetensors.OutputTensor] = []
        for t in tiny.tensors {
            switch t.name {
            case "classifier.out_proj.weight": tensors.append(tensor(t.name, [3, 64], [Float](repeating: 0.01, count: 3 * 64)))
            case "classifier.out_proj.bias": tensors.append(tensor(t.name, [3], [0, 0, 0]))
            default: tensors.append(Safetensors.OutputTensor(name: t.name, dtype: t.dtype, shape: t.shape, source: t.bytes, sourceDType: t.dtype))
            }
        }
        #expect(tensors.filter { $0.shape.first == 3 }.count == 2, "tiny-roberta's head is classifier.out_proj.*")
        try Safetensors.write(tensors, metadata: [(key: "format", value: "pt")], to: model + "/model.safetensors")
        var config = try #require(try JSON.parse(readFile(Self.model + "/config.json")).objectValue)
        config["id2label"] = ["0": "contradiction", "1": "entailment", "2": "neutral"]
        config["label2id"] = ["contradiction": 0, "entailment": 1, "neutral": 2]
        try DurableFile.write(JSON.data(.object(config)), to: model + "/config.json")

        let result = try runLSRConv(["convert-adapter", "--from", dir.file("peft"), "--out", dir.file("lsr"), "--separation-rank", "4", "--model", model])
        #expect(result.status == 0)
        #expect(result.stderr == "warning: \(model): id2label names 3 labels, the adapter's head has 2: its labels are written as LABEL_0, LABEL_1\n")
        #expect(try JSON.parse(readFile(dir.file("lsr/adapter_config.json")))["head"]?["id2label"] == ["0": "LABEL_0", "1": "LABEL_1"])
    }

    @Test func printedErrorsAtOneTermAreTheDirectOnes() throws {
        let dir = TemporaryDirectory()
        let lora = try writePEFT(dir.file("peft"), seed: 9, head: false)
        let result = try runLSRConv([
            "convert-adapter", "--from", dir.file("peft"), "--out", dir.file("lsr"), "--separation-rank", "1", "--model", Self.model, "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        // The --json output and conversion.json follow their bundled schemas.
        for (text, name) in [
            (result.stdout, "convert-adapter-output"), (String(decoding: readFile(dir.file("lsr/conversion.json")), as: UTF8.self), "lora-conversion"),
        ] {
            let schema = try JSONSchema(try #require(BundledSchemas.named(name)).document)
            #expect(schema.validate(try JSON.parse(text)).map(\.description) == [], "\(name)")
        }
        let printed = try #require(try JSON.parse(result.stdout)["errors"]?.arrayValue)
        #expect(printed.count == 4)
        let written = try AdapterFile.read(dir.file("lsr"))
        for entry in printed {
            let name = try #require(entry["name"]?.stringValue)
            // Auto splits: 64 = 8·8, r 4 = 2·2.
            let up = try KroneckerApproximation.approximate(lora.b[name]!, a: 8, b: 2, c: 8, d: 2, terms: 1)
            let down = try KroneckerApproximation.approximate(lora.a[name]!, a: 2, b: 8, c: 2, d: 8, terms: 1)
            let module = try #require(written.modules.first { $0.name == name })
            let delta = KroneckerApproximation.relativeError(module.deltaW(scaling: 1).array, loraDelta(lora.b[name]!, lora.a[name]!, scaling: 1))
            let upError = try #require(entry["up_error"]?.doubleValue)
            let downError = try #require(entry["down_error"]?.doubleValue)
            let deltaError = try #require(entry["delta_error"]?.doubleValue)
            // The binary may run other BLAS kernels than this process (it relaunches itself on
            // faster ones, issue 14), so its sgesvd is not the one run here. sgesvd is backward
            // stable: its terms are exact for R + E, ‖E‖ ≤ p(n)·u·‖R‖ (n = 16, LAPACK's p(n) a
            // modest function of n), so σ moves by ≤ ‖E‖ (Weyl), the truncation error by ≤ 2‖E‖
            // (Mirsky), and materialising the factors rounds by 2u: the printed Up and Down errors
            // are within (4·p(n) + 4)·u of the ones here and of the σ tail, ≤ 4e-6 for p(n) ≤ n.
            // ΔW's error is not stationary in the factors (it moves with singular vectors, by up
            // to ‖E‖ over the relative gap σ₁ − σ₂, ≥ 0.04 here), so it is recomputed from the
            // factors the binary wrote: its two (α/r)·B·A products (4 terms) round by ≤ 4u·|B||A|
            // on each side, ‖|B||A|‖ ≲ 2‖B·A‖ for these random factors: ≤ ~2e-6 relative.
            let tolerance = 1e-5
            for (what, printed, direct) in [
                ("up", upError, up.relativeError), ("up σ tail", upError, up.predictedError), ("down", downError, down.relativeError),
                ("down σ tail", downError, down.predictedError), ("ΔW", deltaError, delta),
            ] {
                #expect(abs(printed - direct) < tolerance, "\(name) \(what): printed \(printed), here \(direct)")
            }
            #expect(upError > 0.01 && downError > 0.01 && deltaError > 0.01)
        }
        // The text output prints the same numbers.
        let text = try runLSRConv([
            "convert-adapter", "--from", dir.file("peft"), "--out", dir.file("lsr"), "--separation-rank", "1", "--model", Self.model, "--force",
        ])
        #expect(text.status == 0, "\(text.stderr)")
        let first = printed[0]
        let line = String(
            format: "%.3e  %.3e  %.3e", first["up_error"]!.doubleValue!, first["down_error"]!.doubleValue!, first["delta_error"]!.doubleValue!)
        #expect(text.stdout.contains("  \(first["name"]!.stringValue!)  \(line)\n"), "\(text.stdout)")
    }

    @Test func rsloraFoldsTheScalingIntoAlpha() throws {
        let dir = TemporaryDirectory()
        let lora = try writePEFT(dir.file("peft"), edit: { $0["use_rslora"] = true }, head: false)
        let result = try runLSRConv([
            "convert-adapter", "--from", dir.file("peft"), "--out", dir.file("lsr"), "--separation-rank", "full", "--model", Self.model,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("α = lora_alpha·√r = 16.0"), "\(result.stdout)")
        let set = try AdapterFile.read(dir.file("lsr"))
        #expect(set.hyperparameters.alpha == 16)
        let m = set.modules[0]
        let expected = loraDelta(lora.b[m.name]!, lora.a[m.name]!, scaling: Float(Self.alpha) / Float(Self.rank).squareRoot())
        let error = KroneckerApproximation.relativeError(m.deltaW(scaling: set.hyperparameters.scaling).array, expected)
        #expect(error < 1e-5, "ΔW relative error \(error)")  // as in fullSeparationRankReproducesDeltaW
    }

    @Test func badInputWritesNothing() throws {
        let dir = TemporaryDirectory()
        let missing = "base_model.model.roberta.encoder.layer.1.attention.self.value.lora_B.weight"
        try writePEFT(dir.file("no-b"), drop: missing)
        try writePEFT(dir.file("fan"), edit: { $0["fan_in_fan_out"] = true })
        try writePEFT(dir.file("ok"))
        let cases: [(arguments: [String], stderr: String)] = [
            (
                ["--from", dir.file("no-b"), "--separation-rank", "4"],
                "error: \(dir.file("no-b"))/adapter_model.safetensors: tensor '\(missing)' is missing "
                    + "(base_model.model.roberta.encoder.layer.1.attention.self.value.lora_A.weight is present)\n"
            ),
            (
                ["--from", dir.file("fan"), "--separation-rank", "4"],
                "error: \(dir.file("fan"))/adapter_config.json: adapter_config.json at /fan_in_fan_out: true is not supported "
                    + "(factors stored transposed, as for GPT-2's Conv1D); RoBERTa's Linear layers need false\n"
            ),
            (
                ["--from", dir.file("ok"), "--separation-rank", "17"],
                "error: \(dir.file("ok")): roberta.encoder.layer.0.attention.self.query Up (lora_B): separation rank 17 is more than "
                    + "the 16 terms a sum of [8×2] ⊗ [8×2] Kronecker products can have (min(a·b, c·d))\n"
            ),
        ]
        for c in cases {
            let result = try runLSRConv(["convert-adapter"] + c.arguments + ["--out", dir.file("out"), "--model", Self.model])
            #expect(result.status == 1)
            #expect(result.stderr == c.stderr)
            #expect(result.stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
        }
        // No base model: roberta-base is not a local directory.
        let result = try runLSRConv(["convert-adapter", "--from", dir.file("ok"), "--out", dir.file("out"), "--separation-rank", "4"])
        #expect(result.status == 1)
        #expect(result.stderr == "error: convert-adapter needs the base model's shape: give --model DIR (base_model_name_or_path 'roberta-base' is not a local directory)\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
    }
}
