import LSREngine
import LSRFormats

/// `lsrconv export`: an adapter written in a form other tools read.
///
/// - `peft-lora`: a PEFT LoRA adapter directory that `PeftModel.from_pretrained(base, dir)`
///   (peft 0.21.2) loads as it is. Up and Down are materialised (LSR: Σₖ λₖ·kron(Lₖ, Rₖ)) and
///   stored as `base_model.model.<module>.lora_B.weight` [out, r] and `…lora_A.weight` [r, in],
///   float32; `lora_alpha` = α and `r` = r, so PEFT's scaling α/r is ours and PEFT's
///   ΔW = (lora_alpha/r)·B·A is lsrconv's (α/r)·Up·Down. A head (the adapter's trained one, or
///   else, given a base model, the base's classifier unchanged) is stored under the names PEFT
///   saves for `modules_to_save = ["classifier"]` (`base_model.model.classifier.dense.weight`,
///   …) with `task_type` "SEQ_CLS". Without a head `task_type` is null and `modules_to_save`
///   null: PEFT's SEQ_CLS wrapper always wraps the classifier and fails to load an adapter file
///   without its tensors, while a task-less PeftModel runs the base model's own head. adapter_config.json is written as PEFT writes it: every field PEFT 0.21.2 saves, with its
///   defaults, as `json.dumps(indent=2, sort_keys=True)` (ASCII-escaped, no final newline).
///   `base_model_name_or_path` is the caller's choice ("" by default: PEFT only reads it when
///   `from_pretrained` is given no base model).
/// - `delta`: delta_weights.safetensors with `<module>.weight` = ΔW [out, in] (float32), the name
///   of the base tensor it adds to, so W′ = W + ΔW is a per-name sum; delta_config.json lists the
///   modules, the scaling and the base model (as in the adapter config). A trained head, which
///   replaces rather than adds, goes to head.safetensors under its HF names.
/// - `lsr`: the factor file read and written again by `AdapterFile`: canonical names, order and
///   config, whatever valid input it came from.
///
/// Every format is written to a staged directory renamed into place: nothing is left behind on
/// failure.
public enum AdapterExport {
    public enum Format: String, CaseIterable, Sendable {
        case peftLora = "peft-lora"
        case delta
        case lsr
    }

    /// The PEFT version whose adapter_config.json fields and defaults `peftConfig` reproduces.
    public static let peftVersion = "0.21.2"
    public static let peftConfigName = "adapter_config.json"
    public static let peftWeightsName = "adapter_model.safetensors"
    /// The prefix PEFT's `get_peft_model_state_dict` puts before every module path.
    public static let peftPrefix = "base_model.model."
    public static let deltaWeightsName = "delta_weights.safetensors"
    public static let deltaConfigName = "delta_config.json"
    public static let headWeightsName = "head.safetensors"

    public struct Options: Sendable {
        public var format: Format
        public var output: String
        public var replace = false
        /// PEFT's `base_model_name_or_path` (peft-lora only).
        public var baseModelName = ""
        /// The base model (directory or checkpoint with HF names): for peft-lora, the source of
        /// the classifier tensors when the adapter has no head of its own.
        public var baseModel: String?

        public init(format: Format, output: String) {
            self.format = format
            self.output = output
        }
    }

    public struct Report: Sendable {
        public var format: Format
        public var outputDirectory: String
        public var files: [String]
        public var modules: [String]
        /// Where the exported head came from: "adapter", "base model" (peft-lora with a base
        /// model), or nil when none was written.
        public var head: String?
    }

    /// Reads the adapter in `adapterDirectory` and writes it in `options.format`.
    public static func run(adapterDirectory: String, options: Options) throws -> Report {
        let set = try AdapterFile.read(adapterDirectory)
        return try write(set, options: options)
    }

