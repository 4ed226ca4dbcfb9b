/// A parsed pattern: the tree of ECMA-262 §22.2.1's Pattern grammar with its early errors
/// checked, groups numbered, and non-capturing groups dissolved into their contents.
indirect enum RegexNode {
    /// Matches the empty string (an empty Alternative).
    case empty
    case scalar(UInt32)
    case set(ScalarSet)
    case sequence([RegexNode])
    /// Alternatives tried left to right (§22.2.2.3).
    case alternation([RegexNode])
    /// A capturing group; `index` counts left parentheses from 1 (§22.2.2.1 CountLeftCapturingParensBefore).
    case capture(RegexNode, index: Int)
    /// `max` nil is unbounded. `captures` are the indices of the groups inside the operand,
    /// which each iteration resets (§22.2.2.3.1 RepeatMatcher step 4).
    case repetition(RegexNode, min: Int, max: Int?, greedy: Bool, captures: Range<Int>)
    case assertion(RegexAssertion)
    case lookaround(RegexNode, behind: Bool, negated: Bool)
    case backreference(BackreferenceTarget)
}

/// `^ $ \b \B` (§22.2.2.6). Without the `m` flag `^` and `$` are the input's ends.
enum RegexAssertion: Sendable {
    case start
    case end
    case wordBoundary
    case notWordBoundary
}

enum BackreferenceTarget {
    case number(Int)
    case name(String)
}

struct ParsedPattern {
    var root: RegexNode
    var groupCount: Int
    var groupNames: [String: Int]
}

/// Reads pattern text as ECMA-262 §22.2.1 with the `u` flag ([+UnicodeMode,
/// +NamedCaptureGroups]), plus one Annex B leniency JSON Schema patterns have always had
/// here: a `{`, `}` or `]` that does not belong to a quantifier or class is a literal
/// (§B.1.2 ExtendedPatternCharacter), so `^{foo}$` and `a{,3}` are accepted.
///
/// Recursive descent, one method per grammar production; nesting is limited to
/// `ECMARegex.maxNestingDepth` so that hostile text cannot exhaust the stack.
struct ECMARegexParser {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var groupCount = 0
    private var groupNames: [String: Int] = [:]
    private var depth = 0
    /// Backreferences, checked once every group is known (a reference may come first).
    private var numberedReferences: [(number: Int, offset: Int)] = []
    private var namedReferences: [(name: String, offset: Int)] = []

    private init(_ pattern: String) {
        scalars = Array(pattern.unicodeScalars)
    }

    static func parse(_ pattern: String) throws(ECMARegexError) -> ParsedPattern {
        var parser = ECMARegexParser(pattern)
        let root = try parser.parseDisjunction()
        if parser.index < parser.scalars.count {
            // parseDisjunction stops only at the end or at a ")" no group opened.
            throw parser.syntax("unmatched ')'", at: parser.index)
        }
        for reference in parser.numberedReferences where reference.number > parser.groupCount {
            throw parser.syntax(
                "backreference \\\(reference.number) to a group that does not exist "
                    + "(the pattern has \(counted(parser.groupCount, "capturing group")))", at: reference.offset)
        }
        for reference in parser.namedReferences where parser.groupNames[reference.name] == nil {
            throw parser.syntax("\\k<\(reference.name)> names no group", at: reference.offset)
        }
        return ParsedPattern(root: root, groupCount: parser.groupCount, groupNames: parser.groupNames)
    }

    // MARK: - Disjunction, Alternative, Term (§22.2.1)

    private mutating func parseDisjunction() throws(ECMARegexError) -> RegexNode {
        var alternatives = [try parseAlternative()]
        while peek == "|" {
            index += 1
            alternatives.append(try parseAlternative())
        }
        return alternatives.count == 1 ? alternatives[0] : .alternation(alternatives)
    }

