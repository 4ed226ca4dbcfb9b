import LSREngine
import LSRFormats

#if canImport(Glibc)
    import Glibc
#endif

/// `lsrconv import`: any RoBERTa checkpoint lsrconv reads → a clean Hugging Face model directory
/// (config.json with model_type "roberta", model.safetensors or shards + index, tokenizer files).
public enum ModelImport {
    /// Output dtype policy for floating-point tensors; integer tensors are always kept.
    public enum DTypeChoice: String, Sendable, CaseIterable {
        case keep, f32, f16, bf16

        var target: DType? {
            switch self {
            case .keep: nil
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
        }
    }

    public struct Options: Sendable {
        public var source: String
        public var output: String
        public var configPath: String?
        /// Attention heads for a checkpoint without a config (a config that has one must agree);
        /// nil: guessed as hidden/64, refused where that is no whole number.
        public var numHeads: Int?
        public var dtype: DTypeChoice = .keep
        /// Largest shard in bytes; nil writes a single model.safetensors.
        public var maxShardSize: Int?
        /// Replace an existing output directory (atomically).
        public var replace = false
        /// fairseq checkpoints: the `classification_heads.<name>` to keep as `classifier.*`
        /// (nil: the only one, or the one the checkpoint's own config names).
        public var fairseqHead: String?
        /// Changes made on the way (merge: W + ΔW, a trained head, a provenance file), computed
        /// from the resolved checkpoint and its config once they are read.
        public var edits: (@Sendable (RobertaCheckpoint, RobertaConfig) throws -> Edits)?

        public init(source: String, output: String) {
            self.source = source
            self.output = output
        }
    }

    public struct Report: Sendable {
        public var format: ArchiveFormat
        public var sourceFiles: [String]
        /// Tensor count per input dtype.
        public var inputDTypes: [(dtype: DType, count: Int)]
        public var outputDTypes: [(dtype: DType, count: Int)]
        public var tensorCount: Int
        public var parameters: Int
        public var architecture: RobertaArchitecture
        public var config: RobertaConfig
        public var configSource: ConfigSource
        public var renamed: Int
        public var dropped: [String]
        public var unknown: [String]
        /// Tensors made by the import (fairseq's missing token type embeddings).
        public var synthesized: [String]
        public var outputDirectory: String
        public var outputFiles: [String]
        public var tokenizerFiles: [String]
        public var bytesRead: Int
        public var bytesWritten: Int
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case outputInsideInput(output: String, input: String)
        case dtypeNotConvertible(tensor: String, dtype: DType)
        /// No config, no number of heads given, and hidden/64 is no whole number of heads.
        case headsNotGuessable(hiddenSize: Int)

        public var description: String {
            switch self {
            case .outputInsideInput(let o, let i): "output \(o) would overlap the input \(i) (it is the input, holds it, or lies inside it)"
            case .dtypeNotConvertible(let t, let d): "tensor '\(t)': cannot convert dtype \(d.rawValue)"
            case .headsNotGuessable(let h):
                "no config.json, and the number of attention heads cannot be guessed as hidden_size/64: \(h) is not a multiple of 64 "
                    + "(give it with --num-heads N, or a config with --config FILE)"
            }
        }
    }

    /// Tensors replaced or added, config fields set, files added to the output directory.
    public struct Edits: @unchecked Sendable {
        /// f32 values by canonical output name (with the `roberta.` prefix where the model has
        /// a head). Stored in the replaced tensor's output dtype; a new tensor in that of the
        /// word embeddings.
        public var tensors: [String: (shape: [Int], values: FloatBuffer)] = [:]
        /// Fields set in config.json (replacing what is there).
        public var config: JSONObject = [:]
        public var files: [(name: String, bytes: [UInt8])] = []
        /// Canonical names of tensors left out of the output (a merged classifier drops the
        /// masked-LM head and the pooler its base carried, as transformers' classifier has neither).
        public var dropped: (@Sendable (String) -> Bool)? = nil
        /// Prefix the encoder's tensors with `roberta.` where the source has bare names (a
        /// RobertaModel checkpoint given a head: transformers' classifier keeps its encoder
        /// under `roberta.`).
        public var prefixEncoder = false
        public init() {}
    }

