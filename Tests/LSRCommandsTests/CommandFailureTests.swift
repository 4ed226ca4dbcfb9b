import Foundation
import TestSupport
import Testing

/// The failures users meet first, for every command (issue 7 item 4): a missing input, a
/// directory where a file is expected, an input it may not read and an output directory it may
/// not write (as an unprivileged user), and an output that is an input or lies inside one. Each
/// is exactly one `error:` line naming the path, exit status 1, and nothing written.
@Suite struct CommandFailureTests {
    let model = TestPaths.fixture("tiny-roberta")
    let adapter = TestPaths.fixture("reference/adapter")
    let data = TestPaths.fixture("demo/dev.jsonl")

    func fails(_ arguments: [String], _ expected: String, unprivileged: Bool = false, leaves absent: [String] = []) throws {
        let result = try runLSRConv(arguments, unprivileged: unprivileged)
        #expect(result.status == 1, "\(arguments)")
        #expect(result.stderr == "error: " + expected + "\n", "\(arguments)")
        for path in absent { #expect(!FileManager.default.fileExists(atPath: path), "\(arguments) left \(path)") }
    }

    @Test func missingInputs() throws {
        let dir = TemporaryDirectory()
        let missing = dir.file("nothing")
        let out = dir.file("out")
        try fails(["inspect", missing], "\(missing): no such file or directory")
        try fails(["import", missing, "--out", out], "\(missing): no such file or directory", leaves: [out])
        try fails(["predict", "--model", missing, "--text", "hi"], "\(missing): no such file or directory")
        try fails(["predict", "--model", model, "--data", missing + ".jsonl"], "\(missing).jsonl: no such file or directory")
        try fails(["tokenize", "--tokenizer", missing, "--text", "hi"], "\(missing): no such file or directory")
        try fails(["merge", "--model", missing, "--adapter", adapter, "--out", out], "\(missing): no such file or directory", leaves: [out])
        try fails(["merge", "--model", model, "--adapter", missing, "--out", out], "\(missing)/adapter_config.json: no such file or directory", leaves: [out])
        try fails(["init-adapter", "--model", missing, "--out", out], "\(missing): no such file or directory", leaves: [out])
        try fails(["validate", missing], "\(missing): no such file or directory")
        try fails(["export", "--adapter", missing, "--format", "lsr", "--out", out], "\(missing)/adapter_config.json: no such file or directory", leaves: [out])
        try fails(
            ["convert-adapter", "--adapter", missing, "--out", out, "--model", model, "--separation-rank", "2"],
            "\(missing)/adapter_config.json: no such file or directory", leaves: [out])
        try fails(["train", "--model", model, "--train", missing + ".jsonl", "--out", out], "\(missing).jsonl: no such file or directory", leaves: [out])
        try fails(["eval", "--model", model, "--data", missing + ".jsonl"], "\(missing).jsonl: no such file or directory")
        try fails(["eval", "--model", model, "--adapter", missing, "--data", data], "\(missing)/adapter_config.json: no such file or directory")
    }

    @Test func directoriesWhereFilesAreExpected() throws {
        let dir = TemporaryDirectory()
        let folder = dir.file("folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let out = dir.file("out")
        let none = "\(folder): no checkpoint found (looked for *.safetensors, *.safetensors.index.json, *.bin, *.pt; found: nothing)"
        try fails(["inspect", folder], none)
        try fails(["import", folder, "--out", out], none, leaves: [out])
        let format = "\(folder): cannot tell the data format from the extension; expected .jsonl, .json, .csv or .tsv, or name the format"
        try fails(["predict", "--model", model, "--data", folder], format)
        try fails(["train", "--model", model, "--train", folder, "--out", out], format, leaves: [out])
        try fails(["eval", "--model", model, "--data", folder, "--format", "jsonl"], "\(folder): is a directory, expected a file")
        try fails(["validate", folder], "\(folder): no adapter_config.json: not an adapter directory (validate takes an adapter directory or a JSON file)")
    }

    /// Every command that writes refuses an output that is an input or lies inside one.
    @Test func outputsOverlappingInputs() throws {
        let dir = TemporaryDirectory()
        func overlap(_ input: String, _ output: String) -> String {
            "\(input): output \(output) would overlap the input \(input) (it is the input, holds it, or lies inside it)"
        }
        let inside = model + "/out"
        try fails(["import", model, "--out", inside], overlap(model, inside), leaves: [inside])
        try fails(["merge", "--model", model, "--adapter", adapter, "--out", model, "--force"], overlap(model, model))
        try fails(["merge", "--model", model, "--adapter", adapter, "--out", adapter, "--force"], overlap(adapter, adapter))
        try fails(["init-adapter", "--model", model, "--out", inside], overlap(model, inside), leaves: [inside])
        try fails(["export", "--adapter", adapter, "--format", "lsr", "--out", adapter, "--force"], overlap(adapter, adapter))
        try fails(
            ["convert-adapter", "--adapter", adapter, "--out", adapter + "/x", "--model", model, "--separation-rank", "2"], overlap(adapter, adapter + "/x"),
            leaves: [adapter + "/x"])
        try fails(["train", "--model", model, "--train", data, "--out", inside], overlap(model, inside), leaves: [inside])
        try fails(["train", "--model", model, "--train", data, "--out", data, "--force"], overlap(data, data))
        try fails(["predict", "--model", model, "--data", data, "--out", data], overlap(data, data))
        _ = dir
    }

    /// As a user without the rights: an unreadable input, an output directory it cannot create.
    /// As root the commands run as nobody (`unprivileged`); as another user the modes apply to
    /// the user itself: either way the directory is read-only and the locked files unreadable.
    @Test func permissionDenied() throws {
        let dir = TemporaryDirectory()
        // Inputs first, while the directory is writable.
        let locked = dir.write(Array(#"{"text": "a", "label": "positive"}"#.utf8 + [10]), to: "locked.jsonl")
        let made = try runLSRConv(["init-adapter", "--model", model, "--out", dir.file("a"), "--init", "random"])  // readable by all (umask)
        #expect(made.status == 0, "\(made.stderr)")
        let lora = try runLSRConv(["init-adapter", "--model", model, "--out", dir.file("lora"), "--kind", "lora", "--init", "random"])
        #expect(lora.status == 0, "\(lora.stderr)")
        let peft = try runLSRConv(["export", "--adapter", dir.file("lora"), "--format", "peft-lora", "--out", dir.file("peft")])
        #expect(peft.status == 0, "\(peft.stderr)")
        let checkpoint = dir.write(readFile(model + "/model.safetensors"), to: "locked.safetensors")
        let tokenizer = dir.file("tokenizer")
        try FileManager.default.createDirectory(atPath: tokenizer, withIntermediateDirectories: false)
        for name in ["tokenizer.json", "tokenizer_config.json"] { _ = dir.write(readFile(model + "/" + name), to: "tokenizer/" + name) }
        for path in [locked, checkpoint, tokenizer + "/tokenizer.json"] { chmod(path, 0) }
        chmod(dir.path, 0o555)  // others (and the owner, unless root) may enter and read, not write
        defer { chmod(dir.path, 0o755) }

        let out = dir.file("out")
        try fails(["predict", "--model", model, "--data", locked], "\(locked): permission denied", unprivileged: true)
        try fails(["train", "--model", model, "--train", locked, "--out", out], "\(locked): permission denied", unprivileged: true, leaves: [out])
        try fails(["import", model, "--out", out], "\(out): permission denied", unprivileged: true, leaves: [out])
        try fails(["init-adapter", "--model", model, "--out", out], "\(out): permission denied", unprivileged: true, leaves: [out])
        try fails(["export", "--adapter", dir.file("a"), "--format", "delta", "--out", out], "\(out): permission denied", unprivileged: true, leaves: [out])
        try fails(
            ["train", "--model", model, "--train", data, "--out", out, "--max-steps", "1"], "\(out): permission denied", unprivileged: true, leaves: [out])
        try fails(["merge", "--model", model, "--adapter", dir.file("a"), "--out", out], "\(out): permission denied", unprivileged: true, leaves: [out])
        try fails(
            ["convert-adapter", "--adapter", dir.file("peft"), "--out", out, "--model", model, "--separation-rank", "2"], "\(out): permission denied",
            unprivileged: true, leaves: [out])
        try fails(["predict", "--model", model, "--data", data, "--out", dir.file("p.jsonl")], "\(dir.file("p.jsonl")): permission denied",
            unprivileged: true, leaves: [dir.file("p.jsonl")])
        try fails(["eval", "--model", model, "--data", locked], "\(locked): permission denied", unprivileged: true)
        try fails(["validate", "--schema", locked, dir.file("a/adapter_config.json")], "\(locked): permission denied", unprivileged: true)

        // Unreadable files inside readable inputs: a checkpoint, a tokenizer's file, an adapter's config.
        try fails(["inspect", checkpoint], "\(checkpoint): permission denied", unprivileged: true)
        try fails(["import", checkpoint, "--out", out], "\(checkpoint): permission denied", unprivileged: true, leaves: [out])
        try fails(["tokenize", "--tokenizer", tokenizer, "--text", "hi"], "\(tokenizer)/tokenizer.json: permission denied", unprivileged: true)
        chmod(dir.file("a/adapter_config.json"), 0)
        try fails(["validate", dir.file("a")], "\(dir.file("a/adapter_config.json")): permission denied", unprivileged: true)
        try fails(["export", "--adapter", dir.file("a"), "--format", "delta", "--out", dir.file("elsewhere")],
            "\(dir.file("a/adapter_config.json")): permission denied", unprivileged: true)
    }
}
