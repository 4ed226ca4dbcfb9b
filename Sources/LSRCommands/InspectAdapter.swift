import LSRAdapters
import LSRFormats

/// What `inspect` adds for an adapter directory (one holding adapter_config.json): the modules,
/// their factor shapes, parameters against LoRA at the same rank, and the condition number γ
/// of every Kronecker sum (DESIGN.md §4).
struct AdapterSummary {
    let adapter: AdapterSet

    /// Unit roundoff of the dtypes a factor file might be stored in: f16 2⁻¹¹, bf16 2⁻⁸.
    static let roundoff: [(dtype: String, mu: Double)] = [("f16", 0x1p-11), ("bf16", 0x1p-8)]
    /// Relative change of Up or Down that storing the factors in a narrower dtype may cause,
    /// γ·μ, above which `inspect` warns (Beylkin–Mohlenkamp: rounding each unit-norm term by μ
    /// moves the sum by up to γ·μ·‖M‖_F).
    static let warnAbove = 1e-2

    struct Row {
        let name: String
        let shape: String
        let upFactors: String
        let downFactors: String
        let parameters: Int
        let lora: Int
        let gammaUp: Double?
        let gammaDown: Double?
    }

    var rows: [Row] {
        adapter.modules.map { m in
            let lora = m.rank * (m.outFeatures + m.inFeatures)
            switch m.factors {
            case .lsr(let up, let down):
                return Row(
                    name: m.name, shape: "\(m.outFeatures)×\(m.inFeatures)", upFactors: "\(up.terms)×([\(up.a)×\(up.b)]⊗[\(up.c)×\(up.d)])",
                    downFactors: "\(down.terms)×([\(down.a)×\(down.b)]⊗[\(down.c)×\(down.d)])", parameters: m.parameterCount, lora: lora,
                    gammaUp: up.conditionNumber(), gammaDown: down.conditionNumber())
            case .lora:
                return Row(
                    name: m.name, shape: "\(m.outFeatures)×\(m.inFeatures)", upFactors: "[\(m.outFeatures)×\(m.rank)]",
                    downFactors: "[\(m.rank)×\(m.inFeatures)]", parameters: m.parameterCount, lora: lora, gammaUp: nil, gammaDown: nil)
            }
        }
    }

    /// One warning per module and factor whose γ·μ exceeds `warnAbove` for f16 or bf16.
    func warnings(_ rows: [Row]) -> [String] {
        var out: [String] = []
        for row in rows {
            for (factor, gamma) in [("up", row.gammaUp), ("down", row.gammaDown)] {
                guard let gamma else { continue }
                for (dtype, mu) in Self.roundoff where gamma * mu > Self.warnAbove {
                    out.append(
                        "\(row.name) \(factor): γ = \(String(format: "%.3g", gamma)); stored as \(dtype) its factors could move it by "
                            + "\(String(format: "%.2g", gamma * mu * 100))% (γ·μ, μ = 2^\(dtype == "f16" ? -11 : -8)): keep it f32")
                }
            }
        }
        return out
    }

    func printText() {
        let h = adapter.hyperparameters
        let rows = self.rows
        let lora = rows.reduce(0) { $0 + $1.lora }
        Output.line("adapter:     \(h.kind.rawValue), r = \(h.rank)" + (h.kind == .lsr ? " (\(h.rankSplit)), s = \(h.separationRank)" : "")
            + ", α = \(h.alpha), scaling \(h.scaling)")
        Output.line("base model:  hidden \(adapter.base.hiddenSize), \(adapter.base.layers) layers, \(adapter.base.attentionHeads) heads, "
            + "intermediate \(adapter.base.intermediateSize), vocab \(adapter.base.vocabSize)")
        Output.line("modules:     \(adapter.modules.count) (\(h.targets.joined(separator: ", ")))")
        Output.line("parameters:  \(Output.grouped(adapter.parameterCount)) (LoRA at r = \(h.rank): \(Output.grouped(lora)); "
            + String(format: "%.2f×", Double(adapter.parameterCount) / Double(max(lora, 1))) + ")")
        Output.line("head:        " + (adapter.head.map { "\($0.id2label.count) labels (\($0.tensors.map(\.name).joined(separator: ", ")))" } ?? "none"))
        Output.line()
        func gamma(_ g: Double?) -> String { g.map { String(format: "%.3g", $0) } ?? "-" }
        var table = [["module", "out×in", "up", "down", "params", "LoRA", "γ up", "γ down"]]
        for r in rows {
            table.append([r.name, r.shape, r.upFactors, r.downFactors, String(r.parameters), String(r.lora), gamma(r.gammaUp), gamma(r.gammaDown)])
        }
        for line in Output.table(table) { Output.line(line) }
        for w in warnings(rows) { Output.warning(w) }
    }

    var json: JSONValue {
        let h = adapter.hyperparameters
        let rows = self.rows
        func gamma(_ g: Double?) -> JSONValue { g.map { .double($0) } ?? .null }
        return [
            "kind": .string(h.kind.rawValue), "rank": JSONValue(h.rank), "separation_rank": JSONValue(h.separationRank),
            "alpha": .double(h.alpha), "scaling": .double(Double(h.scaling)), "targets": .array(h.targets.map { .string($0) }),
            "parameters": JSONValue(adapter.parameterCount), "lora_parameters": JSONValue(rows.reduce(0) { $0 + $1.lora }),
            "head_labels": adapter.head.map { JSONValue($0.id2label.count) } ?? .null,
            "modules": .array(
                rows.map {
                    [
                        "name": .string($0.name), "shape": .string($0.shape), "up": .string($0.upFactors), "down": .string($0.downFactors),
                        "parameters": JSONValue($0.parameters), "lora_parameters": JSONValue($0.lora), "gamma_up": gamma($0.gammaUp),
                        "gamma_down": gamma($0.gammaDown),
                    ]
                }),
            "warnings": .array(warnings(rows).map { .string($0) }),
        ]
    }
}
