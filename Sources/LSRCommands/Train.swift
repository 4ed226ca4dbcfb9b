import ArgumentParser
import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTrain

/// `lsrconv train --model DIR --train FILE [--eval FILE] --out DIR [options]`: a first trainer
/// (issue 6 in progress): LSR or LoRA adapters and the head, AdamW or SGD, a linear schedule with
/// warm-up, evaluation after each epoch; writes the adapter (with the trained head) and
/// metrics.jsonl. Not yet: checkpoints/--resume, dropout, gradient accumulation and clipping,
/// best-checkpoint selection (the last state is written).
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train LSR (or LoRA) adapters and the classification head on a data file.",
        discussion: """
            The base model stays frozen. Data: JSON Lines, CSV or TSV with text (and pair) and label fields \
            (see predict). Labels are mapped through the model config's label2id (or integer ids). The output \
            directory holds the adapter (adapter_config.json + adapter_model.safetensors, the trained head \
            included) and metrics.jsonl (one line per epoch). Not built yet: checkpoints and --resume, \
            dropout, gradient accumulation and clipping; the last state is written, not the best.
            """)

    @Option(help: "Base model directory (a sequence classifier: its head is trained).") var model: String
    @Option(help: "Training data file.") var train: String
    @Option(help: "Evaluation data file (accuracy and loss after every epoch).") var eval: String?
    @Option(help: "Output adapter directory.") var out: String
    @Option(help: "Tokenizer directory (default: the model's).") var tokenizer: String?
    @Option(help: "lsr or lora.") var kind = "lsr"
    @Option(help: "Comma-separated modules to adapt in every layer.") var targets = "query,value"
    @Option(help: "r.") var rank = 4
    @Option(help: "s (LSR).") var separationRank = 16
    @Option(help: "auto, AxB, or AxB,CxD (out, in).") var factors = "auto"
    @Option(help: "r = r1×r2 (LSR).") var rankSplit: String?
    @Option(help: "α of ΔW = (α/r)·Up·Down.") var alpha: Double = 8
    @Option(help: "Peak learning rate.") var lr: Float = 5e-4
    @Option(help: "Decoupled weight decay.") var weightDecay: Float = 0.01
    @Option(help: "adamw or sgd.") var optimizer = "adamw"
    @Option(help: "Epochs.") var epochs = 3
    @Option(help: "Stop after this many updates.") var maxSteps: Int?
    @Option(help: "Examples per step.") var batchSize = 16
    @Option(help: "Fraction of the steps spent warming the learning rate up from 0.") var warmupRatio: Double = 0.06
    @Option(help: "Tokens per example after truncation.") var maxLength = 128
    @Option(help: "Seed of the adapter initialisation and the shuffling.") var seed: UInt64 = 0
    @Option(help: "Field holding the text.") var textField: String?
    @Option(help: "Field holding the second segment.") var pairField: String?
    @Option(help: "Field holding the label.") var labelField: String?
    @Option(help: "Data format when the extension does not say: \(DataFormat.names.joined(separator: ", ")).") var format: String?
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Keep the base model's head frozen.") var freezeHead = false
    @Flag(help: "Replace an existing output directory.") var force = false

    func validate() throws {
        guard maxLength >= 4 else { throw ValidationError("--max-length must be at least 4") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard lr > 0 else { throw ValidationError("--lr must be positive") }
        guard (0...1).contains(warmupRatio) else { throw ValidationError("--warmup-ratio must be within 0 and 1") }
    }

    func run() throws {
        if let threads { Engine.setThreads(threads) }
        let base = try reporting(path: model) { try RobertaModel.load(model) }
        guard let labels = base.weights.labelCount else {
            throw CommandFailure(message: "\(model): no sequence-classification head (classifier.*): train needs a classifier model")
        }
        let tokenizerDirectory = DataOptions.tokenizerDirectory(tokenizer, model: model)
        let tok = try reporting(path: tokenizerDirectory) { try Tokenizer.load(directory: tokenizerDirectory) }
        let dataFormat = try DataOptions.format(format)
        func encode(_ path: String) throws -> Trainer.Encoded {
            try DataOptions.labelled(
                path, format: dataFormat, fields: FieldSelection(text: textField, pair: pairField, label: labelField), tokenizer: tok, model: base,
                labels: labels, id2label: base.config.id2label, maxLength: maxLength)
        }
        let trainData = try encode(train)
        let evalData = try eval.map(encode)

        var initOptions = AdapterInit.Options()
        guard let adapterKind = AdapterKind(rawValue: kind) else { throw CommandFailure(message: "--kind '\(kind)' is not lsr or lora") }
        guard let optimizerKind = OptimizerKind(rawValue: optimizer) else { throw CommandFailure(message: "--optimizer '\(optimizer)' is not adamw or sgd") }
        initOptions.kind = adapterKind
        initOptions.targets = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        initOptions.rank = rank
        initOptions.separationRank = separationRank
        initOptions.alpha = alpha
        initOptions.seed = seed
        if let splits = try SplitOptions.factors(factors) { (initOptions.outSplit, initOptions.inSplit) = (splits.out, splits.in) }
        initOptions.rankSplit = try SplitOptions.rank(rankSplit)
        let weights = try AdapterMerge.digests(try Checkpoint.open(model).files)
        let adapters = try reporting(path: model) { try AdapterInit.make(config: base.config, weights: weights, options: initOptions) }

        var settings = Optimizer.Settings()
        settings.kind = optimizerKind
        settings.weightDecay = weightDecay
        let training = try reporting(path: model) { try AdapterTraining(model: base, adapters: adapters, trainHead: !freezeHead, settings: settings) }
        var options = Trainer.Options()
        (options.epochs, options.maxSteps, options.batchSize, options.learningRate) = (epochs, maxSteps, batchSize, lr)
        (options.warmupRatio, options.optimizer, options.maxLength, options.seed, options.trainHead) = (warmupRatio, settings, maxLength, seed, !freezeHead)

        let start = Date()
        let result = try reporting(path: train) {
            try Trainer.run(training, train: trainData, eval: evalData, options: options) { event in
                switch event {
                case .step(let step, let total, let epoch, let loss, let rate):
                    if step == 1 || step == total || step % 10 == 0 {
                        Output.progress(String(format: "step %d/%d  epoch %d  loss %.4f  lr %.2e", step, total, epoch, loss, rate))
                    }
                case .evaluated(let epoch, let step, let loss, let metrics):
                    Output.progress(String(format: "eval  epoch %d  step %d  loss %.4f", epoch, step, loss)
                        + metrics.map { String(format: "  %@ %.4f", $0.name, $0.value) }.joined())
                }
            }
        }
        let set = training.trainedSet(id2label: base.config.id2label)
        try reporting(path: out) { try AdapterFile.write(set, to: out, replace: force) }
        var metrics = ""
        for h in result.history {
            var line: JSONObject = ["epoch": JSONValue(h.epoch), "step": JSONValue(h.step), "train_loss": .double(h.trainLoss)]
            if let l = h.evalLoss { line["eval_loss"] = .double(l) }
            for (name, value) in h.evalMetrics { line["eval_" + name] = .double(value) }
            metrics += JSON.serialize(.object(line)) + "\n"
        }
        try reporting(path: out) { try DurableFile.write(Array(metrics.utf8), to: FileSystem.join(out, "metrics.jsonl")) }
        let last = result.history.last
        Output.line("trained:    \(result.steps) steps in \(String(format: "%.1f", Date().timeIntervalSince(start))) s, final loss \(String(format: "%.4f", result.finalLoss))")
        if let last, let loss = last.evalLoss {
            Output.line("eval:       loss \(String(format: "%.4f", loss))" + last.evalMetrics.map { ", \($0.name) \(String(format: "%.4f", $0.value))" }.joined())
        }
        Output.line("adapter:    \(out)/ (\(set.modules.count) modules, \(Output.grouped(set.parameterCount)) parameters" + (set.head != nil ? ", trained head)" : ")"))
    }
}
