import LSREngine
import LSRFormats
import LSRModel

/// Every adapted module of one model, the hyperparameters they share, the base model they were
/// made for, and (optionally) a trained classification head.
public struct AdapterSet: @unchecked Sendable {
    public struct Hyperparameters: Equatable, Sendable {
        public var kind: AdapterKind
        /// r: Up is [out×r], Down [r×in].
        public var rank: Int
        /// s: Kronecker terms per factor (LSR only; 0 for LoRA).
        public var separationRank: Int
        /// α: ΔW = (α/r)·Up·Down.
        public var alpha: Double
        /// r = r1·r2, shared by every module (LSR only).
        public var rankSplit: FactorSplit
        /// Module names adapted in every layer: "query", "value", "key", "attention.output.dense", ...
        public var targets: [String]
        /// Whether λ is trained (otherwise fixed at 1).
        public var trainableScales: Bool

        public init(
            kind: AdapterKind, rank: Int, separationRank: Int, alpha: Double, rankSplit: FactorSplit, targets: [String],
            trainableScales: Bool = false
        ) {
            self.kind = kind
            self.rank = rank
            self.separationRank = separationRank
            self.alpha = alpha
            self.rankSplit = rankSplit
            self.targets = targets
            self.trainableScales = trainableScales
        }

        /// α/r (PEFT's scaling without rslora).
        public var scaling: Float { Float(alpha / Double(rank)) }
    }

    /// The base model an adapter was made for: what must match to apply it.
    public struct BaseModel: Equatable, Sendable {
        public var hiddenSize: Int
        public var layers: Int
        public var attentionHeads: Int
        public var intermediateSize: Int
        public var vocabSize: Int
        /// Weight files (names only) and their sha256, as found when the adapter was made.
        public var weights: [(file: String, sha256: String)]

        public init(hiddenSize: Int, layers: Int, attentionHeads: Int, intermediateSize: Int, vocabSize: Int, weights: [(file: String, sha256: String)]) {
            self.hiddenSize = hiddenSize
            self.layers = layers
            self.attentionHeads = attentionHeads
            self.intermediateSize = intermediateSize
            self.vocabSize = vocabSize
            self.weights = weights
        }

        public static func == (l: BaseModel, r: BaseModel) -> Bool {
            (l.hiddenSize, l.layers, l.attentionHeads, l.intermediateSize, l.vocabSize) == (r.hiddenSize, r.layers, r.attentionHeads, r.intermediateSize, r.vocabSize)
                && l.weights.map(\.file) == r.weights.map(\.file) && l.weights.map(\.sha256) == r.weights.map(\.sha256)
        }
    }

    /// A trained sequence-classification head: its tensors under HF names (classifier.*) and labels.
    public struct Head: @unchecked Sendable {
        public var tensors: [(name: String, shape: [Int], values: FloatBuffer)]
        public var id2label: [Int: String]
        public init(tensors: [(name: String, shape: [Int], values: FloatBuffer)], id2label: [Int: String]) {
            self.tensors = tensors
            self.id2label = id2label
        }

        /// A name for every output of the head (out_proj's rows; id2label's count without it):
        /// id2label's, LABEL_i where it has none (transformers' default).
        public var labels: [Int: String] {
            let count = tensors.first { $0.name == "classifier.out_proj.weight" }?.shape.first ?? id2label.count
            return Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, id2label[$0] ?? "LABEL_\($0)") })
        }
    }

    public var hyperparameters: Hyperparameters
    public var base: BaseModel
    public var modules: [AdaptedModule]
    public var head: Head?

    public init(hyperparameters: Hyperparameters, base: BaseModel, modules: [AdaptedModule], head: Head? = nil) {
        self.hyperparameters = hyperparameters
        self.base = base
        self.modules = modules
        self.head = head
    }

    public var parameterCount: Int { modules.reduce(0) { $0 + $1.parameterCount } }

    /// Parameters of a LoRA adapter of the same rank on the same modules, r·(out + in) each:
    /// what an LSR adapter is meant to undercut.
    public var loraParameterCount: Int { modules.reduce(0) { $0 + hyperparameters.rank * ($1.outFeatures + $1.inFeatures) } }

    /// The module paths a target name adapts in a RoBERTa layer ("query" → attention.self.query).
    public static func modulePath(layer: Int, target: String) -> String? {
        let paths = [
            "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
            "attention.output.dense": "attention.output.dense", "intermediate.dense": "intermediate.dense", "output.dense": "output.dense",
        ]
        return paths[target].map { "roberta.encoder.layer.\(layer).\($0)" }
    }

    /// Target names accepted by `modulePath`.
    public static let targetNames = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
}
