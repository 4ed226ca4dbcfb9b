import LSRFormats
import Testing

/// The restricted pickle machine: values built from pickles written by CPython 3.11
/// (`pickle.dumps`, protocols 0-5), and every rejection rule with a crafted byte literal and
/// the exact error (opcode offsets are within the literal).
@Suite struct PickleTests {
    func parse(_ bytes: [UInt8]) throws(PickleError) -> PickleValue { try Pickle.parse(bytes) }

    func expect(_ error: PickleError, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: error, sourceLocation: sourceLocation) { try parse(bytes) }
    }

    // Opcode bytes (pickletools.py).
    static let proto2: [UInt8] = [0x80, 2]
    static let stop: UInt8 = 0x2E, mark: UInt8 = 0x28, none: UInt8 = 0x4E, emptyList: UInt8 = 0x5D, emptyDict: UInt8 = 0x7D
    static let emptyTuple: UInt8 = 0x29, append: UInt8 = 0x61, appends: UInt8 = 0x65, setItem: UInt8 = 0x73, reduce: UInt8 = 0x52
    static let pop: UInt8 = 0x30, tuple1: UInt8 = 0x85, build: UInt8 = 0x62

    static func unicode(_ s: String) -> [UInt8] {
        let u = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(u.count).littleEndian, Array.init) + u
    }
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static func binput(_ i: UInt8) -> [UInt8] { [0x71, i] }
    static func binget(_ i: UInt8) -> [UInt8] { [0x68, i] }
    static func int1(_ i: UInt8) -> [UInt8] { [0x4B, i] }

    // MARK: Values

    @Test func protocol0() throws {
        // pickle.dumps({'a': [1, 2.5, None, True], 'b': (b'xy', '€'), 'c': frozenset(), 'd': {1, 2}}, protocol=0)
        let bytes = Array(
            "(dp0\nVa\np1\n(lp2\nI1\naF2.5\naNaI01\nasVb\np3\n(c_codecs\nencode\np4\n(Vxy\np5\nVlatin1\np6\ntp7\nRp8\nV\\u20ac\np9\ntp10\nsVc\np11\nc__builtin__\nfrozenset\np12\n((lp13\ntp14\nRp15\nsVd\np16\nc__builtin__\nset\np17\n((lp18\nI1\naI2\natp19\nRp20\ns."
                .utf8)
        let set = PickleObject(callable: .global(module: "__builtin__", name: "set"), args: [.list([.int(1), .int(2)])], offset: 204)
        let frozen = PickleObject(callable: .global(module: "__builtin__", name: "frozenset"), args: [.list([])], offset: 150)
        #expect(
            try parse(bytes)
                == .dict([
                    .init(key: .string("a"), value: .list([.int(1), .float(2.5), .none, .bool(true)])),
                    .init(key: .string("b"), value: .tuple([.bytes(Array("xy".utf8)), .string("€")])),
                    .init(key: .string("c"), value: .object(frozen)),
                    .init(key: .string("d"), value: .object(set)),
                ]))
    }

    @Test func protocol2() throws {
        // pickle.dumps({'a': [1, 2.5, None, True], 'b': (b'xy', '€', -70000, 300, 2**70), 'c': set()}, protocol=2)
        let bytes: [UInt8] = [
            128, 2, 125, 113, 0, 40, 88, 1, 0, 0, 0, 97, 113, 1, 93, 113, 2, 40, 75, 1, 71, 64, 4, 0, 0, 0, 0, 0, 0, 78, 136, 101, 88, 1, 0,
            0, 0, 98, 113, 3, 40, 99, 95, 99, 111, 100, 101, 99, 115, 10, 101, 110, 99, 111, 100, 101, 10, 113, 4, 88, 2, 0, 0, 0, 120, 121,
            113, 5, 88, 6, 0, 0, 0, 108, 97, 116, 105, 110, 49, 113, 6, 134, 113, 7, 82, 113, 8, 88, 3, 0, 0, 0, 226, 130, 172, 113, 9, 74,
            144, 238, 254, 255, 77, 44, 1, 138, 9, 0, 0, 0, 0, 0, 0, 0, 0, 64, 116, 113, 10, 88, 1, 0, 0, 0, 99, 113, 11, 99, 95, 95, 98,
            117, 105, 108, 116, 105, 110, 95, 95, 10, 115, 101, 116, 10, 113, 12, 93, 113, 13, 133, 113, 14, 82, 113, 15, 117, 46,
        ]
        let set = PickleObject(callable: .global(module: "__builtin__", name: "set"), args: [.list([])], offset: 152)
        #expect(
            try parse(bytes)
                == .dict([
                    .init(key: .string("a"), value: .list([.int(1), .float(2.5), .none, .bool(true)])),
                    .init(
                        key: .string("b"),
                        value: .tuple([
                            .bytes(Array("xy".utf8)), .string("€"), .int(-70000), .int(300), .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0x40]),
                        ])),
                    .init(key: .string("c"), value: .object(set)),
                ]))
    }

    @Test func protocol4And5() throws {
        // pickle.dumps({'a': [1, 2.5, None, True], 'b': (b'xy', '€', -70000, 300, 2**70), 'c': {3}, 'f': frozenset([1])}, protocol=4)
        let four: [UInt8] = [
            128, 4, 149, 82, 0, 0, 0, 0, 0, 0, 0, 125, 148, 40, 140, 1, 97, 148, 93, 148, 40, 75, 1, 71, 64, 4, 0, 0, 0, 0, 0, 0, 78, 136,
            101, 140, 1, 98, 148, 40, 67, 2, 120, 121, 148, 140, 3, 226, 130, 172, 148, 74, 144, 238, 254, 255, 77, 44, 1, 138, 9, 0, 0, 0,
            0, 0, 0, 0, 0, 64, 116, 148, 140, 1, 99, 148, 143, 148, 40, 75, 3, 144, 140, 1, 102, 148, 40, 75, 1, 145, 148, 117, 46,
        ]
        #expect(
            try parse(four)
                == .dict([
                    .init(key: .string("a"), value: .list([.int(1), .float(2.5), .none, .bool(true)])),
                    .init(
                        key: .string("b"),
                        value: .tuple([
                            .bytes(Array("xy".utf8)), .string("€"), .int(-70000), .int(300), .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0x40]),
                        ])),
                    .init(key: .string("c"), value: .set([.int(3)])),
                    .init(key: .string("f"), value: .frozenSet([.int(1)])),
                ]))
        // pickle.dumps([bytearray(b'ab'), b'c'], protocol=5)
        let five: [UInt8] = [
            128, 5, 149, 21, 0, 0, 0, 0, 0, 0, 0, 93, 148, 40, 150, 2, 0, 0, 0, 0, 0, 0, 0, 97, 98, 148, 67, 1, 99, 148, 101, 46,
        ]
        #expect(try parse(five) == .list([.bytes([97, 98]), .bytes([99])]))
    }

    @Test func protocol0Texts() throws {
        // STRING with escapes, UNICODE with raw-unicode-escape, LONG beyond 64 bits, negative INT, FLOAT.
        let bytes = Array("(S'a\\'b\\x41\\n\\101'\nVx\\u20ac\\\\u0041\nL-18446744073709551616L\nI-5\nF-1.5e3\nt.".utf8)
        #expect(
            try parse(bytes)
                == .tuple([
                    .string("a'bA\nA"), .string("x€\\\\u0041"), .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0xFF]), .int(-5), .float(-1500),
                ]))
        #expect(try parse(Array("L9223372036854775807L\n.".utf8)) == .int(.max))
        #expect(try parse(Array("I-9223372036854775808\n.".utf8)) == .int(.min))
    }

    @Test func longOpcodes() throws {
        #expect(try parse(Self.proto2 + [0x8A, 0, Self.stop]) == .int(0))
        #expect(try parse(Self.proto2 + [0x8A, 2, 0xFF, 0xFF, Self.stop]) == .int(-1))
        #expect(try parse(Self.proto2 + [0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, Self.stop]) == .int(.min))
        #expect(try parse(Self.proto2 + [0x8B, 2, 0, 0, 0, 0x01, 0x80, Self.stop]) == .int(-32767))
    }

    @Test func containersAreSharedLikePythonReferences() throws {
        // [d] where d is filled after it was memoized and appended: the list sees the filled dict.
        let bytes =
            Self.proto2 + [Self.emptyList] + Self.binput(0) + [Self.emptyDict] + Self.binput(1) + [Self.append] + Self.binget(1)
            + Self.unicode("k") + [Self.none, Self.setItem, Self.pop, Self.stop]
        #expect(try parse(bytes) == .list([.dict([.init(key: .string("k"), value: .none)])]))
    }

    @Test func dictKeysFollowPythonEquality() throws {
        // {1: 'a', True: 'b', 1.0: 'c'} is {1: 'c'} in Python; a repeated key keeps its first position.
        let bytes =
            Self.proto2 + [Self.emptyDict, Self.mark] + Self.int1(1) + Self.unicode("a") + Self.int1(2) + Self.unicode("x") + [0x88]
            + Self.unicode("b") + [0x47, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0] + Self.unicode("c") + [0x75, Self.stop]
        #expect(try parse(bytes) == .dict([.init(key: .int(1), value: .string("c")), .init(key: .int(2), value: .string("x"))]))
    }

    @Test func globalsStayInert() throws {
        // os.system('x') REDUCEd: an object that holds the call as data.
        let bytes = Self.proto2 + Self.global("os", "system") + Self.unicode("x") + [Self.tuple1, Self.reduce, Self.stop]
        #expect(
            try parse(bytes) == .object(PickleObject(callable: .global(module: "os", name: "system"), args: [.string("x")], offset: 20)))
        // A Namespace: NEWOBJ, then BUILD with its attributes.
        let namespace =
            Self.proto2 + Self.global("argparse", "Namespace") + [Self.emptyTuple, 0x81, Self.emptyDict] + Self.unicode("lr")
            + [0x47, 0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A, Self.setItem, Self.build, Self.stop]
        let expected = PickleObject(
            callable: .global(module: "argparse", name: "Namespace"), args: [],
            state: .dict([.init(key: .string("lr"), value: .float(0.1))]),
            construction: .newObject, offset: 23)
        #expect(try parse(namespace) == .object(expected))
        // INST and OBJ (protocols 0 and 1) make the same inert objects.
        #expect(
            try parse(Array("(S'x'\nios\nsystem\n.".utf8))
                == .object(
                    PickleObject(callable: .global(module: "os", name: "system"), args: [.string("x")], construction: .instance, offset: 6))
        )
        #expect(
            try parse([Self.mark] + Self.global("os", "system") + Self.unicode("x") + [0x6F, Self.stop])
                == .object(
                    PickleObject(callable: .global(module: "os", name: "system"), args: [.string("x")], construction: .instance, offset: 18)
                ))
        // NEWOBJ_EX keeps keyword arguments.
        let ex =
            Self.proto2 + Self.global("m", "C") + [Self.emptyTuple, Self.emptyDict] + Self.unicode("k") + [
                Self.none, Self.setItem, 0x92, Self.stop,
            ]
        #expect(
            try parse(ex)
                == .object(
                    PickleObject(
                        callable: .global(module: "m", name: "C"), args: [], kwargs: [.init(key: .string("k"), value: .none)],
                        construction: .newObject, offset: 17)))
        // STACK_GLOBAL + MEMOIZE (protocol 4).
        let stackGlobal = [0x80, 4, 0x8C, 2] + Array("os".utf8) + [0x94, 0x8C, 6] + Array("system".utf8) + [0x94, 0x93, Self.stop]
        #expect(try parse(stackGlobal) == .global(module: "os", name: "system"))
    }

    @Test func pureConstructors() throws {
        // OrderedDict() filled by SETITEMS, torch.Size((2, 3)), _codecs.encode('\xff', 'latin1').
        let ordered =
            Self.proto2 + Self.global("collections", "OrderedDict") + [Self.emptyTuple, Self.reduce, Self.mark] + Self.unicode("a") + [
                Self.none, 0x75, Self.stop,
            ]
        #expect(try parse(ordered) == .dict([.init(key: .string("a"), value: .none)]))
        let size = Self.proto2 + Self.global("torch", "Size") + Self.int1(2) + Self.int1(3) + [0x86, Self.tuple1, Self.reduce, Self.stop]
        #expect(try parse(size) == .tuple([.int(2), .int(3)]))
        let encode =
            Self.proto2 + Self.global("_codecs", "encode") + Self.unicode("\u{FF}a") + Self.unicode("latin1") + [
                0x86, Self.reduce, Self.stop,
            ]
        #expect(try parse(encode) == .bytes([0xFF, 0x61]))
    }

    @Test func persistentIDsAreLeftToTheCaller() throws {
        let bin = Self.proto2 + [Self.mark] + Self.unicode("storage") + Self.unicode("0") + [0x74, 0x51, Self.stop]
        #expect(try parse(bin) == .persistentID(.tuple([.string("storage"), .string("0")])))
        #expect(try parse(Array("P12\n.".utf8)) == .persistentID(.string("12")))
    }

    @Test func popRemovesAMarkWhenTheFrameIsEmpty() throws {
        // CPython's load_pop: POP after MARK pops the mark.
        #expect(try parse(Self.proto2 + [Self.none, Self.mark, Self.pop, Self.stop]) == .none)
        #expect(try parse(Self.proto2 + [Self.none, Self.mark, Self.none, 0x31, Self.stop]) == .none)  // POP_MARK
        #expect(try parse(Self.proto2 + [Self.none, 0x32, 0x86, Self.stop]) == .tuple([.none, .none]))  // DUP
    }

    @Test func consecutivePickles() throws {
        let bytes = Self.proto2 + Self.int1(1) + [Self.stop] + Self.proto2 + Self.int1(2) + [Self.stop]
        try bytes.withUnsafeBytes { raw in
            let (first, end) = try Pickle.parse(raw, from: 0)
            #expect(first == .int(1) && end == 5)
            let (second, end2) = try Pickle.parse(raw, from: end)
            #expect(second == .int(2) && end2 == 10)
        }
        expect(.trailingBytes(offset: 5), bytes)
    }

    // MARK: Rejections

    @Test func truncatedInput() {
        expect(.truncated(opcode: 0x4A, offset: 2), Self.proto2 + [0x4A, 1, 2])
        expect(.truncated(opcode: 0x2E, offset: 3), Self.proto2 + [Self.none])  // no STOP
        expect(.truncated(opcode: 0x63, offset: 2), Self.proto2 + Array("cos\nsys".utf8))  // no newline
        expect(.truncated(opcode: 0x80, offset: 0), [0x80])
    }

    @Test func lengthsBoundedByTheBytesLeft() {
        // Declared lengths far past the end: refused before anything is allocated.
        expect(.truncated(opcode: 0x58, offset: 2), Self.proto2 + [0x58, 0xF0, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4])
        expect(.truncated(opcode: 0x8E, offset: 2), Self.proto2 + [0x8E] + [UInt8](repeating: 0xFF, count: 8))
        expect(.truncated(opcode: 0x8D, offset: 2), Self.proto2 + [0x8D, 0, 0, 0, 0, 0, 0, 0, 0x80])
        expect(.truncated(opcode: 0x8A, offset: 2), Self.proto2 + [0x8A, 255, 1, 2, 3, 4, 5])
        expect(.truncated(opcode: 0x8B, offset: 2), Self.proto2 + [0x8B, 0xF0, 0xFF, 0xFF, 0x7F, 1])
        expect(.truncated(opcode: 0x42, offset: 2), Self.proto2 + [0x42, 0x00, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4])
        expect(.truncated(opcode: 0x95, offset: 2), Self.proto2 + [0x95, 0xFF, 0, 0, 0, 0, 0, 0, 0, Self.none, Self.stop])
    }

    @Test func negativeLengths() {
        expect(
            .invalidArgument(opcode: 0x54, reason: "negative length", offset: 2), Self.proto2 + [0x54, 0xFF, 0xFF, 0xFF, 0xFF, Self.stop])
        expect(
            .invalidArgument(opcode: 0x8B, reason: "negative length", offset: 2), Self.proto2 + [0x8B, 0xFF, 0xFF, 0xFF, 0xFF, Self.stop])
    }

    @Test func unsupportedOpcodes() {
        expect(.unsupportedOpcode(0xFF, offset: 2), Self.proto2 + [0xFF])
        expect(.unsupportedOpcode(0x82, offset: 2), Self.proto2 + [0x82, 1, Self.stop])  // EXT1: the copyreg registry
        expect(.unsupportedOpcode(0x97, offset: 2), [0x80, 5, 0x97, Self.stop])  // NEXT_BUFFER: out-of-band data
        expect(.unsupportedOpcode(0x00, offset: 0), [0x00])
    }

    @Test func protoOnlyFirst() {
        expect(.protoNotFirst(offset: 2), Self.proto2 + [0x80, 2, Self.none, Self.stop])
        expect(.protoNotFirst(offset: 1), [Self.none, 0x80, 2, Self.stop])
        expect(.unsupportedProtocol(6, offset: 0), [0x80, 6, Self.none, Self.stop])
    }

    @Test func stackUnderflow() {
        expect(.stackUnderflow(opcode: Self.pop, offset: 2), Self.proto2 + [Self.pop])
        expect(.stackUnderflow(opcode: 0x86, offset: 3), Self.proto2 + [Self.none, 0x86, Self.stop])
        // Values below a MARK are out of reach.
        expect(.stackUnderflow(opcode: Self.reduce, offset: 4), Self.proto2 + [Self.none, Self.mark, Self.reduce, Self.stop])
        expect(.stackUnderflow(opcode: 0x6F, offset: 1), [Self.mark, 0x6F, Self.stop])  // OBJ without a class
    }

    @Test func markRequired() {
        expect(.missingMark(opcode: 0x75, offset: 3), Self.proto2 + [Self.emptyDict, 0x75, Self.stop])
        expect(.missingMark(opcode: 0x74, offset: 2), Self.proto2 + [0x74, Self.stop])
        expect(.missingMark(opcode: 0x31, offset: 2), Self.proto2 + [0x31, Self.stop])
    }

    @Test func exactlyOneValueAtStop() {
        expect(.unbalancedStop(offset: 2), Self.proto2 + [Self.stop])
        expect(.unbalancedStop(offset: 4), Self.proto2 + [Self.none, Self.none, Self.stop])
        expect(.unbalancedStop(offset: 4), Self.proto2 + [Self.mark, Self.none, Self.stop])
    }

    @Test func memoGetOfMissingIndex() {
        expect(.memoMissing(index: 7, offset: 2), Self.proto2 + Self.binget(7) + [Self.stop])
        expect(.memoMissing(index: 0xFFFF_FFFF, offset: 2), Self.proto2 + [0x6A, 0xFF, 0xFF, 0xFF, 0xFF, Self.stop])
        expect(.memoMissing(index: 3, offset: 2), Self.proto2 + Array("g3\n.".utf8))
    }

    @Test func sparseMemoIndices() throws {
        // LONG_BINPUT 2³²−1: the memo is a dictionary, nothing is sized from the index.
        #expect(
            try parse(Self.proto2 + [Self.none, 0x72, 0xFF, 0xFF, 0xFF, 0xFF, Self.pop, 0x6A, 0xFF, 0xFF, 0xFF, 0xFF, Self.stop]) == .none)
    }

    @Test func operandKinds() {
        let onList = Self.proto2 + [Self.emptyList] + Self.unicode("k") + [Self.none, Self.setItem, Self.stop]
        expect(.wrongType(opcode: Self.setItem, expected: "a dict", got: "list", offset: 10), onList)
        let setItemsOnList = Self.proto2 + [Self.emptyList, Self.mark, Self.none, Self.none, 0x75, Self.stop]
        expect(.wrongType(opcode: 0x75, expected: "a dict", got: "list", offset: 6), setItemsOnList)
        expect(
            .wrongType(opcode: Self.append, expected: "a list", got: "dict", offset: 4),
            Self.proto2 + [Self.emptyDict, Self.none, Self.append, Self.stop])
        expect(
            .wrongType(opcode: Self.appends, expected: "a list", got: "tuple", offset: 5),
            Self.proto2 + [Self.emptyTuple, Self.mark, Self.none, Self.appends, Self.stop])
        expect(
            .wrongType(opcode: 0x90, expected: "a set", got: "frozenset", offset: 6),
            Self.proto2 + [Self.mark, 0x91, Self.mark, Self.none, 0x90, Self.stop])
        expect(
            .wrongType(opcode: Self.reduce, expected: "a tuple of arguments", got: "None", offset: 14),
            Self.proto2 + Self.global("os", "system") + [Self.none, Self.reduce, Self.stop])
        expect(
            .wrongType(opcode: Self.build, expected: "an object", got: "list", offset: 4),
            Self.proto2 + [Self.emptyList, Self.emptyDict, Self.build, Self.stop])
        expect(
            .wrongType(opcode: 0x93, expected: "two strings", got: "other values", offset: 6),
            Self.proto2 + Self.int1(1) + Self.int1(2) + [0x93, Self.stop])
        expect(
            .wrongType(opcode: 0x92, expected: "a dict of keyword arguments", got: "None", offset: 9),
            Self.proto2 + Self.global("m", "C") + [Self.emptyTuple, Self.none, 0x92, Self.stop])
    }

    @Test func malformedArguments() {
        func invalid(_ code: UInt8, _ reason: String, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
            expect(.invalidArgument(opcode: code, reason: reason, offset: 0), bytes, sourceLocation: sourceLocation)
        }
        invalid(0x49, "'12x' is not a decimal integer", Array("I12x\n.".utf8))
        invalid(0x46, "'abc' is not a float", Array("Fabc\n.".utf8))
        invalid(0x53, "STRING argument is not quoted", Array("Sabc\n.".utf8))
        invalid(0x53, "invalid \\x escape", Array("S'\\x4'\n.".utf8))
        invalid(0x56, "invalid \\u escape", Array("V\\u12\n.".utf8))
        invalid(0x58, "text is not valid UTF-8", [0x58, 2, 0, 0, 0, 0xFF, 0xFE, Self.stop])
        invalid(0x63, "text is not valid UTF-8", [0x63, 0xFF, 0x0A, 0x61, 0x0A, Self.stop])
        invalid(0x50, "persistent id is not ASCII", [0x50, 0xC3, 0xA9, 0x0A, Self.stop])
        expect(
            .invalidArgument(opcode: 0x64, reason: "odd number of items for key/value pairs", offset: 2),
            [Self.mark, Self.none, 0x64, Self.stop])
        expect(
            .invalidArgument(opcode: Self.reduce, reason: "text is not latin-1", offset: 38),
            Self.proto2 + Self.global("_codecs", "encode") + Self.unicode("€") + Self.unicode("latin1") + [0x86, Self.reduce, Self.stop])
    }

    @Test func unhashableKeys() {
        expect(.unhashable(kind: "list", offset: 5), Self.proto2 + [Self.emptyDict, Self.emptyList, Self.none, Self.setItem, Self.stop])
        expect(.unhashable(kind: "dict", offset: 5), Self.proto2 + [0x8F, Self.mark, Self.emptyDict, 0x90, Self.stop])
    }

    @Test func namedLimits() {
        let marks = Pickle.maxMarkDepth
        expect(
            .limitExceeded(limit: "Pickle.maxMarkDepth", value: marks, offset: 2 + marks),
            Self.proto2 + [UInt8](repeating: Self.mark, count: marks + 1) + [Self.stop])
        let stack = Pickle.maxStackDepth
        expect(
            .limitExceeded(limit: "Pickle.maxStackDepth", value: stack, offset: 2 + stack),
            Self.proto2 + [UInt8](repeating: Self.none, count: stack + 1) + [Self.stop])
        let memo = Pickle.maxMemoEntries
        expect(
            .limitExceeded(limit: "Pickle.maxMemoEntries", value: memo, offset: 3 + memo),
            Self.proto2 + [Self.none] + [UInt8](repeating: 0x94, count: memo + 1) + [Self.stop])
        let digits = Pickle.maxDecimalDigits
        expect(
            .limitExceeded(limit: "Pickle.maxDecimalDigits", value: digits, offset: 0),
            [0x4C] + [UInt8](repeating: 0x31, count: digits + 1) + [0x0A, Self.stop])
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        // 10,000 nested tuples (the stack stays at depth 1 while parsing) and 10,000 nested
        // lists: the walk that turns them into values stops at maxNestingDepth.
        let depth = 10_000
        let limit = Pickle.maxNestingDepth
        // The outermost TUPLE1 is the last opcode; the one `limit` levels in is `limit` bytes earlier.
        expect(
            .limitExceeded(limit: "Pickle.maxNestingDepth", value: limit, offset: 2 + depth - limit),
            Self.proto2 + [Self.emptyList] + [UInt8](repeating: Self.tuple1, count: depth) + [Self.stop])
        // EMPTY_LIST × 10,001 then APPEND × 10,000: the outermost list is the first one.
        expect(
            .limitExceeded(limit: "Pickle.maxNestingDepth", value: limit, offset: 2 + limit),
            Self.proto2 + [UInt8](repeating: Self.emptyList, count: depth + 1) + [UInt8](repeating: Self.append, count: depth) + [Self.stop]
        )
    }

    @Test func selfReferenceIsDetected() {
        // l = []; l.append(l)
        expect(.selfReference(offset: 2), Self.proto2 + [Self.emptyList] + Self.binput(0) + Self.binget(0) + [Self.append, Self.stop])
        // d = {}; d['me'] = d
        expect(
            .selfReference(offset: 2),
            Self.proto2 + [Self.emptyDict] + Self.binput(0) + Self.unicode("me") + Self.binget(0) + [Self.setItem, Self.stop])
    }

    @Test func memoAmplificationIsBounded() {
        // L0 = []; L_i = [L_(i-1)] * 10 for i in 1...30, through BINGET: 10³⁰ nodes from ~800
        // bytes. Conversion shares each list once built; the repeated size hits maxValueNodes
        // at L8's second reference to L7 (size of L_i = (10^(i+1) − 1)/9, 11,111,111 for L7).
        var bytes = Self.proto2 + [Self.emptyList] + Self.binput(0) + [Self.pop]
        var listOffsets = [2]
        for i in 1...30 {
            listOffsets.append(bytes.count)
            bytes += [Self.emptyList] + Self.binput(UInt8(i)) + [Self.mark]
            for _ in 0..<10 { bytes += Self.binget(UInt8(i - 1)) }
            bytes += [Self.appends, Self.pop]
        }
        bytes += Self.binget(30) + [Self.stop]
        expect(.limitExceeded(limit: "Pickle.maxValueNodes", value: Pickle.maxValueNodes, offset: listOffsets[7]), bytes)
    }

    @Test func messagesNameTheOpcode() {
        #expect(PickleError.unsupportedOpcode(0x82, offset: 9).description == "unsupported pickle opcode EXT1 (0x82) at byte 9")
        #expect(PickleError.truncated(opcode: 0x58, offset: 2).description == "pickle ends inside BINUNICODE (0x58) at byte 2")
    }
}
