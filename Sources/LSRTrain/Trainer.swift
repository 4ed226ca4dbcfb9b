import LSRAdapters
import LSRDistributed
import LSREngine
import LSRModel
import LSRTokenizers

/// The training loop over a dataset: tokenised once, shuffled per epoch (a function of the seed
/// and the epoch, so a resumed run sees the same order), batched with dynamic padding, gradients
/// accumulated over `gradientAccumulation` micro-batches, clipped by global norm, stepped on a
/// schedule; evaluated and checkpointed at the end of each epoch or every N updates. The model
/// stays frozen; adapters and (by default) the head learn. The best evaluation's values are
/// kept and put back at the end (`keepBest`).
///
/// Data parallelism (`communicator` of N ranks, issue 8): `batchSize` is the global micro-batch.
/// Every rank walks the same order; rank r takes its share of each micro-batch's rows
/// (`Communicator.share`), padded to the whole micro-batch's length, with its rows' fraction
/// n_r/B as loss scale and its first row as the dropout offset, so that the sum over ranks of
/// the gradients (one all-reduce of the flat gradient buffer per update) is the gradient one
/// process computes for the micro-batch: the same update, to rounding, for any N. Evaluation is
/// shared the same way (each rank its slice of the eval set; predictions and loss summed), so
/// no rank idles while another evaluates. Only rank 0 reports and checkpoints;
/// the ranks meet at a barrier after each checkpoint, and agree on a stop request (any rank's)
/// through the update's all-reduce.
public enum Trainer {
    public struct Options: Sendable {
        public var epochs = 3
        /// Stop after this many updates (nil: epochs decide).
        public var maxSteps: Int?
        /// Examples per micro-batch (all ranks together).
        public var batchSize = 16
        /// Micro-batches per update (their gradients averaged).
        public var gradientAccumulation = 1
        public var learningRate: Float = 5e-4
        public var schedule = ScheduleKind.linear
        public var warmupRatio: Double = 0.06
        /// Overrides `warmupRatio` when set.
        public var warmupSteps: Int?
        /// Clip the global gradient norm to this (0: off), as torch.nn.utils.clip_grad_norm_.
        public var maxGradNorm: Double = 1.0
        public var optimizer = Optimizer.Settings()
        public var maxLength = 128
        public var seed: UInt64 = 0
        public var trainHead = true
        /// Evaluate every N updates (nil: at the end of every epoch). Always at the end too.
        public var evalEvery: Int?
        /// Checkpoint every N updates (nil: whenever it evaluates, or each epoch without eval data).
        public var saveEvery: Int?
        /// Put back the values of the best evaluation at the end (else the last values stay).
        public var keepBest = true
        /// Training-mode dropout (nil: off); masks are drawn per micro-batch from (its seed, the
        /// micro-batch's index in the run), so a resumed run draws the same ones.
        public var dropout: DropoutSettings?
        public init() {}
    }

    /// The shape of a run: micro-batches per epoch, updates in all, and the schedule.
    public struct Plan: Sendable, Equatable {
        public var microBatchesPerEpoch: Int
        public var updatesPerEpoch: Int
        public var totalSteps: Int
        public var schedule: LearningRateSchedule

        public init(examples: Int, options: Options) {
            microBatchesPerEpoch = (examples + options.batchSize - 1) / options.batchSize
            // An epoch's last, partial group of micro-batches still makes an update (as transformers' Trainer).
            updatesPerEpoch = (microBatchesPerEpoch + options.gradientAccumulation - 1) / options.gradientAccumulation
            totalSteps = options.maxSteps ?? updatesPerEpoch * options.epochs
            let warmup = options.warmupSteps ?? LearningRateSchedule.warmupSteps(ratio: options.warmupRatio, totalSteps: totalSteps)
            schedule = LearningRateSchedule(kind: options.schedule, peak: options.learningRate, warmupSteps: warmup, totalSteps: totalSteps)
        }
    }

    /// Progress, for the command layer to show.
    public enum Event: Sendable {
        case step(step: Int, total: Int, epoch: Int, loss: Double, lr: Float, examples: Int)
        case evaluated(LogEntry, best: Bool)
        case saved(step: Int)
    }

    /// How a run ended.
    public enum Outcome: Sendable, Equatable {
        case finished
        /// `shouldStop` asked for a stop; the state was checkpointed at `step`.
        case interrupted(step: Int)
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

        /// The rows `indices`, padded to the longest of them or to `length` if longer.
        func batch(_ indices: ArraySlice<Int>, padId: Int32, length: Int = 0) -> (TokenBatch, RobertaModel.Targets) {
            let padded = Tokenizer.pad(indices.map { rows[$0] }, padId: padId, length: length)
            let batch = TokenBatch(ids: padded.ids, mask: padded.attentionMask, batch: padded.batch, length: padded.length)
            switch targets {
            case .classes(let ids): return (batch, .classes(indices.map { ids[$0] }))
            case .values(let v): return (batch, .values(indices.map { v[$0] }))
            }
        }
    }

