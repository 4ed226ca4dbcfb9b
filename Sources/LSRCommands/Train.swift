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
            and checkpoints/step-N (adapter, optimizer moments, position, the run's options). Ctrl-C writes a \
            checkpoint and stops (exit status 130); the top level then holds that checkpoint's adapter, so \
            `eval --adapter OUT` works on it. --json prints the end-of-run summary as one JSON document.

            Resuming: `--resume OUT` continues the newest checkpoint under OUT (or --resume OUT/checkpoints/step-N \
            that one) with the options it recorded, exactly where an uninterrupted run would be. Options given \
            again must agree with the recorded ones, except --out (default: the output directory holding the \
            checkpoint), --threads, --save-every, --keep-checkpoints, --batch-size and --global-batch-size (the \
            global batch must stay), and the paths of --model, --train, --eval and --init-from, which may name the \
            same files elsewhere (their contents are checked). --epochs and --max-steps must agree: the schedule \
            is fitted to the run's length; to train on, start a new run with --init-from OUT. Unfinished \
            checkpoint folders a killed run left (checkpoints/.step-N.tmp-*) are removed.

            Data-parallel on several processes or machines: `mpirun -np N lsrconv train ...` (Open MPI; README \
            "Training on several machines"). Each rank reads the inputs and takes its share of every global \
            micro-batch (--batch-size per rank, or --global-batch-size in all); rank 0 alone writes. A run resumes \
            with any N that gives the same global batch. `kill -USR1` on mpirun checkpoints and stops every rank.

            Examples:
              lsrconv train --model roberta-base --train train.jsonl --eval dev.jsonl \\
                  --labels negative,positive --out run --max-steps 2000
              lsrconv train --resume run          # after Ctrl-C: continue where it stopped
              lsrconv train --resume run --threads 8
              lsrconv train --model roberta-base --train train.jsonl --out run2 --json
            """)

    // The options with a default, and --model, --train and --out, are stored as given (nil: not
    // on the command line), so that `--resume` can tell which to take from the checkpoint's
    // recorded command line; the value the run uses is the property without "Argument"
    // (TrainResume.swift), the default where neither says.
    @Option(name: .customLong("model"), help: "Base model directory: a sequence classifier (its head is trained) or a pretrained checkpoint (a new head is).")
    var modelArgument: String?
    @Option(name: .customLong("train"), help: "Training data file.") var trainArgument: String?
    @Option(help: "Evaluation data file (loss and metrics at every evaluation; picks the best state).") var eval: String?
    @Option(name: .customLong("out"), help: "Output directory (with --resume: the one the checkpoint is in).") var outArgument: String?
    @Option(help: "Tokenizer directory (default: the model's).") var tokenizer: String?
    @Option(name: .customLong("kind"), help: "lsr or lora (default: lsr).") var kindArgument: String?
    @Option(name: .customLong("targets"), help: "Comma-separated modules to adapt in every layer (default: query,value).") var targetsArgument: String?
    @Option(name: .customLong("rank"), help: "r (default: 4).") var rankArgument: Int?
    @Option(help: "s (LSR; default: 16).") var separationRank: Int?
    @Option(name: .customLong("factors"), help: "auto, AxB, or AxB,CxD (out, in) (default: auto).") var factorsArgument: String?
    @Option(help: "r = r1×r2 (LSR).") var rankSplit: String?
    @Option(name: .customLong("alpha"), help: "α of ΔW = (α/r)·Up·Down (default: 8).") var alphaArgument: Double?
    @Flag(help: "Train the λ scales of the Kronecker terms too (LSR).") var trainScales = false
    @Option(help: "Start from this adapter directory instead of a fresh one (its settings replace --kind … --alpha).")
    var initFrom: String?
    @Option(help: "classification or regression (default: from the model's head: one label is regression).") var task: String?
    @Option(help: "Label names in id order, for a model without a head (default: the training file's sorted labels); with a head, its own.")
    var labels: String?
    @Option(help: "Labels of a new head (1: regression; default: from the training file).") var numLabels: Int?
    @Option(name: .customLong("lr"), help: "Peak learning rate (default: 0.0005).") var lrArgument: Float?
    @Option(name: .customLong("lr-schedule"), help: "linear (warm-up, then decay to 0) or constant (warm-up, then the peak) (default: linear).")
    var lrScheduleArgument: String?
    @Option(name: .customLong("warmup-ratio"), help: "Fraction of the updates spent warming the learning rate up from 0 (default: 0.06).")
    var warmupRatioArgument: Double?
    @Option(help: "Warm-up updates (overrides --warmup-ratio).") var warmupSteps: Int?
    @Option(name: .customLong("weight-decay"), help: "Decoupled weight decay (default: 0.01).") var weightDecayArgument: Float?
    @Option(name: .customLong("optimizer"), help: "adamw or sgd (default: adamw).") var optimizerArgument: String?
    @Option(name: .customLong("max-grad-norm"), help: "Clip the global gradient norm to this; 0: off (default: 1).") var maxGradNormArgument: Double?
    @Option(help: "Dropout probability for the hidden, attention and classifier sites (default: the model config's; 0: off).")
    var dropout: Float?
    @Option(name: .customLong("epochs"), help: "Epochs (default: 3).") var epochsArgument: Int?
    @Option(help: "Stop after this many updates.") var maxSteps: Int?
    @Option(name: .customLong("batch-size"), help: "Examples per micro-batch (per rank under mpirun) (default: 16).") var batchSizeArgument: Int?
    @Option(help: "Examples per micro-batch over all ranks (default: --batch-size × ranks).") var globalBatchSize: Int?
    @Option(name: .customLong("grad-accum"), help: "Micro-batches per update (gradients averaged) (default: 1).") var gradAccumArgument: Int?
    @Option(name: .customLong("max-length"), help: .init(DataOptions.maxLengthHelp)) var maxLengthArgument: Int?
    @Option(name: .customLong("seed"), help: "Seed of the adapter initialisation and the shuffling (default: 0).") var seedArgument: UInt64?
    @Option(help: "Evaluate every N updates (default: every epoch).") var evalEvery: Int?
    @Option(help: "Checkpoint every N updates (default: at every evaluation).") var saveEvery: Int?
    @Option(name: .customLong("keep-checkpoints"), help: "Checkpoints kept (the newest) (default: 2).") var keepCheckpointsArgument: Int?
    @Option(name: .customLong("keep"), help: "best (the best evaluation's state) or last (default: best).") var keepArgument: String?
    @Option(help: "Continue a run: its output directory (the newest checkpoint) or a checkpoints/step-N directory; options not given are the run's.")
    var resume: String?
    @OptionGroup var dataOptions: LabelledDataOptions
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Keep the base model's head frozen.") var freezeHead = false
    @Flag(help: "Replace an existing output directory.") var force = false
    @Flag(help: "Print the end-of-run summary as one JSON document.") var json = false

    func validate() throws {
        // Without --resume no recorded command line can stand in for the inputs and the output.
        if resume == nil {
            let missing = [("--model", modelArgument), ("--train", trainArgument), ("--out", outArgument)].filter { $0.1 == nil }.map(\.0)
            guard missing.isEmpty else {
                throw ValidationError(
                    "\(Self.listed(missing)) \(missing.count == 1 ? "is" : "are") required (or --resume OUT_DIR, which continues a run with its own)")
            }
        }
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
            var command = self
            let checkpoint = try command.resolveResume(communicator)
            try command.run(communicator, resuming: checkpoint)
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

    /// Trains, from `checkpoint` when given (rank 0's: the others get its state from rank 0).
    func run(_ communicator: any Communicator, resuming checkpoint: TrainingCheckpoint.Stored?) throws {
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
        let maxLength = DataOptions.maxLength(maxLengthArgument, limit: base.maxTokens)  // 128, or the model's limit if lower
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
        options.maxLength = maxLength
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
        // Rank 0 read it (resolveResume); `synchronize` then gives every rank rank 0's starting state.
        if let checkpoint {
            try reporting(path: checkpoint.directory) { try TrainingCheckpoint.check(checkpoint, settings: runSettings) }
            try reporting(path: checkpoint.directory) { try TrainingCheckpoint.restore(checkpoint, into: session) }
        }
        try reporting { try session.synchronize(communicator) }
        // With --force an existing output is moved aside, removed once this run has written its
        // own (or its Ctrl-C checkpoint), and put back if the run fails: never lost to a failed run.
        let aside = leader ? try prepareOutput() : nil
        if leader { removeStaleStaging() }
        // After prepareOutput, so that the output's absolute path is its real one.
        let commandLine = recordedCommandLine(ranks: communicator.size)
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
            try TrainingCheckpoint.write(
                session, adapter: session.training.trainedSet(id2label: id2label), settings: runSettings, commandLine: commandLine, to: path)
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

        // The top level: the adapter kept at the end, or after Ctrl-C the checkpoint's (the
        // values as they stand), so that `eval --adapter OUT` works either way; its state; the logs.
        let set = training.trainedSet(id2label: id2label)
        try reporting(path: out) {
            try AdapterFile.writeFiles(set, into: out)
            try DurableFile.write(
                JSON.data(TrainingCheckpoint.stateJSON(session.state, settings: runSettings, commandLine: commandLine), style: .pretty),
                to: FileSystem.join(out, TrainingCheckpoint.stateName))
            try writeLogs()
        }
        keepNewOutput = true
        var report = TrainSummary(state: session.state, set: set, output: out, kept: options.keepBest && evalData != nil ? "best" : "last")
        if case .interrupted(let step) = outcome {
            let checkpoint = TrainingCheckpoint.path(output: out, step: step)
            (report.kept, report.checkpoint) = ("last", checkpoint)
            Output.progress("interrupted after step \(step): checkpoint \(checkpoint), its adapter in \(out); continue with --resume \(out)")
        }
        if json { Output.json(report.json) } else if report.checkpoint == nil { report.printText() }
        if report.checkpoint != nil { throw ExitCode(130) }
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
        func digest(_ path: String) throws -> JSONValue {
            if path == DataSource.standardInputPath {  // `--train -`: the bytes read, kept by the loader
                return .string(SHA256.hex(try reporting { try DataSource.standardInputBytes() }))
            }
            return .string(try reporting(path: path) { try AdapterMerge.digest(path) })
        }
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
}
