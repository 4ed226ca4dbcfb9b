import Foundation
import LSRAdapters
import LSRFormats
import LSRTrain

/// What `train` reports at the end of a run: as text lines, or with --json as one document
/// (steps, elapsed_seconds, last_train_loss, best, last_eval, adapter, interrupted, checkpoint).
struct TrainSummary {
    var state: TrainingState
    var set: AdapterSet
    /// The output directory, whose top level holds the adapter.
    var output: String
    /// "best" (the best evaluation's state) or "last".
    var kept: String
    /// The checkpoint written when Ctrl-C (or kill -USR1) stopped the run; nil: it ran to the end.
    var checkpoint: String?

    init(state: TrainingState, set: AdapterSet, output: String, kept: String) {
        (self.state, self.set, self.output, self.kept) = (state, set, output, kept)
    }

    /// The evaluation `state.best` names.
    var best: LogEntry? {
        guard let best = state.best else { return nil }
        return state.log.first { $0.step == best.step && $0.evalLoss != nil }
    }

    var lastEval: LogEntry? { state.log.last { $0.evalLoss != nil } }

    var json: JSONValue {
        func evaluation(_ entry: LogEntry?) -> JSONValue {
            guard let entry, let loss = entry.evalLoss else { return .null }
            let metrics = JSONObject(entry.evalMetrics.map { ($0.name, JSONValue.double($0.value)) })
            return ["step": JSONValue(entry.step), "eval_loss": .double(loss), "metrics": .object(metrics)]
        }
        return [
            "steps": JSONValue(state.step), "elapsed_seconds": .double(state.elapsed),
            "last_train_loss": state.log.last?.trainLoss.map(JSONValue.double) ?? .null,
            "best": evaluation(best), "last_eval": evaluation(lastEval),
            "adapter": [
                "path": .string(output), "kept": .string(kept), "modules": JSONValue(set.modules.count),
                "parameters": JSONValue(set.parameterCount), "head": .bool(set.head != nil),
            ],
            "interrupted": .bool(checkpoint != nil), "checkpoint": checkpoint.map(JSONValue.string) ?? .null,
        ]
    }

    func printText() {
        func metrics(_ entry: LogEntry) -> String { entry.evalMetrics.map { ", \($0.name) \(String(format: "%.4f", $0.value))" }.joined() }
        Output.line(
            "trained:    \(state.step) steps in \(String(format: "%.1f", state.elapsed)) s"
                + (state.log.last?.trainLoss.map { String(format: ", last loss %.4f", $0) } ?? ""))
        if let best, let loss = best.evalLoss {
            Output.line("best eval:  step \(best.step), loss \(String(format: "%.4f", loss))" + metrics(best))
        }
        if let last = lastEval, let loss = last.evalLoss {
            Output.line("last eval:  step \(last.step), loss \(String(format: "%.4f", loss))" + metrics(last))
        }
        Output.line(
            "adapter:    \(output)/ (\(kept) state; \(set.modules.count) modules, \(Output.grouped(set.parameterCount)) adapter parameters"
                + (set.head != nil ? ", trained head)" : ")"))
    }
}