    private mutating func parseAlternative() throws(ECMARegexError) -> RegexNode {
        var terms: [RegexNode] = []
        while let next = peek, next != "|", next != ")" {
            terms.append(try parseTerm())
        }
        switch terms.count {
        case 0: return .empty
        case 1: return terms[0]
        default: return .sequence(terms)
        }
    }

    private mutating func parseTerm() throws(ECMARegexError) -> RegexNode {
        let start = index
        switch peek {
        case "^":
            index += 1
            return try unquantified(.assertion(.start))
        case "$":
            index += 1
            return try unquantified(.assertion(.end))
        case "\\" where peek(1) == "b" || peek(1) == "B":
            index += 2
            return try unquantified(.assertion(peek(-1) == "b" ? .wordBoundary : .notWordBoundary))
        case "(" where peek(1) == "?" && (peek(2) == "=" || peek(2) == "!"):
            index += 3
            let body = try parseGroupBody(openedAt: start)
            return try unquantified(.lookaround(body, behind: false, negated: scalars[start + 2] == "!"))
        case "(" where peek(1) == "?" && peek(2) == "<" && (peek(3) == "=" || peek(3) == "!"):
            index += 4
            let body = try parseGroupBody(openedAt: start)
            return try unquantified(.lookaround(body, behind: true, negated: scalars[start + 3] == "!"))
        default:
            let groupsBefore = groupCount
            let atom = try parseAtom()
            return try parseQuantifier(on: atom, captures: (groupsBefore + 1)..<(groupCount + 1))
        }
    }

    /// An assertion: with the `u` flag none can take a quantifier (§22.2.1 Term, no
    /// QuantifiableAssertion outside Annex B).
    private func unquantified(_ node: RegexNode) throws(ECMARegexError) -> RegexNode {
        if let next = peek, next == "*" || next == "+" || next == "?" || (next == "{" && braceQuantifier() != nil) {
            throw syntax("nothing to repeat: an assertion cannot take a quantifier", at: index)
        }
        return node
    }

    // MARK: - Quantifier (§22.2.1 Quantifier, QuantifierPrefix)

    private mutating func parseQuantifier(on atom: RegexNode, captures: Range<Int>) throws(ECMARegexError)
        -> RegexNode
    {
        let start = index
        let min: Int
        let max: Int?
        switch peek {
        case "*": (min, max, index) = (0, nil, index + 1)
        case "+": (min, max, index) = (1, nil, index + 1)
        case "?": (min, max, index) = (0, 1, index + 1)
        case "{":
            // Not a quantifier's shape: the "{" is a literal (Annex B), read as the next atom.
            guard let braced = braceQuantifier() else { return atom }
            if let upper = braced.max, braced.min > upper {
                throw syntax("numbers out of order in {} quantifier", at: start)
            }
            (min, max) = (braced.min, braced.max)
            index = braced.end
        default:
            return atom
        }
        var greedy = true
        if peek == "?" {
            greedy = false
            index += 1
        }
        return .repetition(atom, min: min, max: max, greedy: greedy, captures: captures)
    }

    /// `{n}`, `{n,}` or `{n,m}` starting at `index`: the bounds and the index after "}"; nil
    /// when the text there has another shape. Bounds beyond `Int.max` saturate; the program
    /// size limit refuses them anyway.
    private func braceQuantifier() -> (min: Int, max: Int?, end: Int)? {
        var position = index + 1
        guard let min = decimal(from: &position) else { return nil }
        var max: Int? = min
        if position < scalars.count, scalars[position] == "," {
            position += 1
            max = decimal(from: &position)
        }
        guard position < scalars.count, scalars[position] == "}" else { return nil }
        return (min, max, position + 1)
    }

    /// The decimal number at `position`, advancing past it; nil when no digit is there.
    private func decimal(from position: inout Int) -> Int? {
        var value: Int?
        while position < scalars.count, let digit = Self.digitValue(scalars[position]) {
            let (shifted, overflow1) = (value ?? 0).multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(digit)
            value = overflow1 || overflow2 ? Int.max : sum
            position += 1
        }
        return value
    }

