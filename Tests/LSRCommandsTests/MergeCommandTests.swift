import Foundation
import LSREngine
import LSRFormats
import LSRModel
import TestSupport
import Testing

/// `lsrconv merge` of the PyTorch-written adapter (Fixtures/reference/adapter, see
/// Fixtures/generate/adapter_reference.py) into the tiny model: the merged directory gives the
/// logits transformers gave with W + ΔW (tolerance 1e-4), the merged weights are torch's W + ΔW
/// (tolerance 1e-5 plus one ulp), every other tensor is the base's byte for byte, and the record
/// names what was merged.
@Suite struct MergeCommandTests {
    static let adapter = TestPaths.fixture("reference/adapter")
    static let model = TestPaths.fixture("tiny-roberta")


    @Test func mergedModelGivesTheAdaptedLogits() throws {
        let dir = TemporaryDirectory()
        let result = try runLSRConv(["merge", "--model", Self.model, "--adapter", Self.adapter, "--out", dir.file("merged")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileSystem.contents(of: dir.file("merged")) == [
            "config.json", "lsr_merge.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
        ])

        let reference = try Checkpoint.open(TestPaths.fixture("reference/adapted.safetensors"))
        let batch = try Checkpoint.open(TestPaths.fixture("reference/forward.safetensors"))
        let shape = try #require(batch["input_ids"]).shape
        let merged = try RobertaModel.load(dir.file("merged"))
        let ws = try merged.forward(
            TokenBatch(
                ids: try floats(batch, "input_ids").map { Int32($0) }, mask: try floats(batch, "attention_mask").map { Int32($0) },
                batch: shape[0], length: shape[1]))
        // The tolerance of ForwardParityTests (the merged model is a plain f32 model).
        let d = maxAbsDifference(ws.logits.array, try floats(reference, "logits"))
        #expect(d <= 1e-4, "logits: max |Δ| = \(d)")

        // Adapted weights are W + ΔW, the rest is untouched. lsrconv's ΔW comes from its own
        // Kronecker sums and sgemm, torch's delta_w from torch's: they agree to the 1e-5 of
        // AdaptedForwardTests.deltaWMatchesTorch (argued there), not bit for bit (issue 14: other
        // BLAS kernels round and sum in other orders). Each side then rounds W + ΔW once, half an
        // ulp of |W + ΔW| < 16 each: one ulp of the largest merged value is added.
        let base = try Checkpoint.open(Self.model)
        let out = try Checkpoint.open(dir.file("merged"))
        let adapted = Set((0..<2).flatMap { l in ["query", "value"].map { "roberta.encoder.layer.\(l).attention.self.\($0)" } })
        for tensor in base.tensors {
            let module = String(tensor.name.dropLast(".weight".count))
            if tensor.name.hasSuffix(".weight"), adapted.contains(module) {
                let expected = zip(try floats(base, tensor.name), try floats(reference, module + ".delta_w")).map { $0 + $1 }
                let tolerance = 1e-5 + expected.reduce(Float(0)) { max($0, abs($1)) }.ulp
                let d = maxAbsDifference(try floats(out, tensor.name), expected)
                #expect(d <= tolerance, "\(tensor.name): max |Δ| = \(d), tolerance \(tolerance)")
            } else {
                #expect(try #require(out[tensor.name]).bytes.buffer.elementsEqual(tensor.bytes.buffer), "\(tensor.name) changed")
            }
        }
        let record = try JSON.parse(readFile(dir.file("merged/lsr_merge.json")))
        #expect(record["modules"]?.arrayValue?.count == 4 && record["head_replaced"] == false && record["scaling"] == 2.0)
        // The base weights' digest agrees with the one the adapter recorded for its base.
        let adapterConfig = try JSON.parse(readFile(Self.adapter + "/adapter_config.json"))
        let recorded = record["base_model"]?["weights"]?.arrayValue?.first?["sha256"]
        #expect(recorded != nil && recorded == adapterConfig["base_model"]?["weights"]?.arrayValue?.first?["sha256"])
    }

    @Test func mismatchedBaseWritesNothing() throws {
        let dir = TemporaryDirectory()
        var config = try #require(try JSON.parse(readFile(Self.adapter + "/adapter_config.json")).objectValue)
        var base = try #require(config["base_model"]?.objectValue)
        base["intermediate_size"] = 512
        config["base_model"] = .object(base)
        try FileManager.default.createDirectory(atPath: dir.file("adapter"), withIntermediateDirectories: false)
        _ = dir.write(JSON.data(.object(config)), to: "adapter/adapter_config.json")
        _ = dir.write(readFile(Self.adapter + "/adapter_model.safetensors"), to: "adapter/adapter_model.safetensors")
        let result = try runLSRConv(["merge", "--model", Self.model, "--adapter", dir.file("adapter"), "--out", dir.file("merged")])
        #expect(result.status == 1)
        #expect(result.stderr == "error: \(Self.model): adapter made for intermediate_size = 512, the model has 256\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("merged")))
    }
}
