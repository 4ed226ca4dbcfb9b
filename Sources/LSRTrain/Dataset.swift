import LSRFormats

// Text data for training, evaluation and prediction: JSON Lines, CSV and TSV files (the GLUE
// files as distributed included) read into examples of text, optional pair and optional label,
// and labels resolved to the class ids or regression targets of a model.

// MARK: - Examples

/// A label as written in the file, before it is matched to a model's labels.
public enum LabelValue: Sendable, Hashable, CustomStringConvertible {
    /// A JSON string, or CSV/TSV text that is not a number ("entailment", "1" in JSON).
    case name(String)
    /// A JSON integer, or CSV/TSV text that parses as `Int` ("0", "-3").
    case integer(Int)
    /// A JSON non-integer number, or CSV/TSV text that parses as a finite `Double` ("3.800").
    case real(Double)

    /// The label that CSV/TSV `text` stands for: an integer if it parses as one, else a real if
    /// it is a finite number, else a name ("nan" and "inf" are names).
    public init(text: String) {
        if let integer = Int(text) {
            self = .integer(integer)
        } else if let real = Double(text), real.isFinite {
            self = .real(real)
        } else {
            self = .name(text)
        }
    }

    /// "name" or "number", for messages.
    public var kind: String {
        if case .name = self { "name" } else { "number" }
    }

    public var description: String {
        switch self {
        case .name(let s): "\"\(s)\""
        case .integer(let i): "\(i)"
        case .real(let d): "\(d)"
        }
    }
}

/// One example as read from a data file.
public struct Example: Sendable, Equatable {
    public var text: String
    public var pair: String?
    /// Nil when the file has no label field, or this row's label is empty or null.
    public var label: LabelValue?
    /// The 1-based physical line where the example's row starts (a CSV record may span lines).
    public var line: Int

    public init(text: String, pair: String? = nil, label: LabelValue? = nil, line: Int) {
        self.text = text
        self.pair = pair
        self.label = label
        self.line = line
    }
}

// MARK: - Formats and fields

/// How a data file is laid out.
public enum DataFormat: Sendable, Equatable, CustomStringConvertible {
    /// JSON Lines: one JSON object per line; blank lines are skipped.
    case jsonl
    /// RFC 4180 comma-separated values with a header row: quoted fields may hold commas, line
    /// breaks and doubled quotes; records end at "\n" or "\r\n".
    case csv
    /// Tab-separated values with a header row, one record per line, quotes not special.
    case tsv
    /// Tab-separated values without a header row; `columns` names the columns in order.
    case tsvHeaderless(columns: [String])

    /// CoLA's train.tsv and dev.tsv: no header; source, label, original label ("*" or empty),
    /// sentence (GLUE's CoLA; transformers' ColaProcessor reads text at index 3, label at 1).
    public static let cola = DataFormat.tsvHeaderless(columns: ["source", "label", "original_label", "sentence"])

    /// The names `init?(name:)` accepts, for help texts.
    public static let names = ["jsonl", "json", "csv", "tsv", "cola"]

    /// A format by name: "jsonl" (or "json"), "csv", "tsv", or "cola" for CoLA's headerless TSV.
    public init?(name: String) {
        switch name.lowercased() {
        case "jsonl", "json", "ndjson": self = .jsonl
        case "csv": self = .csv
        case "tsv": self = .tsv
        case "cola": self = .cola
        default: return nil
        }
    }

    /// The format that a file's extension names (case-insensitive): .jsonl, .json and .ndjson
    /// are JSON Lines, .csv is CSV, .tsv is TSV with a header. Nil for anything else.
    public init?(extensionOf path: String) {
        let name = FileSystem.baseName(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "jsonl", "json", "ndjson": self = .jsonl
        case "csv": self = .csv
        case "tsv": self = .tsv
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .jsonl: "jsonl"
        case .csv: "csv"
        case .tsv: "tsv"
        case .tsvHeaderless(let columns): self == .cola ? "cola" : "tsv (no header: \(columns.joined(separator: ", ")))"
        }
    }
}

