import LSREngine
import LSRFormats
import LSRModel

/// `lsrconv merge`: a Hugging Face model directory with W' = W + ΔW in every adapted module
/// (computed in f32, then stored in the output dtype), the adapter's trained head in place of
/// the base head, config.json updated (num_labels, id2label, label2id), and lsr_merge.json
/// recording where it came from. transformers loads the result as it is.
public enum AdapterMerge {
    public static let recordName = "lsr_merge.json"
    public static let recordSchemaID = "urn:lsrconv:schema:lsr-merge:1"

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// A module the adapter names that the model does not have (or not with that shape).
        case moduleNotInModel(String)
        case moduleShape(module: String, adapter: [Int], model: [Int])

        public var description: String {
            switch self {
            case .moduleNotInModel(let m): "adapter module '\(m)' has no weight in the model (\(m).weight)"
            case .moduleShape(let m, let a, let w): "adapter module '\(m)' is \(a), the model's weight is \(w)"
            }
        }
    }

    public struct Report: Sendable {
        public var model: ModelImport.Report
        public var modules: [String]
        public var headReplaced: Bool
    }

    /// Merges `adapterDirectory` into the model at `options.source`, writing `options.output`.
    public static func run(adapterDirectory: String, options base: ModelImport.Options) throws -> Report {
        let set = try AdapterFile.read(adapterDirectory)
        let adapterDigests = try [AdapterFile.configName, AdapterFile.weightsName].map {
            ($0, try digest(FileSystem.join(adapterDirectory, $0)))
        }
        var options = base
        let sourceFiles = try Checkpoint.open(base.source).files
        let baseDigests = try digests(sourceFiles).map { ($0.file, $0.sha256) }
        options.edits = { checkpoint, config in
            try edits(set, checkpoint: checkpoint, config: config, adapterDigests: adapterDigests, baseDigests: baseDigests,
                adapterPath: adapterDirectory, modelPath: base.source)
        }
        let report = try ModelImport.run(options)
        return Report(model: report, modules: set.modules.map(\.name), headReplaced: set.head != nil)
    }

    static func edits(
        _ set: AdapterSet, checkpoint: RobertaCheckpoint, config: RobertaConfig, adapterDigests: [(String, String)],
        baseDigests: [(String, String)], adapterPath: String, modelPath: String
    ) throws -> ModelImport.Edits {
        // The same shape check as attaching to a loaded model, on the config alone.
        do { try set.checkBase(config) } catch { throw FileContextError(path: modelPath, underlying: error) }
        // Canonical output name → input tensor.
        let byName = Dictionary(checkpoint.archive.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var inputs: [String: ArchiveTensor] = [:]
        for (from, to) in checkpoint.mapping.renamed { inputs[to] = byName[from] }
        let hasPrefix = inputs.keys.contains { $0.hasPrefix("roberta.") }

        var edits = ModelImport.Edits()
        var records: [JSONValue] = []
        for module in set.modules {
            // Adapter names carry the roberta. prefix; a headless base model's tensors do not.
            let bare = module.name.hasPrefix("roberta.") ? String(module.name.dropFirst("roberta.".count)) : module.name
            let name = (hasPrefix ? "roberta." + bare : bare) + ".weight"
            guard let tensor = inputs[name] else { throw FileContextError(path: modelPath, underlying: Error.moduleNotInModel(module.name)) }
            guard tensor.shape == [module.outFeatures, module.inFeatures] else {
                throw FileContextError(
                    path: modelPath, underlying: Error.moduleShape(module: module.name, adapter: [module.outFeatures, module.inFeatures], model: tensor.shape))
            }
            let merged = FloatBuffer(count: tensor.elementCount)
            try DTypeConversion.toFloat(tensor.bytes.buffer, dtype: tensor.dtype, into: merged.buffer)
            let delta = module.deltaW(scaling: set.hyperparameters.scaling)
            for i in 0..<merged.count { merged.pointer[i] += delta.pointer[i] }
            edits.tensors[name] = (tensor.shape, merged)
            records.append(["name": .string(module.name), "tensor": .string(name), "shape": [JSONValue(module.outFeatures), JSONValue(module.inFeatures)]])
        }
        var dropped: [String] = []
        if let head = set.head {
            for t in head.tensors { edits.tensors[t.name] = (t.shape, t.values) }
            let labels = head.labels
            // architectures, id2label, label2id, num_labels, problem_type: as transformers writes a classifier's.
            for (key, value) in config.classifier(id2label: labels).json.members
            where ["architectures", "id2label", "label2id", "num_labels", "problem_type"].contains(key) {
                edits.config[key] = value
            }
            if !inputs.keys.contains(where: { $0.hasPrefix("classifier.") }) {
                // A head on a pretrained checkpoint: the result is a RobertaForSequenceClassification,
                // which has neither the masked-LM head nor the pooler (transformers' own save of
                // that class holds neither), and keeps its encoder under `roberta.`.
                dropped = inputs.keys.filter { $0.hasPrefix("lm_head.") || $0.hasPrefix("pooler.") || $0.hasPrefix("roberta.pooler.") }.sorted()
                let droppedSet = Set(dropped)
                edits.dropped = { droppedSet.contains($0) }
                edits.prefixEncoder = !hasPrefix
            }
        }
        let record: JSONValue = [
            "$schema": .string(recordSchemaID), "format_version": 1,
            "base_model": ["path": .string(modelPath), "weights": .array(baseDigests.map { ["file": .string($0.0), "sha256": .string($0.1)] })],
            "adapter": ["path": .string(adapterPath), "files": .array(adapterDigests.map { ["file": .string($0.0), "sha256": .string($0.1)] })],
            "kind": .string(set.hyperparameters.kind.rawValue), "rank": JSONValue(set.hyperparameters.rank),
            "alpha": .double(set.hyperparameters.alpha), "scaling": .double(Double(set.hyperparameters.scaling)),
            "modules": .array(records), "head_replaced": .bool(set.head != nil),
            "dropped_tensors": .array(dropped.map { .string($0) }),
        ]
        edits.files.append((recordName, JSON.data(record, style: .pretty)))
        return edits
    }

    /// Weight files as an adapter records them: base name and sha256.
    public static func digests(_ files: [String]) throws -> [(file: String, sha256: String)] {
        try files.map { (file: FileSystem.baseName($0), sha256: try digest($0)) }
    }

    /// sha256 of a file's bytes, read through a memory map.
    public static func digest(_ path: String) throws -> String {
        let file = try MappedFile(path: path)
        guard let bytes = file.view(offset: 0, count: file.size) else { return SHA256.hex([UInt8]()) }
        return SHA256.hex(bytes)
    }
}
