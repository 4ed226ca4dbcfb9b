import Foundation
import LSRFormats
@testable import LSRTokenizers
import TestSupport
import Testing

/// The reference encodings written by Fixtures/generate/tokenizer_reference.py with Hugging Face
/// `tokenizers` 0.23.3 (and transformers 5.23.0 for the vocab.json + merges.txt layout).
private enum ReferenceFiles {
    static let archivePath = TestPaths.fixture("tokenizer/reference.zip")

    /// reference.jsonl, parsed once for all tests (debug builds parse it in about a second).
    static let corpus = Result { try loadReference("reference.jsonl") }

    static func member(_ name: String) throws -> [UInt8] {
        let archive = try ZipArchive(path: archivePath)
        return try archive.contents(of: archive.entry(name), limit: 64 << 20)
    }

    static func lines(_ name: String) throws -> [JSONValue] {
        try member(name).split(separator: UInt8(ascii: "\n")).map { try JSON.parse(Array($0)) }
    }

    /// max_length values the reference was encoded with, from manifest.json.
    static func lengths() throws -> (single: [Int], pair: [Int]) {
        let manifest = try JSON.parse(member("manifest.json"))
        func list(_ key: String) -> [Int] { manifest[key]?.arrayValue?.compactMap(\.intValue) ?? [] }
        return (list("single_lengths"), list("pair_lengths"))
    }
}

/// One reference line: the untruncated ids, and how many tokens of each text truncation kept.
private struct ReferenceEntry {
    let text: String
    let pair: String?
    let ids: [Int32]
    /// Tokens from the first text (pairs only).
    let first: Int
    let kept: [Int: [Int]]
    let tokens: [String]?

    init(_ line: JSONValue, text: String, pair: String?) {
        self.text = text
        self.pair = pair
        ids = line["ids"]?.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? []
        first = line["first"]?.intValue ?? 0
        var kept: [Int: [Int]] = [:]
        for (key, value) in line["trunc"]?.objectValue?.members ?? [] {
            kept[Int(key) ?? -1] = value.arrayValue?.compactMap(\.intValue) ?? []
        }
        self.kept = kept
        tokens = line["tokens"]?.arrayValue?.compactMap(\.stringValue)
    }

    /// The ids HF returned with truncation at `maxLength`: `ids` cut as the generator's
    /// `truncated()` cuts them (the generator checked the cut against HF's output).
    func expected(maxLength: Int) -> [Int32] {
        guard let kept = kept[maxLength] else { return ids }
        if pair == nil { return Array(ids[..<(1 + kept[0])]) + [ids[ids.count - 1]] }
        return Array(ids[..<(1 + kept[0])]) + ids[(1 + first)..<(3 + first)] + ids[(3 + first)..<(3 + first + kept[1])] + [ids[ids.count - 1]]
    }

    var label: String { pair.map { "text \(String(reflecting: text)) pair \(String(reflecting: $0))" } ?? "text \(String(reflecting: text))" }
}

/// Encodes every entry at every length and compares ids (and tokens where recorded) exactly.
/// Returns the number of encodings checked and the mismatches, first one spelled out.
private func compare(_ tokenizer: Tokenizer, _ entries: [ReferenceEntry]) throws -> (checked: Int, mismatches: Int, first: String?) {
    let lengths = try ReferenceFiles.lengths()
    var checked = 0
    var mismatches = 0
    var first: String?
    func record(_ message: @autoclosure () -> String) {
        mismatches += 1
        if first == nil { first = message() }
    }
    for entry in entries {
        let full = tokenizer.encode(entry.text, pair: entry.pair)
        checked += 1
        if full.ids != entry.ids {
            record("\(entry.label): expected \(entry.ids), got \(full.ids) (\(full.tokens))")
        }
        if let tokens = entry.tokens, tokens != full.tokens {
            record("\(entry.label): expected tokens \(tokens), got \(full.tokens)")
        }
        for maxLength in entry.pair == nil ? lengths.single : lengths.pair {
            let truncated = tokenizer.encode(entry.text, pair: entry.pair, maxLength: maxLength)
            checked += 1
            let expected = entry.expected(maxLength: maxLength)
            if truncated.ids != expected {
                record("\(entry.label) max_length \(maxLength): expected \(expected), got \(truncated.ids)")
            }
        }
    }
    return (checked, mismatches, first)
}

