import LSREngine
import LSRFormats
import LSRModel
import TestSupport
import Testing

/// The forward pass against transformers 5.23 / torch 2.13 (float32, CPU, sdpa attention):
/// Fixtures/reference/forward.safetensors, written by Fixtures/generate/forward_reference.py
/// from a batch of 6 rows mixing lengths (padding), an empty string and sentence pairs.
/// Tolerance: 1e-4 max absolute difference on logits and on every element of the last hidden
/// state, padding rows included.
@Suite struct ForwardParityTests {
    static let tolerance: Float = 1e-4
    static let reference = TestPaths.fixture("reference/forward.safetensors")



    /// Every format of the same weights gives the reference of its precision.
    @Test(arguments: [
        ("tiny-roberta", "f32"), ("tiny-roberta-sharded", "f32"), ("torch/zip", "f32"), ("torch/sharded", "f32"),
        ("tiny-roberta-f16", "f16"), ("torch/legacy", "f16"), ("torch/nested/model.pt", "f16"),
        ("torch/fairseq/model.pt", "fairseq"), ("torch/fairseq/model_decoder.pt", "fairseq"),
    ])
    func logitsAndHiddenStatesMatchTransformers(_ fixture: String, _ model: String) throws {
        let reference = try Checkpoint.open(Self.reference)
        let ids = try floats(reference, "input_ids").map { Int32($0) }
        let mask = try floats(reference, "attention_mask").map { Int32($0) }
        let shape = try #require(reference["input_ids"]).shape
        let roberta = try RobertaModel.load(TestPaths.fixture(fixture))
        let ws = try roberta.forward(TokenBatch(ids: ids, mask: mask, batch: shape[0], length: shape[1]))

        let logits = try floats(reference, model + ".logits")
        let hidden = try floats(reference, model + ".last_hidden_state")
        #expect(ws.logits.count == logits.count && ws.hidden.count == hidden.count)
        let dLogits = maxAbsDifference(ws.logits.array, logits)
        let dHidden = maxAbsDifference(ws.hidden.array, hidden)
        #expect(dLogits <= Self.tolerance, "logits: max |Δ| = \(dLogits)")
        #expect(dHidden <= Self.tolerance, "last hidden state: max |Δ| = \(dHidden)")
    }
}
