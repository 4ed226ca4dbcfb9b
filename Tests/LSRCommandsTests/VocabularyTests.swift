import Foundation
import LSRFormats
import TestSupport
import Testing

@testable import LSRCommands

/// One vocabulary across commands (issue 15 item 5): --adapter everywhere, --force wherever an
/// output would be replaced, one --max-length default, --json on every command that reports,
/// "did you mean", `-` for standard input, an Examples block in every --help, shell completion.
/// (Exit codes 64 and 1 on every command: UsageErrorTests.)
@Suite struct VocabularyTests {
    static let model = TestPaths.fixture("tiny-roberta")
    static let adapter = TestPaths.fixture("reference/adapter")
    static let data = TestPaths.fixture("demo/dev.jsonl")
    /// Every subcommand but train, whose help and --json another change owns.
    static let commands = UsageErrorTests.subcommands.filter { $0 != "train" }

    func help(_ arguments: [String]) throws -> String {
        let result = try runLSRConv(arguments + ["--help"])
        #expect(result.status == 0, "\(arguments) --help: \(result.stderr)")
        return result.stdout
    }

    /// The help with its line wrapping undone (every run of white space one space), for phrases.
    func flatHelp(_ arguments: [String]) throws -> String {
        try help(arguments).split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
    }

    /// A PEFT LoRA adapter of tiny-roberta (init-adapter --kind lora, exported), in `dir`/peft.
    func peft(in dir: TemporaryDirectory) throws -> String {
        let lora = try runLSRConv(["init-adapter", "--model", Self.model, "--out", dir.file("lora"), "--kind", "lora", "--init", "random"])
        #expect(lora.status == 0, "\(lora.stderr)")
        let exported = try runLSRConv(["export", "--adapter", dir.file("lora"), "--format", "peft-lora", "--out", dir.file("peft")])
        #expect(exported.status == 0, "\(exported.stderr)")
        return dir.file("peft")
    }

    // MARK: 1. --adapter

