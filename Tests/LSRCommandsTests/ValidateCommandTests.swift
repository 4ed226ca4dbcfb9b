import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import TestSupport
import Testing

/// `lsrconv validate` on adapter directories written by `AdapterFile.write` and then spoiled one
/// way at a time: every problem is listed on stdout with its JSON pointer or tensor name, the
/// exit status is 1, and stderr holds one `error:` line.
@Suite struct ValidateCommandTests {
    static let q0 = "roberta.encoder.layer.0.attention.self.query"

    /// Two LSR modules (12×10, r 4 = 2·2, s 3) with the reference factors of
    /// Fixtures/reference/lsr.safetensors, for a 12-wide base model (not the tiny fixture's 64).
    func sampleSet() throws -> AdapterSet {
        let reference = try Checkpoint.open(TestPaths.fixture("reference/lsr.safetensors"))
        func buffer(_ name: String) throws -> FloatBuffer {
            let t = try #require(reference[name])
            let out = FloatBuffer(count: t.elementCount)
            try DTypeConversion.toFloat(t.bytes.buffer, dtype: t.dtype, into: out.buffer)
            return out
        }
        var modules: [AdaptedModule] = []
        for layer in 0..<2 {
            let up = KroneckerSum(
                terms: 3, a: 4, b: 2, c: 3, d: 2, left: try buffer("up.left"), right: try buffer("up.right"), scales: try buffer("up.scales"))
            let down = KroneckerSum(
                terms: 3, a: 2, b: 5, c: 2, d: 2, left: try buffer("down.left"), right: try buffer("down.right"), scales: try buffer("down.scales"))
            modules.append(
                AdaptedModule(
                    name: "roberta.encoder.layer.\(layer).attention.self.query", outFeatures: 12, inFeatures: 10, rank: 4,
                    factors: .lsr(up: up, down: down)))
        }
        let hyper = AdapterSet.Hyperparameters(kind: .lsr, rank: 4, separationRank: 3, alpha: 8, rankSplit: FactorSplit(2, 2), targets: ["query"])
        let base = AdapterSet.BaseModel(
            hiddenSize: 12, layers: 2, attentionHeads: 1, intermediateSize: 48, vocabSize: 100,
            weights: [("model.safetensors", String(repeating: "0", count: 64))])
        return AdapterSet(hyperparameters: hyper, base: base, modules: modules)
    }

    /// Writes the sample adapter into `dir`/a, then rewrites its config through `edit` and its
    /// tensors through `tensors`. Returns the adapter directory.
    func adapter(
        in dir: TemporaryDirectory, _ edit: ((inout JSONObject) -> Void)? = nil,
        tensors: ((inout [Safetensors.OutputTensor]) -> Void)? = nil
    ) throws -> String {
        let set = try sampleSet()
        let path = dir.file("a")
        try AdapterFile.write(set, to: path)
        if let edit {
            var config = try #require(AdapterFile.config(set).objectValue)
            edit(&config)
            try DurableFile.write(JSON.data(.object(config)), to: path + "/" + AdapterFile.configName)
        }
        if let tensors {
            var outputs = AdapterFile.tensors(set)
            tensors(&outputs)
            try Safetensors.write(outputs, metadata: nil, to: path + "/" + AdapterFile.weightsName)
        }
        return path
    }

    /// Runs `validate` and returns its stdout lines, checking the exit status and the one
    /// `error:` line an invalid result ends with.
    func problems(_ path: String, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        let result = try runLSRConv(["validate", path] + extra)
        #expect(result.stdout.hasSuffix("\n"), "the report's last line ends with a newline", sourceLocation: sourceLocation)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        if lines.last == "valid" {
            #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)", sourceLocation: sourceLocation)
        } else {
            #expect(result.status == 1, sourceLocation: sourceLocation)
            let count = lines.last?.split(separator: " ").dropFirst().first ?? "?"
            #expect(result.stderr.hasPrefix("error: \(path): invalid (\(count) problem"), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        }
        return lines
    }

    /// Replaces member `key` of module `index` in the config.
    static func setModule(_ config: inout JSONObject, _ index: Int, _ key: String, _ value: JSONValue) {
        var modules = config["modules"]!.arrayValue!
        var module = modules[index].objectValue!
        module[key] = value
        modules[index] = .object(module)
        config["modules"] = .array(modules)
    }