    /// Files transformers' tokenizers read, copied when found beside the source.
    public static let tokenizerFileNames = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json",
    ]

    public static func run(_ options: Options) throws -> Report {
        // Every byte is read to be written anyway, so the CRC-32 of zip entries is checked too.
        let source = try Checkpoint.open(options.source, verifyChecksums: true)
        let sourceDirectory = FileSystem.isDirectory(options.source) ? options.source : FileSystem.directoryName(options.source)
        try checkOutputOutsideInput(output: options.output, input: options.source)
        let checkpoint = try RobertaCheckpoint(source, fairseqHead: options.fairseqHead)
        let (archive, mapping) = (checkpoint.archive, checkpoint.mapping)
        var (config, configSource) = try checkpoint.config(
            sourceDirectory: sourceDirectory, configPath: options.configPath, numHeads: options.numHeads)
        // A guess of 1 head for any width would write a config that silently computes something
        // else than the model did: refuse before anything is written.
        if case .inferred(_, guessed: true) = configSource, checkpoint.architecture.guessedHeads == nil {
            throw Error.headsNotGuessable(hiddenSize: checkpoint.architecture.hiddenSize)
        }
        let edits = try options.edits?(checkpoint, config) ?? Edits()
        for (key, value) in edits.config.members { config.json[key] = value }

        // Output tensors in transformers' state-dict order (so shards split where
        // save_pretrained splits them), renamed, converted as asked.
        var outputs: [Safetensors.OutputTensor] = []
        let order = RobertaNaming.stateDictPermutation(mapping.renamed.map(\.to))
        let position = Dictionary(archive.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (from, canonical) in order.map({ mapping.renamed[$0] }) {
            if let dropped = edits.dropped, dropped(canonical) { continue }
            let to = edits.prefixEncoder && !canonical.hasPrefix("roberta.") && !canonical.hasPrefix("classifier.") ? "roberta." + canonical : canonical
            let tensor = archive.tensors[position[from]!]
            var dtype = tensor.dtype
            if let target = options.dtype.target, tensor.dtype.isFloatingPoint {
                guard tensor.dtype.convertsToFloat else { throw Error.dtypeNotConvertible(tensor: from, dtype: tensor.dtype) }
                dtype = target
            }
            var output = Safetensors.OutputTensor(tensor, as: dtype)
            output.name = to
            if let edit = edits.tensors[to] ?? edits.tensors[canonical] { output = replacement(name: to, edit, dtype: dtype) }
            outputs.append(output)
        }
        // Tensors the edits add (a trained head on a model that had none).
        let wordsDType = outputs.first { $0.name.hasSuffix("embeddings.word_embeddings.weight") }?.dtype ?? .f32
        for name in edits.tensors.keys.sorted() where !outputs.contains(where: { $0.name == name || $0.name == "roberta." + name }) {
            outputs.append(replacement(name: name, edits.tensors[name]!, dtype: options.dtype.target ?? wordsDType))
        }
        if let target = options.dtype.target {
            config.setDType(target)
        } else if case .file = configSource {
            // A config file already records the dtype it was saved with; keep it as it is.
        } else if let words = outputs.first(where: { $0.name.hasSuffix("embeddings.word_embeddings.weight") }) {
            config.setDType(words.dtype)  // a made config records the dtype actually stored
        }

        let staged = try StagedDirectory(destination: options.output, replace: options.replace)
        var files: [String] = []
        var written = 0
        let metadata = [(key: "format", value: "pt")]
        if let maxShardSize = options.maxShardSize {
            let plan = ShardIndex.plan(sizes: outputs.map(\.byteCount), maxShardSize: maxShardSize)
            var weightMap: [(tensor: String, shard: String)] = []
            for (i, members) in plan.enumerated() {
                let name = ShardIndex.shardName(prefix: "model", index: i, count: plan.count, extension: "safetensors")
                let shard = members.map { outputs[$0] }
                written += try Safetensors.write(shard, metadata: metadata, to: staged.file(name))
                weightMap += shard.map { ($0.name, name) }
                files.append(name)
            }
            let index = ShardIndex.document(
                totalSize: outputs.reduce(0) { $0 + $1.byteCount },
                totalParameters: outputs.reduce(0) { $0 + (Safetensors.checkedProduct($1.shape) ?? 0) }, weightMap: weightMap)
            let bytes = JSON.data(index, style: .pretty)
            try DurableFile.write(bytes, to: staged.file("model.safetensors.index.json"))
            written += bytes.count
            files.append("model.safetensors.index.json")
        } else {
            written += try Safetensors.write(outputs, metadata: metadata, to: staged.file("model.safetensors"))
            files.append("model.safetensors")
        }
        let configBytes = JSON.data(.object(config.json), style: .pretty)
        try DurableFile.write(configBytes, to: staged.file("config.json"))
        written += configBytes.count
        files.insert("config.json", at: 0)

        for (name, bytes) in edits.files {
            try DurableFile.write(bytes, to: staged.file(name))
            written += bytes.count
            files.append(name)
        }
        var tokenizerFiles: [String] = []
        for name in tokenizerFileNames {
            let path = FileSystem.join(sourceDirectory, name)
            guard FileSystem.exists(path), !FileSystem.isDirectory(path) else { continue }
            let file = try MappedFile(path: path)
            let bytes = try file.read(offset: 0, count: file.size)
            try DurableFile.write(bytes, to: staged.file(name))
            written += bytes.count
            tokenizerFiles.append(name)
        }
        try staged.commit()

        func histogram(_ dtypes: [DType]) -> [(dtype: DType, count: Int)] {
            var counts: [DType: Int] = [:]
            for d in dtypes { counts[d, default: 0] += 1 }
            return counts.sorted { $0.key > $1.key }.map { ($0.key, $0.value) }
        }
        return Report(
            format: source.format, sourceFiles: source.files, inputDTypes: histogram(source.tensors.map(\.dtype)),
            outputDTypes: histogram(outputs.map(\.dtype)), tensorCount: outputs.count,
            parameters: outputs.reduce(0) { $0 + (Safetensors.checkedProduct($1.shape) ?? 0) },
            architecture: checkpoint.architecture, config: config, configSource: configSource,
            renamed: checkpoint.renamedCount, dropped: checkpoint.dropped, unknown: checkpoint.unknown,
            synthesized: checkpoint.synthesized,
            outputDirectory: staged.destination, outputFiles: files + tokenizerFiles, tokenizerFiles: tokenizerFiles,
            bytesRead: source.byteCount, bytesWritten: written)
    }

    /// An edited tensor: f32 values stored as `dtype`.
    static func replacement(name: String, _ edit: (shape: [Int], values: FloatBuffer), dtype: DType) -> Safetensors.OutputTensor {
        Safetensors.OutputTensor(name: name, shape: edit.shape, float32: UnsafeBufferPointer(edit.values.buffer), as: dtype)
    }

    /// Refuses an output that overlaps the input: the input itself, a directory holding it
    /// (replacing it would delete the source), or, for a directory source, a path inside it
    /// (a second run would read the first one's output as part of the checkpoint).
    public static func checkOutputOutsideInput(output: String, input: String) throws {
        guard let inputPath = FileSystem.canonical(input) else { return }
        let parent = FileSystem.canonical(FileSystem.directoryName(output)) ?? FileSystem.directoryName(output)
        let outputPath = parent == "/" ? "/" + FileSystem.baseName(output) : parent + "/" + FileSystem.baseName(output)
        let inputIsDirectory = FileSystem.isDirectory(input)
        if outputPath == inputPath || inputPath.hasPrefix(outputPath + "/") || (inputIsDirectory && outputPath.hasPrefix(inputPath + "/")) {
            throw Error.outputInsideInput(output: output, input: input)
        }
    }
}

extension RobertaConfig {
    /// Records the stored dtype the way transformers does (`dtype`, or `torch_dtype` in files
    /// written before transformers 4.56 that already use that key).
    mutating func setDType(_ dtype: DType) {
        let key = json["torch_dtype"] != nil && json["dtype"] == nil ? "torch_dtype" : "dtype"
        json[key] = .string(dtype.torchName)
    }
}
