import Foundation
import LSRFormats
@testable import LSRTokenizers
import TestSupport
import Testing

/// References written by Fixtures/generate/tokenizers_reference.py with Hugging Face
/// `tokenizers` 0.23.3 (sentencepiece 0.2.3 for the Unigram models): the corpus is
/// Fixtures/tokenizer/reference.zip's reference.jsonl followed by this zip's extra.jsonl.
private enum Fixture {
    static let archivePath = TestPaths.fixture("tokenizers/reference.zip")

    static func member(_ name: String, archive path: String = archivePath) throws -> [UInt8] {
        let archive = try ZipArchive(path: path)
        return try archive.contents(of: archive.entry(name), limit: 64 << 20)
    }

    static func lines(_ name: String, archive path: String = archivePath) throws -> [JSONValue] {
        try member(name, archive: path).split(separator: UInt8(ascii: "\n")).map { try JSON.parse(Array($0)) }
    }

    /// Every corpus entry, parsed once.
    static let corpus = Result { () throws -> [(text: String, pair: String?)] in
        let shared = try lines("reference.jsonl", archive: TestPaths.fixture("tokenizer/reference.zip"))
        let extra = try lines("extra.jsonl")
        return (shared + extra).map { ($0["text"]?.stringValue ?? "", $0["pair"]?.stringValue) }
    }

    static func lengths() throws -> (single: [Int], pair: [Int]) {
        let manifest = try JSON.parse(member("manifest.json"))
        func list(_ key: String) -> [Int] { manifest[key]?.arrayValue?.compactMap(\.intValue) ?? [] }
        return (list("single_lengths"), list("pair_lengths"))
    }
}

/// Encodes every referenced entry untruncated and at every max_length, comparing ids, type ids
/// (from the family's layout: `pairTypeId` 1 gives BERT's 0…0 1…1, 0 XLM-R's all zeros) and the
/// sampled tokens exactly. Returns (strings, encodings compared, mismatches, first mismatch).
private func compare(_ tokenizer: Tokenizer, reference name: String, pairTypeId: Int32) throws -> (
    strings: Int, checked: Int, mismatches: Int, first: String?
) {
    let corpus = try Fixture.corpus.get()
    let lengths = try Fixture.lengths()
    let middle = tokenizer.specialTokenCount(pair: true) - 2
    var (checked, mismatches, first) = (0, 0, String?.none)
    func record(_ message: @autoclosure () -> String) {
        mismatches += 1
        if first == nil { first = message() }
    }
    func typeIds(count: Int, first: Int, pair: Bool) -> [Int32] {
        guard pair else { return [Int32](repeating: 0, count: count) }
        let head = 1 + first + (pairTypeId == 1 ? 1 : middle)
        return [Int32](repeating: 0, count: head) + [Int32](repeating: pairTypeId, count: count - head)
    }
    let lines = try Fixture.lines(name)
    for line in lines {
        let index = line["index"]?.intValue ?? -1
        let (text, pair) = corpus[index]
        let label = "entry \(index) \(String(reflecting: text))" + (pair.map { " pair \(String(reflecting: $0))" } ?? "")
        let ids = line["ids"]?.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? []
        let firstCount = line["first"]?.intValue ?? (ids.count - 2)
        let full = tokenizer.encode(text, pair: pair)
        checked += 1
        if full.ids != ids { record("\(label): expected \(ids), got \(full.ids) \(full.tokens)") }
        if full.typeIds != typeIds(count: ids.count, first: firstCount, pair: pair != nil) {
            record("\(label): type ids \(full.typeIds)")
        }
        if let tokens = line["tokens"]?.arrayValue?.compactMap(\.stringValue), tokens != full.tokens {
            record("\(label): expected tokens \(tokens), got \(full.tokens)")
        }
        var kept: [Int: [Int]] = [:]
        for (key, value) in line["trunc"]?.objectValue?.members ?? [] { kept[Int(key) ?? -1] = value.arrayValue?.compactMap(\.intValue) }
        for maxLength in pair == nil ? lengths.single : lengths.pair {
            var expected = ids
            if let k = kept[maxLength] {
                if pair == nil {
                    expected = Array(ids[..<(1 + k[0])]) + [ids[ids.count - 1]]
                } else {
                    let secondStart = 1 + firstCount + middle
                    expected = Array(ids[..<(1 + k[0])]) + ids[(1 + firstCount)..<secondStart] + ids[secondStart..<(secondStart + k[1])]
                        + [ids[ids.count - 1]]
                }
            }
            let truncated = tokenizer.encode(text, pair: pair, maxLength: maxLength)
            checked += 1
            if truncated.ids != expected { record("\(label) max_length \(maxLength): expected \(expected), got \(truncated.ids)") }
            let keptFirst = pair == nil ? 0 : (kept[maxLength]?[0] ?? firstCount)
            if pair != nil, truncated.typeIds != typeIds(count: expected.count, first: keptFirst, pair: true) {
                record("\(label) max_length \(maxLength): type ids \(truncated.typeIds)")
            }
        }
    }
    return (lines.count, checked, mismatches, first)
}

