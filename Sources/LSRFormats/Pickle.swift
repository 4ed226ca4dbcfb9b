/// A restricted pickle machine: it builds inert values and never runs anything.
///
/// Opcode semantics follow CPython's Lib/pickle.py (`_Unpickler.load_*`) and pickletools.py;
/// the restrictions follow torch/_weights_only_unpickler.py and SECURITY.md rule 2. Globals
/// are `(module, name)` symbols; REDUCE, NEWOBJ, INST and OBJ of a global make an inert
/// `PickleObject` that keeps the callable and its arguments as data, except for three pure
/// constructors the machine must understand to keep going: `collections.OrderedDict` (a dict,
/// so that SETITEMS can fill it), `torch.Size` (a tuple), and `_codecs.encode(text, "latin1")`
/// and `bytes()` (how protocols 0-2 spell `bytes`). Interpreting objects is the caller's business
/// (TorchCheckpoint keeps a fixed table of torch rebuild functions).
public indirect enum PickleValue: Equatable, Sendable {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer beyond 64 bits: minimal little-endian two's-complement bytes (LONG1's encoding).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list([PickleValue])
    /// Ordered key/value pairs (insertion order; a repeated key keeps its first position and
    /// its last value, as Python's dict does).
    case dict([PickleDictEntry])
    case set([PickleValue])
    case frozenSet([PickleValue])
    /// A GLOBAL/STACK_GLOBAL symbol: never resolved to anything.
    case global(module: String, name: String)
    case object(PickleObject)
    /// The argument of PERSID/BINPERSID (torch: the storage tuple), left to the caller.
    case persistentID(PickleValue)
}

public struct PickleDictEntry: Equatable, Sendable {
    public var key: PickleValue
    public var value: PickleValue
    public init(key: PickleValue, value: PickleValue) {
        self.key = key
        self.value = value
    }
}

/// An inert placeholder for `callable(*args, **kwargs)` followed by BUILD(state).
public struct PickleObject: Equatable, Sendable {
    /// How the object was made: REDUCE, NEWOBJ/NEWOBJ_EX (`cls.__new__`), or INST/OBJ.
    public enum Construction: Sendable { case reduce, newObject, instance }
    /// The callable: almost always `.global`.
    public var callable: PickleValue
    public var args: [PickleValue]
    public var kwargs: [PickleDictEntry]
    /// The argument of the last BUILD applied, if any.
    public var state: PickleValue?
    public var construction: Construction
    /// Byte offset of the opcode that made it.
    public var offset: Int

    public init(
        callable: PickleValue, args: [PickleValue], kwargs: [PickleDictEntry] = [], state: PickleValue? = nil,
        construction: Construction = .reduce, offset: Int
    ) {
        self.callable = callable
        self.args = args
        self.kwargs = kwargs
        self.state = state
        self.construction = construction
        self.offset = offset
    }

    /// "module.name" of a global callable, else nil.
    public var qualifiedName: String? {
        if case .global(let m, let n) = callable { "\(m).\(n)" } else { nil }
    }
}

extension PickleValue {
    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .set: "set"
        case .frozenSet: "frozenset"
        case .global(let m, let n): "global \(m).\(n)"
        case .object(let o): "object \(o.qualifiedName ?? "(non-global callable)")"
        case .persistentID: "persistent id"
        }
    }

    /// The value under a string key of a dict.
    public subscript(key: String) -> PickleValue? {
        guard case .dict(let entries) = self else { return nil }
        return entries.last { $0.key == .string(key) }?.value
    }
}

/// Why a pickle was refused. `offset` is the byte offset of the opcode within the pickle's buffer.
public enum PickleError: Error, Equatable, Sendable {
    /// The input ends inside an opcode's argument, or before STOP.
    case truncated(opcode: UInt8, offset: Int)
    /// An opcode outside the fixed table (EXT1/2/4, NEXT_BUFFER, READONLY_BUFFER, or not an opcode).
    case unsupportedOpcode(UInt8, offset: Int)
    /// PROTO anywhere but as the first opcode.
    case protoNotFirst(offset: Int)
    /// A protocol version above 5.
    case unsupportedProtocol(Int, offset: Int)
    /// An opcode needs more values than the stack (above the last MARK) holds.
    case stackUnderflow(opcode: UInt8, offset: Int)
    /// An opcode that collects items up to a MARK found none.
    case missingMark(opcode: UInt8, offset: Int)
    /// STOP with more than one value, or with a MARK, left on the stack.
    case unbalancedStop(offset: Int)
    /// A named limit was exceeded (`limit` names the constant).
    case limitExceeded(limit: String, value: Int, offset: Int)
    /// GET of a memo index never PUT.
    case memoMissing(index: UInt64, offset: Int)
    /// An operand of the wrong kind (SETITEM on a non-dict, REDUCE with non-tuple arguments, ...).
    case wrongType(opcode: UInt8, expected: String, got: String, offset: Int)
    /// A malformed argument: bad decimal text, negative length, invalid UTF-8 or escape.
    case invalidArgument(opcode: UInt8, reason: String, offset: Int)
    /// A dict key or set element Python could not hash (a list, dict or set).
    case unhashable(kind: String, offset: Int)
    /// A container that (directly or not) contains itself.
    case selfReference(offset: Int)
    /// Bytes after STOP where the pickle should end.
    case trailingBytes(offset: Int)
}