    /// The commands that read an adapter directory by option name it --adapter; convert-adapter's
    /// --from is an alias that gives the same adapter.
    @Test func adapterIsTheOptionEverywhere() throws {
        var withAdapter: [String] = []
        for command in Self.commands {
            let text = try help([command])
            if text.contains("--adapter") { withAdapter.append(command) }
            if command != "convert-adapter" { #expect(!text.contains("--from"), "\(command)") }
        }
        #expect(withAdapter == ["predict", "merge", "export", "convert-adapter", "eval"])
        let convert = try help(["convert-adapter"])
        #expect(convert.contains("USAGE: lsrconv convert-adapter --adapter <adapter> --out <out>"))
        #expect(convert.contains("  --adapter, --from <adapter>\n"))

        let dir = TemporaryDirectory()
        let peft = try peft(in: dir)
        for (name, flag) in [("by-adapter", "--adapter"), ("by-from", "--from")] {
            let result = try runLSRConv(["convert-adapter", flag, peft, "--out", dir.file(name), "--model", Self.model, "--separation-rank", "2"])
            #expect(result.status == 0, "\(flag): \(result.stderr)")
        }
        #expect(byteDifference(dir.file("by-adapter/adapter_model.safetensors"), dir.file("by-from/adapter_model.safetensors")) == nil)
    }

    // MARK: 2. --force

    /// Every output that exists is kept, with one message, unless --force is given; then it is
    /// replaced. Predict's --out file included.
    @Test func existingOutputsNeedForce() throws {
        let dir = TemporaryDirectory()
        let peft = try peft(in: dir)
        let out = dir.file("out")
        let writers: [(String, [String])] = [
            ("import", ["import", Self.model, "--out", out]),
            ("merge", ["merge", "--model", Self.model, "--adapter", Self.adapter, "--out", out]),
            ("init-adapter", ["init-adapter", "--model", Self.model, "--out", out]),
            ("export", ["export", "--adapter", Self.adapter, "--format", "delta", "--out", out]),
            ("convert-adapter", ["convert-adapter", "--adapter", peft, "--out", out, "--model", Self.model, "--separation-rank", "2"]),
            ("predict", ["predict", "--model", Self.model, "--data", Self.data, "--out", out]),
        ]
        for (command, arguments) in writers {
            #expect(try help([command]).contains("--force"), "\(command)")
            // An existing directory (a file for predict) holding a marker.
            if command == "predict" {
                _ = dir.write([1, 2, 3], to: "out")
            } else {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
                _ = dir.write([1, 2, 3], to: "out/keep.txt")
            }
            let marker = command == "predict" ? out : out + "/keep.txt"
            let refused = try runLSRConv(arguments)
            #expect(refused.status == 1, "\(command)")
            #expect(refused.stderr == "error: \(out): already exists (--force replaces it)\n", "\(command)")
            #expect(refused.stdout.isEmpty, "\(command)")
            #expect(readFile(marker) == [1, 2, 3], "\(command) touched the output")
            let forced = try runLSRConv(arguments + ["--force"])
            #expect(forced.status == 0, "\(command): \(forced.stderr)")
            #expect(readFile(marker) != [1, 2, 3], "\(command) --force kept the old output")
            try FileManager.default.removeItem(atPath: out)
        }
        // --force without an output to replace is a usage error.
        let stray = try runLSRConv(["predict", "--model", Self.model, "--text", "a", "--force"])
        #expect(stray.status == 64 && stray.stderr == "error: --force goes with --out\n")
    }

    // MARK: 3. --max-length

    @Test func maxLengthDefault() throws {
        #expect(DataOptions.maxLength(nil, limit: 512) == 128)
        #expect(DataOptions.maxLength(nil, limit: 64) == 64)
        #expect(DataOptions.maxLength(nil, limit: nil) == 128)
        #expect(DataOptions.maxLength(300, limit: 512) == 300)
        #expect(DataOptions.maxLength(600, limit: 512) == 512)
        for command in ["predict", "eval"] {
            #expect(try flatHelp([command]).contains("(default: 128, or the model's limit if lower)"), "\(command)")
        }
        #expect(try flatHelp(["tokenize"]).contains("(default: 128, or the tokenizer's model_max_length if lower)"))

        // tokenize: 128 tokens by default without a model_max_length (vocab.json + merges.txt
        // alone), the tokenizer's model_max_length when it is lower.
        let long = Array(repeating: "word", count: 300).joined(separator: " ")
        func tokens(_ tokenizer: String, _ extra: [String] = []) throws -> Int {
            let result = try runLSRConv(["tokenize", "--tokenizer", tokenizer, "--text", long, "--json"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return try JSON.parse(result.stdout)["ids"]?.arrayValue?.count ?? -1
        }
        let dir = TemporaryDirectory()
        for folder in ["bare", "short"] {
            try FileManager.default.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: false)
            for name in ["vocab.json", "merges.txt"] {
                _ = dir.write(readFile(TestPaths.fixture("tokenizer/vocab-merges/" + name)), to: folder + "/" + name)
            }
        }
        _ = dir.write(Array(#"{"model_max_length": 16}"#.utf8), to: "short/tokenizer_config.json")
        #expect(try tokens(dir.file("bare")) == 128)
        #expect(try tokens(dir.file("bare"), ["--max-length", "200"]) == 200)
        #expect(try tokens(dir.file("short")) == 16)

        // predict and eval: the default is the explicit 128 (tiny-roberta's limit is 130 − 1 − 1 = 128).
        let text = try runLSRConv(["predict", "--model", Self.model, "--text", long, "--json"])
        let explicit = try runLSRConv(["predict", "--model", Self.model, "--text", long, "--json", "--max-length", "128"])
        let beyond = try runLSRConv(["predict", "--model", Self.model, "--text", long, "--json", "--max-length", "512"])
        #expect(text.status == 0 && text.stdout == explicit.stdout && text.stdout == beyond.stdout, "\(text.stderr)")
        let eval = try runLSRConv(["eval", "--model", Self.model, "--data", Self.data, "--json"])
        let evalExplicit = try runLSRConv(["eval", "--model", Self.model, "--data", Self.data, "--json", "--max-length", "128"])
        #expect(eval.status == 0 && eval.stdout == evalExplicit.stdout, "\(eval.stderr)")
    }

    // MARK: 4. --json

    /// Every command that reports takes --json; schema's listing and predict's --out summary are
    /// JSON documents with the facts of the text.
    @Test func jsonEverywhere() throws {
        for command in Self.commands { #expect(try help([command]).contains("--json"), "\(command)") }
        let listing = try runLSRConv(["schema", "--json"])
        #expect(listing.status == 0, "\(listing.stderr)")
        let schemas = try JSON.parse(listing.stdout)["schemas"]?.arrayValue ?? []
        #expect(schemas.compactMap { $0["name"]?.stringValue } == SchemaCommandTests.names)
        #expect(schemas.first?["id"] == "urn:lsrconv:schema:lsr-adapter:1" && schemas.first?["title"] == "LSR adapter config")
        // A schema is JSON either way.
        #expect(try runLSRConv(["schema", "lsr-adapter", "--json"]).stdout == (try runLSRConv(["schema", "lsr-adapter"])).stdout)

        let dir = TemporaryDirectory()
        let predicted = try runLSRConv(["predict", "--model", Self.model, "--data", Self.data, "--out", dir.file("p.jsonl"), "--json"])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let rows = String(decoding: readFile(Self.data), as: UTF8.self).split(separator: "\n").count
        #expect(try JSON.parse(predicted.stdout) == ["data": .string(Self.data), "examples": JSONValue(rows), "output": .string(dir.file("p.jsonl"))])
    }

    // MARK: 6. did you mean

    @Test func didYouMean() throws {
        func unknown(_ arguments: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let result = try runLSRConv(arguments)
            #expect(result.status == 64, "\(arguments)", sourceLocation: sourceLocation)
            #expect(result.stderr == "error: \(message)\n", "\(arguments)", sourceLocation: sourceLocation)
            #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        }
        let dir = TemporaryDirectory()
        // Reported before the missing required options, and with them given.
        try unknown(["train", "--lrr", "1"], "unknown option '--lrr'; did you mean '--lr'?")
        try unknown(
            ["train", "--model", Self.model, "--train", Self.data, "--out", dir.file("o"), "--lrr", "1"], "unknown option '--lrr'; did you mean '--lr'?")
        try unknown(["predict", "--text-feild", "x"], "unknown option '--text-feild'; did you mean '--text-field'?")
        try unknown(["predict", "--model", Self.model, "--text-feild=x"], "unknown option '--text-feild'; did you mean '--text-field'?")
        // A prefix of exactly one option.
        try unknown(["convert-adapter", "--separation", "2"], "unknown option '--separation'; did you mean '--separation-rank'?")
        try unknown(["predict", "--model", Self.model, "--text-f", "x"], "unknown option '--text-f'; did you mean '--text-field'?")
        // Nothing close, or close only to another command's option.
        try unknown(["predict", "--model", Self.model, "--zzz", "x"], "unknown option '--zzz'")
        try unknown(["env", "--lr", "1"], "unknown option '--lr'")
        try unknown(["inspect", Self.model, "--jsn"], "unknown option '--jsn'; did you mean '--json'?")
        // After "--" everything is a value.
        #expect(try runLSRConv(["tokenize", "--tokenizer", Self.model, "--text", "a", "--", "--zzz"]).stderr == "error: Unexpected argument '--zzz'\n")

        #expect(OptionSuggestion.editDistance("lrr", "lr") == 1 && OptionSuggestion.editDistance("text-feild", "text-field") == 2)
        #expect(OptionSuggestion.editDistance("", "abc") == 3 && OptionSuggestion.editDistance("abc", "") == 3)
        #expect(OptionSuggestion.suggestion(for: "--x", among: ["--lr"]) == nil, "a distance as long as the name suggests nothing")
        #expect(OptionSuggestion.suggestion(for: "--t", among: ["--text", "--tokenizer"]) == nil, "an ambiguous prefix suggests nothing")
    }

    // MARK: 7. --data -

    /// `--data -` reads standard input: the same results as the file, errors naming <stdin> and
    /// the line, and --format required.
    @Test func standardInputAsData() throws {
        let bytes = readFile(Self.data)
        let fromFile = try runLSRConv(["predict", "--model", Self.model, "--data", Self.data])
        let fromStdin = try runLSRConv(["predict", "--model", Self.model, "--data", "-", "--format", "jsonl"], stdin: bytes)
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        #expect(fromStdin.stdout == fromFile.stdout && !fromFile.stdout.isEmpty)

        let evalFile = try runLSRConv(["eval", "--model", Self.model, "--data", Self.data, "--json"])
        let evalStdin = try runLSRConv(["eval", "--model", Self.model, "--data", "-", "--format", "jsonl", "--json"], stdin: bytes)
        #expect(evalStdin.status == 0, "\(evalStdin.stderr)")
        var expected = try JSON.parse(evalFile.stdout).objectValue ?? [:]
        expected["data"] = "<stdin>"
        #expect(try JSON.parse(evalStdin.stdout) == .object(expected))

        for command in ["predict", "eval"] {
            let noFormat = try runLSRConv([command, "--model", Self.model, "--data", "-"], stdin: bytes)
            #expect(noFormat.status == 64, "\(command)")
            #expect(noFormat.stderr == "error: --data - reads standard input, which has no extension: give --format (jsonl, json, csv, tsv, cola)\n")
            let broken = try runLSRConv([command, "--model", Self.model, "--data", "-", "--format", "jsonl"], stdin: Array("{\"text\": \"a\", \"label\": \"positive\"}\n{\"text\": \n".utf8))
            #expect(broken.status == 1, "\(command)")
            #expect(broken.stderr.hasPrefix("error: <stdin>: line 2: invalid JSON at byte "), "\(command): \(broken.stderr)")
            #expect(broken.stderr.split(separator: "\n").count == 1)
            let empty = try runLSRConv([command, "--model", Self.model, "--data", "-", "--format", "csv"], stdin: [])
            #expect(empty.status == 1 && empty.stderr == "error: <stdin>: the file is empty: no header row and no examples\n", "\(command): \(empty.stderr)")
        }
    }

    /// train takes `--train -` too (issue 15.5): the same run as from the file, the data's
    /// sha256 recorded as for a file, and `--max-length` by default the model's limit where it is
    /// below 128 (pretrained-mlm: 34 positions, 32 tokens). The same binary on the same machine
    /// and input: the adapters are compared bit for bit.
    @Test func trainReadsStandardInputAndDefaultsToTheModelsLimit() throws {
        let dir = TemporaryDirectory()
        let model = TestPaths.fixture("pretrained-mlm")
        let train = TestPaths.fixture("learning/train.jsonl")
        let flags = ["--labels", "ordered,reversed", "--max-steps", "2", "--batch-size", "4", "--separation-rank", "4"]
        let fromFile = try runLSRConv(["train", "--model", model, "--train", train, "--out", dir.file("file")] + flags)
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        let fromStdin = try runLSRConv(["train", "--model", model, "--train", "-", "--format", "jsonl", "--out", dir.file("stdin")] + flags, stdin: readFile(train))
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        #expect(readFile(dir.file("stdin/adapter_model.safetensors")) == readFile(dir.file("file/adapter_model.safetensors")))
        let settings = try #require(JSON.parse(readFile(dir.file("stdin/trainer_state.json")))["settings"])
        #expect(settings["train_data"]?.stringValue == SHA256.hex(readFile(train)))
        #expect(settings["max_length"]?.intValue == 32)
    }

    // MARK: 8. Examples

    /// Every --help (the root's included; train's is another change's) ends its discussion with
    /// 2–4 example invocations of that command.
    @Test func examplesInEveryHelp() throws {
        for command in [""] + Self.commands + ["train"] {
            let text = try help(command.isEmpty ? [] : [command])
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let start = try #require(lines.firstIndex(of: "Examples:"), "\(command): no Examples block")
            let block = lines[(start + 1)...].prefix { !$0.isEmpty }
            // An invocation starts at two spaces; continuation lines (after a trailing \) at six.
            var invocations: [String] = []
            for line in block {
                if line.hasPrefix("      "), !invocations.isEmpty { invocations[invocations.count - 1] += line } else { invocations.append(line) }
            }
            #expect((2...4).contains(invocations.count), "\(command): \(invocations)")
            for line in invocations {
                #expect(line.hasPrefix("  ") && line.contains("lsrconv \(command)"), "\(command): \(line)")
            }
            #expect(block.allSatisfy { $0.count <= 80 }, "\(command): an example wider than the help")
            #expect(lines[start + 1 + block.count..<lines.count].first { !$0.isEmpty }?.hasPrefix("USAGE:") == true, "\(command): Examples end the discussion")
        }
    }

    // MARK: 9. Shell completion

    @Test func completionScripts() throws {
        for shell in ["bash", "zsh", "fish"] {
            let result = try runLSRConv(["--generate-completion-script", shell])
            #expect(result.status == 0 && result.stderr.isEmpty, "\(shell): \(result.stderr)")
            for word in ["predict", "convert-adapter", "init-adapter", "adapter", "max-length", "separation-rank"] {
                #expect(result.stdout.contains(word), "\(shell) script lacks \(word)")
            }
        }
        #expect(try help([]).contains("lsrconv --generate-completion-script bash"))
    }
}
