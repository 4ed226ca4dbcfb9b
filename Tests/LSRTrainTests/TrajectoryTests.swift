import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTrain
import TestSupport
import Testing

/// Five AdamW steps against PyTorch (Fixtures/reference/trajectory.safetensors, written by
/// Fixtures/generate/trajectory_reference.py with torch 2.13): the tiny model frozen, the
/// reference LSR adapter (λ fixed) and the head trained, lr 1e-2, weight decay 0.01, the 6-row
/// batch with labels [0, 1, 1, 0, 1, 0]. The losses fall from 0.686 to 0.027; each must equal
/// torch's within 1e-4, and every factor after the last update within 1e-4 relative.
///
/// Both sides are f32 with their own kernels. The gradients agree to ~1e-5 relative
/// (GradientParityTests); AdamW's step lr·m̂/(√v̂ + ε) is invariant to the gradient's scale, so a
/// relative error δ in g moves a step by ≈ lr·δ ≈ 1e-7, five times, on factors of order 1: the
/// factors stay within ~1e-6 relative (9.5e-7 measured), the losses within the forward pass's
/// ~1e-5 (8.4e-7 measured); 1e-4 covers both. Adam's first step is lr·sign(g) for |g| ≫ ε, so a
/// gradient element within rounding of 0 could step the other way and miss by 2·lr: the smallest
/// first-step |g| here is 1.3e-4 of its tensor's largest, 17× the gradients' 7.3e-6 error.
@Suite struct TrajectoryTests {
    @Test func fiveAdamWStepsMatchPyTorch() throws {
        let reference = try Checkpoint.open(TestPaths.fixture("reference/trajectory.safetensors"))
        let rows = try referenceBatch()
        let batch = TokenBatch(ids: rows.ids, mask: rows.mask, batch: rows.batch, length: rows.length)
        let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
        let adapters = try AdapterFile.read(TestPaths.fixture("reference/adapter"))
        var settings = Optimizer.Settings()
        settings.weightDecay = 0.01
        let training = try AdapterTraining(model: model, adapters: adapters, trainHead: true, settings: settings)

        let expected = try floats(reference, "losses")
        for step in 0..<5 {
            let loss = try training.step(batch, targets: .classes([0, 1, 1, 0, 1, 0]), lr: 1e-2)
            #expect(abs(loss - Double(expected[step])) <= 1e-4, "step \(step): loss \(loss), torch \(expected[step])")
        }
        for module in adapters.modules {
            guard case .lsr(let up, let down) = module.factors else { continue }
            for (buffer, name) in [(up.left, "lsr_up.left"), (up.right, "lsr_up.right"), (down.left, "lsr_down.left"), (down.right, "lsr_down.right")] {
                let want = try floats(reference, "\(module.name).\(name).after")
                let scale = want.reduce(Float(0)) { max($0, abs($1)) }
                let d = maxAbsDifference(buffer.array, want)
                #expect(d <= 1e-4 * scale, "\(module.name).\(name): max |Δ| = \(d), largest value \(scale)")
            }
        }
    }
}
