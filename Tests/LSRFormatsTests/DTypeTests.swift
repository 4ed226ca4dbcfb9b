import LSRFormats
import TestSupport
import Testing

/// Conversions against PyTorch's own results (Fixtures/dtype/conversions.safetensors, written
/// by Fixtures/generate/generate.py with torch 2.13): every bit pattern of F16, BF16 and both
/// F8 types decoded, and ~4,000 float32 values (ties, subnormals, overflow, ±0, ±inf, NaN)
/// encoded. Tolerance: none; bit patterns must match exactly (NaN: any NaN matches NaN).
@Suite struct DTypeTests {
    let archive: TensorArchive

    init() throws { archive = try Safetensors.read(path: TestPaths.fixture("dtype/conversions.safetensors")) }

    func floats(_ name: String) throws -> [Float] {
        let t = try #require(archive[name])
        var out = [Float](repeating: 0, count: t.elementCount)
        try out.withUnsafeMutableBufferPointer { try DTypeConversion.toFloat(t.bytes.buffer, dtype: t.dtype, into: $0) }
        return out
    }

    func sameBits(_ a: [Float], _ b: [Float]) -> (mismatches: Int, first: Int?) {
        var count = 0
        var first: Int?
        for i in a.indices where !(a[i].bitPattern == b[i].bitPattern || (a[i].isNaN && b[i].isNaN)) {
            count += 1
            if first == nil { first = i }
        }
        return (count, first)
    }

    /// Every bit pattern decoded as torch decodes it (`<kind>_all_as_f32`). The f8 patterns are
    /// stored in the file; the 65,536 f16/bf16 patterns are simply 0..65535, made here.
    @Test(arguments: [("f16", DType.f16), ("bf16", .bf16), ("f8e4m3", .f8E4M3), ("f8e5m2", .f8E5M2)])
    func decodeEveryBitPattern(_ kind: String, _ dtype: DType) throws {
        let decoded: [Float]
        if dtype.bitSize == 16 {
            let patterns = (0..<65536).map { UInt16($0).littleEndian }
            var out = [Float](repeating: 0, count: patterns.count)
            try patterns.withUnsafeBytes { raw in
                try out.withUnsafeMutableBufferPointer { try DTypeConversion.toFloat(raw, dtype: dtype, into: $0) }
            }
            decoded = out
        } else {
            decoded = try floats("\(kind)_all")
        }
        let reference = try floats("\(kind)_all_as_f32")
        #expect(decoded.count == reference.count)
        let (mismatches, first) = sameBits(decoded, reference)
        #expect(mismatches == 0, "first mismatch at \(first ?? -1): \(first.map { decoded[$0] } ?? 0) vs torch \(first.map { reference[$0] } ?? 0)")
    }

    @Test(arguments: [("f16", DType.f16), ("bf16", .bf16), ("f8e4m3", .f8E4M3), ("f8e5m2", .f8E5M2)])
    func encodeLikeTorch(_ kind: String, _ dtype: DType) throws {
        let source = try floats("f32_src")
        let reference = try #require(archive["\(kind)_of_src"])
        var encoded = [UInt8](repeating: 0, count: reference.bytes.count)
        try source.withUnsafeBufferPointer { src in
            try encoded.withUnsafeMutableBytes { try DTypeConversion.fromFloat(src, to: dtype, into: $0) }
        }
        let expected = [UInt8](reference.bytes.buffer)
        let width = dtype.bitSize / 8
        var mismatches: [String] = []
        for i in 0..<source.count {
            let got = Array(encoded[(i * width)..<((i + 1) * width)])
            let want = Array(expected[(i * width)..<((i + 1) * width)])
            if got != want {
                // NaN payloads may differ; both must decode to NaN.
                var back = [Float](repeating: 0, count: 2)
                (got + want).withUnsafeBytes { raw in
                    back.withUnsafeMutableBufferPointer { try? DTypeConversion.toFloat(raw, dtype: dtype, into: $0) }
                }
                if back[0].isNaN && back[1].isNaN { continue }
                mismatches.append("\(source[i]): \(got) vs torch \(want)")
            }
        }
        #expect(mismatches.count == 0, "first mismatches: \(mismatches.prefix(5))")
    }

    @Test func float64ToFloat32() throws {
        let (mismatches, first) = sameBits(try floats("f64_src"), try floats("f32_of_f64"))
        #expect(mismatches == 0, "first at \(first ?? -1)")
    }

    @Test func sizes() {
        #expect(DType.allCases.count == 22)
        #expect(DType.f4.byteCount(elements: 4) == 2)
        #expect(DType.f4.byteCount(elements: 3) == nil)
        #expect(DType.f6E2M3.byteCount(elements: 4) == 3)
        #expect(DType.f32.byteCount(elements: Int.max / 2) == nil)
        #expect(DType.c64.bitSize == 64)
        // The writer's sort order is the reference enum's declaration order.
        #expect(DType.u64 > DType.f64 && DType.f64 > DType.c64 && DType.c64 > DType.f32 && DType.bf16 > DType.f16)
    }

    @Test func integersRoundTripExactly() throws {
        let values: [Float] = [0, 1, -1, 127, -128, 16_777_216]
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        try values.withUnsafeBufferPointer { v in try bytes.withUnsafeMutableBytes { try DTypeConversion.fromFloat(v, to: .i32, into: $0) } }
        var back = [Float](repeating: 0, count: values.count)
        try bytes.withUnsafeBytes { b in try back.withUnsafeMutableBufferPointer { try DTypeConversion.toFloat(b, dtype: .i32, into: $0) } }
        #expect(back == values)
        #expect(throws: DTypeConversionError.notRepresentable(value: 1.5, dtype: .i8, index: 0)) {
            var out = [UInt8](repeating: 0, count: 1)
            try [Float(1.5)].withUnsafeBufferPointer { v in try out.withUnsafeMutableBytes { try DTypeConversion.fromFloat(v, to: .i8, into: $0) } }
        }
        #expect(throws: DTypeConversionError.notRepresentable(value: 300, dtype: .u8, index: 0)) {
            var out = [UInt8](repeating: 0, count: 1)
            try [Float(300)].withUnsafeBufferPointer { v in try out.withUnsafeMutableBytes { try DTypeConversion.fromFloat(v, to: .u8, into: $0) } }
        }
        #expect(throws: DTypeConversionError.unsupported(.c64)) {
            var out = [Float](repeating: 0, count: 1)
            try [UInt8](repeating: 0, count: 8).withUnsafeBytes { b in try out.withUnsafeMutableBufferPointer { try DTypeConversion.toFloat(b, dtype: .c64, into: $0) } }
        }
    }
}
