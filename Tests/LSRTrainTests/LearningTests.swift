import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTokenizers
import LSRTrain
import TestSupport
import Testing

/// The learning check of issue 6 on Fixtures/learning (Fixtures/generate/learning_task.py):
/// "open before close", a task that only adaptation solves. The frozen tiny RoBERTa (read from
/// its pytorch_model.bin) with a trained head stays at chance; the LSR adapter of
/// adapter-init/ on query and value, trained with the head, reaches the accuracy of the PyTorch
/// reference (Fixtures/learning/reference_curves.json, learning_reference.py) within 2 points.
/// Settings and reference values come from that file. The two trainers shuffle differently
/// (SplitMix64 here, torch.randperm there), so the curves agree in shape, not digit for digit.
@Suite struct LearningTests {
    /// reference_curves.json: its settings and the per-epoch dev accuracy of each run.
    struct Reference {
        let epochs: Int
        let batchSize: Int
        let learningRate: Float
        let warmupRatio: Double
        let weightDecay: Float
        let maxLength: Int
        let accuracy: [String: [Double]]

        init() throws {
            let json = try JSON.parse(readFile(TestPaths.fixture("learning/reference_curves.json")))
            let s = try #require(json["settings"])
            epochs = try #require(s["epochs"]?.intValue)
            batchSize = try #require(s["batch_size"]?.intValue)
            learningRate = Float(try #require(s["learning_rate"]?.doubleValue))
            warmupRatio = try #require(s["warmup_ratio"]?.doubleValue)
            weightDecay = Float(try #require(s["weight_decay"]?.doubleValue))
            maxLength = try #require(s["max_length"]?.intValue)
            // The rest of torch.optim.AdamW's settings are lsrconv's defaults.
            let defaults = Optimizer.Settings()
            #expect(s["betas"]?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) } == [defaults.beta1, defaults.beta2])
            #expect(s["eps"]?.doubleValue.map(Float.init) == defaults.epsilon)
            #expect(s["dropout"]?.doubleValue == 0)
            var accuracy: [String: [Double]] = [:]
            for (name, run) in try #require(json["runs"]?.objectValue).members {
                accuracy[name] = try #require(run.arrayValue).map { try #require($0["dev_accuracy"]?.doubleValue) }
            }
            self.accuracy = accuracy
        }

        var options: Trainer.Options {
            var o = Trainer.Options()
            (o.epochs, o.batchSize, o.learningRate, o.warmupRatio, o.maxLength, o.seed, o.trainHead) =
                (epochs, batchSize, learningRate, warmupRatio, maxLength, 0, true)
            o.optimizer = settings
            o.maxGradNorm = 0  // the reference does not clip
            o.keepBest = false
            return o
        }

        var settings: Optimizer.Settings {
            var s = Optimizer.Settings()
            s.weightDecay = weightDecay
            return s
        }
    }

    /// A labelled JSON Lines file of Fixtures/learning, encoded as `lsrconv train` encodes it.
    static func encoded(_ name: String, tokenizer: Tokenizer, model: RobertaModel, maxLength: Int) throws -> Trainer.Encoded {
        let data = try DataSource.load(path: TestPaths.fixture("learning/\(name)"), labels: .required)
        let rows = data.examples.map { tokenizer.encode($0.text, pair: $0.pair, maxLength: min(maxLength, model.maxTokens)) }
        var label2id: [String: Int] = [:]
        for (id, label) in model.config.id2label { label2id[label] = id }
        guard case .classes(let ids) = try data.resolveLabels(label2id: label2id, numLabels: 2) else {
            throw Trainer.Error.badOption("expected class labels")
        }
        return Trainer.Encoded(rows: rows, targets: .classes(ids))
    }

    /// Trains on the task from the initial adapter (zeroed: `headOnly`) and returns the dev
    /// accuracy after each epoch.
    static func run(headOnly: Bool, _ reference: Reference) throws -> [Double] {
        let model = try RobertaModel.load(TestPaths.fixture("learning/model"))
        let tokenizer = try Tokenizer.load(directory: TestPaths.fixture("learning/model"))
        let train = try encoded("train.jsonl", tokenizer: tokenizer, model: model, maxLength: reference.maxLength)
        let dev = try encoded("dev.jsonl", tokenizer: tokenizer, model: model, maxLength: reference.maxLength)
        #expect(Set(train.rows.map(\.ids.count)) == [8], "every text is 6 one-token words + <s> + </s>")
        let adapters = try AdapterFile.read(TestPaths.fixture("learning/adapter-init"))
        if headOnly {
            // All factors 0: every factor gradient is 0 (each is a product with another
            // factor), so AdamW never moves them and ΔW stays 0: only the head learns.
            for module in adapters.modules {
                guard case .lsr(let up, let down) = module.factors else { continue }
                for buffer in [up.left, up.right, down.left, down.right] { buffer.zero() }
            }
        }
        let training = try AdapterTraining(model: model, adapters: adapters, trainHead: true, settings: reference.settings)
        let session = TrainingSession(training: training)
        #expect(try Trainer.run(session, train: train, eval: dev, options: reference.options) == .finished)
        return try session.state.log.map { h in try #require(h.evalMetrics.first { $0.name == "accuracy" }?.value) }
    }

    static func table(_ title: String, reference: [Double], lsrconv: [Double]) -> String {
        var lines = ["\(title): dev accuracy per epoch", "epoch  PyTorch  lsrconv"]
        for (i, (r, l)) in zip(reference, lsrconv).enumerated() {
            lines.append(String(i + 1).padding(toLength: 7, withPad: " ", startingAt: 0) + format(r) + "    " + format(l))
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ x: Double) -> String {
        let thousandths = Int((x * 1000).rounded())
        return "\(thousandths / 1000).\(String(thousandths % 1000).leftPadded(3))"
    }

    @Test func lsrAdapterLearnsTheTaskAsPyTorchDoes() throws {
        let reference = try Reference()
        let expected = try #require(reference.accuracy["lsr"])
        let curve = try Self.run(headOnly: false, reference)
        print(Self.table("LSR adapter + head", reference: expected, lsrconv: curve))
        #expect(curve.count == reference.epochs)
        let final = try #require(curve.last)
        let want = try #require(expected.last)
        #expect(want >= 0.90, "the reference itself must learn the task")
        #expect(final >= 0.90, "lsrconv's final dev accuracy \(final)")
        #expect(final >= want - 0.02, "lsrconv's final dev accuracy \(final), PyTorch's \(want)")
    }

    @Test func headAloneStaysNearChance() throws {
        let reference = try Reference()
        let expected = try #require(reference.accuracy["head_only"])
        let curve = try Self.run(headOnly: true, reference)
        print(Self.table("head only (adapter at ΔW = 0)", reference: expected, lsrconv: curve))
        #expect(try #require(expected.last) <= 0.65, "the reference's head-only run must stay near chance")
        #expect(try #require(curve.last) <= 0.65, "lsrconv's head-only run must stay near chance: \(curve)")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
