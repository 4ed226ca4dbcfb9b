/// GPT-2's byte-level pre-tokenizer, as `tokenizers` 0.23 implements it
/// (tokenizers/src/pre_tokenizers/byte_level.rs): split text with the GPT-2 regex
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// then spell every byte of each piece as one printable character (`bytes_char`), which is the
/// alphabet the BPE vocabulary is written in.
///
/// The regex is matched by hand over Unicode scalars. `tokenizers` runs it with Oniguruma, whose
/// `\s` is U+0009–U+000D, U+0085 and the Z* categories (= Unicode White_Space), `\p{L}` the
/// L* categories and `\p{N}` Nd, Nl and No. The test suite checks these classes against the
/// ones `tokenizers` itself assigns, for every scalar (Fixtures/tokenizer/reference.zip,
/// scalar-classes.txt).
enum ByteLevel {
    /// How the regex sees one scalar.
    enum ScalarClass: UInt8, Sendable {
        case letter, number, whitespace, other
    }

    /// `bytes_char()`: printable bytes stand for themselves; the 68 others (controls, space,
    /// DEL, U+00A0, U+00AD) are moved, in byte order, to U+0100 upward. So " " is "Ġ" (U+0120)
    /// and "\n" is "Ċ" (U+010A).
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a byte-level scalar stands for, or nil for a scalar outside the alphabet.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? { scalarToByte[scalar.value] }

    private static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (byte, scalar) in byteToScalar.enumerated() { map[scalar.value] = UInt8(byte) }
        return map
    }()

    /// The byte-level spelling of raw bytes: the form vocabulary entries are written in.
    static func spell(_ bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(byteToScalar[Int(byte)]) }
        return String(text)
    }

    /// The raw bytes behind a byte-level spelling, or nil when a scalar is outside the alphabet.
    static func unspell(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for scalar in token.unicodeScalars {
            guard let byte = byte(for: scalar) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    // MARK: - Scalar classes

    private static let asciiClasses: [ScalarClass] = (0..<128).map { classify(slow: Unicode.Scalar(UInt8($0))) }

    static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        scalar.value < 128 ? asciiClasses[Int(scalar.value)] : classify(slow: scalar)
    }

    /// The Unicode version of the regex engines inside tokenizers 0.23.3, as measured over
    /// every scalar (scalar-classes.txt): scalars assigned later are unassigned, so "other", to
    /// them. Swift 6.3 knows Unicode 17.0; the 4,657 letters and numbers 17.0 added are the only
    /// scalars whose class Swift and Oniguruma disagree on.
    static let regexUnicodeVersion = (major: 16, minor: 0)

    /// Whether tokenizers' regex engines know `scalar` (assigned by `regexUnicodeVersion`).
    static func isKnownToRegex(_ properties: Unicode.Scalar.Properties) -> Bool {
        guard let age = properties.age else { return false }
        return (age.major, age.minor) <= regexUnicodeVersion
    }

    private static func classify(slow scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        // Oniguruma's \s (ONIGENC_CTYPE_SPACE): 0009–000D, 0085 and Zs/Zl/Zp, which is White_Space.
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return isKnownToRegex(properties) ? .letter : .other
        case .decimalNumber, .letterNumber, .otherNumber:
            return isKnownToRegex(properties) ? .number : .other
        default:
            return .other
        }
    }

    // MARK: - The GPT-2 split

    /// Reusable buffers for `split`, so encoding a batch does not allocate per piece.
    struct Scratch {
        var classes: [ScalarClass] = []
        /// Byte offset of every scalar, plus one past the last.
        var offsets: [Int] = []
    }

    /// Appends to `pieces` the byte ranges (within `text`) of the GPT-2 regex matches over
    /// `text[range]`. The regex matches every scalar, so the ranges tile `range` exactly.
    static func split(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, scratch: inout Scratch, into pieces: inout [Range<Int>]) {
        decode(text, range, scratch: &scratch)
        let classes = scratch.classes
        let offsets = scratch.offsets
        let count = classes.count
        var i = 0
        while i < count {
            let end = matchEnd(text, classes: classes, offsets: offsets, at: i)
            pieces.append(offsets[i]..<offsets[end])
            i = end
        }
    }

    /// The scalar index one past the regex match that starts at scalar `i`, trying the
    /// alternatives in the regex's order (Oniguruma takes the first that matches).
    private static func matchEnd(_ text: UnsafeBufferPointer<UInt8>, classes: [ScalarClass], offsets: [Int], at i: Int) -> Int {
        let count = classes.count
        // 's|'t|'re|'ve|'m|'ll|'d — ASCII only, so bytes can be compared directly.
        if text[offsets[i]] == UInt8(ascii: "'") {
            if let length = contractionLength(text, after: offsets[i] + 1, limit: offsets[count]) { return i + 1 + length }
        }
        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ — the optional prefix is U+0020 only.
        var start = i
        if text[offsets[i]] == UInt8(ascii: " "), i + 1 < count, classes[i + 1] != .whitespace { start = i + 1 }
        let runClass = classes[start]
        if runClass != .whitespace {
            var end = start + 1
            while end < count && classes[end] == runClass { end += 1 }
            return end
        }
        // \s+(?!\S): the whitespace run, minus its last scalar when a non-space follows it
        // (backtracking); then \s+ for a single whitespace scalar before a non-space.
        var end = i + 1
        while end < count && classes[end] == .whitespace { end += 1 }
        if end == count { return end }
        return end - i >= 2 ? end - 1 : end
    }

    private static func contractionLength(_ text: UnsafeBufferPointer<UInt8>, after start: Int, limit: Int) -> Int? {
        func byte(_ k: Int) -> UInt8? { start + k < limit ? text[start + k] : nil }
        switch byte(0) {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"): return byte(1) == UInt8(ascii: "e") ? 2 : nil
        case UInt8(ascii: "l"): return byte(1) == UInt8(ascii: "l") ? 2 : nil
        default: return nil
        }
    }

    /// Fills `scratch` with the class and byte offset of every scalar of `text[range]`
    /// (valid UTF-8: it comes from a Swift String).
    private static func decode(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, scratch: inout Scratch) {
        scratch.classes.removeAll(keepingCapacity: true)
        scratch.offsets.removeAll(keepingCapacity: true)
        var p = range.lowerBound
        while p < range.upperBound {
            scratch.offsets.append(p)
            let lead = text[p]
            if lead < 0x80 {
                scratch.classes.append(asciiClasses[Int(lead)])
                p += 1
                continue
            }
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            var value = UInt32(lead) & (0xFF >> (length + 1))
            for k in 1..<length { value = value << 6 | UInt32(text[p + k] & 0x3F) }
            scratch.classes.append(classify(slow: Unicode.Scalar(value) ?? "\u{FFFD}"))
            p += length
        }
        scratch.offsets.append(range.upperBound)
    }
}

/// Whitespace and word tests of the Rust `regex` crate, which `tokenizers` uses for added
/// tokens' lstrip/rstrip (`\s`, White_Space) and single_word (`\w`) checks
/// (tokenizers/src/tokenizer/added_vocabulary.rs).
enum RegexCrateClasses {
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace }

    /// `\w`: Alphabetic, M*, Nd, Pc or Join_Control (regex-syntax's perl_word), over the
    /// same Unicode version as the pre-tokenizer regex.
    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        guard scalar.isASCII || ByteLevel.isKnownToRegex(properties) else { return false }
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
