import Foundation

/// The normalizers of Hugging Face `tokenizers` that BERT- and XLM-R-family tokenizer.json files
/// use (tokenizers/src/normalizers/{bert,precompiled,replace,strip,unicode,utils}.rs). Offsets are
/// not tracked: lsrconv needs only the normalized text.
indirect enum Normalizer: Sendable {
    case bert(BertNormalizer)
    case precompiled(PrecompiledCharsmap)
    case sequence([Normalizer])
    /// Every non-overlapping match, left to right, replaced by `content`.
    case replace(ReplacePattern, content: String)
    /// Leading and/or trailing whitespace (`char::is_whitespace`) removed.
    case strip(left: Bool, right: Bool)
    /// Each scalar by its full lowercase mapping, without context (`char::to_lowercase`).
    case lowercase
    case nfc, nfd, nfkc, nfkd
    /// `content` before a non-empty text.
    case prepend(String)

    func normalize(_ text: String) -> String {
        switch self {
        case .bert(let bert): return bert.normalize(text)
        case .precompiled(let charsmap): return charsmap.normalize(text)
        case .sequence(let members): return members.reduce(text) { $1.normalize($0) }
        case .replace(let pattern, let content): return pattern.replaceAll(in: text, with: content)
        case .strip(let left, let right):
            var scalars = Array(text.unicodeScalars)
            if right { while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() } }
            if left, let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) {
                scalars.removeFirst(start)
            } else if left {
                scalars.removeAll()
            }
            return String(String.UnicodeScalarView(scalars))
        case .lowercase: return BertNormalizer.lowercased(text)
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .prepend(let content): return text.isEmpty ? text : content + text
        }
    }
}

/// What a Replace normalizer looks for: a literal, or the one regex shape tokenizer.json files
/// of this family use, a literal repeated at least n times (`" {2,}"`, transformers'
/// SpmConverter). Matching is by Unicode scalars, leftmost first, greedy, non-overlapping.
struct ReplacePattern: Sendable, Equatable {
    var literal: [Unicode.Scalar]
    /// nil: the literal once; n: the literal repeated n or more times.
    var minimumRepeats: Int?

    /// Parses `X{n,}` where X is one literal scalar (or `\` and one); nil for anything else.
    static func regex(_ source: String) -> ReplacePattern? {
        var scalars = Array(source.unicodeScalars)
        guard scalars.count >= 5, scalars.last == "}", let open = scalars.firstIndex(of: "{") else { return nil }
        var unit = Array(scalars[..<open])
        if unit.count == 2, unit[0] == "\\", !unit[1].properties.isAlphabetic, !("0"..."9").contains(unit[1]) { unit.removeFirst() }
        guard unit.count == 1, !"\\.^$|?*+()[]{}".unicodeScalars.contains(unit[0]) else { return nil }
        scalars = Array(scalars[(open + 1)..<(scalars.count - 1)])
        guard scalars.last == ",", scalars.count >= 2 else { return nil }
        let digits = String(String.UnicodeScalarView(scalars.dropLast()))
        guard digits.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }), let n = Int(digits), n >= 1, n <= 1 << 16 else { return nil }
        return ReplacePattern(literal: unit, minimumRepeats: n)
    }

    func replaceAll(in text: String, with content: String) -> String {
        guard !literal.isEmpty else { return text }
        let scalars = Array(text.unicodeScalars)
        let replacement = Array(content.unicodeScalars)
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var i = 0
        while i < scalars.count {
            if let minimumRepeats {
                var end = i
                while end < scalars.count, scalars[end] == literal[0] { end += 1 }
                if end - i >= minimumRepeats {
                    result += replacement
                    i = end
                } else {
                    result.append(scalars[i])
                    i += 1
                }
            } else if scalars.count - i >= literal.count, scalars[i..<(i + literal.count)].elementsEqual(literal) {
                result += replacement
                i += literal.count
            } else {
                result.append(scalars[i])
                i += 1
            }
        }
        return String(String.UnicodeScalarView(result))
    }
}

/// BertNormalizer (tokenizers/src/normalizers/bert.rs): clean_text, handle_chinese_chars,
/// strip_accents (null: as lowercase), lowercase, applied in that order.
struct BertNormalizer: Sendable, Equatable {
    var cleanText = true
    var handleChineseChars = true
    var stripAccents: Bool?
    var lowercase = true

    func normalize(_ text: String) -> String {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if cleanText {
                // NUL, U+FFFD and "control" (Cc, Cf, Co) removed; whitespace becomes one space.
                if scalar.value == 0 || scalar.value == 0xFFFD || BertUnicode.isControl(scalar) { continue }
                if BertUnicode.isWhitespace(scalar) {
                    scalars.append(" ")
                    continue
                }
            }
            if handleChineseChars && BertUnicode.isChinese(scalar) {
                scalars += [" ", scalar, " "]
            } else {
                scalars.append(scalar)
            }
        }
        var result = String(String.UnicodeScalarView(scalars))
        if stripAccents ?? lowercase {
            // NFD, then the nonspacing marks (Mn) out.
            result = String(
                String.UnicodeScalarView(result.decomposedStringWithCanonicalMapping.unicodeScalars.filter { !BertUnicode.isNonspacingMark($0) }))
        }
        if lowercase { result = Self.lowercased(result) }
        return result
    }

    /// NormalizedString::lowercase: each scalar by its full lowercase mapping, no context (Σ → σ
    /// everywhere, unlike String.lowercased()).
    static func lowercased(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                result.unicodeScalars.append(("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar)
            } else {
                result += scalar.properties.lowercaseMapping
            }
        }
        return result
    }
}

/// The character classes BERT's normalizer and pre-tokenizer use. `tokenizers` takes general
/// categories from the `unicode_categories` crate 0.1, whose tables are Unicode 8.0: a scalar
/// assigned later has no category there (so a newer format character is not removed, a newer
/// punctuation mark not isolated), and a few scalars have since changed category. Whitespace
/// is Rust's `char::is_whitespace` (current White_Space). The fixture's unicode-classes.txt,
/// probed from tokenizers itself, checks every scalar (LSRTokenizersTests).
enum BertUnicode {
    /// The general category of `scalar` as Unicode 8.0 gave it; nil when unassigned then.
    static func unicode8Category(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory? {
        guard let age = scalar.properties.age, age.major < 8 || (age.major == 8 && age.minor == 0) else { return nil }
        switch scalar.value {
        case 0x166D, 0x111C9: return .otherPunctuation  // So and Mn since Unicode 12 and 11
        case 0x1734, 0x1171E: return .nonspacingMark  // Mc since Unicode 14
        case 0x1885, 0x1886: return .otherLetter  // Mn since Unicode 9
        case 0xA9BD: return .spacingMark  // Mn since Unicode 12
        default: return scalar.properties.generalCategory
        }
    }

    /// bert.rs `is_control`: Cc, Cf or Co (`is_other`), except tab, newline and return.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        switch unicode8Category(scalar) {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    /// bert.rs `is_whitespace`: tab, newline, return, or White_Space.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.isWhitespace
    }

    /// bert.rs `is_chinese_char`: the CJK ideograph blocks BERT spaces out.
    static func isChinese(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F, 0x2B920...0x2CEAF,
            0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }

    /// pre_tokenizers/bert.rs `is_bert_punc`: ASCII punctuation, or a P* category.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v)
        }
        switch unicode8Category(scalar) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// `is_mark_nonspacing` (Mn), for strip_accents.
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool { unicode8Category(scalar) == .nonspacingMark }
}