    @Test func validAdapter() throws {
        let dir = TemporaryDirectory()
        let path = try adapter(in: dir)
        #expect(try problems(path) == ["valid"])
        let result = try runLSRConv(["validate", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSON.parse(result.stdout) == ["path": .string(path), "valid": true, "problems": [], "warnings": []])
    }

    /// Schema violations are all listed, in the schema's order, each with its pointer; the
    /// tensors are not read then (the reader relies on a schema-valid config).
    @Test func schemaViolationsAreAllListed() throws {
        let dir = TemporaryDirectory()
        let path = try adapter(in: dir) { config in
            config["rank"] = 0
            config["extra"] = "x"
            config["alpha"] = nil
            Self.setModule(&config, 1, "name", "roberta.encoder.layer.1.attention.self.qkv")
        }
        let pattern =
            #"^roberta\.encoder\.layer\.[0-9]+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$"#
        #expect(
            try problems(path) == [
                "(root): required property 'alpha' is missing",
                "/rank: value 0 is below the minimum 1",
                "/extra: unknown property 'extra' (additionalProperties is false)",
                "/modules/1/name: string \"roberta.encoder.layer.1.attention.self.qkv\" does not match the pattern '\(pattern)'",
                "invalid: 4 problems",
            ])
        let json = try JSON.parse(try runLSRConv(["validate", path, "--json"]).stdout)
        #expect(json["valid"] == false)
        #expect(
            json["problems"]?.arrayValue?.map { [$0["location"], $0["keyword_location"]] } == [
                ["", "/required"], ["/rank", "/properties/rank/minimum"], ["/extra", "/additionalProperties"],
                ["/modules/1/name", "/then/properties/modules/items/$ref/properties/name/$ref/pattern"],
            ])
    }

    /// kind decides which fields a module has: LoRA modules with LSR factors, LSR fields on a LoRA
    /// adapter, and an LSR adapter without its separation rank.
    @Test func kindDecidesTheFields() throws {
        let dir = TemporaryDirectory()
        let lora = try adapter(in: dir) { $0["kind"] = "lora" }
        let lines = try problems(lora)
        #expect(lines.prefix(5) == [
            "/separation_rank: property 'separation_rank' is not allowed (its schema is false)",
            "/rank_split: property 'rank_split' is not allowed (its schema is false)",
            "/trainable_scales: property 'trainable_scales' is not allowed (its schema is false)",
            "/modules/0/up: required property 'weight' is missing",
            "/modules/0/up/left: unknown property 'left' (additionalProperties is false)",
        ])
        let other = TemporaryDirectory()
        let noSeparation = try adapter(in: other) { $0["separation_rank"] = nil }
        #expect(try problems(noSeparation) == ["(root): required property 'separation_rank' is missing", "invalid: 1 problem"])
    }

    @Test func tensorProblemsNameTheTensor() throws {
        let q0 = Self.q0
        let cases: [(String, (inout [Safetensors.OutputTensor]) -> Void)] = [
            (
                "\(q0).lsr_down.right: missing from adapter_model.safetensors (named at /modules/0/down/right/tensor)",
                { $0.removeAll { $0.name == "\(q0).lsr_down.right" } }
            ),
            (
                "stray.weight: in adapter_model.safetensors but not named in adapter_config.json",
                { outputs in
                    var extra = outputs[0]
                    extra.name = "stray.weight"
                    outputs.append(extra)
                }
            ),
            (
                "\(q0).lsr_up.scales: holds a NaN or infinity at element 1",
                { outputs in
                    let i = outputs.firstIndex { $0.name == "\(q0).lsr_up.scales" }!
                    outputs[i].source = TensorBytes(owning: [Float(1), .nan, 1].withUnsafeBytes { [UInt8]($0) })
                }
            ),
            (
                "\(q0).lsr_up.left: has shape [3, 2, 4] in adapter_model.safetensors, the config says [3, 4, 2]",
                { outputs in
                    let i = outputs.firstIndex { $0.name == "\(q0).lsr_up.left" }!
                    outputs[i].shape = [3, 2, 4]
                }
            ),
        ]
        for (expected, spoil) in cases {
            let dir = TemporaryDirectory()
            #expect(try problems(try adapter(in: dir, tensors: spoil)) == [expected, "invalid: 1 problem"])
        }
    }

    /// Every tensor problem is listed, not only the first: the four spoilings above at once.
    @Test func everyTensorProblemIsListed() throws {
        let q0 = Self.q0
        let dir = TemporaryDirectory()
        let path = try adapter(in: dir, tensors: { outputs in
            outputs.removeAll { $0.name == "\(q0).lsr_down.right" }
            var extra = outputs[0]
            extra.name = "stray.weight"
            outputs.append(extra)
            let i = outputs.firstIndex { $0.name == "\(q0).lsr_up.scales" }!
            outputs[i].source = TensorBytes(owning: [Float(1), .nan, 1].withUnsafeBytes { [UInt8]($0) })
            let j = outputs.firstIndex { $0.name == "\(q0).lsr_up.left" }!
            outputs[j].shape = [3, 2, 4]
        })
        #expect(
            try problems(path) == [
                "\(q0).lsr_up.left: has shape [3, 2, 4] in adapter_model.safetensors, the config says [3, 4, 2]",
                "\(q0).lsr_up.scales: holds a NaN or infinity at element 1",
                "\(q0).lsr_down.right: missing from adapter_model.safetensors (named at /modules/0/down/right/tensor)",
                "stray.weight: in adapter_model.safetensors but not named in adapter_config.json",
                "invalid: 4 problems",
            ])
    }

    /// What the schema cannot say: factor splits whose product is not the module's size.
    @Test func productsAreChecked() throws {
        let dir = TemporaryDirectory()
        let path = try adapter(in: dir) { Self.setModule(&$0, 0, "out_split", [5, 3]) }
        #expect(try problems(path) == ["/modules/0/out_split: 5·3 ≠ out_features 12", "invalid: 1 problem"])
    }

    @Test func missingWeightsFile() throws {
        let dir = TemporaryDirectory()
        let path = try adapter(in: dir)
        try FileManager.default.removeItem(atPath: path + "/" + AdapterFile.weightsName)
        #expect(try problems(path) == ["adapter_model.safetensors: no such file or directory", "invalid: 1 problem"])
    }

    @Test func configThatIsNotJSON() throws {
        let dir = TemporaryDirectory()
        let path = try adapter(in: dir)
        try DurableFile.write(Array("{\"rank\": 4,}".utf8), to: path + "/" + AdapterFile.configName)
        let lines = try problems(path)
        #expect(lines.count == 2 && lines[0].hasPrefix("adapter_config.json: invalid JSON at byte "), "\(lines)")
    }

    /// An adapter for a 12-wide model against the 64-wide fixture: every size and every module
    /// shape that differs, a module the model lacks, and (a warning) weights of another digest.
    @Test func baseModelOfAnotherShape() throws {
        let dir = TemporaryDirectory()
        let path = try adapter(in: dir) { Self.setModule(&$0, 1, "name", "roberta.encoder.layer.7.attention.self.query") }
        let model = TestPaths.fixture("tiny-roberta")
        let sha = "03a8c73a577eac67559ab0c0a998e6cadeff8ac32ac7d8a68fe84869b1c57d41"  // sha256sum Fixtures/tiny-roberta/model.safetensors
        #expect(
            try problems(path, ["--model", model]) == [
                "/base_model/hidden_size: the adapter was made for hidden_size 12, the model has 64",
                "/base_model/num_attention_heads: the adapter was made for num_attention_heads 1, the model has 4",
                "/base_model/intermediate_size: the adapter was made for intermediate_size 48, the model has 256",
                "/base_model/vocab_size: the adapter was made for vocab_size 100, the model has 1000",
                "/modules/0/out_features: out_features is 12, the model's '\(Self.q0).weight' has shape [64, 64]",
                "/modules/0/in_features: in_features is 10, the model's '\(Self.q0).weight' has shape [64, 64]",
                "/modules/1/name: the model has no module 'roberta.encoder.layer.7.attention.self.query' "
                    + "(no tensor 'roberta.encoder.layer.7.attention.self.query.weight')",
                "warning: /base_model/weights/0/sha256: the model's model.safetensors has sha256 \(sha), the adapter was made for "
                    + String(repeating: "0", count: 64) + ": another model, or another version of it",
                "invalid: 7 problems",
            ])
    }

    /// The adapter PyTorch wrote for the tiny model (Fixtures/generate/adapter_reference.py) fits
    /// it exactly; the f16 copy of the model has the same shapes but other bytes: a warning only.
    @Test func referenceAdapterFitsItsModel() throws {
        let adapter = TestPaths.fixture("reference/adapter")
        #expect(try problems(adapter, ["--model", TestPaths.fixture("tiny-roberta")]) == ["valid"])
        let lines = try problems(adapter, ["--model", TestPaths.fixture("tiny-roberta-f16")])
        #expect(lines.count == 2 && lines[0].hasPrefix("warning: /base_model/weights/0/sha256: the model's model.safetensors has sha256 "))
        #expect(lines.last == "valid")
        let json = try JSON.parse(try runLSRConv(["validate", adapter, "--model", TestPaths.fixture("tiny-roberta-f16"), "--json"]).stdout)
        #expect(json["valid"] == true && json["warnings"]?.arrayValue?.first?["location"] == "/base_model/weights/0/sha256")
    }

    // MARK: - JSON files

    @Test func jsonFileAgainstABundledSchemaOrAFile() throws {
        let dir = TemporaryDirectory()
        let good = dir.write(Array(#"{"ids": [0, 2], "tokens": ["<s>", "</s>"], "attention_mask": [1, 1]}"#.utf8), to: "good.json")
        let bad = dir.write(Array(#"{"ids": [-1], "tokens": ["<s>"], "attention_mask": [2]}"#.utf8), to: "bad.json")
        #expect(try problems(good, ["--schema", "tokenize-output"]) == ["valid"])
        #expect(
            try problems(bad, ["--schema", "tokenize-output.schema.json"]) == [
                "/ids/0: value -1 is below the minimum 0", "/attention_mask/0: value 2 is not one of the allowed values: 0, 1", "invalid: 2 problems",
            ])
        let schema = dir.write(Array(#"{"type": "object", "required": ["name"]}"#.utf8), to: "schema.json")
        #expect(try problems(good, ["--schema", schema]) == ["(root): required property 'name' is missing", "invalid: 1 problem"])
        // Without --schema: the bundled schema the document's "$schema" names.
        let path = try adapter(in: dir)
        #expect(try problems(path + "/adapter_config.json") == ["valid"])
        let text = dir.write(Array("{\"a\": ".utf8), to: "truncated.json")
        #expect(try problems(text, ["--schema", "tokenize-output"]) == ["(root): JSON ends early at byte 6", "invalid: 1 problem"])
    }

    @Test func refusals() throws {
        let dir = TemporaryDirectory()
        let plain = dir.write(Array("{}".utf8), to: "plain.json")
        let cases: [([String], String)] = [
            (
                [plain],
                "error: \(plain): give --schema: the document's \"$schema\" names no bundled schema (bundled: lsr-adapter, lsr-merge, inspect-output, "
                    + "import-output, predict-output, predict-line, tokenize-output, validate-output, merge-output, init-adapter-output, lora-conversion, "
                    + "convert-adapter-output, delta-config, export-output, eval-output, trainer-state, training-metrics-line)"
            ),
            (
                [plain, "--schema", "nope"],
                "error: --schema 'nope' is neither a bundled schema (lsr-adapter, lsr-merge, inspect-output, import-output, predict-output, "
                    + "predict-line, tokenize-output, validate-output, merge-output, init-adapter-output, lora-conversion, "
                    + "convert-adapter-output, delta-config, export-output, eval-output, trainer-state, training-metrics-line) nor a file"
            ),
            ([plain, "--model", dir.path], "error: \(plain): --model applies to an adapter directory, not to a file"),
            ([dir.path, "--schema", "lsr-adapter"], "error: \(dir.path): --schema applies to a JSON file; an adapter directory is checked against lsr-adapter"),
            (
                [dir.path],
                "error: \(dir.path): no adapter_config.json: not an adapter directory (validate takes an adapter directory or a JSON file)"
            ),
            ([dir.file("absent.json")], "error: \(dir.file("absent.json")): no such file or directory"),
        ]
        for (arguments, expected) in cases {
            let result = try runLSRConv(["validate"] + arguments)
            #expect(result.status == 1 && result.stdout.isEmpty && result.stderr == expected + "\n", "\(arguments): \(result.stderr)")
        }
    }
}
