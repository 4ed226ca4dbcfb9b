import Foundation
import LSRDistributed
import LSRFormats
import LSRTrain

/// `train --resume`: the command line a run records in every checkpoint ("command_line" in
/// trainer_state.json, beside "settings") and how a resumed run takes it back.
///
/// `--resume OUT_DIR` alone continues the run with the options it was started with; an option
/// given again must agree with the recorded one, except those that cannot change the result:
///   --out                       where to write (default: the output directory holding the checkpoint)
///   --threads                   not recorded: the machine's business
///   --keep-checkpoints, --save-every   which checkpoints are written and kept
///   --batch-size, --global-batch-size  the split over ranks; the global batch is in the settings
///   --model, --train, --eval, --init-from   may name the same files at another place: their
///                               contents are checked by the settings' digests
/// --epochs and --max-steps must agree: the schedule's decay is fitted to the run's total steps,
/// so a longer run would not continue the one recorded (--init-from OUT_DIR starts a new one from
/// its adapter). The settings' digests and values are still compared after this (TrainingCheckpoint.check).
extension Train {
    // The values the run uses: the command line's, the checkpoint's (filled in by `resolveResume`)
    // or the default. --model, --train and --out have none: validate() requires them without
    // --resume, and `resolveResume` fills them from the checkpoint with it, before run reads them.
    var model: String { modelArgument ?? "" }
    var train: String { trainArgument ?? "" }
    var out: String { outArgument ?? "" }
    var kind: String { kindArgument ?? "lsr" }
    var targets: String { targetsArgument ?? "query,value" }
    var rank: Int { rankArgument ?? 4 }
    var factors: String { factorsArgument ?? "auto" }
    var alpha: Double { alphaArgument ?? 8 }
    var lr: Float { lrArgument ?? 5e-4 }
    var lrSchedule: String { lrScheduleArgument ?? "linear" }
    var warmupRatio: Double { warmupRatioArgument ?? 0.06 }
    var weightDecay: Float { weightDecayArgument ?? 0.01 }
    var optimizer: String { optimizerArgument ?? "adamw" }
    var maxGradNorm: Double { maxGradNormArgument ?? 1.0 }
    var epochs: Int { epochsArgument ?? 3 }
    var batchSize: Int { batchSizeArgument ?? 16 }
    var gradAccum: Int { gradAccumArgument ?? 1 }
    var maxLength: Int { maxLengthArgument ?? 128 }
    var seed: UInt64 { seedArgument ?? 0 }
    var keepCheckpoints: Int { keepCheckpointsArgument ?? 2 }
    var keep: String { keepArgument ?? "best" }

    /// Every option a checkpoint records, in --help's order.
    static var recordedOptions: [RecordedOption] {
        [
            .path("--model", \.modelArgument, onResume: .sameContents),
            .path("--train", \.trainArgument, onResume: .sameContents),
            .path("--eval", \.eval, onResume: .sameContents),
            .path("--out", \.outArgument, onResume: .mayDiffer),
            .path("--tokenizer", \.tokenizer, onResume: .mustAgree),  // no digest checks its files
            .value("--kind", \.kindArgument, uses: \.kind),
            .value("--targets", \.targetsArgument, uses: \.targets),
            .value("--rank", \.rankArgument, uses: \.rank),
            .value("--separation-rank", \.separationRank),
            .value("--factors", \.factorsArgument, uses: \.factors),
            .value("--rank-split", \.rankSplit),
            .value("--alpha", \.alphaArgument, uses: \.alpha),
            .flag("--train-scales", \.trainScales),
            .path("--init-from", \.initFrom, onResume: .sameContents),
            .value("--task", \.task),
            .value("--labels", \.labels),
            .value("--num-labels", \.numLabels),
            .value("--lr", \.lrArgument, uses: \.lr),
            .value("--lr-schedule", \.lrScheduleArgument, uses: \.lrSchedule),
            .value("--warmup-ratio", \.warmupRatioArgument, uses: \.warmupRatio),
            .value("--warmup-steps", \.warmupSteps),
            .value("--weight-decay", \.weightDecayArgument, uses: \.weightDecay),
            .value("--optimizer", \.optimizerArgument, uses: \.optimizer),
            .value("--max-grad-norm", \.maxGradNormArgument, uses: \.maxGradNorm),
            .value("--dropout", \.dropout),
            .value("--epochs", \.epochsArgument, uses: \.epochs),
            .value("--max-steps", \.maxSteps),
            .value("--batch-size", \.batchSizeArgument, uses: \.batchSize, onResume: .mayDiffer),
            .value("--global-batch-size", \.globalBatchSize, onResume: .mayDiffer),
            .value("--grad-accum", \.gradAccumArgument, uses: \.gradAccum),
            .value("--max-length", \.maxLengthArgument, uses: \.maxLength),
            .value("--seed", \.seedArgument, uses: \.seed),
            .value("--eval-every", \.evalEvery),
            .value("--save-every", \.saveEvery, onResume: .mayDiffer),
            .value("--keep-checkpoints", \.keepCheckpointsArgument, uses: \.keepCheckpoints, onResume: .mayDiffer),
            .value("--keep", \.keepArgument, uses: \.keep),
            .value("--text-field", \.dataOptions.textField),
            .value("--pair-field", \.dataOptions.pairField),
            .value("--label-field", \.dataOptions.labelField),
            .value("--format", \.dataOptions.format),
            .flag("--freeze-head", \.freezeHead),
        ]
    }

