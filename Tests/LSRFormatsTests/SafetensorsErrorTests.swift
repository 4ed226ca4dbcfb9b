import LSRFormats
import TestSupport
import Testing

/// Every rejection rule of the safetensors reader (REFERENCE.md; huggingface/safetensors
/// tensor.rs validate/read_metadata), one crafted file each, asserting the exact error.
@Suite struct SafetensorsErrorTests {
    func parse(_ bytes: [UInt8]) throws -> Safetensors.Header { try Safetensors.parseHeader(fileBytes: bytes) }

    func expect(_ error: SafetensorsError, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: error, sourceLocation: sourceLocation) { try parse(bytes) }
    }

    let f32x2 = #""dtype":"F32","shape":[2],"data_offsets""#

    @Test func fileShorterThanLengthField() {
        expect(.fileTooSmall(size: 5), [1, 2, 3, 4, 5])
        expect(.fileTooSmall(size: 0), [])
    }

    @Test func headerLengthOverLimit() {
        expect(.headerTooLarge(length: 100_000_001), craftedSafetensors(header: "{}", declaredLength: 100_000_001))
        expect(.headerTooLarge(length: UInt64.max), craftedSafetensors(header: "{}", declaredLength: UInt64.max))
    }

    @Test func headerLengthPastEnd() {
        expect(.headerPastEnd(length: 100, fileSize: 10), craftedSafetensors(header: "{}", declaredLength: 100))
    }

    @Test func headerNotUTF8() {
        let bytes = withUnsafeBytes(of: UInt64(4).littleEndian) { Array($0) } + [UInt8(ascii: "{"), 0xFF, 0xFE, UInt8(ascii: "}")]
        expect(.headerNotUTF8(offset: 9), bytes)
    }

    @Test func headerInvalidJSON() {
        #expect(throws: SafetensorsError.self) { try parse(craftedSafetensors(header: "{\"a\":")) }
        do {
            _ = try parse(craftedSafetensors(header: "{\"a\" 1}"))
            Issue.record("accepted invalid JSON")
        } catch let error as SafetensorsError {
            guard case .headerInvalidJSON(_, let offset) = error else { Issue.record("wrong error \(error)"); return }
            #expect(offset == 13)
        } catch { Issue.record("wrong error type \(error)") }
    }

    @Test func headerNotAnObject() {
        expect(.headerNotObject(kind: "array"), craftedSafetensors(header: "[1,2]   "))
        expect(.headerNotObject(kind: "string"), craftedSafetensors(header: "\"abc\"   "))
    }

    @Test func duplicateTensorNames() {
        let header = #"{"a":{\#(f32x2):[0,8]},"a":{\#(f32x2):[8,16]}}"#
        // The offset is that of the second "a" key: after the first entry's closing "},".
        let second = Array(header.utf8).firstRange(of: Array(#"},"a""#.utf8))!.lowerBound + 2
        expect(.duplicateTensor("a", offset: 8 + second), craftedSafetensors(header: header, data: [UInt8](repeating: 0, count: 16)))
    }

    @Test func metadataMustBeObjectOfStrings() {
        expect(.metadataNotObject(offset: 9), craftedSafetensors(header: #"{"__metadata__":[1]}"#))
        expect(.metadataValueNotString(key: "n", offset: 25), craftedSafetensors(header: #"{"__metadata__":{"n":1}}"#))
    }

    @Test func entryShape() {
        expect(.invalidEntry(tensor: "a", reason: "entry is a JSON integer, expected an object", offset: 9), craftedSafetensors(header: #"{"a":1}"#))
        expect(.invalidEntry(tensor: "a", reason: "missing 'dtype'", offset: 9),
            craftedSafetensors(header: #"{"a":{"shape":[1],"data_offsets":[0,4]}}"#))
        expect(.invalidEntry(tensor: "a", reason: "missing 'data_offsets'", offset: 9),
            craftedSafetensors(header: #"{"a":{"dtype":"F32","shape":[1]}}"#))
    }

    @Test func unknownDTypeIsCaseSensitive() {
        expect(.unknownDType(tensor: "a", dtype: "f32", offset: 9),
            craftedSafetensors(header: #"{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        expect(.unknownDType(tensor: "a", dtype: "Q4", offset: 9),
            craftedSafetensors(header: #"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
    }

    @Test func shapeEntriesMustBeNonNegativeIntegers() {
        for shape in ["[-1]", "[1.5]", "[\"2\"]", "2", "[null]"] {
            expect(.invalidShape(tensor: "a", offset: 9),
                craftedSafetensors(header: #"{"a":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        }
    }

    @Test func dataOffsetsMustBeExactlyTwo() {
        for offsets in ["[0]", "[0,4,8]", "[-1,4]", "[0,\"4\"]", "4"] {
            expect(.invalidDataOffsets(tensor: "a", offset: 9),
                craftedSafetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#, data: [0, 0, 0, 0]))
        }
    }

    @Test func overflowingShapeProduct() {
        let big = "[4294967296,4294967296]"
        expect(.shapeOverflow(tensor: "a", offset: 9),
            craftedSafetensors(header: #"{"a":{"dtype":"F32","shape":\#(big),"data_offsets":[0,0]}}"#))
        // Elements fit in Int but bits (× 32) do not.
        expect(.shapeOverflow(tensor: "a", offset: 9),
            craftedSafetensors(header: #"{"a":{"dtype":"F32","shape":[576460752303423488],"data_offsets":[0,0]}}"#))
    }

    @Test func subByteMisalignment() {
        expect(.misalignedSubByte(tensor: "a", offset: 9),
            craftedSafetensors(header: #"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#, data: [0]))
    }

    @Test func endBeforeBegin() {
        let header = #"{"a":{\#(f32x2):[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#
        let n = header.utf8.count
        expect(.endBeforeBegin(tensor: "b", begin: 8, end: 4, offset: 8 + n + 8), craftedSafetensors(header: header, data: [UInt8](repeating: 0, count: 8)))
    }

    @Test func holeBetweenTensors() {
        let header = #"{"a":{\#(f32x2):[0,8]},"b":{\#(f32x2):[12,20]}}"#
        let n = header.utf8.count
        expect(.gapBeforeTensor(tensor: "b", expectedBegin: 8, begin: 12, offset: 8 + n + 12),
            craftedSafetensors(header: header, data: [UInt8](repeating: 0, count: 20)))
        // The first tensor must start at 0.
        let late = #"{"a":{\#(f32x2):[4,12]}}"#
        expect(.gapBeforeTensor(tensor: "a", expectedBegin: 0, begin: 4, offset: 8 + late.utf8.count + 4),
            craftedSafetensors(header: late, data: [UInt8](repeating: 0, count: 12)))
    }

    @Test func overlappingTensors() {
        let header = #"{"a":{\#(f32x2):[0,8]},"b":{\#(f32x2):[4,12]}}"#
        let n = header.utf8.count
        expect(.overlappingTensor(tensor: "b", expectedBegin: 8, begin: 4, offset: 8 + n + 4),
            craftedSafetensors(header: header, data: [UInt8](repeating: 0, count: 12)))
    }

    @Test func shapeSizeMismatch() {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        expect(.sizeMismatch(tensor: "a", expectedBytes: 12, declaredBytes: 8, offset: 8 + header.utf8.count),
            craftedSafetensors(header: header, data: [UInt8](repeating: 0, count: 8)))
    }

    @Test func truncatedData() {
        let header = #"{"a":{\#(f32x2):[0,8]}}"#
        let n = header.utf8.count
        expect(.truncatedData(expectedSize: 8 + n + 8, fileSize: 8 + n + 5), craftedSafetensors(header: header, data: [0, 0, 0, 0, 0]))
    }

    @Test func trailingBytes() {
        let header = #"{"a":{\#(f32x2):[0,8]}}"#
        let n = header.utf8.count
        expect(.trailingBytes(expectedSize: 8 + n + 8, fileSize: 8 + n + 9), craftedSafetensors(header: header, data: [UInt8](repeating: 0, count: 9)))
    }

    /// What the reference reader accepts, we accept too.
    @Test func acceptedEdgeCases() throws {
        // Whitespace around the header, an odd header length, unknown extra fields, scalar and zero-size tensors.
        let header = #"  {"s":{"dtype":"F32","shape":[],"data_offsets":[0,4],"extra":1},"z":{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]}} "#
        let parsed = try parse(craftedSafetensors(header: header, data: [0, 0, 128, 63]))
        #expect(parsed.entries.map(\.name) == ["s", "z"])
        #expect(parsed.entries[0].shape == [])
        #expect(parsed.entries[1].shape == [3, 0])
        #expect(parsed.dataStart == 8 + header.utf8.count)
        // An empty header object and no data.
        #expect(try parse(craftedSafetensors(header: "{}")).entries.isEmpty)
    }
}
