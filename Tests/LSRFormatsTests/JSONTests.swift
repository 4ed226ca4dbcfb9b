import LSRFormats
import Testing

/// The json-c wrapper: strict parsing, the checks json-c lacks, and the deterministic writer.
@Suite struct JSONTests {
    @Test func parsesValues() throws {
        let value = try JSON.parse(#" {"a": [1, -2, 3.5, true, null, "x\u00e9\n"], "b": {"c": 18446744073709551615}} "#)
        #expect(value == ["a": [1, -2, 3.5, true, nil, "xé\n"], "b": ["c": .uint(UInt64.max)]])
        #expect(try JSON.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSON.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse(#""a\u0000b""#) == .string("a\u{0}b"))
        // Member order is kept.
        #expect(try JSON.parse(#"{"z":1,"a":2}"#).objectValue?.keys == ["z", "a"])
    }

    @Test func rejectsWhatJSONCWouldAccept() {
        #expect(throws: JSONError.duplicateKey("a", offset: 7)) { try JSON.parse(#"{"a":1,"a":2}"#) }
        // The same key spelled with an escape is still the same key.
        #expect(throws: JSONError.duplicateKey("a", offset: 7)) { try JSON.parse(#"{"a":1,"\u0061":2}"#) }
        #expect(throws: JSONError.syntax(offset: 1, description: "single-quoted string")) { try JSON.parse("{'a':1}") }
        // Keys may repeat in different objects.
        #expect((try? JSON.parse(#"{"a":{"a":1},"b":{"a":2}}"#)) != nil)
        #expect(throws: JSONError.integerOutOfRange("18446744073709551616", offset: 1)) { try JSON.parse("[18446744073709551616]") }
        #expect(throws: JSONError.integerOutOfRange("-9223372036854775809", offset: 0)) { try JSON.parse("-9223372036854775809") }
        #expect(throws: JSONError.nonFiniteNumber(offset: 1)) { try JSON.parse("[NaN]") }
        #expect(throws: JSONError.nonFiniteNumber(offset: 1)) { try JSON.parse("[1e400]") }
        #expect(throws: JSONError.trailingCharacters(offset: 8)) { try JSON.parse(#"{"a":1} x"#) }
        #expect(throws: JSONError.truncated(offset: 5)) { try JSON.parse("[1,2,") }
        #expect(throws: JSONError.invalidUTF8(offset: 2)) { try JSON.parse([UInt8(ascii: "\""), 0x61, 0xC3, 0x28, UInt8(ascii: "\"")]) }
    }

    /// Every JSON value is a JSON text (RFC 8259 §2), `null` too, which json-c returns as a
    /// NULL object just as it returns a failure.
    @Test func everyValueIsADocument() throws {
        #expect(try JSON.parse("null") == .null)
        #expect(try JSON.parse(" \tnull \r\n") == .null)
        #expect(try JSON.parse("true") == .bool(true))
        #expect(try JSON.parse("false\n") == .bool(false))
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse("-1.5e3") == .double(-1500))
        #expect(try JSON.parse(#""x""#) == .string("x"))
        #expect(try JSON.parse("[]") == .array([]))
        #expect(try JSON.parse("{}") == .object([:]))
        #expect(try JSON.parse("[null]") == .array([.null]))
    }

    /// A text cut inside a value, top-level literals included, is reported where it ends;
    /// bytes after a complete `null` are trailing data, as after any other value.
    @Test func truncatedTextsGiveTheirLength() {
        for text in ["nul", "n", "tru", "fals", "-", #""ab"#, "[1", "[null", #"{"a":"#, #"{"a":null"#, " "] {
            #expect(throws: JSONError.truncated(offset: text.utf8.count), "\(text)") { try JSON.parse(text) }
        }
        #expect(throws: JSONError.trailingCharacters(offset: 5)) { try JSON.parse("null x") }
        #expect(throws: JSONError.trailingCharacters(offset: 5)) { try JSON.parse("null null") }
    }