    /// The "command_line" object of this run's checkpoints: every recorded option's value (the
    /// default where none was given; null where the default is decided later, from the model or
    /// the data), paths as given and absolute, and the number of ranks the batch size is per.
    func recordedCommandLine(ranks: Int) -> JSONObject {
        var object: JSONObject = ["ranks": JSONValue(ranks)]
        for option in Self.recordedOptions { object[option.key] = option.record(self) }
        return object
    }

    /// With --resume: reads the checkpoint (rank 0, which sends the others its command line),
    /// takes every option not given from its recorded command line and checks the given ones
    /// against it. Returns the checkpoint to restore (rank 0; nil on the others and without
    /// --resume). Nothing is written.
    mutating func resolveResume(_ communicator: any Communicator) throws -> TrainingCheckpoint.Stored? {
        guard let resume else { return nil }
        var stored: TrainingCheckpoint.Stored?
        var shared: JSONObject = [:]
        if communicator.isLeader {
            let directory = try reporting(path: resume) { try TrainingCheckpoint.locate(resume) }
            let checkpoint = try reporting(path: directory) { try TrainingCheckpoint.read(directory) }
            stored = checkpoint
            shared = ["directory": .string(directory), "command_line": checkpoint.commandLine.map(JSONValue.object) ?? .null]
        }
        if communicator.size > 1 {
            var bytes = JSON.data(.object(shared))
            try reporting { try communicator.broadcast(&bytes, from: 0) }
            shared = (try? JSON.parse(bytes).objectValue) ?? [:]  // rank 0 sent an object
        }
        let directory = shared["directory"]?.stringValue ?? resume
        try takeRecorded(shared["command_line"]?.objectValue, checkpoint: directory, ranks: communicator.size)
        // The options taken from the checkpoint passed these checks when it was made; a given one
        // that may differ (--keep-checkpoints, --save-every) was checked by the parser already.
        try validate()
        return stored
    }

    /// Fills the options not given from `recorded` (nil: a checkpoint of a version that recorded
    /// none, which needs --model and --train again) and checks the given ones against it.
    mutating func takeRecorded(_ recorded: JSONObject?, checkpoint: String, ranks: Int) throws {
        // The output directory the checkpoint is in (OUT/checkpoints/step-N), wherever it was made.
        let parent = FileSystem.directoryName(checkpoint)
        if outArgument == nil && FileSystem.baseName(parent) == TrainingCheckpoint.directoryName {
            outArgument = FileSystem.directoryName(parent)
        }
        guard let recorded else {
            let missing = [("--model", modelArgument), ("--train", trainArgument), ("--out", outArgument)].filter { $0.1 == nil }.map(\.0)
            guard missing.isEmpty else {
                throw CommandFailure(
                    message: "\(checkpoint): the checkpoint records no command line (an older lsrconv wrote it): "
                        + "pass the run's options again (\(Self.listed(missing)) at least)")
            }
            return
        }
        // Another number of ranks: the same global batch, split over these.
        if batchSizeArgument == nil && globalBatchSize == nil && recorded["ranks"]?.intValue != ranks,
            let global = recorded["global_batch_size"]?.intValue
                ?? recorded["batch_size"]?.intValue.flatMap({ b in recorded["ranks"]?.intValue.map { b * $0 } })
        {
            globalBatchSize = global
        }
        for option in Self.recordedOptions { try option.resume(&self, from: recorded, checkpoint: checkpoint) }
    }