/// Which field is which: nil picks the defaults below, a name must exist in the file.
///
/// The rule, applied to the header of a CSV/TSV file or the keys of all JSON Lines objects:
/// - text: the first present of `text`, `sentence`, `sentence1`, `question`, `question1`,
///   `#1 String`, `premise`; except that when `question` and `sentence` are both present and
///   `text` is not (QNLI), `question` is the text.
/// - pair: the partner of the text field when present: `text`→`text_pair`,
///   `sentence1`→`sentence2`, `question`→`sentence`, `question1`→`question2`,
///   `#1 String`→`#2 String`, `premise`→`hypothesis`; `sentence` has none. This also holds when
///   the text field is named explicitly, so `text: "question"` on QNLI still reads the pair.
/// - label: the first present of `label`, `gold_label`, `Quality`, `is_duplicate`, `score`.
///
/// GLUE task files as distributed (train/dev; test files lack the label column):
/// SST-2 `sentence, label`; CoLA (`DataFormat.cola`) `sentence, label`; MRPC
/// `#1 String, #2 String, Quality`; QNLI `question, sentence, label`; QQP
/// `question1, question2, is_duplicate`; RTE and WNLI `sentence1, sentence2, label`; MNLI
/// `sentence1, sentence2, gold_label`; STS-B `sentence1, sentence2, score`. The Hugging Face
/// hub's GLUE exports (`sentence`, `sentence1/2`, `question/sentence`, `question1/2`,
/// `premise/hypothesis`, `label`) resolve the same way.
public struct FieldSelection: Sendable, Equatable {
    public var text: String?
    public var pair: String?
    public var label: String?

    public init(text: String? = nil, pair: String? = nil, label: String? = nil) {
        self.text = text
        self.pair = pair
        self.label = label
    }

    /// Text field names tried in order (see the rule above for QNLI).
    public static let defaultTextFields = ["text", "sentence", "sentence1", "question", "question1", "#1 String", "premise"]
    /// The pair field that goes with each text field.
    public static let defaultPairFields: [String: String] = [
        "text": "text_pair", "sentence1": "sentence2", "question": "sentence", "question1": "question2",
        "#1 String": "#2 String", "premise": "hypothesis",
    ]
    /// Label field names tried in order.
    public static let defaultLabelFields = ["label", "gold_label", "Quality", "is_duplicate", "score"]

    /// The names to read given the fields a file has (`available`, in file order).
    func resolve(
        available: [String], labels: LabelRequirement, file: String, line: Int
    ) throws(DatasetError) -> DatasetFields {
        let present = Set(available)
        func explicit(_ name: String, _ role: FieldRole) throws(DatasetError) -> String {
            guard present.contains(name) else {
                throw .missingField(file: file, line: line, role: role, field: name, available: available)
            }
            return name
        }
        let text: String
        if let name = self.text {
            text = try explicit(name, .text)
        } else if present.contains("question"), present.contains("sentence"), !present.contains("text") {
            text = "question"
        } else if let found = Self.defaultTextFields.first(where: present.contains) {
            text = found
        } else {
            throw .noDefaultField(file: file, line: line, role: .text, tried: Self.defaultTextFields, available: available)
        }
        let pair: String?
        if let name = self.pair {
            pair = try explicit(name, .pair)
        } else {
            pair = Self.defaultPairFields[text].flatMap { present.contains($0) ? $0 : nil }
        }
        var label: String?
        if let name = self.label {
            label = try explicit(name, .label)
        } else {
            label = Self.defaultLabelFields.first(where: present.contains)
            if label == nil, labels == .required {
                throw .noDefaultField(file: file, line: line, role: .label, tried: Self.defaultLabelFields, available: available)
            }
        }
        return DatasetFields(text: text, pair: pair, label: label)
    }
}

/// The part a field plays in an example, for messages.
public enum FieldRole: String, Sendable {
    case text, pair, label
}

/// The field names a dataset was actually read from.
public struct DatasetFields: Sendable, Equatable {
    public var text: String
    public var pair: String?
    public var label: String?

    public init(text: String, pair: String? = nil, label: String? = nil) {
        self.text = text
        self.pair = pair
        self.label = label
    }
}

/// Whether every example must carry a label: training and evaluation need one, prediction not.
public enum LabelRequirement: Sendable {
    case optional, required
}

