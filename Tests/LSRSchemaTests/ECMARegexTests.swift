import LSRFormats
import Testing

@testable import LSRSchema

/// The pattern engine (`ECMARegex`): ECMA-262 semantics checked against V8, bounded running
/// time on the classic catastrophic-backtracking patterns, the step budget and how the
/// validator reports it, and the patterns it refuses.
@Suite struct ECMARegexTests {
    private func match(_ pattern: String, _ text: String) throws -> PatternMatch {
        try ECMARegex(pattern).matches(text)
    }

    private func refusal(_ pattern: String) -> ECMARegexError? {
        do {
            _ = try ECMARegex(pattern)
            return nil
        } catch {
            return error
        }
    }

    /// Expected values are `new RegExp(pattern, "u").test(text)` as Node 20 (V8) answers
    /// them; the last group was found by comparing this engine with V8 on random patterns.
    @Test func matchesLikeV8() throws {
        let cases: [(pattern: String, text: String, matches: Bool)] = [
            // lookbehind
            (#"(?<=\$)\d+"#, "cost $42", true),
            (#"(?<=\$)\d+"#, "cost 42", false),
            (#"(?<!\$)\b\d+"#, "$42", false),
            (#"(?<!\$)\b\d+"#, "$4 2", true),
            (#"^.(?<=a.)$"#, "ab", false),
            (#"(?<=^a{2,3})b"#, "aaab", true),
            (#"(?<=^a{2,3})b"#, "aaaab", false),
            (#"(?<=(\w)\1)x"#, "aax", true),
            (#"(?<=\1(\w))x"#, "aax", true),
            (#"(?<=(?<!b)a)c"#, "bac", false),
            (#"(?<=(?<!b)a)c"#, "aac", true),
            // lazy quantifiers
            (#"^a+?$"#, "aaa", true),
            (#"^(a+?)a$"#, "a", false),
            (#"^(a+?)\1$"#, "aaaa", true),
            (#"^(a*?)b\1$"#, "aba", true),
            (#"^a{2,4}?$"#, "aaaaa", false),
            (#"^<.+?>$"#, "<a><b>", true),
            (#"^(?:ab)??b$"#, "b", true),
            // backreferences
            (#"^(a|b)\1$"#, "aa", true),
            (#"^(a|b)\1$"#, "ab", false),
            (#"^(?:(a)|b)\1$"#, "b", true),
            (#"^(?:(a)|b)\1c$"#, "bc", true),
            (#"^\1(a)$"#, "a", true),
            (#"^(a)?\1b$"#, "b", true),
            (#"^(?:(a)|(b))+\1\2$"#, "abb", true),
            (#"^(?:(a)|(b))+\1$"#, "ab", true),
            (#"^(z)((a+)?(b+)?(c))*\3$"#, "zaacbbbcac", false),
            (#"^(z)((a+)?(b+)?(c))*\3$"#, "zaacbbbcaca", true),
            (#"^(a*)*b\1$"#, "aab", false),
            (#"^(.+)\s\1$"#, "hey hey", true),
            (#"^(.+)\s\1$"#, "hey you", false),
            (#"(?=(a+))a*b\1"#, "baaabac", true),
            (#"(?=(a+))a*b\1"#, "baaab", false),
            // named groups
            (#"^(?<year>\d{4})-\k<year>$"#, "2024-2024", true),
            (#"^(?<year>\d{4})-\k<year>$"#, "2024-2025", false),
            (#"^\k<a>(?<a>x)$"#, "x", true),
            (#"^(?<$\u{1D4D1}_x>a)\k<$\u{1D4D1}_x>$"#, "aa", true),
            (#"^(?<\u0061>.)\k<a>$"#, "zz", true),
            // properties
            (#"^\p{L}+$"#, "\u{3A9}mega", true),
            (#"^\p{Lu}"#, "\u{3C9}mega", false),
            (#"^\p{Letter}+$"#, "a\u{E9}", true),
            (#"^\P{L}+$"#, "123", true),
            (#"^[\p{N}\p{Zs}]+$"#, "\u{661} \u{662}", true),
            (#"^\p{gc=Nd}$"#, "\u{663}", true),
            (#"^\p{General_Category=Decimal_Number}$"#, "x", false),
            (#"^\p{Script=Greek}+$"#, "\u{3B1}\u{3B2}\u{3B3}", true),
            (#"^\p{sc=Grek}$"#, "a", false),
            (#"^\p{scx=Deva}$"#, "\u{966}", true),
            (#"^\p{ASCII_Hex_Digit}+$"#, "c0ffee", true),
            (#"^\p{White_Space}$"#, "\u{85}", true),
            (#"^\p{Any}$"#, "\u{10FFFF}", true),
            (#"^\p{Emoji_Presentation}$"#, "\u{1F432}", true),
            (#"^\p{RI}{2}$"#, "\u{1F1EB}\u{1F1F7}", true),
            (#"^[^\P{Lu}]$"#, "A", true),
            // code points and escapes
            (#"^\uD83D\uDC32$"#, "\u{1F432}", true),
            (#"^\u{1F432}$"#, "\u{1F432}", true),
            (#"^[\uD83D\uDC32-\uD83D\uDC33]$"#, "\u{1F433}", true),
            (#"^.$"#, "\u{1F432}", true),
            (#"^..$"#, "\u{1F432}", false),
            (#"^[^a]$"#, "\u{1F432}", true),
            (#"^\x41\u0042\u{43}$"#, "ABC", true),
            (#"^\0$"#, "\u{0}", true),
            (#"^\cM\cj$"#, "\r\n", true),
            (#"^[\b]$"#, "\u{8}", true),
            (#"^\/\.\*$"#, "/.*", true),
            (#"^[\-\]]+$"#, "-]", true),
            (#"^\t\v\f$"#, "\t\u{B}\u{C}", true),
            // word boundaries
            (#"\bfoo\b"#, "a foo b", true),
            (#"\bfoo\b"#, "afoo", false),
            (#"\Bfoo"#, "afoo", true),
            (#"\Bfoo"#, "foo", false),
            (#"^\b$"#, "", false),
            (#"^\B$"#, "", true),
            (#"\bé"#, " \u{E9}", false),
            (#"é\b"#, "\u{E9}", false),
            // empty alternatives
            (#"^(?:|a)$"#, "", true),
            (#"^(?:a|)b$"#, "b", true),
            (#"^(|a)+$"#, "aa", true),
            (#"^a||b$"#, "xyz", true),
            (#"^(?:)$"#, "", true),
            (#"^()\1$"#, "", true),
            // counted repetition
            (#"^a{3}$"#, "aaa", true),
            (#"^a{3}$"#, "aaaa", false),
            (#"^a{2,}$"#, "a", false),
            (#"^a{2,}$"#, "aaaaaa", true),
            (#"^a{0}$"#, "", true),
            (#"^a{0}$"#, "a", false),
            (#"^a{1,3}b{0,1}$"#, "aaab", true),
            (#"^a{1,3}b{0,1}$"#, "aaaab", false),
            (#"^(?:ab){2}$"#, "abab", true),
            (#"^[0-9a-f]{8}-[0-9a-f]{4}$"#, "deadbeef-cafe", true),
            (#"x{2,3}"#, "axxb", true),
            // nested quantified groups
            (#"^(?:(a|b)c)+$"#, "acbcac", true),
            (#"^(?:(a|b)c)+$"#, "acbca", false),
            (#"^((a)|b)+$"#, "aba", true),
            (#"^(?:a(b(c)?)+)+$"#, "abbcabc", true),
            (#"^(?:(?:a+)?b)+$"#, "abbaab", true),
            (#"^((a+)?(b+)?)+$"#, "aabba", true),
            (#"^(a?){3}a{3}$"#, "aaa", true),
            (#"^(?:a|ab)(?:c|bcd)(?:d*)$"#, "abcd", true),
            // found by random differential testing against V8 (a cached lookaround result
            // once ignored its negation)
            (#"\B(?!b*(?<!b))"#, "xba", true),
            (#"(?![a-c]{0,3}(\d|(\s|a)*?(?<!a{2,}a)|$))"#, "ccx", false),
        ]
        for entry in cases {
            #expect(
                try match(entry.pattern, entry.text) == (entry.matches ? .match : .noMatch),
                "\(entry.pattern) on \(entry.text.debugDescription)")
        }
    }

    /// Nested and overlapping quantifiers that take exponential time in a plain backtracker
    /// on a long near-miss. Memoized, each is answered in program size × text length steps;
    /// `.noMatch` (not `.exhausted`) shows that no budget was needed. Each is also checked on
    /// a text it matches.
    @Test func catastrophicBacktrackingPatternsAreAnswered() throws {
        let length = 5000
        let cases: [(pattern: String, nearMiss: String, hit: String)] = [
            ("^(a+)+$", String(repeating: "a", count: length) + "b", String(repeating: "a", count: length)),
            ("^(a|a)*$", String(repeating: "a", count: length) + "b", String(repeating: "a", count: length)),
            ("^(a|aa)+$", String(repeating: "a", count: length) + "b", String(repeating: "a", count: length)),
            ("(x+x+)+y", String(repeating: "x", count: length), String(repeating: "x", count: length) + "y"),
            (
                #"^(\w+\s?)*$"#, String(repeating: "word ", count: length / 5) + "!",
                String(repeating: "word ", count: length / 5)
            ),
            (#"^(?:a(?!b*c))*$"#, String(repeating: "a", count: length) + "b", String(repeating: "a", count: length)),
        ]
        for entry in cases {
            #expect(try match(entry.pattern, entry.nearMiss) == .noMatch, "\(entry.pattern) on its near-miss")
            #expect(try match(entry.pattern, entry.hit) == .match, "\(entry.pattern) on its match")
        }
    }

    /// A text so long that the memo (program size × (length + 1) bits) would pass
    /// `ECMARegex.maxMemoBits` is searched without it and still answered.
    @Test func textBeyondTheMemoIsStillAnswered() throws {
        let regex = try ECMARegex("^[a-z]{0,4000}$")
        let text = String(repeating: "a", count: 5000)
        #expect(regex.program.instructions.count * (text.count + 1) > ECMARegex.maxMemoBits)
        #expect(regex.matches(text) == .noMatch)
        #expect(try match("^[a-z]{0,4000}", text) == .match)
    }

    /// With a backreference nothing is memoized (a state's outcome depends on what was
    /// captured), so `^(a+)+\1$` backtracks exponentially until the step budget runs out.
    @Test func backreferenceBacktrackingGivesUp() throws {
        let text = String(repeating: "a", count: 100) + "b"
        #expect(try match(#"^(a+)+\1$"#, text) == .exhausted(steps: ECMARegex.stepBudget))
        #expect(try match(#"^((a+)+)\2b"#, String(repeating: "a", count: 100)) == .exhausted(steps: 1_000_000))
        // Short texts are still answered exactly.
        #expect(try match(#"^(a+)+\1$"#, "aaaa") == .match)
        #expect(try match(#"^(a+)+\1$"#, "aaab") == .noMatch)
    }

    /// A pattern that gave up fails validation with its own error, at the instance location,
    /// wherever it sits: under `not`, `anyOf` or `if` the answer is unknown, so the error is
    /// kept even where "does not match" would have made the schema valid.
    @Test func exhaustedPatternIsAValidationError() throws {
        let text = String(repeating: "a", count: 100) + "b"
        let shown = "\"" + String(repeating: "a", count: 58) + "…"
        let gaveUp = "could not be checked against the pattern '^(a+)+\\1$': gave up after 1000000 steps"
        func error(_ instance: String, _ keyword: String, _ message: String) -> ValidationError {
            ValidationError(instanceLocation: instance, keywordLocation: keyword, message: message)
        }
        let pattern = JSONValue.string(#"^(a+)+\1$"#)
        #expect(
            try JSONSchema(["properties": ["name": ["pattern": pattern]]]).validate(["name": .string(text)]) == [
                error("/name", "/properties/name/pattern", "string \(shown) \(gaveUp)")
            ])
        #expect(
            try JSONSchema(["not": ["pattern": pattern]]).validate(.string(text)) == [
                error("", "/not/pattern", "string \(shown) \(gaveUp)")
            ])
        #expect(
            try JSONSchema(["anyOf": [["pattern": pattern], ["type": "string"]]]).validate(.string(text)) == [
                error("", "/anyOf/0/pattern", "string \(shown) \(gaveUp)")
            ])
        // A property name: reported once, by patternProperties; additionalProperties neither
        // applies its schema nor calls the name unknown.
        let object = try JSONSchema(["patternProperties": [#"^(a+)+\1$"#: true], "additionalProperties": false])
        #expect(
            object.validate(.object(JSONObject([(text, 1)]))) == [
                error("/" + text, #"/patternProperties/^(a+)+\1$"#, "property name \(shown) \(gaveUp)")
            ])
        #expect(
            object.validate(["b": 1]) == [
                error("/b", "/additionalProperties", "unknown property 'b' (additionalProperties is false)")
            ])
    }

    /// Patterns match code points, so two that differ only in Unicode normalization are two
    /// patterns, also in the schema compiler's cache of compiled patterns (Swift's `String`
    /// == would take them for one).
    @Test func patternsEqualOnlyUnderNormalizationStayApart() throws {
        let schema = try JSONSchema([
            "properties": ["a": ["pattern": "^\u{E9}$"], "b": ["pattern": "^e\u{301}$"]]
        ])
        #expect(schema.validate(["a": "\u{E9}", "b": "e\u{301}"]) == [])
        #expect(schema.validate(["a": "e\u{301}", "b": "\u{E9}"]).count == 2)
    }

    /// Counted repetition is expanded, so patterns that would compile to more than
    /// `ECMARegex.maxProgramSize` instructions are refused before anything is allocated.
    @Test func oversizedProgramsAreRefused() throws {
        let reason =
            "pattern too large: it compiles to more than 10000 instructions "
            + "(counted repetition is expanded: x{n,m} costs m copies of x)"
        #expect(
            throws: SchemaError.invalidPattern(location: "/pattern", pattern: "a{0,10000}", reason: reason)
        ) {
            try JSONSchema(["pattern": "a{0,10000}"])
        }
        #expect(
            SchemaError.invalidPattern(location: "/pattern", pattern: "a{0,10000}", reason: reason).description
                == "invalid regular expression 'a{0,10000}' at /pattern: " + reason)
        #expect(refusal("(?:a{1,100}){1,100}") == .programTooLarge(limit: 10_000))
        #expect(refusal("a{99999999999999999999}") == .programTooLarge(limit: 10_000))
        #expect(refusal("(?:(?:a{1000}){1000}){1000}") == .programTooLarge(limit: 10_000))
        #expect(throws: Never.self) { try ECMARegex(".{0,4990}") }
        // An operand that compiles to nothing costs nothing, however often it repeats.
        #expect(try match("^(?:){999999999}$", "") == .match)

        // And all the distinct patterns of one schema together: 101 of 9,984 instructions.
        let schemas: [JSONValue] = (0...100).map { ["pattern": .string("\($0).{0,4990}")] }
        #expect(
            throws: SchemaError.invalidPattern(
                location: "/anyOf/100/pattern", pattern: "100.{0,4990}",
                reason: "the schema's patterns together compile to more than 1000000 instructions")
        ) {
            try JSONSchema(["anyOf": .array(schemas)])
        }
    }

    /// Text that is not an ECMA-262 pattern with the `u` flag, and where it goes wrong
    /// (offsets count code points from 0). The first five, and those marked, are the invalid
    /// patterns of JSON-Schema-Test-Suite tests/draft2020-12/optional/format/regex.json and
    /// optional/ecmascript-regex.json.
    @Test func invalidPatternsAreRefused() {
        let cases: [(pattern: String, error: ECMARegexError)] = [
            ("(unclosed", .syntax("missing ')' to close the group opened", offset: 0)),
            ("a**", .syntax("nothing to repeat before '*'", offset: 2)),
            ("[z-a]", .syntax("range out of order in character class", offset: 1)),
            (#"\k<nope>"#, .syntax("\\k<nope> names no group", offset: 0)),
            (")", .syntax("unmatched ')'", offset: 0)),
            // format/regex.json
            ("^(abc]", .syntax("missing ')' to close the group opened", offset: 1)),
            ("*a", .syntax("nothing to repeat before '*'", offset: 0)),
            (#"\"#, .syntax("'\\' at the end of the pattern", offset: 0)),
            ("a)", .syntax("unmatched ')'", offset: 1)),
            ("[abc", .syntax("missing ']' to close the character class", offset: 0)),
            // ecmascript-regex.json: \a is no control escape
            (#"\a"#, .syntax("invalid escape '\\a'", offset: 0)),
            (
                #"(a)\2"#,
                .syntax(
                    "backreference \\2 to a group that does not exist (the pattern has 1 capturing group)", offset: 3)
            ),
            (#"\01"#, .syntax("\\0 followed by a digit (no octal escapes with the u flag)", offset: 0)),
            (#"\c1"#, .syntax("\\c must be followed by an ASCII letter", offset: 0)),
            (#"\x4"#, .syntax("\\x must be followed by two hex digits", offset: 0)),
            (#"\u{110000}"#, .syntax("\\u{…} beyond U+10FFFF", offset: 0)),
            ("x{2,1}", .syntax("numbers out of order in {} quantifier", offset: 1)),
            ("a{1}{2}", .syntax("nothing to repeat before '{'", offset: 4)),
            ("(?=a)*", .syntax("nothing to repeat: an assertion cannot take a quantifier", offset: 5)),
            ("^*", .syntax("nothing to repeat: an assertion cannot take a quantifier", offset: 1)),
            (#"[\d-z]"#, .syntax("a class escape such as \\d cannot be the end of a range", offset: 1)),
            ("(?<a>x)(?<a>y)", .syntax("duplicate group name 'a'", offset: 7)),
            ("(?<1a>x)", .syntax("invalid character in group name", offset: 3)),
            ("(?x)", .syntax("'(?' must be followed by ':', '=', '!', '<=', '<!' or '<name>'", offset: 0)),
            (#"\p{letter}"#, .syntax("unknown Unicode property 'letter'", offset: 0)),
            (#"\p{Script=Nope}"#, .syntax("unknown Unicode property 'Script=Nope'", offset: 0)),
            (#"\p{Extended_Pictographic}"#, .unsupportedProperty("Extended_Pictographic", offset: 0)),
            (
                String(repeating: "(", count: 200) + String(repeating: ")", count: 200),
                .nestedTooDeep(limit: 128, offset: 128)
            ),
        ]
        for entry in cases {
            #expect(refusal(entry.pattern) == entry.error, "\(entry.pattern)")
        }
    }
}