extension PickleError: CustomStringConvertible {
    public var description: String {
        func op(_ code: UInt8) -> String { Pickle.opcodeDescription(code) }
        switch self {
        case .truncated(let c, let o): return "pickle ends inside \(op(c)) at byte \(o)"
        case .unsupportedOpcode(let c, let o): return "unsupported pickle opcode \(op(c)) at byte \(o)"
        case .protoNotFirst(let o): return "pickle PROTO at byte \(o) is not the first opcode"
        case .unsupportedProtocol(let v, let o): return "pickle protocol \(v) at byte \(o) is not supported (0-5)"
        case .stackUnderflow(let c, let o): return "pickle stack underflow at \(op(c)), byte \(o)"
        case .missingMark(let c, let o): return "pickle \(op(c)) at byte \(o) has no MARK"
        case .unbalancedStop(let o): return "pickle STOP at byte \(o) leaves values or marks on the stack"
        case .limitExceeded(let l, let v, let o): return "pickle exceeds \(l) (\(v)) at byte \(o)"
        case .memoMissing(let i, let o): return "pickle memo index \(i) read at byte \(o) was never stored"
        case .wrongType(let c, let e, let g, let o): return "pickle \(op(c)) at byte \(o) expects \(e), got \(g)"
        case .invalidArgument(let c, let r, let o): return "pickle \(op(c)) at byte \(o): \(r)"
        case .unhashable(let k, let o): return "pickle uses a \(k) as a dict key or set element at byte \(o)"
        case .selfReference(let o): return "pickle container made at byte \(o) contains itself"
        case .trailingBytes(let o): return "unexpected bytes after the pickle's STOP at byte \(o)"
        }
    }
}

/// Entry points and named limits of the pickle machine.
public enum Pickle {
    /// Values on the stack, all MARK frames together. Real state dicts batch SETITEMS by 1,000 pairs.
    public static let maxStackDepth = 1 << 20
    /// Open MARKs at once; real pickles nest them as deep as their data.
    public static let maxMarkDepth = 1_000
    /// Distinct memo indices (the memo is a dictionary: LONG_BINPUT indices reach 2³²−1).
    public static let maxMemoEntries = 1 << 20
    /// Containers, objects and persistent ids created.
    public static let maxObjects = 1 << 24
    /// Nesting of the result (containers within containers); Python's own recursion limit is 1,000.
    public static let maxNestingDepth = 200
    /// Nodes of the result counted with repetition (memo sharing can amplify a small pickle
    /// exponentially; the result shares storage, this bounds any walk over it).
    public static let maxValueNodes = 1 << 24
    /// Digits of a protocol-0 INT/LONG text (CPython's int_max_str_digits default, 4,300).
    public static let maxDecimalDigits = 4_300
    /// Highest protocol read.
    public static let highestProtocol = 5

    /// Parses the one pickle that fills `bytes` (trailing bytes are an error).
    public static func parse(_ bytes: [UInt8]) throws(PickleError) -> PickleValue {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(PickleError) in try parse(raw, from: 0) } }
        let (value, end) = try result.get()
        guard end == bytes.count else { throw .trailingBytes(offset: end) }
        return value
    }

    /// Parses one pickle starting at `start` (consecutive pickles, as in legacy torch files);
    /// returns its value and the offset just after its STOP. Offsets in errors are within `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(PickleError) -> (value: PickleValue, end: Int) {
        guard start >= 0, start <= bytes.count else { throw .truncated(opcode: 0x2E, offset: start) }
        var machine = Machine(input: bytes, position: start)
        let top = try machine.run()
        var converter = Converter(heap: machine.heap, stopOffset: machine.position - 1)
        return (try converter.convert(top, depth: 0), machine.position)
    }
}

// MARK: - The machine

/// Stack values: scalars inline, every container a node of the heap (so that memo entries and
/// the stack share it, as Python's references do, and nothing in the machine is recursive).
private enum Item {
    case none
    case bool(Bool)
    case int(Int64)
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case global(String, String)
    case ref(Int)
}

private class Node {
    let offset: Int
    init(offset: Int) { self.offset = offset }
}
private final class TupleNode: Node {
    let items: [Item]
    init(_ items: [Item], offset: Int) {
        self.items = items
        super.init(offset: offset)
    }
}
private final class ListNode: Node { var items: [Item] = [] }
private final class DictNode: Node {
    var keys: [Item] = []
    var values: [Item] = []
    var index: [HashKey: Int] = [:]
}
private final class SetNode: Node {
    let frozen: Bool
    var items: [Item] = []
    var index: Set<HashKey> = []
    init(frozen: Bool, offset: Int) {
        self.frozen = frozen
        super.init(offset: offset)
    }
}
private final class ObjectNode: Node {
    let callable: Item
    let args: [Item]
    let kwargs: [(Item, Item)]
    let construction: PickleObject.Construction
    var state: Item?
    init(callable: Item, args: [Item], kwargs: [(Item, Item)], construction: PickleObject.Construction, offset: Int) {
        self.callable = callable
        self.args = args
        self.kwargs = kwargs
        self.construction = construction
        super.init(offset: offset)
    }
}
private final class PersistentNode: Node {
    let id: Item
    init(_ id: Item, offset: Int) {
        self.id = id
        super.init(offset: offset)
    }
}