/// The examples of one data file and how they were read.
public struct Dataset: Sendable, Equatable {
    public var path: String
    public var format: DataFormat
    public var fields: DatasetFields
    public var examples: [Example]

    public init(path: String, format: DataFormat, fields: DatasetFields, examples: [Example]) {
        self.path = path
        self.format = format
        self.fields = fields
        self.examples = examples
    }
}

// MARK: - Errors

/// Why a data file could not be read, or its labels not matched to a model. Every case names the
/// file; lines are 1-based physical lines (where the row starts), offsets bytes from the start
/// of the file.
public enum DatasetError: Error, Equatable, Sendable {
    /// The file could not be opened or mapped.
    case unreadable(FileError)
    /// No format given and the extension names none.
    case unknownFormat(file: String)
    /// Standard input (`-`) without a format: it has no extension to tell one.
    case formatRequired(file: String)
    /// Standard input holding more than `limit` bytes (it is read into memory; a file is mapped).
    case inputTooLarge(file: String, limit: Int)
    /// Nothing but a byte-order mark and blank lines: no header row, no examples.
    case emptyFile(file: String)
    /// A header row and no examples.
    case noExamples(file: String)
    /// The bytes at `offset` are not UTF-8.
    case invalidUTF8(file: String, line: Int, offset: Int)
    /// The row starting at `offset` is longer than the limit.
    case rowTooLong(file: String, line: Int, offset: Int, limit: Int)
    /// A JSON Lines line is not JSON; `offset` is where the parser stopped.
    case invalidJSON(file: String, line: Int, offset: Int, reason: String)
    /// A JSON Lines line holds a JSON value that is not an object.
    case notAnObject(file: String, line: Int, kind: String)
    /// A field named explicitly (or the text field on a later JSON line) is absent.
    case missingField(file: String, line: Int, role: FieldRole, field: String, available: [String])
    /// No field given and none of the default names is present.
    case noDefaultField(file: String, line: Int, role: FieldRole, tried: [String], available: [String])
    /// A JSON field of the wrong type (text not a string, label neither string nor number).
    case wrongType(file: String, line: Int, field: String, expected: String, found: String)
    /// A CSV/TSV header names the same column twice.
    case duplicateColumn(file: String, line: Int, column: String)
    /// A CSV/TSV row (starting at `offset`) with a different number of columns than the header.
    case columnCount(file: String, line: Int, offset: Int, expected: Int, found: Int)
    /// A quoted CSV field, opened at `offset`, that the file never closes.
    case unterminatedQuote(file: String, line: Int, offset: Int)
    /// A character other than a delimiter or line end right after a closing quote.
    case textAfterQuote(file: String, line: Int, offset: Int)
    /// An example without a label where one is required (`field` nil: the file has no label field).
    case missingLabel(file: String, line: Int, field: String?)
    /// An integer label (or one the label map gives) outside 0..<numLabels.
    case labelOutOfRange(file: String, line: Int, value: LabelValue, numLabels: Int)
    /// A name that is neither in the model's label map nor an integer.
    case unknownLabel(file: String, line: Int, value: LabelValue, known: [String])
    /// A real-valued label for a classifier (regression heads have exactly one label).
    case realLabelForClassifier(file: String, line: Int, value: LabelValue, numLabels: Int)
    /// A regression target that is not a finite number within the range of `Float`.
    case invalidRegressionTarget(file: String, line: Int, value: LabelValue)
    /// A model label count below 1.
    case invalidLabelCount(file: String, numLabels: Int)
    /// Class labels of both kinds in one file: names and numbers (JSON "positive" and 1).
    case mixedLabelKinds(file: String, line: Int, value: LabelValue, firstLine: Int, firstValue: LabelValue)
}

