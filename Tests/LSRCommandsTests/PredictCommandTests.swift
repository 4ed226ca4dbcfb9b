import Foundation
import LSRFormats
import TestSupport
import Testing

/// `lsrconv predict` end to end: our tokenizer, engine and head against the logits transformers
/// gave for the same texts (Fixtures/reference/forward.{json,safetensors}, written by
/// Fixtures/generate/forward_reference.py; f32 model). Tolerance 1e-4 on every logit, as
/// ForwardParityTests argues (the JSON carries the f32 logits exactly, as doubles). The labels
/// are compared exactly: the reference's two logits are ≥ 3.6e-3 apart in every row, far more
/// than 2·1e-4, so no kernel's rounding can swap them.
@Suite struct PredictCommandTests {
    static let model = TestPaths.fixture("tiny-roberta")

    /// Reference texts, pairs and logits [B, 2].
    func reference() throws -> (texts: [String], pairs: [String?], logits: [[Float]]) {
        let meta = try JSON.parse(readFile(TestPaths.fixture("reference/forward.json")))
        let texts = try #require(meta["texts"]?.arrayValue).map { $0.stringValue ?? "" }
        let pairs = try #require(meta["pairs"]?.arrayValue).map { $0.stringValue }
        let archive = try Checkpoint.open(TestPaths.fixture("reference/forward.safetensors"))
        let flat = Array(try #require(archive["f32.logits"]).bytes.buffer.bindMemory(to: Float.self))
        return (texts, pairs, (0..<texts.count).map { Array(flat[($0 * 2)..<($0 * 2 + 2)]) })
    }

    func logits(_ json: JSONValue?) -> [Float] { json?["logits"]?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) } ?? [] }

    @Test func textMatchesTransformers() throws {
        let ref = try reference()
        for (i, text) in ref.texts.enumerated() {
            var arguments = ["predict", "--model", Self.model, "--text", text, "--json"]
            if let pair = ref.pairs[i] { arguments += ["--pair", pair] }
            let result = try runLSRConv(arguments)
            #expect(result.status == 0, "\(result.stderr)")
            let prediction = try JSON.parse(result.stdout)["predictions"]?.arrayValue?.first
            let got = logits(prediction)
            let d = maxAbsDifference(got, ref.logits[i])
            #expect(d <= 1e-4, "row \(i): \(got) vs \(ref.logits[i]), max |Δ| = \(d)")
            let label = ref.logits[i][0] >= ref.logits[i][1] ? "negative" : "positive"  // config id2label
            #expect(prediction?["label"] == .string(label))
        }
    }

    /// A data file: one JSON line per row, in input order, with its line number.
    @Test func dataFileInInputOrder() throws {
        let ref = try reference()
        let dir = TemporaryDirectory()
        var rows = ""
        for (i, text) in ref.texts.enumerated() {
            var row: JSONObject = ["text": .string(text)]
            if let pair = ref.pairs[i] { row["text_pair"] = .string(pair) }
            rows += JSON.serialize(.object(row)) + "\n"
        }
        let data = dir.write(Array(rows.utf8), to: "rows.jsonl")
        let result = try runLSRConv(["predict", "--model", Self.model, "--data", data, "--out", dir.file("out/predictions.jsonl"), "--batch-size", "4"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = String(decoding: readFile(dir.file("out/predictions.jsonl")), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == ref.texts.count)
        for (i, line) in lines.enumerated() {
            let json = try JSON.parse(String(line))
            #expect(json["line"] == JSONValue(i + 1))
            let got = logits(json)
            let d = maxAbsDifference(got, ref.logits[i])
            #expect(d <= 1e-4, "row \(i): \(got) vs \(ref.logits[i]), max |Δ| = \(d)")
        }
    }

    @Test func badInput() throws {
        let dir = TemporaryDirectory()
        func failure(_ arguments: [String]) throws -> String {
            let result = try runLSRConv(arguments)
            #expect(result.status != 0)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            return lines.first.map(String.init) ?? ""
        }
        let missing = dir.write(Array("{\"sentence\": \"a\"}\n{\"text\": 3}\n".utf8), to: "bad.jsonl")
        #expect(try failure(["predict", "--model", Self.model, "--data", missing, "--text-field", "review"]).hasPrefix("error: \(missing)"))
        let broken = dir.write(Array("{\"text\": \"a\"}\n{\"text\": \n".utf8), to: "broken.jsonl")
        let message = try failure(["predict", "--model", Self.model, "--data", broken])
        #expect(message.hasPrefix("error: \(broken)") && message.contains("line 2"), "\(message)")
        #expect(try failure(["predict", "--model", Self.model]).contains("give exactly one of --text and --data"))
        #expect(try failure(["predict", "--model", dir.path, "--text", "x"]).contains("no checkpoint found"))
    }
}
