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
    /// Both sides are f32 through two layers, with other kernels and summation orders. Each
    /// matrix product sums 64 or 256 terms with Σ|terms| ≤ 4.3·1.3 ≈ 6 (64-wide: hidden values
    /// ≤ 4.3 after LayerNorm, row Σ|w| ≤ 1.3) or ≈ 10 (the 256-wide FFN output): √n·u·Σ|terms|
    /// ≈ 1e-6 each (worst case n·u·Σ|terms| 1.5e-4). LayerNorm scales the errors before it by
    /// γ/σ ≈ 1–3, softmax and GELU add a few ulps, the residual stream carries them on: a few 1e-6
    /// in the last hidden state (≤ 1.4e-6 measured under Zen/Haswell, Sandybridge and Prescott
    /// kernels; 4.6e-6 with AdaptedForwardTests' adapter); 1e-4 leaves room for that chain's
    /// growth. The head's row sums Σ|w| ≤ 1.21 pass hidden-state errors to the logits at most
    /// ×1.5, so they share the tolerance.
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