    // MARK: - Atom (§22.2.1 Atom, with Annex B's literal braces)

    private mutating func parseAtom() throws(ECMARegexError) -> RegexNode {
        let start = index
        let scalar = scalars[index]
        switch scalar {
        case ".":
            index += 1
            return .set(.dot)
        case "(":
            return try parseGroup()
        case "[":
            return try parseClass()
        case "\\":
            return try parseAtomEscape()
        case "*", "+", "?":
            throw syntax("nothing to repeat before '\(scalar)'", at: start)
        case "{" where braceQuantifier() != nil:
            throw syntax("nothing to repeat before '{'", at: start)
        default:
            index += 1
            return .scalar(scalar.value)
        }
    }

    /// `(…)`, `(?:…)` or `(?<name>…)`.
    private mutating func parseGroup() throws(ECMARegexError) -> RegexNode {
        let start = index
        guard peek(1) == "?" else {
            index += 1
            groupCount += 1
            let number = groupCount
            return .capture(try parseGroupBody(openedAt: start), index: number)
        }
        switch peek(2) {
        case ":":
            index += 3
            return try parseGroupBody(openedAt: start)
        case "<":
            index += 2
            let name = try parseGroupName()
            if groupNames[name] != nil { throw syntax("duplicate group name '\(name)'", at: start) }
            groupCount += 1
            let number = groupCount
            groupNames[name] = number
            return .capture(try parseGroupBody(openedAt: start), index: number)
        default:
            throw syntax("'(?' must be followed by ':', '=', '!', '<=', '<!' or '<name>'", at: start)
        }
    }

    /// The Disjunction inside a group whose opening text has been read, and its ")".
    private mutating func parseGroupBody(openedAt start: Int) throws(ECMARegexError) -> RegexNode {
        depth += 1
        defer { depth -= 1 }
        guard depth <= ECMARegex.maxNestingDepth else {
            throw .nestedTooDeep(limit: ECMARegex.maxNestingDepth, offset: start)
        }
        let body = try parseDisjunction()
        guard peek == ")" else { throw syntax("missing ')' to close the group opened", at: start) }
        index += 1
        return body
    }

    /// `<RegExpIdentifierName>` (§22.2.1 GroupName): an identifier whose characters may be
    /// written as `\u` escapes.
    private mutating func parseGroupName() throws(ECMARegexError) -> String {
        let start = index
        guard peek == "<" else { throw syntax("expected '<' and a group name", at: start) }
        index += 1
        var name = ""
        while true {
            guard let next = peek else { throw syntax("missing '>' after the group name", at: start) }
            index += 1
            if next == ">" { break }
            var value = next.value
            if next == "\\" {
                guard peek == "u" else { throw syntax("only \\u escapes may appear in a group name", at: index - 1) }
                index += 1
                value = try parseUnicodeEscape()
            }
            guard let scalar = Unicode.Scalar(value),
                name.isEmpty ? Self.isIdentifierStart(scalar) : Self.isIdentifierPart(scalar)
            else { throw syntax("invalid character in group name", at: index - 1) }
            name.unicodeScalars.append(scalar)
        }
        guard !name.isEmpty else { throw syntax("empty group name", at: start) }
        return name
    }

    // MARK: - Escapes (§22.2.1 AtomEscape, CharacterEscape, CharacterClassEscape)

    private mutating func parseAtomEscape() throws(ECMARegexError) -> RegexNode {
        let start = index
        index += 1
        guard let letter = peek else { throw syntax("'\\' at the end of the pattern", at: start) }
        if Self.digitValue(letter) != nil, letter != "0" {
            var position = index
            let number = decimal(from: &position) ?? 0
            index = position
            numberedReferences.append((number, start))
            return .backreference(.number(number))
        }
        if letter == "k" {
            index += 1
            let name = try parseGroupName()
            namedReferences.append((name, start))
            return .backreference(.name(name))
        }
        if let set = try parseSetEscape() { return .set(set) }
        return .scalar(try parseCharacterEscape(inClass: false))
    }

