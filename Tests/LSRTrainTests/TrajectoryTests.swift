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
                let d = zip(buffer.array, want).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                #expect(d <= 1e-4 * scale, "\(module.name).\(name): max |Δ| = \(d)")
            }
        }
    }
}
