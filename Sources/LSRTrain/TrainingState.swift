import LSREngine
import LSRFormats

/// Where a training run stands: everything besides the tensors (adapter values, Adam's moments,
/// the best values so far) that a checkpoint needs for `--resume` to continue exactly as an
/// uninterrupted run would. The data order of epoch e is a function of (seed, e) and dropout
/// masks of (seed, micro-batch index), so positions are all the generator state there is.
public struct TrainingState: Sendable {
    /// Updates done (optimizer steps).
    public var step = 0
    /// Epochs completed; the current epoch is `epoch + 1`.
    public var epoch = 0
    /// Micro-batches of the current epoch already consumed.
    public var batchInEpoch = 0
    /// Micro-batches consumed over the whole run (the dropout stream).
    public var microBatches = 0
    /// Training losses since the last log line: their sum and count.
    public var lossSum = 0.0
    public var lossCount = 0
    /// The log lines written so far (metrics.jsonl).
    public var log: [LogEntry] = []
    /// The best evaluation so far: its step and the value of the selection metric.
    public var best: (step: Int, value: Double)?
    /// Seconds of training before this process (for the summary's time).
    public var elapsed = 0.0

    public init() {}
}

/// One line of metrics.jsonl (schemas/training-metrics-line.schema.json): the mean training loss
/// since the previous line, the learning rate of the last update, and the evaluation if one ran.
public struct LogEntry: Sendable, Equatable {
    public var step: Int
    /// Epochs done, fractional (2.5: half way through the third).
    public var epoch: Double
    public var trainLoss: Double?
    public var learningRate: Double
    public var evalLoss: Double?
    public var evalMetrics: [Metric] = []

    public init(step: Int, epoch: Double, trainLoss: Double?, learningRate: Double, evalLoss: Double? = nil, evalMetrics: [Metric] = []) {
        self.step = step
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.learningRate = learningRate
        self.evalLoss = evalLoss
        self.evalMetrics = evalMetrics
    }

    public var json: JSONValue {
        var line: JSONObject = ["step": JSONValue(step), "epoch": .double(epoch), "learning_rate": .double(learningRate)]
        if let trainLoss { line["train_loss"] = .double(trainLoss) }
        if let evalLoss { line["eval_loss"] = .double(evalLoss) }
        for m in evalMetrics { line["eval_" + m.name] = .double(m.value) }
        return .object(line)
    }

    /// The entry a `json` value describes (nil: not one).
    public init?(json: JSONValue) {
        guard case .object(let o) = json, let step = o["step"]?.intValue, let epoch = o["epoch"]?.doubleValue,
            let rate = o["learning_rate"]?.doubleValue
        else { return nil }
        self.init(step: step, epoch: epoch, trainLoss: o["train_loss"]?.doubleValue, learningRate: rate, evalLoss: o["eval_loss"]?.doubleValue)
        for name in Metric.names {
            if let v = o["eval_" + name]?.doubleValue { evalMetrics.append(Metric(name: name, value: v)) }
        }
    }
}

/// A named evaluation metric (accuracy, f1, mcc, pearson, spearman).
public struct Metric: Sendable, Equatable {
    public var name: String
    public var value: Double
    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
    /// Every metric `Trainer.evaluate` reports, in its order.
    public static let names = ["accuracy", "f1", "mcc", "pearson", "spearman"]
}
