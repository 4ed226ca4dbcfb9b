import Foundation
import LSRFormats
import TestSupport
import Testing

/// `lsrconv import` of PyTorch and fairseq checkpoints, through the built binary. Every fixture
/// holds the weights of Fixtures/tiny-roberta; the generator (Fixtures/generate/torch_fixtures.py,
/// torch 2.13, transformers 5.23) wrote each with torch.save and checked it loads back equal. The
/// import must give the same tensors as the safetensors fixture of the same dtype, byte for byte
/// (tolerance 0: no arithmetic happens), and the same config.
@Suite struct TorchImportCommandTests {
    /// The architecture fields of a config.json (labels and bookkeeping fields left out).
    func architecture(_ configPath: String) throws -> [String: JSONValue] {
        let config = try JSON.parse(readFile(configPath))
        let keys = [
            "model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
            "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "hidden_act", "pad_token_id", "bos_token_id",
            "eos_token_id", "architectures",
        ]
        var out: [String: JSONValue] = [:]
        for key in keys { out[key] = config[key] ?? .null }
        return out
    }

    @Test(arguments: [
        ("torch/zip", "tiny-roberta", "pytorch zip"),
        ("torch/zip-bf16", "tiny-roberta-bf16", "pytorch zip"),
        ("torch/legacy", "tiny-roberta-f16", "pytorch legacy"),
        ("torch/module/model.pt", "tiny-roberta-f16", "pytorch zip"),
        ("torch/nested/model.pt", "tiny-roberta-f16", "pytorch zip"),
        ("torch/sharded", "tiny-roberta", "pytorch zip (sharded)"),
    ])
    func torchCheckpointEqualsSafetensors(_ source: String, _ reference: String, _ format: String) throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture(source), "--out", dir.file("x"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSON.parse(result.stdout)["format"] == .string(format))
        #expect(try tensorDifferences(dir.file("x"), TestPaths.fixture(reference)) == [])
        #expect(try architecture(dir.file("x/config.json")) == architecture(TestPaths.fixture(reference + "/config.json")))
    }

    /// Both fairseq layouts give expected_hf.safetensors: HF names, fused in_proj split into
    /// query/key/value, token type embeddings added as zeros, the MLM head and version buffer
    /// dropped; the config comes from the checkpoint's own arguments.
    @Test(arguments: [("model.pt", "/cfg/model", 7), ("model_decoder.pt", "/args", 6)])
    func fairseqCheckpoint(_ file: String, _ pointer: String, _ droppedCount: Int) throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture("torch/fairseq/" + file), "--out", dir.file("x"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try tensorDifferences(dir.file("x"), TestPaths.fixture("torch/fairseq/expected_hf.safetensors")) == [])
        let json = try JSON.parse(result.stdout)
        #expect(json["config_source"] == .string("from the fairseq checkpoint's own arguments (\(pointer))"))
        #expect(json["synthesized"] == ["roberta.embeddings.token_type_embeddings.weight"])
        #expect(json["dropped"]?.arrayValue?.count == droppedCount)
        #expect(json["unknown"] == [])
        #expect(result.stderr == "warning: added 'roberta.embeddings.token_type_embeddings.weight' as zeros (the source has no such tensor; transformers' conversion does the same)\n")
        #expect(try architecture(dir.file("x/config.json")) == architecture(TestPaths.fixture("tiny-roberta/config.json")))
        let config = try JSON.parse(readFile(dir.file("x/config.json")))
        #expect(config["dtype"] == "float16")
        #expect(config["num_labels"] == nil && config["id2label"] == ["0": "LABEL_0", "1": "LABEL_1"])
    }

    /// A PyTorch checkpoint written as shards gives the very files transformers' save_pretrained
    /// wrote with the same limit (Fixtures/tiny-roberta-sharded), index included.
    @Test func torchToShardedSafetensors() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["import", TestPaths.fixture("torch/zip"), "--out", dir.file("x"), "--max-shard-size", "300KB"])
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json"]
        {
            #expect(byteDifference(dir.file("x/" + name), TestPaths.fixture("tiny-roberta-sharded/" + name)) == nil)
        }
    }
}
