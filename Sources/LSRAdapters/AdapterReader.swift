import LSREngine
import LSRFormats

extension AdapterFile {
    /// Reads a factor file, checking the config against the tensors: every named tensor present
    /// with the stated shape and a floating-point dtype, finite values, factor shapes whose
    /// products give each module's size, and no tensor the config does not name. Schema
    /// validation of the config itself is `validate`'s first step (LSRSchema); the checks here
    /// are those the schema cannot express. Errors name the JSON pointer or the tensor; the
    /// caller adds the file.
    public static func read(_ directory: String) throws -> AdapterSet {
        let configPath = FileSystem.join(directory, configName)
        let file = try MappedFile(path: configPath)
        let json: JSONValue
        do { json = try JSON.parse(file.read(offset: 0, count: min(file.size, ShardIndex.maxIndexSize))) } catch {
            throw FileContextError(path: configPath, underlying: error)
        }
        let weightsPath = FileSystem.join(directory, weightsName)
        let archive = try Checkpoint.open(weightsPath)
        do { return try parse(json, tensors: archive) } catch {
            switch error {
            case .invalidConfig, .productMismatch: throw FileContextError(path: configPath, underlying: error)
            default: throw FileContextError(path: weightsPath, underlying: error)
            }
        }
    }

    /// Builds the adapter set from a parsed config and its tensors.
    public static func parse(_ json: JSONValue, tensors archive: TensorArchive) throws(Error) -> AdapterSet {
        let root = try Reader(json, pointer: "")
        let kindName = try root.string("kind")
        guard let kind = AdapterKind(rawValue: kindName) else {
            throw .invalidConfig(pointer: "/kind", reason: "expected \"lsr\" or \"lora\", got \"\(kindName)\"")
        }
        let version = try root.int("format_version", minimum: 1)
        guard version == formatVersion else {
            throw .invalidConfig(pointer: "/format_version", reason: "version \(version) is newer than this lsrconv reads (\(formatVersion))")
        }
        let rank = try root.int("rank", minimum: 1)
        var separation = 0
        var rankSplit = FactorSplit(rank, 1)
        var trainableScales = false
        if kind == .lsr {
            separation = try root.int("separation_rank", minimum: 1)
            rankSplit = try root.split("rank_split")
            guard rankSplit.product == rank else {
                throw .productMismatch(pointer: "/rank_split", reason: "\(rankSplit.first)·\(rankSplit.second) ≠ rank \(rank)")
            }
            trainableScales = try root.bool("trainable_scales")
        }
        let alpha = try root.number("alpha")
        let targets = try root.array("targets").enumerated().map { (i, v) throws(Error) in
            guard let s = v.stringValue else { throw .invalidConfig(pointer: "/targets/\(i)", reason: "expected a string") }
            return s
        }
        let baseReader = try root.object("base_model")
        var weights: [(file: String, sha256: String)] = []
        for (i, entry) in try baseReader.array("weights").enumerated() {
            let w = try Reader(entry, pointer: "/base_model/weights/\(i)")
            weights.append((try w.string("file"), try w.string("sha256")))
        }
        let base = AdapterSet.BaseModel(
            hiddenSize: try baseReader.int("hidden_size", minimum: 1), layers: try baseReader.int("num_hidden_layers", minimum: 0),
            attentionHeads: try baseReader.int("num_attention_heads", minimum: 1),
            intermediateSize: try baseReader.int("intermediate_size", minimum: 1), vocabSize: try baseReader.int("vocab_size", minimum: 1),
            weights: weights)

        var named = Set<String>()
        // Problems with the tensors themselves are gathered, not thrown at the first, so that
        // `validate` can list them all; a config whose structure is wrong stops at once.
        var tensorProblems: [Error] = []
        func load(_ entry: Reader, _ expected: [Int]) throws(Error) -> FloatBuffer {
            let name = try entry.string("tensor")
            let shape = try entry.shape("shape")
            guard shape == expected else {
                throw .productMismatch(pointer: entry.pointer + "/shape", reason: "shape \(shape) does not fit the module: expected \(expected)")
            }
            named.insert(name)
            let placeholder = FloatBuffer(count: expected.reduce(1, *))
            guard let tensor = archive[name] else {
                tensorProblems.append(.missingTensor(name, pointer: entry.pointer + "/tensor"))
                return placeholder
            }
            guard tensor.shape == shape else {
                tensorProblems.append(.shapeMismatch(tensor: name, config: shape, file: tensor.shape))
                return placeholder
            }
            let values = FloatBuffer(count: tensor.elementCount)
            guard tensor.dtype.isFloatingPoint, tensor.dtype.convertsToFloat,
                (try? DTypeConversion.toFloat(tensor.bytes.buffer, dtype: tensor.dtype, into: values.buffer)) != nil
            else {
                tensorProblems.append(.unsupportedDType(tensor: name, dtype: tensor.dtype))
                return placeholder
            }
            if let bad = values.buffer.firstIndex(where: { !$0.isFinite }) { tensorProblems.append(.nonFinite(tensor: name, index: bad)) }
            return values
        }

        var modules: [AdaptedModule] = []
        var seen = Set<String>()
        for (i, value) in try root.array("modules").enumerated() {
            let m = try Reader(value, pointer: "/modules/\(i)")
            let name = try m.string("name")
            guard seen.insert(name).inserted else { throw .invalidConfig(pointer: m.pointer + "/name", reason: "module '\(name)' appears twice") }
            let out = try m.int("out_features", minimum: 1)
            let inputs = try m.int("in_features", minimum: 1)
            let up = try m.object("up")
            let down = try m.object("down")
            switch kind {
            case .lsr:
                let outSplit = try m.split("out_split")
                let inSplit = try m.split("in_split")
                guard outSplit.product == out else {
                    throw .productMismatch(pointer: m.pointer + "/out_split", reason: "\(outSplit.first)·\(outSplit.second) ≠ out_features \(out)")
                }
                guard inSplit.product == inputs else {
                    throw .productMismatch(pointer: m.pointer + "/in_split", reason: "\(inSplit.first)·\(inSplit.second) ≠ in_features \(inputs)")
                }
                let (s, r1, r2) = (separation, rankSplit.first, rankSplit.second)
                let upSum = KroneckerSum(
                    terms: s, a: outSplit.first, b: r1, c: outSplit.second, d: r2, left: try load(try up.object("left"), [s, outSplit.first, r1]),
                    right: try load(try up.object("right"), [s, outSplit.second, r2]), scales: try load(try up.object("scales"), [s]))
                let downSum = KroneckerSum(
                    terms: s, a: r1, b: inSplit.first, c: r2, d: inSplit.second, left: try load(try down.object("left"), [s, r1, inSplit.first]),
                    right: try load(try down.object("right"), [s, r2, inSplit.second]), scales: try load(try down.object("scales"), [s]))
                modules.append(AdaptedModule(name: name, outFeatures: out, inFeatures: inputs, rank: rank, factors: .lsr(up: upSum, down: downSum)))
            case .lora:
                let u = try load(try up.object("weight"), [out, rank])
                let d = try load(try down.object("weight"), [rank, inputs])
                modules.append(AdaptedModule(name: name, outFeatures: out, inFeatures: inputs, rank: rank, factors: .lora(up: u, down: d)))
            }
        }

        var head: AdapterSet.Head?
        if let value = root.optional("head"), value != .null {
            let h = try Reader(value, pointer: "/head")
            var labels: [Int: String] = [:]
            for (key, name) in try h.object("id2label").object.members {
                guard let id = Int(key), id >= 0, let s = name.stringValue else {
                    throw .invalidConfig(pointer: "/head/id2label/\(JSONPointer.escape(key))", reason: "expected an integer key and a string label")
                }
                labels[id] = s
            }
            var tensors: [(name: String, shape: [Int], values: FloatBuffer)] = []
            for (i, entry) in try h.array("tensors").enumerated() {
                let t = try Reader(entry, pointer: "/head/tensors/\(i)")
                let shape = try t.shape("shape")
                tensors.append((try t.string("tensor"), shape, try load(t, shape)))
            }
            head = AdapterSet.Head(tensors: tensors, id2label: labels)
        }
        for extra in archive.names where !named.contains(extra) { tensorProblems.append(.unlistedTensor(extra)) }
        if tensorProblems.count == 1 { throw tensorProblems[0] }
        if tensorProblems.count > 1 { throw .several(tensorProblems) }
        let hyper = AdapterSet.Hyperparameters(
            kind: kind, rank: rank, separationRank: separation, alpha: alpha, rankSplit: rankSplit, targets: targets,
            trainableScales: trainableScales)
        return AdapterSet(hyperparameters: hyper, base: base, modules: modules, head: head)
    }
}

