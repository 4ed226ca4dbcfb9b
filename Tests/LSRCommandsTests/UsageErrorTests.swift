import Foundation
import TestSupport
import Testing

/// Option values refused before any file is read: swift-argument-parser's ValidationError, so
/// one `error:` line, exit 64 (EX_USAGE) and nothing written, the same on every command.
@Suite struct UsageErrorTests {
    static let subcommands = [
        "env", "inspect", "import", "predict", "tokenize", "merge", "init-adapter", "validate", "schema", "export", "convert-adapter", "train", "eval",
    ]

    /// Runs `arguments` expecting a usage error with exactly `message`, and nothing on stdout.
    func usageError(_ arguments: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try runLSRConv(arguments)
        #expect(result.status == 64, "\(arguments): exit \(result.status)", sourceLocation: sourceLocation)
        #expect(result.stderr == "error: \(message)\n", "\(arguments)", sourceLocation: sourceLocation)
        #expect(result.stdout == "", "\(arguments)", sourceLocation: sourceLocation)
    }

    /// Every command that takes --threads (found from each subcommand's help, so a new one is
    /// covered too) refuses 0 and negative counts, with the message predict always gave.
    @Test func threadsBelowOneAreRefusedEverywhere() throws {
        let dir = TemporaryDirectory()
        // The required options of each; the paths are never read (validate() runs first).
        let required: [String: [String]] = [
            "predict": ["--model", dir.file("m"), "--text", "a"],
            "eval": ["--model", dir.file("m"), "--data", dir.file("d.jsonl")],
            "train": ["--model", dir.file("m"), "--train", dir.file("d.jsonl"), "--out", dir.file("out")],
        ]
        var withThreads: [String] = []
        for command in Self.subcommands {
            let help = try runLSRConv([command, "--help"])
            #expect(help.status == 0, "\(command) --help")
            if help.stdout.contains("--threads") { withThreads.append(command) }
        }
        #expect(withThreads == ["predict", "train", "eval"])
        for command in withThreads {
            let arguments = try #require(required[command], "required options of \(command)")
            for value in ["0", "-1", "-64"] {
                try usageError([command] + arguments + ["--threads=\(value)"], "--threads must be at least 1")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "nothing written")
    }

    /// Every subcommand, one usage error (exit 64) and one runtime error (exit 1) each: a bad or
    /// missing option, or a value validate() refuses, against a missing input file. Exactly one
    /// line on stderr, starting `error:`, and nothing on stdout (issue 15 item 5). env and schema
    /// read no file: their runtime rows are absent.
    @Test func usageAndRuntimeErrorsOnEveryCommand() throws {
        let dir = TemporaryDirectory()
        let model = TestPaths.fixture("tiny-roberta")
        let adapter = TestPaths.fixture("reference/adapter")
        let missing = dir.file("missing")
        let out = dir.file("out")
        let usage: [String: (arguments: [String], message: String)] = [
            "env": (["env", "--measure=yes"], "The option '--measure' does not take any value, but 'yes' was specified."),
            "inspect": (["inspect"], "Missing expected argument '<path>'"),
            "import": (["import", model, "--max-shard-size", "lots"], "--max-shard-size 'lots' is not a size (examples: 500MB, 2GB, 1000000)"),
            "predict": (["predict", "--model", model, "--text", "a", "--format", "xml"], "--format 'xml' is not one of jsonl, json, csv, tsv, cola"),
            "tokenize": (["tokenize", "--tokenizer", model, "--text", "a", "--max-length", "0"], "--max-length must be at least 1"),
            "merge": (["merge", "--model", model, "--adapter", adapter, "--out", out, "--dtype", "f8"], "The value 'f8' is invalid for '--dtype <dtype>'. Please provide one of 'keep', 'f32', 'f16' or 'bf16'."),
            "init-adapter": (["init-adapter", "--model", model, "--out", out, "--factors", "32by24"], "--factors '32by24' is not auto, AxB or AxB,CxD"),
            "validate": (["validate"], "Missing expected argument '<path>'"),
            "schema": (["schema", "nope"], "no bundled schema 'nope': the schemas are \(SchemaCommandTests.names.joined(separator: ", "))"),
            "export": (["export", "--adapter", adapter, "--format", "onnx", "--out", out], "The value 'onnx' is invalid for '--format <format>'. Please provide one of 'peft-lora', 'delta' or 'lsr'."),
            "convert-adapter": (
                ["convert-adapter", "--adapter", adapter, "--out", out, "--separation-rank", "0"], "--separation-rank '0' is not a positive integer or 'full'"
            ),
            "train": (["train", "--model", model, "--train", missing, "--out", out, "--max-length", "2"], "--max-length must be at least 4"),
            "eval": (["eval", "--model", model, "--data", missing, "--max-length", "2"], "--max-length must be at least 4"),
        ]
        let runtime: [String: (arguments: [String], message: String)] = [
            "inspect": (["inspect", missing], "\(missing): no such file or directory"),
            "import": (["import", missing, "--out", out], "\(missing): no such file or directory"),
            "predict": (["predict", "--model", model, "--data", missing + ".jsonl"], "\(missing).jsonl: no such file or directory"),
            "tokenize": (["tokenize", "--tokenizer", missing, "--text", "a"], "\(missing): no such file or directory"),
            "merge": (["merge", "--model", model, "--adapter", missing, "--out", out], "\(missing)/adapter_config.json: no such file or directory"),
            "init-adapter": (["init-adapter", "--model", missing, "--out", out], "\(missing): no such file or directory"),
            "validate": (["validate", missing], "\(missing): no such file or directory"),
            "export": (["export", "--adapter", missing, "--format", "lsr", "--out", out], "\(missing)/adapter_config.json: no such file or directory"),
            "convert-adapter": (
                ["convert-adapter", "--adapter", missing, "--out", out, "--model", model, "--separation-rank", "2"],
                "\(missing)/adapter_config.json: no such file or directory"
            ),
            "train": (["train", "--model", model, "--train", missing + ".jsonl", "--out", out], "\(missing).jsonl: no such file or directory"),
            "eval": (["eval", "--model", missing, "--data", missing + ".jsonl"], "\(missing): no such file or directory"),
        ]
        #expect(Set(usage.keys) == Set(Self.subcommands))
        #expect(Set(runtime.keys) == Set(Self.subcommands).subtracting(["env", "schema"]))
        for (expected, table) in [(Int32(64), usage), (Int32(1), runtime)] {
            for command in Self.subcommands {
                guard let (arguments, message) = table[command] else { continue }
                let result = try runLSRConv(arguments)
                #expect(result.status == expected, "\(arguments): exit \(result.status)")
                #expect(result.stderr == "error: \(message)\n", "\(arguments)")
                #expect(result.stdout.isEmpty, "\(arguments)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "nothing written")
    }
}
