import Foundation
import LSRFormats
import TestSupport
import Testing

/// `lsrconv import` end to end, through the built binary, against fixtures written by
/// transformers' save_pretrained (Fixtures/generate/generate.py, transformers 5.23, torch 2.13).
@Suite struct ImportCommandTests {
    @Test func importIsByteIdenticalToTheSource() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("x")
        let result = try runLSRConv(["import", TestPaths.fixture("tiny-roberta/model.safetensors"), "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(byteDifference(out + "/model.safetensors", TestPaths.fixture("tiny-roberta/model.safetensors")) == nil)
        #expect(byteDifference(out + "/config.json", TestPaths.fixture("tiny-roberta/config.json")) == nil)
        #expect(byteDifference(out + "/tokenizer.json", TestPaths.fixture("tiny-roberta/tokenizer.json")) == nil)
        #expect(try FileSystem.contents(of: out) == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
        #expect(result.stdout.contains("parameters:   176,770"))
        #expect(result.stdout.contains("RoBERTa, 2 layers, hidden 64, 4 heads (config.json)"))
        // Nothing but the output was created beside it.
        #expect(try FileSystem.contents(of: dir.path) == ["x"])
    }

    /// Rounding f32 → f16/bf16 exactly as torch's .half()/.to(bfloat16) gives the files
    /// transformers wrote for the cast models, byte for byte (config dtype included).
    @Test(arguments: [("f16", "tiny-roberta-f16"), ("bf16", "tiny-roberta-bf16")])
    func dtypeConversionMatchesTorch(_ dtype: String, _ fixture: String) throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture("tiny-roberta"), "--out", dir.file("x"), "--dtype", dtype])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(byteDifference(dir.file("x/model.safetensors"), TestPaths.fixture(fixture + "/model.safetensors")) == nil)
        #expect(byteDifference(dir.file("x/config.json"), TestPaths.fixture(fixture + "/config.json")) == nil)
    }

    @Test func upcastToF32KeepsValues() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture("tiny-roberta-bf16"), "--out", dir.file("x"), "--dtype", "f32", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["output_dtypes"] == ["F32": 41])
        #expect(json["input_dtypes"] == ["BF16": 41])
        // Back down to bf16 reproduces the source exactly (bf16 → f32 is exact).
        let back = try runLSRConv(["import", dir.file("x"), "--out", dir.file("y"), "--dtype", "bf16"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(byteDifference(dir.file("y/model.safetensors"), TestPaths.fixture("tiny-roberta-bf16/model.safetensors")) == nil)
    }

    @Test func oldNamesBecomeCanonical() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture("tiny-roberta-oldnames/model.safetensors"), "--out", dir.file("x"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try tensorDifferences(dir.file("x"), TestPaths.fixture("tiny-roberta-f16")) == [])
        let json = try JSON.parse(result.stdout)
        #expect(json["dropped"] == ["embeddings.position_ids"])
        #expect(json["unknown"] == [])
        // 37 encoder tensors gain the roberta. prefix; 10 of them were gamma/beta as well.
        #expect(json["renamed"] == 37)
    }

    @Test func shardedSourceAndShardedOutput() throws {
        let dir = TemporaryDirectory()
        let merged = try runLSRConv(["import", TestPaths.fixture("tiny-roberta-sharded"), "--out", dir.file("one")])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(byteDifference(dir.file("one/model.safetensors"), TestPaths.fixture("tiny-roberta/model.safetensors")) == nil)
        // The same limit as the fixture (300KB = 300,000 bytes, transformers' greedy plan) gives
        // the same three shards and index, byte for byte.
        let split = try runLSRConv(["import", TestPaths.fixture("tiny-roberta"), "--out", dir.file("three"), "--max-shard-size", "300KB"])
        #expect(split.status == 0, "\(split.stderr)")
        for name in ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json"]
        {
            #expect(byteDifference(dir.file("three/" + name), TestPaths.fixture("tiny-roberta-sharded/" + name)) == nil)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("three/model.safetensors")))
    }

    @Test func configInferredWhenAbsent() throws {
        let dir = TemporaryDirectory()
        _ = dir.write(readFile(TestPaths.fixture("tiny-roberta/model.safetensors")), to: "weights.safetensors")
        let result = try runLSRConv(["import", dir.file("weights.safetensors"), "--out", dir.file("x")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr
                == "warning: no config.json: configuration inferred from tensor shapes; the number of attention heads was guessed as "
                + "hidden_size/64 = 1 (give the real one with --num-heads N, or a config with --config FILE)\n")
        #expect(result.stdout.contains("hidden 64, 1 heads (inferred as hidden/64)"), "\(result.stdout)")
        let config = try JSON.parse(readFile(dir.file("x/config.json")))
        #expect(config["model_type"] == "roberta")
        #expect(config["hidden_size"] == 64 && config["num_hidden_layers"] == 2 && config["intermediate_size"] == 256)
        #expect(config["vocab_size"] == 1000 && config["max_position_embeddings"] == 130 && config["type_vocab_size"] == 1)
        #expect(config["architectures"] == ["RobertaForSequenceClassification"])
        #expect(config["id2label"] == ["0": "LABEL_0", "1": "LABEL_1"])
        // --config supplies the real one.
        let with = try runLSRConv([
            "import", dir.file("weights.safetensors"), "--out", dir.file("y"), "--config", TestPaths.fixture("tiny-roberta/config.json"),
        ])
        #expect(with.status == 0, "\(with.stderr)")
        #expect(byteDifference(dir.file("y/config.json"), TestPaths.fixture("tiny-roberta/config.json")) == nil)
    }

    /// The logits of `model` for one text with tiny-roberta's tokenizer.
    func logits(_ model: String) throws -> [Double] {
        let result = try runLSRConv(["predict", "--model", model, "--tokenizer", TestPaths.fixture("tiny-roberta"), "--text", "hello world", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        return try JSON.parse(result.stdout)["predictions"]?.arrayValue?.first?["logits"]?.arrayValue?.compactMap(\.doubleValue) ?? []
    }

    /// --num-heads gives a checkpoint without config.json its real number of heads (tiny-roberta
    /// has 4; the guess hidden/64 makes 1): no warning, and the imported model computes what
    /// tiny-roberta computes (the same logits), where the guessed one does not.
    @Test func numHeadsSetsTheHeadsOfAConfiglessImport() throws {
        let dir = TemporaryDirectory()
        let weights = dir.write(readFile(TestPaths.fixture("tiny-roberta/model.safetensors")), to: "weights.safetensors")
        let result = try runLSRConv(["import", weights, "--out", dir.file("four"), "--num-heads", "4"])
        #expect(result.status == 0 && result.stderr == "", "\(result.stderr)")
        #expect(result.stdout.contains("hidden 64, 4 heads (--num-heads)"), "\(result.stdout)")
        #expect(try JSON.parse(readFile(dir.file("four/config.json")))["num_attention_heads"] == 4)
        let json = try runLSRConv(["import", weights, "--out", dir.file("four-json"), "--num-heads", "4", "--json"])
        #expect(try JSON.parse(json.stdout)["architecture"]?["attention_heads_source"] == "--num-heads")

        let reference = try logits(TestPaths.fixture("tiny-roberta"))
        let imported = try logits(dir.file("four"))
        #expect(reference.count == 2 && imported.count == 2)
        // Same weights, same engine: the same floats. Exact, because the random fixture's
        // logits hardly depend on the encoder (1 head instead of 4 moves them by ~3e-6).
        #expect(imported == reference, "tiny-roberta \(reference), imported with 4 heads \(imported)")
        #expect(try runLSRConv(["import", weights, "--out", dir.file("one")]).status == 0)
        let guessed = try logits(dir.file("one"))
        #expect(guessed != reference, "1 head should compute something else: \(reference) vs \(guessed)")

        // With a config.json, --num-heads must agree with it.
        let agreeing = try runLSRConv(["import", TestPaths.fixture("tiny-roberta"), "--out", dir.file("agree"), "--num-heads", "4"])
        #expect(agreeing.status == 0 && agreeing.stderr == "", "\(agreeing.stderr)")
    }

    /// Where the number of heads cannot be had, nothing is written: no config and hidden_size
    /// not a multiple of 64 (the learning task's model is 32 wide), --num-heads that does not
    /// divide the hidden size or contradicts config.json (exit 1), and --num-heads below 1 or
    /// beside --config (usage errors, exit 64).
    @Test func headsThatCannotBeHadAreRefused() throws {
        let dir = TemporaryDirectory()
        let narrow = dir.write(readFile(TestPaths.fixture("learning/model/pytorch_model.bin")), to: "pytorch_model.bin")
        let weights = dir.write(readFile(TestPaths.fixture("tiny-roberta/model.safetensors")), to: "weights.safetensors")
        let tiny = TestPaths.fixture("tiny-roberta")
        let cases: [(arguments: [String], status: Int32, stderr: String)] = [
            (
                [narrow], 1,
                "error: \(narrow): no config.json, and the number of attention heads cannot be guessed as hidden_size/64: 32 is not a "
                    + "multiple of 64 (give it with --num-heads N, or a config with --config FILE)\n"
            ),
            ([weights, "--num-heads", "5"], 1, "error: \(weights): --num-heads 5 does not divide hidden_size 64\n"),
            ([tiny, "--num-heads", "2"], 1, "error: \(tiny)/config.json: num_attention_heads is 4, --num-heads says 2\n"),
            ([weights, "--num-heads", "0"], 64, "error: --num-heads must be at least 1\n"),
            ([weights, "--num-heads=-4"], 64, "error: --num-heads must be at least 1\n"),
            (
                [weights, "--num-heads", "4", "--config", tiny + "/config.json"], 64,
                "error: give --num-heads or --config, not both (the config's num_attention_heads is the number of heads)\n"
            ),
        ]
        for c in cases {
            let result = try runLSRConv(["import"] + c.arguments + ["--out", dir.file("out")])
            #expect(result.status == c.status, "\(c.arguments)")
            #expect(result.stderr == c.stderr, "\(c.arguments)")
            #expect(result.stdout == "", "\(c.arguments)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("out")), "\(c.arguments)")
        }
        #expect(try FileSystem.contents(of: dir.path) == ["pytorch_model.bin", "weights.safetensors"], "nothing written beside the inputs")
        // The narrow model imports once its heads are given (its config.json says 4).
        let given = try runLSRConv(["import", narrow, "--out", dir.file("narrow"), "--num-heads", "4"])
        #expect(given.status == 0 && given.stderr == "", "\(given.stderr)")
        #expect(try JSON.parse(readFile(dir.file("narrow/config.json")))["num_attention_heads"] == 4)
    }

    @Test func defaultOutputIsNamedAfterTheSource() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture("tiny-roberta/model.safetensors")], cwd: dir.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.file("tiny-roberta/model.safetensors")))
    }

    /// Missing parent directories of --out are created, as save_pretrained creates them.
    @Test func missingParentsAreCreated() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture("tiny-roberta"), "--out", dir.file("a/b/model")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileSystem.contents(of: dir.file("a/b")) == ["model"])
    }
}
