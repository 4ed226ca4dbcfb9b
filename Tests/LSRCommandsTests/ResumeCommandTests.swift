import Foundation
import LSRFormats
import TestSupport
import Testing

/// `train --resume OUT` as people expect (issue 15 item 3): alone it continues with the options
/// the checkpoint recorded; options given again must agree (one line names the option and both
/// values); after Ctrl-C the output's top level holds the checkpoint's adapter; unfinished
/// checkpoint folders of a killed run are removed; `--json` gives the end-of-run summary.
/// Bit-for-bit comparisons are of one binary with itself on one machine.
@Suite struct ResumeCommandTests {
    static let model = TestPaths.fixture("tiny-roberta")

    /// The keyword task of TrainCommandTests: the label is which of two words a sentence holds.
    static func rows(_ count: Int, offset: Int) -> String {
        let words = ["the", "a", "film", "story", "actor", "plot", "music", "scene", "day", "night", "city", "river"]
        var out = ""
        for i in offset..<(offset + count) {
            var sentence = (0..<5).map { words[(i * 7 + $0 * 3) % words.count] }
            sentence.insert(i % 2 == 1 ? "wonderful" : "dreadful", at: i % 6)
            out += JSON.serialize(["text": .string(sentence.joined(separator: " ")), "label": .string(i % 2 == 1 ? "positive" : "negative")]) + "\n"
        }
        return out
    }

