/// One step of a compiled pattern, run by `ECMARegexMatcher`. The instruction set is that of
/// a backtracking matcher over a Pike/Thompson-style program (RE2's prog.h, Go's
/// regexp/syntax/prog.go), plus what ECMA-262 needs beyond regular languages: captures for
/// backreferences, lookarounds, and matching backwards inside a lookbehind (§22.2.2, where
/// every matcher takes a direction).
enum RegexInstruction: Sendable {
    /// Consume this code point (moving left when `backward`).
    case scalar(UInt32, backward: Bool)
    /// Consume a code point of `sets[index]`.
    case set(Int, backward: Bool)
    /// Continue at `preferred`; on failure, at `alternative`.
    case split(preferred: Int, alternative: Int)
    case jump(Int)
    case assert(RegexAssertion)
    /// Remember where capture group `index` began matching.
    case groupStart(Int)
    /// Set capture group `index` to the text between its start and here.
    case groupEnd(Int)
    /// Make these groups undefined: each iteration of a quantifier starts with its groups
    /// unset (§22.2.2.3.1 RepeatMatcher step 4).
    case clearGroups(Range<Int>)
    /// Remember the position where an optional iteration begins, in register `index` ...
    case markPosition(Int)
    /// ... and fail if it ends there: an iteration beyond the minimum that matched the empty
    /// string fails (§22.2.2.3.1 RepeatMatcher step 2.b), which stops `(a*)*` looping.
    case requireProgress(Int)
    /// Match the text captured by group `index` again (empty when the group is unset,
    /// §22.2.2.7.2 BackreferenceMatcher).
    case backreference(Int, backward: Bool)
    /// Run `lookarounds[index]` here; continue after its body if it holds.
    case lookaround(Int)
    /// The end of a lookaround body: the sub-match succeeded.
    case succeed
    /// The end of the pattern: a match.
    case match
}

/// A lookaround's body sits right after its `.lookaround` instruction and ends with `.succeed`.
struct Lookaround: Sendable {
    var body: Int
    /// Where the main path continues when the lookaround holds.
    var next: Int
    var behind: Bool
    var negated: Bool
}

/// A compiled pattern. The first instructions are an implicit lazy `[^]*?`, so one run from
/// position 0 finds a match starting anywhere (patterns are unanchored, Validation 2020-12
/// §6.3.3) and a memoized run visits each (instruction, position) once over all start positions.
struct RegexProgram: Sendable {
    var instructions: [RegexInstruction] = []
    var sets: [ScalarSet] = []
    var lookarounds: [Lookaround] = []
    var groupCount = 0
    var registerCount = 0
    var hasBackreferences = false

    /// Capture slots: group g (1-based) owns its start at 2(g-1), its end at 2(g-1)+1 and the
    /// position where it began matching at 2·groupCount + g-1; registers follow.
    var slotCount: Int { 3 * groupCount + registerCount }
    func startSlot(_ group: Int) -> Int { 2 * (group - 1) }
    func endSlot(_ group: Int) -> Int { 2 * (group - 1) + 1 }
    func pendingSlot(_ group: Int) -> Int { 2 * groupCount + group - 1 }
    func registerSlot(_ register: Int) -> Int { 3 * groupCount + register }
}

/// Turns a `ParsedPattern` into a `RegexProgram`. Counted repetition is expanded: `x{2,4}` is
/// `x x (x (x)?)?`, so the program's size is known, and refused above
/// `ECMARegex.maxProgramSize`, before anything is emitted.
struct ECMARegexCompiler {
    private var program = RegexProgram()
    private let groupNames: [String: Int]

    private init(_ parsed: ParsedPattern) {
        groupNames = parsed.groupNames
        program.groupCount = parsed.groupCount
    }

    /// Instructions of the unanchored prefix (split, any, jump) and the final `match`.
    private static let frameSize = 4

    static func compile(_ parsed: ParsedPattern) throws(ECMARegexError) -> RegexProgram {
        let size = saturatingAdd(instructionCount(parsed.root), frameSize)
        guard size <= ECMARegex.maxProgramSize else { throw .programTooLarge(limit: ECMARegex.maxProgramSize) }
        var compiler = ECMARegexCompiler(parsed)
        compiler.program.instructions.reserveCapacity(size)
        // 0: split(3, 1) tries the pattern here first; 1–2 step one code point and retry.
        let anySet = compiler.addSet(.all)
        compiler.append(.split(preferred: 3, alternative: 1))
        compiler.append(.set(anySet, backward: false))
        compiler.append(.jump(0))
        compiler.emit(parsed.root, backward: false)
        compiler.append(.match)
        return compiler.program
    }

    // MARK: - Size, before emitting

    /// The number of instructions `emit` produces for `node`, saturating at `Int.max`.
    private static func instructionCount(_ node: RegexNode) -> Int {
        switch node {
        case .empty:
            return 0
        case .scalar, .set, .assertion, .backreference:
            return 1
        case .sequence(let items):
            return items.reduce(0) { saturatingAdd($0, instructionCount($1)) }
        case .alternation(let alternatives):
            // A split and a jump for every alternative but the last.
            let bodies = alternatives.reduce(0) { saturatingAdd($0, instructionCount($1)) }
            return saturatingAdd(bodies, 2 * (alternatives.count - 1))
        case .capture(let body, _), .lookaround(let body, _, _):
            return saturatingAdd(instructionCount(body), 2)
        case .repetition(let body, let min, let max, _, let captures):
            let iteration = saturatingAdd(instructionCount(body), captures.isEmpty ? 0 : 1)
            let progressCheck = canMatchEmpty(body) ? 2 : 0
            let mandatory = saturatingMultiply(min, iteration)
            guard let max else {
                // split, [mark], body, [check], jump
                return saturatingAdd(mandatory, saturatingAdd(iteration, progressCheck + 2))
            }
            // One split, [mark], body, [check] per optional copy.
            let optional = saturatingMultiply(max - min, saturatingAdd(iteration, progressCheck + 1))
            return saturatingAdd(mandatory, optional)
        }
    }

