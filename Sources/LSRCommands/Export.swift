import ArgumentParser
import Foundation
import LSRAdapters
import LSRFormats

extension AdapterExport.Format: ExpressibleByArgument {}

/// `lsrconv export --adapter DIR --format peft-lora|delta|lsr --out DIR [--force] [--json]`.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an adapter as a PEFT LoRA adapter, as dense ΔW per module, or as a clean factor file.",
        discussion: """
            peft-lora: adapter_config.json (as PEFT 0.21.2 writes it) + adapter_model.safetensors with \
            base_model.model.<module>.lora_A.weight = Down [r, in] and lora_B.weight = Up [out, r] (float32), \
            lora_alpha = α so PEFT's α/r is the adapter's scaling, and the adapter's trained head (or, with \
            --model, the base model's) under modules_to_save ["classifier"] with task_type SEQ_CLS; without a \
            head, task_type is null (PEFT's SEQ_CLS wrapper requires the classifier tensors). \
            PeftModel.from_pretrained(base, DIR) loads it as it is. \
            delta: delta_weights.safetensors with <module>.weight = ΔW [out, in], to add to the base tensor of \
            the same name, delta_config.json, and head.safetensors when the adapter has a head. \
            lsr: the factor file read and written again in canonical form. Nothing is written on failure; an \
            existing output is replaced only with --force.

            Examples:
              lsrconv export --adapter sst2 --format peft-lora --out sst2-peft
              lsrconv export --adapter sst2 --format delta --out sst2-delta --force
              lsrconv export --adapter lsr --format peft-lora --out peft \\
                  --model roberta-base --json
            """)

    @Option(help: "Adapter directory (adapter_config.json + adapter_model.safetensors).")
    var adapter: String

    @Option(help: "Output format: peft-lora, delta or lsr.")
    var format: AdapterExport.Format

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "Base model (HF names): peft-lora takes its classifier when the adapter has no head (PEFT's SEQ_CLS needs one).")
    var model: String?

    @Option(help: "base_model_name_or_path in a peft-lora adapter_config.json (default: empty).")
    var baseModelName = ""

    @Flag(help: "Replace an existing output directory.")
    var force = false

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    func run() throws {
        try refuseOverlap(output: out, inputs: [adapter, model])
        try Outputs.refuseExisting(out, force: force)
        var options = AdapterExport.Options(format: format, output: out)
        options.replace = force
        options.baseModelName = baseModelName
        options.baseModel = model
        let report = try reporting(path: adapter) { try AdapterExport.run(adapterDirectory: adapter, options: options) }
        if json {
            Output.json([
                "adapter": .string(adapter), "format": .string(report.format.rawValue), "output": .string(report.outputDirectory),
                "files": .array(report.files.map { .string($0) }), "modules": .array(report.modules.map { .string($0) }),
                "head": report.head.map { .string($0) } ?? .null,
            ])
            return
        }
        Output.line("exported: \(report.modules.count) modules of \(adapter) as \(report.format.rawValue)")
        Output.line("head:     " + (report.head.map { "the \($0)'s classifier" } ?? "none"))
        Output.line("output:   \(report.outputDirectory)/ (" + report.files.joined(separator: ", ") + ")")
    }
}