    /// JSON Lines: one document per line (LF or CRLF), blank lines skipped but counted, and
    /// each error at its byte in the whole text.
    @Test func linesAreDocumentsWithTheirLineAndFileOffsets() throws {
        let text = Array("{\"a\":1}\r\n\n  \nnull\n[1,\n{\"b\":2,\"b\":3}".utf8)
        let documents = text.withUnsafeBytes { JSON.parseLines($0) }
        #expect(documents.map(\.line) == [1, 4, 5, 6])
        #expect(try documents[0].value.get() == ["a": 1])
        #expect(try documents[1].value.get() == .null)
        #expect(throws: JSONError.truncated(offset: 21)) { try documents[2].value.get() }
        #expect(throws: JSONError.duplicateKey("b", offset: 29)) { try documents[3].value.get() }
        #expect(Array("".utf8).withUnsafeBytes { JSON.parseLines($0) }.isEmpty)
        #expect(JSONError.tooLarge(bytes: 9, limit: 8).shifted(by: 5) == .tooLarge(bytes: 9, limit: 8))
    }

    @Test func depthIsBounded() {
        let deep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
        let ok = String(repeating: "[", count: JSON.maxDepth - 1) + String(repeating: "]", count: JSON.maxDepth - 1)
        #expect((try? JSON.parse(ok)) != nil)
        // A hostile nesting far beyond the limit fails fast, without recursion in our code.
        let bomb = String(repeating: "[", count: 1_000_000)
        #expect(throws: JSONError.self) { try JSON.parse(bomb) }
    }

    @Test func syntaxErrors() {
        for text in ["", "{", "{\"a\" 1}", "[1,]", "{'a':1}", "01", "[1 2]", "tru", "\"\\x\""] {
            #expect(throws: JSONError.self, "\(text)") { try JSON.parse(text) }
        }
    }

    @Test func writerIsDeterministicAndRoundTrips() throws {
        let value: JSONValue = ["b": [1, 2.5, "t\"\\\n\u{1}é"], "a": ["x": nil, "y": false], "e": [], "o": [:], "big": .uint(UInt64.max), "f": 1e-05]
        let compact = JSON.serialize(value)
        #expect(compact == #"{"b":[1,2.5,"t\"\\\n\u0001é"],"a":{"x":null,"y":false},"e":[],"o":{},"big":18446744073709551615,"f":1e-05}"#)
        #expect(try JSON.parse(compact) == value)
        let pretty = JSON.serialize(["a": [1, 2], "b": ["c": "d"]], style: .pretty)
        #expect(pretty == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {\n    \"c\": \"d\"\n  }\n}")
    }

    /// Keys are exact UTF-8: canonically equivalent spellings are two keys, not a duplicate.
    @Test func keysAreExactUTF8() throws {
        let json = try JSON.parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}")
        #expect(json.objectValue?.count == 2)
        #expect(json["\u{E9}"] == 1 && json["e\u{301}"] == 2)
        #expect(throws: JSONError.duplicateKey("\u{E9}", offset: 10)) { try JSON.parse("{\"\u{E9}\": 1, \"\u{E9}\": 2}") }
    }

    /// A vocabulary-sized object (roberta-base: 50,265 keys, most not ASCII) parses and every key
    /// is found. (Before the key index this was quadratic: 37 s in a release build; the suite's
    /// time limit in `make test` is what would catch a regression, not an assertion here.)
    @Test func largeObjectsAreLinear() throws {
        var text = "{"
        for i in 0..<50_265 { text += (i == 0 ? "" : ",") + "\"Ġtok\u{E9}n\(i)\": \(i)" }
        text += "}"
        let json = try JSON.parse(text)
        let object = try #require(json.objectValue)
        var sum = 0
        for (key, _) in object.members { sum += object[key]?.intValue ?? 0 }
        #expect(sum == 50_265 * 50_264 / 2)
    }
}
