import LSREngine
import LSRFormats

/// The factor file (DESIGN.md §5): a directory with adapter_config.json, self-describing and
/// valid against schemas/lsr-adapter.schema.json, and adapter_model.safetensors, the factor
/// tensors as float32. For every module the config names its six tensors (LSR: up/down ×
/// left/right/scales) or two (LoRA: up/down weight) with their shapes, so that a short numpy
/// script rebuilds ΔW from the two files alone (README, "The adapter format").
public enum AdapterFile {
    public static let configName = "adapter_config.json"
    public static let weightsName = "adapter_model.safetensors"
    /// The `$schema` an adapter config names (the `$id` of schemas/lsr-adapter.schema.json).
    public static let schemaID = "urn:lsrconv:schema:lsr-adapter:1"
    public static let formatVersion = 1

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// The config at `pointer` is not what the format requires.
        case invalidConfig(pointer: String, reason: String)
        case missingTensor(String, pointer: String)
        /// A tensor in the safetensors file that the config does not name.
        case unlistedTensor(String)
        case shapeMismatch(tensor: String, config: [Int], file: [Int])
        /// Factor shapes whose products do not give the module's size (o1·o2 ≠ out, ...).
        case productMismatch(pointer: String, reason: String)
        case nonFinite(tensor: String, index: Int)
        case unsupportedDType(tensor: String, dtype: DType)
        /// More than one problem with the tensors, in config order then file order.
        indirect case several([Error])

