import ArgumentParser
import LSRFormats
import LSRModel
import LSRTokenizers
import LSRTrain

/// The options naming a labelled data file's fields and format, shared by train and eval.
struct LabelledDataOptions: ParsableArguments {
    @Option(help: "Field holding the text.") var textField: String?
    @Option(help: "Field holding the second segment.") var pairField: String?
    @Option(help: "Field holding the label.") var labelField: String?
    @Option(help: "Data format when the extension does not say: \(DataFormat.names.joined(separator: ", ")).") var format: String?

    var fields: FieldSelection { FieldSelection(text: textField, pair: pairField, label: labelField) }
}

/// Reading data files the way predict, train and eval share: `--format` by name, the tokenizer
/// beside the model unless given, labels through the model's label names.
enum DataOptions {
    /// The --format value as a DataFormat (nil: from the extension).
    static func format(_ name: String?) throws -> DataFormat? {
        guard let name else { return nil }
        guard let format = DataFormat(name: name) else {
            throw CommandFailure(message: "--format '\(name)' is not one of \(DataFormat.names.joined(separator: ", "))")
        }
        return format
    }

    /// `--tokenizer`, else the model's directory.
    static func tokenizerDirectory(_ tokenizer: String?, model: String) -> String {
        tokenizer ?? (FileSystem.isDirectory(model) ? model : FileSystem.directoryName(model))
    }

    /// A labelled data file tokenised for `model` and its labels resolved through `id2label`
    /// (one label: regression targets). Errors name the file.
    static func labelled(
        _ path: String, format: DataFormat?, fields: FieldSelection, tokenizer: Tokenizer, model: RobertaModel, labels: Int,
        id2label: [Int: String], maxLength: Int
    ) throws -> Trainer.Encoded {
        var label2id: [String: Int] = [:]
        for (id, name) in id2label { label2id[name] = id }
        return try reporting(path: path) {
            let data = try DataSource.load(path: path, format: format, fields: fields, labels: .required)
            let rows = data.examples.map { tokenizer.encode($0.text, pair: $0.pair, maxLength: min(maxLength, model.maxTokens)) }
            switch try data.resolveLabels(label2id: label2id, numLabels: labels) {
            case .classes(let ids): return Trainer.Encoded(rows: rows, targets: .classes(ids))
            case .regression(let v): return Trainer.Encoded(rows: rows, targets: .values(v))
            }
        }
    }
}
