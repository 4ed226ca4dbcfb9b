import LSRFormats

/// Where a model's config came from.
public enum ConfigSource: Equatable, Sendable {
    /// A config.json (given with --config, or found beside the checkpoint).
    case file(String)
    /// A fairseq checkpoint's own `args` / `cfg.model`, at this JSON pointer of the pickle.
    case checkpoint(pointer: String)
    /// Inferred from shapes. The shapes cannot give the number of heads: it was given by the
    /// caller (`import --num-heads`), or `guessed` as hidden/64.
    case inferred(heads: Int, guessed: Bool)
}

/// A checkpoint read as a RoBERTa: its tensors under canonical Hugging Face names, the
/// architecture their shapes give, and the config that goes with them. `import` and `inspect`
/// both see a checkpoint through this, so they agree on what it is.
public struct RobertaCheckpoint: Sendable {
    /// The tensors after fairseq conversion (fused projections split, token types added);
    /// the input archive itself for every other layout.
    public let archive: TensorArchive
    /// HF spellings (prefix, gamma/beta, dropped buffers) over `archive`'s names.
    public let mapping: RobertaNaming.Mapping
    /// What the fairseq pass did, when the checkpoint was fairseq's.
    public let fairseq: FairseqNaming.Conversion?
    public let architecture: RobertaArchitecture

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case notRoberta
        /// A number of heads was given that does not split the hidden size into equal heads.
        case headsDoNotDivide(heads: Int, hiddenSize: Int)
        /// A number of heads was given, and the config (file or fairseq arguments) records another.
        case headsContradictConfig(given: Int, config: Int)
        public var description: String {
            switch self {
            case .notRoberta: "no RoBERTa word embeddings (embeddings.word_embeddings.weight) found: not a RoBERTa checkpoint"
            case .headsDoNotDivide(let h, let d): "--num-heads \(h) does not divide hidden_size \(d)"
            case .headsContradictConfig(let h, let c): "num_attention_heads is \(c), --num-heads says \(h)"
            }
        }
    }

    /// Reads `archive` as a RoBERTa. Errors carry the archive's first file.
    /// - Parameter fairseqHead: for fairseq checkpoints, the `classification_heads.<name>` to keep.
    public init(_ archive: TensorArchive, fairseqHead: String? = nil) throws {
        let file = archive.files.first ?? "checkpoint"
        // fairseq names first, then the HF spellings; the second pass is the identity on what
        // the first produced.
        var converted = archive
        var fairseq: FairseqNaming.Conversion?
        if FairseqNaming.isFairseq(archive) {
            do { fairseq = try FairseqNaming.convert(archive, head: fairseqHead) } catch { throw FileContextError(path: file, underlying: error) }
            converted = fairseq!.archive
        }
        let mapping: RobertaNaming.Mapping
        do { mapping = try RobertaNaming.canonicalize(converted.names) } catch { throw FileContextError(path: file, underlying: error) }
        let shapes = Dictionary(converted.tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        var canonicalShapes: [String: [Int]] = [:]
        for (from, to) in mapping.renamed { canonicalShapes[to] = shapes[from] }
        guard let architecture = RobertaArchitecture.infer(shapes: canonicalShapes) else {
            throw FileContextError(path: file, underlying: Error.notRoberta)
        }
        self.archive = converted
        self.mapping = mapping
        self.fairseq = fairseq
        self.architecture = architecture
    }

    /// The config: `configPath`, else config.json in `sourceDirectory`, else a fairseq
    /// checkpoint's own arguments, else one inferred from the shapes. A config file or fairseq
    /// arguments that contradict the weights are an error naming the file. `numHeads`, the
    /// one size shapes cannot give, sets it for an inferred config (it must divide the hidden
    /// size) and must agree with a config that records it; without it an inferred config
    /// guesses hidden/64 (`RobertaArchitecture.inferredHeads`).
    public func config(sourceDirectory: String, configPath: String?, numHeads: Int? = nil) throws -> (RobertaConfig, ConfigSource) {
        let file = archive.files.first ?? "checkpoint"
        let beside = FileSystem.join(sourceDirectory, "config.json")
        if let path = configPath ?? (FileSystem.exists(beside) ? beside : nil) {
            let config = try RobertaCheckpoint.readConfig(path)
            do { try config.check(against: architecture) } catch { throw FileContextError(path: path, underlying: error) }
            if let numHeads, numHeads != config.numAttentionHeads {
                throw FileContextError(path: path, underlying: Error.headsContradictConfig(given: numHeads, config: config.numAttentionHeads))
            }
            return (config, .file(path))
        }
        if fairseq != nil {
            do {
                if let config = try FairseqNaming.config(from: archive.auxiliary, architecture: architecture) {
                    try config.check(against: architecture)
                    if let numHeads, numHeads != config.numAttentionHeads {
                        throw Error.headsContradictConfig(given: numHeads, config: config.numAttentionHeads)
                    }
                    return (config, .checkpoint(pointer: archive.auxiliary["args"]?.objectValue != nil ? "/args" : "/cfg/model"))
                }
            } catch {
                throw FileContextError(path: file, underlying: error)
            }
        }
        var config = RobertaConfig.inferred(from: architecture)
        guard let numHeads else { return (config, .inferred(heads: config.numAttentionHeads, guessed: true)) }
        guard numHeads >= 1, architecture.hiddenSize % numHeads == 0 else {
            throw FileContextError(path: file, underlying: Error.headsDoNotDivide(heads: numHeads, hiddenSize: architecture.hiddenSize))
        }
        config.numAttentionHeads = numHeads
        config.json["num_attention_heads"] = JSONValue(numHeads)
        return (config, .inferred(heads: numHeads, guessed: false))
    }

    /// Reads and parses a config.json (at most `ShardIndex.maxIndexSize` bytes).
    public static func readConfig(_ path: String) throws -> RobertaConfig {
        let file = try MappedFile(path: path)
        do {
            return try RobertaConfig(json: JSON.parse(file.read(offset: 0, count: min(file.size, ShardIndex.maxIndexSize))))
        } catch {
            throw FileContextError(path: path, underlying: error)
        }
    }

    /// Input tensors whose name changed (a fused fairseq projection counts once).
    public var renamedCount: Int {
        if let fairseq { return fairseq.renamed.filter { $0.to != [$0.from] }.count }
        return mapping.renamed.filter { $0.from != $0.to }.count
    }

    /// Input tensors left out: buffers, fairseq's MLM head and version, other heads.
    public var dropped: [String] { (fairseq?.dropped ?? []) + mapping.dropped }
    /// Tensors that are no part of a RoBERTa, kept verbatim.
    public var unknown: [String] { (fairseq?.unknown ?? []) + mapping.unknown }
    /// Tensors added that the source lacks (fairseq's token type embeddings).
    public var synthesized: [String] { fairseq?.synthesized ?? [] }
}
