/// Deterministic JSON text from a `JSONValue`: members in stored order, integers exact,
/// doubles in their shortest round-trip form (as Python's `repr`), non-ASCII kept as UTF-8.
extension JSON {
    public enum Style: Sendable {
        /// No whitespace at all: `{"a":1,"b":[1,2]}` (serde_json's `to_string`, as safetensors).
        case compact
        /// Two-space indentation, `": "` and one member per line (Python's `json.dumps(indent=2)`).
        case pretty
    }

    public static func serialize(_ value: JSONValue, style: Style = .compact) -> String {
        var out = ""
        write(value, style: style, indent: 0, into: &out)
        return out
    }

    /// The UTF-8 bytes of `serialize`, with a final newline in pretty style (as editors expect).
    public static func data(_ value: JSONValue, style: Style = .pretty) -> [UInt8] {
        var text = serialize(value, style: style)
        if style == .pretty { text += "\n" }
        return Array(text.utf8)
    }

    private static func write(_ value: JSONValue, style: Style, indent: Int, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d): out += formatDouble(d)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (n, item) in items.enumerated() {
                if n > 0 { out += "," }
                newline(style, indent + 1, &out)
                write(item, style: style, indent: indent + 1, into: &out)
            }
            newline(style, indent, &out)
            out += "]"
        case .object(let object):
            if object.members.isEmpty { out += "{}"; return }
            out += "{"
            for (n, member) in object.members.enumerated() {
                if n > 0 { out += "," }
                newline(style, indent + 1, &out)
                writeString(member.key, into: &out)
                out += style == .pretty ? ": " : ":"
                write(member.value, style: style, indent: indent + 1, into: &out)
            }
            newline(style, indent, &out)
            out += "}"
        }
    }

    private static func newline(_ style: Style, _ indent: Int, _ out: inout String) {
        guard style == .pretty else { return }
        out += "\n"
        out += String(repeating: " ", count: 2 * indent)
    }

    /// Shortest round-trip form ("0.1", "1e-05", "1.0"); JSON has no NaN or infinity, so a
    /// non-finite value is written as null rather than as text no parser accepts.
    static func formatDouble(_ d: Double) -> String {
        d.isFinite ? "\(d)" : "null"
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