extension DatasetError: CustomStringConvertible {
    public var description: String {
        func list(_ names: [String]) -> String {
            names.isEmpty ? "none" : names.map { "\"\($0)\"" }.joined(separator: ", ")
        }
        return switch self {
        case .unreadable(let e): "\(e)"
        case .unknownFormat(let f): "\(f): cannot tell the data format from the extension; expected .jsonl, .json, .csv or .tsv, or name the format"
        case .formatRequired(let f): "\(f): standard input has no extension to tell the data format; name the format (\(DataFormat.names.joined(separator: ", ")))"
        case .inputTooLarge(let f, let m): "\(f): more than \(m) bytes; give larger data as a file"
        case .emptyFile(let f): "\(f): the file is empty: no header row and no examples"
        case .noExamples(let f): "\(f): the file has a header row but no examples"
        case .invalidUTF8(let f, let l, let o): "\(f): line \(l): invalid UTF-8 at byte \(o)"
        case .rowTooLong(let f, let l, let o, let m): "\(f): line \(l): the row at byte \(o) is longer than \(m) bytes"
        case .invalidJSON(let f, let l, let o, let r): "\(f): line \(l): invalid JSON at byte \(o): \(r)"
        case .notAnObject(let f, let l, let k): "\(f): line \(l): the line is a JSON \(k), expected an object"
        case .missingField(let f, let l, let role, let name, let a):
            "\(f): line \(l): no field \"\(name)\" (\(role.rawValue)); available: \(list(a))"
        case .noDefaultField(let f, let l, let role, let t, let a):
            "\(f): line \(l): no \(role.rawValue) field among \(list(t)); available: \(list(a))"
        case .wrongType(let f, let l, let name, let e, let k): "\(f): line \(l): field \"\(name)\" is a JSON \(k), expected \(e)"
        case .duplicateColumn(let f, let l, let c): "\(f): line \(l): column \"\(c)\" appears twice in the header"
        case .columnCount(let f, let l, let o, let e, let n): "\(f): line \(l): row at byte \(o) has \(n) columns, expected \(e)"
        case .unterminatedQuote(let f, let l, let o): "\(f): line \(l): the quoted field opened at byte \(o) is never closed"
        case .textAfterQuote(let f, let l, let o): "\(f): line \(l): unexpected character after a closing quote at byte \(o)"
        case .missingLabel(let f, let l, let name):
            name.map { "\(f): line \(l): the example has no label (field \"\($0)\" is empty or absent)" }
                ?? "\(f): line \(l): the example has no label (the file has no label field)"
        case .labelOutOfRange(let f, let l, let v, let n): "\(f): line \(l): label \(v) is outside 0..<\(n) (the model has \(n) labels)"
        case .unknownLabel(let f, let l, let v, let k):
            "\(f): line \(l): label \(v) is not one of the model's labels (\(list(k))) nor an integer class id"
        case .realLabelForClassifier(let f, let l, let v, let n):
            "\(f): line \(l): label \(v) is a real number, but the model classifies into \(n) labels (regression has 1)"
        case .invalidRegressionTarget(let f, let l, let v): "\(f): line \(l): regression target \(v) is not a finite number"
        case .invalidLabelCount(let f, let n): "\(f): the model's label count \(n) is not positive"
        case .mixedLabelKinds(let f, let l, let v, let fl, let fv):
            "\(f): line \(l): label \(v) is a \(v.kind), but line \(fl) has \(v.kind == "name" ? "a number" : "a name") (\(fv)): one file holds one kind of class label"
        }
    }
}

// MARK: - Loading

/// Reads data files into datasets.
public enum DataSource {
    /// Longest row accepted, in bytes without its line end. Real rows are at most a few
    /// kilobytes (MNLI's parse trees); the limit turns a missing quote or a binary file into an
    /// error instead of one huge field.
    public static let maxRowBytes = 16 << 20