/// Python's notion of key equality for the hashable kinds: True == 1 == 1.0, tuples by content,
/// objects by identity.
private indirect enum HashKey: Hashable {
    case none
    case int(Int64)
    case bigInt([UInt8])
    case float(UInt64)
    case string(String)
    case bytes([UInt8])
    case global(String, String)
    case tuple([HashKey])
    case identity(Int)
}

private enum Op {
    static let mark: UInt8 = 0x28, stop: UInt8 = 0x2E, pop: UInt8 = 0x30, popMark: UInt8 = 0x31, dup: UInt8 = 0x32
    static let float: UInt8 = 0x46, int: UInt8 = 0x49, binInt: UInt8 = 0x4A, binInt1: UInt8 = 0x4B, long: UInt8 = 0x4C
    static let binInt2: UInt8 = 0x4D, none: UInt8 = 0x4E, persID: UInt8 = 0x50, binPersID: UInt8 = 0x51, reduce: UInt8 = 0x52
    static let string: UInt8 = 0x53, binString: UInt8 = 0x54, shortBinString: UInt8 = 0x55, unicode: UInt8 = 0x56
    static let binUnicode: UInt8 = 0x58, append: UInt8 = 0x61, build: UInt8 = 0x62, global: UInt8 = 0x63, dict: UInt8 = 0x64
    static let emptyDict: UInt8 = 0x7D, appends: UInt8 = 0x65, get: UInt8 = 0x67, binGet: UInt8 = 0x68, inst: UInt8 = 0x69
    static let longBinGet: UInt8 = 0x6A, list: UInt8 = 0x6C, emptyList: UInt8 = 0x5D, obj: UInt8 = 0x6F, put: UInt8 = 0x70
    static let binPut: UInt8 = 0x71, longBinPut: UInt8 = 0x72, setItem: UInt8 = 0x73, tuple: UInt8 = 0x74
    static let emptyTuple: UInt8 = 0x29, setItems: UInt8 = 0x75, binFloat: UInt8 = 0x47
    static let proto: UInt8 = 0x80, newObj: UInt8 = 0x81, tuple1: UInt8 = 0x85, tuple2: UInt8 = 0x86, tuple3: UInt8 = 0x87
    static let newTrue: UInt8 = 0x88, newFalse: UInt8 = 0x89, long1: UInt8 = 0x8A, long4: UInt8 = 0x8B
    static let binBytes: UInt8 = 0x42, shortBinBytes: UInt8 = 0x43, shortBinUnicode: UInt8 = 0x8C, binUnicode8: UInt8 = 0x8D
    static let binBytes8: UInt8 = 0x8E, emptySet: UInt8 = 0x8F, addItems: UInt8 = 0x90, frozenSet: UInt8 = 0x91
    static let newObjEx: UInt8 = 0x92, stackGlobal: UInt8 = 0x93, memoize: UInt8 = 0x94, frame: UInt8 = 0x95
    static let byteArray8: UInt8 = 0x96
}

extension Pickle {
    /// Opcode names (pickletools.py), for messages.
    static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT", 0x4A: "BININT",
        0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE",
        0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND",
        0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
        0x69: "INST", 0x6A: "LONG_BINGET", 0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT",
        0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
        0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
        0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES",
        0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET",
        0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
        0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    static func opcodeDescription(_ code: UInt8) -> String {
        let hex = "0x" + (code < 16 ? "0" : "") + String(code, radix: 16)
        return opcodeNames[code].map { "\($0) (\(hex))" } ?? hex
    }
}

private struct Machine {
    let input: UnsafeRawBufferPointer
    var position: Int
    var stack: [Item] = []
    /// Stack heights at each open MARK (CPython's metastack).
    var marks: [Int] = []
    var memo: [UInt64: Item] = [:]
    var heap: [Node] = []
    /// Offset and code of the opcode being run (for errors).
    var at = 0
    var code: UInt8 = 0

    init(input: UnsafeRawBufferPointer, position: Int) {
        self.input = input
        self.position = position
    }

    // MARK: Reading arguments

