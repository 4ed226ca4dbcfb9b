/// A `pattern` / `patternProperties` regular expression.
///
/// JSON Schema patterns are ECMA-262 regular expressions, unanchored (Validation 2020-12
/// §6.3.3, Core §6.4). This is an ECMA-262 §22.2 engine of our own with the `u` flag's
/// semantics: it reads the text as code points (so `.` is one code point and "^.$" does not
/// match "e\u{301}"), `\d` and `\w` are ASCII-only and `\b` is the boundary between `\w` and
/// not (§22.2.2.9), `\s` is ECMA-262's WhiteSpace and LineTerminator set, and `\p{…}` takes
/// the names of ECMA-262's property tables. The pieces, one file each:
/// - `ECMARegexParser`: pattern text to a tree, with ECMA-262's early errors (§22.2.1);
/// - `ECMARegexCompiler` (ECMARegexProgram.swift): the tree to a program, counted
///   repetition expanded, refused above `maxProgramSize` instructions;
/// - `ECMARegexMatcher`: runs the program with a bound on its work (see there): memoized,
///   hence linear in the text, when the pattern has no backreferences (RE2's and Go's
///   bit-state backtracker), and stopped after `stepBudget` steps otherwise.
///
/// Where this differs from ECMA-262 with the `u` flag: a `{`, `}` or `]` that is not part of a
/// quantifier or class is a literal (Annex B §B.1.2, which JSON Schema patterns here have
/// always accepted); Script and Script_Extensions values are read as loosely as the stdlib
/// reads them (`ScriptTest`); Emoji_Component and Extended_Pictographic are refused.
///
/// Swift's `Regex`, which this replaces, backtracks without a limit: `^(a+)+$` on 38 "a"s and
/// a "b" ran for more than 10 s, so a schema given to `validate --schema` could hang it
/// (found by `make fuzz`, Fuzz/regressions/schema/timeout-nested-quantifier).
final class ECMARegex: Sendable {
    /// Most instructions one pattern may compile to. Counted repetition is expanded (`x{n,m}`
    /// costs m copies of x), so this bounds the memory of `a{0,99999}`-style patterns; RE2
    /// and Go refuse repeat counts above 1000 for the same reason (re2/parse.cc, the default
    /// maximum repeat count; Go regexp/syntax/parse.go, ErrInvalidRepeatSize).
    /// `[0-9a-f]{64}` takes 68 instructions, `.{0,4990}` 9,984.
    static let maxProgramSize = 10_000
    /// Most instructions all the distinct patterns of one schema may compile to together, so
    /// that a schema of many large patterns cannot exhaust memory either (about 24 MiB).
    static let maxProgramSizePerSchema = 1_000_000
    /// Steps (instructions executed) a match may take beyond the memo's own bound, program
    /// size × (text length + 1) capped at `maxMemoBits`; the default of fancy-regex's
    /// backtrack_limit. With backreferences, where nothing is memoized, it is the whole
    /// allowance. Past the allowance the match gives up (`PatternMatch.exhausted`).
    static let stepBudget = 1_000_000
    /// Largest memo, in bits (program size × (text length + 1)): 4 MiB. A longer text is
    /// searched without the memo, on `stepBudget` plus this many steps.
    static let maxMemoBits = 32 * 1024 * 1024
    /// Deepest nesting of groups and lookarounds, so that parsing and compiling, which
    /// recurse, stay far from the stack's end.
    static let maxNestingDepth = 128

    /// The pattern as the schema wrote it, for messages and keyword locations.
    let source: String
    let program: RegexProgram

    init(_ pattern: String) throws(ECMARegexError) {
        program = try ECMARegexCompiler.compile(ECMARegexParser.parse(pattern))
        source = pattern
    }

    /// Whether the pattern matches anywhere in `text` (patterns are not implicitly anchored),
    /// or that the step limit ran out before the matcher could tell.
    func matches(_ text: String) -> PatternMatch {
        guard var matcher = ECMARegexMatcher(program: program, text: text) else {
            return .exhausted(steps: 0)
        }
        switch matcher.run() {
        case true?: return .match
        case false?: return .noMatch
        case nil: return .exhausted(steps: matcher.stepLimit)
        }
    }
}

/// The outcome of matching a pattern against a text.
enum PatternMatch: Equatable, Sendable {
    case match
    case noMatch
    /// The matcher gave up after `steps` steps (a pattern with backreferences that backtracks
    /// too much, see `ECMARegex.stepBudget`): neither answer is known.
    case exhausted(steps: Int)
}

/// Why a pattern did not compile.
enum ECMARegexError: Error, Equatable {
    /// Text that is not an ECMA-262 pattern (with the `u` flag); `offset` counts code points
    /// from 0.
    case syntax(String, offset: Int)
    /// A `\p{…}` property of ECMA-262 that this engine cannot test.
    case unsupportedProperty(String, offset: Int)
    /// Groups and lookarounds nested deeper than `ECMARegex.maxNestingDepth`.
    case nestedTooDeep(limit: Int, offset: Int)
    /// More instructions than `ECMARegex.maxProgramSize`.
    case programTooLarge(limit: Int)

    /// One line, e.g. "missing ')' to close the group opened at offset 0".
    var reason: String {
        switch self {
        case .syntax(let message, let offset):
            "\(message) at offset \(offset)"
        case .unsupportedProperty(let name, let offset):
            "Unicode property '\(name)' at offset \(offset) is not supported"
        case .nestedTooDeep(let limit, let offset):
            "groups nested deeper than \(limit) levels at offset \(offset)"
        case .programTooLarge(let limit):
            "pattern too large: it compiles to more than \(limit) instructions "
                + "(counted repetition is expanded: x{n,m} costs m copies of x)"
        }
    }
}
