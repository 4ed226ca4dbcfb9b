import ArgumentParser
import LSRAdapters
import LSRFormats
import LSRModel
import LSRSchema

/// `lsrconv validate PATH [--schema FILE|NAME] [--model DIR] [--json]`: an adapter directory
/// (schema, tensors, base model) or a JSON document against a schema.
///
/// The one command whose findings are its result: every problem goes to stdout (text or JSON)
/// and the exit status says whether PATH is valid. An invalid PATH still ends with one
/// `error:` line on stderr, as every failure does (DESIGN.md §3).
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an adapter directory, or a JSON file against a JSON Schema.",
        discussion: """
            An adapter directory is checked in three steps: adapter_config.json against the \
            lsr-adapter schema (every violation, with its JSON pointer); then, if that passes, the tensors \
            of adapter_model.safetensors against the config (presence, dtype, shape, finite values, \
            factor products); then, with --model, the base model: its sizes, every adapted module with its \
            shape, and (as a warning) the SHA-256 of its weight files. A JSON file is checked against \
            --schema, a bundled schema's name (`lsrconv schema` lists them) or a schema file; without \
            --schema, against the bundled schema its "$schema" names. A JSON Lines file (.jsonl, .ndjson, or \
            one document per line) has every non-blank line checked, each problem naming its line. Exit \
            status 0: valid; 1: invalid (the problems are still printed) or not checkable.

            Examples:
              lsrconv validate sst2-adapter --model roberta-base
              lsrconv validate predictions.jsonl --schema predict-line
              lsrconv validate report.json --schema my-schema.json --json
            """)

    @Argument(help: "An adapter directory, or a JSON or JSON Lines file.")
    var path: String

    @Option(help: "For a JSON file: a bundled schema's name (see `lsrconv schema`) or a schema file.")
    var schema: String?

    @Option(help: "For an adapter directory: the base model (directory or checkpoint) to check it against.")
    var model: String?

    @Flag(help: "Print one JSON document {path, valid, problems, warnings} instead of text.")
    var json = false

    func run() throws {
        let report: ValidationReport
        if FileSystem.isDirectory(path) {
            if schema != nil {
                throw CommandFailure(message: "\(path): --schema applies to a JSON file; an adapter directory is checked against lsr-adapter")
            }
            report = try validateAdapter(directory: path)
        } else {
            if model != nil { throw CommandFailure(message: "\(path): --model applies to an adapter directory, not to a file") }
            report = try validateDocument(file: path)
        }
        report.print(json: json)
        if !report.problems.isEmpty {
            throw CommandFailure(message: "\(path): invalid (\(ValidationReport.count(report.problems.count, "problem")))")
        }
    }

    // MARK: - Adapter directories

    /// The three steps of an adapter directory: schema, then tensors (only on a schema-valid
    /// config, which the tensor reader relies on), then the base model.
    func validateAdapter(directory: String) throws -> ValidationReport {
        var report = ValidationReport(path: path)
        let configPath = FileSystem.join(directory, AdapterFile.configName)
        guard FileSystem.exists(configPath) else {
            throw CommandFailure(
                message: "\(directory): no \(AdapterFile.configName): not an adapter directory (validate takes an adapter directory or a JSON file)")
        }
        let config: JSONValue
        switch try readJSON(configPath) {
        case .success(let value): config = value
        case .failure(let error):
            report.problems.append(Problem(location: AdapterFile.configName, message: error.description))
            return report
        }
        let adapterSchema = BundledSchemas.named("lsr-adapter")!  // bundled: always present
        report.problems += try compile(adapterSchema.document, source: adapterSchema.fileName).validate(config).map(Problem.init)
        guard report.problems.isEmpty else { return report }

        do { _ = try AdapterFile.read(directory) } catch { report.problems += Self.tensorProblems(error, directory: directory) }

        if let model { try checkBaseModel(config, model: model, into: &report) }
        return report
    }

    /// The problems `AdapterFile.read` reports (it gathers every tensor problem), each located
    /// by the tensor or pointer its error names.
    static func tensorProblems(_ error: any Error, directory: String) -> [Problem] {
        if let context = error as? FileContextError, case .several(let all)? = context.underlying as? AdapterFile.Error {
            return all.map { tensorProblem(FileContextError(path: context.path, underlying: $0), directory: directory) }
        }
        return [tensorProblem(error, directory: directory)]
    }

    /// One problem from `AdapterFile.read`, located by the tensor or pointer its error names.
    static func tensorProblem(_ error: any Error, directory: String) -> Problem {
        var underlying = error
        var file = AdapterFile.weightsName
        if let context = error as? FileContextError {
            underlying = context.underlying
            file = FileSystem.baseName(context.path)
        }
        if let adapterError = underlying as? AdapterFile.Error {
            switch adapterError {
            case .invalidConfig(let pointer, let reason), .productMismatch(let pointer, let reason):
                return Problem(location: pointer, message: reason)
            case .missingTensor(let tensor, let pointer):
                return Problem(location: tensor, message: "missing from \(AdapterFile.weightsName) (named at \(pointer))")
            case .unlistedTensor(let tensor):
                return Problem(location: tensor, message: "in \(AdapterFile.weightsName) but not named in \(AdapterFile.configName)")
            case .shapeMismatch(let tensor, let config, let found):
                return Problem(location: tensor, message: "has shape \(found) in \(AdapterFile.weightsName), the config says \(config)")
            case .nonFinite(let tensor, let index):
                return Problem(location: tensor, message: "holds a NaN or infinity at element \(index)")
            case .unsupportedDType(let tensor, let dtype):
                return Problem(location: tensor, message: "has dtype \(dtype.rawValue), expected a floating-point dtype")
            case .several:
                return Problem(location: file, message: "\(adapterError)")  // unpacked by tensorProblems
            }
        }
        // Other errors (no file, a malformed safetensors file) may start with the file's path.
        var message = "\(underlying)"
        let full = FileSystem.join(directory, file)
        if message.hasPrefix(full + ": ") { message.removeFirst(full.count + 2) }
        return Problem(location: file, message: message)
    }

    /// Step three: the base model's sizes and modules against the (schema-valid) config, and
    /// its weight files' SHA-256 against those recorded (a difference is a warning: the sizes
    /// fit, but it may be another model or version).
    func checkBaseModel(_ config: JSONValue, model: String, into report: inout ValidationReport) throws {
        let (checkpoint, modelConfig) = try reporting(path: model) { () throws -> (RobertaCheckpoint, RobertaConfig) in
            let checkpoint = try RobertaCheckpoint(Checkpoint.open(model))
            let directory = FileSystem.isDirectory(model) ? model : FileSystem.directoryName(model)
            return (checkpoint, try checkpoint.config(sourceDirectory: directory, configPath: nil).0)
        }
        let base = config["base_model"]
        let sizes = [
            ("hidden_size", modelConfig.hiddenSize), ("num_hidden_layers", modelConfig.numHiddenLayers),
            ("num_attention_heads", modelConfig.numAttentionHeads), ("intermediate_size", modelConfig.intermediateSize),
            ("vocab_size", modelConfig.vocabSize),
        ]
        for (key, value) in sizes {
            guard let recorded = base?[key]?.intValue, recorded != value else { continue }
            report.problems.append(Problem(location: "/base_model/\(key)", message: "the adapter was made for \(key) \(recorded), the model has \(value)"))
        }

        // Shapes under canonical names, as the model loader sees them.
        var shapes: [String: [Int]] = [:]
        let stored = Dictionary(checkpoint.archive.tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        for (from, to) in checkpoint.mapping.renamed { shapes[to] = stored[from] }
        for (i, module) in (config["modules"]?.arrayValue ?? []).enumerated() {
            guard let name = module["name"]?.stringValue else { continue }
            let weight = name + ".weight"
            guard let shape = shapes[weight], shape.count == 2 else {
                report.problems.append(Problem(location: "/modules/\(i)/name", message: "the model has no module '\(name)' (no tensor '\(weight)')"))
                continue
            }
            for (key, dimension) in [("out_features", shape[0]), ("in_features", shape[1])] {
                guard let recorded = module[key]?.intValue, recorded != dimension else { continue }
                report.problems.append(
                    Problem(location: "/modules/\(i)/\(key)", message: "\(key) is \(recorded), the model's '\(weight)' has shape \(shape)"))
            }
        }
        checkHead(config, hiddenSize: modelConfig.hiddenSize, into: &report)
        checkWeights(base?["weights"]?.arrayValue ?? [], modelFiles: checkpoint.archive.files, into: &report)
    }

    /// A trained head must fit the model's hidden size: dense [H, H] and [H], out_proj [labels, H].
    func checkHead(_ config: JSONValue, hiddenSize h: Int, into report: inout ValidationReport) {
        for (i, tensor) in (config["head"]?["tensors"]?.arrayValue ?? []).enumerated() {
            guard let name = tensor["tensor"]?.stringValue, let shape = tensor["shape"]?.arrayValue?.compactMap(\.intValue) else { continue }
            let fits: Bool
            switch name {
            case "classifier.dense.weight": fits = shape == [h, h]
            case "classifier.dense.bias": fits = shape == [h]
            case "classifier.out_proj.weight": fits = shape.count == 2 && shape[1] == h
            default: fits = true
            }
            if !fits {
                report.problems.append(
                    Problem(location: "/head/tensors/\(i)/shape", message: "'\(name)' has shape \(shape), which does not fit the model's hidden_size \(h)"))
            }
        }
    }

    /// Warnings where the model's weight files are not those the adapter records.
    func checkWeights(_ recorded: [JSONValue], modelFiles: [String], into report: inout ValidationReport) {
        let byName = Dictionary(modelFiles.map { (FileSystem.baseName($0), $0) }, uniquingKeysWith: { first, _ in first })
        guard !recorded.isEmpty else {
            report.warnings.append(Warning(location: "/base_model/weights", message: "the adapter records no base model weights: their identity is not checked"))
            return
        }
        var named = Set<String>()
        for (i, entry) in recorded.enumerated() {
            guard let file = entry["file"]?.stringValue, let sha256 = entry["sha256"]?.stringValue else { continue }
            named.insert(file)
            guard let path = byName[file] else {
                report.warnings.append(
                    Warning(location: "/base_model/weights/\(i)/file", message: "the model has no weight file '\(file)': its weights are not checked against the recorded sha256"))
                continue
            }
            guard let found = Self.sha256(ofFile: path) else {
                report.warnings.append(Warning(location: "/base_model/weights/\(i)/file", message: "cannot read '\(path)' to check its sha256"))
                continue
            }
            if found != sha256 {
                report.warnings.append(
                    Warning(
                        location: "/base_model/weights/\(i)/sha256",
                        message: "the model's \(file) has sha256 \(found), the adapter was made for \(sha256): another model, or another version of it"))
            }
        }
        for file in byName.keys.sorted() where !named.contains(file) {
            report.warnings.append(Warning(location: "/base_model/weights", message: "the model's weight file '\(file)' is not among those the adapter records"))
        }
    }

    /// SHA-256 of a whole file, read through its mapping; nil when it cannot be read.
    static func sha256(ofFile path: String) -> String? {
        guard let file = try? MappedFile(path: path), let bytes = file.view(offset: 0, count: file.size) else { return nil }
        return SHA256.hex(bytes)
    }

    // MARK: - JSON documents

    /// A JSON file against `--schema`, or against the bundled schema its `$schema` names. A
    /// JSON Lines file (named .jsonl or .ndjson, or one whose first line is a whole document with
    /// more after it) has each non-blank line checked as a document; its problems name the line,
    /// and without --schema the first document's `$schema` picks the schema for all.
    func validateDocument(file: String) throws -> ValidationReport {
        var report = ValidationReport(path: path)
        let bytes: [UInt8]
        switch try readBytes(file) {
        case .success(let read): bytes = read
        case .failure(let error):
            report.problems.append(Problem(location: "", message: error.description))
            return report
        }
        let documents = bytes.withUnsafeBytes { Self.documents($0, jsonLines: Self.isJSONLinesName(file)) }
        guard let first = documents.lazy.compactMap({ document in (try? document.value.get()).map { (line: document.line, value: $0) } }).first
        else {
            // Nothing to check against a schema: the parse errors, or an empty JSON Lines file.
            report.problems = documents.compactMap { document in
                guard case .failure(let error) = document.value else { return nil }
                return Problem(location: "", message: error.description, line: document.line)
            }
            if documents.isEmpty {
                report.problems.append(Problem(location: "", message: "no JSON document: the file is empty or holds only blank lines"))
            }
            return report
        }
        let compiled: JSONSchema
        if let schema {
            if let bundled = BundledSchemas.named(schema) {
                compiled = try compile(bundled.document, source: bundled.fileName)
            } else if FileSystem.exists(schema), !FileSystem.isDirectory(schema) {
                switch try readJSON(schema) {
                case .success(let value): compiled = try compile(value, source: schema)
                case .failure(let error): throw CommandFailure(message: "\(schema): \(error)")
                }
            } else {
                throw CommandFailure(message: "--schema '\(schema)' is neither a bundled schema (\(SchemaCommand.nameList)) nor a file")
            }
        } else if let id = first.value["$schema"]?.stringValue, let bundled = BundledSchemas.identified(by: id) {
            compiled = try compile(bundled.document, source: bundled.fileName)
        } else {
            let which = first.line.map { "line \($0)'s" } ?? "the document's"
            throw CommandFailure(
                message: "\(file): give --schema: \(which) \"$schema\" names no bundled schema (bundled: \(SchemaCommand.nameList))")
        }
        for document in documents {
            switch document.value {
            case .success(let value): report.problems += compiled.validate(value).map { Problem($0, line: document.line) }
            case .failure(let error): report.problems.append(Problem(location: "", message: error.description, line: document.line))
            }
        }
        return report
    }

    /// The documents of a JSON file: one (line nil), or one per non-blank line of JSON Lines. A
    /// text that is not one document because its first line is a whole one with more on later
    /// lines is JSON Lines whatever its name.
    static func documents(_ bytes: UnsafeRawBufferPointer, jsonLines: Bool) -> [(line: Int?, value: Result<JSONValue, JSONError>)] {
        if !jsonLines {
            let whole = Result { () throws(JSONError) in try JSON.parse(bytes) }
            guard case .failure(.trailingCharacters) = whole else { return [(nil, whole)] }
            let lines = JSON.parseLines(bytes)
            guard lines.count >= 2, case .success = lines[0].value else { return [(nil, whole)] }
            return lines.map { ($0.line, $0.value) }
        }
        return JSON.parseLines(bytes).map { ($0.line, $0.value) }
    }

    /// .jsonl and .ndjson (any case) name JSON Lines, as they do for data files (DataFormat).
    static func isJSONLinesName(_ file: String) -> Bool {
        let name = FileSystem.baseName(file).lowercased()
        return name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson")
    }

    // MARK: - Helpers

    /// Reads and parses a JSON file of at most `ShardIndex.maxIndexSize` bytes. A file that
    /// cannot be read is a failure; text that is not JSON is returned as the problem it is.
    func readJSON(_ file: String) throws -> Result<JSONValue, JSONError> {
        try readBytes(file).flatMap { bytes in Result { () throws(JSONError) in try JSON.parse(bytes) } }
    }

    /// The bytes of a file of at most `ShardIndex.maxIndexSize` bytes (JSON Lines too); a
    /// larger one is returned as the problem it is, one that cannot be read is a failure.
    func readBytes(_ file: String) throws -> Result<[UInt8], JSONError> {
        try reporting(path: file) {
            let mapped = try MappedFile(path: file)
            guard mapped.size <= ShardIndex.maxIndexSize else {
                return .failure(JSONError.tooLarge(bytes: mapped.size, limit: ShardIndex.maxIndexSize))
            }
            return .success(try mapped.read(offset: 0, count: mapped.size))
        }
    }

    func compile(_ document: JSONValue, source: String) throws -> JSONSchema {
        do { return try JSONSchema(document) } catch { throw CommandFailure(message: "\(source): \(error)") }
    }
}

