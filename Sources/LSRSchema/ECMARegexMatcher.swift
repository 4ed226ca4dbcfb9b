/// Runs a `RegexProgram` over the code points of one text: a backtracking search with an
/// explicit stack, bounded in one of two ways.
///
/// - Memoized ("bit-state", RE2's bitstate.cc, Go's regexp/backtrack.go): without
///   backreferences, whether the rest of the program can match from (instruction, position)
///   depends on nothing else, so each pair is explored at most once and a failed one is never
///   retried. The work is then at most program size × (text length + 1) steps, linear in the
///   text, whatever the pattern's nesting (`^(a+)+$` included). Captures and the
///   empty-iteration check are skipped: they cannot change whether a match exists when no
///   backreference reads them, and the memo already stops empty loops.
/// - Step budget: with backreferences (where a state's outcome depends on what was captured,
///   so memoizing would be unsound) the search runs ECMA-262's full semantics and stops after
///   `ECMARegex.stepBudget` steps, like fancy-regex's backtrack_limit (fancy-regex src/lib.rs,
///   `RegexOptions::default`).
///   A text so long that the memo would exceed `ECMARegex.maxMemoBits` is searched without
///   it, on the budget plus `maxMemoBits` steps.
///
/// A lookaround runs as a sub-search from its position. When memoized its result is cached per
/// (lookaround, position); the states a successful sub-search marked are unmarked again (they
/// led to success, and a later sub-search of the same body must not take them for failures),
/// so repeated lookarounds can cost more than the memo's bound: the budget, which always
/// applies on top, covers that.
struct ECMARegexMatcher {
    private let program: RegexProgram
    private let text: [Unicode.Scalar]
    /// Positions per instruction in the memo: text length + 1.
    private let stride: Int
    private let memoizes: Bool
    /// Steps allowed: the budget, plus, without backreferences, the memo's bound
    /// (program size × (text length + 1), at most `ECMARegex.maxMemoBits`).
    let stepLimit: Int
    private(set) var steps = 0
    private var exhausted = false

    /// (instruction, position) pairs already explored, one bit each; empty when not memoizing.
    private var visited: [UInt64]
    /// Memo indices marked inside lookaround sub-searches, to unmark after a success.
    private var markedInLookaround: [Int] = []
    private var lookaroundDepth = 0
    /// Cached lookaround results per (lookaround, position): 0 unknown, 1 holds, 2 fails.
    private var lookaroundResults: [UInt8]
    /// Captures and registers (see `RegexProgram.slotCount`); -1 is unset.
    private var slots: [Int]
    private var stack: [Job] = []

    /// A pending alternative (`instruction` ≥ 0) or, when `instruction` < 0, the value slot
    /// `-instruction - 1` had before a write, restored when backtracking passes it.
    private struct Job {
        var instruction: Int32
        var value: Int32
    }

    /// nil when the text is too long for the matcher's 32-bit positions.
    init?(program: RegexProgram, text: String) {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count < Int32.max - 1, program.instructions.count < Int32.max else { return nil }
        self.program = program
        self.text = scalars
        stride = scalars.count + 1
        let (product, overflow) = program.instructions.count.multipliedReportingOverflow(by: stride)
        let cells = overflow ? Int.max : product
        memoizes = !program.hasBackreferences && cells <= ECMARegex.maxMemoBits
        visited = memoizes ? [UInt64](repeating: 0, count: (cells + 63) / 64) : []
        lookaroundResults =
            memoizes && !program.lookarounds.isEmpty
            ? [UInt8](repeating: 0, count: program.lookarounds.count * stride) : []
        // Without backreferences the memo's bound is the natural allowance; a text too long
        // for the memo gets as many steps as the largest memo would have allowed.
        stepLimit = ECMARegex.stepBudget + (program.hasBackreferences ? 0 : min(cells, ECMARegex.maxMemoBits))
        slots = [Int](repeating: -1, count: program.slotCount)
    }

    /// Whether the program matches; nil when the step limit ran out first.
    mutating func run() -> Bool? {
        let found = search(from: 0, at: 0)
        return exhausted ? nil : found
    }

    // MARK: - The search

    /// Depth-first search from (`start`, `position`) for a `.match` or `.succeed`; on success
    /// the stack is cut back to where it was, leaving the slots as the successful path set them.
    private mutating func search(from start: Int, at position: Int) -> Bool {
        let base = stack.count
        stack.append(Job(instruction: Int32(start), value: Int32(position)))
        while stack.count > base {
            let job = stack.removeLast()
            if job.instruction < 0 {
                slots[Int(-job.instruction - 1)] = Int(job.value)
                continue
            }
            if runThread(from: Int(job.instruction), at: Int(job.value)) {
                stack.removeSubrange(base...)
                return true
            }
            if exhausted {
                stack.removeSubrange(base...)
                return false
            }
        }
        return false
    }