private func loadReference(_ name: String, corpus: [ReferenceEntry]? = nil) throws -> [ReferenceEntry] {
    try ReferenceFiles.lines(name).map { line in
        if let corpus, let index = line["index"]?.intValue {
            return ReferenceEntry(line, text: corpus[index].text, pair: corpus[index].pair)
        }
        return ReferenceEntry(line, text: line["text"]?.stringValue ?? "", pair: line["pair"]?.stringValue)
    }
}

/// The tokenizer (Sources/LSRTrain): every reference encoding reproduced exactly, behaviour,
/// and load errors. `swift test --filter TokenizerTests` runs them all.
@Suite struct TokenizerTests {}

extension TokenizerTests {
    @Suite struct Reference {
        @Test func tinyRobertaMatchesTokenizers() throws {
            let tokenizer = try Tokenizer.load(directory: TestPaths.fixture("tiny-roberta"))
            let entries = try ReferenceFiles.corpus.get()
            #expect(entries.count >= 5000)
            let result = try compare(tokenizer, entries)
            print("tiny-roberta: \(entries.count) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
            #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
        }

        @Test func vocabMergesMatchesTransformers() throws {
            let tokenizer = try Tokenizer.load(directory: TestPaths.fixture("tokenizer/vocab-merges"))
            let entries = try loadReference("vocab-merges.jsonl", corpus: try ReferenceFiles.corpus.get())
            let result = try compare(tokenizer, entries)
            print("vocab-merges: \(entries.count) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
            #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
        }

        /// vocab.json + merges.txt alone (no added_tokens.json, no configs), the layout README
        /// and --help name. The fixture's two files are tiny-roberta's vocabulary and merges, and
        /// RobertaTokenizer's defaults (no prefix space; <s>, <pad>, </s>, <unk>, <mask> special)
        /// are tiny-roberta's settings, so every reference string must get tiny-roberta's ids.
        @Test func vocabAndMergesAloneMatchTheFullTokenizer() throws {
            let directory = TemporaryDirectory()
            for name in ["vocab.json", "merges.txt"] {
                _ = directory.write(readFile(TestPaths.fixture("tokenizer/vocab-merges/" + name)), to: name)
            }
            let bare = try Tokenizer.load(directory: directory.path)
            let full = try Tokenizer.load(directory: TestPaths.fixture("tiny-roberta"))
            #expect(bare.encode("hello <mask> world").ids == [0, 76, 73, 294, 83, 225, 4, 680, 2])
            let entries = try ReferenceFiles.corpus.get()
            var mismatches: [String] = []
            for entry in entries {
                let (got, expected) = (bare.encode(entry.text, pair: entry.pair).ids, full.encode(entry.text, pair: entry.pair).ids)
                if got != expected { mismatches.append("\(entry.label): expected \(expected), got \(got)") }
            }
            #expect(entries.count >= 5000)
            #expect(mismatches.isEmpty, "\(mismatches.count) of \(entries.count) differ; first: \(mismatches.first ?? "")")
        }

        @Test func templateMatchesTokenizers() throws {
            let tokenizer = try Tokenizer.load(directory: TestPaths.fixture("tokenizer/template"))
            let entries = try loadReference("template.jsonl", corpus: try ReferenceFiles.corpus.get())
            let result = try compare(tokenizer, entries)
            print("template: \(entries.count) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
            #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
        }

        /// Unknown characters (fused), sparse ids and ignore_merges (unknown/tokenizer.json in the zip).
        @Test func unknownTokensMatchTokenizers() throws {
            let directory = TemporaryDirectory()
            _ = directory.write(try ReferenceFiles.member("unknown/tokenizer.json"), to: "tokenizer.json")
            let tokenizer = try Tokenizer.load(directory: directory.path)
            let entries = try loadReference("unknown.jsonl", corpus: try ReferenceFiles.corpus.get())
            let result = try compare(tokenizer, entries)
            print("unknown: \(entries.count) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
            #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
            #expect(tokenizer.encode("é").ids == [0, 3, 2])
        }

        /// Every Unicode scalar is classed as the regex inside `tokenizers` (Oniguruma) classes it.
        @Test func scalarClassesMatchOniguruma() throws {
            let text = String(decoding: try ReferenceFiles.member("scalar-classes.txt"), as: UTF8.self)
            let names: [Character: ByteLevel.ScalarClass] = ["L": .letter, "N": .number, "S": .whitespace, "O": .other]
            var checked = 0
            var differences: [String] = []
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                let first = UInt32(fields[0], radix: 16)!
                let last = UInt32(fields[1], radix: 16)!
                let expected = names[fields[2].first!]!
                for value in first...last {
                    guard let scalar = Unicode.Scalar(value) else { continue }
                    checked += 1
                    let got = ByteLevel.classify(scalar)
                    if got != expected, differences.count < 10 {
                        differences.append("U+\(String(value, radix: 16, uppercase: true)): expected \(expected), got \(got)")
                    }
                }
            }
            #expect(checked == 0x110000 - 0x800)
            #expect(differences == [])
        }
    }

    @Suite struct Behaviour {
        let tiny: Tokenizer

        init() throws { tiny = try Tokenizer.load(directory: TestPaths.fixture("tiny-roberta")) }

        @Test func specialTokens() throws {
            #expect((tiny.clsId, tiny.padId, tiny.sepId, tiny.unkId, tiny.maskId) == (0, 1, 2, 3, 4))
            #expect(tiny.vocabularySize == 1000)
            #expect(tiny.modelMaxLength == 128)
            #expect(tiny.specialTokenCount(pair: false) == 2)
            #expect(tiny.specialTokenCount(pair: true) == 4)
            #expect(tiny.token(for: 680) == "Ġworld")
            #expect(tiny.id(for: "<mask>") == 4)
            #expect(tiny.tokens([0, 680, 999_999]) == ["<s>", "Ġworld", "<unk:999999>"])
        }

        /// Values printed by tokenizers 0.23.3 for the fixture.
        @Test func knownEncoding() {
            let encoding = tiny.encode("hello <mask> world")
            #expect(encoding.ids == [0, 76, 73, 294, 83, 225, 4, 680, 2])
            #expect(encoding.tokens == ["<s>", "h", "e", "ll", "o", "Ġ", "<mask>", "Ġworld", "</s>"])
            #expect(encoding.attentionMask == [Int32](repeating: 1, count: 9))
            #expect(encoding.typeIds == [Int32](repeating: 0, count: 9))
            #expect(tiny.encode("").ids == [0, 2])
            #expect(tiny.encode("", pair: "").ids == [0, 2, 2, 2])
        }

        @Test func dynamicPadding() {
            let batch = tiny.encodeBatch([("hello", nil), ("hello <mask> world", nil)])
            let long = tiny.encode("hello <mask> world").ids
            let short = tiny.encode("hello").ids
            #expect(batch.batch == 2 && batch.length == long.count)
            #expect(batch.ids == short + [Int32](repeating: tiny.padId, count: long.count - short.count) + long)
            #expect(batch.attentionMask == [Int32](repeating: 1, count: short.count) + [Int32](repeating: 0, count: long.count - short.count)
                + [Int32](repeating: 1, count: long.count))
            #expect(Tokenizer.pad([], padId: 1) == PaddedBatch(batch: 0, length: 0, ids: [], attentionMask: [], typeIds: []))
        }

        @Test func truncatedEncodingsFitAndKeepTheirFrame() {
            let text = String(repeating: "Four score and seven years ago ", count: 10)
            for maxLength in [2, 3, 4, 5, 16, 17] {
                let single = tiny.encode(text, maxLength: maxLength)
                #expect(single.ids.count == maxLength && single.ids.first == 0 && single.ids.last == 2)
                #expect(single.tokens.count == maxLength && single.attentionMask.count == maxLength)
            }
            // Below the special-token count nothing of the text remains.
            #expect(tiny.encode(text, maxLength: 1).ids == [0, 2])
            #expect(tiny.encode(text, pair: text, maxLength: 2).ids == [0, 2, 2, 2])
        }

        /// tokenizers' truncation.rs `truncate_encodings` cases for LongestFirst.
        @Test func longestFirstLengths() {
            #expect(Tokenizer.truncationLengths(10, nil, maxLength: 4) == (4, nil))
            #expect(Tokenizer.truncationLengths(3, 5, maxLength: 8) == (3, 5))
            #expect(Tokenizer.truncationLengths(3, 20, maxLength: 10) == (3, 7))
            #expect(Tokenizer.truncationLengths(20, 3, maxLength: 10) == (7, 3))
            #expect(Tokenizer.truncationLengths(8, 9, maxLength: 10) == (5, 5))
            #expect(Tokenizer.truncationLengths(9, 8, maxLength: 11) == (6, 5))
            #expect(Tokenizer.truncationLengths(8, 9, maxLength: 11) == (5, 6))
            #expect(Tokenizer.truncationLengths(30, 40, maxLength: 7) == (3, 4))
            #expect(Tokenizer.truncationLengths(4, 4, maxLength: 0) == (0, 0))
        }

        @Test func sharedAcrossThreads() async {
            let texts = (0..<64).map { "text number \($0) with ünïcödé and 😀 \($0 * 7)" }
            let serial = texts.map { tiny.encode($0).ids }
            let tokenizer = tiny
            let parallel = await withTaskGroup(of: (Int, [Int32]).self) { group in
                for (i, text) in texts.enumerated() { group.addTask { (i, tokenizer.encode(text).ids) } }
                var result = [[Int32]](repeating: [], count: texts.count)
                for await (i, ids) in group { result[i] = ids }
                return result
            }
            #expect(parallel == serial)
        }
    }

    /// Every load failure names the file and, where it applies, the JSON pointer or line.
    @Suite struct Errors {
        static let header = #"{"version":"1.0","added_tokens":[],"normalizer":null,"#
            + #""pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},"#
            + #""post_processor":{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0],"trim_offsets":true,"add_prefix_space":false},"#

        /// A small tokenizer.json; `model` is spliced into the model object after its type.
        static func tokenizerJSON(
            vocab: String = #"{"<s>":0,"<pad>":1,"</s>":2,"a":3,"b":4,"ab":5}"#, merges: String = #"[["a","b"]]"#, type: String = "BPE",
            model: String = ""
        ) -> [UInt8] {
            Array((header + #""model":{"type":"\#(type)",\#(model)"vocab":\#(vocab),"merges":\#(merges)}}"#).utf8)
        }

        /// The message `lsrconv` prints for the failure (`error:` prefix aside).
        func loadError(_ directory: String) -> String {
            do {
                _ = try Tokenizer.load(directory: directory)
                return "no error"
            } catch {
                return "\(error)"
            }
        }

        func directory(_ files: [String: [UInt8]]) -> TemporaryDirectory {
            let directory = TemporaryDirectory()
            for (name, bytes) in files { _ = directory.write(bytes, to: name) }
            return directory
        }

        @Test func minimalTokenizerLoads() throws {
            let dir = directory(["tokenizer.json": Self.tokenizerJSON()])
            let tokenizer = try Tokenizer.load(directory: dir.path)
            #expect(tokenizer.encode("abab").ids == [0, 5, 5, 2])
            let legacy = directory(["tokenizer.json": Self.tokenizerJSON(merges: #"["a b"]"#)])
            #expect(try Tokenizer.load(directory: legacy.path).encode("ab").ids == [0, 5, 2])
        }

        /// transformers writes int(1e30) for "no limit", beyond what JSON.parse takes.
        @Test func veryLargeModelMaxLengthMeansNoLimit() throws {
            let dir = directory([
                "tokenizer.json": Self.tokenizerJSON(),
                "tokenizer_config.json": Array(#"{"model_max_length": 1000000000000000019884624838656, "pad_token": "<pad>"}"#.utf8),
            ])
            let tokenizer = try Tokenizer.load(directory: dir.path)
            #expect(tokenizer.modelMaxLength == nil)
            #expect(tokenizer.padId == 1)
        }

        /// Without fuse_unk each unknown character is its own <unk> (model.rs `merge_word`);
        /// without an unk_token unknown characters vanish.
        @Test func unknownCharacters() throws {
            let vocab = #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"a":4,"b":5,"ab":6}"#
            func model(_ extra: String) -> [UInt8] { Self.tokenizerJSON(vocab: vocab, model: extra) }
            let separate = directory(["tokenizer.json": model(#""unk_token":"<unk>","fuse_unk":false,"#)])
            #expect(try Tokenizer.load(directory: separate.path).encode("axyab").ids == [0, 4, 3, 3, 6, 2])
            let fused = directory(["tokenizer.json": model(#""unk_token":"<unk>","fuse_unk":true,"#)])
            #expect(try Tokenizer.load(directory: fused.path).encode("axyab").ids == [0, 4, 3, 6, 2])
            let dropped = directory(["tokenizer.json": model("")])
            #expect(try Tokenizer.load(directory: dropped.path).encode("axyab").ids == [0, 4, 6, 2])
        }

        @Test func mergesAndVocabDisagree() {
            let missingRight = directory(["tokenizer.json": Self.tokenizerJSON(merges: #"[["a","b"],["a","c"]]"#)])
            #expect(loadError(missingRight.path) == "\(missingRight.path)/tokenizer.json: /model/merges/1: merge \"a c\" needs \"c\", "
                + "which is not in the vocabulary (the vocab and merges disagree)")
            let missingResult = directory(["tokenizer.json": Self.tokenizerJSON(merges: #"[["a","b"],["b","a"]]"#)])
            #expect(loadError(missingResult.path) == "\(missingResult.path)/tokenizer.json: /model/merges/1: merge \"b a\" needs \"ba\", "
                + "which is not in the vocabulary (the vocab and merges disagree)")
            let text = directory([
                "vocab.json": Array(#"{"<s>":0,"<pad>":1,"</s>":2,"a":3,"b":4,"ab":5}"#.utf8),
                "merges.txt": Array("#version: 0.2\na b\nb c\n".utf8),
            ])
            #expect(loadError(text.path) == "\(text.path)/merges.txt: line 3: merge \"b c\" needs \"c\", "
                + "which is not in the vocabulary (the vocab and merges disagree)")
        }

        @Test func vocabularyMustBeAnObjectOfIds() {
            let stringId = directory(["tokenizer.json": Self.tokenizerJSON(vocab: #"{"<s>":0,"a/b":"one"}"#)])
            #expect(loadError(stringId.path) == "\(stringId.path)/tokenizer.json: /model/vocab/a~1b: expected an integer id, found string")
            let array = directory(["tokenizer.json": Self.tokenizerJSON(vocab: #"["<s>","a"]"#)])
            #expect(loadError(array.path) == "\(array.path)/tokenizer.json: /model/vocab: expected an object, found array")
            let negative = directory(["tokenizer.json": Self.tokenizerJSON(vocab: #"{"<s>":-1}"#)])
            #expect(loadError(negative.path) == "\(negative.path)/tokenizer.json: /model/vocab/<s>: id -1 is outside 0..<16777216")
            let vocabJSON = directory(["vocab.json": Array(#"{"a":0.5}"#.utf8), "merges.txt": []])
            #expect(loadError(vocabJSON.path) == "\(vocabJSON.path)/vocab.json: /a: expected an integer id, found number")
            let notObject = directory(["vocab.json": Array("[]".utf8), "merges.txt": []])
            #expect(loadError(notObject.path) == "\(notObject.path)/vocab.json: the document: expected an object, found array")
        }

        /// Named limits (issue 7 item 2): a file over `Tokenizer.maxFileBytes` is refused from its
        /// size before a byte is read (a sparse file: no disk used), an id at the vocabulary limit
        /// is refused before any table is sized from it.
        @Test func limitsComeBeforeReading() throws {
            let dir = TemporaryDirectory()
            let huge = dir.write(Self.tokenizerJSON(), to: "tokenizer.json")
            #expect(truncate(huge, off_t(Tokenizer.maxFileBytes + 1)) == 0)
            #expect(loadError(dir.path) == "\(huge): file of \(Tokenizer.maxFileBytes + 1) bytes exceeds the limit of \(Tokenizer.maxFileBytes) bytes")
            let atLimit = directory(["tokenizer.json": Self.tokenizerJSON(vocab: #"{"<s>":0,"a":16777216}"#)])
            #expect(loadError(atLimit.path) == "\(atLimit.path)/tokenizer.json: /model/vocab/a: id 16777216 is outside 0..<16777216")
        }

        @Test func missingFiles() {
            let absent = TemporaryDirectory().path + "/absent"
            #expect(loadError(absent) == "\(absent): no such file or directory")
            let empty = directory([:])
            #expect(loadError(empty.path) == "\(empty.path): no tokenizer.json, no vocab.json with merges.txt, and no vocab.txt")
            let vocabOnly = directory(["vocab.json": Array("{}".utf8)])
            #expect(loadError(vocabOnly.path) == "\(vocabOnly.path)/merges.txt: no such file or directory")
            let file = directory(["x": []])
            #expect(loadError(file.file("x")) == "\(file.file("x")): is not a directory")
        }

        @Test func malformedFiles() {
            let badLine = directory([
                "vocab.json": Array(#"{"<s>":0,"<pad>":1,"</s>":2,"a":3,"b":4,"ab":5}"#.utf8), "merges.txt": Array("#version: 0.2\na b c\n".utf8),
            ])
            #expect(loadError(badLine.path) == "\(badLine.path)/merges.txt: line 2: expected two tokens separated by one space, found \"a b c\"")
            let truncated = directory(["tokenizer.json": Array(#"{"model":"#.utf8)])
            #expect(loadError(truncated.path) == "\(truncated.path)/tokenizer.json: JSON ends early at byte 9")
            let prefixed = directory(["tokenizer.json": Self.tokenizerJSON(model: #""continuing_subword_prefix":"@@","#)])
        #expect(loadError(prefixed.path) == "\(prefixed.path)/tokenizer.json: /model/continuing_subword_prefix: "
            + "a non-empty continuing_subword_prefix (byte-level BPE has none) is not supported")
        let wordLevel = directory(["tokenizer.json": Self.tokenizerJSON(type: "WordLevel")])
            #expect(loadError(wordLevel.path) == "\(wordLevel.path)/tokenizer.json: /model/type: "
                + "model type \"WordLevel\" (lsrconv reads BPE, WordPiece and Unigram) is not supported")
            let noPad = directory(["tokenizer.json": Self.tokenizerJSON(vocab: #"{"<s>":0,"</s>":2,"a":3,"b":4,"ab":5}"#)])
            #expect(loadError(noPad.path) == "\(noPad.path)/tokenizer.json: "
                + "the padding token \"<pad>\" is neither an added token nor in the vocabulary")
        }
    }
}
