import LSRAdapters
import LSREngine
import LSRModel

/// The training loop over a dataset: tokenise once, shuffle per epoch (seeded), batch with
/// dynamic padding, step with a linear schedule (warm-up, then decay to 0), evaluate after each
/// epoch. The model stays frozen; adapters and (by default) the head learn.
public enum Trainer {
    public struct Options: Sendable {
        public var epochs = 3
        /// Stop after this many updates (nil: epochs decide).
        public var maxSteps: Int?
        public var batchSize = 16
        public var learningRate: Float = 5e-4
        public var warmupRatio: Double = 0.06
        public var optimizer = Optimizer.Settings()
        public var maxLength = 128
        public var seed: UInt64 = 0
        public var trainHead = true
        public init() {}
    }

    /// Progress, for the command layer to show.
    public enum Event: Sendable {
        case step(step: Int, total: Int, epoch: Int, loss: Double, lr: Float)
        case evaluated(epoch: Int, step: Int, loss: Double, metrics: [(name: String, value: Double)])
    }

    public struct Result: Sendable {
        public var steps: Int
        public var finalLoss: Double
        /// Per epoch: its last step, the mean training loss, and the evaluation (loss, metrics).
        public var history: [(epoch: Int, step: Int, trainLoss: Double, evalLoss: Double?, evalMetrics: [(name: String, value: Double)])]
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case badOption(String)
        public var description: String {
            switch self {
            case .badOption(let s): s
            }
        }
    }

    /// Encoded examples and their targets.
    public struct Encoded: Sendable {
        public var rows: [Encoding]
        public var targets: RobertaModel.Targets
        public init(rows: [Encoding], targets: RobertaModel.Targets) {
            self.rows = rows
            self.targets = targets
        }
        var count: Int { rows.count }

        func batch(_ indices: ArraySlice<Int>, padId: Int32) -> (TokenBatch, RobertaModel.Targets) {
            let padded = Tokenizer.pad(indices.map { rows[$0] }, padId: padId)
            let batch = TokenBatch(ids: padded.ids, mask: padded.attentionMask, batch: padded.batch, length: padded.length)
            switch targets {
            case .classes(let ids): return (batch, .classes(indices.map { ids[$0] }))
            case .values(let v): return (batch, .values(indices.map { v[$0] }))
            }
        }
    }

    /// Trains `training`'s adapters on `train`, evaluating on `eval` after every epoch.
    public static func run(
        _ training: AdapterTraining, train: Encoded, eval: Encoded?, options: Options, events: (Event) -> Void = { _ in }
    ) throws -> Result {
        guard options.batchSize >= 1 else { throw Error.badOption("--batch-size must be at least 1") }
        guard options.epochs >= 1 || options.maxSteps != nil else { throw Error.badOption("--epochs must be at least 1") }
        guard train.count > 0 else { throw Error.badOption("the training data has no examples") }
        let padId = Int32(training.model.config.padTokenId)
        let perEpoch = (train.count + options.batchSize - 1) / options.batchSize
        let total = options.maxSteps ?? perEpoch * options.epochs
        let warmup = Int((Double(total) * options.warmupRatio).rounded())
        func lr(_ step: Int) -> Float {  // transformers get_linear_schedule_with_warmup
            if step < warmup { return options.learningRate * Float(step) / Float(max(1, warmup)) }
            return options.learningRate * max(0, Float(total - step) / Float(max(1, total - warmup)))
        }
        var generator = SplitMix64(seed: options.seed)
        var step = 0
        var history: [(epoch: Int, step: Int, trainLoss: Double, evalLoss: Double?, evalMetrics: [(name: String, value: Double)])] = []
        var lastLoss = Double.nan
        var epoch = 0
        while step < total {
            epoch += 1
            var order = Array(0..<train.count)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
            var sum = 0.0
            var count = 0
            var start = 0
            while start < order.count && step < total {
                let (batch, targets) = train.batch(order[start..<min(start + options.batchSize, order.count)], padId: padId)
                let rate = lr(step)
                lastLoss = try training.step(batch, targets: targets, lr: rate)
                step += 1
                sum += lastLoss
                count += 1
                events(.step(step: step, total: total, epoch: epoch, loss: lastLoss, lr: rate))
                start += options.batchSize
            }
            var evalLoss: Double?
            var metrics: [(name: String, value: Double)] = []
            if let eval {
                let (loss, values) = try evaluate(training.model, eval, batchSize: options.batchSize)
                (evalLoss, metrics) = (loss, values)
                events(.evaluated(epoch: epoch, step: step, loss: loss, metrics: values))
            }
            history.append((epoch, step, sum / Double(max(count, 1)), evalLoss, metrics))
        }
        return Result(steps: step, finalLoss: lastLoss, history: history)
    }

