import LSREngine
import LSRFormats

/// The weights of a RoBERTa encoder and its classification head in f32, as the engine uses
/// them: names mirror transformers' module tree (modeling_roberta.py), so loading is one
/// lookup per tensor with no rename chains. Query, key and value are fused into one [3C, C]
/// projection (one GEMM instead of three).
///
/// Legend: V vocab, P positions, Y token types, C hidden, F intermediate, L labels.
public struct RobertaLayerWeights: Sendable {
    public var queryKeyValue: Linear  // W [3C, C] = query | key | value rows, b [3C]
    public var attentionOutput: Linear  // [C, C]
    public var attentionNorm: LayerNorm  // [C]
    public var intermediate: Linear  // [F, C]
    public var output: Linear  // [C, F]
    public var outputNorm: LayerNorm  // [C]
}

public struct RobertaClassifierWeights: Sendable {
    public var dense: Linear  // [C, C]
    public var outProjection: Linear  // [L, C]
}

public struct RobertaWeights: Sendable {
    public var wordEmbeddings: FloatBuffer  // [V, C]
    public var positionEmbeddings: FloatBuffer  // [P, C]
    public var tokenTypeEmbeddings: FloatBuffer  // [Y, C]
    public var embeddingNorm: LayerNorm  // [C]
    public var layers: [RobertaLayerWeights]
    /// nil for an encoder without a sequence-classification head.
    public var classifier: RobertaClassifierWeights?

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case missingTensor(String)
        case wrongShape(tensor: String, expected: [Int], got: [Int])
        /// A tensor no RoBERTa model has (known extras such as the pooler and the MLM head are
        /// accepted and left unused).
        case unexpectedTensor(String)
        case unconvertibleDType(tensor: String, dtype: DType)
        /// The model needs a classification head and the checkpoint has none.
        case noClassifier

        public var description: String {
            switch self {
            case .missingTensor(let t): "tensor '\(t)' is missing"
            case .wrongShape(let t, let e, let g): "tensor '\(t)' has shape \(g), expected \(e)"
            case .unexpectedTensor(let t): "unexpected tensor '\(t)': not part of a RoBERTa model"
            case .unconvertibleDType(let t, let d): "tensor '\(t)': dtype \(d.rawValue) cannot be read as f32"
            case .noClassifier: "no sequence-classification head (classifier.dense, classifier.out_proj)"
            }
        }
    }

    /// Loads every tensor `config` calls for from `checkpoint` (canonical names), converting any
    /// dtype to f32 once. Errors name the tensor; the caller adds the file.
    public init(checkpoint: RobertaCheckpoint, config: RobertaConfig) throws(Error) {
        let (c, f) = (config.hiddenSize, config.intermediateSize)
        let eps = Float(config.layerNormEps)
        let byName = Dictionary(checkpoint.archive.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var tensors: [String: ArchiveTensor] = [:]
        for (from, to) in checkpoint.mapping.renamed {
            tensors[to.hasPrefix("roberta.") ? String(to.dropFirst("roberta.".count)) : to] = byName[from]
        }
        var used = Set<String>()
        func load(_ name: String, _ shape: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws(Error) {
            guard let tensor = tensors[name] else { throw .missingTensor(name) }
            guard tensor.shape == shape else { throw .wrongShape(tensor: name, expected: shape, got: tensor.shape) }
            do { try DTypeConversion.toFloat(tensor.bytes.buffer, dtype: tensor.dtype, into: destination) } catch {
                throw .unconvertibleDType(tensor: name, dtype: tensor.dtype)
            }
            used.insert(name)
        }
        func load(_ name: String, _ shape: [Int]) throws(Error) -> FloatBuffer {
            let buffer = FloatBuffer(count: shape.reduce(1, *))
            try load(name, shape, into: buffer.buffer)
            return buffer
        }
        func linear(_ name: String, out: Int, in inputs: Int) throws(Error) -> Linear {
            Linear(
                weight: try load(name + ".weight", [out, inputs]), bias: try load(name + ".bias", [out]), inFeatures: inputs,
                outFeatures: out)
        }
        func norm(_ name: String) throws(Error) -> LayerNorm {
            LayerNorm(weight: try load(name + ".weight", [c]), bias: try load(name + ".bias", [c]), eps: eps)
        }

        wordEmbeddings = try load("embeddings.word_embeddings.weight", [config.vocabSize, c])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, c])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [config.typeVocabSize, c])
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = []
        for i in 0..<config.numHiddenLayers {
            let p = "encoder.layer.\(i)."
            // Converted straight into the fused buffers (no per-part copies: 7 MB less per layer at peak).
            let fused = FloatBuffer(count: 3 * c * c)
            let fusedBias = FloatBuffer(count: 3 * c)
            for (j, part) in ["query", "key", "value"].enumerated() {
                let name = p + "attention.self." + part
                try load(name + ".weight", [c, c], into: UnsafeMutableBufferPointer(start: fused.pointer + j * c * c, count: c * c))
                try load(name + ".bias", [c], into: UnsafeMutableBufferPointer(start: fusedBias.pointer + j * c, count: c))
            }
            layers.append(
                RobertaLayerWeights(
                    queryKeyValue: Linear(weight: fused, bias: fusedBias, inFeatures: c, outFeatures: 3 * c),
                    attentionOutput: try linear(p + "attention.output.dense", out: c, in: c),
                    attentionNorm: try norm(p + "attention.output.LayerNorm"),
                    intermediate: try linear(p + "intermediate.dense", out: f, in: c),
                    output: try linear(p + "output.dense", out: c, in: f),
                    outputNorm: try norm(p + "output.LayerNorm")))
        }
        if tensors["classifier.out_proj.weight"] != nil || tensors["classifier.dense.weight"] != nil {
            let labels = tensors["classifier.out_proj.weight"]?.shape.first ?? config.numLabels ?? 2
            classifier = RobertaClassifierWeights(
                dense: try linear("classifier.dense", out: c, in: c), outProjection: try linear("classifier.out_proj", out: labels, in: c))
        } else {
            classifier = nil
        }
        // Strict: anything left over must be a known part of some RoBERTa model (the pooler of
        // RobertaModel, the MLM head of RobertaForMaskedLM), which this model does not use.
        for name in tensors.keys.sorted() where !used.contains(name) {
            guard name.hasPrefix("pooler.") || name.hasPrefix("lm_head.") else { throw .unexpectedTensor(name) }
        }
    }

    public var labelCount: Int? { classifier?.outProjection.outFeatures }
}

extension RobertaModel {
    /// Loads a model from any checkpoint lsrconv reads (file or directory) and its config
    /// (`configPath`, else config.json beside it, else a fairseq checkpoint's own arguments,
    /// else shapes). Errors name the file and, where it applies, the tensor.
    public static func load(_ path: String, configPath: String? = nil, fairseqHead: String? = nil) throws -> RobertaModel {
        let archive = try Checkpoint.open(path)
        let checkpoint = try RobertaCheckpoint(archive, fairseqHead: fairseqHead)
        let directory = FileSystem.isDirectory(path) ? path : FileSystem.directoryName(path)
        let (config, source) = try checkpoint.config(sourceDirectory: directory, configPath: configPath)
        let file = archive.files.first ?? path
        let weights: RobertaWeights
        do { weights = try RobertaWeights(checkpoint: checkpoint, config: config) } catch {
            throw FileContextError(path: file, underlying: error)
        }
        do { return try RobertaModel(config: config, weights: weights) } catch {
            if case .file(let configFile) = source { throw FileContextError(path: configFile, underlying: error) }
            throw FileContextError(path: file, underlying: error)
        }
    }
}
