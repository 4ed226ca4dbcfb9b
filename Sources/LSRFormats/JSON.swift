import CJSONC

/// Why a JSON text was refused. `offset` is the byte offset within the text.
public enum JSONError: Error, Equatable, Sendable {
    /// json-c rejected the text (its description, e.g. "unexpected character").
    case syntax(offset: Int, description: String)
    /// The text ended inside a value.
    case truncated(offset: Int)
    /// Non-whitespace bytes after the top-level value.
    case trailingCharacters(offset: Int)
    /// Nesting deeper than `JSON.maxDepth`.
    case tooDeep(offset: Int)
    /// The same key twice in one object (json-c would silently keep the last one).
    case duplicateKey(String, offset: Int)
    /// An integer literal outside −2⁶³…2⁶⁴−1 (json-c would clamp it).
    case integerOutOfRange(String, offset: Int)
    /// NaN, Infinity or a number that overflows a double: not JSON.
    case nonFiniteNumber(offset: Int)
    /// The text is not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// The text is longer than the caller allows.
    case tooLarge(bytes: Int, limit: Int)
}

extension JSONError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .syntax(let o, let d): "invalid JSON at byte \(o): \(d)"
        case .truncated(let o): "JSON ends early at byte \(o)"
        case .trailingCharacters(let o): "unexpected data after the JSON value at byte \(o)"
        case .tooDeep(let o): "JSON nested deeper than \(JSON.maxDepth) levels at byte \(o)"
        case .duplicateKey(let k, let o): "duplicate key \"\(k)\" at byte \(o)"
        case .integerOutOfRange(let s, let o): "integer \(s) at byte \(o) does not fit in 64 bits"
        case .nonFiniteNumber(let o): "non-finite number at byte \(o)"
        case .invalidUTF8(let o): "invalid UTF-8 at byte \(o)"
        case .tooLarge(let b, let l): "JSON text of \(b) bytes exceeds the limit of \(l) bytes"
        }
    }
}

extension JSONError {
    /// The same error with its byte offset moved by `delta`: a line's error located in its file.
    public func shifted(by delta: Int) -> JSONError {
        switch self {
        case .syntax(let o, let d): .syntax(offset: o + delta, description: d)
        case .truncated(let o): .truncated(offset: o + delta)
        case .trailingCharacters(let o): .trailingCharacters(offset: o + delta)
        case .tooDeep(let o): .tooDeep(offset: o + delta)
        case .duplicateKey(let k, let o): .duplicateKey(k, offset: o + delta)
        case .integerOutOfRange(let s, let o): .integerOutOfRange(s, offset: o + delta)
        case .nonFiniteNumber(let o): .nonFiniteNumber(offset: o + delta)
        case .invalidUTF8(let o): .invalidUTF8(offset: o + delta)
        case .tooLarge: self
        }
    }
}

/// JSON parsing (json-c, strict mode, UTF-8 validated) and deterministic writing.
public enum JSON {
    /// Deepest nesting accepted. Real files nest a handful of levels; a bound keeps hostile
    /// input from exhausting the stack of any recursive consumer.
    public static let maxDepth = 64

