import Foundation
import LSRFormats
import TestSupport
import Testing

/// Outputs are complete or absent (SECURITY.md rule 7, issue 7 item 3): a write that fails part
/// way, here because the file-size limit (`ulimit -f`, RLIMIT_FSIZE) is below the output's size,
/// leaves an existing output exactly as it was and no temporary file or directory beside it, and
/// the one error line names the output file the user asked for (not the temporary).
@Suite struct DurableWriteTests {
    /// Every file under `directory` with its bytes (relative paths, sorted).
    func snapshot(_ directory: String) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files[name] = readFile(directory + "/" + name) }
        }
        return files
    }

    /// Runs `arguments` (which write `output` inside `dir`) once unlimited, then again with
    /// --force under a limit of `blocks` 512-byte blocks, or as a user who may not write in
    /// `dir` (`unprivileged`): the second must fail with `error` and change nothing.
    func check(
        _ dir: TemporaryDirectory, output: String, blocks: Int? = nil, unprivileged: Bool = false, _ arguments: [String], error: String
    ) throws {
        let first = try runLSRConv(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        let before = try snapshot(dir.file(output))
        #expect(!before.isEmpty)
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        // Read-only for the run (as root it runs as nobody; another user is held by the mode itself).
        if unprivileged { chmod(dir.path, 0o555) }
        let failed = try runLSRConv(arguments + ["--force"], fileSizeLimitBlocks: blocks, unprivileged: unprivileged)
        if unprivileged { chmod(dir.path, 0o755) }
        #expect(failed.status == 1, "\(arguments[0]): \(failed.stderr)")
        #expect(failed.stderr == error)
        let after = try snapshot(dir.file(output))
        #expect(after.keys.sorted() == before.keys.sorted(), "\(arguments[0]): files changed")
        for (name, bytes) in before { #expect(after[name] == bytes, "\(arguments[0]): \(name) changed") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == entries, "\(arguments[0]): a temporary was left")
    }

    @Test func importKeepsThePreviousOutput() throws {
        let dir = TemporaryDirectory()
        try check(
            dir, output: "m", blocks: 200, ["import", TestPaths.fixture("tiny-roberta/model.safetensors"), "--out", dir.file("m")],
            error: "error: \(dir.file("m"))/model.safetensors: write failed: File too large\n")
    }

    @Test func mergeKeepsThePreviousOutput() throws {
        let dir = TemporaryDirectory()
        try check(
            dir, output: "merged", blocks: 200,
            ["merge", "--model", TestPaths.fixture("tiny-roberta"), "--adapter", TestPaths.fixture("reference/adapter"), "--out", dir.file("merged")],
            error: "error: \(dir.file("merged"))/model.safetensors: write failed: File too large\n")
    }

    @Test func exportKeepsThePreviousOutput() throws {
        let dir = TemporaryDirectory()
        try check(
            dir, output: "peft", blocks: 16,
            ["export", "--adapter", TestPaths.fixture("reference/adapter"), "--format", "peft-lora", "--out", dir.file("peft"), "--model", TestPaths.fixture("tiny-roberta")],
            error: "error: \(dir.file("peft"))/adapter_model.safetensors: write failed: File too large\n")
        try check(
            dir, output: "delta", blocks: 64,
            ["export", "--adapter", TestPaths.fixture("reference/adapter"), "--format", "delta", "--out", dir.file("delta")],
            error: "error: \(dir.file("delta"))/delta_weights.safetensors: write failed: File too large\n")
    }

    /// The same replacements as a user who may read the inputs but not write in the output's
    /// directory (a read-only output directory): refused with the output named, nothing changed.
    @Test func readOnlyDirectoryKeepsThePreviousOutput() throws {
        let dir = TemporaryDirectory()
        chmod(dir.path, 0o755)  // others may enter and read (`check` takes the write permission away)
        let adapter = dir.file("adapter")
        try FileManager.default.createDirectory(atPath: adapter, withIntermediateDirectories: false)
        for name in ["adapter_config.json", "adapter_model.safetensors"] {  // readable by all, whatever the checkout's modes
            _ = dir.write(readFile(TestPaths.fixture("reference/adapter/" + name)), to: "adapter/" + name)
            chmod(adapter + "/" + name, 0o644)
        }
        let model = TestPaths.fixture("tiny-roberta")
        try check(dir, output: "m", unprivileged: true, ["import", model + "/model.safetensors", "--out", dir.file("m")],
            error: "error: \(dir.file("m")): permission denied\n")
        try check(dir, output: "merged", unprivileged: true, ["merge", "--model", model, "--adapter", adapter, "--out", dir.file("merged")],
            error: "error: \(dir.file("merged")): permission denied\n")
        try check(dir, output: "delta", unprivileged: true, ["export", "--adapter", adapter, "--format", "delta", "--out", dir.file("delta")],
            error: "error: \(dir.file("delta")): permission denied\n")
    }

    /// A checkpoint that cannot be written stops training with the error; the checkpoint
    /// directory is staged, so no partial step-N is left for --resume to trip over.
    @Test func trainCheckpointIsWholeOrAbsent() throws {
        let dir = TemporaryDirectory()
        let data = TestPaths.fixture("learning/dev.jsonl")
        let failed = try runLSRConv(
            [
                "train", "--model", TestPaths.fixture("learning/model"), "--train", data, "--out", dir.file("out"), "--max-steps", "2",
                "--batch-size", "50", "--separation-rank", "2",
            ], fileSizeLimitBlocks: 16)
        #expect(failed.status == 1)
        // Progress lines, then the one error line.
        let last = failed.stderr.split(separator: "\n").last.map(String.init)
        #expect(last == "error: \(dir.file("out"))/checkpoints/step-2/adapter_model.safetensors: write failed: File too large", "\(failed.stderr)")
        #expect(failed.stderr.components(separatedBy: "error:").count == 2)
        let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: dir.file("out/checkpoints"))) ?? []
        #expect(checkpoints.isEmpty, "no partial or temporary checkpoint: \(checkpoints)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/adapter_model.safetensors")))

        // With --force over a finished run, a failing run puts the previous output back whole.
        let arguments = [
            "train", "--model", TestPaths.fixture("learning/model"), "--train", data, "--out", dir.file("done"), "--max-steps", "2",
            "--batch-size", "50", "--separation-rank", "2",
        ]
        let done = try runLSRConv(arguments)
        #expect(done.status == 0, "\(done.stderr)")
        let before = try snapshot(dir.file("done"))
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        let again = try runLSRConv(arguments + ["--force", "--seed", "1"], fileSizeLimitBlocks: 16)
        #expect(again.status == 1)
        let after = try snapshot(dir.file("done"))
        #expect(after.keys.sorted() == before.keys.sorted())
        for (name, bytes) in before { #expect(after[name] == bytes, "\(name) changed") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == entries, "nothing left beside it")
    }
}