    /// Whether `node` may match without consuming anything (then an optional iteration of
    /// it needs the empty-iteration check).
    private static func canMatchEmpty(_ node: RegexNode) -> Bool {
        switch node {
        case .empty, .assertion, .lookaround, .backreference: true
        case .scalar, .set: false
        case .sequence(let items): items.allSatisfy(canMatchEmpty)
        case .alternation(let alternatives): alternatives.contains(where: canMatchEmpty)
        case .capture(let body, _): canMatchEmpty(body)
        case .repetition(let body, let min, _, _, _): min == 0 || canMatchEmpty(body)
        }
    }

    private static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }

    private static func saturatingMultiply(_ a: Int, _ b: Int) -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max : product
    }

    // MARK: - Emitting

    @discardableResult
    private mutating func append(_ instruction: RegexInstruction) -> Int {
        program.instructions.append(instruction)
        return program.instructions.count - 1
    }

    private var here: Int { program.instructions.count }

    private mutating func addSet(_ set: ScalarSet) -> Int {
        program.sets.append(set)
        return program.sets.count - 1
    }

    /// Emits `node` matching forwards, or backwards inside a lookbehind (§22.2.2.3 Alternative:
    /// a sequence's terms run right to left when the direction is backward).
    private mutating func emit(_ node: RegexNode, backward: Bool) {
        switch node {
        case .empty:
            break
        case .scalar(let value):
            append(.scalar(value, backward: backward))
        case .set(let set):
            append(.set(addSet(set), backward: backward))
        case .sequence(let items):
            for item in backward ? items.reversed() : items { emit(item, backward: backward) }
        case .alternation(let alternatives):
            var exits: [Int] = []
            for alternative in alternatives.dropLast() {
                let split = append(.split(preferred: 0, alternative: 0))
                emit(alternative, backward: backward)
                exits.append(append(.jump(0)))
                program.instructions[split] = .split(preferred: split + 1, alternative: here)
            }
            if let last = alternatives.last { emit(last, backward: backward) }
            for exit in exits { program.instructions[exit] = .jump(here) }
        case .capture(let body, let index):
            append(.groupStart(index))
            emit(body, backward: backward)
            append(.groupEnd(index))
        case .assertion(let assertion):
            append(.assert(assertion))
        case .backreference(let target):
            program.hasBackreferences = true
            let group =
                switch target {
                case .number(let number): number
                case .name(let name): groupNames[name] ?? 0
                }
            append(.backreference(group, backward: backward))
        case .lookaround(let body, let behind, let negated):
            program.lookarounds.append(Lookaround(body: 0, next: 0, behind: behind, negated: negated))
            let index = program.lookarounds.count - 1
            let start = append(.lookaround(index))
            // A lookahead inside a lookbehind runs forwards again, and vice versa (§22.2.2.4).
            emit(body, backward: behind)
            append(.succeed)
            program.lookarounds[index].body = start + 1
            program.lookarounds[index].next = here
        case .repetition(let body, let min, let max, let greedy, let captures):
            emitRepetition(body, min: min, max: max, greedy: greedy, captures: captures, backward: backward)
        }
    }

    /// `min` copies of the body, then either a loop (no maximum) or `max - min` optional
    /// copies, each a split that skips all the remaining ones (§22.2.2.3.1 RepeatMatcher:
    /// greedy tries one more iteration first, lazy tries the continuation first).
    private mutating func emitRepetition(
        _ body: RegexNode, min: Int, max: Int?, greedy: Bool, captures: Range<Int>, backward: Bool
    ) {
        var register: Int?
        if Self.canMatchEmpty(body) {
            register = program.registerCount
            program.registerCount += 1
        }
        func iteration(_ compiler: inout ECMARegexCompiler, optional: Bool) {
            if !captures.isEmpty { compiler.append(.clearGroups(captures)) }
            if optional, let register { compiler.append(.markPosition(register)) }
            compiler.emit(body, backward: backward)
            if optional, let register { compiler.append(.requireProgress(register)) }
        }
        // An operand that emits nothing (`(?:){9999999}`) needs no copies at all.
        if Self.instructionCount(body) > 0 {
            for _ in 0..<min { iteration(&self, optional: false) }
        }
        func split(body: Int, skip: Int) -> RegexInstruction {
            greedy ? .split(preferred: body, alternative: skip) : .split(preferred: skip, alternative: body)
        }
        guard let max else {
            let loop = append(.split(preferred: 0, alternative: 0))
            iteration(&self, optional: true)
            append(.jump(loop))
            program.instructions[loop] = split(body: loop + 1, skip: here)
            return
        }
        var splits: [Int] = []
        for _ in 0..<(max - min) {
            splits.append(append(.split(preferred: 0, alternative: 0)))
            iteration(&self, optional: true)
        }
        for position in splits {
            program.instructions[position] = split(body: position + 1, skip: here)
        }
    }
}