    /// Parses one JSON text. Rejects duplicate keys, integers beyond 64 bits, NaN/Infinity,
    /// trailing data and nesting beyond `maxDepth`, so every reader of the same bytes agrees.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        if let bad = firstInvalidUTF8(bytes) { throw .invalidUTF8(offset: bad) }
        // json-c needs a NUL after a top-level number to know it ended; give it one.
        var text = [UInt8](bytes)
        text.append(0)
        let length = bytes.count
        guard let tokener = json_tokener_new_ex(Int32(maxDepth)) else {
            throw .syntax(offset: 0, description: "out of memory")
        }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
        let parsed = text.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { json_tokener_parse_ex(tokener, $0.baseAddress, Int32(length + 1)) }
        }
        let end = Int(json_tokener_get_parse_end(tokener))
        // json-c returns JSON's null as a NULL object, as it does on failure: only the
        // tokener's error tells a document `null` from a text it refused.
        let error = json_tokener_get_error(tokener)
        if parsed == nil, error != json_tokener_success {
            switch error {
            case json_tokener_continue:
                throw .truncated(offset: length)
            case json_tokener_error_depth:
                throw .tooDeep(offset: end)
            default:
                // Running into the NUL we appended means the text ended inside a value.
                if end >= length { throw .truncated(offset: length) }
                // Strict json-c refuses bytes after a complete top-level value as "unexpected
                // character": when the text up to there parses, that is trailing data.
                if end > 0, (try? parse(Array(text[0..<end]))) != nil { throw .trailingCharacters(offset: end) }
                let description = String(cString: json_tokener_error_desc(error))
                throw .syntax(offset: end, description: description)
            }
        }
        defer { if let parsed { json_object_put(parsed) } }
        var rest = end
        while rest < length, isJSONWhitespace(text[rest]) { rest += 1 }
        if rest < length || (end > length && text[length - 1] != 0) {
            throw .trailingCharacters(offset: min(rest, length))
        }
        // json-c keeps the last duplicate key and clamps big integers: check the text for both.
        let scan = text.withUnsafeBytes { raw in
            Result { () throws(JSONError) in try LiteralScanner(text: UnsafeRawBufferPointer(rebasing: raw[0..<length])).scan() }
        }
        try scan.get()
        return try convert(parsed)
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBytes { raw in Result { () throws(JSONError) in try parse(raw) } }.get()
    }

    public static func parse(_ string: String) throws(JSONError) -> JSONValue { try parse(Array(string.utf8)) }

    /// Parses JSON Lines (jsonlines.org): one JSON text per line, lines split at "\n" with a
    /// "\r" before it dropped; lines of only whitespace are skipped. Each document comes with its
    /// 1-based line, and each error with its offset from the start of `bytes`, so one bad line
    /// does not hide the others.
    public static func parseLines(_ bytes: UnsafeRawBufferPointer) -> [(line: Int, value: Result<JSONValue, JSONError>)] {
        var documents: [(line: Int, value: Result<JSONValue, JSONError>)] = []
        var start = 0
        var line = 0
        while start < bytes.count {
            line += 1
            var end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let next = end + 1
            if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let text = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            if !text.allSatisfy(isJSONWhitespace) {
                let offset = start
                documents.append((line, Result { () throws(JSONError) in try parse(text) }.mapError { $0.shifted(by: offset) }))
            }
            start = next
        }
        return documents
    }

    private static func convert(_ object: OpaquePointer?) throws(JSONError) -> JSONValue {
        guard let object else { return .null }
        switch json_object_get_type(object) {
        case json_type_null: return .null
        case json_type_boolean: return .bool(json_object_get_boolean(object) != 0)
        case json_type_int:
            // json-c keeps non-negative literals above Int64.max as UInt64.
            let signed = json_object_get_int64(object)
            if signed == Int64.max {
                let unsigned = json_object_get_uint64(object)
                return unsigned > UInt64(Int64.max) ? .uint(unsigned) : .int(signed)
            }
            return .int(signed)
        case json_type_double:
            let value = json_object_get_double(object)
            guard value.isFinite else { throw .nonFiniteNumber(offset: 0) }
            return .double(value)
        case json_type_string:
            let length = Int(json_object_get_string_len(object))
            let pointer = UnsafeRawPointer(json_object_get_string(object)!)
            return .string(String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self))
        case json_type_array:
            let count = json_object_array_length(object)
            var items: [JSONValue] = []
            items.reserveCapacity(count)
            for i in 0..<count { items.append(try convert(json_object_array_get_idx(object, i))) }
            return .array(items)
        case json_type_object:
            var members: [(String, JSONValue)] = []
            var iterator = json_object_iter_begin(object)
            var end = json_object_iter_end(object)
            while json_object_iter_equal(&iterator, &end) == 0 {
                let key = String(cString: json_object_iter_peek_name(&iterator))
                members.append((key, try convert(json_object_iter_peek_value(&iterator))))
                json_object_iter_next(&iterator)
            }
            return .object(JSONObject(members))
        default:
            return .null
        }
    }

    static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Offset of the first byte that breaks UTF-8, or nil when the bytes are valid UTF-8.
    static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}

/// A second look at a text json-c accepted, for what json-c does not report: duplicate keys
/// (it keeps the last), integers beyond 64 bits (it clamps) and NaN/Infinity (accepted even
/// in strict mode). The text is known to be valid JSON here, so the scan only has to find
/// string boundaries, object nesting and number literals. Keys with escapes are decoded by
/// json-c itself so both views of a key agree.
private struct LiteralScanner {
    let text: UnsafeRawBufferPointer

    func scan() throws(JSONError) {
        var keysPerObject: [Set<ExactKey>] = []
        var containers: [UInt8] = []
        var i = 0
        let n = text.count
        while i < n {
            let c = text[i]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                containers.append(c)
                if c == UInt8(ascii: "{") { keysPerObject.append([]) }
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if containers.popLast() == UInt8(ascii: "{") { keysPerObject.removeLast() }
                i += 1
            case UInt8(ascii: "\""):
                let start = i
                var hasEscape = false
                i += 1
                while i < n, text[i] != UInt8(ascii: "\"") {
                    if text[i] == UInt8(ascii: "\\") { hasEscape = true; i += 1 }
                    i += 1
                }
                i += 1
                var j = i
                while j < n, JSON.isJSONWhitespace(text[j]) { j += 1 }
                let isKey = containers.last == UInt8(ascii: "{") && j < n && text[j] == UInt8(ascii: ":")
                if isKey {
                    let raw = UnsafeRawBufferPointer(rebasing: text[start..<min(i, n)])
                    let key = hasEscape ? decodeEscaped(raw) : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    if !keysPerObject[keysPerObject.count - 1].insert(ExactKey(key)).inserted {
                        throw .duplicateKey(key, offset: start)
                    }
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "N"), UInt8(ascii: "I"):
                let start = i
                var isInteger = true
                while i < n, !isDelimiter(text[i]) {
                    if text[i] == UInt8(ascii: ".") || text[i] | 0x20 == UInt8(ascii: "e") { isInteger = false }
                    i += 1
                }
                let literal = String(decoding: UnsafeRawBufferPointer(rebasing: text[start..<i]), as: UTF8.self)
                if literal.contains("N") || literal.contains("I") { throw .nonFiniteNumber(offset: start) }
                if isInteger, Int64(literal) == nil, UInt64(literal) == nil {
                    throw .integerOutOfRange(literal, offset: start)
                }
                if !isInteger, let value = Double(literal), !value.isFinite {
                    throw .nonFiniteNumber(offset: start)
                }
            case UInt8(ascii: "'"):
                // json-c accepts single-quoted strings even in strict mode; JSON does not.
                throw .syntax(offset: i, description: "single-quoted string")
            default:
                i += 1
            }
        }
    }

    private func isDelimiter(_ c: UInt8) -> Bool {
        c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") || JSON.isJSONWhitespace(c)
    }

    private func decodeEscaped(_ quoted: UnsafeRawBufferPointer) -> String {
        if case .string(let s)? = try? JSON.parse([UInt8](quoted)) { return s }
        return String(decoding: quoted, as: UTF8.self)
    }
}
