import ArgumentParser
import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTokenizers
import LSRTrain

/// `lsrconv eval --model DIR --adapter DIR --data FILE [--json]`: loss and GLUE metrics of a
/// model with an adapter (and its trained head) on a labelled data file.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model with an adapter on a labelled data file: loss, accuracy, F1, MCC (or Pearson, Spearman).",
        discussion: """
            The adapter's trained head, if any, replaces the model's; labels are matched through its id2label \
            names (or the model config's). --data - reads standard input (give --format).

            Examples:
              lsrconv eval --model roberta-base --adapter sst2 --data dev.tsv
              lsrconv eval --model sst2-merged --data dev.jsonl --json
              lsrconv eval --model roberta-base --adapter cola --data dev.tsv --format cola
              head -n 200 dev.jsonl | lsrconv eval --model sst2-merged --data - \\
                  --format jsonl
            """)

    @Option(help: "Base model directory.") var model: String
    @Option(help: "Adapter directory (its trained head, if any, replaces the model's).") var adapter: String?
    @Option(help: "Labelled data file (.jsonl, .csv, .tsv); - reads standard input (with --format).") var data: String
    @Option(help: "Tokenizer directory (default: the model's).") var tokenizer: String?
    @Option(help: .init(DataOptions.maxLengthHelp)) var maxLength: Int?
    @Option(help: "Examples per forward pass.") var batchSize = 32
    @OptionGroup var dataOptions: LabelledDataOptions
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Print one JSON document instead of text.") var json = false

    func validate() throws {
        try DataOptions.validate(data: "--data", data, format: dataOptions.format)
        if let maxLength, maxLength < 4 { throw ValidationError("--max-length must be at least 4") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if let threads { Engine.setThreads(threads) }
        var base = try reporting(path: model) { try RobertaModel.load(model) }
        var id2label = base.config.id2label
        if let adapter {
            let set = try reporting(path: adapter) { try AdapterFile.read(adapter) }
            base = try reporting(path: adapter) { try set.model(on: base) }
            if let head = set.head { id2label = head.id2label }
        }
        guard let labels = base.weights.labelCount else {
            throw CommandFailure(
                message: "\(model): no sequence-classification head (classifier.*)"
                    + (adapter == nil ? " and no --adapter with one: nothing to evaluate" : "; \(adapter!) carries none either: nothing to evaluate"))
        }
        let tokenizerDirectory = DataOptions.tokenizerDirectory(tokenizer, model: model)
        let tok = try reporting(path: tokenizerDirectory) { try Tokenizer.load(directory: tokenizerDirectory) }
        let encoded = try DataOptions.labelled(
            data, format: try DataOptions.format(dataOptions.format), fields: dataOptions.fields,
            tokenizer: tok, model: base, labels: labels, id2label: id2label, maxLength: DataOptions.maxLength(maxLength, limit: base.maxTokens))
        let (loss, metrics) = try reporting(path: DataOptions.displayName(data)) { try Trainer.evaluate(base, encoded, batchSize: batchSize) }
        if json {
            var object: JSONObject = ["data": .string(DataOptions.displayName(data)), "examples": JSONValue(encoded.rows.count), "loss": .double(loss)]
            for m in metrics { object[m.name] = .double(m.value) }
            Output.json(.object(object))
            return
        }
        Output.line("examples: \(encoded.rows.count)")
        Output.line("loss:     \(String(format: "%.4f", loss))")
        for (name, value) in metrics.map({ ($0.name, $0.value) }) { Output.line("\(name + ":")" + String(repeating: " ", count: max(1, 9 - name.count)) + String(format: "%.4f", value)) }
    }
}
