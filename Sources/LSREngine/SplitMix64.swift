#if canImport(Glibc)
    import Glibc
#endif

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator, so that the same
/// seed gives the same adapter, the same fresh head and the same data order on every machine.
public struct SplitMix64: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 24 random bits (every value exactly representable as Float).
    public mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Standard normal, by the Box–Muller transform on two 53-bit uniforms in double (the first
    /// kept in (0, 1] so its logarithm is finite); one draw per call, the sine half unused, so
    /// the sequence does not depend on how many values a caller takes.
    public mutating func nextNormal() -> Double {
        let u1 = Double((next() >> 11) + 1) / Double(1 << 53)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * Glibc.log(u1)).squareRoot() * Glibc.cos(2 * Double.pi * u2)
    }
}
