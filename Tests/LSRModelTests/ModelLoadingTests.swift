import Foundation
import LSREngine
import LSRFormats
import LSRModel
import TestSupport
import Testing

/// Strict loading: a model directory that does not hold exactly the model its config describes
/// fails with an error naming the file and the tensor (or config field).
@Suite struct ModelLoadingTests {
    static let source = TestPaths.fixture("tiny-roberta/model.safetensors")

    /// A copy of the tiny model with its tensors edited by `edit`, and config.json edited by
    /// `configure`; returns the directory.
    func variant(
        _ dir: TemporaryDirectory, tensors edit: (inout [Safetensors.OutputTensor]) -> Void = { _ in },
        config configure: (inout JSONObject) -> Void = { _ in }
    ) throws -> String {
        var outputs = try Checkpoint.open(Self.source).tensors.map { Safetensors.OutputTensor($0) }
        edit(&outputs)
        _ = try Safetensors.write(outputs, metadata: [(key: "format", value: "pt")], to: dir.file("model.safetensors"))
        var config = try #require(try JSON.parse(readFile(TestPaths.fixture("tiny-roberta/config.json"))).objectValue)
        configure(&config)
        _ = dir.write(JSON.data(.object(config)), to: "config.json")
        return dir.path
    }

    func loadError(_ path: String) -> String {
        do {
            _ = try RobertaModel.load(path)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test func missingTensor() throws {
        let dir = TemporaryDirectory()
        let path = try variant(dir, tensors: { $0.removeAll { $0.name == "roberta.encoder.layer.1.output.dense.bias" } })
        #expect(loadError(path) == "\(dir.file("model.safetensors")): tensor 'encoder.layer.1.output.dense.bias' is missing")
    }

    @Test func wrongShape() throws {
        let dir = TemporaryDirectory()
        let path = try variant(dir, tensors: { tensors in
            let i = tensors.firstIndex { $0.name == "roberta.encoder.layer.0.attention.self.key.weight" }!
            tensors[i].shape = [32, 128]  // same bytes, other shape
        })
        #expect(loadError(path) == "\(dir.file("model.safetensors")): tensor 'encoder.layer.0.attention.self.key.weight' has shape [32, 128], expected [64, 64]")
    }

    @Test func unexpectedTensor() throws {
        let dir = TemporaryDirectory()
        let path = try variant(dir, tensors: { tensors in
            var extra = tensors.first { $0.name == "classifier.dense.bias" }!
            extra.name = "adapter.extra.bias"
            tensors.append(extra)
        })
        #expect(loadError(path) == "\(dir.file("model.safetensors")): unexpected tensor 'adapter.extra.bias': not part of a RoBERTa model")
    }

    @Test func configContradictsWeights() throws {
        let dir = TemporaryDirectory()
        let path = try variant(dir, config: { $0["num_hidden_layers"] = 3 })
        #expect(loadError(path) == "\(dir.file("config.json")): config num_hidden_layers = 3 contradicts tensor 'encoder.layer.2', whose shape gives 2")
    }

    @Test func unknownActivation() throws {
        let dir = TemporaryDirectory()
        let path = try variant(dir, config: { $0["hidden_act"] = "swishy" })
        #expect(loadError(path) == "\(dir.file("config.json")): config field /hidden_act: 'swishy' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, tanh)")
    }

    /// Batches the model cannot take: ids outside the vocabulary, rows longer than the
    /// position table (130 positions, pad 1: at most 128 tokens).
    @Test func badBatches() throws {
        let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
        #expect(model.maxTokens == 128)
        #expect(throws: RobertaModel.Error.tokenOutOfRange(id: 1000, row: 1, vocabulary: 1000)) {
            try model.forward(TokenBatch(ids: [0, 5, 2, 0, 1000, 2], mask: [1, 1, 1, 1, 1, 1], batch: 2, length: 3))
        }
        #expect(throws: RobertaModel.Error.sequenceTooLong(row: 0, tokens: 129, maximum: 128)) {
            try model.forward(TokenBatch(ids: [Int32](repeating: 5, count: 129), mask: [Int32](repeating: 1, count: 129), batch: 1, length: 129))
        }
    }
}