    /// Removes the staging folders a killed run left under OUT/checkpoints, saying so in one line.
    func removeStaleStaging() {
        let removed = TrainingCheckpoint.removeStaleStaging(output: out)
        guard !removed.isEmpty else { return }
        Output.progress(
            "removed \(removed.count) unfinished checkpoint folder\(removed.count == 1 ? "" : "s") of a stopped run: "
                + removed.joined(separator: ", "))
    }

    /// "--a", "--a and --b", "--a, --b and --c".
    static func listed(_ names: [String]) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }
}

/// One option of train as a checkpoint records it (under its flag's name in snake case) and as
/// `--resume` takes it back.
struct RecordedOption {
    /// What `--resume` does with the option given again.
    enum OnResume {
        /// It must equal the recorded value.
        case mustAgree
        /// An input file: it may name another place (moved files), whose contents the settings'
        /// digests check; only given or not must agree.
        case sameContents
        /// It replaces the recorded value: it cannot change the result.
        case mayDiffer
    }

    let flag: String
    let onResume: OnResume
    /// The value the run uses, as recorded (null: not given and decided later, from the model or data).
    let record: (Train) -> JSONValue
    /// The command line's own value as it would be recorded; nil when not given.
    let given: (Train) -> JSONValue?
    /// Whether two recorded values are the same setting.
    let same: (JSONValue, JSONValue) -> Bool
    /// Sets the option from a recorded value (not null); false when it is not one of the option's.
    let restore: (inout Train, JSONValue) -> Bool
    /// The value as a message shows it (a given path as given, a recorded one absolute).
    let spell: (JSONValue) -> String

    var key: String { String(flag.dropFirst(2)).replacingOccurrences(of: "-", with: "_") }

    /// Checks the given value against `recorded`, or takes the recorded one when none is given.
    func resume(_ command: inout Train, from recorded: JSONObject, checkpoint: String) throws {
        // Absent: an option the version that wrote the checkpoint did not record.
        guard let value = recorded[key] else { return }
        if let mine = given(command) {
            let absent = value == .null || value == .bool(false)
            switch onResume {
            case .mayDiffer: return
            case .sameContents where !absent: return
            case .mustAgree, .sameContents:
                if same(mine, value) { return }
                let shown = spell(mine)
                throw CommandFailure(
                    message: "\(checkpoint): \(flag)\(shown.isEmpty ? "" : " " + shown) on the command line, "
                        + "\(absent ? "not given" : spell(value)) in the checkpoint")
            }
        }
        guard value != .null else { return }
        guard restore(&command, value) else {
            throw CommandFailure(
                message: "\(FileSystem.join(checkpoint, TrainingCheckpoint.stateName)) at /command_line/\(key): not a value of \(flag)")
        }
    }

    /// An option with a value; `uses` is the value the run takes when it is not given.
    static func value<Value: RecordableValue>(
        _ flag: String, _ storage: WritableKeyPath<Train, Value?>, uses: KeyPath<Train, Value>, onResume: OnResume = .mustAgree
    ) -> RecordedOption {
        option(flag, storage, onResume: onResume) { $0[keyPath: uses].recorded }
    }

    /// An option with a value and no default of its own (nil: decided from the model or the data).
    static func value<Value: RecordableValue>(
        _ flag: String, _ storage: WritableKeyPath<Train, Value?>, onResume: OnResume = .mustAgree
    ) -> RecordedOption {
        option(flag, storage, onResume: onResume) { $0[keyPath: storage]?.recorded ?? .null }
    }