/// Typed access to a JSON object that names the pointer of whatever is wrong.
struct Reader {
    let object: JSONObject
    let pointer: String

    init(_ value: JSONValue, pointer: String) throws(AdapterFile.Error) {
        guard case .object(let o) = value else { throw .invalidConfig(pointer: pointer, reason: "expected an object") }
        object = o
        self.pointer = pointer
    }

    func optional(_ key: String) -> JSONValue? { object[key] }

    func value(_ key: String) throws(AdapterFile.Error) -> JSONValue {
        guard let v = object[key] else { throw .invalidConfig(pointer: pointer, reason: "required field '\(key)' is missing") }
        return v
    }

    func string(_ key: String) throws(AdapterFile.Error) -> String {
        guard let s = try value(key).stringValue else { throw .invalidConfig(pointer: "\(pointer)/\(key)", reason: "expected a string") }
        return s
    }

    func bool(_ key: String) throws(AdapterFile.Error) -> Bool {
        guard let b = try value(key).boolValue else { throw .invalidConfig(pointer: "\(pointer)/\(key)", reason: "expected true or false") }
        return b
    }

    func number(_ key: String) throws(AdapterFile.Error) -> Double {
        guard let d = try value(key).doubleValue, d.isFinite else { throw .invalidConfig(pointer: "\(pointer)/\(key)", reason: "expected a number") }
        return d
    }

