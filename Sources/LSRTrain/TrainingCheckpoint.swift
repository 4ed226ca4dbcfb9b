#if canImport(Glibc)
    import Glibc
#endif
import LSRAdapters
import LSREngine
import LSRFormats

/// Training checkpoints: `checkpoints/step-N/` under train's output directory, staged and renamed
/// into place whole, holding
///   adapter_config.json + adapter_model.safetensors   the adapter at step N (eval/merge/export take it as is)
///   optimizer.safetensors   every trained tensor's exact value (`param.I`), Adam's moments
///                           (`param.I.exp_avg`, `param.I.exp_avg_sq`) and the best values so far
///                           (`best.I`), I in the optimiser's order; metadata: optimizer_steps
///   trainer_state.json      the TrainingState (schemas/trainer-state.schema.json), the
///                           settings of the run, which `--resume` must match, and the run's
///                           command line, from which `--resume` alone takes every option.
/// Data order and dropout masks are functions of the seed and the positions in the state, so
/// restoring these makes the rest of the run the same, bit for bit, as an uninterrupted one.
public enum TrainingCheckpoint {
    public static let stateName = "trainer_state.json"
    public static let optimizerName = "optimizer.safetensors"
    public static let directoryName = "checkpoints"
    public static let schemaID = "urn:lsrconv:schema:trainer-state:1"

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// Not a checkpoint directory (nor an output directory holding checkpoints).
        case notACheckpoint(path: String)
        /// trainer_state.json is not what this version writes.
        case badState(pointer: String, reason: String)
        /// optimizer.safetensors lacks a tensor or has it in another shape or dtype.
        case badTensor(name: String, reason: String)
        /// The checkpoint was made by a run with other settings.
        case settingsMismatch(key: String, checkpoint: String, run: String)
        public var description: String {
            switch self {
            case .notACheckpoint(let p): "\(p): not a training checkpoint (no \(stateName) here or under \(directoryName)/step-*)"
            case .badState(let p, let r): "\(stateName) at \(p.isEmpty ? "/" : p): \(r)"
            case .badTensor(let n, let r): "\(optimizerName): tensor '\(n)': \(r)"
            case .settingsMismatch(let k, let c, let r): "the checkpoint was made with \(k) = \(c), this run has \(r)"
            }
        }
    }

    /// Writes a checkpoint of `session` to `directory` (replacing one there). `settings`
    /// describes everything that decides the trajectory, `commandLine` the options the run was
    /// given (the command layer's record); `adapter` is the set to write.
    public static func write(
        _ session: TrainingSession, adapter: AdapterSet, settings: JSONObject, commandLine: JSONObject, to directory: String
    ) throws {
        let staged = try StagedDirectory(destination: directory, replace: true)
        try AdapterFile.writeFiles(adapter, into: staged.path)
        try writeTensors(session, to: staged.file(optimizerName))
        try DurableFile.write(
            JSON.data(stateJSON(session.state, settings: settings, commandLine: commandLine), style: .pretty), to: staged.file(stateName))
        try staged.commit()
    }

    /// The checkpoint directory for `step` under an output directory.
    public static func path(output: String, step: Int) -> String {
        FileSystem.join(FileSystem.join(output, directoryName), "step-\(step)")
    }

    /// Removes all but the newest `keep` checkpoints under `output`.
    public static func prune(output: String, keep: Int) {
        let existing = steps(output: output)
        for step in existing.dropLast(keep) { FileSystem.removeTree(path(output: output, step: step)) }
    }

    /// Removes the staging directories of checkpoints (".step-N.tmp-PID-RANDOM", as
    /// `StagedDirectory` names them, and the ".old" a commit sets aside) that a killed run left
    /// under `output`/checkpoints, and returns their paths. Nothing else is touched. One whose PID
    /// is a running process other than this one stays: it may be another run's, mid-write.
    public static func removeStaleStaging(output: String) -> [String] {
        let directory = FileSystem.join(output, directoryName)
        var removed: [String] = []
        for name in ((try? FileSystem.contents(of: directory)) ?? []).sorted() {
            guard isStaging(name) else { continue }
            if let pid = stagingPID(name), pid != getpid(), kill(pid, 0) == 0 || errno == EPERM { continue }
            let path = FileSystem.join(directory, name)
            FileSystem.removeTree(path)
            removed.append(path)
        }
        return removed
    }

    /// Whether `name` is a checkpoint's staging name: ".step-N.tmp-" and at least one character.
    static func isStaging(_ name: String) -> Bool {
        guard name.hasPrefix(".step-"), let marker = name.firstRange(of: ".tmp-") else { return false }
        let step = name[name.index(name.startIndex, offsetBy: 6)..<marker.lowerBound]
        return !step.isEmpty && step.allSatisfy { ("0"..."9").contains($0) } && marker.upperBound < name.endIndex
    }

    /// The PID a staging name ".step-N.tmp-PID-RANDOM" carries (nil: none).
    static func stagingPID(_ name: String) -> pid_t? {
        guard let marker = name.firstRange(of: ".tmp-") else { return nil }
        return name[marker.upperBound...].split(separator: "-").first.flatMap { pid_t(String($0)) }
    }

    /// Steps of the checkpoints under `output`, ascending.
    public static func steps(output: String) -> [Int] {
        let names = (try? FileSystem.contents(of: FileSystem.join(output, directoryName))) ?? []
        return names.compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }.sorted()
    }

    /// A checkpoint directory given itself or the output directory holding it (the newest).
    public static func locate(_ path: String) throws(Error) -> String {
        if FileSystem.exists(FileSystem.join(path, stateName)) && FileSystem.exists(FileSystem.join(path, optimizerName)) { return path }
        if let newest = steps(output: path).last { return self.path(output: path, step: newest) }
        throw .notACheckpoint(path: path)
    }

    /// The trainer_state.json document.
    public static func stateJSON(_ state: TrainingState, settings: JSONObject, commandLine: JSONObject) -> JSONValue {
        var best: JSONValue = .null
        if let b = state.best { best = ["step": JSONValue(b.step), "value": .double(b.value)] }
        return [
            "$schema": .string(schemaID), "format_version": 1, "global_step": JSONValue(state.step), "epochs_done": JSONValue(state.epoch),
            "batch_in_epoch": JSONValue(state.batchInEpoch), "micro_batches": JSONValue(state.microBatches),
            "pending_loss_sum": .double(state.lossSum), "pending_loss_count": JSONValue(state.lossCount), "best": best,
            "elapsed_seconds": .double(state.elapsed), "log_history": .array(state.log.map(\.json)), "settings": .object(settings),
            "command_line": .object(commandLine),
        ]
    }

    /// What a checkpoint directory holds, read and checked.
    public struct Stored {
        public var state: TrainingState
        public var settings: JSONObject
        /// The options of the run that wrote it; nil in checkpoints of versions that did not record them.
        public var commandLine: JSONObject?
        public var directory: String
        let archive: TensorArchive
        let optimizerSteps: Int
    }

    public static func read(_ directory: String) throws -> Stored {
        let statePath = FileSystem.join(directory, stateName)
        let file = try MappedFile(path: statePath)
        let json: JSONValue
        let state: TrainingState
        let settings: JSONObject
        let commandLine: JSONObject?
        do {
            json = try JSON.parse(file.read(offset: 0, count: min(file.size, ShardIndex.maxIndexSize)))
            (state, settings, commandLine) = try parseState(json)
        } catch { throw FileContextError(path: statePath, underlying: error) }
        let tensorsPath = FileSystem.join(directory, optimizerName)
        let archive = try Safetensors.read(path: tensorsPath)
        guard let stepsText = archive.metadata.first(where: { $0.key == "optimizer_steps" })?.value, let steps = Int(stepsText), steps >= 0 else {
            throw FileContextError(path: tensorsPath, underlying: Error.badTensor(name: "__metadata__", reason: "no optimizer_steps entry"))
        }
        return Stored(state: state, settings: settings, commandLine: commandLine, directory: directory, archive: archive, optimizerSteps: steps)
    }

    static func parseState(_ json: JSONValue) throws(Error) -> (TrainingState, JSONObject, JSONObject?) {
        guard case .object(let o) = json else { throw .badState(pointer: "", reason: "expected an object") }
        func int(_ key: String) throws(Error) -> Int {
            guard let v = o[key]?.intValue, v >= 0 else { throw .badState(pointer: "/" + key, reason: "expected a non-negative integer") }
            return v
        }
        func double(_ key: String) throws(Error) -> Double {
            guard let v = o[key]?.doubleValue else { throw .badState(pointer: "/" + key, reason: "expected a number") }
            return v
        }
        guard o["$schema"]?.stringValue == schemaID else { throw .badState(pointer: "/$schema", reason: "expected \"\(schemaID)\"") }
        guard o["format_version"]?.intValue == 1 else { throw .badState(pointer: "/format_version", reason: "expected 1") }
        var state = TrainingState()
        state.step = try int("global_step")
        state.epoch = try int("epochs_done")
        state.batchInEpoch = try int("batch_in_epoch")
        state.microBatches = try int("micro_batches")
        state.lossSum = try double("pending_loss_sum")
        state.lossCount = try int("pending_loss_count")
        state.elapsed = try double("elapsed_seconds")
        switch o["best"] {
        case .null?: break
        case .object(let b)?:
            guard let step = b["step"]?.intValue, let value = b["value"]?.doubleValue else {
                throw .badState(pointer: "/best", reason: "expected {step, value}")
            }
            state.best = (step, value)
        default: throw .badState(pointer: "/best", reason: "expected an object or null")
        }
        guard case .array(let lines)? = o["log_history"] else { throw .badState(pointer: "/log_history", reason: "expected an array") }
        for (i, line) in lines.enumerated() {
            guard let entry = LogEntry(json: line) else { throw .badState(pointer: "/log_history/\(i)", reason: "expected a metrics line") }
            state.log.append(entry)
        }
        guard case .object(let settings)? = o["settings"] else { throw .badState(pointer: "/settings", reason: "expected an object") }
        switch o["command_line"] {
        case nil: return (state, settings, nil)  // written before the command line was recorded
        case .object(let commandLine)?: return (state, settings, commandLine)
        default: throw .badState(pointer: "/command_line", reason: "expected an object")
        }
    }

    /// Checks that `stored` was made with `settings`: the first key that differs is the error.
    public static func check(_ stored: Stored, settings: JSONObject) throws(Error) {
        if let d = firstDifference(stored.settings, settings) { throw .settingsMismatch(key: d.key, checkpoint: d.first, run: d.second) }
    }

    /// The first key (in sorted order) whose values differ between two settings objects, with
    /// each side's value as JSON ("(absent)" where a side lacks the key); nil when they agree.
    static func firstDifference(_ first: JSONObject, _ second: JSONObject) -> (key: String, first: String, second: String)? {
        for key in Set(first.keys).union(second.keys).sorted() where first[key] != second[key] {
            return (key, first[key].map { JSON.serialize($0) } ?? "(absent)", second[key].map { JSON.serialize($0) } ?? "(absent)")
        }
        return nil
    }

    /// Puts the stored values, moments, best values and state into `session`.
    public static func restore(_ stored: Stored, into session: TrainingSession) throws {
        let parameters = session.training.optimizer.parameters
        func load(_ name: String, into buffer: FloatBuffer) throws(Error) {
            guard let t = stored.archive[name] else { throw .badTensor(name: name, reason: "missing") }
            guard t.dtype == .f32, t.elementCount == buffer.count, t.bytes.count == buffer.count * 4 else {
                throw .badTensor(name: name, reason: "expected F32 with \(buffer.count) elements, found \(t.dtype) \(t.shape)")
            }
            UnsafeMutableRawPointer(buffer.pointer).copyMemory(from: t.bytes.buffer.baseAddress!, byteCount: t.bytes.count)
        }
        let path = FileSystem.join(stored.directory, optimizerName)
        do {
            let expected = Set(parameters.indices.flatMap { i in ["param.\(i)", "param.\(i).exp_avg", "param.\(i).exp_avg_sq"] })
            let hasBest = stored.state.best != nil
            for name in stored.archive.names where !expected.contains(name) && !(hasBest && name.hasPrefix("best.")) {
                throw Error.badTensor(name: name, reason: "not a tensor of this run (\(parameters.count) trained tensors)")
            }
            for (i, p) in parameters.enumerated() {
                try load("param.\(i)", into: p.values)
                try load("param.\(i).exp_avg", into: p.m)
                try load("param.\(i).exp_avg_sq", into: p.v)
            }
            if hasBest {
                let best = parameters.map { FloatBuffer(count: $0.values.count) }
                for (i, b) in best.enumerated() { try load("best.\(i)", into: b) }
                session.setBest(best)
            } else {
                session.setBest(nil)
            }
        } catch { throw FileContextError(path: path, underlying: error) }
        session.training.optimizer.restore(steps: stored.optimizerSteps)
        session.training.refresh()
        session.state = stored.state
    }

    static func writeTensors(_ session: TrainingSession, to path: String) throws {
        func tensor(_ name: String, _ values: FloatBuffer) -> Safetensors.OutputTensor {
            Safetensors.OutputTensor(name: name, shape: [values.count], float32: UnsafeBufferPointer(values.buffer))
        }
        var tensors: [Safetensors.OutputTensor] = []
        for (i, p) in session.training.optimizer.parameters.enumerated() {
            tensors += [tensor("param.\(i)", p.values), tensor("param.\(i).exp_avg", p.m), tensor("param.\(i).exp_avg_sq", p.v)]
        }
        for (i, b) in (session.bestValues ?? []).enumerated() { tensors.append(tensor("best.\(i)", b)) }
        let metadata = [(key: "format", value: "lsrconv-training-state"), (key: "optimizer_steps", value: String(session.training.optimizer.steps))]
        try Safetensors.write(tensors, metadata: metadata, to: path)
    }
}
