import Foundation
import LSRCommands
import LSRFormats
import LSRSchema
import TestSupport
import Testing

/// The bundled schemas: the texts in the binary are the files of schemas/ byte for byte, each is
/// a valid draft 2020-12 schema that LSRSchema compiles, `lsrconv schema` lists and prints them,
/// and every `--json` document lsrconv prints follows its schema.
@Suite struct SchemaCommandTests {
    static let names = [
        "lsr-adapter", "lsr-merge", "inspect-output", "import-output", "predict-output", "predict-line", "tokenize-output",
        "validate-output", "merge-output", "init-adapter-output", "lora-conversion", "convert-adapter-output",
        "delta-config", "export-output", "eval-output", "trainer-state", "training-metrics-line",
    ]

    @Test func bundledTextsAreTheFiles() throws {
        let files = try FileSystem.contents(of: TestPaths.root + "/schemas").filter { $0.hasSuffix(".schema.json") }.sorted()
        #expect(files == Self.names.map { $0 + ".schema.json" }.sorted())
        #expect(BundledSchemas.all.map(\.name) == Self.names)
        for schema in BundledSchemas.all {
            let file = readFile(TestPaths.root + "/" + schema.fileName)
            let text = Array(schema.text.utf8)
            let common = zip(file, text).prefix { $0 == $1 }.count
            #expect(
                file == text,
                "\(schema.fileName) (\(file.count) bytes) and BundledSchemas.\(schema.name) (\(text.count) bytes) first differ at byte \(common): copy the file's text into Sources/LSRCommands/BundledSchemas.swift"
            )
        }
    }

    @Test(arguments: names)
    func schemaIsValidDraft202012(_ name: String) throws {
        let schema = try #require(BundledSchemas.named(name))
        let document = try JSON.parse(schema.text)
        let meta = try JSONSchema(["$ref": "https://json-schema.org/draft/2020-12/schema"])
        #expect(meta.validate(document) == [])
        _ = try JSONSchema(document)
        #expect(document["$schema"] == "https://json-schema.org/draft/2020-12/schema")
        #expect(document["$id"] == .string("urn:lsrconv:schema:\(name):1"))
        #expect(document["title"]?.stringValue != nil && document["description"]?.stringValue != nil)
        #expect(Self.undescribed(document) == [], "properties without a description")
    }

    /// Pointers of the property subschemas (other than `false`) that have no description.
    static func undescribed(_ node: JSONValue, at pointer: String = "") -> [String] {
        var found: [String] = []
        switch node {
        case .object(let object):
            if case .object(let properties)? = object["properties"] {
                for (key, value) in properties.members where value.objectValue != nil && value["description"] == nil {
                    found.append(pointer + "/properties/" + key)
                }
            }
            for (key, value) in object.members { found += undescribed(value, at: pointer + "/" + key) }
        case .array(let items):
            for (i, value) in items.enumerated() { found += undescribed(value, at: pointer + "/\(i)") }
        default: break
        }
        return found
    }

    // MARK: - lsrconv schema

    @Test func listsEverySchema() throws {
        let result = try runLSRConv(["schema"])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["name", "$id", "title"])
        #expect(lines.count == Self.names.count + 1)
        for (line, name) in zip(lines.dropFirst(), Self.names) {
            #expect(line.hasPrefix(name + " ") && line.contains(" urn:lsrconv:schema:\(name):1 "), "\(line)")
        }
        #expect(lines[1].hasSuffix("  LSR adapter config"))
    }

    @Test(arguments: names)
    func printsTheFileExactly(_ name: String) throws {
        let result = try runLSRConv(["schema", name])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        #expect(Array(result.stdout.utf8) == readFile(TestPaths.root + "/schemas/\(name).schema.json"))
    }

    @Test func unknownName() throws {
        let result = try runLSRConv(["schema", "lora"])
        #expect(result.status == 64 && result.stdout.isEmpty)  // a usage error: the names are known without reading a file
        #expect(
            result.stderr
                == "error: no bundled schema 'lora': the schemas are lsr-adapter, lsr-merge, inspect-output, import-output, predict-output, predict-line, "
                + "tokenize-output, validate-output, merge-output, init-adapter-output, lora-conversion, convert-adapter-output, "
                + "delta-config, export-output, eval-output, trainer-state, training-metrics-line\n"
        )
    }

    // MARK: - Every --json output follows its schema

    /// The schema violations of `text` (one JSON document) against bundled schema `name`.
    func violations(_ text: String, _ name: String) throws -> [String] {
        let schema = try JSONSchema(try #require(BundledSchemas.named(name)).document)
        return schema.validate(try JSON.parse(text)).map(\.description)
    }

    /// Runs lsrconv and returns the violations of its stdout against `name`.
    func output(of arguments: [String], follows name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try runLSRConv(arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(try violations(result.stdout, name) == [], "\(arguments)", sourceLocation: sourceLocation)
    }

    @Test func inspectOutputs() throws {
        for path in ["tiny-roberta", "tiny-roberta-sharded", "torch/legacy", "torch/sharded", "torch/fairseq/model.pt", "reference/adapter"] {
            try output(of: ["inspect", TestPaths.fixture(path), "--json"], follows: "inspect-output")
        }
        try output(of: ["inspect", TestPaths.fixture("safetensors/all_dtypes.safetensors"), "--json", "--checksums"], follows: "inspect-output")
    }

    @Test func importOutputs() throws {
        let dir = TemporaryDirectory()
        try output(of: ["import", TestPaths.fixture("tiny-roberta"), "--out", dir.file("a"), "--dtype", "f16", "--json"], follows: "import-output")
        try output(of: ["import", TestPaths.fixture("torch/fairseq/model.pt"), "--out", dir.file("b"), "--json"], follows: "import-output")
        try output(
            of: ["import", TestPaths.fixture("torch/zip/pytorch_model.bin"), "--out", dir.file("c"), "--max-shard-size", "200kB", "--json"],
            follows: "import-output")
    }

    /// init-adapter and merge: their --json output, the adapter they write, and lsr_merge.json.
    @Test func adapterCommandOutputs() throws {
        let dir = TemporaryDirectory()
        let model = TestPaths.fixture("tiny-roberta")
        try output(
            of: ["init-adapter", "--model", model, "--out", dir.file("a"), "--init", "random", "--separation-rank", "2", "--json"],
            follows: "init-adapter-output")
        #expect(try violations(String(decoding: readFile(dir.file("a/adapter_config.json")), as: UTF8.self), "lsr-adapter") == [])
        try output(of: ["merge", "--model", model, "--adapter", dir.file("a"), "--out", dir.file("m"), "--json"], follows: "merge-output")
        #expect(try violations(String(decoding: readFile(dir.file("m/lsr_merge.json")), as: UTF8.self), "lsr-merge") == [])
        for format in ["delta", "peft-lora", "lsr"] {
            try output(of: ["export", "--adapter", dir.file("a"), "--format", format, "--out", dir.file(format), "--json"], follows: "export-output")
        }
        #expect(try violations(String(decoding: readFile(dir.file("delta/delta_config.json")), as: UTF8.self), "delta-config") == [])
        try output(
            of: ["eval", "--model", model, "--adapter", dir.file("a"), "--data", TestPaths.fixture("demo/dev.jsonl"), "--json"], follows: "eval-output")
    }

    @Test func predictAndTokenizeOutputs() throws {
        let model = TestPaths.fixture("tiny-roberta")
        try output(of: ["predict", "--model", model, "--text", "a fine day", "--json"], follows: "predict-output")
        try output(of: ["predict", "--model", model, "--text", "one", "--pair", "two", "--json"], follows: "predict-output")
        try output(of: ["tokenize", "--tokenizer", model, "--text", "Hello world", "--json"], follows: "tokenize-output")
        try output(of: ["tokenize", "--tokenizer", model, "--text", "one", "--pair", "two", "--max-length", "5", "--json"], follows: "tokenize-output")

        let dir = TemporaryDirectory()
        let data = dir.write(Array("{\"text\": \"a\"}\n{\"text\": \"b c\", \"text_pair\": \"d\"}\n".utf8), to: "rows.jsonl")
        let result = try runLSRConv(["predict", "--model", model, "--data", data])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines { #expect(try violations(String(line), "predict-line") == [], "\(line)") }
    }

    @Test func validateOutputs() throws {
        let dir = TemporaryDirectory()
        let adapter = TestPaths.fixture("reference/adapter")
        try output(of: ["validate", adapter, "--json"], follows: "validate-output")
        try output(of: ["validate", adapter, "--model", TestPaths.fixture("tiny-roberta-f16"), "--json"], follows: "validate-output")
        // Invalid: exit 1, the document still follows the schema (with keyword locations).
        let bad = dir.write(Array(#"{"ids": [-1], "tokens": [], "attention_mask": []}"#.utf8), to: "bad.json")
        let result = try runLSRConv(["validate", bad, "--schema", "tokenize-output", "--json"])
        #expect(result.status == 1)
        #expect(try violations(result.stdout, "validate-output") == [])
        // And validate checks its own output.
        let saved = dir.write(Array(result.stdout.utf8), to: "report.json")
        let check = try runLSRConv(["validate", saved, "--schema", "validate-output"])
        #expect(check.status == 0 && check.stdout == "valid\n", "\(check.stdout)")
    }
}