    mutating func take(_ count: Int) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= input.count - position else { throw .truncated(opcode: code, offset: at) }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: input[position..<(position + count)])
    }

    mutating func byte() throws(PickleError) -> UInt8 { try take(1)[0] }

    mutating func littleEndian(_ count: Int) throws(PickleError) -> UInt64 {
        let bytes = try take(count)
        var value: UInt64 = 0
        for i in (0..<count).reversed() { value = value << 8 | UInt64(bytes[i]) }
        return value
    }

    /// A length argument, checked against the bytes that remain before anything is allocated.
    mutating func length(_ width: Int, signed: Bool = false) throws(PickleError) -> Int {
        let raw = try littleEndian(width)
        if signed && width == 4 && Int32(bitPattern: UInt32(raw)) < 0 {
            throw .invalidArgument(opcode: code, reason: "negative length", offset: at)
        }
        guard raw <= UInt64(input.count - position) else { throw .truncated(opcode: code, offset: at) }
        return Int(raw)
    }

    /// Bytes up to (not including) the next newline, which is consumed.
    mutating func line() throws(PickleError) -> [UInt8] {
        var end = position
        while end < input.count && input[end] != 0x0A { end += 1 }
        guard end < input.count else { throw .truncated(opcode: code, offset: at) }
        defer { position = end + 1 }
        return Array(input[position..<end])
    }

    func utf8(_ bytes: some Collection<UInt8>) throws(PickleError) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument(opcode: code, reason: "text is not valid UTF-8", offset: at)
        }
        return s
    }

    // MARK: Stack

    mutating func push(_ item: Item) throws(PickleError) {
        guard stack.count < Pickle.maxStackDepth else {
            throw .limitExceeded(limit: "Pickle.maxStackDepth", value: Pickle.maxStackDepth, offset: at)
        }
        stack.append(item)
    }

    /// Pops a value from above the last MARK.
    mutating func pop() throws(PickleError) -> Item {
        guard stack.count > (marks.last ?? 0) else { throw .stackUnderflow(opcode: code, offset: at) }
        return stack.removeLast()
    }

    func top() throws(PickleError) -> Item {
        guard stack.count > (marks.last ?? 0), let last = stack.last else { throw .stackUnderflow(opcode: code, offset: at) }
        return last
    }

    /// The values pushed since the last MARK, which is removed.
    mutating func popMark() throws(PickleError) -> [Item] {
        guard let mark = marks.popLast() else { throw .missingMark(opcode: code, offset: at) }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    mutating func allocate(_ node: Node) throws(PickleError) -> Item {
        guard heap.count < Pickle.maxObjects else {
            throw .limitExceeded(limit: "Pickle.maxObjects", value: Pickle.maxObjects, offset: at)
        }
        heap.append(node)
        return .ref(heap.count - 1)
    }

    func node<T: Node>(_ item: Item, as type: T.Type, expected: String) throws(PickleError) -> T {
        if case .ref(let i) = item, let node = heap[i] as? T { return node }
        throw .wrongType(opcode: code, expected: expected, got: kindName(item), offset: at)
    }

    func kindName(_ item: Item) -> String {
        switch item {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .global(let m, let n): "global \(m).\(n)"
        case .ref(let i):
            switch heap[i] {
            case is TupleNode: "tuple"
            case is ListNode: "list"
            case is DictNode: "dict"
            case let s as SetNode: s.frozen ? "frozenset" : "set"
            case let o as ObjectNode:
                if case .global(let m, let n) = o.callable { "object \(m).\(n)" } else { "object" }
            default: "persistent id"
            }
        }
    }

    func hashKey(_ item: Item, depth: Int = 0) throws(PickleError) -> HashKey {
        switch item {
        case .none: return .none
        case .bool(let b): return .int(b ? 1 : 0)
        case .int(let i): return .int(i)
        case .bigInt(let b): return .bigInt(b)
        case .float(let d):
            if d == d.rounded(), let i = Int64(exactly: d) { return .int(i) }
            return .float(d.bitPattern)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b)
        case .global(let m, let n): return .global(m, n)
        case .ref(let i):
            switch heap[i] {
            case let t as TupleNode:
                guard depth < Pickle.maxNestingDepth else {
                    throw .limitExceeded(limit: "Pickle.maxNestingDepth", value: Pickle.maxNestingDepth, offset: at)
                }
                var keys: [HashKey] = []
                for element in t.items { keys.append(try hashKey(element, depth: depth + 1)) }
                return .tuple(keys)
            case is ObjectNode, is PersistentNode: return .identity(i)
            case let s as SetNode where s.frozen: return .identity(i)
            default: throw .unhashable(kind: kindName(item), offset: at)
            }
        }
    }

    mutating func setItem(_ dict: DictNode, _ key: Item, _ value: Item) throws(PickleError) {
        let k = try hashKey(key)
        if let existing = dict.index[k] {
            dict.values[existing] = value
        } else {
            dict.index[k] = dict.keys.count
            dict.keys.append(key)
            dict.values.append(value)
        }
    }

    mutating func addToSet(_ set: SetNode, _ items: [Item]) throws(PickleError) {
        for item in items where set.index.insert(try hashKey(item)).inserted { set.items.append(item) }
    }

    mutating func memoize(_ index: UInt64) throws(PickleError) {
        let value = try top()
        if memo[index] == nil && memo.count >= Pickle.maxMemoEntries {
            throw .limitExceeded(limit: "Pickle.maxMemoEntries", value: Pickle.maxMemoEntries, offset: at)
        }
        memo[index] = value
    }

    mutating func memoGet(_ index: UInt64) throws(PickleError) {
        guard let value = memo[index] else { throw .memoMissing(index: index, offset: at) }
        try push(value)
    }

    /// Decimal text of INT/LONG/GET/PUT (optional sign, digits).
    func decimal(_ text: [UInt8]) throws(PickleError) -> Item {
        var digits = text[...]
        var negative = false
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .invalidArgument(opcode: code, reason: "'\(String(decoding: text, as: UTF8.self))' is not a decimal integer", offset: at)
        }
        guard digits.count <= Pickle.maxDecimalDigits else {
            throw .limitExceeded(limit: "Pickle.maxDecimalDigits", value: Pickle.maxDecimalDigits, offset: at)
        }
        // Little-endian base-256 magnitude, then two's complement.
        var magnitude: [UInt8] = [0]
        for d in digits {
            var carry = UInt32(d - 0x30)
            for i in magnitude.indices {
                let v = UInt32(magnitude[i]) * 10 + carry
                magnitude[i] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
            if carry > 0 { magnitude.append(UInt8(carry)) }
        }
        magnitude.append(0)  // room for the sign bit
        if negative {
            var carry: UInt16 = 1
            for i in magnitude.indices {
                let v = UInt16(~magnitude[i]) + carry
                magnitude[i] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
        }
        return integer(twosComplement: magnitude)
    }

    /// An integer from little-endian two's-complement bytes (LONG1/LONG4): inline when it fits
    /// 64 bits, else minimal bytes.
    func integer(twosComplement bytes: [UInt8]) -> Item {
        guard !bytes.isEmpty else { return .int(0) }
        let negative = bytes.last! & 0x80 != 0
        var minimal = bytes
        let fill: UInt8 = negative ? 0xFF : 0
        while minimal.count > 1 && minimal.last == fill && (minimal[minimal.count - 2] & 0x80 != 0) == negative {
            minimal.removeLast()
        }
        guard minimal.count <= 8 else { return .bigInt(minimal) }
        var value: UInt64 = negative ? .max : 0
        for (i, b) in minimal.enumerated() {
            value &= ~(UInt64(0xFF) << (8 * i))
            value |= UInt64(b) << (8 * i)
        }
        return .int(Int64(bitPattern: value))
    }

    // MARK: Running

    mutating func run() throws(PickleError) -> Item {
        let start = position
        while true {
            at = position
            guard position < input.count else { throw .truncated(opcode: Op.stop, offset: at) }
            code = input[position]
            position += 1
            switch code {
            case Op.proto:
                guard at == start else { throw .protoNotFirst(offset: at) }
                let version = Int(try byte())
                guard version <= Pickle.highestProtocol else { throw .unsupportedProtocol(version, offset: at) }
            case Op.frame:
                _ = try length(8)  // framing only groups opcodes; the length is checked, not used
            case Op.stop:
                guard marks.isEmpty, stack.count == 1 else { throw .unbalancedStop(offset: at) }
                return stack[0]

            case Op.mark:
                guard marks.count < Pickle.maxMarkDepth else {
                    throw .limitExceeded(limit: "Pickle.maxMarkDepth", value: Pickle.maxMarkDepth, offset: at)
                }
                marks.append(stack.count)
            case Op.pop:
                // CPython's load_pop: a value if the current frame has one, else the MARK.
                if stack.count > (marks.last ?? 0) {
                    stack.removeLast()
                } else if !marks.isEmpty {
                    marks.removeLast()
                } else {
                    throw .stackUnderflow(opcode: code, offset: at)
                }
            case Op.popMark: _ = try popMark()
            case Op.dup: try push(try top())

            case Op.none: try push(.none)
            case Op.newTrue: try push(.bool(true))
            case Op.newFalse: try push(.bool(false))
            case Op.int:
                let text = try line()
                // Protocol 0 booleans (pickle.py load_int).
                if text == Array("01".utf8) {
                    try push(.bool(true))
                } else if text == Array("00".utf8) {
                    try push(.bool(false))
                } else {
                    try push(try decimal(text))
                }
            case Op.binInt: try push(.int(Int64(Int32(bitPattern: UInt32(try littleEndian(4))))))
            case Op.binInt1: try push(.int(Int64(try byte())))
            case Op.binInt2: try push(.int(Int64(try littleEndian(2))))
            case Op.long:
                var text = try line()
                if text.last == UInt8(ascii: "L") { text.removeLast() }
                try push(try decimal(text))
            case Op.long1: try push(integer(twosComplement: Array(try take(length(1)))))
            case Op.long4: try push(integer(twosComplement: Array(try take(length(4, signed: true)))))
            case Op.float:
                let text = String(decoding: try line(), as: UTF8.self)
                guard let value = Double(text) else {
                    throw .invalidArgument(opcode: code, reason: "'\(text)' is not a float", offset: at)
                }
                try push(.float(value))
            case Op.binFloat:
                let bits = try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }  // big-endian
                try push(.float(Double(bitPattern: bits)))

            case Op.string: try push(.string(try utf8(try quotedString(try line()))))
            case Op.binString: try push(.string(try utf8(try take(length(4, signed: true)))))
            case Op.shortBinString: try push(.string(try utf8(try take(length(1)))))
            case Op.unicode: try push(.string(try rawUnicodeEscape(try line())))
            case Op.binUnicode: try push(.string(try utf8(try take(length(4)))))
            case Op.shortBinUnicode: try push(.string(try utf8(try take(length(1)))))
            case Op.binUnicode8: try push(.string(try utf8(try take(length(8)))))
            case Op.binBytes: try push(.bytes(Array(try take(length(4)))))
            case Op.shortBinBytes: try push(.bytes(Array(try take(length(1)))))
            case Op.binBytes8, Op.byteArray8: try push(.bytes(Array(try take(length(8)))))

            case Op.emptyTuple: try push(try allocate(TupleNode([], offset: at)))
            case Op.tuple: try push(try allocate(TupleNode(try popMark(), offset: at)))
            case Op.tuple1, Op.tuple2, Op.tuple3:
                let n = Int(code - Op.tuple1) + 1
                var items: [Item] = []
                for _ in 0..<n { items.append(try pop()) }
                try push(try allocate(TupleNode(items.reversed(), offset: at)))
            case Op.emptyList: try push(try allocate(ListNode(offset: at)))
            case Op.list:
                let list = ListNode(offset: at)
                list.items = try popMark()
                try push(try allocate(list))
            case Op.append:
                let value = try pop()
                try node(try top(), as: ListNode.self, expected: "a list").items.append(value)
            case Op.appends:
                let items = try popMark()
                try node(try top(), as: ListNode.self, expected: "a list").items.append(contentsOf: items)
            case Op.emptyDict: try push(try allocate(DictNode(offset: at)))
            case Op.dict:
                let items = try popMark()
                let dict = DictNode(offset: at)
                try fill(dict, items)
                try push(try allocate(dict))
            case Op.setItem:
                let value = try pop()
                let key = try pop()
                try setItem(try node(try top(), as: DictNode.self, expected: "a dict"), key, value)
            case Op.setItems:
                let items = try popMark()
                try fill(try node(try top(), as: DictNode.self, expected: "a dict"), items)
            case Op.emptySet: try push(try allocate(SetNode(frozen: false, offset: at)))
            case Op.addItems:
                let items = try popMark()
                let set = try node(try top(), as: SetNode.self, expected: "a set")
                guard !set.frozen else { throw .wrongType(opcode: code, expected: "a set", got: "frozenset", offset: at) }
                try addToSet(set, items)
            case Op.frozenSet:
                let set = SetNode(frozen: true, offset: at)
                try addToSet(set, try popMark())
                try push(try allocate(set))

            case Op.global:
                let module = try utf8(try line())
                let name = try utf8(try line())
                try push(.global(module, name))
            case Op.stackGlobal:
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw .wrongType(opcode: code, expected: "two strings", got: "other values", offset: at)
                }
                try push(.global(module, name))
            case Op.reduce:
                let args = try tupleItems(try pop())
                try push(try construct(try pop(), args: args, kwargs: [], how: .reduce))
            case Op.newObj:
                let args = try tupleItems(try pop())
                try push(try construct(try pop(), args: args, kwargs: [], how: .newObject))
            case Op.newObjEx:
                let kwargs = try node(try pop(), as: DictNode.self, expected: "a dict of keyword arguments")
                let args = try tupleItems(try pop())
                try push(try construct(try pop(), args: args, kwargs: Array(zip(kwargs.keys, kwargs.values)), how: .newObject))
            case Op.inst:
                let module = try utf8(try line())
                let name = try utf8(try line())
                try push(try construct(.global(module, name), args: try popMark(), kwargs: [], how: .instance))
            case Op.obj:
                var items = try popMark()
                guard !items.isEmpty else { throw .stackUnderflow(opcode: code, offset: at) }
                let cls = items.removeFirst()
                try push(try construct(cls, args: items, kwargs: [], how: .instance))
            case Op.build:
                let state = try pop()
                let target = try top()
                if case .ref(let i) = target, let object = heap[i] as? ObjectNode {
                    object.state = state
                } else if case .ref(let i) = target, heap[i] is DictNode {
                    // An OrderedDict's attributes (a state dict's `_metadata`): not data, dropped.
                } else {
                    throw .wrongType(opcode: code, expected: "an object", got: kindName(target), offset: at)
                }

            case Op.persID:
                let id = try line()
                guard id.allSatisfy({ $0 < 0x80 }) else {
                    throw .invalidArgument(opcode: code, reason: "persistent id is not ASCII", offset: at)
                }
                try push(try allocate(PersistentNode(.string(String(decoding: id, as: UTF8.self)), offset: at)))
            case Op.binPersID: try push(try allocate(PersistentNode(try pop(), offset: at)))

            case Op.get:
                guard case .int(let i) = try decimal(try line()), i >= 0 else {
                    throw .invalidArgument(opcode: code, reason: "bad memo index", offset: at)
                }
                try memoGet(UInt64(i))
            case Op.binGet: try memoGet(UInt64(try byte()))
            case Op.longBinGet: try memoGet(try littleEndian(4))
            case Op.put:
                guard case .int(let i) = try decimal(try line()), i >= 0 else {
                    throw .invalidArgument(opcode: code, reason: "bad memo index", offset: at)
                }
                try memoize(UInt64(i))
            case Op.binPut: try memoize(UInt64(try byte()))
            case Op.longBinPut: try memoize(try littleEndian(4))
            case Op.memoize: try memoize(UInt64(memo.count))

            default: throw .unsupportedOpcode(code, offset: at)
            }
        }
    }

    mutating func fill(_ dict: DictNode, _ items: [Item]) throws(PickleError) {
        guard items.count % 2 == 0 else {
            throw .invalidArgument(opcode: code, reason: "odd number of items for key/value pairs", offset: at)
        }
        for i in stride(from: 0, to: items.count, by: 2) { try setItem(dict, items[i], items[i + 1]) }
    }

    func tupleItems(_ item: Item) throws(PickleError) -> [Item] {
        try node(item, as: TupleNode.self, expected: "a tuple of arguments").items
    }

    /// REDUCE/NEWOBJ/INST/OBJ: the three pure constructors become data; anything else an inert object.
    mutating func construct(_ callable: Item, args: [Item], kwargs: [(Item, Item)], how: PickleObject.Construction) throws(PickleError)
        -> Item
    {
        if case .global(let module, let name) = callable, kwargs.isEmpty {
            switch (module, name) {
            case ("collections", "OrderedDict") where args.isEmpty:
                return try allocate(DictNode(offset: at))
            case ("collections", "OrderedDict") where args.count == 1:
                // OrderedDict(pairs): a list or tuple of 2-tuples.
                let dict = DictNode(offset: at)
                let pairs: [Item]
                if case .ref(let i) = args[0], let list = heap[i] as? ListNode {
                    pairs = list.items
                } else {
                    pairs = try tupleItems(args[0])
                }
                for pair in pairs {
                    let kv = try tupleItems(pair)
                    guard kv.count == 2 else {
                        throw .wrongType(opcode: code, expected: "(key, value) pairs", got: "a \(kv.count)-tuple", offset: at)
                    }
                    try setItem(dict, kv[0], kv[1])
                }
                return try allocate(dict)
            case ("builtins", "bytes") where args.isEmpty, ("__builtin__", "bytes") where args.isEmpty:
                // Protocols 0-2 write an empty bytes object as bytes() (pickle.py save_bytes).
                return .bytes([])
            case ("torch", "Size") where args.count == 1:
                return try allocate(TupleNode(try tupleItems(args[0]), offset: at))
            case ("_codecs", "encode") where args.count == 2:
                // Protocol 2's bytes: _codecs.encode(text, "latin1") (pickle.py save_bytes).
                guard case .string(let text) = args[0], case .string(let encoding) = args[1], ["latin1", "latin-1"].contains(encoding)
                else {
                    break
                }
                var bytes: [UInt8] = []
                for scalar in text.unicodeScalars {
                    guard scalar.value <= 0xFF else {
                        throw .invalidArgument(opcode: code, reason: "text is not latin-1", offset: at)
                    }
                    bytes.append(UInt8(scalar.value))
                }
                return .bytes(bytes)
            default: break
            }
        }
        return try allocate(ObjectNode(callable: callable, args: args, kwargs: kwargs, construction: how, offset: at))
    }

    /// Protocol 0 STRING: a Python 2 repr, quoted, with backslash escapes (codecs.escape_decode).
    func quotedString(_ text: [UInt8]) throws(PickleError) -> [UInt8] {
        guard text.count >= 2, let quote = text.first, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\""), text.last == quote else {
            throw .invalidArgument(opcode: code, reason: "STRING argument is not quoted", offset: at)
        }
        let body = text[1..<(text.count - 1)]
        var out: [UInt8] = []
        var i = body.startIndex
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: b - 0x30
            case 0x61...0x66: b - 0x61 + 10
            case 0x41...0x46: b - 0x41 + 10
            default: nil
            }
        }
        while i < body.endIndex {
            let b = body[i]
            i += 1
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                continue
            }
            guard i < body.endIndex else { throw .invalidArgument(opcode: code, reason: "trailing backslash", offset: at) }
            let e = body[i]
            i += 1
            switch e {
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "x"):
                guard body.endIndex - i >= 2, let h = hex(body[i]), let l = hex(body[i + 1]) else {
                    throw .invalidArgument(opcode: code, reason: "invalid \\x escape", offset: at)
                }
                out.append(h << 4 | l)
                i += 2
            case 0x30...0x37:
                var value = Int(e - 0x30)
                var n = 1
                while n < 3, i < body.endIndex, (0x30...0x37).contains(body[i]) {
                    value = value * 8 + Int(body[i] - 0x30)
                    i += 1
                    n += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            default: out.append(contentsOf: [b, e])
            }
        }
        return out
    }

    /// Protocol 0 UNICODE: raw-unicode-escape, i.e. latin-1 bytes where \uXXXX and \UXXXXXXXX
    /// (after an odd run of backslashes) are code points.
    func rawUnicodeEscape(_ bytes: [UInt8]) throws(PickleError) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        var backslashes = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\"), backslashes % 2 == 0, i + 1 < bytes.count,
                bytes[i + 1] == UInt8(ascii: "u") || bytes[i + 1] == UInt8(ascii: "U")
            {
                let width = bytes[i + 1] == UInt8(ascii: "u") ? 4 : 8
                let digits = bytes.dropFirst(i + 2).prefix(width)
                guard digits.count == width, let value = UInt32(String(decoding: digits, as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(value)
                else { throw .invalidArgument(opcode: code, reason: "invalid \\u escape", offset: at) }
                scalars.append(scalar)
                i += 2 + width
                backslashes = 0
                continue
            }
            backslashes = b == UInt8(ascii: "\\") ? backslashes + 1 : 0
            scalars.append(Unicode.Scalar(b))
            i += 1
        }
        return String(scalars)
    }
}

