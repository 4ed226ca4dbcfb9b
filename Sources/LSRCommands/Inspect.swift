import ArgumentParser
import LSRAdapters
import LSRFormats
import LSRModel

/// `lsrconv inspect PATH [--json] [--checksums]`: what a checkpoint holds, from its headers.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the format, metadata, tensors and RoBERTa architecture of a checkpoint.",
        discussion: """
            Reads headers only (time does not grow with the file), unless --checksums is given. An adapter \
            directory (one holding adapter_config.json) also gets its modules, parameters and condition numbers γ.

            Examples:
              lsrconv inspect roberta-base
              lsrconv inspect pytorch_model.bin --checksums
              lsrconv inspect sst2-adapter --json
            """)

    @Argument(help: "A checkpoint file or a model directory.")
    var path: String

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Flag(help: "Also print the SHA-256 of every tensor's raw bytes and check the CRC-32 of PyTorch zip entries (reads all data).")
    var checksums = false

    func run() throws {
        let summary = try reporting(path: path) { () throws -> InspectSummary in
            let archive = try Checkpoint.open(path, verifyChecksums: checksums)
            let directory = FileSystem.isDirectory(path) ? path : FileSystem.directoryName(archive.files.first ?? path)
            return InspectSummary(path: path, archive: archive, directory: directory, checksums: checksums)
        }
        // An adapter directory: the factor file's own report beside the tensor listing.
        var adapter: AdapterSummary?
        if FileSystem.isDirectory(path), FileSystem.exists(FileSystem.join(path, AdapterFile.configName)) {
            adapter = AdapterSummary(adapter: try reporting(path: path) { try AdapterFile.read(path) })
        }
        if json {
            var document = summary.json
            if let adapter, case .object(var object) = document {
                object["adapter"] = adapter.json
                document = .object(object)
            }
            Output.json(document)
        } else {
            summary.printText()
            if let adapter {
                Output.line()
                adapter.printText()
            }
        }
    }
}

/// The facts `inspect` reports, computed once for both text and JSON.
struct InspectSummary {
    let path: String
    let archive: TensorArchive
    let architecture: RobertaArchitecture?
    /// Number of heads and where it came from.
    let heads: (count: Int, source: String)?
    let hashes: [String]?

    init(path: String, archive: TensorArchive, directory: String, checksums: Bool) {
        self.path = path
        self.archive = archive
        // Inspect describes whatever it is given: a file that is no RoBERTa, or whose config
        // does not fit, still gets its tensors listed.
        let checkpoint = try? RobertaCheckpoint(archive)
        architecture = checkpoint?.architecture
        if let checkpoint {
            switch try? checkpoint.config(sourceDirectory: directory, configPath: nil) {
            case let (config, source)?: heads = (config.numAttentionHeads, source.headsLabel)
            case nil: heads = (checkpoint.architecture.inferredHeads, ConfigSource.inferred(heads: 0, guessed: true).headsLabel)
            }
        } else {
            heads = nil
        }
        hashes = checksums ? archive.tensors.map { SHA256.hex($0.bytes.buffer) } : nil
    }

    var dtypeCounts: [(DType, Int)] {
        var counts: [DType: Int] = [:]
        for t in archive.tensors { counts[t.dtype, default: 0] += 1 }
        return counts.sorted { $0.key > $1.key }
    }

    func printText() {
        Output.line("path:        \(path)")
        Output.line("format:      \(archive.format.rawValue)" + (archive.files.count > 1 ? " (\(archive.files.count) files)" : ""))
        if !archive.metadata.isEmpty {
            Output.line("metadata:    " + archive.metadata.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        Output.line("tensors:     \(archive.tensors.count) (" + dtypeCounts.map { "\($0.0.rawValue): \($0.1)" }.joined(separator: ", ") + ")")
        Output.line("parameters:  \(Output.grouped(archive.parameterCount)) (\(Output.bytes(archive.byteCount)))")
        if let a = architecture, let heads {
            Output.line("architecture: RoBERTa")
            Output.line("  layers \(a.layers), hidden \(a.hiddenSize), heads \(heads.count) (\(heads.source)), intermediate \(a.intermediateSize)")
            Output.line("  vocab \(a.vocabSize), positions \(a.maxPositions), token types \(a.typeVocabSize), pooler \(a.hasPooler ? "yes" : "no")")
            Output.line("  head: \(a.head.description)")
        } else {
            Output.line("architecture: not a RoBERTa checkpoint (no embeddings.word_embeddings.weight)")
        }
        Output.line()
        var rows = [["name", "dtype", "shape", "bytes"] + (hashes == nil ? [] : ["sha256"])]
        for (i, t) in archive.tensors.enumerated() {
            rows.append([t.name, t.dtype.rawValue, Output.shape(t.shape), String(t.bytes.count)] + (hashes.map { [$0[i]] } ?? []))
        }
        for line in Output.table(rows) { Output.line(line) }
    }

    var json: JSONValue {
        var metadata = JSONObject()
        for (k, v) in archive.metadata { metadata[k] = .string(v) }
        var dtypes = JSONObject()
        for (d, n) in dtypeCounts { dtypes[d.rawValue] = JSONValue(n) }
        let tensors: [JSONValue] = archive.tensors.enumerated().map { i, t in
            var entry: JSONObject = [
                "name": .string(t.name), "dtype": .string(t.dtype.rawValue), "shape": .array(t.shape.map { JSONValue($0) }),
                "bytes": JSONValue(t.bytes.count),
            ]
            if let hashes { entry["sha256"] = .string(hashes[i]) }
            return .object(entry)
        }
        var root: JSONObject = [
            "path": .string(path), "format": .string(archive.format.rawValue), "files": .array(archive.files.map { .string($0) }),
            "metadata": .object(metadata), "tensor_count": JSONValue(archive.tensors.count), "parameters": JSONValue(archive.parameterCount),
            "bytes": JSONValue(archive.byteCount), "dtypes": .object(dtypes),
        ]
        root["architecture"] = architectureJSON(architecture, heads: heads)
        root["tensors"] = .array(tensors)
        return .object(root)
    }
}

extension ConfigSource {
    /// Where the number of attention heads came from, as `inspect` and `import` say it.
    var headsLabel: String {
        switch self {
        case .file: "config.json"
        case .checkpoint: "checkpoint args"
        case .inferred(_, guessed: true): "inferred as hidden/64"
        case .inferred(_, guessed: false): "--num-heads"
        }
    }
}

/// The architecture as JSON, shared by `inspect` and `import`.
func architectureJSON(_ architecture: RobertaArchitecture?, heads: (count: Int, source: String)?) -> JSONValue {
    guard let a = architecture, let heads else { return .null }
    var object: JSONObject = [
        "model_type": "roberta", "layers": JSONValue(a.layers), "hidden_size": JSONValue(a.hiddenSize),
        "attention_heads": JSONValue(heads.count), "attention_heads_source": .string(heads.source),
        "intermediate_size": JSONValue(a.intermediateSize), "vocab_size": JSONValue(a.vocabSize),
        "max_position_embeddings": JSONValue(a.maxPositions), "type_vocab_size": JSONValue(a.typeVocabSize),
        "pooler": .bool(a.hasPooler),
    ]
    switch a.head {
    case .none: object["head"] = "none"
    case .maskedLM: object["head"] = "masked-lm"
    case .sequenceClassification(let labels):
        object["head"] = "sequence-classification"
        object["num_labels"] = JSONValue(labels)
    }
    return .object(object)
}
