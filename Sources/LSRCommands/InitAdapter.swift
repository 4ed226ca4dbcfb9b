import ArgumentParser
import Foundation
import LSRAdapters
import LSRFormats
import LSRModel

/// `lsrconv init-adapter --model DIR --out DIR [--kind lsr|lora] [--targets ...] ...`.
struct InitAdapter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-adapter",
        abstract: "Write a fresh adapter (factor file) for a model.",
        discussion: """
            Default: LSR, query and value of every layer, r = 4 (2×2), s = 16, splits the divisor pair closest \
            to √n (768 → 32×24), α = 8, and ΔW = 0 at the start (--init zero). The adapter records the base \
            model's shape and the sha256 of its weight files. An existing output is replaced only with --force.

            Examples:
              lsrconv init-adapter --model roberta-base --out lsr
              lsrconv init-adapter --model roberta-base --out lsr --force \\
                  --targets query,key,value --separation-rank 8
              lsrconv init-adapter --model roberta-base --out lora --kind lora --json
            """)

    @Option(help: "Base model directory or checkpoint.")
    var model: String

    @Option(help: "Output adapter directory.")
    var out: String

    @Option(help: "lsr or lora.")
    var kind: String = "lsr"

    @Option(help: "Comma-separated modules to adapt in every layer: \(AdapterSet.targetNames.joined(separator: ", ")).")
    var targets = "query,value"

    @Option(help: "r: the bottleneck of Up [out×r] and Down [r×in].")
    var rank = 4

    @Option(help: "s: Kronecker terms per factor (LSR; default: 16).")
    var separationRank: Int?

    @Option(help: "Factor splits: auto, or OUTxIN splits such as 32x24 (both sides), or 32x24,64x48 (out, in).")
    var factors = "auto"

    @Option(help: "Split of the rank, r = r1×r2 (LSR; default: auto).")
    var rankSplit: String?

    @Option(help: "α: ΔW = (α/r)·Up·Down.")
    var alpha: Double = 8

    @Option(name: .customLong("init"), help: "zero (ΔW = 0 at the start) or random (every factor random).")
    var initialization: String = "zero"

    @Option(help: "Seed of the factor generator.")
    var seed: UInt64 = 0

    @Flag(help: "Replace an existing output directory.")
    var force = false

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    func validate() throws {
        guard let kind = AdapterKind(rawValue: kind) else { throw ValidationError("--kind '\(kind)' is not lsr or lora") }
        guard AdapterInit.Start(rawValue: initialization) != nil else { throw ValidationError("--init '\(initialization)' is not zero or random") }
        if kind == .lora, separationRank != nil { throw ValidationError(Self.separationRankWithLoRA) }
        _ = try SplitOptions.factors(factors)
        _ = try SplitOptions.rank(rankSplit)
    }

    /// A LoRA adapter has no Kronecker terms: taking the option silently would hide a mistake.
    static let separationRankWithLoRA = "--separation-rank goes with --kind lsr, not --kind lora (a LoRA adapter has no Kronecker terms)"

    func run() throws {
        try refuseOverlap(output: out, inputs: [model])
        try Outputs.refuseExisting(out, force: force)
        var options = AdapterInit.Options()
        options.kind = AdapterKind(rawValue: kind)!  // validate() checked both
        options.start = AdapterInit.Start(rawValue: initialization)!
        options.targets = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        options.rank = rank
        options.separationRank = separationRank ?? options.separationRank
        options.alpha = alpha
        options.seed = seed
        if let splits = try SplitOptions.factors(factors) { (options.outSplit, options.inSplit) = (splits.out, splits.in) }
        options.rankSplit = try SplitOptions.rank(rankSplit)
        let set = try reporting(path: model) { () throws -> AdapterSet in
            let archive = try Checkpoint.open(model)
            let checkpoint = try RobertaCheckpoint(archive)
            let directory = FileSystem.isDirectory(model) ? model : FileSystem.directoryName(model)
            let (config, _) = try checkpoint.config(sourceDirectory: directory, configPath: nil)
            let weights = try AdapterMerge.digests(archive.files)
            return try AdapterInit.make(config: config, weights: weights, options: options)
        }
        _ = try reporting(path: out) { try AdapterFile.write(set, to: out, replace: force) }
        SplitOptions.warnIfLargerThanLoRA(set)
        let h = set.hyperparameters
        if json {
            Output.json([
                "output": .string(out), "kind": .string(h.kind.rawValue), "modules": JSONValue(set.modules.count),
                "parameters": JSONValue(set.parameterCount), "rank": JSONValue(h.rank),
                "separation_rank": JSONValue(h.separationRank), "alpha": .double(h.alpha),
            ])
            return
        }
        let lora = set.loraParameterCount
        Output.line("adapter:    \(out)/ (\(AdapterFile.configName), \(AdapterFile.weightsName))")
        Output.line("kind:       \(h.kind.rawValue), r = \(h.rank)" + (h.kind == .lsr ? " (\(h.rankSplit)), s = \(h.separationRank)" : "") + ", α = \(h.alpha)")
        Output.line("modules:    \(set.modules.count) (\(h.targets.joined(separator: ", ")) in \(set.base.layers) layers)")
        Output.line("parameters: \(Output.grouped(set.parameterCount)) (LoRA at r = \(h.rank): \(Output.grouped(lora)))")
    }
}
