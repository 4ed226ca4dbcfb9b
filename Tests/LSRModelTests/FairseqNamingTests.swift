import LSRFormats
import LSRModel
import TestSupport
import Testing

/// fairseq → HF naming against tensors written by the generator (Fixtures/generate/
/// torch_fixtures.py, write_fairseq): fairseq_names.safetensors is the state dict of
/// Fixtures/torch/fairseq/model.pt (fairseq ≥ 0.10 names, less the tied lm_head.weight), and
/// expected_hf.safetensors what the conversion must give. Bytes are compared exactly (tolerance 0:
/// renaming and splitting copy nothing).
@Suite struct FairseqNamingTests {
    static let fairseqNames = TestPaths.fixture("torch/fairseq/fairseq_names.safetensors")
    static let expectedHF = TestPaths.fixture("torch/fairseq/expected_hf.safetensors")
    static let head = "sentence_classification_head"
    static let hidden = 64

    /// Every tensor of `got` equals the tensor of the same name in `expected`: dtype, shape, bytes.
    func expectSame(_ got: TensorArchive, _ expected: TensorArchive, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.names.sorted() == expected.names.sorted(), sourceLocation: sourceLocation)
        for tensor in expected.tensors {
            guard let mine = got[tensor.name] else { continue }
            #expect(mine.dtype == tensor.dtype, "\(tensor.name)", sourceLocation: sourceLocation)
            #expect(mine.shape == tensor.shape, "\(tensor.name)", sourceLocation: sourceLocation)
            let differing = zip(mine.bytes.buffer, tensor.bytes.buffer).filter { $0 != $1 }.count
            #expect(
                mine.bytes.count == tensor.bytes.count && differing == 0,
                "\(tensor.name): \(differing) differing bytes", sourceLocation: sourceLocation)
        }
    }

    /// An archive of `tensors` (owned bytes), as a reader would return it.
    func archive(_ tensors: [ArchiveTensor], auxiliary: JSONObject = [:]) -> TensorArchive {
        TensorArchive(format: .torchZip, files: ["model.pt"], metadata: [], tensors: tensors, auxiliary: auxiliary)
    }

    func tensor(_ name: String, _ shape: [Int], dtype: DType = .f32, fill: UInt8 = 0) -> ArchiveTensor {
        let count = dtype.byteCount(elements: shape.reduce(1, *))!
        return ArchiveTensor(
            name: name, dtype: dtype, shape: shape, bytes: TensorBytes(owning: [UInt8](repeating: fill, count: count)),
            file: "model.pt", offset: 0)
    }

    /// The original-release layout (fairseq 0.8/0.9) of the same weights, built from the new one:
    /// decoder prefix, emb_layer_norm, q/k/v fused into in_proj_weight/bias = cat(q, k, v).
    func originalReleaseLayout(_ new: TensorArchive) -> TensorArchive {
        let separate = ["self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."]
        var tensors: [ArchiveTensor] = []
        for t in new.tensors where !t.name.hasSuffix(".version") && !separate.contains(where: { t.name.contains($0) }) {
            var old = t
            old.name = t.name.replacingOccurrences(of: "encoder.sentence_encoder.", with: "decoder.sentence_encoder.")
                .replacingOccurrences(of: "layernorm_embedding", with: "emb_layer_norm")
                .replacingOccurrences(of: "encoder.lm_head.", with: "decoder.lm_head.")
            tensors.append(old)
        }
        for layer in 0..<2 {
            for part in ["weight", "bias"] {
                let parts = ["q_proj", "k_proj", "v_proj"].map { new["encoder.sentence_encoder.layers.\(layer).self_attn.\($0).\(part)"]! }
                let bytes = parts.flatMap { [UInt8]($0.bytes.buffer) }
                var shape = parts[0].shape
                shape[0] *= 3
                tensors.append(
                    ArchiveTensor(
                        name: "decoder.sentence_encoder.layers.\(layer).self_attn.in_proj_\(part)", dtype: parts[0].dtype,
                        shape: shape, bytes: TensorBytes(owning: bytes), file: "model_decoder.pt", offset: 0))
            }
        }
        return archive(tensors)
    }

    @Test func convertsFairseqNamesToTheHFTensors() throws {
        let input = try Safetensors.read(path: Self.fairseqNames)
        let expected = try Safetensors.read(path: Self.expectedHF)
        #expect(FairseqNaming.isFairseq(input))
        let conversion = try FairseqNaming.convert(input)
        expectSame(conversion.archive, expected)
        #expect(conversion.classificationHead == Self.head)
        #expect(conversion.unknown.isEmpty)
        #expect(conversion.synthesized == ["roberta.embeddings.token_type_embeddings.weight"])
        #expect(
            conversion.dropped.sorted()
                == ["encoder.lm_head.bias", "encoder.lm_head.dense.bias", "encoder.lm_head.dense.weight",
                    "encoder.lm_head.layer_norm.bias", "encoder.lm_head.layer_norm.weight", "encoder.sentence_encoder.version"])
        // Every kept input tensor is renamed exactly once, and the zeros follow the positions.
        #expect(conversion.renamed.count == input.tensors.count - conversion.dropped.count)
        let names = conversion.archive.names
        let positions = try #require(names.firstIndex(of: "roberta.embeddings.position_embeddings.weight"))
        #expect(names[positions + 1] == "roberta.embeddings.token_type_embeddings.weight")
        let tokenTypes = try #require(conversion.archive["roberta.embeddings.token_type_embeddings.weight"])
        #expect(tokenTypes.dtype == .f16 && tokenTypes.shape == [1, Self.hidden])
        #expect(tokenTypes.file == FairseqNaming.synthesizedFile)
        // The result reads as a RoBERTa with the fixture's shapes.
        let shapes = Dictionary(uniqueKeysWithValues: conversion.archive.tensors.map { ($0.name, $0.shape) })
        let architecture = try #require(RobertaArchitecture.infer(shapes: shapes))
        #expect(architecture.layers == 2 && architecture.hiddenSize == 64 && architecture.vocabSize == 1000)
        #expect(architecture.maxPositions == 130 && architecture.typeVocabSize == 1)
        #expect(architecture.head == .sequenceClassification(labels: 2))
    }

    @Test func splitsFusedProjectionsIntoZeroCopyThirds() throws {
        let new = try Safetensors.read(path: Self.fairseqNames)
        let old = originalReleaseLayout(new)
        #expect(FairseqNaming.isFairseq(old))
        let conversion = try FairseqNaming.convert(old)
        expectSame(conversion.archive, try Safetensors.read(path: Self.expectedHF))
        #expect(conversion.dropped.sorted().allSatisfy { $0.hasPrefix("decoder.lm_head.") })

        let fused = try #require(old["decoder.sentence_encoder.layers.1.self_attn.in_proj_weight"])
        let base = try #require(fused.bytes.buffer.baseAddress)
        let third = Self.hidden * Self.hidden * 2  // f16
        for (i, part) in ["query", "key", "value"].enumerated() {
            let view = try #require(conversion.archive["roberta.encoder.layer.1.attention.self.\(part).weight"])
            #expect(view.bytes.buffer.baseAddress == base + i * third, "\(part) is a view into in_proj_weight")
            #expect(view.bytes.count == third && view.shape == [Self.hidden, Self.hidden])
        }
        #expect(
            conversion.renamed.first { $0.from == "decoder.sentence_encoder.layers.0.self_attn.in_proj_bias" }?.to
                == ["query", "key", "value"].map { "roberta.encoder.layer.0.attention.self.\($0).bias" })
    }

    @Test func slicesKeepTheOwnerAlive() throws {
        var slice: TensorBytes?
        do {
            let owned = TensorBytes(owning: [1, 2, 3, 4, 5, 6])
            slice = owned.slice(2..<5)
            #expect(owned.slice(4..<7) == nil)
        }
        #expect(slice.map { [UInt8]($0.buffer) } == [3, 4, 5])
    }

    @Test func choosesAmongSeveralClassificationHeads() throws {
        let input = try Safetensors.read(path: Self.fairseqNames)
        var tensors = input.tensors
        for t in input.tensors where t.name.hasPrefix("classification_heads.\(Self.head).") {
            var copy = t
            copy.name = t.name.replacingOccurrences(of: Self.head, with: "mnli")
            tensors.append(copy)
        }
        let both = archive(tensors)
        #expect(throws: FairseqNaming.Error.ambiguousClassificationHead(available: [Self.head, "mnli"])) {
            try FairseqNaming.convert(both)
        }
        #expect(throws: FairseqNaming.Error.unknownClassificationHead("rte", available: [Self.head, "mnli"])) {
            try FairseqNaming.convert(both, head: "rte")
        }
        let mnli = try FairseqNaming.convert(both, head: "mnli")
        #expect(mnli.classificationHead == "mnli")
        #expect(mnli.dropped.filter { $0.hasPrefix("classification_heads.\(Self.head).") }.count == 4)
        let dense = try #require(mnli.archive["classifier.dense.weight"])
        let source = try #require(both["classification_heads.mnli.dense.weight"])
        #expect(dense.bytes.buffer.baseAddress == source.bytes.buffer.baseAddress)
        // The checkpoint's own classification_head_name decides when the caller does not.
        let named = archive(tensors, auxiliary: ["args": ["classification_head_name": "mnli"]])
        #expect(try FairseqNaming.convert(named).classificationHead == "mnli")
        let error = FairseqNaming.Error.ambiguousClassificationHead(available: [Self.head, "mnli"])
        #expect(error.description.contains("mnli") && error.description.contains(Self.head))
    }

    @Test func withoutAHeadNamesHaveNoPrefix() throws {
        let input = try Safetensors.read(path: Self.fairseqNames)
        let bare = archive(input.tensors.filter { !$0.name.hasPrefix("classification_heads.") })
        let conversion = try FairseqNaming.convert(bare)
        #expect(conversion.classificationHead == nil)
        #expect(conversion.archive.names.allSatisfy { !$0.hasPrefix("roberta.") && !$0.hasPrefix("classifier.") })
        #expect(conversion.archive["embeddings.token_type_embeddings.weight"]?.shape == [1, Self.hidden])
        #expect(conversion.archive["encoder.layer.1.output.LayerNorm.bias"] != nil)
    }

    @Test func keepsUnknownTensorsAndDropsBuffers() throws {
        let tensors = [
            tensor("encoder.sentence_encoder.embed_tokens.weight", [10, 4], dtype: .bf16),
            tensor("encoder.sentence_encoder.embed_positions._float_tensor", [1]),
            tensor("encoder.sentence_encoder.layer_norm.weight", [4]),
            tensor("encoder.sentence_encoder.layers.0.self_attn.bias_k", [1, 1, 4]),
            tensor("encoder.sentence_encoder.layers.x.fc1.weight", [8, 4]),
            tensor("decoder.version", [1]),
        ]
        let conversion = try FairseqNaming.convert(archive(tensors))
        #expect(
            conversion.unknown == [
                "encoder.sentence_encoder.layer_norm.weight", "encoder.sentence_encoder.layers.0.self_attn.bias_k",
                "encoder.sentence_encoder.layers.x.fc1.weight",
            ])
        #expect(conversion.dropped == ["encoder.sentence_encoder.embed_positions._float_tensor", "decoder.version"])
        #expect(conversion.archive["encoder.sentence_encoder.layer_norm.weight"] != nil)
        // Zeros in the embeddings' dtype, right after them when there are no position embeddings.
        #expect(conversion.archive.names.prefix(2) == ["embeddings.word_embeddings.weight", "embeddings.token_type_embeddings.weight"])
        let zeros = try #require(conversion.archive["embeddings.token_type_embeddings.weight"])
        #expect(zeros.dtype == .bf16 && zeros.bytes.count == 8 && zeros.bytes.buffer.allSatisfy { $0 == 0 })
    }

    @Test func refusesFusedProjectionsThatDoNotSplitInThree() {
        let name = "encoder.sentence_encoder.layers.0.self_attn.in_proj_weight"
        let bad = archive([tensor("encoder.sentence_encoder.embed_tokens.weight", [10, 4]), tensor(name, [10, 4])])
        #expect(throws: FairseqNaming.Error.unexpectedShape(tensor: name, shape: [10, 4], expected: "[3·n, in] (query, key, value stacked along dim 0)")) {
            try FairseqNaming.convert(bad)
        }
        let bias = "encoder.sentence_encoder.layers.0.self_attn.in_proj_bias"
        #expect(throws: FairseqNaming.Error.self) {
            try FairseqNaming.convert(archive([tensor(bias, [12, 1])]))
        }
        let short = ArchiveTensor(
            name: name, dtype: .f32, shape: [12, 4], bytes: TensorBytes(owning: [UInt8](repeating: 0, count: 100)), file: "m", offset: 0)
        #expect(throws: FairseqNaming.Error.byteCountMismatch(tensor: name, expected: 192, actual: 100)) {
            try FairseqNaming.convert(archive([short]))
        }
        let error = FairseqNaming.Error.unexpectedShape(tensor: name, shape: [10, 4], expected: "[3·n, in]")
        #expect(error.description == "tensor '\(name)' has shape [10, 4], expected [3·n, in]")
    }

    @Test func refusesTwoSourcesForOneName() {
        let fused = "encoder.sentence_encoder.layers.0.self_attn.in_proj_weight"
        let separate = "encoder.sentence_encoder.layers.0.self_attn.q_proj.weight"
        let input = archive([
            tensor("encoder.sentence_encoder.embed_tokens.weight", [10, 4]), tensor(fused, [12, 4]), tensor(separate, [4, 4]),
        ])
        #expect(throws: FairseqNaming.Error.collision("encoder.layer.0.attention.self.query.weight", sources: [fused, separate])) {
            try FairseqNaming.convert(input)
        }
        let both = archive([
            tensor("encoder.sentence_encoder.embed_tokens.weight", [10, 4]), tensor("decoder.sentence_encoder.embed_tokens.weight", [10, 4]),
        ])
        #expect(throws: FairseqNaming.Error.self) { try FairseqNaming.convert(both) }
        #expect(throws: FairseqNaming.Error.missingTensor("encoder.sentence_encoder.embed_tokens.weight")) {
            try FairseqNaming.convert(archive([tensor("encoder.sentence_encoder.layers.0.fc1.weight", [8, 4])]))
        }
    }

    @Test func hfCheckpointsAreNotFairseq() throws {
        #expect(!FairseqNaming.isFairseq(try Safetensors.read(path: TestPaths.fixture("tiny-roberta/model.safetensors"))))
        #expect(!FairseqNaming.isFairseq(try Safetensors.read(path: Self.expectedHF)))
    }

    // MARK: - config

    /// The fields the fixture's `args` Namespace holds (Fixtures/generate/torch_fixtures.py, fairseq_args).
    static let args: JSONObject = [
        "arch": "roberta_base", "task": "sentence_prediction", "num_classes": 2, "max_positions": 128,
        "encoder_layers": 2, "encoder_embed_dim": 64, "encoder_ffn_embed_dim": 256, "encoder_attention_heads": 4,
        "activation_fn": "gelu", "pooler_activation_fn": "tanh", "dropout": 0.1, "attention_dropout": 0.1,
        "activation_dropout": 0.0, "pooler_dropout": 0.0, "encoder_layers_to_keep": nil, "lr": [1e-05],
        "classification_head_name": "sentence_classification_head", "fp16": true,
    ]

    func fixtureArchitecture() throws -> RobertaArchitecture {
        let conversion = try FairseqNaming.convert(try Safetensors.read(path: Self.fairseqNames))
        return try #require(RobertaArchitecture.infer(shapes: Dictionary(uniqueKeysWithValues: conversion.archive.tensors.map { ($0.name, $0.shape) })))
    }

    @Test func configFromArgsNamespace() throws {
        let architecture = try fixtureArchitecture()
        let config = try #require(try FairseqNaming.config(from: ["args": .object(Self.args), "epoch": 3], architecture: architecture))
        #expect(config.numHiddenLayers == 2 && config.hiddenSize == 64 && config.numAttentionHeads == 4)
        #expect(config.intermediateSize == 256 && config.maxPositionEmbeddings == 130 && config.vocabSize == 1000)
        #expect(config.hiddenAct == "gelu" && config.hiddenDropoutProb == 0.1 && config.attentionProbsDropoutProb == 0.1)
        #expect(config.classifierDropout == 0.0 && config.numLabels == 2)
        #expect(config.typeVocabSize == 1 && config.layerNormEps == 1e-5 && config.padTokenId == 1)
        #expect(config.bosTokenId == 0 && config.eosTokenId == 2)
        try config.check(against: architecture)
        // The JSON document says the same, and reads back as the same config.
        #expect(config.json["max_position_embeddings"] == 130 && config.json["num_attention_heads"] == 4)
        #expect(config.json["classifier_dropout"] == 0.0 && config.json["model_type"] == "roberta")
        #expect(try RobertaConfig(json: .object(config.json)).maxPositionEmbeddings == 130)
    }

    @Test func configFromCfgModel() throws {
        let architecture = try fixtureArchitecture()
        var model = Self.args
        model["num_classes"] = nil
        model["activation_fn"] = "gelu_accurate"
        model["_name"] = "roberta_base"
        let auxiliary: JSONObject = [
            "args": nil, "cfg": ["model": .object(model), "task": ["_name": "sentence_prediction", "num_classes": 2]],
        ]
        let config = try #require(try FairseqNaming.config(from: auxiliary, architecture: architecture))
        #expect(config.hiddenAct == "gelu_new" && config.numLabels == 2 && config.maxPositionEmbeddings == 130)
        #expect(try FairseqNaming.config(from: ["extra_state": ["epoch": 1]], architecture: architecture) == nil)
    }

    @Test func configErrorsNameTheField() throws {
        let architecture = try fixtureArchitecture()
        func failure(_ key: String, _ value: JSONValue, under cfg: Bool = false) -> FairseqNaming.Error? {
            var fields = Self.args
            fields[key] = value
            let auxiliary: JSONObject = cfg ? ["cfg": ["model": .object(fields)]] : ["args": .object(fields)]
            do {
                _ = try FairseqNaming.config(from: auxiliary, architecture: architecture)
                return nil
            } catch {
                return error
            }
        }
        #expect(failure("encoder_layers", "two") == .invalidConfigField(pointer: "/args/encoder_layers", reason: "expected an integer ≥ 0, got \"two\""))
        #expect(
            failure("encoder_attention_heads", 5, under: true)
                == .invalidConfigField(pointer: "/cfg/model/encoder_attention_heads", reason: "hidden size 64 is not a multiple of 5 heads"))
        #expect(failure("dropout", 1.5).map { "\($0)" }?.hasPrefix("fairseq config field /args/dropout:") == true)
        #expect(failure("activation_fn", "softplus").map { "\($0)" }?.contains("/args/activation_fn") == true)
        // A head size the weights contradict is the importer's check, not a parse error.
        let config = try #require(try FairseqNaming.config(from: ["args": .object(Self.args.merging(["num_classes": 3]))], architecture: architecture))
        #expect(throws: RobertaConfig.Error.contradictsWeights(field: "num_labels", config: 3, tensor: "classifier.out_proj.weight", fromWeights: 2)) {
            try config.check(against: architecture)
        }
    }
}

extension JSONObject {
    fileprivate func merging(_ other: JSONObject) -> JSONObject {
        var merged = self
        for (key, value) in other.members { merged[key] = value }
        return merged
    }
}
