import LSREngine
import LSRFormats
import LSRModel

/// A PEFT LoRA adapter directory (as `save_pretrained` writes it: adapter_config.json +
/// adapter_model.safetensors) turned into the nearest LSR adapter (`lsrconv convert-adapter`).
///
/// Each module's Up = B [out×r] and Down = A [r×in] are approximated separately by the
/// Frobenius-nearest sum of s Kronecker products (`KroneckerApproximation`, Van Loan–Pitsianis +
/// truncated SVD). α and r are kept, so ΔW = (α/r)·Up·Down has PEFT's scaling; with use_rslora
/// (scaling lora_alpha/√r) the √r difference is folded into α: α = lora_alpha·√r.
public enum LoRAConversion {
    public static let recordName = "conversion.json"
    static let prefix = "base_model.model."

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// adapter_config.json at `pointer` is not a LoRA config this converter reads.
        case config(pointer: String, reason: String)
        case missingTensor(String, reason: String)
        case unexpectedTensor(String)
        case shape(tensor: String, reason: String)
        case unknownModule(String)
        case badSplit(String)
        case approximation(module: String, factor: String, KroneckerApproximation.Error)

        public var description: String {
            switch self {
            case .config(let p, let r): "adapter_config.json at \(p): \(r)"
            case .missingTensor(let t, let r): "tensor '\(t)' is missing (\(r))"
            case .unexpectedTensor(let t): "tensor '\(t)' is not a LoRA factor (lora_A/lora_B) or a classifier tensor"
            case .shape(let t, let r): "tensor '\(t)': \(r)"
            case .unknownModule(let m): "module '\(m)' is not an adaptable RoBERTa Linear layer"
            case .badSplit(let s): s
            case .approximation(let m, let f, let e): "\(m) \(f): \(e)"
            }
        }
    }

    /// What was read from the PEFT directory.
    public struct LoRA: @unchecked Sendable {
        public struct Module: @unchecked Sendable {
            public var name: String
            public var outFeatures: Int
            public var inFeatures: Int
            /// lora_B [out×r] (our Up) and lora_A [r×in] (our Down).
            public var up: [Float]
            public var down: [Float]
        }
        public var rank: Int
        public var loraAlpha: Double
        public var useRSLoRA: Bool
        public var baseModelNameOrPath: String?
        public var modules: [Module]
        /// classifier.* tensors (HF names), if the adapter saved the head.
        public var head: [(name: String, shape: [Int], values: FloatBuffer)]

        /// α for ΔW = (α/r)·Up·Down with PEFT's scaling: lora_alpha, or lora_alpha·√r with rslora.
        public var alpha: Double { useRSLoRA ? loraAlpha * Double(rank).squareRoot() : loraAlpha }
    }

    public struct Options: Sendable {
        public var separationRank: Int
        /// nil: FactorSplit.auto per dimension.
        public var outSplit: FactorSplit?
        public var inSplit: FactorSplit?
        public var rankSplit: FactorSplit?
        public init(separationRank: Int, outSplit: FactorSplit? = nil, inSplit: FactorSplit? = nil, rankSplit: FactorSplit? = nil) {
            self.separationRank = separationRank
            self.outSplit = outSplit
            self.inSplit = inSplit
            self.rankSplit = rankSplit
        }
    }

    /// Relative Frobenius errors of one converted module.
    public struct ModuleError: Equatable, Sendable {
        public var name: String
        /// ‖Up − Ûp‖/‖Up‖, ‖Down − D̂own‖/‖Down‖, ‖ΔW − ΔŴ‖/‖ΔW‖ (0 where the reference is 0).
        public var up: Double
        public var down: Double
        public var delta: Double
    }

    public struct Result: @unchecked Sendable {
        public var set: AdapterSet
        public var errors: [ModuleError]
    }

    // MARK: - Reading

    /// Reads a PEFT LoRA directory. Errors carry the file they concern.
    public static func read(_ directory: String) throws -> LoRA {
        let configPath = FileSystem.join(directory, "adapter_config.json")
        let weightsPath = FileSystem.join(directory, "adapter_model.safetensors")
        let file = try MappedFile(path: configPath)
        let header: (rank: Int, alpha: Double, rslora: Bool, base: String?)
        do {
            header = try parseConfig(try JSON.parse(file.read(offset: 0, count: file.size)))
        } catch {
            throw FileContextError(path: configPath, underlying: error)
        }
        let archive = try Checkpoint.open(weightsPath)
        do {
            let (modules, head) = try parseTensors(archive, rank: header.rank)
            return LoRA(
                rank: header.rank, loraAlpha: header.alpha, useRSLoRA: header.rslora, baseModelNameOrPath: header.base, modules: modules,
                head: head)
        } catch {
            throw FileContextError(path: weightsPath, underlying: error)
        }
    }

    static func parseConfig(_ json: JSONValue) throws(Error) -> (rank: Int, alpha: Double, rslora: Bool, base: String?) {
        guard let root = json.objectValue else { throw .config(pointer: "/", reason: "expected an object") }
        if let type = root["peft_type"], type.stringValue != "LORA" {
            throw .config(pointer: "/peft_type", reason: "expected \"LORA\", got \(String(decoding: JSON.data(type, style: .compact), as: UTF8.self))")
        }
        guard let rank = root["r"]?.intValue, rank >= 1 else { throw .config(pointer: "/r", reason: "expected an integer ≥ 1") }
        guard let alpha = root["lora_alpha"]?.doubleValue, alpha.isFinite else {
            throw .config(pointer: "/lora_alpha", reason: "expected a number")
        }
        if root["fan_in_fan_out"]?.boolValue == true {
            throw .config(pointer: "/fan_in_fan_out", reason: "true is not supported (factors stored transposed, as for GPT-2's Conv1D); RoBERTa's Linear layers need false")
        }
        for key in ["use_dora"] where root[key]?.boolValue == true {
            throw .config(pointer: "/\(key)", reason: "true is not supported: a DoRA adapter is not a plain LoRA")
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let pattern = root[key]?.objectValue, pattern.count > 0 {
                throw .config(pointer: "/\(key)", reason: "per-module ranks or alphas are not supported (every module must use r and lora_alpha)")
            }
        }
        let rslora = root["use_rslora"]?.boolValue ?? false
        return (rank, alpha, rslora, root["base_model_name_or_path"]?.stringValue)
    }

    static func floats(_ t: ArchiveTensor) throws(Error) -> FloatBuffer {
        guard t.dtype.isFloatingPoint, t.dtype.convertsToFloat else { throw .shape(tensor: t.name, reason: "dtype \(t.dtype.rawValue) is not floating-point") }
        let values = FloatBuffer(count: t.elementCount)
        do { try DTypeConversion.toFloat(t.bytes.buffer, dtype: t.dtype, into: values.buffer) } catch {
            throw .shape(tensor: t.name, reason: "dtype \(t.dtype.rawValue) cannot be read as float32")
        }
        if let bad = values.buffer.firstIndex(where: { !$0.isFinite }) {
            throw .shape(tensor: t.name, reason: "holds a NaN or infinity at element \(bad)")
        }
        return values
    }

    static func parseTensors(_ archive: TensorArchive, rank: Int) throws(Error) -> ([LoRA.Module], [(name: String, shape: [Int], values: FloatBuffer)]) {
        var a: [String: ArchiveTensor] = [:]
        var b: [String: ArchiveTensor] = [:]
        var head: [(name: String, shape: [Int], values: FloatBuffer)] = []
        for t in archive.tensors {
            guard t.name.hasPrefix(prefix) else { throw .unexpectedTensor(t.name) }
            let rest = String(t.name.dropFirst(prefix.count))
            if rest.hasPrefix("classifier.") {
                // modules_to_save copies are saved without the wrapper; strip it if present.
                var name = rest
                for wrapper in ["classifier.modules_to_save.default.", "classifier.modules_to_save."] where name.hasPrefix(wrapper) {
                    name = "classifier." + name.dropFirst(wrapper.count)
                }
                head.append((name, t.shape, try floats(t)))
            } else if rest.hasSuffix(".lora_A.weight") {
                a[String(rest.dropLast(".lora_A.weight".count))] = t
            } else if rest.hasSuffix(".lora_B.weight") {
                b[String(rest.dropLast(".lora_B.weight".count))] = t
            } else {
                throw .unexpectedTensor(t.name)
            }
        }
        for name in b.keys.sorted() where a[name] == nil {
            throw .missingTensor(prefix + name + ".lora_A.weight", reason: "\(prefix + name).lora_B.weight is present")
        }
        var modules: [(key: (Int, Int), module: LoRA.Module)] = []
        for name in a.keys.sorted() {
            guard let down = a[name] else { continue }
            guard let up = b[name] else { throw .missingTensor(prefix + name + ".lora_B.weight", reason: "\(down.name) is present") }
            guard let (layer, linear) = RobertaModel.AdaptedLinear.parse(name), name.hasPrefix("roberta.") else { throw .unknownModule(name) }
            guard down.shape.count == 2, down.shape[0] == rank else {
                throw .shape(tensor: down.name, reason: "shape \(down.shape), expected [r = \(rank), in_features]")
            }
            guard up.shape.count == 2, up.shape[1] == rank else {
                throw .shape(tensor: up.name, reason: "shape \(up.shape), expected [out_features, r = \(rank)]")
            }
            let order = RobertaModel.AdaptedLinear.allCases.firstIndex(of: linear) ?? 0
            modules.append(
                ((layer, order),
                 LoRA.Module(name: name, outFeatures: up.shape[0], inFeatures: down.shape[1], up: try floats(up).array, down: try floats(down).array)))
        }
        if modules.isEmpty { throw .missingTensor("*.lora_A.weight", reason: "the file holds no LoRA factors") }
        return (modules.sorted { $0.key < $1.key }.map(\.module), head)
    }

    // MARK: - Converting

    /// The LSR adapter nearest to `lora`, for the base model `base` (whose shapes every module must fit).
    public static func convert(_ lora: LoRA, base: AdapterSet.BaseModel, config: RobertaConfig, options: Options) throws(Error) -> Result {
        let r = lora.rank
        let rankSplit = options.rankSplit ?? FactorSplit.auto(r)
        guard rankSplit.product == r else { throw .badSplit("rank split \(rankSplit) does not multiply to r = \(r)") }
        guard options.separationRank >= 1 else { throw .badSplit("--separation-rank must be at least 1") }
        var modules: [AdaptedModule] = []
        var errors: [ModuleError] = []
        var targets: [String] = []
        for m in lora.modules {
            guard let (layer, linear) = RobertaModel.AdaptedLinear.parse(m.name) else { throw .unknownModule(m.name) }
            guard layer < config.numHiddenLayers else { throw .unknownModule(m.name) }
            let (out, inputs) = AdapterInit.shape(linear, config)
            guard m.outFeatures == out, m.inFeatures == inputs else {
                throw .shape(
                    tensor: prefix + m.name + ".lora_B.weight",
                    reason: "module is [\(m.outFeatures)×\(m.inFeatures)], the base model's is [\(out)×\(inputs)]")
            }
            if let target = AdapterSet.targetNames.first(where: { AdapterSet.modulePath(layer: layer, target: $0) == m.name }),
                !targets.contains(target)
            {
                targets.append(target)
            }
            let outSplit = options.outSplit ?? FactorSplit.auto(out)
            let inSplit = options.inSplit ?? FactorSplit.auto(inputs)
            guard outSplit.product == out else { throw .badSplit("\(m.name): split \(outSplit) does not multiply to out_features \(out)") }
            guard inSplit.product == inputs else { throw .badSplit("\(m.name): split \(inSplit) does not multiply to in_features \(inputs)") }
            let s = options.separationRank
            let up: KroneckerApproximation.Approximation
            let down: KroneckerApproximation.Approximation
            do {
                up = try KroneckerApproximation.approximate(m.up, a: outSplit.first, b: rankSplit.first, c: outSplit.second, d: rankSplit.second, terms: s)
            } catch { throw .approximation(module: m.name, factor: "Up (lora_B)", error) }
            do {
                down = try KroneckerApproximation.approximate(m.down, a: rankSplit.first, b: inSplit.first, c: rankSplit.second, d: inSplit.second, terms: s)
            } catch { throw .approximation(module: m.name, factor: "Down (lora_A)", error) }
            let module = AdaptedModule(name: m.name, outFeatures: out, inFeatures: inputs, rank: r, factors: .lsr(up: up.sum, down: down.sum))
            let original = AdaptedModule(
                name: m.name, outFeatures: out, inFeatures: inputs, rank: r, factors: .lora(up: FloatBuffer(m.up), down: FloatBuffer(m.down)))
            // The scaling cancels in the relative error of ΔW.
            let delta = KroneckerApproximation.relativeError(module.deltaW(scaling: 1).array, original.deltaW(scaling: 1).array)
            modules.append(module)
            errors.append(ModuleError(name: m.name, up: up.relativeError, down: down.relativeError, delta: delta))
        }
        var head: AdapterSet.Head?
        if !lora.head.isEmpty {
            let labels = lora.head.first { $0.name == "classifier.out_proj.weight" }?.shape.first ?? 0
            head = AdapterSet.Head(tensors: lora.head, id2label: labelNames(config.id2label, count: labels) ?? defaultLabelNames(count: labels))
        }
        let hyper = AdapterSet.Hyperparameters(
            kind: .lsr, rank: r, separationRank: options.separationRank, alpha: lora.alpha, rankSplit: rankSplit, targets: targets)
        return Result(set: AdapterSet(hyperparameters: hyper, base: base, modules: modules, head: head), errors: errors)
    }

    /// The head's label names. PEFT records none: the head was trained for its base model's
    /// labels, so they are that model's config.json `id2label` when it names exactly the ids
    /// 0..<count; nil when it does not (no names, or another count).
    public static func labelNames(_ id2label: [Int: String], count: Int) -> [Int: String]? {
        guard count > 0, id2label.count == count, (0..<count).allSatisfy({ id2label[$0] != nil }) else { return nil }
        return id2label
    }

    /// transformers' names for labels nobody named (PretrainedConfig.id2label): LABEL_0, LABEL_1, ….
    public static func defaultLabelNames(count: Int) -> [Int: String] {
        Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, "LABEL_\($0)") })
    }

    /// The largest separation rank every module of `lora` allows with these splits.
    public static func fullSeparationRank(_ lora: LoRA, options: Options) -> Int {
        let rs = options.rankSplit ?? FactorSplit.auto(lora.rank)
        return lora.modules.map { m in
            let o = options.outSplit ?? FactorSplit.auto(m.outFeatures)
            let i = options.inSplit ?? FactorSplit.auto(m.inFeatures)
            return min(
                KroneckerApproximation.maximumTerms(a: o.first, b: rs.first, c: o.second, d: rs.second),
                KroneckerApproximation.maximumTerms(a: rs.first, b: i.first, c: rs.second, d: i.second))
        }.min() ?? 1
    }

    // MARK: - Writing

    /// conversion.json: {source, separation_rank, modules: [{name, up_error, down_error, delta_error}]}.
    public static func record(_ result: Result, source: String) -> JSONValue {
        [
            "source": .string(source), "separation_rank": JSONValue(result.set.hyperparameters.separationRank),
            "modules": .array(
                result.errors.map {
                    ["name": .string($0.name), "up_error": .double($0.up), "down_error": .double($0.down), "delta_error": .double($0.delta)]
                }),
        ]
    }

    /// Writes the factor file plus conversion.json into `directory` (staged, renamed into place;
    /// an existing directory is replaced only with `replace`). Returns the files written.
    @discardableResult
    public static func write(_ result: Result, source: String, to directory: String, replace: Bool = false) throws -> [String] {
        let staged = try StagedDirectory(destination: directory, replace: replace)
        try Safetensors.write(AdapterFile.tensors(result.set), metadata: [(key: "format", value: "lsrconv")], to: staged.file(AdapterFile.weightsName))
        try DurableFile.write(JSON.data(AdapterFile.config(result.set), style: .pretty), to: staged.file(AdapterFile.configName))
        try DurableFile.write(JSON.data(record(result, source: source), style: .pretty), to: staged.file(recordName))
        try staged.commit()
        return [AdapterFile.configName, AdapterFile.weightsName, recordName]
    }
}