    private static func option<Value: RecordableValue>(
        _ flag: String, _ storage: WritableKeyPath<Train, Value?>, onResume: OnResume, record: @escaping (Train) -> JSONValue
    ) -> RecordedOption {
        RecordedOption(
            flag: flag, onResume: onResume, record: record, given: { $0[keyPath: storage]?.recorded }, same: ==,
            restore: { command, json in
                guard let value = Value(recorded: json) else { return false }
                command[keyPath: storage] = value
                return true
            }, spell: { Value(recorded: $0)?.spelled ?? JSON.serialize($0) })
    }

    /// A flag: given means on; not given takes the recorded state.
    static func flag(_ flag: String, _ storage: WritableKeyPath<Train, Bool>) -> RecordedOption {
        RecordedOption(
            flag: flag, onResume: .mustAgree, record: { .bool($0[keyPath: storage]) }, given: { $0[keyPath: storage] ? .bool(true) : nil },
            same: ==,
            restore: { command, json in
                guard case .bool(let on) = json else { return false }
                command[keyPath: storage] = on
                return true
            }, spell: { _ in "" })
    }

    /// A path, recorded as given and absolute (so that a resume from another directory finds
    /// it); the absolute one is what a resumed run takes and compares.
    static func path(_ flag: String, _ storage: WritableKeyPath<Train, String?>, onResume: OnResume) -> RecordedOption {
        func recorded(_ path: String) -> JSONValue { ["given": .string(path), "absolute": .string(absolute(path))] }
        return RecordedOption(
            flag: flag, onResume: onResume, record: { $0[keyPath: storage].map(recorded) ?? .null },
            given: { $0[keyPath: storage].map(recorded) }, same: { $0["absolute"] == $1["absolute"] },
            restore: { command, json in
                guard let path = json["absolute"]?.stringValue else { return false }
                command[keyPath: storage] = path
                return true
            }, spell: { $0["given"]?.stringValue ?? JSON.serialize($0) })
    }

    /// `path` from the root: symlinks resolved where it exists, else joined to the working directory.
    static func absolute(_ path: String) -> String {
        if path == DataSource.standardInputPath { return path }  // `--train -`: standard input, wherever the run is
        if let canonical = FileSystem.canonical(path) { return canonical }
        return path.hasPrefix("/") ? path : FileSystem.join(FileManager.default.currentDirectoryPath, path)
    }
}

/// A value an option of train takes, as a checkpoint's command line records it.
protocol RecordableValue {
    var recorded: JSONValue { get }
    init?(recorded: JSONValue)
    /// As on a command line.
    var spelled: String { get }
}

extension String: RecordableValue {
    var recorded: JSONValue { .string(self) }
    init?(recorded: JSONValue) {
        guard let s = recorded.stringValue else { return nil }
        self = s
    }
    var spelled: String { self }
}

extension Int: RecordableValue {
    var recorded: JSONValue { JSONValue(self) }
    init?(recorded: JSONValue) {
        guard let i = recorded.intValue else { return nil }
        self = i
    }
    var spelled: String { String(self) }
}

// A seed may exceed what a JSON number holds exactly: recorded as a string, as in the settings.
extension UInt64: RecordableValue {
    var recorded: JSONValue { .string(String(self)) }
    init?(recorded: JSONValue) {
        guard let s = recorded.stringValue, let v = UInt64(s) else { return nil }
        self = v
    }
    var spelled: String { String(self) }
}

extension Double: RecordableValue {
    var recorded: JSONValue { .double(self) }
    init?(recorded: JSONValue) {
        guard let d = recorded.doubleValue else { return nil }
        self = d
    }
    // 8 rather than 8.0: as typed.
    var spelled: String { rounded() == self && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}

// Recorded as the Double of its shortest decimal (0.0005, not 0.0005000000237487257) where that
// converts back to the same Float, else as its exact Double: either way the round trip is exact.
extension Float: RecordableValue {
    var recorded: JSONValue {
        let decimal = Double(String(self)) ?? Double(self)
        return .double(Float(decimal) == self ? decimal : Double(self))
    }
    init?(recorded: JSONValue) {
        guard let d = recorded.doubleValue else { return nil }
        self = Float(d)
    }
    var spelled: String { rounded() == self && abs(self) < 1e7 ? String(Int(self)) : String(self) }
}
