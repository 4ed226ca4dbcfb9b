import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import TestSupport
import Testing

/// `lsrconv inspect` on the fixtures: text and JSON agree with what the producer wrote.
@Suite struct InspectCommandTests {
    @Test func jsonDescribesTheTinyModel() throws {
        let result = try runLSRConv(["inspect", TestPaths.fixture("tiny-roberta"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["format"] == "safetensors")
        #expect(json["tensor_count"] == 41)
        #expect(json["parameters"] == 176_770)
        #expect(json["bytes"] == 707_080)
        #expect(json["metadata"] == ["format": "pt"])
        #expect(json["architecture"] == [
            "model_type": "roberta", "layers": 2, "hidden_size": 64, "attention_heads": 4, "attention_heads_source": "config.json",
            "intermediate_size": 256, "vocab_size": 1000, "max_position_embeddings": 130, "type_vocab_size": 1, "pooler": false,
            "head": "sequence-classification", "num_labels": 2,
        ])
        let words = try #require(json["tensors"]?.arrayValue?.first { $0["name"] == "roberta.embeddings.word_embeddings.weight" })
        #expect(words == ["name": "roberta.embeddings.word_embeddings.weight", "dtype": "F32", "shape": [1000, 64], "bytes": 256_000])
    }

    /// fairseq checkpoints are listed under their own names, and described by the architecture
    /// their weights and `args` give (Fixtures/generate/torch_fixtures.py, write_fairseq: 2 layers,
    /// 64 wide, 4 heads, max_positions 128 → 130 position embeddings).
    @Test(arguments: ["model.pt", "model_decoder.pt"])
    func fairseqArchitecture(_ file: String) throws {
        let result = try runLSRConv(["inspect", TestPaths.fixture("torch/fairseq/" + file), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["architecture"] == [
            "model_type": "roberta", "layers": 2, "hidden_size": 64, "attention_heads": 4, "attention_heads_source": "checkpoint args",
            "intermediate_size": 256, "vocab_size": 1000, "max_position_embeddings": 130, "type_vocab_size": 1, "pooler": false,
            "head": "sequence-classification", "num_labels": 2,
        ])
        #expect(json["tensors"]?.arrayValue?.first?["name"]?.stringValue?.contains("sentence_encoder.") == true)
    }

    /// Checksums are those Python's safetensors.deserialize gives (Fixtures/safetensors/all_dtypes.json).
    @Test func checksumsMatchPython() throws {
        let result = try runLSRConv(["inspect", TestPaths.fixture("safetensors/all_dtypes.safetensors"), "--json", "--checksums"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        let manifest = try JSON.parse(readFile(TestPaths.fixture("safetensors/all_dtypes.json")))
        for tensor in json["tensors"]?.arrayValue ?? [] {
            let name = try #require(tensor["name"]?.stringValue)
            #expect(tensor["sha256"] == manifest["tensors"]?[name]?["sha256"], "\(name)")
        }
        #expect(json["architecture"] == .null)
    }

    @Test func shardedDirectory() throws {
        let result = try runLSRConv(["inspect", TestPaths.fixture("tiny-roberta-sharded")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("format:      safetensors (sharded) (3 files)"))
        #expect(result.stdout.contains("parameters:  176,770"))
    }

    /// inspect reads headers only: a 4 GiB tensor in a sparse file is described without its
    /// data being read (the file occupies almost no disk, and nothing pages in).
    @Test func headersOnlyOnAHugeSparseFile() throws {
        let dir = TemporaryDirectory()
        let size = 1 << 32
        var bytes = craftedSafetensors(header: #"{"big":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,\#(size)]}}"#)
        while bytes.count % 8 != 0 { bytes.append(UInt8(ascii: " ")) }
        let header = craftedSafetensors(header: String(decoding: bytes.dropFirst(8), as: UTF8.self))
        let path = dir.write(header, to: "big.safetensors")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(header.count + size))
        try handle.close()
        let result = try runLSRConv(["inspect", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSON.parse(result.stdout)["bytes"] == JSONValue(size))
    }

    /// An adapter directory: modules, factor shapes, parameters against LoRA and γ per factor
    /// (the PyTorch-written reference adapter: 4 modules of 64×64, r 4 = 2·2, s 3).
    @Test func adapterDirectory() throws {
        let result = try runLSRConv(["inspect", TestPaths.fixture("reference/adapter"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let adapter = try #require(try JSON.parse(result.stdout)["adapter"])
        #expect(adapter["kind"] == "lsr" && adapter["rank"] == 4 && adapter["separation_rank"] == 3)
        #expect(adapter["parameters"] == 768 && adapter["lora_parameters"] == 2_048)
        let modules = try #require(adapter["modules"]?.arrayValue)
        #expect(modules.count == 4)
        #expect(modules[0]["up"] == "3×([8×2]⊗[8×2])" && modules[0]["down"] == "3×([2×8]⊗[2×8])")
        #expect(modules.allSatisfy { ($0["gamma_up"]?.doubleValue ?? 0) > 0.5 && ($0["gamma_down"]?.doubleValue ?? 0) > 0.5 })
        #expect(adapter["warnings"] == [])
    }

    /// Terms that nearly cancel (λ = 1 and −0.999 on the same product): γ ≈ 1414, so storing
    /// the factors as f16 (γ·2⁻¹¹ ≈ 69%) or bf16 would wreck Up: inspect warns for both.
    @Test func illConditionedAdapterWarns() throws {
        let dir = TemporaryDirectory()
        let ones = { (n: Int) in FloatBuffer([Float](repeating: 1, count: n)) }
        let up = KroneckerSum(terms: 2, a: 8, b: 2, c: 8, d: 2, left: ones(32), right: ones(32), scales: FloatBuffer([1, -0.999]))
        let down = KroneckerSum(terms: 2, a: 2, b: 8, c: 2, d: 8, left: ones(32), right: ones(32), scales: FloatBuffer([1, 1]))
        let module = AdaptedModule(
            name: "roberta.encoder.layer.0.attention.self.query", outFeatures: 64, inFeatures: 64, rank: 4, factors: .lsr(up: up, down: down))
        let set = AdapterSet(
            hyperparameters: .init(kind: .lsr, rank: 4, separationRank: 2, alpha: 8, rankSplit: FactorSplit(2, 2), targets: ["query"]),
            base: .init(hiddenSize: 64, layers: 2, attentionHeads: 4, intermediateSize: 256, vocabSize: 1000, weights: []), modules: [module])
        try AdapterFile.write(set, to: dir.file("a"))
        let result = try runLSRConv(["inspect", dir.file("a")])
        #expect(result.status == 0)
        let warnings = result.stderr.split(separator: "\n")
        #expect(warnings.count == 2, "\(result.stderr)")
        #expect(warnings.first?.hasPrefix("warning: roberta.encoder.layer.0.attention.self.query up: γ = 1.41e+03; stored as f16") == true, "\(result.stderr)")
    }
}
