import ArgumentParser
import Foundation
import LSRFormats
import LSRModel

/// `lsrconv import SOURCE [--out DIR] [--config F | --num-heads N] [--dtype keep|f32|f16|bf16] [--max-shard-size S] [--json]`.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a RoBERTa checkpoint into a clean Hugging Face model directory.",
        discussion: """
            SOURCE is a checkpoint file or a directory; the format is detected from the bytes. Names are \
            made canonical (roberta. prefix, LayerNorm.weight/bias), the position_ids buffer is dropped, and \
            unknown tensors are kept and listed. The config comes from --config, else config.json beside \
            SOURCE, else the shapes; these cannot give the number of attention heads, which is then \
            --num-heads, or a guess of hidden_size/64 (with a warning; refused where that is no whole \
            number). The output is written to a temporary sibling and renamed into place; an existing \
            output is replaced only with --force.

            Examples:
              lsrconv import pytorch_model.bin --out roberta-base
              lsrconv import roberta.large/model.pt --out roberta-large --dtype f16 \\
                  --max-shard-size 2GB
              lsrconv import model.safetensors --out model --num-heads 12 --force --json
            """)

    @Argument(help: "Checkpoint file or directory.")
    var source: String

    @Option(help: "Output directory (default: the source's name, in the current directory).")
    var out: String?

    @Option(help: "config.json to use instead of the one beside SOURCE.")
    var config: String?

    @Option(help: "Attention heads, for a checkpoint without config.json (default: hidden_size/64, a guess).")
    var numHeads: Int?

    @Option(help: "Floating-point dtype to store: keep, f32, f16 or bf16.")
    var dtype: ModelImport.DTypeChoice = .keep

    @Option(help: "Split the weights into shards of at most this size (e.g. 500MB, 2GB, 1000000).")
    var maxShardSize: String?

    @Option(help: "fairseq checkpoints: the classification head to keep as classifier.* (default: the only one, or the one the checkpoint names).")
    var fairseqHead: String?

    @Flag(help: "Replace an existing output directory.")
    var force = false

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    func validate() throws {
        if let numHeads, numHeads < 1 { throw ValidationError("--num-heads must be at least 1") }
        if numHeads != nil && config != nil {
            throw ValidationError("give --num-heads or --config, not both (the config's num_attention_heads is the number of heads)")
        }
        if let maxShardSize, (Import.parseSize(maxShardSize) ?? 0) <= 0 {
            throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size (examples: 500MB, 2GB, 1000000)")
        }
    }

    func run() throws {
        var options = ModelImport.Options(source: source, output: out ?? Import.defaultOutput(for: source))
        try refuseOverlap(output: options.output, inputs: [source])
        try Outputs.refuseExisting(options.output, force: force)
        options.configPath = config
        options.numHeads = numHeads
        options.dtype = dtype
        options.replace = force
        options.fairseqHead = fairseqHead
        options.maxShardSize = maxShardSize.flatMap(Import.parseSize)  // validate() checked it
        let start = Date()
        let report = try reporting(path: source) { try ModelImport.run(options) }
        let seconds = Date().timeIntervalSince(start)
        let rate = Double(report.bytesRead) / max(seconds, 1e-9) / 1e6

        for name in report.synthesized { Output.warning("added '\(name)' as zeros (the source has no such tensor; transformers' conversion does the same)") }
        for name in report.unknown { Output.warning("kept unknown tensor '\(name)' verbatim (not part of a RoBERTa model)") }
        if case .inferred(let heads, guessed: true) = report.configSource {
            Output.warning(
                "no config.json: configuration inferred from tensor shapes; the number of attention heads was guessed as "
                    + "hidden_size/64 = \(heads) (give the real one with --num-heads N, or a config with --config FILE)")
        }
        if json {
            var result: JSONObject = [
                "source": .string(source), "format": .string(report.format.rawValue),
                "source_files": .array(report.sourceFiles.map { .string($0) }),
                "input_dtypes": .object(JSONObject(report.inputDTypes.map { ($0.dtype.rawValue, JSONValue($0.count)) })),
                "output_dtypes": .object(JSONObject(report.outputDTypes.map { ($0.dtype.rawValue, JSONValue($0.count)) })),
                "tensors": JSONValue(report.tensorCount), "parameters": JSONValue(report.parameters),
            ]
            result["architecture"] = architectureJSON(report.architecture, heads: (report.config.numAttentionHeads, report.configSource.headsLabel))
            result["config_source"] = .string(configSourceText(report))
            result["renamed"] = JSONValue(report.renamed)
            result["dropped"] = .array(report.dropped.map { .string($0) })
            result["unknown"] = .array(report.unknown.map { .string($0) })
            result["synthesized"] = .array(report.synthesized.map { .string($0) })
            result["output"] = .string(report.outputDirectory)
            result["output_files"] = .array(report.outputFiles.map { .string($0) })
            result["bytes_written"] = JSONValue(report.bytesWritten)
            result["seconds"] = .double((seconds * 1000).rounded() / 1000)
            result["mb_per_second"] = .double((rate * 10).rounded() / 10)
            Output.json(.object(result))
            return
        }
        let a = report.architecture
        Output.line("imported:     \(source) (\(report.format.rawValue)" + (report.sourceFiles.count > 1 ? ", \(report.sourceFiles.count) files)" : ")"))
        Output.line("dtypes:       " + report.inputDTypes.map { "\($0.dtype.rawValue) ×\($0.count)" }.joined(separator: ", ")
            + " → " + report.outputDTypes.map { "\($0.dtype.rawValue) ×\($0.count)" }.joined(separator: ", "))
        Output.line("tensors:      \(report.tensorCount) (\(report.renamed) renamed, \(report.dropped.count) dropped, \(report.unknown.count) unknown kept)")
        Output.line("parameters:   \(Output.grouped(report.parameters))")
        Output.line("architecture: RoBERTa, \(a.layers) layers, hidden \(a.hiddenSize), \(report.config.numAttentionHeads) heads (\(report.configSource.headsLabel)), "
            + "intermediate \(a.intermediateSize), vocab \(a.vocabSize), positions \(a.maxPositions), head: \(a.head.description)")
        Output.line("config:       \(configSourceText(report))")
        Output.line("output:       \(report.outputDirectory)/ (" + report.outputFiles.joined(separator: ", ") + ")")
        Output.line(String(format: "time:         %.2f s, %.1f MB/s (%@ read, %@ written)", seconds, rate,
            Output.bytes(report.bytesRead), Output.bytes(report.bytesWritten)))
    }

    private func configSourceText(_ report: ModelImport.Report) -> String {
        switch report.configSource {
        case .file(let path): path
        case .checkpoint(let pointer): "from the fairseq checkpoint's own arguments (\(pointer))"
        case .inferred: "inferred from tensor shapes"
        }
    }

    /// Default output: the source's stem in the current directory; for a generic file name
    /// (model.safetensors, pytorch_model.bin) the name of the directory holding it.
    static func defaultOutput(for source: String) -> String {
        var name = FileSystem.baseName(source)
        if !FileSystem.isDirectory(source) {
            if let dot = name.firstIndex(of: ".") { name = String(name[..<dot]) }
            if ["model", "pytorch_model", "checkpoint", ""].contains(name) {
                let parent = FileSystem.baseName(FileSystem.canonical(FileSystem.directoryName(source)) ?? ".")
                name = parent.isEmpty || parent == "/" ? "model" : parent
            }
        }
        return name
    }

    /// "500MB", "2GB", "1.5GiB", "1000000" → bytes (decimal units as transformers; KiB/MiB/GiB binary).
    static func parseSize(_ text: String) -> Int? {
        let units: [(String, Double)] = [
            ("KIB", 1024), ("MIB", 1024 * 1024), ("GIB", 1024 * 1024 * 1024), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("B", 1),
        ]
        let upper = text.uppercased().trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in units where upper.hasSuffix(suffix) {
            guard let value = Double(upper.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), value > 0 else { return nil }
            return Int(value * scale)
        }
        return Int(upper)
    }
}

extension ModelImport.DTypeChoice: ExpressibleByArgument {}
