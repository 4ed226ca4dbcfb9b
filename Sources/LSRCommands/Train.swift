#if canImport(Glibc)
    import Glibc
#endif
import ArgumentParser
import Foundation
import LSRAdapters
import LSRDistributed
import LSREngine
import LSRFormats
import LSRModel
import LSRTokenizers
import LSRTrain

/// `lsrconv train --model DIR --train FILE [--eval FILE] --out DIR [options]`: LSR or LoRA
/// adapters and the head on a frozen RoBERTa classifier. Every check on the inputs runs before
/// the first step; the output directory is made only then. Ctrl-C finishes the step, writes a
/// checkpoint and exits with 130; `--resume` continues from it exactly.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train LSR (or LoRA) adapters and the classification head on a data file.",
        discussion: """
            The base model stays frozen. Data: JSON Lines, CSV or TSV with text (and pair) and label fields \
            (see predict). Labels are mapped through the model config's label2id (or integer ids); a one-label \
            head is a regression head (mean squared error). The output directory holds the adapter \
            (adapter_config.json + adapter_model.safetensors, the trained head included) of the best evaluation \
            (--keep last: the last step), trainer_state.json, metrics.jsonl (one line per evaluation), curve.svg, \
            and checkpoints/step-N (adapter, optimizer moments, position) that --resume continues from exactly. \
            Ctrl-C writes a checkpoint and stops.

            Data-parallel on several processes or machines: `mpirun -np N lsrconv train ...` (Open MPI; README \
            "Training on several machines"). Each rank reads the inputs and takes its share of every global \
            micro-batch (--batch-size per rank, or --global-batch-size in all); rank 0 alone writes. A run resumes \
            with any N that gives the same global batch. `kill -USR1` on mpirun checkpoints and stops every rank.
            """)

    @Option(help: "Base model directory: a sequence classifier (its head is trained) or a pretrained checkpoint (a new head is).")
    var model: String
    @Option(help: "Training data file.") var train: String
    @Option(help: "Evaluation data file (loss and metrics at every evaluation; picks the best state).") var eval: String?
    @Option(help: "Output directory.") var out: String
    @Option(help: "Tokenizer directory (default: the model's).") var tokenizer: String?
    @Option(help: "lsr or lora.") var kind = "lsr"
    @Option(help: "Comma-separated modules to adapt in every layer.") var targets = "query,value"
    @Option(help: "r.") var rank = 4
    @Option(help: "s (LSR; default: 16).") var separationRank: Int?
    @Option(help: "auto, AxB, or AxB,CxD (out, in).") var factors = "auto"
    @Option(help: "r = r1×r2 (LSR).") var rankSplit: String?
    @Option(help: "α of ΔW = (α/r)·Up·Down.") var alpha: Double = 8
    @Flag(help: "Train the λ scales of the Kronecker terms too (LSR).") var trainScales = false
    @Option(help: "Start from this adapter directory instead of a fresh one (its settings replace --kind … --alpha).")
    var initFrom: String?
    @Option(help: "classification or regression (default: from the model's head: one label is regression).") var task: String?
    @Option(help: "Label names in id order, for a model without a head (default: the training file's sorted labels); with a head, its own.")
    var labels: String?
    @Option(help: "Labels of a new head (1: regression; default: from the training file).") var numLabels: Int?
    @Option(help: "Peak learning rate.") var lr: Float = 5e-4
    @Option(help: "linear (warm-up, then decay to 0) or constant (warm-up, then the peak).") var lrSchedule = "linear"
    @Option(help: "Fraction of the updates spent warming the learning rate up from 0.") var warmupRatio: Double = 0.06
    @Option(help: "Warm-up updates (overrides --warmup-ratio).") var warmupSteps: Int?
    @Option(help: "Decoupled weight decay.") var weightDecay: Float = 0.01
    @Option(help: "adamw or sgd.") var optimizer = "adamw"
    @Option(help: "Clip the global gradient norm to this; 0: off.") var maxGradNorm: Double = 1.0
    @Option(help: "Dropout probability for the hidden, attention and classifier sites (default: the model config's; 0: off).")
    var dropout: Float?
    @Option(help: "Epochs.") var epochs = 3
    @Option(help: "Stop after this many updates.") var maxSteps: Int?
    @Option(help: "Examples per micro-batch (per rank under mpirun).") var batchSize = 16
    @Option(help: "Examples per micro-batch over all ranks (default: --batch-size × ranks).") var globalBatchSize: Int?
    @Option(help: "Micro-batches per update (gradients averaged).") var gradAccum = 1
    @Option(help: "Tokens per example after truncation.") var maxLength = 128
    @Option(help: "Seed of the adapter initialisation and the shuffling.") var seed: UInt64 = 0
    @Option(help: "Evaluate every N updates (default: every epoch).") var evalEvery: Int?
    @Option(help: "Checkpoint every N updates (default: at every evaluation).") var saveEvery: Int?
    @Option(help: "Checkpoints kept (the newest).") var keepCheckpoints = 2
    @Option(help: "best (the best evaluation's state) or last.") var keep = "best"
    @Option(help: "Continue from a checkpoint: a checkpoints/step-N directory, or an output directory (its newest).")
    var resume: String?
    @OptionGroup var dataOptions: LabelledDataOptions
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Keep the base model's head frozen.") var freezeHead = false
    @Flag(help: "Replace an existing output directory.") var force = false

    func validate() throws {
        guard maxLength >= 4 else { throw ValidationError("--max-length must be at least 4") }
        // --epochs is checked even beside --max-steps (the library accepts 0 epochs then).
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard (0...1).contains(warmupRatio) else { throw ValidationError("--warmup-ratio must be within 0 and 1") }
        if let dropout { guard (0..<1).contains(dropout) else { throw ValidationError("--dropout must be within 0 and 1 (1 excluded)") } }
        if let globalBatchSize, globalBatchSize < 1 { throw ValidationError("--global-batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard keepCheckpoints >= 1 else { throw ValidationError("--keep-checkpoints must be at least 1") }
        guard ["best", "last"].contains(keep) else { throw ValidationError("--keep must be best or last") }
        if let task, !["classification", "regression"].contains(task) { throw ValidationError("--task must be classification or regression") }
        if let numLabels, numLabels < 1 { throw ValidationError("--num-labels must be at least 1") }
        if let labels, labels.split(separator: ",").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--labels needs at least one name")
        }
        guard let schedule = ScheduleKind(rawValue: lrSchedule) else { throw ValidationError("--lr-schedule must be linear or constant") }
        guard let optimizerKind = OptimizerKind(rawValue: optimizer) else { throw ValidationError("--optimizer must be adamw or sgd") }
        guard let adapterKind = AdapterKind(rawValue: kind) else { throw ValidationError("--kind must be lsr or lora") }
        if adapterKind == .lora, separationRank != nil { throw ValidationError(InitAdapter.separationRankWithLoRA) }
        // Batch sizes, steps, rate, warm-up steps and clipping: the trainer's own checks, before any file is read.
        do { try Trainer.check(trainerOptions(schedule: schedule, optimizer: optimizerKind)) } catch { throw ValidationError(error.description) }
    }

    /// The trainer's options from the command line (dropout comes from the model config in run()).
    func trainerOptions(schedule: ScheduleKind, optimizer kind: OptimizerKind) -> Trainer.Options {
        var settings = Optimizer.Settings()
        (settings.kind, settings.weightDecay) = (kind, weightDecay)
        var options = Trainer.Options()
        (options.epochs, options.maxSteps, options.batchSize, options.gradientAccumulation) = (epochs, maxSteps, batchSize, gradAccum)
        (options.learningRate, options.schedule, options.warmupRatio, options.warmupSteps) = (lr, schedule, warmupRatio, warmupSteps)
        (options.maxGradNorm, options.optimizer, options.maxLength, options.seed) = (maxGradNorm, settings, maxLength, seed)
        (options.trainHead, options.evalEvery, options.saveEvery, options.keepBest) = (!freezeHead, evalEvery, saveEvery, keep == "best")
        return options
    }

    /// Starts the communicator (MPI's under mpirun, else one process), trains, and ends it: a
    /// failure on any rank aborts the whole job (mpirun then stops the others) after saying why.
    func run() throws {
        let communicator = try reporting { try Launch.communicator() }
        do {
            try run(communicator)
            communicator.finish()
        } catch let code as ExitCode {
            communicator.finish()  // every rank agreed to stop (interrupted: 130)
            throw code
        } catch {
            if communicator.size > 1 {
                if case .otherRankFailed? = error as? DistributedError {
                    // The rank that failed says why and aborts the job, which ends this rank too.
                    // Aborting first could kill it before its message is out (seen: the test of
                    // mismatched ranks saw only "1 other rank stopped"); speak only if it never comes.
                    sleep(10)
                }
                let message = (error as? CommandFailure)?.message ?? "\(error)"
                Output.error("rank \(communicator.rank) of \(communicator.size): \(message)")
                communicator.abortJob(code: (error as? CommandFailure)?.exitCode ?? 1)
            }
            throw error
        }
    }

    func run(_ communicator: any Communicator) throws {
        let leader = communicator.isLeader
        try refuseOverlap(output: out, inputs: [model, train, eval, tokenizer, initFrom])
        if let threads {
            Engine.setThreads(threads)
        } else if Launch.localSize > 1 {
            Engine.setThreads(max(1, ProcessInfo.processInfo.activeProcessorCount / Launch.localSize))  // the ranks on this machine share its cores
        }
        let dataFormat = try DataOptions.format(dataOptions.format)
        let fields = dataOptions.fields
        let (base, freshLabels) = try baseModel(format: dataFormat, fields: fields, leader: leader)
        let labels = base.weights.labelCount!  // baseModel gives a classifier, its own or a fresh one
        if let task {
            if task == "regression" && labels != 1 {
                throw CommandFailure(message: "\(model): --task regression needs a one-label head; this one has \(labels) labels")
            }
            if task == "classification" && labels == 1 {
                throw CommandFailure(message: "\(model): --task classification needs a head with 2 or more labels; this one has 1 (a regression head)")
            }
        }
        let tokenizerDirectory = DataOptions.tokenizerDirectory(tokenizer, model: model)
        let tok = try reporting(path: tokenizerDirectory) { try Tokenizer.load(directory: tokenizerDirectory) }
        func encode(_ path: String) throws -> Trainer.Encoded {
            let data = try DataOptions.labelled(
                path, format: dataFormat, fields: fields, tokenizer: tok, model: base, labels: labels, id2label: base.config.id2label, maxLength: maxLength)
            guard !data.rows.isEmpty else { throw CommandFailure(message: "\(path): no examples") }
            return data
        }
        let trainData = try encode(train)
        let evalData = try eval.map(encode)

        let weights = try AdapterMerge.digests(try Checkpoint.open(model).files)
        var adapters: AdapterSet
        var initDescription: JSONObject
        if let initFrom {
            adapters = try reporting(path: initFrom) { try AdapterFile.read(initFrom) }
            try reporting(path: initFrom) { try adapters.apply(to: base) }  // checks the base; its head, if any, becomes the start
            initDescription = ["from": .string(try AdapterMerge.digest(FileSystem.join(initFrom, AdapterFile.weightsName)))]
        } else {
            var initOptions = AdapterInit.Options()
            initOptions.kind = AdapterKind(rawValue: kind)!
            initOptions.targets = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            (initOptions.rank, initOptions.alpha, initOptions.seed) = (rank, alpha, seed)
            initOptions.separationRank = separationRank ?? initOptions.separationRank
            if let splits = try SplitOptions.factors(factors) { (initOptions.outSplit, initOptions.inSplit) = (splits.out, splits.in) }
            initOptions.rankSplit = try SplitOptions.rank(rankSplit)
            adapters = try reporting(path: model) { try AdapterInit.make(config: base.config, weights: weights, options: initOptions) }
            if trainScales { adapters.hyperparameters.trainableScales = true }
            initDescription = ["seed": .string(String(seed))]
        }

        var options = trainerOptions(schedule: ScheduleKind(rawValue: lrSchedule)!, optimizer: OptimizerKind(rawValue: optimizer)!)  // validate() checked both
        let settings = options.optimizer
        options.batchSize = globalBatchSize ?? batchSize * communicator.size
        let dropoutSettings = DropoutSettings(config: base.config, seed: seed, overridingAll: dropout)
        options.dropout = dropoutSettings.isOff ? nil : dropoutSettings
        try reporting(path: train) { try Trainer.check(options, examples: trainData.rows.count) }
        let plan = Trainer.Plan(examples: trainData.rows.count, options: options)

        let training = try reporting(path: model) { try AdapterTraining(model: base, adapters: adapters, trainHead: !freezeHead, settings: settings) }
        let session = TrainingSession(training: training)
        var runSettings = try self.settings(
            weights: weights, adapters: adapters, initDescription: initDescription, plan: plan, options: options, labels: labels)
        if let freshLabels {
            // A new head: its labels decide the trajectory too (recorded only then, so that
            // checkpoints of runs on a model with a head resume as before).
            runSettings["fresh_head_labels"] = .array((0..<freshLabels.count).map { .string(freshLabels[$0]!) })
        }

        // Every rank must train on the same inputs and settings (rank 0's, which include the seed).
        // Not through `reporting`: run() must see `otherRankFailed` as itself (its text is the same).
        try DataParallel.checkSame(runSettings, communicator: communicator)

        // Resume: the checkpoint must come from this run's settings; its tensors replace the fresh ones.
        // Rank 0 reads it; `synchronize` then gives every rank rank 0's starting state.
        if let resume, leader {
            let directory = try reporting(path: resume) { try TrainingCheckpoint.locate(resume) }
            let stored = try reporting(path: directory) { try TrainingCheckpoint.read(directory) }
            try reporting(path: directory) { try TrainingCheckpoint.check(stored, settings: runSettings) }
            try reporting(path: directory) { try TrainingCheckpoint.restore(stored, into: session) }
        }
        try reporting { try session.synchronize(communicator) }
        // With --force an existing output is moved aside, removed once this run has written its
        // own (or its Ctrl-C checkpoint), and put back if the run fails: never lost to a failed run.
        let aside = leader ? try prepareOutput() : nil
        // Once every input is checked, so that a run that fails says only why.
        if leader && initFrom == nil { SplitOptions.warnIfLargerThanLoRA(adapters) }
        var keepNewOutput = false
        defer {
            if let aside {
                if keepNewOutput {
                    FileSystem.removeTree(aside)
                } else {
                    FileSystem.removeTree(out)
                    rename(aside, out)
                }
            }
        }

        let id2label = adapters.head?.id2label ?? base.config.id2label
        let interrupts = InterruptFlag.install()
        let progress = TrainingProgress(total: plan.totalSteps, epochs: maxSteps == nil ? epochs : nil, alreadyDone: session.state.step)
        let started = Date()
        let elapsedBefore = session.state.elapsed
        func writeLogs() throws {
            let lines = session.state.log.map { JSON.serialize($0.json) + "\n" }.joined()
            try DurableFile.write(Array(lines.utf8), to: FileSystem.join(out, "metrics.jsonl"))
            try DurableFile.write(Array(TrainingCurve.svg(session.state.log, title: "lsrconv train: \(FileSystem.baseName(train))").utf8),
                to: FileSystem.join(out, "curve.svg"))
        }
        var hooks = Trainer.Hooks()
        hooks.events = { event in
            guard leader else { return }
            progress.show(event)
            if case .evaluated = event { try? writeLogs() }
        }
        hooks.checkpoint = { session in
            session.state.elapsed = elapsedBefore + Date().timeIntervalSince(started)
            let path = TrainingCheckpoint.path(output: out, step: session.state.step)
            try TrainingCheckpoint.write(session, adapter: session.training.trainedSet(id2label: id2label), settings: runSettings, to: path)
            TrainingCheckpoint.prune(output: out, keep: keepCheckpoints)
        }
        hooks.shouldStop = { interrupts.isSet }
        let outcome = try reporting(path: out) {
            try Trainer.run(session, train: trainData, eval: evalData, options: options, hooks: hooks, communicator: communicator)
        }
        guard leader else {
            if case .interrupted = outcome { throw ExitCode(130) }
            return
        }
        progress.finish()
        session.state.elapsed = elapsedBefore + Date().timeIntervalSince(started)

        if case .interrupted(let step) = outcome {
            try reporting(path: out) { try writeLogs() }
            Output.progress("interrupted after step \(step): checkpoint \(TrainingCheckpoint.path(output: out, step: step)); continue with --resume \(out)")
            keepNewOutput = true
            throw ExitCode(130)
        }
        let set = training.trainedSet(id2label: id2label)
        try reporting(path: out) {
            try AdapterFile.writeFiles(set, into: out)
            try DurableFile.write(JSON.data(TrainingCheckpoint.stateJSON(session.state, settings: runSettings), style: .pretty),
                to: FileSystem.join(out, TrainingCheckpoint.stateName))
            try writeLogs()
        }
        keepNewOutput = true
        summary(session.state, set: set, kept: options.keepBest && evalData != nil ? "best" : "last")
    }

    /// The model to train: the checkpoint's own classifier, or, for a checkpoint without one (a
    /// pretrained masked-LM or bare encoder), a fresh head as transformers'
    /// AutoModelForSequenceClassification makes (`RobertaModel.withFreshHead`) for the labels of
    /// --labels / --num-labels or of the training file (`HeadLabels`). The second value is the
    /// fresh head's labels (nil: the model's own head).
    func baseModel(format: DataFormat?, fields: FieldSelection, leader: Bool) throws -> (RobertaModel, [Int: String]?) {
        let loaded = try reporting(path: model) { try RobertaModel.load(model) }
        let names = labels.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        if let count = loaded.weights.labelCount {
            // A head of its own: --labels and --num-labels may only restate it.
            if let numLabels, numLabels != count {
                throw CommandFailure(message: "--num-labels \(numLabels) contradicts \(model), whose head has \(count) labels")
            }
            if let names {
                let own = (0..<count).map { loaded.config.id2label[$0] ?? "LABEL_\($0)" }
                if names != own {
                    throw CommandFailure(
                        message: "--labels \(names.joined(separator: ",")) contradicts \(model)'s id2label (\(own.joined(separator: ", "))); "
                            + "its head keeps its labels")
                }
            }
            return (loaded, nil)
        }
        if freezeHead { throw CommandFailure(message: "--freeze-head: \(model) has no classification head to keep (a new one is trained without it)") }
        let data = try reporting(path: train) { try DataSource.load(path: train, format: format, fields: fields, labels: .required) }
        let plan = try reporting { try HeadLabels.plan(data: data, names: names, numLabels: numLabels) }
        if leader {
            for warning in plan.warnings { Output.warning(warning) }
            let shown = (0..<plan.id2label.count).map { plan.id2label[$0]! }
            Output.progress(
                "\(model) has no classification head: training a new one, "
                    + (plan.isRegression ? "regression (1 output)" : "\(shown.count) labels (\(shown.joined(separator: ", ")))"))
        }
        let fresh = try reporting(path: model) { try loaded.withFreshHead(id2label: plan.id2label, seed: seed) }
        return (fresh, plan.id2label)
    }

    /// Everything that decides the trajectory, recorded in every checkpoint: `--resume` refuses a
    /// checkpoint whose settings differ (another model, data, adapter or schedule).
    func settings(
        weights: [(file: String, sha256: String)], adapters: AdapterSet, initDescription: JSONObject, plan: Trainer.Plan, options: Trainer.Options,
        labels: Int
    ) throws -> JSONObject {
        let h = adapters.hyperparameters
        let s = options.optimizer
        func digest(_ path: String) throws -> JSONValue { .string(try reporting(path: path) { try AdapterMerge.digest(path) }) }
        return [
            "model_weights": .array(weights.map { ["file": .string($0.file), "sha256": .string($0.sha256)] }),
            "num_labels": JSONValue(labels),
            "train_data": try digest(train), "eval_data": try eval.map(digest) ?? .null,
            "fields": ["text": dataOptions.textField.map(JSONValue.string) ?? .null, "pair": dataOptions.pairField.map(JSONValue.string) ?? .null,
                "label": dataOptions.labelField.map(JSONValue.string) ?? .null],
            "max_length": JSONValue(options.maxLength),
            "adapter": [
                "kind": .string(h.kind.rawValue), "targets": .array(h.targets.map(JSONValue.string)), "rank": JSONValue(h.rank),
                "separation_rank": JSONValue(h.separationRank), "alpha": .double(h.alpha), "trainable_scales": .bool(h.trainableScales),
                "modules": .array(adapters.modules.map { .string($0.name) }), "init": .object(initDescription),
            ],
            "train_head": .bool(options.trainHead),
            "optimizer": ["kind": .string(s.kind.rawValue), "beta1": .double(Double(s.beta1)), "beta2": .double(Double(s.beta2)),
                "epsilon": .double(Double(s.epsilon)), "weight_decay": .double(Double(s.weightDecay))],
            "learning_rate": .double(Double(options.learningRate)), "lr_schedule": .string(options.schedule.rawValue),
            "warmup_steps": JSONValue(plan.schedule.warmupSteps), "total_steps": JSONValue(plan.totalSteps),
            "batch_size": JSONValue(options.batchSize), "grad_accum": JSONValue(options.gradientAccumulation),
            "max_grad_norm": .double(options.maxGradNorm), "seed": .string(String(options.seed)),
            "eval_every": options.evalEvery.map(JSONValue.init) ?? .null,
            "dropout": options.dropout.map { ["hidden": .double(Double($0.hidden)), "attention": .double(Double($0.attention)),
                "classifier": .double(Double($0.classifier))] } ?? .null, "keep": .string(options.keepBest ? "best" : "last"),
        ]
    }

    /// The output directory: new, or this run's own when resuming from a checkpoint inside it,
    /// or (--force) an existing one moved aside to a sibling, whose path is returned. Made only
    /// once every input has been checked.
    func prepareOutput() throws -> String? {
        var aside: String?
        if FileSystem.exists(out) {
            guard FileSystem.isDirectory(out) else { throw CommandFailure(message: "\(out): exists and is not a directory") }
            let empty = ((try? FileSystem.contents(of: out)) ?? []).isEmpty
            let resumingHere = resume.map { FileSystem.canonical($0)?.hasPrefix((FileSystem.canonical(out) ?? out) + "/") == true
                || FileSystem.canonical($0) == FileSystem.canonical(out) } ?? false
            if !empty && !resumingHere {
                guard force else {
                    throw CommandFailure(message: "\(out): already exists (--force replaces it; --resume \(out) continues its run)")
                }
                let trimmed = StagedDirectory.trimmed(out)
                let path = FileSystem.join(FileSystem.directoryName(trimmed), ".\(FileSystem.baseName(trimmed)).replaced-\(getpid())")
                guard rename(trimmed, path) == 0 else {
                    throw CommandFailure(message: "\(out): cannot move the existing output aside: \(String(cString: strerror(errno)))")
                }
                aside = path
            }
        }
        try reporting(path: out) { try StagedDirectory.createDirectories(out) }
        return aside
    }

    func summary(_ state: TrainingState, set: AdapterSet, kept: String) {
        let last = state.log.last
        Output.line("trained:    \(state.step) steps in \(String(format: "%.1f", state.elapsed)) s" + (last?.trainLoss.map { String(format: ", last loss %.4f", $0) } ?? ""))
        if let best = state.best, let entry = state.log.first(where: { $0.step == best.step && $0.evalLoss != nil }) {
            Output.line("best eval:  step \(best.step), loss \(String(format: "%.4f", entry.evalLoss!))"
                + entry.evalMetrics.map { ", \($0.name) \(String(format: "%.4f", $0.value))" }.joined())
        }
        if let last, let loss = last.evalLoss {
            Output.line("last eval:  step \(last.step), loss \(String(format: "%.4f", loss))"
                + last.evalMetrics.map { ", \($0.name) \(String(format: "%.4f", $0.value))" }.joined())
        }
        Output.line("adapter:    \(out)/ (\(kept) state; \(set.modules.count) modules, \(Output.grouped(set.parameterCount)) adapter parameters"
            + (set.head != nil ? ", trained head)" : ")"))
    }
}
