import ArgumentParser
import Foundation
import LSRAdapters
import LSRFormats
import LSRModel

/// `lsrconv convert-adapter --adapter DIR --out DIR --separation-rank S [--model DIR] [--factors ...] [--rank-split AxB]`.
struct ConvertAdapter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-adapter",
        abstract: "Turn a PEFT LoRA adapter into the nearest LSR adapter.",
        discussion: """
            Up = lora_B and Down = lora_A of every module are each replaced by the sum of S Kronecker products \
            nearest in Frobenius norm (Van Loan–Pitsianis rearrangement + truncated SVD, LAPACK sgesvd). The \
            singular values are split evenly between the two factors (λ = 1). r and α are kept, so ΔW keeps \
            PEFT's scaling α/r; with use_rslora (α/√r) the difference is folded into α = lora_alpha·√r. \
            --separation-rank full gives the exact representation. The relative Frobenius errors of Up, Down \
            and ΔW per module are printed and written to conversion.json beside the adapter. The base model's \
            shape and weight digests come from --model (default: base_model_name_or_path when it is a local \
            directory), and so do the names of the head's labels (its config.json id2label; PEFT records none). \
            --from is the older name of --adapter.

            Examples:
              lsrconv convert-adapter --adapter peft --out lsr --separation-rank 8
              lsrconv convert-adapter --adapter peft --out lsr --separation-rank full \\
                  --model roberta-base
              lsrconv convert-adapter --adapter peft --out lsr --separation-rank 4 \\
                  --factors 32x24 --force --json
            """)

    @Option(
        name: [.customLong("adapter"), .customLong("from")],
        help: "PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors); --from is an alias.")
    var adapter: String

    @Option(help: "Output adapter directory.")
    var out: String

    @Option(help: "s: Kronecker terms per factor, or 'full' (the largest every module allows: exact).")
    var separationRank: String

    @Option(help: "Base model directory or checkpoint (default: the PEFT config's base_model_name_or_path, if local).")
    var model: String?

    @Option(help: "Factor splits: auto, or OUTxIN splits such as 32x24 (both sides), or 32x24,64x48 (out, in).")
    var factors = "auto"

    @Option(help: "Split of the rank, r = r1×r2 (default: auto).")
    var rankSplit: String?

    @Flag(help: "Replace an existing output directory.")
    var force = false

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    func validate() throws {
        if separationRank != "full" {
            guard let s = Int(separationRank), s >= 1 else {
                throw ValidationError("--separation-rank '\(separationRank)' is not a positive integer or 'full'")
            }
        }
        _ = try SplitOptions.factors(factors)
        _ = try SplitOptions.rank(rankSplit)
    }

    func run() throws {
        try refuseOverlap(output: out, inputs: [adapter, model])
        try Outputs.refuseExisting(out, force: force)
        var options = LoRAConversion.Options(separationRank: 0)
        if let splits = try SplitOptions.factors(factors) { (options.outSplit, options.inSplit) = (splits.out, splits.in) }
        options.rankSplit = try SplitOptions.rank(rankSplit)
        let lora = try reporting(path: adapter) { try LoRAConversion.read(adapter) }
        // validate() checked that a value other than "full" is a positive integer.
        options.separationRank = Int(separationRank) ?? LoRAConversion.fullSeparationRank(lora, options: options)
        guard let modelPath = model ?? lora.baseModelNameOrPath.flatMap({ FileSystem.isDirectory($0) ? $0 : nil }) else {
            let named = lora.baseModelNameOrPath.map { " (base_model_name_or_path '\($0)' is not a local directory)" } ?? ""
            throw CommandFailure(message: "convert-adapter needs the base model's shape: give --model DIR\(named)")
        }
        let (config, base) = try reporting(path: modelPath) { () throws -> (RobertaConfig, AdapterSet.BaseModel) in
            let archive = try Checkpoint.open(modelPath)
            let checkpoint = try RobertaCheckpoint(archive)
            let directory = FileSystem.isDirectory(modelPath) ? modelPath : FileSystem.directoryName(modelPath)
            let (config, _) = try checkpoint.config(sourceDirectory: directory, configPath: nil)
            let weights = try archive.files.map { (file: FileSystem.baseName($0), sha256: try AdapterMerge.digest($0)) }
            let base = AdapterSet.BaseModel(
                hiddenSize: config.hiddenSize, layers: config.numHiddenLayers, attentionHeads: config.numAttentionHeads,
                intermediateSize: config.intermediateSize, vocabSize: config.vocabSize, weights: weights)
            return (config, base)
        }
        let result = try reporting(path: adapter) { try LoRAConversion.convert(lora, base: base, config: config, options: options) }
        _ = try reporting(path: out) { try LoRAConversion.write(result, source: adapter, to: out, replace: force) }
        SplitOptions.warnIfLargerThanLoRA(result.set)
        if let head = result.set.head, !config.id2label.isEmpty, LoRAConversion.labelNames(config.id2label, count: head.id2label.count) == nil {
            let names = head.id2label.keys.sorted().map { head.id2label[$0]! }
            Output.warning(
                "\(modelPath): id2label names \(config.id2label.count) labels, the adapter's head has \(head.id2label.count): "
                    + "its labels are written as \(names.joined(separator: ", "))")
        }

        let h = result.set.hyperparameters
        if json {
            Output.json([
                "source": .string(adapter), "output": .string(out), "modules": JSONValue(result.errors.count),
                "rank": JSONValue(h.rank), "separation_rank": JSONValue(h.separationRank), "alpha": .double(h.alpha),
                "use_rslora": .bool(lora.useRSLoRA), "parameters": JSONValue(result.set.parameterCount),
                "errors": .array(
                    result.errors.map {
                        ["name": .string($0.name), "up_error": .double($0.up), "down_error": .double($0.down), "delta_error": .double($0.delta)]
                    }),
            ])
            return
        }
        let loraParameters = result.set.loraParameterCount
        Output.line("adapter:    \(out)/ (\(AdapterFile.configName), \(AdapterFile.weightsName), \(LoRAConversion.recordName))")
        Output.line("from:       \(adapter) (LoRA r = \(h.rank), lora_alpha = \(lora.loraAlpha)\(lora.useRSLoRA ? ", rslora" : ""))")
        Output.line("kind:       lsr, r = \(h.rank) (\(h.rankSplit)), s = \(h.separationRank), α = \(h.alpha)")
        if lora.useRSLoRA {
            Output.line("scaling:    rslora's lora_alpha/√r kept as α/r with α = lora_alpha·√r = \(h.alpha)")
        }
        Output.line("parameters: \(Output.grouped(result.set.parameterCount)) (the LoRA: \(Output.grouped(loraParameters)))")
        Output.line("relative Frobenius errors:")
        let rows = [["module", "Up", "Down", "ΔW"]] + result.errors.map { [$0.name, format($0.up), format($0.down), format($0.delta)] }
        for line in Output.table(rows) { Output.line("  " + line) }
    }

    func format(_ x: Double) -> String { String(format: "%.3e", x) }
}