    /// Writes `set` in `options.format` into `options.output`.
    public static func write(_ set: AdapterSet, options: Options) throws -> Report {
        let files: [String]
        switch options.format {
        case .lsr:
            files = try AdapterFile.write(set, to: options.output, replace: options.replace)
        case .peftLora:
            var set = set
            if set.head == nil, let model = options.baseModel { set.head = try baseHead(model, for: set) }
            let staged = try StagedDirectory(destination: options.output, replace: options.replace)
            try Safetensors.write(peftTensors(set), metadata: [(key: "format", value: "pt")], to: staged.file(peftWeightsName))
            try DurableFile.write(peftConfigData(set, baseModelName: options.baseModelName), to: staged.file(peftConfigName))
            try staged.commit()
            files = [peftConfigName, peftWeightsName]
        case .delta:
            let staged = try StagedDirectory(destination: options.output, replace: options.replace)
            try Safetensors.write(deltaTensors(set), metadata: [(key: "format", value: "pt")], to: staged.file(deltaWeightsName))
            var written = [deltaConfigName, deltaWeightsName]
            if let head = set.head {
                try Safetensors.write(head.tensors.map { output($0.name, $0.shape, $0.values) }, metadata: [(key: "format", value: "pt")],
                    to: staged.file(headWeightsName))
                written.append(headWeightsName)
            }
            try DurableFile.write(JSON.data(deltaConfig(set), style: .pretty), to: staged.file(deltaConfigName))
            try staged.commit()
            files = written.sorted()
        }
        return Report(
            format: options.format, outputDirectory: StagedDirectory.trimmed(options.output), files: files,
            modules: set.modules.map(\.name),
            head: set.head != nil ? "adapter" : options.format == .peftLora && options.baseModel != nil ? "base model" : nil)
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case noClassifier(missing: String)
        case classifierShape(tensor: String, shape: [Int], hiddenSize: Int)
        public var description: String {
            switch self {
            case .noClassifier(let t): "no sequence-classification head: tensor '\(t)' is missing"
            case .classifierShape(let t, let s, let h): "tensor '\(t)' has shape \(s), the adapter's hidden_size is \(h)"
            }
        }
    }

    /// The HF names of a RoBERTa sequence-classification head.
    public static let classifierTensors = ["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"]

    /// The base model's classifier tensors (float32), as a head that leaves the base's logits
    /// unchanged: PEFT's SEQ_CLS adapters always carry the classifier (modules_to_save), and
    /// `PeftModel.from_pretrained` fails on one without it.
    public static func baseHead(_ model: String, for set: AdapterSet) throws -> AdapterSet.Head {
        let archive = try Checkpoint.open(model)
        var tensors: [(name: String, shape: [Int], values: FloatBuffer)] = []
        for name in classifierTensors {
            guard let t = archive[name] ?? archive["roberta." + name] else {
                throw FileContextError(path: model, underlying: Error.noClassifier(missing: name))
            }
            if name == "classifier.dense.weight", t.shape != [set.base.hiddenSize, set.base.hiddenSize] {
                throw FileContextError(path: model, underlying: Error.classifierShape(tensor: name, shape: t.shape, hiddenSize: set.base.hiddenSize))
            }
            let values = FloatBuffer(count: t.elementCount)
            do { try DTypeConversion.toFloat(t.bytes.buffer, dtype: t.dtype, into: values.buffer) } catch {
                throw FileContextError(path: model, underlying: error)
            }
            tensors.append((name: name, shape: t.shape, values: values))
        }
        return AdapterSet.Head(tensors: tensors, id2label: [:])
    }

    // MARK: - PEFT LoRA

    /// lora_A = Down [r, in], lora_B = Up [out, r] per module, then the head under PEFT's names.
    public static func peftTensors(_ set: AdapterSet) -> [Safetensors.OutputTensor] {
        var out: [Safetensors.OutputTensor] = []
        for m in set.modules {
            out.append(output(peftPrefix + m.name + ".lora_A.weight", [m.rank, m.inFeatures], m.down()))
            out.append(output(peftPrefix + m.name + ".lora_B.weight", [m.outFeatures, m.rank], m.up()))
        }
        for t in set.head?.tensors ?? [] { out.append(output(peftPrefix + t.name, t.shape, t.values)) }
        return out
    }

    /// PEFT's `target_modules` for the adapted modules: the sorted list of target names when
    /// PEFT's suffix match (`name == t` or `name.endswith("." + t)`) over every RoBERTa Linear
    /// picks exactly the adapted modules; otherwise a regex string that PEFT full-matches against
    /// module names, naming each adapted module (e.g. targets "output.dense", whose suffix also
    /// matches attention.output.dense, or an adapter on some layers only).
    public static func peftTargetModules(_ set: AdapterSet) -> JSONValue {
        let names = set.modules.map(\.name)
        let adapted = Set(names)
        let candidates = (0..<set.base.layers).flatMap { l in AdapterSet.targetNames.compactMap { AdapterSet.modulePath(layer: l, target: $0) } }
            + ["classifier.dense", "classifier.out_proj"]
        var leaves: [String] = []
        for name in names {
            guard let leaf = AdapterSet.targetNames.first(where: { t in (0..<set.base.layers).contains { AdapterSet.modulePath(layer: $0, target: t) == name } })
            else { leaves = []; break }
            if !leaves.contains(leaf) { leaves.append(leaf) }
        }
        if !leaves.isEmpty {
            let matched = Set(candidates.filter { c in leaves.contains { c == $0 || c.hasSuffix("." + $0) } })
            if matched == adapted { return .array(leaves.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { .string($0) }) }
        }
        let escaped = names.map { $0.replacingDots() }
        return .string("(?:" + escaped.joined(separator: "|") + ")")
    }