    func int(_ key: String, minimum: Int) throws(AdapterFile.Error) -> Int {
        let v = try value(key)
        guard let i = v.intValue, i >= minimum else {
            throw .invalidConfig(pointer: "\(pointer)/\(key)", reason: "expected an integer ≥ \(minimum), got \(JSON.serialize(v))")
        }
        return i
    }

    func array(_ key: String) throws(AdapterFile.Error) -> [JSONValue] {
        guard let a = try value(key).arrayValue else { throw .invalidConfig(pointer: "\(pointer)/\(key)", reason: "expected an array") }
        return a
    }

    func object(_ key: String) throws(AdapterFile.Error) -> Reader { try Reader(try value(key), pointer: "\(pointer)/\(key)") }

    /// A shape: an array of non-negative integers.
    func shape(_ key: String) throws(AdapterFile.Error) -> [Int] {
        var dims: [Int] = []
        for (i, v) in try array(key).enumerated() {
            guard let d = v.intValue, d >= 0 else { throw .invalidConfig(pointer: "\(pointer)/\(key)/\(i)", reason: "expected a non-negative integer") }
            dims.append(d)
        }
        return dims
    }

    /// A factor split: two positive integers.
    func split(_ key: String) throws(AdapterFile.Error) -> FactorSplit {
        let dims = try shape(key)
        guard dims.count == 2, dims[0] >= 1, dims[1] >= 1 else {
            throw .invalidConfig(pointer: "\(pointer)/\(key)", reason: "expected two positive integers")
        }
        return FactorSplit(dims[0], dims[1])
    }
}
