import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import TestSupport
import Testing

/// The whole backward pass against torch autograd (Fixtures/reference/model_grads*.safetensors,
/// written by Fixtures/generate/model_grads_reference.py): the tiny model, frozen, with a
/// PyTorch-written adapter (three layouts, below), dropout off, the 6-row batch of
/// the forward reference (padding and pairs), labels [0, 1, 1, 0, 1, 0], mean cross-entropy.
/// Every factor gradient (left, right, λ of Up and Down, through dUp/dDown and the reshape
/// contraction) and every head gradient is compared element by element; tolerance 1e-4 relative
/// to the tensor's largest reference value (llm.c's test_gpt2 style: the max difference is printed).
///
/// The reference is float64, lsrconv f32 with BLAS sums in any kernel's order. A factor gradient
/// sums over the 402 token rows and 64–256 features, after the forward pass and the backward
/// through both layers: about ten chained products, each ≈ √n·u ≈ 1.2e-6 of its scale (n = 402;
/// the terms have both signs, so n·u·Σ|terms| overstates it), give ~1e-5 relative at most
/// (measured ≤ 7.3e-6 under Zen/Haswell, Sandybridge and Prescott kernels). The loss moves by
/// ≤ 2·max|Δlogit| (|∂L/∂z| ≤ 1/B per logit), and the logits by ≤ 1.5× the hidden states' few
/// 1e-6 (ForwardParityTests): 1e-5.
@Suite struct GradientParityTests {
    /// Three layouts: the LSR adapter on query/value, LoRA on query/value, and LSR on all six
    /// Linear modules (attention q/k/v/output, intermediate, output), each with its reference.
    @Test(arguments: [
        ("reference/adapter", "reference/model_grads.safetensors"), ("reference/adapter-lora", "reference/model_grads_lora.safetensors"),
        ("reference/adapter-lsr6", "reference/model_grads_lsr6.safetensors"),
    ])
    func factorAndHeadGradientsMatchAutograd(_ adapterPath: String, _ referencePath: String) throws {
        let reference = try Checkpoint.open(TestPaths.fixture(referencePath))
        let rows = try referenceBatch()
        let batch = TokenBatch(ids: rows.ids, mask: rows.mask, batch: rows.batch, length: rows.length)
        let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
        let set = try AdapterFile.read(TestPaths.fixture(adapterPath))
        try set.attach(to: model)

        let ws = try model.forward(batch, keepActivations: true)
        let grads = RobertaGradients(model: model, shape: ws.shape, trainHead: true)
        let loss = model.backward(ws, targets: .classes([0, 1, 1, 0, 1, 0]), grads: grads)
        let want = Double(try floats(reference, "loss")[0])
        #expect(abs(loss - want) < 1e-5, "loss \(loss), reference \(want)")
        #expect(set.modules.count >= 4)
        for c in try Self.compare(grads, set: set, reference: reference) {
            #expect(c.difference <= 1e-4 * c.scale, "\(c.name): max |Δ| = \(c.difference), largest value \(c.scale)")
        }
    }

    /// Every factor gradient of `set` (through dUp/dDown and the Kronecker-sum backward; LoRA's
    /// dUp, dDown directly) and every head gradient in `grads` against the tensors of
    /// `reference` named after them: the max |Δ| per tensor and the tensor's largest reference
    /// value (the scale the tolerance is relative to). A missing gradient is reported as an
    /// infinite difference.
    static func compare(_ grads: RobertaGradients, set: AdapterSet, reference: TensorArchive) throws -> [(name: String, difference: Float, scale: Float)] {
        var results: [(name: String, difference: Float, scale: Float)] = []
        func compare(_ got: [Float], _ name: String) throws {
            let want = try floats(reference, name)
            let scale = want.reduce(Float(0)) { max($0, abs($1)) }
            let d = got.count == want.count && scale > 0 ? maxAbsDifference(got, want) : .infinity
            results.append((name, d, scale))
        }
        for module in set.modules {
            guard let (layer, linear) = RobertaModel.AdaptedLinear.parse(module.name), let d = grads.adapters[layer][linear] else {
                results.append((module.name, .infinity, 0))
                continue
            }
            guard case .lsr(let up, let down) = module.factors else {  // LoRA: dUp, dDown are the gradients
                try compare(d.up.array, "\(module.name).lora_up.weight.grad")
                try compare(d.down.array, "\(module.name).lora_down.weight.grad")
                continue
            }
            for (sum, dM, side) in [(up, d.up, "lsr_up"), (down, d.down, "lsr_down")] {
                let (dLeft, dRight, dScales) = (FloatBuffer(count: sum.left.count), FloatBuffer(count: sum.right.count), FloatBuffer(count: sum.terms))
                sum.backward(dM.pointer, dLeft: dLeft.pointer, dRight: dRight.pointer, dScales: dScales.pointer)
                try compare(dLeft.array, "\(module.name).\(side).left.grad")
                try compare(dRight.array, "\(module.name).\(side).right.grad")
                try compare(dScales.array, "\(module.name).\(side).scales.grad")
            }
        }
        guard let head = grads.head else { return results + [("classifier", .infinity, 0)] }
        try compare(head.denseWeight.array, "classifier.dense.weight.grad")
        try compare(head.denseBias.array, "classifier.dense.bias.grad")
        try compare(head.outWeight.array, "classifier.out_proj.weight.grad")
        try compare(head.outBias.array, "classifier.out_proj.bias.grad")
        return results
    }
}