// MARK: - From the heap to values

/// Turns the machine's heap into `PickleValue`s: each node converted once (shared nodes share
/// storage), cycles refused, nesting and repeated size bounded.
private struct Converter {
    let heap: [Node]
    let stopOffset: Int
    var done: [Int: (value: PickleValue, size: Int)] = [:]
    var inProgress: Set<Int> = []
    var budget = Pickle.maxValueNodes

    init(heap: [Node], stopOffset: Int) {
        self.heap = heap
        self.stopOffset = stopOffset
    }

    mutating func convert(_ item: Item, depth: Int) throws(PickleError) -> PickleValue {
        try convertCounting(item, depth: depth).value
    }

    mutating func spend(_ size: Int, offset: Int) throws(PickleError) {
        budget -= size
        guard budget >= 0 else { throw .limitExceeded(limit: "Pickle.maxValueNodes", value: Pickle.maxValueNodes, offset: offset) }
    }

    mutating func convertCounting(_ item: Item, depth: Int) throws(PickleError) -> (value: PickleValue, size: Int) {
        let value: PickleValue
        switch item {
        case .none: value = .none
        case .bool(let b): value = .bool(b)
        case .int(let i): value = .int(i)
        case .bigInt(let b): value = .bigInt(b)
        case .float(let d): value = .float(d)
        case .string(let s): value = .string(s)
        case .bytes(let b): value = .bytes(b)
        case .global(let m, let n): value = .global(module: m, name: n)
        case .ref(let i): return try convertNode(i, depth: depth)
        }
        try spend(1, offset: stopOffset)
        return (value, 1)
    }