    /// Follows one path, pushing the alternatives of its splits, until it fails (false) or
    /// reaches `.match` / `.succeed` (true).
    private mutating func runThread(from start: Int, at startPosition: Int) -> Bool {
        var pc = start
        var position = startPosition
        while true {
            if memoizes {
                let cell = pc * stride + position
                let (word, bit) = (cell >> 6, UInt64(1) << UInt64(cell & 63))
                if visited[word] & bit != 0 { return false }
                visited[word] |= bit
                if lookaroundDepth > 0 { markedInLookaround.append(cell) }
            }
            steps += 1
            guard steps <= stepLimit else {
                exhausted = true
                return false
            }
            switch program.instructions[pc] {
            case .scalar(let value, let backward):
                guard let next = step(position, backward: backward), text[backward ? next : position].value == value
                else { return false }
                position = next
                pc += 1
            case .set(let index, let backward):
                guard let next = step(position, backward: backward),
                    program.sets[index].contains(text[backward ? next : position])
                else { return false }
                position = next
                pc += 1
            case .split(let preferred, let alternative):
                stack.append(Job(instruction: Int32(alternative), value: Int32(position)))
                pc = preferred
            case .jump(let target):
                pc = target
            case .assert(let assertion):
                guard holds(assertion, at: position) else { return false }
                pc += 1
            case .groupStart(let group):
                if !memoizes { write(program.pendingSlot(group), position) }
                pc += 1
            case .groupEnd(let group):
                if !memoizes {
                    // Backwards (in a lookbehind) the group began at its right end.
                    let began = slots[program.pendingSlot(group)]
                    write(program.startSlot(group), min(began, position))
                    write(program.endSlot(group), max(began, position))
                }
                pc += 1
            case .clearGroups(let groups):
                if !memoizes {
                    steps += groups.count
                    for group in groups {
                        write(program.startSlot(group), -1)
                        write(program.endSlot(group), -1)
                    }
                }
                pc += 1
            case .markPosition(let register):
                if !memoizes { write(program.registerSlot(register), position) }
                pc += 1
            case .requireProgress(let register):
                if !memoizes, slots[program.registerSlot(register)] == position { return false }
                pc += 1
            case .backreference(let group, let backward):
                guard let next = matchBackreference(group, at: position, backward: backward) else { return false }
                position = next
                pc += 1
            case .lookaround(let index):
                guard lookaroundHolds(index, at: position) else { return false }
                pc = program.lookarounds[index].next
            case .succeed, .match:
                return true
            }
        }
    }

    /// The position after consuming one code point, or nil at the text's edge.
    private func step(_ position: Int, backward: Bool) -> Int? {
        if backward { return position > 0 ? position - 1 : nil }
        return position < text.count ? position + 1 : nil
    }

    private func holds(_ assertion: RegexAssertion, at position: Int) -> Bool {
        switch assertion {
        case .start: return position == 0
        case .end: return position == text.count
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && ScalarSet.isWordCharacter(text[position - 1])
            let after = position < text.count && ScalarSet.isWordCharacter(text[position])
            return (before != after) == (assertion == .wordBoundary)
        }
    }

    /// Sets a slot, recording its old value so that backtracking restores it.
    private mutating func write(_ slot: Int, _ value: Int) {
        stack.append(Job(instruction: Int32(-slot - 1), value: Int32(slots[slot])))
        slots[slot] = value
    }

    /// The position after matching group `group`'s text again; an unset group matches empty.
    private mutating func matchBackreference(_ group: Int, at position: Int, backward: Bool) -> Int? {
        let start = slots[program.startSlot(group)]
        let end = slots[program.endSlot(group)]
        guard start >= 0, end >= start else { return position }
        let length = end - start
        steps += length
        let from = backward ? position - length : position
        guard from >= 0, from + length <= text.count else { return nil }
        for offset in 0..<length where text[start + offset] != text[from + offset] { return nil }
        return backward ? from : position + length
    }

    // MARK: - Lookarounds (§22.2.2.4)

    private mutating func lookaroundHolds(_ index: Int, at position: Int) -> Bool {
        let lookaround = program.lookarounds[index]
        if memoizes {
            let key = index * stride + position
            if lookaroundResults[key] != 0 { return (lookaroundResults[key] == 1) != lookaround.negated }
            let logStart = markedInLookaround.count
            lookaroundDepth += 1
            let found = search(from: lookaround.body, at: position)
            lookaroundDepth -= 1
            if found {
                for cell in markedInLookaround[logStart...] { visited[cell >> 6] &= ~(UInt64(1) << UInt64(cell & 63)) }
            }
            markedInLookaround.removeSubrange(logStart...)
            if exhausted { return false }
            lookaroundResults[key] = found ? 1 : 2
            return found != lookaround.negated
        }
        // Full semantics: a positive lookaround keeps the captures its body made (a later
        // backreference may read them) but is not re-entered on backtracking; a negative
        // one keeps none.
        let before = slots
        steps += slots.count / 16
        let found = search(from: lookaround.body, at: position)
        if exhausted { return false }
        guard found else { return lookaround.negated }
        if lookaround.negated {
            slots = before
            return false
        }
        for slot in slots.indices where slots[slot] != before[slot] {
            stack.append(Job(instruction: Int32(-slot - 1), value: Int32(before[slot])))
        }
        return true
    }
}