    /// A directory with train.jsonl (24 rows) and dev.jsonl (8).
    static func data() -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        _ = dir.write(Array(rows(24, offset: 0).utf8), to: "train.jsonl")
        _ = dir.write(Array(rows(8, offset: 24).utf8), to: "dev.jsonl")
        return dir
    }

    /// 36 updates (6 epochs of 6), an evaluation every 4, a checkpoint every 3. Paths relative
    /// to the data directory, where the runs start.
    static func arguments(out: String) -> [String] {
        [
            "train", "--model", model, "--train", "train.jsonl", "--eval", "dev.jsonl", "--out", out, "--epochs", "6", "--lr", "1e-2",
            "--batch-size", "4", "--separation-rank", "4", "--eval-every", "4", "--save-every", "3",
        ]
    }

    static func parse(_ path: String) throws -> JSONValue { try JSON.parse(readFile(path)) }

    /// Stopped by SIGINT after its first checkpoint: exit 130, the --json summary says so, the
    /// top level holds that checkpoint's adapter (valid, and eval takes it). Then `--resume OUT`
    /// alone, from another working directory, removes the planted staging folder (not the
    /// unrelated file), and ends with the bytes of a run never stopped.
    @Test func resumeAloneContinuesExactly() throws {
        let dir = Self.data()
        let whole = try runLSRConv(Self.arguments(out: "whole"), cwd: dir.path)
        #expect(whole.status == 0, "\(whole.stderr)")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.binary)
        process.arguments = Self.arguments(out: "cut") + ["--json"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: dir.file("cut/checkpoints/step-3/trainer_state.json")) && process.isRunning && Date() < deadline {
            usleep(20_000)
        }
        process.interrupt()  // SIGINT, as Ctrl-C
        let printed = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let summary = try JSON.parse(Array(printed))
        #expect(summary["interrupted"] == true && summary["adapter"]?["kept"] == "last")
        let step = try #require(summary["steps"]?.intValue)
        #expect(step >= 3 && step < 36, "stopped before the end: step \(step)")
        #expect(summary["checkpoint"]?.stringValue == "cut/checkpoints/step-\(step)")

        // The top level: the checkpoint's adapter, its state, valid against their schemas.
        for name in ["adapter_model.safetensors", "adapter_config.json"] {
            #expect(byteDifference(dir.file("cut/" + name), dir.file("cut/checkpoints/step-\(step)/" + name)) == nil, "\(name)")
        }
        let validate = try runLSRConv(["validate", dir.file("cut"), "--model", Self.model])
        #expect(validate.status == 0 && validate.stdout == "valid\n", "\(validate.stdout)\(validate.stderr)")
        let state = try runLSRConv(["validate", dir.file("cut/trainer_state.json")])
        #expect(state.status == 0 && state.stdout == "valid\n", "\(state.stdout)\(state.stderr)")
        let eval = try runLSRConv(["eval", "--model", Self.model, "--adapter", dir.file("cut"), "--data", dir.file("dev.jsonl"), "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(try JSON.parse(eval.stdout)["loss"]?.doubleValue?.isFinite == true)

        // A killed run's staging folder goes; anything else in checkpoints/ stays.
        try FileManager.default.createDirectory(atPath: dir.file("cut/checkpoints/.step-3.tmp-xyz"), withIntermediateDirectories: true)
        _ = dir.write(Array("partial".utf8), to: "cut/checkpoints/.step-3.tmp-xyz/adapter_model.safetensors")
        _ = dir.write(Array("mine".utf8), to: "cut/checkpoints/notes.txt")

        // Alone, from the filesystem root: every path comes from the checkpoint's record.
        // --keep-checkpoints may differ: it only decides which checkpoints stay on disk.
        let resumed = try runLSRConv(["train", "--resume", dir.file("cut"), "--keep-checkpoints", "1"], cwd: "/")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.hasPrefix("removed 1 unfinished checkpoint folder of a stopped run: \(dir.file("cut/checkpoints/.step-3.tmp-xyz"))\n"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("cut/checkpoints/.step-3.tmp-xyz")))
        #expect(readFile(dir.file("cut/checkpoints/notes.txt")) == Array("mine".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("cut/checkpoints")).sorted() == ["notes.txt", "step-36"])
        for name in ["adapter_model.safetensors", "adapter_config.json", "metrics.jsonl"] {
            #expect(byteDifference(dir.file("whole/" + name), dir.file("cut/" + name)) == nil, "\(name)")
        }
        // The resumed run records the paths it used: absolute, so the next resume finds them too.
        let commandLine = try Self.parse(dir.file("cut/trainer_state.json"))["command_line"]
        let train = URL(fileURLWithPath: dir.file("train.jsonl")).resolvingSymlinksInPath().path
        #expect(commandLine?["train"]?["absolute"]?.stringValue == train)
        #expect(commandLine?["lr"]?.doubleValue == 0.01 && commandLine?["keep_checkpoints"]?.intValue == 1)
    }

    /// An option given again must agree with the checkpoint's: one line names it and both
    /// values, exit 1, nothing written. Those that cannot change the result may differ.
    @Test func givenOptionsMustAgree() throws {
        let dir = Self.data()
        let arguments = ["train", "--model", Self.model, "--train", "train.jsonl", "--out", "out", "--max-steps", "4", "--save-every", "2"]
        let run = try runLSRConv(arguments + ["--json"], cwd: dir.path)
        #expect(run.status == 0, "\(run.stderr)")
        // --json: one document with the summary's fields (no --eval: no best, no evaluation).
        let summary = try JSON.parse(run.stdout)
        #expect(summary["steps"]?.intValue == 4 && summary["elapsed_seconds"]?.doubleValue != nil)
        #expect(summary["last_train_loss"]?.doubleValue?.isFinite == true)
        #expect(summary["best"] == .null && summary["last_eval"] == .null)
        let adapter = try #require(summary["adapter"])
        #expect(adapter["path"] == "out" && adapter["kept"] == "last" && adapter["head"] == true)
        #expect((adapter["modules"]?.intValue ?? 0) > 0 && (adapter["parameters"]?.intValue ?? 0) > 0, "\(adapter)")
        #expect(summary["interrupted"] == false && summary["checkpoint"] == .null)

        let checkpoint = dir.file("out/checkpoints/step-4")
        let cases: [([String], String)] = [
            (["--lr", "0.001"], "--lr 0.001 on the command line, 0.0005 in the checkpoint"),
            (["--max-steps", "8"], "--max-steps 8 on the command line, 4 in the checkpoint"),
            (["--eval", dir.file("dev.jsonl")], "--eval \(dir.file("dev.jsonl")) on the command line, not given in the checkpoint"),
            (["--freeze-head"], "--freeze-head on the command line, not given in the checkpoint"),
            (["--kind", "lora"], "--kind lora on the command line, lsr in the checkpoint"),
            (["--alpha", "16"], "--alpha 16 on the command line, 8 in the checkpoint"),
        ]
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.file("out/checkpoints")).sorted()
        for (extra, message) in cases {
            let refused = try runLSRConv(["train", "--resume", dir.file("out"), "--out", dir.file("other")] + extra)
            #expect(refused.status == 1, "\(extra)")
            #expect(refused.stderr == "error: \(checkpoint): \(message)\n", "\(extra)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("other")), "\(extra)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out/checkpoints")).sorted() == before)

        // Given again with the same values (paths as first given, from the same directory): accepted.
        let same = try runLSRConv(arguments + ["--resume", "out"], cwd: dir.path)
        #expect(same.status == 0, "\(same.stderr)")
        // --threads may differ (it is not recorded); --resume of a checkpoints/step-N continues
        // that one, into the output directory holding it.
        let threads = try runLSRConv(["train", "--resume", dir.file("out/checkpoints/step-2"), "--threads", "1", "--json"])
        #expect(threads.status == 0, "\(threads.stderr)")
        #expect(try JSON.parse(threads.stdout)["steps"]?.intValue == 4)
        #expect(try JSON.parse(threads.stdout)["adapter"]?["path"]?.stringValue == dir.file("out"))

        // The settings' digests still decide: training data changed on disk is refused.
        _ = dir.write(Array(Self.rows(24, offset: 100).utf8), to: "train.jsonl")
        let changed = try runLSRConv(["train", "--resume", dir.file("out")])
        #expect(changed.status == 1)
        #expect(changed.stderr.hasPrefix("error: \(checkpoint): the checkpoint was made with train_data = "), "\(changed.stderr)")
    }

    /// A checkpoint of a version that recorded no command line: --resume alone says to pass the
    /// options; with them it resumes as it always did.
    @Test func checkpointWithoutRecordedCommandLine() throws {
        let dir = Self.data()
        let arguments = ["train", "--model", Self.model, "--train", dir.file("train.jsonl"), "--out", dir.file("out"), "--max-steps", "4", "--save-every", "2"]
        let run = try runLSRConv(arguments)
        #expect(run.status == 0, "\(run.stderr)")
        let checkpoint = dir.file("out/checkpoints/step-4")
        guard case .object(var state) = try Self.parse(checkpoint + "/trainer_state.json") else { Issue.record("not an object"); return }
        state["command_line"] = nil
        _ = dir.write(JSON.data(.object(state), style: .pretty), to: "out/checkpoints/step-4/trainer_state.json")

        let alone = try runLSRConv(["train", "--resume", dir.file("out")])
        #expect(alone.status == 1)
        #expect(
            alone.stderr
                == "error: \(checkpoint): the checkpoint records no command line (an older lsrconv wrote it): pass the run's options again (--model and --train at least)\n"
        )
        let given = try runLSRConv(arguments + ["--resume", dir.file("out")])
        #expect(given.status == 0, "\(given.stderr)")
    }

    /// Without --resume, --model, --train and --out are required: a usage error (64) naming the missing ones.
    @Test func inputsAreRequiredWithoutResume() throws {
        let dir = TemporaryDirectory()
        let noModel = try runLSRConv(["train", "--train", dir.file("t.jsonl"), "--out", dir.file("out")])
        #expect(noModel.status == 64)
        #expect(noModel.stderr == "error: --model is required (or --resume OUT_DIR, which continues a run with its own)\n")
        let none = try runLSRConv(["train"])
        #expect(none.status == 64)
        #expect(none.stderr == "error: --model, --train and --out are required (or --resume OUT_DIR, which continues a run with its own)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