    mutating func convertNode(_ index: Int, depth: Int) throws(PickleError) -> (value: PickleValue, size: Int) {
        let node = heap[index]
        if let cached = done[index] {
            try spend(cached.size, offset: node.offset)
            return cached
        }
        guard depth < Pickle.maxNestingDepth else {
            throw .limitExceeded(limit: "Pickle.maxNestingDepth", value: Pickle.maxNestingDepth, offset: node.offset)
        }
        guard inProgress.insert(index).inserted else { throw .selfReference(offset: node.offset) }
        var size = 1
        func each(_ items: [Item]) throws(PickleError) -> [PickleValue] {
            var values: [PickleValue] = []
            values.reserveCapacity(items.count)
            for item in items {
                let (v, s) = try convertCounting(item, depth: depth + 1)
                values.append(v)
                size += s
            }
            return values
        }
        func pairs(_ keys: [Item], _ values: [Item]) throws(PickleError) -> [PickleDictEntry] {
            let k = try each(keys)
            let v = try each(values)
            return zip(k, v).map { PickleDictEntry(key: $0, value: $1) }
        }
        let value: PickleValue
        switch node {
        case let t as TupleNode: value = .tuple(try each(t.items))
        case let l as ListNode: value = .list(try each(l.items))
        case let d as DictNode: value = .dict(try pairs(d.keys, d.values))
        case let s as SetNode: value = s.frozen ? .frozenSet(try each(s.items)) : .set(try each(s.items))
        case let o as ObjectNode:
            let callable = try each([o.callable])[0]
            let args = try each(o.args)
            let kwargs = try pairs(o.kwargs.map(\.0), o.kwargs.map(\.1))
            var state: PickleValue?
            if let s = o.state { state = try each([s])[0] }
            value = .object(
                PickleObject(callable: callable, args: args, kwargs: kwargs, state: state, construction: o.construction, offset: o.offset))
        case let p as PersistentNode: value = .persistentID(try each([p.id])[0])
        default: value = .none
        }
        inProgress.remove(index)
        try spend(1, offset: node.offset)
        done[index] = (value, size)
        return (value, size)
    }
}