        public var description: String {
            switch self {
            case .invalidConfig(let p, let r): "\(AdapterFile.configName) at \(p.isEmpty ? "/" : p): \(r)"
            case .missingTensor(let t, let p): "tensor '\(t)' (named at \(p)) is missing from \(AdapterFile.weightsName)"
            case .unlistedTensor(let t): "tensor '\(t)' is not named in \(AdapterFile.configName)"
            case .shapeMismatch(let t, let c, let f): "tensor '\(t)' has shape \(f), the config says \(c)"
            case .productMismatch(let p, let r): "\(AdapterFile.configName) at \(p): \(r)"
            case .nonFinite(let t, let i): "tensor '\(t)' holds a NaN or infinity at element \(i)"
            case .unsupportedDType(let t, let d): "tensor '\(t)' has dtype \(d.rawValue), expected a floating-point dtype"
            case .several(let all): "\(all.count) problems: " + all.map(\.description).joined(separator: "; ")
            }
        }
    }

    // MARK: - Names

    /// Tensor names in adapter_model.safetensors: <module>.lsr_up.left, ..., <module>.lora_down.weight.
    public static func tensorName(module: String, factor: String, part: String) -> String {
        "\(module).\(factor).\(part)"
    }

    // MARK: - Writing

    /// The config document for `set`.
    public static func config(_ set: AdapterSet) -> JSONValue {
        let h = set.hyperparameters
        func ints(_ values: [Int]) -> JSONValue { .array(values.map { JSONValue($0) }) }
        func entry(_ name: String, _ shape: [Int]) -> JSONValue { ["tensor": .string(name), "shape": ints(shape)] }
        var modules: [JSONValue] = []
        for m in set.modules {
            var object: JSONObject = [
                "name": .string(m.name), "out_features": JSONValue(m.outFeatures), "in_features": JSONValue(m.inFeatures),
            ]
            switch m.factors {
            case .lsr(let up, let down):
                object["out_split"] = ints([up.a, up.c])
                object["in_split"] = ints([down.b, down.d])
                for (factor, sum) in [("up", up), ("down", down)] {
                    let prefix = factor == "up" ? "lsr_up" : "lsr_down"
                    object[factor] = [
                        "left": entry(tensorName(module: m.name, factor: prefix, part: "left"), [sum.terms, sum.a, sum.b]),
                        "right": entry(tensorName(module: m.name, factor: prefix, part: "right"), [sum.terms, sum.c, sum.d]),
                        "scales": entry(tensorName(module: m.name, factor: prefix, part: "scales"), [sum.terms]),
                    ]
                }
            case .lora:
                object["up"] = ["weight": entry(tensorName(module: m.name, factor: "lora_up", part: "weight"), [m.outFeatures, m.rank])]
                object["down"] = ["weight": entry(tensorName(module: m.name, factor: "lora_down", part: "weight"), [m.rank, m.inFeatures])]
            }
            modules.append(.object(object))
        }
        var root: JSONObject = [
            "$schema": .string(schemaID), "format_version": JSONValue(formatVersion), "kind": .string(h.kind.rawValue),
            "rank": JSONValue(h.rank),
        ]
        if h.kind == .lsr {
            root["separation_rank"] = JSONValue(h.separationRank)
            root["rank_split"] = ints([h.rankSplit.first, h.rankSplit.second])
            root["trainable_scales"] = .bool(h.trainableScales)
        }
        root["alpha"] = .double(h.alpha)
        root["scaling"] = .double(Double(h.scaling))
        root["targets"] = .array(h.targets.map { .string($0) })
        root["base_model"] = [
            "model_type": "roberta", "hidden_size": JSONValue(set.base.hiddenSize), "num_hidden_layers": JSONValue(set.base.layers),
            "num_attention_heads": JSONValue(set.base.attentionHeads), "intermediate_size": JSONValue(set.base.intermediateSize),
            "vocab_size": JSONValue(set.base.vocabSize),
            "weights": .array(set.base.weights.map { ["file": .string($0.file), "sha256": .string($0.sha256)] }),
        ]
        root["modules"] = .array(modules)
        if let head = set.head {
            var labels = JSONObject()
            for id in head.id2label.keys.sorted() { labels[String(id)] = .string(head.id2label[id]!) }
            root["head"] = [
                "num_labels": JSONValue(head.tensors.first { $0.name == "classifier.out_proj.weight" }?.shape.first ?? head.id2label.count),
                "id2label": .object(labels), "tensors": .array(head.tensors.map { entry($0.name, $0.shape) }),
            ]
        } else {
            root["head"] = .null
        }
        return .object(root)
    }

    /// The tensors of `set`, float32, in config order.
    public static func tensors(_ set: AdapterSet) -> [Safetensors.OutputTensor] {
        func output(_ name: String, _ shape: [Int], _ values: FloatBuffer) -> Safetensors.OutputTensor {
            Safetensors.OutputTensor(name: name, shape: shape, float32: UnsafeBufferPointer(values.buffer))
        }
        var out: [Safetensors.OutputTensor] = []
        for m in set.modules {
            switch m.factors {
            case .lsr(let up, let down):
                for (prefix, sum) in [("lsr_up", up), ("lsr_down", down)] {
                    out.append(output(tensorName(module: m.name, factor: prefix, part: "left"), [sum.terms, sum.a, sum.b], sum.left))
                    out.append(output(tensorName(module: m.name, factor: prefix, part: "right"), [sum.terms, sum.c, sum.d], sum.right))
                    out.append(output(tensorName(module: m.name, factor: prefix, part: "scales"), [sum.terms], sum.scales))
                }
            case .lora(let up, let down):
                out.append(output(tensorName(module: m.name, factor: "lora_up", part: "weight"), [m.outFeatures, m.rank], up))
                out.append(output(tensorName(module: m.name, factor: "lora_down", part: "weight"), [m.rank, m.inFeatures], down))
            }
        }
        for t in set.head?.tensors ?? [] { out.append(output(t.name, t.shape, t.values)) }
        return out
    }

    /// Writes the factor file into `directory` (staged, renamed into place; an existing
    /// directory is replaced only with `replace`). Returns the files written.
    @discardableResult
    public static func write(_ set: AdapterSet, to directory: String, replace: Bool = false) throws -> [String] {
        let staged = try StagedDirectory(destination: directory, replace: replace)
        try writeFiles(set, into: staged.path)
        try staged.commit()
        return [configName, weightsName]
    }

    /// Writes the two files into an existing directory (each durably; a training checkpoint
    /// stages its whole directory itself, and train's output directory holds more than these).
    public static func writeFiles(_ set: AdapterSet, into directory: String) throws {
        try Safetensors.write(tensors(set), metadata: [(key: "format", value: "lsrconv")], to: FileSystem.join(directory, weightsName))
        try DurableFile.write(JSON.data(config(set), style: .pretty), to: FileSystem.join(directory, configName))
    }
}
