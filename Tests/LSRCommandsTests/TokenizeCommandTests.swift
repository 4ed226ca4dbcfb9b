import LSRFormats
import TestSupport
import Testing

/// `lsrconv tokenize` on the fixture tokenizer, against the ids Hugging Face tokenizers 0.23.3
/// gave (Fixtures/tokenizer/reference.zip, written by Fixtures/generate/tokenizer_reference.py).
@Suite struct TokenizeCommandTests {
    static let tiny = TestPaths.fixture("tiny-roberta")

    /// The reference line whose entry satisfies `matches`.
    static func reference(_ matches: (JSONValue) -> Bool) throws -> JSONValue {
        let archive = try ZipArchive(path: TestPaths.fixture("tokenizer/reference.zip"))
        let text = try archive.contents(of: archive.entry("reference.jsonl"), limit: 64 << 20)
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let entry = try JSON.parse(Array(line))
            if matches(entry) { return entry }
        }
        throw JSONError.truncated(offset: 0)
    }

    static func ints(_ value: JSONValue?) -> [Int] { value?.arrayValue?.compactMap(\.intValue) ?? [] }

    @Test func jsonIdsMatchTheReference() throws {
        let text = "Shall I compare thee to a summer's day?"
        let expected = Self.ints(try Self.reference { $0["text"] == .string(text) && $0["pair"] == .null }["ids"])
        let result = try runLSRConv(["tokenize", "--tokenizer", Self.tiny, "--text", text, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json.objectValue?.keys == ["ids", "tokens", "attention_mask"])
        #expect(Self.ints(json["ids"]) == expected)
        #expect(json["tokens"]?.arrayValue?.count == expected.count)
        #expect(json["tokens"]?.arrayValue?.first == "<s>")
        #expect(Self.ints(json["attention_mask"]) == [Int](repeating: 1, count: expected.count))
    }

    /// A pair the reference truncated at max_length 16: the CLI keeps the same tokens.
    @Test func truncatedPairMatchesTheReference() throws {
        let entry = try Self.reference { $0["pair"]?.stringValue?.isEmpty == false && $0["trunc"]?["16"] != nil }
        let ids = Self.ints(entry["ids"])
        let first = try #require(entry["first"]?.intValue)
        let kept = Self.ints(entry["trunc"]?["16"])
        let expected = Array(ids[..<(1 + kept[0])]) + ids[(1 + first)..<(3 + first + kept[1])] + [ids[ids.count - 1]]
        // "--text=…": reference texts may start with "-".
        let result = try runLSRConv([
            "tokenize", "--tokenizer", Self.tiny, "--text=" + (try #require(entry["text"]?.stringValue)),
            "--pair=" + (try #require(entry["pair"]?.stringValue)), "--max-length", "16", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.ints(try JSON.parse(result.stdout)["ids"]) == expected)
        #expect(expected.count == 16)
    }

    @Test func textTable() throws {
        let result = try runLSRConv(["tokenize", "--tokenizer", Self.tiny, "--text", "hello <mask> world"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            index  id   token
            0      0    <s>
            1      76   h
            2      73   e
            3      294  ll
            4      83   o
            5      225  Ġ
            6      4    <mask>
            7      680  Ġworld
            8      2    </s>
            9 tokens

            """)
    }

    /// A folder of only vocab.json + merges.txt (the fixture's, which are tiny-roberta's
    /// vocabulary and merges) loads, and gives the ids of tiny-roberta's full tokenizer.
    @Test func vocabAndMergesAlone() throws {
        let directory = TemporaryDirectory()
        for name in ["vocab.json", "merges.txt"] {
            _ = directory.write(readFile(TestPaths.fixture("tokenizer/vocab-merges/" + name)), to: name)
        }
        let cases: [[String]] = [
            ["--text", "hello <mask> world"], ["--text", "Shall I compare thee to a summer's day?"], ["--text", ""],
            ["--text", "ünïcödé 😀 x2", "--pair", "  two  spaces"],
        ]
        for arguments in cases {
            let bare = try runLSRConv(["tokenize", "--tokenizer", directory.path, "--json"] + arguments)
            let full = try runLSRConv(["tokenize", "--tokenizer", Self.tiny, "--json"] + arguments)
            #expect(bare.status == 0 && bare.stderr == "", "\(arguments): \(bare.stderr)")
            #expect(full.status == 0, "\(arguments): \(full.stderr)")
            #expect(bare.stdout == full.stdout, "\(arguments)")
            #expect(Self.ints(try JSON.parse(bare.stdout)["ids"]).count >= 2, "\(arguments)")
        }
        let table = try runLSRConv(["tokenize", "--tokenizer", directory.path, "--text", "hello <mask> world"])
        #expect(table.stdout.hasPrefix("index  id   token\n0      0    <s>\n1      76   h\n"), "\(table.stdout)")
    }

    @Test func missingTokenizerDirectory() throws {
        let missing = TemporaryDirectory().path + "/no-such-tokenizer"
        let result = try runLSRConv(["tokenize", "--tokenizer", missing, "--text", "hi"])
        #expect(result.status != 0)
        #expect(result.stdout == "")
        #expect(result.stderr == "error: \(missing): no such file or directory\n")
    }

    @Test func maxLengthBelowTheSpecialTokens() throws {
        let result = try runLSRConv(["tokenize", "--tokenizer", Self.tiny, "--text", "a", "--pair", "b", "--max-length", "3"])
        #expect(result.status != 0)
        #expect(result.stderr == "error: --max-length 3 leaves no room for text: \(Self.tiny) adds 4 special tokens to a pair\n")
    }

    /// A BERT tokenizer (WordPiece) from tokenizer.json and from vocab.txt: the ids tokenizers
    /// 0.23.3 printed for Fixtures/tokenizers/wordpiece.
    @Test func bertTokenizerFromEitherLayout() throws {
        let expected = [2, 47, 684, 60, 308, 706, 15, 984, 277, 281, 5, 3, 550, 597, 665, 985, 3]
        for folder in ["tokenizers/wordpiece", "tokenizers/wordpiece-vocab"] {
            let result = try runLSRConv([
                "tokenize", "--tokenizer", TestPaths.fixture(folder), "--text", "Four score, NAÏVE 中文!", "--pair", "and seven years",
                "--json",
            ])
            #expect(result.status == 0, "\(folder): \(result.stderr)")
            let json = try JSON.parse(result.stdout)
            #expect(Self.ints(json["ids"]) == expected, "\(folder)")
            #expect(json["tokens"]?.arrayValue?.first == "[CLS]" && json["tokens"]?.arrayValue?[3] == "s", "\(folder)")
        }
    }

    /// A tokenizer.json whose model lsrconv does not implement: one error line naming it.
    @Test func unsupportedModelTypeIsOneErrorLine() throws {
        let directory = TemporaryDirectory()
        let path = directory.write(Array(#"{"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}}"#.utf8), to: "tokenizer.json")
        let result = try runLSRConv(["tokenize", "--tokenizer", directory.path, "--text", "a"])
        #expect(result.status != 0)
        #expect(
            result.stderr
                == "error: \(path): /model/type: model type \"WordLevel\" (lsrconv reads BPE, WordPiece and Unigram) is not supported\n")
    }
}