    /// Reads `path` as `format` (nil: from the extension), picking fields by `fields`.
    /// A UTF-8 byte-order mark at the start is skipped; the whole file is checked to be UTF-8
    /// first. With `labels: .required` every example must carry a label. `path` "-" reads
    /// standard input (DataStandardInput.swift), which then needs `format`; errors name it
    /// `<stdin>`.
    public static func load(
        path: String, format: DataFormat? = nil, fields: FieldSelection = .init(),
        labels: LabelRequirement = .optional, maxRowBytes: Int = DataSource.maxRowBytes
    ) throws(DatasetError) -> Dataset {
        if path == standardInputPath {
            guard let format else { throw .formatRequired(file: standardInputName) }
            let bytes = try standardInput.get()
            return try bytes.withUnsafeBytes { raw in
                Result { () throws(DatasetError) in
                    try parse(raw, name: standardInputName, format: format, fields: fields, labels: labels, maxRowBytes: maxRowBytes)
                }
            }.get()
        }
        guard let format = format ?? DataFormat(extensionOf: path) else { throw .unknownFormat(file: path) }
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .unreadable(error) }
        defer { withExtendedLifetime(file) {} }
        guard let bytes = file.view(offset: 0, count: file.size) else {
            throw .unreadable(.system(path: path, operation: "mmap", message: "no view of \(file.size) bytes"))
        }
        return try parse(bytes, name: path, format: format, fields: fields, labels: labels, maxRowBytes: maxRowBytes)
    }

    /// The examples in `bytes`, a whole file's (or standard input's) contents; errors name `name`.
    static func parse(
        _ bytes: UnsafeRawBufferPointer, name path: String, format: DataFormat, fields: FieldSelection, labels: LabelRequirement,
        maxRowBytes: Int
    ) throws(DatasetError) -> Dataset {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let start = bytes.starts(with: bom) ? bom.count : 0
        if let bad = DelimitedText.firstInvalidUTF8(bytes, from: start) {
            let line = 1 + bytes[0..<bad].reduce(0) { $0 + ($1 == DelimitedText.lineFeed ? 1 : 0) }
            throw .invalidUTF8(file: path, line: line, offset: bad)
        }
        var reader = Reader(
            path: path, labels: labels, records: DelimitedText(bytes: bytes, start: start, maxRowBytes: maxRowBytes))
        let (resolved, examples) =
            switch format {
            case .jsonl: try reader.readJSONLines(fields: fields)
            case .csv: try reader.readDelimited(delimiter: UInt8(ascii: ","), quoted: true, columns: nil, fields: fields)
            case .tsv: try reader.readDelimited(delimiter: UInt8(ascii: "\t"), quoted: false, columns: nil, fields: fields)
            case .tsvHeaderless(let columns):
                try reader.readDelimited(delimiter: UInt8(ascii: "\t"), quoted: false, columns: columns, fields: fields)
            }
        return Dataset(path: path, format: format, fields: resolved, examples: examples)
    }
}

/// One pass over one file's bytes.
private struct Reader {
    let path: String
    let labels: LabelRequirement
    var records: DelimitedText

    private func located(_ error: DelimitedText.SplitError) -> DatasetError {
        switch error {
        case .unterminatedQuote(let l, let o): .unterminatedQuote(file: path, line: l, offset: o)
        case .textAfterQuote(let l, let o): .textAfterQuote(file: path, line: l, offset: o)
        case .rowTooLong(let l, let o): .rowTooLong(file: path, line: l, offset: o, limit: records.maxRowBytes)
        }
    }

    private mutating func nextLine() throws(DatasetError) -> DelimitedText.Line? {
        do { return try records.nextLine() } catch { throw located(error) }
    }

    private mutating func nextRecord(delimiter: UInt8, quoted: Bool) throws(DatasetError) -> DelimitedText.Record? {
        if quoted {
            do { return try records.nextRecord(delimiter: delimiter) } catch { throw located(error) }
        }
        // Unquoted: one record per line, empty lines skipped.
        while let line = try nextLine() {
            if line.range.isEmpty { continue }
            return DelimitedText.Record(fields: records.split(line, on: delimiter), line: line.line, offset: line.range.lowerBound)
        }
        return nil
    }

    private func checkLabel(_ label: LabelValue?, field: String?, line: Int) throws(DatasetError) {
        if label == nil, labels == .required { throw .missingLabel(file: path, line: line, field: field) }
    }

    // MARK: JSON Lines