    /// `\d \D \s \S \w \W \p{…} \P{…}` at `index` (after the "\"); nil for any other escape.
    private mutating func parseSetEscape() throws(ECMARegexError) -> ScalarSet? {
        guard let letter = peek else { return nil }
        if let set = ScalarSet.classEscape(letter) {
            index += 1
            return set
        }
        guard letter == "p" || letter == "P" else { return nil }
        let start = index - 1
        index += 1
        guard peek == "{" else { throw syntax("\\\(letter) must be followed by {property}", at: start) }
        var expression = ""
        index += 1
        while let next = peek, next != "}" {
            expression.unicodeScalars.append(next)
            index += 1
        }
        guard peek == "}" else { throw syntax("missing '}' after \\\(letter){", at: start) }
        index += 1
        do {
            let property = try UnicodeProperty.named(expression)
            return ScalarSet(properties: [PropertyTest(property: property, negated: letter == "P")])
        } catch .unsupported {
            throw .unsupportedProperty(expression, offset: start)
        } catch {
            throw syntax("unknown Unicode property '\(expression)'", at: start)
        }
    }

    /// A CharacterEscape (or, in a class, `\b` and `\-`) at `index`, after the "\": the
    /// code point it stands for. With the `u` flag an identity escape is allowed only for a
    /// SyntaxCharacter or "/" (§22.2.1 IdentityEscape[+UnicodeMode]).
    private mutating func parseCharacterEscape(inClass: Bool) throws(ECMARegexError) -> UInt32 {
        let start = index - 1
        guard let letter = peek else { throw syntax("'\\' at the end of the pattern", at: start) }
        index += 1
        switch letter {
        case "f": return 0x0C
        case "n": return 0x0A
        case "r": return 0x0D
        case "t": return 0x09
        case "v": return 0x0B
        case "c":
            guard let control = peek, Self.isASCIILetter(control) else {
                throw syntax("\\c must be followed by an ASCII letter", at: start)
            }
            index += 1
            return control.value % 32
        case "0":
            if let next = peek, Self.digitValue(next) != nil {
                throw syntax("\\0 followed by a digit (no octal escapes with the u flag)", at: start)
            }
            return 0
        case "x":
            guard let high = peek.flatMap(Self.hexValue), let low = peek(1).flatMap(Self.hexValue) else {
                throw syntax("\\x must be followed by two hex digits", at: start)
            }
            index += 2
            return UInt32(high * 16 + low)
        case "u":
            return try parseUnicodeEscape()
        case "b" where inClass:
            return 0x08
        case "-" where inClass:
            return 0x2D
        default:
            guard Self.isSyntaxCharacter(letter) || letter == "/" else {
                throw syntax("invalid escape '\\\(letter)'", at: start)
            }
            return letter.value
        }
    }

    /// `\uHHHH`, a surrogate pair `\uHHHH\uHHHH` (one code point with the `u` flag), or
    /// `\u{H…}` (§22.2.1 RegExpUnicodeEscapeSequence[+UnicodeMode]); `index` is after "u".
    private mutating func parseUnicodeEscape() throws(ECMARegexError) -> UInt32 {
        let start = index - 2
        if peek == "{" {
            index += 1
            var value: UInt32 = 0
            var digits = 0
            while let next = peek, let digit = Self.hexValue(next) {
                value = min(value * 16 + UInt32(digit), ScalarSet.maxCodePoint + 1)
                digits += 1
                index += 1
            }
            guard digits > 0, peek == "}" else { throw syntax("\\u{ must hold hex digits and end with }", at: start) }
            guard value <= ScalarSet.maxCodePoint else { throw syntax("\\u{…} beyond U+10FFFF", at: start) }
            index += 1
            return value
        }
        guard let unit = hex4(at: index) else { throw syntax("\\u must be followed by four hex digits", at: start) }
        index += 4
        if (0xD800...0xDBFF).contains(unit), peek == "\\", peek(1) == "u", let trail = hex4(at: index + 2),
            (0xDC00...0xDFFF).contains(trail)
        {
            index += 6
            return 0x10000 + ((unit - 0xD800) << 10) + (trail - 0xDC00)
        }
        // A lone surrogate: a code point no Swift string holds, so it never matches.
        return unit
    }