/// One way PATH fails: where (a JSON Pointer, a tensor name or a file name) and why.
struct Problem: Equatable {
    var location: String
    var message: String
    /// The failing schema keyword, for schema violations.
    var keywordLocation: String? = nil
    /// In a JSON Lines file: the 1-based line of the document `location` points into.
    var line: Int? = nil

    init(location: String, message: String, keywordLocation: String? = nil, line: Int? = nil) {
        self.location = location
        self.message = message
        self.keywordLocation = keywordLocation
        self.line = line
    }

    init(_ error: LSRSchema.ValidationError) { self.init(error, line: nil) }

    init(_ error: LSRSchema.ValidationError, line: Int?) {
        self.init(location: error.instanceLocation, message: error.message, keywordLocation: error.keywordLocation, line: line)
    }
}

/// A finding that does not make PATH invalid.
struct Warning: Equatable {
    var location: String
    var message: String
}

/// What `validate` found, printed as text or as JSON (schemas/validate-output.schema.json).
struct ValidationReport {
    let path: String
    var problems: [Problem] = []
    var warnings: [Warning] = []

    init(path: String) { self.path = path }

    func print(json: Bool) {
        if json {
            let problemList: [JSONValue] = problems.map {
                var entry: JSONObject = $0.line.map { ["line": JSONValue($0)] } ?? [:]
                entry["location"] = .string($0.location)
                entry["message"] = .string($0.message)
                if let keyword = $0.keywordLocation { entry["keyword_location"] = .string(keyword) }
                return .object(entry)
            }
            let warningList: [JSONValue] = warnings.map { ["location": .string($0.location), "message": .string($0.message)] }
            Output.json([
                "path": .string(path), "valid": .bool(problems.isEmpty), "problems": .array(problemList), "warnings": .array(warningList),
            ])
            return
        }
        for problem in problems {
            Output.line((problem.line.map { "line \($0): " } ?? "") + "\(Self.shown(problem.location)): \(problem.message)")
        }
        for warning in warnings { Output.line("warning: \(Self.shown(warning.location)): \(warning.message)") }
        Output.line(problems.isEmpty ? "valid" : "invalid: \(Self.count(problems.count, "problem"))")
    }

    /// The document itself ("" as a pointer) reads "(root)", as LSRSchema's messages say it.
    static func shown(_ location: String) -> String { location.isEmpty ? "(root)" : location }

    /// "1 problem", "3 problems".
    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
}