/// WordPiece (BERT) and Unigram (XLM-R) against tokenizers, the vocab.txt layout, the Unicode
/// classes BERT's components use, and load errors.
@Suite struct WordPieceUnigramTests {
    @Test func wordPieceMatchesTokenizers() throws {
        let tokenizer = try Tokenizer.load(directory: TestPaths.fixture("tokenizers/wordpiece"))
        let result = try compare(tokenizer, reference: "wordpiece.jsonl", pairTypeId: 1)
        print("wordpiece: \(result.strings) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
        #expect(result.strings >= 5000)
        #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
    }

    /// vocab.txt + tokenizer_config.json: the generator checked that transformers builds the
    /// same tokenizer from it, so the tokenizer.json reference holds.
    @Test func vocabTextMatchesTokenizers() throws {
        let tokenizer = try Tokenizer.load(directory: TestPaths.fixture("tokenizers/wordpiece-vocab"))
        let result = try compare(tokenizer, reference: "wordpiece.jsonl", pairTypeId: 1)
        print("wordpiece vocab.txt: \(result.strings) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
        #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
        #expect(tokenizer.modelMaxLength == 128)
        #expect(tokenizer.id(for: "[MASK]") == tokenizer.maskId && tokenizer.maskId != nil)
    }

    @Test func unigramMatchesTokenizers() throws {
        let tokenizer = try Tokenizer.load(directory: TestPaths.fixture("tokenizers/unigram"))
        let result = try compare(tokenizer, reference: "unigram.jsonl", pairTypeId: 0)
        print("unigram: \(result.strings) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
        #expect(result.strings >= 5000)
        #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
    }

    @Test func unigramByteFallbackMatchesTokenizers() throws {
        let directory = TemporaryDirectory()
        _ = directory.write(try Fixture.member("unigram-bytes/tokenizer.json"), to: "tokenizer.json")
        let tokenizer = try Tokenizer.load(directory: directory.path)
        let result = try compare(tokenizer, reference: "unigram-bytes.jsonl", pairTypeId: 0)
        print("unigram byte_fallback: \(result.strings) reference strings, \(result.checked) encodings, \(result.mismatches) mismatches")
        #expect(result.mismatches == 0, "\(result.mismatches) of \(result.checked) differ; first: \(result.first ?? "")")
    }

    /// Every scalar classed as tokenizers' BertNormalizer and BertPreTokenizer class it.
    @Test func bertUnicodeClassesMatchTokenizers() throws {
        let text = String(decoding: try Fixture.member("unicode-classes.txt"), as: UTF8.self)
        var checked = 0
        var differences: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            for value in UInt32(fields[0], radix: 16)!...UInt32(fields[1], radix: 16)! {
                guard let scalar = Unicode.Scalar(value) else { continue }
                checked += 1
                let got: Character =
                    if scalar.value == 0 || scalar.value == 0xFFFD || BertUnicode.isControl(scalar) { "C" }
                    else if BertUnicode.isWhitespace(scalar) && scalar != " " { "W" }
                    else if BertUnicode.isPunctuation(scalar) { "P" }
                    else if BertUnicode.isNonspacingMark(scalar) && String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual([scalar]) { "M" }
                    else { "O" }
                if got != fields[2].first!, differences.count < 10 {
                    differences.append("U+\(String(value, radix: 16, uppercase: true)): expected \(fields[2]), got \(got)")
                }
            }
        }
        #expect(checked == 0x110000 - 0x800)
        #expect(differences == [])
    }
}

extension WordPieceUnigramTests {
    /// Bad input: one message each, naming the culprit.
    @Suite struct LoadErrors {
        /// The TokenizerError inside the FileContextError `Tokenizer.load` throws for `files`.
        func loadError(_ files: [String: String]) -> String {
            let directory = TemporaryDirectory()
            for (name, text) in files { _ = directory.write(Array(text.utf8), to: name) }
            do {
                _ = try Tokenizer.load(directory: directory.path)
                return "loaded"
            } catch let error as FileContextError {
                return "\(error.underlying)"
            } catch {
                return "\(error)"
            }
        }

        @Test func wordLevelIsNamed() {
            #expect(
                loadError(["tokenizer.json": #"{"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}}"#])
                    == #"/model/type: model type "WordLevel" (lsrconv reads BPE, WordPiece and Unigram) is not supported"#)
        }

        @Test func bpeWithoutByteLevelIsNamed() {
            let json = #"{"pre_tokenizer": {"type": "WhitespaceSplit"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#
            #expect(
                loadError(["tokenizer.json": json])
                    == #"/model/type: model type "BPE" without a ByteLevel pre-tokenizer (lsrconv reads byte-level BPE) is not supported"#)
        }

        @Test func duplicateVocabTextTokenNamesBothLines() {
            #expect(loadError(["vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\r\n##s\nhello\n"]) == #"line 7: token "hello" is already on line 5"#)
        }

        @Test func sentencePieceModelAloneIsRefused() {
            #expect(
                loadError(["sentencepiece.bpe.model": "\u{0A}"])
                    == "sentencepiece.bpe.model without tokenizer.json: not supported yet; save the tokenizer with transformers to get tokenizer.json")
        }

        /// Precompiled charsmaps built from bytes: every refusal names its byte offset.
        @Test func malformedCharsmapsNameTheirOffset() {
            func charsmapError(_ bytes: [UInt8]) -> String {
                let json = #"{"normalizer": {"type": "Precompiled", "precompiled_charsmap": "\#(Data(bytes).base64EncodedString())"},"#
                    + #""pre_tokenizer": {"type": "Metaspace", "replacement": "▁"}, "model": {"type": "Unigram", "vocab": [["a", 0.0]]}}"#
                return loadError(["tokenizer.json": json])
            }
            let pointer = "/normalizer/precompiled_charsmap: precompiled_charsmap: "
            #expect(charsmapError([1, 0]) == pointer + "byte 0: 4 bytes needed, 2 present")
            #expect(charsmapError([6, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == pointer + "byte 0: trie size 6 is not a multiple of 4")
            #expect(charsmapError([8, 0, 0, 0, 0, 0, 0, 0]) == pointer + "byte 4: 8 bytes needed, 4 present")
            // Root offset 0; unit 0x61 labelled 'a' with a leaf, whose value unit lies beyond the array.
            var units = [UInt32](repeating: 0, count: 0x62)
            units[0x61] = 0x61 | 1 << 8 | 0x100 << 10
            let trie = units.flatMap { u in (0..<4).map { UInt8(truncatingIfNeeded: u >> (8 * $0)) } }
            let size = UInt32(trie.count)
            let header = (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) }
            #expect(charsmapError(header + trie + [0]) == pointer + "byte \(4 + 4 * 0x61): unit index \(0x61 ^ 0x100) is outside the 98 units")
            // The same leaf pointing at a value unit whose string offset is past the strings.
            units[0x61] = 0x61 | 1 << 8 | 0x01 << 10
            units[0x60] = 50
            let trie2 = units.flatMap { u in (0..<4).map { UInt8(truncatingIfNeeded: u >> (8 * $0)) } }
            #expect(charsmapError(header + trie2 + [0x62, 0]) == pointer + "byte \(4 + 4 * 0x60): string offset 50 is beyond the 2 bytes of strings")
            units[0x60] = 0
            let trie3 = units.flatMap { u in (0..<4).map { UInt8(truncatingIfNeeded: u >> (8 * $0)) } }
            // A valid map ('a' → "b"): the charsmap loads and the next check (no <pad>) speaks.
            #expect(charsmapError(header + trie3 + [0x62, 0]) == #"the padding token "<pad>" is neither an added token nor in the vocabulary"#)
        }
    }
}
