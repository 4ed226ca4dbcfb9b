import ArgumentParser
import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTokenizers
import LSRTrain

/// `lsrconv predict --model DIR [--adapter DIR] (--text S [--pair S] | --data FILE [--out FILE]) [--json]`.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify texts with a RoBERTa sequence classifier.",
        discussion: """
            With --text (and --pair) one example is classified; with --data every row of a JSON Lines, \
            CSV or TSV file, written as JSON Lines to --out (or stdout). Labels are the config's id2label \
            names. Rows are batched by length; results keep the input order. --adapter runs the model with an \
            adapter attached (and its trained head), as merging it would, without writing a merged copy; the \
            model may then be a pretrained checkpoint without a head. --json: with --text, one JSON document; \
            with --data the output is JSON Lines (one document per row) either way, and with --out a JSON \
            summary. --data - reads standard input (give --format). An existing --out is replaced only with --force.

            Examples:
              lsrconv predict --model sst2-merged --text "a gripping, well-shot film"
              lsrconv predict --model roberta-base --adapter sst2 --text "dull" --json
              lsrconv predict --model sst2-merged --data dev.tsv --out dev.jsonl --force
              jq -c '{text: .review}' reviews.jsonl | \\
                  lsrconv predict --model sst2-merged --data - --format jsonl
            """)

    @Option(help: "Model directory or checkpoint (config.json beside it).")
    var model: String

    @Option(help: "Adapter directory (lsrconv factor file) to attach, with its head: the logits merging it would give.")
    var adapter: String?

    @Option(help: "Tokenizer directory (tokenizer.json, or vocab.json + merges.txt); default: the model's.")
    var tokenizer: String?

    @Option(help: "Text to classify.")
    var text: String?

    @Option(help: "Second segment of a sentence pair (with --text).")
    var pair: String?

    @Option(help: "Data file to classify (.jsonl, .csv, .tsv); - reads standard input (with --format).")
    var data: String?

    @Option(help: "Data format when the extension does not say: \(DataFormat.names.joined(separator: ", ")).")
    var format: String?

    @Option(help: "Field holding the text (default: text, sentence, sentence1, question, ...).")
    var textField: String?

    @Option(help: "Field holding the second segment (default: the text field's partner, e.g. sentence2).")
    var pairField: String?

    @Option(help: "Where to write predictions for --data (JSON Lines; default: stdout).")
    var out: String?

    @Option(help: .init(DataOptions.maxLengthHelp))
    var maxLength: Int?

    @Option(help: "Examples per forward pass.")
    var batchSize = 32

    @Option(help: "Threads for BLAS and elementwise kernels (default: all cores).")
    var threads: Int?

    @Flag(help: "Replace an existing --out file.")
    var force = false

    @Flag(help: "With --text: one JSON document instead of text; with --out: a JSON summary (--data always writes JSON Lines).")
    var json = false

    func validate() throws {
        guard (text == nil) != (data == nil) else { throw ValidationError("give exactly one of --text and --data") }
        if pair != nil && text == nil { throw ValidationError("--pair goes with --text") }
        if out != nil && data == nil { throw ValidationError("--out goes with --data") }
        if force && out == nil { throw ValidationError("--force goes with --out") }
        try DataOptions.validate(data: "--data", data, format: format)
        if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if let out {
            try refuseOverlap(output: out, inputs: [model, data == DataSource.standardInputPath ? nil : data, adapter])
            try Outputs.refuseExisting(out, force: force)
        }
        if let threads { Engine.setThreads(threads) }
        var roberta = try reporting(path: model) { try RobertaModel.load(model) }
        var adapterLabels: [Int: String]?
        if let adapter {
            let set = try reporting(path: adapter) { try AdapterFile.read(adapter) }
            roberta = try reporting(path: adapter) { try set.model(on: roberta) }
            adapterLabels = set.head?.id2label
        }
        guard roberta.weights.classifier != nil else {
            throw CommandFailure(
                message: "\(model): no sequence-classification head (classifier.*)"
                    + (adapter.map { "; \($0) carries none either: nothing to predict with" } ?? " and no --adapter with one: nothing to predict with"))
        }
        let tokenizerDirectory = DataOptions.tokenizerDirectory(tokenizer, model: model)
        let tok = try reporting(path: tokenizerDirectory) { try Tokenizer.load(directory: tokenizerDirectory) }

        var inputs: [(text: String, pair: String?)] = []
        var lines: [Int] = []
        if let text {
            inputs = [(text, pair)]
        } else if let data {
            let dataFormat = try DataOptions.format(format)
            let dataset = try reporting(path: DataOptions.displayName(data)) {
                try DataSource.load(path: data, format: dataFormat, fields: FieldSelection(text: textField, pair: pairField))
            }
            inputs = dataset.examples.map { ($0.text, $0.pair) }
            lines = dataset.examples.map(\.line)
        }
        let length = DataOptions.maxLength(maxLength, limit: roberta.maxTokens)
        let results = try reporting(path: data.map(DataOptions.displayName) ?? model) {
            try Prediction.run(model: roberta, tokenizer: tok, inputs: inputs, batchSize: batchSize, maxLength: length)
        }
        let names = labelNames(roberta, overriding: adapterLabels)
        let documents = results.map { document($0, names: names) }

        if let data {
            var text = ""
            for (i, var doc) in documents.enumerated() {
                doc["line"] = JSONValue(lines[i])
                text += JSON.serialize(.object(doc.sortedByKey()), style: .compact) + "\n"
            }
            if let out {
                try reporting(path: out) { try DurableFile.write(Array(text.utf8), to: out) }
                if json {
                    Output.json(["data": .string(DataOptions.displayName(data)), "examples": JSONValue(results.count), "output": .string(out)])
                } else {
                    Output.line("predicted \(results.count) examples → \(out)")
                }
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
            return
        }
        if json {
            Output.json(["predictions": .array(documents.map { .object($0) })])
            return
        }
        let result = results[0]
        if result.probabilities.isEmpty {
            Output.line("score:         \(result.logits[0])")
        } else {
            Output.line("label:         \(names[result.label]) (\(String(format: "%.4f", result.probabilities[result.label])))")
            Output.line("probabilities: " + zip(names, result.probabilities).map { "\($0) \(String(format: "%.4f", $1))" }.joined(separator: ", "))
        }
        Output.line("logits:        " + result.logits.map { String(format: "%.6f", $0) }.joined(separator: ", "))
    }

    /// id2label names (an adapter's head's first, then the config's), LABEL_i where neither has
    /// one (transformers' default).
    func labelNames(_ model: RobertaModel, overriding adapter: [Int: String]?) -> [String] {
        let count = model.weights.labelCount ?? 0
        return (0..<count).map { adapter?[$0] ?? model.config.id2label[$0] ?? "LABEL_\($0)" }
    }

    func document(_ result: Prediction.Result, names: [String]) -> JSONObject {
        if result.probabilities.isEmpty {
            return ["score": .double(Double(result.logits[0])), "logits": .array(result.logits.map { .double(Double($0)) })]
        }
        return [
            "label": .string(names[result.label]), "label_id": JSONValue(result.label),
            "probabilities": .array(result.probabilities.map { .double($0) }),
            "logits": .array(result.logits.map { .double(Double($0)) }),
        ]
    }
}