    /// Mean loss and the GLUE metrics of `model` on `data`, in eval mode: accuracy (and, for two
    /// classes, F1 and Matthews correlation; MCC also for more) or Pearson and Spearman for a
    /// regression head. Metrics in a fixed order, named as metrics.jsonl and `eval --json` name them.
    public static func evaluate(_ model: RobertaModel, _ data: Encoded, batchSize: Int) throws -> (loss: Double, metrics: [(name: String, value: Double)]) {
        let padId = Int32(model.config.padTokenId)
        var workspace: RobertaWorkspace?
        var lossSum = 0.0
        var predictedClasses: [Int] = []
        var predictedValues: [Double] = []
        var start = 0
        let indices = Array(0..<data.count)
        while start < data.count {
            let slice = indices[start..<min(start + batchSize, data.count)]
            let (batch, targets) = data.batch(slice, padId: padId)
            let ws = try model.forward(batch, workspace: workspace)
            workspace = ws
            let labels = ws.logits.count / batch.batch
            switch targets {
            case .classes(let ids):
                lossSum += Loss.crossEntropy(logits: ws.logits.pointer, labels: ids, classes: labels, dlogits: nil) * Double(ids.count)
                for i in 0..<ids.count {
                    let row = Array(UnsafeBufferPointer(start: ws.logits.pointer + i * labels, count: labels))
                    predictedClasses.append(row.firstIndex(of: row.max()!)!)
                }
            case .values(let v):
                lossSum += Loss.meanSquaredError(outputs: ws.logits.pointer, targets: v, doutputs: nil) * Double(v.count)
                for i in 0..<v.count { predictedValues.append(Double(ws.logits.pointer[i])) }
            }
            start += batchSize
        }
        let loss = lossSum / Double(max(data.count, 1))
        switch data.targets {
        case .classes(let ids):
            var metrics = [("accuracy", Metrics.accuracy(predictions: predictedClasses, labels: ids))]
            if (predictedClasses + ids).allSatisfy({ $0 == 0 || $0 == 1 }) { metrics.append(("f1", Metrics.f1(predictions: predictedClasses, labels: ids))) }
            metrics.append(("mcc", Metrics.matthews(predictions: predictedClasses, labels: ids)))
            return (loss, metrics)
        case .values(let v):
            let targets = v.map(Double.init)
            return (loss, [("pearson", Metrics.pearson(predictedValues, targets)), ("spearman", Metrics.spearman(predictedValues, targets))])
        }
    }
}

extension AdapterTraining {
    /// The adapters with the trained head (classifier.* under transformers' names) and labels,
    /// ready for AdapterFile.write.
    public func trainedSet(id2label: [Int: String]) -> AdapterSet {
        var set = adapters
        if trainHead, let c = model.weights.classifier {
            let labels = c.outProjection.outFeatures
            set.head = AdapterSet.Head(
                tensors: [
                    ("classifier.dense.weight", [c.dense.outFeatures, c.dense.inFeatures], c.dense.weight),
                    ("classifier.dense.bias", [c.dense.outFeatures], c.dense.bias!),
                    ("classifier.out_proj.weight", [labels, c.outProjection.inFeatures], c.outProjection.weight),
                    ("classifier.out_proj.bias", [labels], c.outProjection.bias!),
                ], id2label: Dictionary(uniqueKeysWithValues: (0..<labels).map { ($0, id2label[$0] ?? "LABEL_\($0)") }))
        }
        return set
    }
}