    /// What the caller supplies besides the data: progress events, the checkpoint writer, and
    /// the stop request (Ctrl-C), polled after every update.
    public struct Hooks {
        public var events: (Event) -> Void = { _ in }
        public var checkpoint: ((TrainingSession) throws -> Void)?
        public var shouldStop: () -> Bool = { false }
        public init(events: @escaping (Event) -> Void = { _ in }, checkpoint: ((TrainingSession) throws -> Void)? = nil, shouldStop: @escaping () -> Bool = { false }) {
            self.events = events
            self.checkpoint = checkpoint
            self.shouldStop = shouldStop
        }
    }

    /// Checks the options against the data before any work.
    public static func check(_ options: Options, examples: Int) throws(Error) {
        guard examples > 0 else { throw .badOption("the training data has no examples") }
        try check(options)
    }

    /// The options alone (the command line checks them before reading anything).
    public static func check(_ options: Options) throws(Error) {
        guard options.batchSize >= 1 else { throw .badOption("--batch-size must be at least 1") }
        guard options.gradientAccumulation >= 1 else { throw .badOption("--grad-accum must be at least 1") }
        guard options.epochs >= 1 || options.maxSteps != nil else { throw .badOption("--epochs must be at least 1") }
        if let m = options.maxSteps, m < 1 { throw .badOption("--max-steps must be at least 1") }
        if let e = options.evalEvery, e < 1 { throw .badOption("--eval-every must be at least 1") }
        if let e = options.saveEvery, e < 1 { throw .badOption("--save-every must be at least 1") }
        if let w = options.warmupSteps, w < 0 { throw .badOption("--warmup-steps must not be negative") }
        guard options.maxGradNorm >= 0, options.maxGradNorm.isFinite else { throw .badOption("--max-grad-norm must be 0 (off) or positive") }
        guard options.learningRate > 0, options.learningRate.isFinite else { throw .badOption("--lr must be positive") }
    }

