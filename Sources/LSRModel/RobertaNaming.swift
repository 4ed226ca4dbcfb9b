import LSRFormats

/// Canonical Hugging Face names for RoBERTa tensors, from the spellings found in the wild
/// (REFERENCE.md, "RoBERTa"): with or without the `roberta.` prefix, the old
/// `LayerNorm.gamma/beta`, and the `embeddings.position_ids` buffer (dropped: it is arange).
public enum RobertaNaming {
    /// What happened to each input name.
    public struct Mapping: Sendable {
        /// Output name per kept input tensor, in input order.
        public var renamed: [(from: String, to: String)] = []
        /// Buffers dropped because they carry no weights.
        public var dropped: [String] = []
        /// Tensors that are not part of a RoBERTa encoder or its known heads, kept verbatim.
        public var unknown: [String] = []
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// Two input names map to the same canonical name (e.g. both `gamma` and `weight`).
        case collision(String, sources: [String])
        public var description: String {
            switch self {
            case .collision(let n, let s): "tensors \(s.map { "'\($0)'" }.joined(separator: " and ")) both map to '\(n)'"
            }
        }
    }

    static let buffers: Set<String> = ["embeddings.position_ids"]

    /// Tensor names of the encoder (without prefix), keyed by the pattern of their path.
    static func isEncoderName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "embeddings":
            return ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"].contains(name)
        case "pooler":
            return name == "pooler.dense.weight" || name == "pooler.dense.bias"
        case "encoder":
            guard parts.count >= 5, parts[1] == "layer", Int(parts[2]) != nil, ["weight", "bias"].contains(parts.last!) else { return false }
            let module = parts[3..<(parts.count - 1)].joined(separator: ".")
            return [
                "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
            ].contains(module)
        default:
            return false
        }
    }

    static func isHeadName(_ name: String) -> Bool {
        ["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias",
            "lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias",
            "lm_head.decoder.weight", "lm_head.decoder.bias", "lm_head.bias"].contains(name)
    }

    /// Maps `names` to canonical HF names. Encoder tensors get the `roberta.` prefix when the
    /// checkpoint has a head (as RobertaFor… models save them) and none otherwise (RobertaModel).
    public static func canonicalize(_ names: [String]) throws(Error) -> Mapping {
        func bare(_ name: String) -> String {
            var n = name
            if n.hasPrefix("roberta.") { n.removeFirst("roberta.".count) }
            if n.hasSuffix("LayerNorm.gamma") { n = String(n.dropLast("gamma".count)) + "weight" }
            if n.hasSuffix("LayerNorm.beta") { n = String(n.dropLast("beta".count)) + "bias" }
            return n
        }
        let hasHead = names.contains { isHeadName(bare($0)) }
        var mapping = Mapping()
        var sources: [String: String] = [:]
        for name in names {
            let b = bare(name)
            let out: String
            if buffers.contains(b) {
                mapping.dropped.append(name)
                continue
            } else if isEncoderName(b) {
                out = hasHead ? "roberta." + b : b
            } else if isHeadName(b) {
                out = b
            } else {
                mapping.unknown.append(name)
                out = name
            }
            if let other = sources[out] { throw .collision(out, sources: [other, name]) }
            sources[out] = name
            mapping.renamed.append((name, out))
        }
        return mapping
    }

    /// Where a canonical name (bare, no `roberta.` prefix) stands in a transformers RoBERTa
    /// model's state_dict(): module registration order (modeling_roberta.py: RobertaEmbeddings,
    /// then each RobertaLayer's attention.self, attention.output, intermediate, output; the
    /// pooler; the heads, whose own parameters precede their children's, as
    /// nn.Module._save_to_state_dict does). Nil for names outside the model.
    static func stateDictRank(_ bare: String) -> (section: Int, layer: Int, position: Int)? {
        let sections: [[String]] = [
            ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
                "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"],
            [],  // encoder layers, below
            ["pooler.dense.weight", "pooler.dense.bias"],
            ["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"],
            ["lm_head.bias", "lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias",
                "lm_head.decoder.weight", "lm_head.decoder.bias"],
        ]
        for (section, names) in sections.enumerated() {
            if let position = names.firstIndex(of: bare) { return (section, 0, position) }
        }
        guard isEncoderName(bare) else { return nil }
        let parts = bare.split(separator: ".").map(String.init)
        let module = parts[3..<(parts.count - 1)].joined(separator: ".")
        let modules = [
            "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
        ]
        guard let layer = Int(parts[2]), let m = modules.firstIndex(of: module) else { return nil }
        return (1, layer, 2 * m + (parts.last == "weight" ? 0 : 1))
    }

    /// Indices into `names` (canonical names, as `canonicalize` gives them) in state-dict order,
    /// so that writers split shards where transformers' save_pretrained splits them; names
    /// outside the model (unknown tensors) follow, in their input order.
    public static func stateDictPermutation(_ names: [String]) -> [Int] {
        let keys = names.map { name in
            let bare = name.hasPrefix("roberta.") ? String(name.dropFirst("roberta.".count)) : name
            return stateDictRank(bare) ?? (Int.max, 0, 0)
        }
        return names.indices.sorted { (keys[$0].0, keys[$0].1, keys[$0].2, $0) < (keys[$1].0, keys[$1].1, keys[$1].2, $1) }
    }
}
