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

/// Reading data files the way predict, train and eval share: `--format` by name, `-` for
/// standard input, the tokenizer beside the model unless given, labels through the model's
/// label names, and one `--max-length` default.
enum DataOptions {
    /// The --format value as a DataFormat (nil: from the extension). An unknown name is a usage
    /// error (exit 64), wherever it is found.
    static func format(_ name: String?) throws -> DataFormat? {
        guard let name else { return nil }
        guard let format = DataFormat(name: name) else {
            throw ValidationError("--format '\(name)' is not one of \(DataFormat.names.joined(separator: ", "))")
        }
        return format
    }

    /// validate()'s check of a data option and --format: the format name is known, and `-`
    /// (standard input, which has no extension) comes with one.
    static func validate(data option: String, _ path: String?, format name: String?) throws {
        _ = try format(name)
        if path == DataSource.standardInputPath && name == nil {
            throw ValidationError("\(option) - reads standard input, which has no extension: give --format (\(DataFormat.names.joined(separator: ", ")))")
        }
    }

    /// How messages name a data path: `<stdin>` for `-`.
    static func displayName(_ path: String) -> String {
        path == DataSource.standardInputPath ? DataSource.standardInputName : path
    }

    /// `--max-length` when not given: 128 tokens, as train has always used (and transformers'
    /// GLUE example, run_glue.py's max_seq_length).
    static let defaultMaxLength = 128

    /// The help of every `--max-length`.
    static let maxLengthHelp = "Tokens per example after truncation, special tokens included (default: \(defaultMaxLength), or the model's limit if lower)."

    /// The tokens per example a command uses: `requested`, else 128, and never more than `limit`
    /// (the model's positions: RobertaModel.maxTokens, max_position_embeddings − padding_idx − 1;
    /// for a tokenizer alone its model_max_length). nil: no limit known.
    static func maxLength(_ requested: Int?, limit: Int?) -> Int {
        min(requested ?? defaultMaxLength, limit ?? Int.max)
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
        return try reporting(path: displayName(path)) {
            let data = try DataSource.load(path: path, format: format, fields: fields, labels: .required)
            let rows = data.examples.map { tokenizer.encode($0.text, pair: $0.pair, maxLength: min(maxLength, model.maxTokens)) }
            switch try data.resolveLabels(label2id: label2id, numLabels: labels) {
            case .classes(let ids): return Trainer.Encoded(rows: rows, targets: .classes(ids))
            case .regression(let v): return Trainer.Encoded(rows: rows, targets: .values(v))
            }
        }
    }
}
