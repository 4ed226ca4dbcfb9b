import ArgumentParser
import Foundation
import LSRAdapters
import LSRFormats
import LSRModel

/// `lsrconv merge --model DIR --adapter DIR --out DIR [--dtype keep|f32|f16|bf16]`.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge an adapter into its base model: a Hugging Face model directory with W + ΔW.",
        discussion: """
            Every adapted module gets W + (α/r)·Up·Down, computed in f32 and stored in --dtype (keep: each \
            tensor's own). The adapter's trained head, if any, replaces the base head and sets num_labels and \
            id2label. lsr_merge.json records the base and adapter files (sha256) and the modules merged. \
            transformers loads the result with from_pretrained as it is. An existing output is replaced only \
            with --force.

            Examples:
              lsrconv merge --model roberta-base --adapter sst2 --out sst2-merged
              lsrconv merge --model roberta-base --adapter sst2 --out sst2-f16 \\
                  --dtype f16 --force
              lsrconv merge --model roberta-base --adapter peft --out merged --json
            """)

    @Option(help: "Base model: directory or checkpoint file (any format import reads).")
    var model: String

    @Option(help: "Adapter directory (adapter_config.json + adapter_model.safetensors).")
    var adapter: String

    @Option(help: "Output model directory.")
    var out: String

    @Option(help: "Floating-point dtype to store: keep, f32, f16 or bf16.")
    var dtype: ModelImport.DTypeChoice = .keep

    @Flag(help: "Replace an existing output directory.")
    var force = false

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    func run() throws {
        try refuseOverlap(output: out, inputs: [model, adapter])
        try Outputs.refuseExisting(out, force: force)
        var options = ModelImport.Options(source: model, output: out)
        options.dtype = dtype
        options.replace = force
        let report = try reporting(path: adapter) { try AdapterMerge.run(adapterDirectory: adapter, options: options) }
        if json {
            Output.json([
                "model": .string(model), "adapter": .string(adapter), "output": .string(report.model.outputDirectory),
                "modules": .array(report.modules.map { .string($0) }), "head_replaced": .bool(report.headReplaced),
                "output_files": .array(report.model.outputFiles.map { .string($0) }),
            ])
            return
        }
        Output.line("merged:   \(report.modules.count) modules of \(adapter) into \(model)")
        Output.line("head:     " + (report.headReplaced ? "replaced by the adapter's" : "the base model's"))
        Output.line("output:   \(report.model.outputDirectory)/ (" + report.model.outputFiles.joined(separator: ", ") + ")")
    }
}
