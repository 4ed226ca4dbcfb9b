/// A `pattern` / `patternProperties` regular expression.
///
/// JSON Schema patterns are ECMA-262 regular expressions, unanchored (Validation 2020-12
/// §6.3.3, Core §6.4). They run on Swift's `Regex` (the stdlib's string-processing engine,
/// whose syntax covers ECMA-262's classes, quantifiers, groups, lookarounds, backreferences
/// and `\p{…}` properties), configured to behave like ECMA-262 with the `u` flag:
/// - `\d` and `\w` are ASCII-only (ECMA-262 §22.2.2.9 CharacterClassEscape), not Unicode
///   digits and letters as Swift's default, and `\b` is the boundary between `\w` and not;
/// - matching walks Unicode scalars, not grapheme clusters, so `.` is one code point and
///   "^.$" does not match "e\u{301}".
/// Where the two syntaxes read the same text differently, `translate` rewrites the pattern
/// first (see there). What remains different: `.` also stops at U+0085 in Swift.
final class ECMARegex: @unchecked Sendable {
    // @unchecked: `Regex` is an immutable value whose only mutable state, the lowered program,
    // is published with an atomic compare-and-swap on first use
    // (swift-experimental-string-processing, Sources/_StringProcessing/Regex/Core.swift,
    // `Regex.Program.loweredProgram`), so concurrent matching is safe.
    private let regex: Regex<AnyRegexOutput>
    /// The pattern as the schema wrote it, for messages and keyword locations.
    let source: String

    /// Compiles `pattern`; the error text is the parser's.
    init(_ pattern: String) throws(ECMARegexError) {
        do {
            regex = try Regex(Self.translate(pattern))
                .matchingSemantics(.unicodeScalar)
                .asciiOnlyDigits()
                .asciiOnlyWordCharacters()
                .wordBoundaryKind(.simple)
        } catch {
            throw ECMARegexError(reason: String(describing: error))
        }
        source = pattern
    }

    /// Whether the pattern matches anywhere in `text` (patterns are not implicitly anchored).
    func matches(_ text: String) -> Bool {
        text.contains(regex)
    }

    /// ECMA-262 `\s` (§22.2.2.9: WhiteSpace and LineTerminator, §12.2–12.3), as class members.
    /// Swift's `\s` is Unicode White_Space instead: it adds U+0085 and lacks U+FEFF. Spelled
    /// one by one: Swift refuses the range U+2000–U+200A ("invalid bound").
    private static let whitespaceMembers =
        #"\t\n\u{B}\f\r \u{A0}\u{1680}\u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}"#
        + #"\u{2007}\u{2008}\u{2009}\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}"#

    /// Rewrites the ECMA-262 constructs that Swift's regex syntax reads differently:
    /// - `[]` (matches nothing) and `[^]` (matches anything): in Swift "]" right after "[" is
    ///   a literal member;
    /// - "[", "&" and "~" inside a class are literal in ECMA-262 but start a nested class or a
    ///   set operation ("&&", "~~") in Swift;
    /// - `\s` / `\S` get ECMA-262's whitespace set (see `whitespaceMembers`);
    /// - `\cX` (control character X mod 32) is not supported by Swift;
    /// - a "{" or "}" that does not form a quantifier (nor belong to `\p{…}` or `\u{…}`) `{n}`, `{n,}`, `{n,m}` is a literal in
    ///   ECMA-262 (Annex B), whereas Swift also reads `{,m}` as a quantifier.
    static func translate(_ pattern: String) -> String {
        let scalars = Array(pattern.unicodeScalars)
        var out = ""
        var inClass = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\\", index + 1 < scalars.count {
                let next = scalars[index + 1]
                index += 2
                switch next {
                case "s": out += inClass ? whitespaceMembers : "[" + whitespaceMembers + "]"
                case "S": out += "[^" + whitespaceMembers + "]"
                case "c" where index < scalars.count && isASCIILetter(scalars[index]):
                    out += "\\u{" + String(scalars[index].value % 32, radix: 16) + "}"
                    index += 1
                default:
                    out += "\\"
                    out.unicodeScalars.append(next)
                    // `\p{…}`, `\P{…}`, `\u{…}`: the braces belong to the escape, not a quantifier.
                    if "pPu".unicodeScalars.contains(next), index < scalars.count, scalars[index] == "{",
                        let close = scalars[index...].firstIndex(of: "}")
                    {
                        out += String(String.UnicodeScalarView(scalars[index...close]))
                        index = close + 1
                    }
                }
                continue
            }
            index += 1
            if inClass {
                switch scalar {
                case "]":
                    inClass = false
                    out += "]"
                case "[", "&", "~":
                    out += "\\"
                    out.unicodeScalars.append(scalar)
                default: out.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "[":
                if index < scalars.count, scalars[index] == "]" {
                    out += "(?!)"
                    index += 1
                } else if index + 1 < scalars.count, scalars[index] == "^", scalars[index + 1] == "]" {
                    out += #"[\u{0}-\u{10FFFF}]"#
                    index += 2
                } else {
                    inClass = true
                    out += "["
                    if index < scalars.count, scalars[index] == "^" {
                        out += "^"
                        index += 1
                    }
                }
            case "{":
                if let end = quantifierEnd(scalars, from: index) {
                    out += "{" + String(String.UnicodeScalarView(scalars[index...end]))
                    index = end + 1
                } else {
                    out += "\\{"
                }
            case "}":
                out += "\\}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The index of the "}" closing a quantifier whose "{" came just before `start`: digits,
    /// optionally "," and more digits; nil when the text there is not a quantifier.
    private static func quantifierEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start
        var leadingDigits = 0
        while index < scalars.count, isASCIIDigit(scalars[index]) {
            index += 1
            leadingDigits += 1
        }
        guard leadingDigits > 0, index < scalars.count else { return nil }
        if scalars[index] == "," {
            index += 1
            while index < scalars.count, isASCIIDigit(scalars[index]) { index += 1 }
        }
        return index < scalars.count && scalars[index] == "}" ? index : nil
    }

    private static func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }
    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }
}

/// Why a pattern did not compile.
struct ECMARegexError: Error {
    let reason: String
}
