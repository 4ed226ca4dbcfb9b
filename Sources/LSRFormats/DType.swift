/// Element types of the safetensors format, and exact conversion to and from `Float`.
///
/// The cases are declared in the order of the reference implementation's `Dtype` enum
/// (huggingface/safetensors, safetensors/src/tensor.rs), which is also the order its writer
/// sorts by (descending) to keep every tensor aligned: `DType`'s `Comparable` follows it.
public enum DType: String, CaseIterable, Sendable, Comparable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// The dtype named `name` exactly as safetensors spells it (case-sensitive), or nil.
    public init?(safetensorsName name: String) { self.init(rawValue: name) }

    public var safetensorsName: String { rawValue }

    private var declarationIndex: Int { DType.allCases.firstIndex(of: self)! }

    public static func < (lhs: DType, rhs: DType) -> Bool {
        lhs.declarationIndex < rhs.declarationIndex
    }

    /// Bits per element (F4 and the F6 types pack below a byte).
    public var bitSize: Int {
        switch self {
        case .f4: 4
        case .f6E2M3, .f6E3M2: 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// Bytes of `elements` values, or nil when the product overflows or the bits do not
    /// end on a byte boundary (sub-byte dtypes), as the reference reader rejects both.
    public func byteCount(elements: Int) -> Int? {
        let (bits, overflow) = elements.multipliedReportingOverflow(by: bitSize)
        guard !overflow, elements >= 0, bits % 8 == 0 else { return nil }
        return bits / 8
    }

    /// Whether values of this type convert to and from `Float` here.
    public var convertsToFloat: Bool {
        switch self {
        case .f4, .f6E2M3, .f6E3M2, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ, .c64: false
        default: true
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: false
        default: true
        }
    }

    /// Name of the matching PyTorch dtype (as `torch.<name>`), for messages and configs.
    public var torchName: String {
        switch self {
        case .bool: "bool"
        case .u8: "uint8"
        case .i8: "int8"
        case .i16: "int16"
        case .u16: "uint16"
        case .i32: "int32"
        case .u32: "uint32"
        case .i64: "int64"
        case .u64: "uint64"
        case .f16: "float16"
        case .bf16: "bfloat16"
        case .f32: "float32"
        case .f64: "float64"
        case .c64: "complex64"
        case .f8E5M2: "float8_e5m2"
        case .f8E4M3: "float8_e4m3fn"
        case .f8E8M0: "float8_e8m0fnu"
        case .f8E4M3FNUZ: "float8_e4m3fnuz"
        case .f8E5M2FNUZ: "float8_e5m2fnuz"
        case .f4: "float4_e2m1fn_x2"
        case .f6E2M3: "float6_e2m3"
        case .f6E3M2: "float6_e3m2"
        }
    }
}

/// A conversion that cannot be done exactly as asked.
public enum DTypeConversionError: Error, Equatable, Sendable {
    /// The dtype has no conversion to or from `Float` here (packed sub-byte, FNUZ, E8M0, C64).
    case unsupported(DType)
    /// A float could not be stored in an integer type: not integral, NaN, or out of range.
    case notRepresentable(value: Float, dtype: DType, index: Int)
    /// Source and destination buffers disagree on the number of elements.
    case sizeMismatch(expectedBytes: Int, gotBytes: Int)
}

/// Element-wise conversions between raw little-endian tensor bytes and `Float`.
///
/// Rounding is what PyTorch does: round-to-nearest-even for every narrowing float conversion;
/// F8_E4M3 (torch.float8_e4m3fn, no infinity) saturates overflow and infinity to ±448;
/// F8_E5M2 overflows to infinity. The Fixtures/dtype reference
/// file holds torch's own results for every bit pattern and for rounding edge cases.
public enum DTypeConversion {

    /// Decodes `count` elements of `dtype` from `source` into `destination`.
    public static func toFloat(
        _ source: UnsafeRawBufferPointer, dtype: DType, into destination: UnsafeMutableBufferPointer<Float>
    ) throws(DTypeConversionError) {
        let count = destination.count
        guard dtype.convertsToFloat else { throw .unsupported(dtype) }
        let expected = dtype.byteCount(elements: count) ?? -1
        guard source.count == expected else { throw .sizeMismatch(expectedBytes: expected, gotBytes: source.count) }
        func each<T>(_: T.Type, _ convert: (T) -> Float) {
            for i in 0..<count { destination[i] = convert(source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
        }
        switch dtype {
        case .f32: each(UInt32.self) { Float(bitPattern: UInt32(littleEndian: $0)) }
        case .f16: each(UInt16.self) { Float(Float16(bitPattern: UInt16(littleEndian: $0))) }
        case .bf16: each(UInt16.self) { bfloat16ToFloat(UInt16(littleEndian: $0)) }
        case .f64: each(UInt64.self) { Float(Double(bitPattern: UInt64(littleEndian: $0))) }
        case .f8E4M3: each(UInt8.self) { float8E4M3ToFloat($0) }
        case .f8E5M2: each(UInt8.self) { float8E5M2ToFloat($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        case .u8: each(UInt8.self) { Float($0) }
        case .i8: each(Int8.self) { Float($0) }
        case .i16: each(Int16.self) { Float(Int16(littleEndian: $0)) }
        case .u16: each(UInt16.self) { Float(UInt16(littleEndian: $0)) }
        case .i32: each(Int32.self) { Float(Int32(littleEndian: $0)) }
        case .u32: each(UInt32.self) { Float(UInt32(littleEndian: $0)) }
        case .i64: each(Int64.self) { Float(Int64(littleEndian: $0)) }
        case .u64: each(UInt64.self) { Float(UInt64(littleEndian: $0)) }
        case .f4, .f6E2M3, .f6E3M2, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ, .c64: throw .unsupported(dtype)
        }
    }

    /// Encodes `source` as `dtype` into `destination` (exactly `dtype.byteCount(source.count)` bytes).
    public static func fromFloat(
        _ source: UnsafeBufferPointer<Float>, to dtype: DType, into destination: UnsafeMutableRawBufferPointer
    ) throws(DTypeConversionError) {
        let count = source.count
        guard dtype.convertsToFloat else { throw .unsupported(dtype) }
        let expected = dtype.byteCount(elements: count) ?? -1
        guard destination.count == expected else {
            throw .sizeMismatch(expectedBytes: expected, gotBytes: destination.count)
        }
        func each<T>(_: T.Type, _ convert: (Float) -> T) {
            for i in 0..<count {
                destination.storeBytes(of: convert(source[i]), toByteOffset: i * MemoryLayout<T>.size, as: T.self)
            }
        }
        func integers<T: FixedWidthInteger>(_: T.Type) throws(DTypeConversionError) {
            for i in 0..<count {
                guard let value = T(exactly: source[i]) else {
                    throw .notRepresentable(value: source[i], dtype: dtype, index: i)
                }
                destination.storeBytes(of: value.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
            }
        }
        switch dtype {
        case .f32: each(UInt32.self) { $0.bitPattern.littleEndian }
        case .f16: each(UInt16.self) { Float16($0).bitPattern.littleEndian }
        case .bf16: each(UInt16.self) { floatToBFloat16($0).littleEndian }
        case .f64: each(UInt64.self) { Double($0).bitPattern.littleEndian }
        case .f8E4M3: each(UInt8.self) { floatToFloat8E4M3($0) }
        case .f8E5M2: each(UInt8.self) { floatToFloat8E5M2($0) }
        case .bool:
            for i in 0..<count {
                guard source[i] == 0 || source[i] == 1 else {
                    throw .notRepresentable(value: source[i], dtype: dtype, index: i)
                }
                destination.storeBytes(of: source[i] == 1 ? UInt8(1) : 0, toByteOffset: i, as: UInt8.self)
            }
        case .u8: try integers(UInt8.self)
        case .i8: try integers(Int8.self)
        case .i16: try integers(Int16.self)
        case .u16: try integers(UInt16.self)
        case .i32: try integers(Int32.self)
        case .u32: try integers(UInt32.self)
        case .i64: try integers(Int64.self)
        case .u64: try integers(UInt64.self)
        case .f4, .f6E2M3, .f6E3M2, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ, .c64: throw .unsupported(dtype)
        }
    }

    // MARK: bfloat16: the top half of an IEEE binary32.

    @inline(__always)
    public static func bfloat16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Round-to-nearest-even truncation to the upper 16 bits; NaN becomes the quiet NaN 0x7FC0
    /// with the sign kept (c10/util/BFloat16.h, round_to_nearest_even).
    @inline(__always)
    public static func floatToBFloat16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000) | 0x7FC0 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    // MARK: 8-bit floats (OCP FP8: E4M3 "fn" without infinities, E5M2 with them).

    /// E4M3FN: bias 7, 3 mantissa bits, S.1111.111 is NaN, no infinities, max 448.
    public static func float8E4M3ToFloat(_ bits: UInt8) -> Float {
        let sign: Float = bits & 0x80 != 0 ? -1 : 1
        let exponent = Int((bits >> 3) & 0x0F)
        let mantissa = Float(bits & 0x07)
        if exponent == 0x0F && bits & 0x07 == 0x07 { return .nan }
        if exponent == 0 { return sign * mantissa * 0x1p-9 }  // subnormal: m/8 · 2^-6
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }

    /// E5M2: bias 15, 2 mantissa bits, IEEE-like (infinities and NaNs), the top byte of an F16.
    public static func float8E5M2ToFloat(_ bits: UInt8) -> Float {
        Float(Float16(bitPattern: UInt16(bits) << 8))
    }

    public static func floatToFloat8E4M3(_ value: Float) -> UInt8 {
        let sign: UInt8 = value.sign == .minus ? 0x80 : 0
        if value.isNaN { return sign | 0x7F }
        // The fn variant has no infinity: torch 2.13 saturates overflow and ±infinity to ±448
        // (checked against its results in Fixtures/dtype/conversions.safetensors).
        guard let magnitude = roundToMinifloat(
            abs(value), mantissaBits: 3, minNormalExponent: -6, maxFinite: 448)
        else { return sign | 0x7E }
        return sign | magnitude
    }

    public static func floatToFloat8E5M2(_ value: Float) -> UInt8 {
        let sign: UInt8 = value.sign == .minus ? 0x80 : 0
        if value.isNaN { return sign | 0x7F }
        guard let magnitude = roundToMinifloat(
            abs(value), mantissaBits: 2, minNormalExponent: -14, maxFinite: 57344)
        else { return sign | 0x7C }  // ±infinity
        return sign | magnitude
    }

    /// Encodes a non-negative `value` as an unsigned minifloat with `mantissaBits` and normal
    /// exponents from `minNormalExponent` (bias = 1 − minNormalExponent), rounding to nearest
    /// even; nil when the rounded value exceeds `maxFinite` or the input is not finite.
    private static func roundToMinifloat(
        _ value: Float, mantissaBits: Int, minNormalExponent: Int, maxFinite: Float
    ) -> UInt8? {
        guard value.isFinite else { return nil }
        if value == 0 { return 0 }
        // Quantum of the binade holding `value` (subnormals share the smallest normal's).
        let exponent = max(Int(value.exponent), minNormalExponent)
        let quantum = Float(sign: .plus, exponent: exponent - mantissaBits, significand: 1)
        // value/quantum and its rounding are exact in binary32 at these widths.
        let steps = (value / quantum).rounded(.toNearestOrEven)
        let rounded = steps * quantum
        guard rounded <= maxFinite else { return nil }
        if rounded == 0 { return 0 }
        let bias = 1 - minNormalExponent
        let roundedExponent = Int(rounded.exponent)
        if roundedExponent < minNormalExponent {  // still subnormal
            return UInt8(steps)
        }
        let fraction = rounded / Float(sign: .plus, exponent: roundedExponent, significand: 1) - 1
        let mantissa = UInt8(fraction * Float(1 << mantissaBits))
        return UInt8(roundedExponent + bias) << mantissaBits | mantissa
    }
}
