import Foundation
import LSRFormats
import TestSupport
import Testing

/// What --separation-rank may do, on every command that takes it.
@Suite struct SeparationRankCommandTests {
    static let model = TestPaths.fixture("tiny-roberta")

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
