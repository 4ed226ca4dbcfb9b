import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import TestSupport
import Testing

/// An LSR adapter written by PyTorch (Fixtures/generate/adapter_reference.py: query and value of
/// both layers, r 4 = 2·2, s 3, 64 = 8·8, α 8) applied to the tiny model: ΔW per module within
/// 1e-5 of torch.kron's, logits and last hidden state within 1e-4 of transformers' forward pass
/// with W + ΔW (Fixtures/reference/adapted.safetensors; the adapter moves the logits by 0.057, so
/// the comparison is not vacuous).
@Suite struct AdaptedForwardTests {
    let reference: TensorArchive
    init() throws { reference = try Checkpoint.open(TestPaths.fixture("reference/adapted.safetensors")) }



    @Test func deltaWMatchesTorch() throws {
        let set = try AdapterFile.read(TestPaths.fixture("reference/adapter"))
        #expect(set.modules.count == 4)
        // Tolerance: ΔWᵢⱼ = 2·Σₜ Upᵢₜ·Downₜⱼ (4 terms), each Up and Down element a sum of 3
        // Kronecker products; lsrconv and torch (both f32) each round about 12 times on the way,
        // each time by ≤ u·Σ|terms|, and Σ|terms| ≤ 23.3 in these modules (|ΔW| ≤ 14): worst
        // case 2·12·u·23.3 = 3.3e-5, independent roundings √24·u·23.3 ≈ 7e-6. Only the 4-term
        // sum of the sgemm depends on the BLAS kernel, and every order of it and of the Kronecker
        // sums, with and without FMA (288 variants, numpy), lands within 2.9e-6 of torch's ΔW.
        for module in set.modules {
            let d = maxAbsDifference(module.deltaW(scaling: set.hyperparameters.scaling).array, try floats(reference, module.name + ".delta_w"))
            #expect(d < 1e-5, "\(module.name): max |Δ| = \(d)")
        }
    }

    @Test func adaptedLogitsMatchTransformers() throws {
        let batch = try Checkpoint.open(TestPaths.fixture("reference/forward.safetensors"))
        let ids = try floats(batch, "input_ids").map { Int32($0) }
        let mask = try floats(batch, "attention_mask").map { Int32($0) }
        let shape = try #require(batch["input_ids"]).shape
        let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
        try AdapterFile.read(TestPaths.fixture("reference/adapter")).attach(to: model)
        let ws = try model.forward(TokenBatch(ids: ids, mask: mask, batch: shape[0], length: shape[1]))
        let dLogits = maxAbsDifference(ws.logits.array, try floats(reference, "logits"))
        let dHidden = maxAbsDifference(ws.hidden.array, try floats(reference, "last_hidden_state"))
        // ForwardParityTests' tolerance (argued there); W + ΔW adds ≤ 1e-5 to 4 weight matrices.
        #expect(dLogits <= 1e-4, "logits: max |Δ| = \(dLogits)")
        #expect(dHidden <= 1e-4, "last hidden state: max |Δ| = \(dHidden)")
        // Detached, the model is the base model again.
        model.detachAll()
        let base = try model.forward(TokenBatch(ids: ids, mask: mask, batch: shape[0], length: shape[1]))
        #expect(maxAbsDifference(base.logits.array, try floats(reference, "logits")) > 1e-2)
    }

    @Test func baseOfAnotherShapeIsRefused() throws {
        var set = try AdapterFile.read(TestPaths.fixture("reference/adapter"))
        set.base.intermediateSize = 512
        let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
        #expect(throws: AdapterSet.ApplyError.baseMismatch(field: "intermediate_size", adapter: 512, model: 256)) { try set.attach(to: model) }
    }
}
