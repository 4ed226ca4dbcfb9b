import Foundation
import LSRFormats
import TestSupport
import Testing

/// What --separation-rank may do, on every command that takes it. On tiny-roberta's query and
/// value (4 modules of 64×64, r 4 = 2·2, auto splits 8·8) LoRA has 4·4·(64 + 64) = 2,048
/// parameters and LSR 4·s·(8·2 + 8·2)·2 = 256·s: s ≤ 8 is no larger, s = 9 gives 2,304.
@Suite struct SeparationRankCommandTests {
    static let model = TestPaths.fixture("tiny-roberta")
    static let largerAtNine =
        "warning: --separation-rank 9 makes the LSR adapter larger than LoRA at r = 4: 2,304 parameters against 2,048 (s ≤ 8 keeps it no larger)"

    /// The stderr lines starting "warning:".
    func warnings(_ result: RunResult) -> [String] {
        result.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("warning:") }
    }

    /// A separation rank that makes the LSR adapter larger than LoRA is still taken (exit 0, the
    /// adapter written with that s) but says so in one warning line with both counts; s = 8,
    /// as large as LoRA and no larger, gives none.
    @Test func largerThanLoRAIsOneWarning() throws {
        let dir = TemporaryDirectory()
        let larger = try runLSRConv(["init-adapter", "--model", Self.model, "--out", dir.file("nine"), "--separation-rank", "9"])
        #expect(larger.status == 0)
        #expect(larger.stderr == Self.largerAtNine + "\n")
        #expect(larger.stdout.contains("parameters: 2,304 (LoRA at r = 4: 2,048)\n"), "\(larger.stdout)")
        #expect(try JSON.parse(readFile(dir.file("nine/adapter_config.json")))["separation_rank"] == 9)
        let equal = try runLSRConv(["init-adapter", "--model", Self.model, "--out", dir.file("eight"), "--separation-rank", "8"])
        #expect(equal.status == 0 && equal.stderr == "", "\(equal.stderr)")
        #expect(equal.stdout.contains("parameters: 2,048 (LoRA at r = 4: 2,048)\n"), "\(equal.stdout)")
        // The default s = 16 on this small model: 4,096 parameters.
        let byDefault = try runLSRConv(["init-adapter", "--model", Self.model, "--out", dir.file("default")])
        #expect(byDefault.status == 0)
        #expect(
            byDefault.stderr
                == "warning: --separation-rank 16 makes the LSR adapter larger than LoRA at r = 4: 4,096 parameters against 2,048 (s ≤ 8 keeps it no larger)\n")
        // --kind lora has no separation rank, and nothing to compare.
        let lora = try runLSRConv(["init-adapter", "--model", Self.model, "--out", dir.file("lora"), "--kind", "lora"])
        #expect(lora.status == 0 && lora.stderr == "", "\(lora.stderr)")
    }

    /// train warns once, before the first step, on a fresh adapter.
    @Test func trainWarnsToo() throws {
        let dir = TemporaryDirectory()
        let rows = #"{"text": "a good day", "label": "positive"}"# + "\n" + #"{"text": "a bad day", "label": "negative"}"# + "\n"
        let data = dir.write(Array(rows.utf8), to: "train.jsonl")
        let larger = try runLSRConv(["train", "--model", Self.model, "--train", data, "--out", dir.file("nine"), "--max-steps", "1", "--separation-rank", "9"])
        #expect(larger.status == 0, "\(larger.stderr)")
        #expect(warnings(larger) == [Self.largerAtNine])
        #expect(larger.stderr.hasPrefix(Self.largerAtNine + "\n"), "the warning comes before the progress lines: \(larger.stderr)")
        let smaller = try runLSRConv(["train", "--model", Self.model, "--train", data, "--out", dir.file("four"), "--max-steps", "1", "--separation-rank", "4"])
        #expect(smaller.status == 0, "\(smaller.stderr)")
        #expect(warnings(smaller) == [])
    }

    /// convert-adapter takes --separation-rank too: `full` (16 terms here) is exact and twice LoRA's size.
    @Test func convertAdapterWarnsToo() throws {
        let dir = TemporaryDirectory()
        let peft = dir.file("peft")
        try FileManager.default.createDirectory(atPath: peft, withIntermediateDirectories: false)
        let config: JSONValue = ["peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["query", "value"], "base_model_name_or_path": "roberta-base"]
        try DurableFile.write(JSON.data(config), to: peft + "/adapter_config.json")
        var tensors: [Safetensors.OutputTensor] = []
        for layer in 0..<2 {
            for target in ["query", "value"] {
                let name = "base_model.model.roberta.encoder.layer.\(layer).attention.self.\(target)"
                let a: [Float] = (0..<(4 * 64)).map { i in Float((i * 7 + layer) % 13) / 13 - 0.5 }
                let b: [Float] = (0..<(64 * 4)).map { i in Float((i * 5 + 3) % 11) / 11 - 0.5 }
                let factors: [(String, [Int], [Float])] = [("lora_A", [4, 64], a), ("lora_B", [64, 4], b)]
                for (suffix, shape, values) in factors {
                    let bytes = values.withUnsafeBytes { [UInt8]($0) }
                    tensors.append(
                        Safetensors.OutputTensor(
                            name: "\(name).\(suffix).weight", dtype: .f32, shape: shape, source: TensorBytes(owning: bytes), sourceDType: .f32))
                }
            }
        }
        try Safetensors.write(tensors, metadata: nil, to: peft + "/adapter_model.safetensors")
        let full = try runLSRConv(["convert-adapter", "--from", peft, "--out", dir.file("full"), "--separation-rank", "full", "--model", Self.model])
        #expect(full.status == 0)
        #expect(
            full.stderr
                == "warning: --separation-rank 16 makes the LSR adapter larger than LoRA at r = 4: 4,096 parameters against 2,048 (s ≤ 8 keeps it no larger)\n")
        let two = try runLSRConv(["convert-adapter", "--from", peft, "--out", dir.file("two"), "--separation-rank", "2", "--model", Self.model])
        #expect(two.status == 0 && two.stderr == "", "\(two.stderr)")
    }

    /// --kind lora with --separation-rank: a usage error naming both (exit 64), nothing written,
    /// where it used to be ignored. The default kind (lsr) takes it as before.
    @Test func loraRefusesASeparationRank() throws {
        let dir = TemporaryDirectory()
        let data = dir.write(Array(#"{"text": "a", "label": "positive"}"#.utf8), to: "train.jsonl")
        let message = "error: --separation-rank goes with --kind lsr, not --kind lora (a LoRA adapter has no Kronecker terms)\n"
        let commands: [[String]] = [
            ["init-adapter", "--model", Self.model, "--out", dir.file("out")],
            ["train", "--model", Self.model, "--train", data, "--out", dir.file("out"), "--max-steps", "1"],
        ]
        for command in commands {
            let result = try runLSRConv(command + ["--kind", "lora", "--separation-rank", "4"])
            #expect(result.status == 64, "\(command[0])")
            #expect(result.stderr == message, "\(command[0])")
            #expect(result.stdout == "", "\(command[0])")
            #expect(!FileManager.default.fileExists(atPath: dir.file("out")), "\(command[0])")
        }
        let initialized = try runLSRConv(["init-adapter", "--model", Self.model, "--out", dir.file("lsr"), "--separation-rank", "4"])
        #expect(initialized.status == 0 && initialized.stderr == "", "\(initialized.stderr)")
    }
}