    /// adapter_config.json as PEFT 0.21.2's `LoraConfig.save_pretrained` writes it for a LoRA
    /// config with these r, lora_alpha, target_modules and modules_to_save, task_type SEQ_CLS,
    /// lora_dropout 0.0, in inference mode.
    public static func peftConfig(_ set: AdapterSet, baseModelName: String = "") -> JSONValue {
        let h = set.hyperparameters
        let alpha: JSONValue = h.alpha.rounded() == h.alpha && abs(h.alpha) < 1e15 ? .int(Int64(h.alpha)) : .double(h.alpha)
        let object: JSONObject = [
            "alora_invocation_tokens": .null,
            "alpha_pattern": .object(JSONObject()),
            "arrow_config": .null,
            "auto_mapping": .null,
            "base_model_name_or_path": .string(baseModelName),
            "bias": "none",
            "corda_config": .null,
            "ensure_weight_tying": false,
            "eva_config": .null,
            "exclude_modules": .null,
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "kasa_config": .null,
            "layer_replication": .null,
            "layers_pattern": .null,
            "layers_to_transform": .null,
            "loftq_config": .object(JSONObject()),
            "lora_alpha": alpha,
            "lora_bias": false,
            "lora_dropout": .double(0.0),
            "lora_ga_config": .null,
            "megatron_config": .null,
            "megatron_core": "megatron.core",
            "modules_to_save": set.head == nil ? .null : ["classifier"],
            "monteclora_config": .null,
            "peft_type": "LORA",
            "peft_version": .string(peftVersion),
            "qalora_group_size": 16,
            "r": JSONValue(h.rank),
            "rank_pattern": .object(JSONObject()),
            "revision": .null,
            "target_modules": peftTargetModules(set),
            "target_parameters": .null,
            "task_type": set.head == nil ? .null : "SEQ_CLS",
            "trainable_token_indices": .null,
            "use_bdlora": .null,
            "use_dora": false,
            "use_qalora": false,
            "use_rslora": false,
            "velora_config": .null,
        ]
        return .object(object.sortedByKey())
    }

    /// The bytes of `peftConfig`: Python's `json.dumps(indent=2, sort_keys=True)` (non-ASCII as
    /// \uXXXX, ensure_ascii's default), with no final newline, as PEFT writes it.
    public static func peftConfigData(_ set: AdapterSet, baseModelName: String = "") -> [UInt8] {
        Array(asciiEscaped(JSON.serialize(peftConfig(set, baseModelName: baseModelName), style: .pretty)).utf8)
    }

    /// Non-ASCII scalars as JSON \u escapes (UTF-16 surrogate pairs above U+FFFF).
    static func asciiEscaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.isASCII { out.unicodeScalars.append(scalar); continue }
            for unit in String(scalar).utf16 {
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out
    }

    // MARK: - Dense ΔW

    /// `<module>.weight` = ΔW [out, in] per module.
    public static func deltaTensors(_ set: AdapterSet) -> [Safetensors.OutputTensor] {
        let scaling = set.hyperparameters.scaling
        return set.modules.map { m in output(m.name + ".weight", [m.outFeatures, m.inFeatures], m.deltaW(scaling: scaling)) }
    }

    /// delta_config.json: what the deltas are and what they add to.
    public static func deltaConfig(_ set: AdapterSet) -> JSONValue {
        let h = set.hyperparameters
        let adapterConfig = AdapterFile.config(set)
        var head: JSONValue = .null
        if let h = set.head {
            var labels = JSONObject()
            for id in h.id2label.keys.sorted() { labels[String(id)] = .string(h.id2label[id]!) }
            head = [
                "file": .string(headWeightsName), "id2label": .object(labels),
                "tensors": .array(h.tensors.map { ["tensor": .string($0.name), "shape": .array($0.shape.map { JSONValue($0) })] }),
            ]
        }
        return [
            "format": "lsrconv-delta", "format_version": 1, "kind": .string(h.kind.rawValue), "rank": JSONValue(h.rank),
            "alpha": .double(h.alpha), "scaling": .double(Double(h.scaling)), "file": .string(deltaWeightsName),
            "base_model": adapterConfig["base_model"] ?? .null,
            "modules": .array(set.modules.map { m in
                [
                    "name": .string(m.name), "tensor": .string(m.name + ".weight"),
                    "shape": [JSONValue(m.outFeatures), JSONValue(m.inFeatures)],
                ]
            }),
            "head": head,
        ]
    }

    static func output(_ name: String, _ shape: [Int], _ values: FloatBuffer) -> Safetensors.OutputTensor {
        Safetensors.OutputTensor(name: name, shape: shape, float32: UnsafeBufferPointer(values.buffer))
    }
}

extension String {
    /// Dots escaped for a Python regular expression.
    fileprivate func replacingDots() -> String {
        var out = ""
        for c in self { out += c == "." ? "\\." : String(c) }
        return out
    }
}