    /// Fields are resolved from the union of all objects' keys, in first-seen order (JSON Lines
    /// has no header, and optional keys such as a pair or a label are often absent from the
    /// first rows). Every object must hold the text as a string; pair (string) and label
    /// (string or number) may be absent or null.
    mutating func readJSONLines(fields selection: FieldSelection) throws(DatasetError) -> (DatasetFields, [Example]) {
        var objects: [(line: Int, object: JSONObject)] = []
        var keys: [String] = []
        var seen = Set<String>()
        while let line = try nextLine() {
            let text = UnsafeRawBufferPointer(rebasing: records.bytes[line.range])
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let value: JSONValue
            do { value = try JSON.parse(text) } catch {
                let (offset, reason) = Self.explain(error)
                throw .invalidJSON(file: path, line: line.line, offset: line.range.lowerBound + offset, reason: reason)
            }
            guard case .object(let object) = value else {
                throw .notAnObject(file: path, line: line.line, kind: value.kindName)
            }
            for key in object.keys where seen.insert(key).inserted { keys.append(key) }
            objects.append((line.line, object))
        }
        guard let first = objects.first else { throw .emptyFile(file: path) }
        let names = try selection.resolve(available: keys, labels: labels, file: path, line: first.line)
        var examples: [Example] = []
        examples.reserveCapacity(objects.count)
        for (line, object) in objects {
            guard let textValue = object[names.text] else {
                throw .missingField(file: path, line: line, role: .text, field: names.text, available: object.keys)
            }
            guard case .string(let exampleText) = textValue else {
                throw .wrongType(file: path, line: line, field: names.text, expected: "string", found: textValue.kindName)
            }
            var pair: String?
            if let name = names.pair, let value = object[name] {
                switch value {
                case .string(let s): pair = s
                case .null: pair = nil
                default: throw .wrongType(file: path, line: line, field: name, expected: "string", found: value.kindName)
                }
            }
            var label: LabelValue?
            if let name = names.label, let value = object[name] {
                // An integer beyond Int (only above 2⁶³ − 1 here) can be no class id: kept as a real.
                switch value {
                case .string(let s): label = .name(s)
                case .int(let i): label = .integer(Int(i))
                case .uint(let u): label = .real(Double(u))
                case .double(let d): label = .real(d)
                case .null: label = nil
                default:
                    throw .wrongType(file: path, line: line, field: name, expected: "string or number", found: value.kindName)
                }
            }
            try checkLabel(label, field: names.label, line: line)
            examples.append(Example(text: exampleText, pair: pair, label: label, line: line))
        }
        return (names, examples)
    }

    /// The byte offset (within the line) and a reason without offset, for one JSON error.
    private static func explain(_ error: JSONError) -> (Int, String) {
        switch error {
        case .syntax(let o, let d): (o, d)
        case .truncated(let o): (o, "the line ends inside a value")
        case .trailingCharacters(let o): (o, "unexpected data after the JSON value")
        case .tooDeep(let o): (o, "nested deeper than \(JSON.maxDepth) levels")
        case .duplicateKey(let k, let o): (o, "duplicate key \"\(k)\"")
        case .integerOutOfRange(let s, let o): (o, "integer \(s) does not fit in 64 bits")
        case .nonFiniteNumber(let o): (o, "non-finite number")
        case .invalidUTF8(let o): (o, "invalid UTF-8")
        case .tooLarge(let b, let l): (0, "\(b) bytes exceed the limit of \(l)")
        }
    }

    // MARK: CSV and TSV

    /// Reads a header row (or takes `columns`), then one example per record; every record must
    /// have as many fields as the header. An empty label cell is no label.
    mutating func readDelimited(
        delimiter: UInt8, quoted: Bool, columns: [String]?, fields selection: FieldSelection
    ) throws(DatasetError) -> (DatasetFields, [Example]) {
        guard let first = try nextRecord(delimiter: delimiter, quoted: quoted) else { throw .emptyFile(file: path) }
        // Without a header the first record is already an example.
        let names = columns ?? first.fields.map(records.string)
        var pending = columns == nil ? nil : first
        let headerLine = first.line
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() where index.updateValue(i, forKey: name) != nil {
            throw .duplicateColumn(file: path, line: headerLine, column: name)
        }
        let fields = try selection.resolve(available: names, labels: labels, file: path, line: headerLine)
        let textColumn = index[fields.text]!
        let pairColumn = fields.pair.map { index[$0]! }
        let labelColumn = fields.label.map { index[$0]! }

        var examples: [Example] = []
        while true {
            let record: DelimitedText.Record
            if let first = pending {
                record = first
                pending = nil
            } else if let next = try nextRecord(delimiter: delimiter, quoted: quoted) {
                record = next
            } else {
                break
            }
            guard record.fields.count == names.count else {
                throw .columnCount(
                    file: path, line: record.line, offset: record.offset, expected: names.count, found: record.fields.count)
            }
            let text = records.string(record.fields[textColumn])
            let pair = pairColumn.map { records.string(record.fields[$0]) }
            var label: LabelValue?
            if let labelColumn {
                let cell = record.fields[labelColumn]
                if cell.end > cell.start { label = LabelValue(text: records.string(cell)) }
            }
            try checkLabel(label, field: fields.label, line: record.line)
            examples.append(Example(text: text, pair: pair, label: label, line: record.line))
        }
        guard !examples.isEmpty else { throw .noExamples(file: path) }
        return (fields, examples)
    }
}