    /// The example order of epoch `epoch` (0-based): a Fisher–Yates shuffle driven by a generator
    /// seeded from (seed, epoch).
    public static func order(examples: Int, seed: UInt64, epoch: Int) -> [Int] {
        var generator = SplitMix64(seed: seed ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1)))
        var order = Array(0..<examples)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
        return order
    }

    /// Trains `session`'s adapters on `train` from where its state stands (0 for a fresh run, the
    /// checkpoint's position for a resumed one) to the plan's last update.
    /// With a `communicator` of several ranks, each calls this with the same arguments (see the
    /// type's comment); `hooks.events` and `hooks.checkpoint` then matter on rank 0 alone.
    public static func run(
        _ session: TrainingSession, train: Encoded, eval: Encoded?, options: Options, hooks: Hooks = Hooks(),
        communicator: any Communicator = SingleProcess()
    ) throws -> Outcome {
        try check(options, examples: train.count)
        let training = session.training
        let padId = Int32(training.model.config.padTokenId)
        let plan = Plan(examples: train.count, options: options)
        let accumulation = options.gradientAccumulation
        var state: TrainingState {
            get { session.state }
            _modify { yield &session.state }
        }
        var rate = plan.schedule.rate(at: max(0, state.step - 1))

        func logLine(evaluate: Bool) throws {
            let progress = Double(state.epoch) + Double(state.batchInEpoch) / Double(plan.microBatchesPerEpoch)
            var entry = LogEntry(
                step: state.step, epoch: progress, trainLoss: state.lossCount > 0 ? state.lossSum / Double(state.lossCount) : nil,
                learningRate: Double(rate))
            var isBest = false
            if evaluate, let eval {
                let (loss, metrics) = try Self.evaluate(training.model, eval, batchSize: options.batchSize, communicator: communicator)
                (entry.evalLoss, entry.evalMetrics) = (loss, metrics)
                // The selection metric is the first one (accuracy, or Pearson for regression); ties keep the earlier.
                if let value = metrics.first?.value, value.isFinite, state.best.map({ value > $0.value }) ?? true {
                    state.best = (state.step, value)
                    session.rememberBest()
                    isBest = true
                }
            }
            (state.lossSum, state.lossCount) = (0, 0)
            state.log.append(entry)
            hooks.events(.evaluated(entry, best: isBest))
        }

        var order = state.step < plan.totalSteps ? Self.order(examples: train.count, seed: options.seed, epoch: state.epoch) : []
        while state.step < plan.totalSteps {
            // One update: up to `accumulation` micro-batches of the current epoch.
            var lossSum = 0.0
            var micro = 0
            var examples = 0
            while micro < accumulation && state.batchInEpoch < plan.microBatchesPerEpoch {
                let start = state.batchInEpoch * options.batchSize
                let rows = order[start..<min(start + options.batchSize, train.count)]
                // This rank's share (all of it in one process), padded to the micro-batch's length.
                let share = communicator.share(of: rows.count)
                let mine = rows[(rows.startIndex + share.lowerBound)..<(rows.startIndex + share.upperBound)]
                if mine.isEmpty {
                    if micro == 0 { training.zeroGradients() }
                } else {
                    let length = rows.lazy.map { train.rows[$0].ids.count }.max()!
                    let (batch, targets) = train.batch(mine, padId: padId, length: length)
                    let fraction = Double(mine.count) / Double(rows.count)
                    lossSum += try fraction * training.computeGradients(
                        batch, targets: targets, accumulate: micro > 0, dropout: options.dropout, stream: UInt64(state.microBatches),
                        firstRow: share.lowerBound, lossScale: Float(fraction))
                }
                micro += 1
                examples += rows.count
                state.batchInEpoch += 1
                state.microBatches += 1
            }
            // The ranks' sums: gradients in one message, then the loss and any rank's stop request
            // (so that all stop after the same update). No-ops in one process.
            try communicator.allReduceSum(training.gradientBuffers)
            var scalars = [lossSum, hooks.shouldStop() ? 1 : 0]
            try communicator.allReduceSum(&scalars)
            lossSum = scalars[0]
            let stopRequested = scalars[1] > 0
            // The mean over micro-batches (each already a mean over its examples), then clipping
            // on the gradient the update will use.
            let mean = 1 / Double(micro)
            // (The norm is a pass over every gradient: only taken when clipping is on.)
            let clip = options.maxGradNorm > 0 ? Optimizer.clipFactor(norm: training.optimizer.gradientNorm * mean, maxNorm: options.maxGradNorm) : 1
            rate = plan.schedule.rate(at: state.step)
            training.update(lr: rate, gradientScale: Float(mean * clip))
            state.step += 1
            let loss = lossSum * mean
            state.lossSum += loss
            state.lossCount += 1
            hooks.events(.step(step: state.step, total: plan.totalSteps, epoch: state.epoch + 1, loss: loss, lr: rate, examples: examples))

            let epochEnded = state.batchInEpoch == plan.microBatchesPerEpoch
            if epochEnded {
                state.epoch += 1
                state.batchInEpoch = 0
                order = Self.order(examples: train.count, seed: options.seed, epoch: state.epoch)
            }
            let last = state.step == plan.totalSteps
            let evaluateNow = last || (options.evalEvery.map { state.step % $0 == 0 } ?? epochEnded)
            if evaluateNow { try logLine(evaluate: true) }
            let saveNow = options.saveEvery.map { state.step % $0 == 0 } ?? evaluateNow
            let stop = !last && stopRequested
            if saveNow || stop {
                if communicator.isLeader, let checkpoint = hooks.checkpoint {
                    try checkpoint(session)
                    hooks.events(.saved(step: state.step))
                }
                // No rank runs ahead of a checkpoint being written.
                try communicator.barrier()
            }
            if stop { return .interrupted(step: state.step) }
        }
        if options.keepBest, eval != nil { session.restoreBest() }
        return .finished
    }
    /// Mean loss and the GLUE metrics of `model` on `data`, in eval mode: accuracy (and, for two
    /// classes, F1 and Matthews correlation; MCC also for more) or Pearson and Spearman for a
    /// regression head. Metrics in a fixed order, named as metrics.jsonl and `eval --json` name them.
    /// With a `communicator` of several ranks (a data-parallel run), each rank evaluates its
    /// share of the rows and one all-reduce gathers the predictions and the loss: every rank
    /// returns the whole set's figures.
    public static func evaluate(
        _ model: RobertaModel, _ data: Encoded, batchSize: Int, communicator: any Communicator = SingleProcess()
    ) throws -> (loss: Double, metrics: [Metric]) {
        let padId = Int32(model.config.padTokenId)
        var workspace: RobertaWorkspace?
        var lossSum = 0.0
        var predictedClasses: [Int] = []
        var predictedValues: [Double] = []
        let indices = Array(communicator.share(of: data.count))
        var start = 0
        while start < indices.count {
            let slice = indices[start..<min(start + batchSize, indices.count)]
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
        if communicator.size > 1 {
            // The loss sum, then every row's prediction at its index (0 where another rank has it).
            var gathered = [Double](repeating: 0, count: 1 + data.count)
            gathered[0] = lossSum
            for (k, row) in indices.enumerated() {
                gathered[1 + row] = predictedClasses.isEmpty ? predictedValues[k] : Double(predictedClasses[k])
            }
            try communicator.allReduceSum(&gathered)
            lossSum = gathered[0]
            if case .classes = data.targets {
                predictedClasses = gathered[1...].map { Int($0) }
            } else {
                predictedValues = Array(gathered[1...])
            }
        }
        let loss = lossSum / Double(max(data.count, 1))
        switch data.targets {
        case .classes(let ids):
            var metrics = [Metric(name: "accuracy", value: Metrics.accuracy(predictions: predictedClasses, labels: ids))]
            if (predictedClasses + ids).allSatisfy({ $0 == 0 || $0 == 1 }) {
                metrics.append(Metric(name: "f1", value: Metrics.f1(predictions: predictedClasses, labels: ids)))
            }
            metrics.append(Metric(name: "mcc", value: Metrics.matthews(predictions: predictedClasses, labels: ids)))
            return (loss, metrics)
        case .values(let v):
            let targets = v.map(Double.init)
            return (loss, [Metric(name: "pearson", value: Metrics.pearson(predictedValues, targets)), Metric(name: "spearman", value: Metrics.spearman(predictedValues, targets))])
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