    private func hex4(at position: Int) -> UInt32? {
        guard position + 4 <= scalars.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = Self.hexValue(scalars[position + offset]) else { return nil }
            value = value * 16 + UInt32(digit)
        }
        return value
    }

    // MARK: - CharacterClass (§22.2.1 CharacterClass, ClassContents[+UnicodeMode])

    private enum ClassAtom {
        case scalar(UInt32)
        case set(ScalarSet)
    }

    private mutating func parseClass() throws(ECMARegexError) -> RegexNode {
        let start = index
        index += 1
        var set = ScalarSet()
        if peek == "^" {
            set.isNegated = true
            index += 1
        }
        while true {
            guard let next = peek else { throw syntax("missing ']' to close the character class", at: start) }
            if next == "]" {
                index += 1
                break
            }
            let rangeStart = index
            let first = try parseClassAtom()
            guard peek == "-", let after = peek(1), after != "]" else {
                add(first, to: &set)
                continue
            }
            index += 1
            let second = try parseClassAtom()
            guard case .scalar(let low) = first, case .scalar(let high) = second else {
                throw syntax("a class escape such as \\d cannot be the end of a range", at: rangeStart)
            }
            guard low <= high else { throw syntax("range out of order in character class", at: rangeStart) }
            set.insert(low...high)
        }
        set.normalize()
        return .set(set)
    }

    private mutating func parseClassAtom() throws(ECMARegexError) -> ClassAtom {
        let scalar = scalars[index]
        index += 1
        guard scalar == "\\" else { return .scalar(scalar.value) }
        if let set = try parseSetEscape() { return .set(set) }
        return .scalar(try parseCharacterEscape(inClass: true))
    }

    private func add(_ atom: ClassAtom, to set: inout ScalarSet) {
        switch atom {
        case .scalar(let value): set.insert(value...value)
        case .set(let members): set.formUnion(members)
        }
    }

    // MARK: - Characters

    private var peek: Unicode.Scalar? { peek(0) }

    private func peek(_ offset: Int) -> Unicode.Scalar? {
        let position = index + offset
        return position >= 0 && position < scalars.count ? scalars[position] : nil
    }

    private func syntax(_ message: String, at offset: Int) -> ECMARegexError {
        .syntax(message, offset: offset)
    }

    /// `^ $ \ . * + ? ( ) [ ] { } |` (§22.2.1 SyntaxCharacter).
    private static func isSyntaxCharacter(_ scalar: Unicode.Scalar) -> Bool {
        "^$\\.*+?()[]{}|".unicodeScalars.contains(scalar)
    }

    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    private static func digitValue(_ scalar: Unicode.Scalar) -> Int? {
        ("0"..."9").contains(scalar) ? Int(scalar.value - 0x30) : nil
    }

    private static func hexValue(_ scalar: Unicode.Scalar) -> Int? {
        switch scalar {
        case "0"..."9": Int(scalar.value - 0x30)
        case "a"..."f": Int(scalar.value - 0x61 + 10)
        case "A"..."F": Int(scalar.value - 0x41 + 10)
        default: nil
        }
    }

    /// IdentifierStartChar (§12.7): ID_Start, "$", "_".
    private static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "$" || scalar == "_" || scalar.properties.isIDStart
    }

    /// IdentifierPartChar (§12.7): ID_Continue, "$", ZWNJ, ZWJ.
    private static func isIdentifierPart(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "$" || scalar == "\u{200C}" || scalar == "\u{200D}" || scalar.properties.isIDContinue
    }
}