// MARK: - Labels

/// What a model trains on: class ids for a classifier, targets for a regression head.
public enum LabelTargets: Sendable, Equatable {
    case classes([Int])
    case regression([Float])
}

extension Dataset {
    /// Matches every example's label to a model with `numLabels` outputs and the label map of
    /// its config (`label2id`): one output is regression (as transformers' problem_type
    /// inference for num_labels == 1), more are classes.
    public func resolveLabels(label2id: [String: Int], numLabels: Int) throws(DatasetError) -> LabelTargets {
        guard numLabels >= 1 else { throw .invalidLabelCount(file: path, numLabels: numLabels) }
        if numLabels == 1 { return .regression(try regressionTargets()) }
        return .classes(try classIDs(label2id: label2id, numLabels: numLabels))
    }

    /// Class ids in 0..<numLabels. A name is looked up in `label2id`, then without regard to
    /// case when that is unambiguous (GLUE writes "entailment", roberta-large-mnli's config
    /// "ENTAILMENT"), then read as an integer ("1" in a JSON file). Integers are ids; reals are
    /// refused (regression only).
    public func classIDs(label2id: [String: Int], numLabels: Int) throws(DatasetError) -> [Int] {
        guard numLabels >= 1 else { throw .invalidLabelCount(file: path, numLabels: numLabels) }
        // The model's names in id order, for messages.
        let known = label2id.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        var folded: [String: Int?] = [:]  // nil: two names differ only in case
        for (name, id) in label2id {
            let key = name.lowercased()
            folded[key] = folded[key] == nil ? id : .some(nil)
        }
        func lookup(_ name: String) -> Int? {
            if let id = label2id[name] { return id }
            if let unique = folded[name.lowercased()], let id = unique { return id }
            return Int(name)
        }
        var ids: [Int] = []
        ids.reserveCapacity(examples.count)
        var first: (line: Int, value: LabelValue)?
        for example in examples {
            guard let label = example.label else { throw .missingLabel(file: path, line: example.line, field: fields.label) }
            // Names and class ids mixed in one file are most likely two files joined, or a
            // label column misread: refused rather than guessed.
            if let first, first.value.kind != label.kind {
                throw .mixedLabelKinds(file: path, line: example.line, value: label, firstLine: first.line, firstValue: first.value)
            }
            if first == nil { first = (example.line, label) }
            let id: Int
            switch label {
            case .integer(let i): id = i
            case .name(let s):
                guard let found = lookup(s) else {
                    throw .unknownLabel(file: path, line: example.line, value: label, known: known)
                }
                id = found
            case .real:
                throw .realLabelForClassifier(file: path, line: example.line, value: label, numLabels: numLabels)
            }
            guard (0..<numLabels).contains(id) else {
                throw .labelOutOfRange(file: path, line: example.line, value: label, numLabels: numLabels)
            }
            ids.append(id)
        }
        return ids
    }

    /// Regression targets: numbers, or names that read as numbers ("3.8" in a JSON file).
    public func regressionTargets() throws(DatasetError) -> [Float] {
        var targets: [Float] = []
        targets.reserveCapacity(examples.count)
        for example in examples {
            guard let label = example.label else { throw .missingLabel(file: path, line: example.line, field: fields.label) }
            let value: Double? =
                switch label {
                case .integer(let i): Double(i)
                case .real(let d): d
                case .name(let s): Double(s)
                }
            // Finite as a double can still overflow Float (1e39).
            guard let value, Float(value).isFinite else {
                throw .invalidRegressionTarget(file: path, line: example.line, value: label)
            }
            targets.append(Float(value))
        }
        return targets
    }
}
