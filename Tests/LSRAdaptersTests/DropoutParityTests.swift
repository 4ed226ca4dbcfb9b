import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import TestSupport
import Testing

/// The backward pass with training-mode dropout against torch autograd
/// (Fixtures/reference/model_grads_dropout.safetensors, written by
/// Fixtures/generate/dropout_reference.py with torch 2.13 / transformers 5.23 in float64): the
/// tiny model, frozen, with the LSR adapter on all six Linear modules (reference/adapter-lsr6),
/// the 6-row reference batch, labels [0, 1, 1, 0, 1, 0], p = 0.1 at every site (the config's
/// hidden and attention probabilities; its classifier_dropout is null, so the head takes the
/// hidden one), seed 1234, stream 5. The script recomputes lsrconv's counter-based masks in
/// numpy and multiplies them in where transformers' model drops (embeddings, eager attention
/// probabilities, attention and feed-forward outputs, both head dropouts). Tolerance: 1e-4
/// relative to each tensor's largest reference value, every element compared; 1e-5 on the loss
/// (argued in GradientParityTests: the masks are exact and scale by 1/(1 − p), one more rounding).
@Suite struct DropoutParityTests {
    let labels = [0, 1, 1, 0, 1, 0]

    func setUp() throws -> (RobertaModel, AdapterSet, TokenBatch) {
        let rows = try referenceBatch()
        let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
        let set = try AdapterFile.read(TestPaths.fixture("reference/adapter-lsr6"))
        try set.attach(to: model)
        return (model, set, TokenBatch(ids: rows.ids, mask: rows.mask, batch: rows.batch, length: rows.length))
    }

    func gradients(_ model: RobertaModel, _ batch: TokenBatch, dropout: DropoutSettings?, stream: UInt64) throws -> (Double, RobertaGradients) {
        let ws = try model.forward(batch, keepActivations: true, dropout: dropout, stream: stream)
        let grads = RobertaGradients(model: model, shape: ws.shape, trainHead: true)
        return (model.backward(ws, targets: .classes(labels), grads: grads), grads)
    }

    @Test func factorAndHeadGradientsMatchAutograd() throws {
        let reference = try Checkpoint.open(TestPaths.fixture("reference/model_grads_dropout.safetensors"))
        let (model, set, batch) = try setUp()
        let settings = DropoutSettings(config: model.config, seed: 1234)
        #expect(settings == DropoutSettings(hidden: 0.1, attention: 0.1, classifier: 0.1, seed: 1234))
        let (loss, grads) = try gradients(model, batch, dropout: settings, stream: 5)
        let want = Double(try floats(reference, "loss")[0])
        print("dropout parity: loss \(loss), reference \(want)")
        #expect(abs(loss - want) < 1e-5, "loss \(loss), reference \(want)")
        let results = try GradientParityTests.compare(grads, set: set, reference: reference)
        #expect(results.count == set.modules.count * 6 + 4)
        for c in results {
            print("dropout parity: \(c.name): max |Δ| = \(c.difference) (largest value \(c.scale))")
            #expect(c.difference <= 1e-4 * c.scale, "\(c.name): max |Δ| = \(c.difference), largest value \(c.scale)")
        }

        // The check can tell masks apart: the next stream's masks miss the reference by far.
        let (otherLoss, other) = try gradients(model, batch, dropout: settings, stream: 6)
        let misses = try GradientParityTests.compare(other, set: set, reference: reference).filter { $0.difference > 1e-4 * $0.scale }
        #expect(abs(otherLoss - want) > 1e-4 && misses.count > results.count / 2, "stream 6: loss \(otherLoss), \(misses.count) tensors off")
    }

    /// No dropout (nil, all zeros, or `--dropout 0`) is the eval-mode pass bit for bit: the same
    /// logits, the same loss, the same gradients.
    @Test func zeroDropoutIsTheEvalPass() throws {
        let (model, _, batch) = try setUp()
        let (loss, base) = try gradients(model, batch, dropout: nil, stream: 0)
        let logits = try model.forward(batch).logits.array
        for settings in [
            DropoutSettings(hidden: 0, attention: 0, classifier: 0, seed: 7), DropoutSettings(config: model.config, seed: 7, overridingAll: 0),
        ] {
            #expect(try model.forward(batch, dropout: settings, stream: 3).logits.array == logits)
            let (l, g) = try gradients(model, batch, dropout: settings, stream: 3)
            #expect(l == loss)
            #expect(g.head!.denseWeight.array == base.head!.denseWeight.array)
            for (layer, modules) in g.adapters.enumerated() {
                for (linear, d) in modules {
                    #expect(d.up.array == base.adapters[layer][linear]!.up.array && d.down.array == base.adapters[layer][linear]!.down.array)
                }
            }
        }
    }

    /// Masks are a function of (seed, stream): the same pair repeats a pass exactly (what resuming
    /// from a step counter relies on), another stream or seed draws other masks; one site's
    /// probability alone changes the output too.
    @Test func masksFollowSeedAndStream() throws {
        let (model, _, batch) = try setUp()
        let settings = DropoutSettings(config: model.config, seed: 99, overridingAll: 0.2)
        let first = try model.forward(batch, dropout: settings, stream: 12).logits.array
        #expect(try model.forward(batch, dropout: settings, stream: 12).logits.array == first)
        #expect(try model.forward(batch, dropout: settings, stream: 13).logits.array != first)
        var reseeded = settings
        reseeded.seed = 100
        #expect(try model.forward(batch, dropout: reseeded, stream: 12).logits.array != first)
        let eval = try model.forward(batch).logits.array
        for single in [
            DropoutSettings(hidden: 0.2, attention: 0, classifier: 0, seed: 1), DropoutSettings(hidden: 0, attention: 0.2, classifier: 0, seed: 1),
            DropoutSettings(hidden: 0, attention: 0, classifier: 0.2, seed: 1),
        ] {
            #expect(try model.forward(batch, dropout: single).logits.array != eval, "\(single)")
        }
    }

    @Test func probabilityOutsideTheUnitIntervalIsRejected() throws {
        let (model, _, batch) = try setUp()
        for (settings, site) in [
            (DropoutSettings(hidden: 1.5, attention: 0, classifier: 0, seed: 0), "hidden"),
            (DropoutSettings(hidden: 0, attention: -0.1, classifier: 0, seed: 0), "attention"),
            (DropoutSettings(hidden: 0, attention: 0, classifier: .nan, seed: 0), "classifier"),
        ] {
            #expect {
                try model.forward(batch, dropout: settings)
            } throws: { error in
                guard case .invalidDropout(let s, _) = error as? RobertaModel.Error else { return false }
                return s == site
            }
        }
    }
}
