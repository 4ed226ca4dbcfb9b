/// Inverted dropout (Srivastava et al. 2014, as torch.nn.functional.dropout in training mode):
/// y = x ∘ m / (1 − p), m ∈ {0, 1} with P(m = 0) = p, so that E[y] = x and nothing changes at
/// inference. The mask is not drawn from a generator with state: each bit is a pure function of
/// (seed, stream, site, element index), a counter-based generator (Salmon et al. 2011, "Parallel
/// random numbers: as easy as 1, 2, 3"). A trainer that passes the global micro-batch index as
/// `stream` can then resume a run exactly from (seed, step) alone, the threads can split a
/// buffer anywhere without changing a bit, and backward regenerates the forward's mask instead
/// of keeping it (see `DropoutMask`).
///
/// The hash is SplitMix64 (Steele, Lea & Flood 2014; Vigna's splitmix64.c), whose output
/// function `mix` is a bijection of UInt64 with full avalanche:
///
///     mix(z):  z = (z ^ z>>30)·0xBF58476D1CE4E5B9;  z = (z ^ z>>27)·0x94D049BB133111EB;  z ^ z>>31
///     key     = mix(mix(mix(seed) + stream) + site)                      (all arithmetic mod 2⁶⁴)
///     h(i)    = mix(key + (i + 1)·0x9E3779B97F4A7C15)                    (SplitMix64's i-th output from state `key`)
///     keep(i) = h(i)>>32 ≥ ⌊p·2³²⌋
///
/// so P(keep) = 1 − ⌊p·2³²⌋/2³² (p to within 2⁻³²). Element i is the flat row-major index
/// within the site's tensor. Fixtures/generate/dropout_reference.py implements the same
/// function in numpy (the gradient-parity reference).
public struct DropoutMask: Sendable, Equatable {
    /// The probability of dropping an element, in [0, 1].
    public let probability: Float
    /// 1/(1 − p), the factor on kept elements (torch: `input * mask / (1 - p)`).
    public let scale: Float
    /// The site's SplitMix64 state before element 0.
    public private(set) var key: UInt64
    /// Elements whose hash's high 32 bits fall below this are dropped: ⌊p·2³²⌋.
    let threshold: UInt64

    /// The mask of one site (a dropout call in the model) in one stream (a forward pass).
    /// `probability` must lie in [0, 1]; the caller validates user input.
    public init(probability: Float, seed: UInt64, stream: UInt64, site: UInt64) {
        precondition(probability >= 0 && probability <= 1, "dropout probability outside [0, 1]")  // validated by the caller
        self.probability = probability
        // p = 1 keeps nothing (threshold 2³²) and the scale is never applied.
        scale = probability < 1 ? 1 / (1 - probability) : 0
        threshold = UInt64(Double(probability) * 4_294_967_296)
        key = Self.mix(Self.mix(Self.mix(seed) &+ stream) &+ site)
    }

    /// The same site's mask seen from element `elements` on: element i of the result is element
    /// `elements + i` of this one. Since h(i) = mix(key + (i + 1)·golden), shifting the index
    /// by o is adding o·golden to the key. A data-parallel rank that holds rows r₀… of a
    /// global batch shifts by r₀ × (elements per row), and draws exactly the bits the whole
    /// batch would have drawn for its rows in one process.
    public func shifted(by elements: Int) -> DropoutMask {
        var copy = self
        copy.key = key &+ UInt64(truncatingIfNeeded: elements) &* Self.golden
        return copy
    }

    /// SplitMix64's output function (splitmix64.c, constants from Stafford's "Mix13").
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// SplitMix64's increment (2⁶⁴/φ, odd).
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// Whether element `index` of the site is kept.
    @inline(__always)
    public func keeps(_ index: Int) -> Bool {
        Self.mix(key &+ UInt64(index &+ 1) &* Self.golden) >> 32 >= threshold
    }

    /// y[j] = x[j]·m(first + j)/(1 − p) for j in 0..<count, on the calling thread (for kernels
    /// that are already split over workers, like attention's per-head loop). x and y may be
    /// the same buffer. Dropped elements become exactly +0 (their bits are masked off, so an
    /// infinite or NaN input cannot leak through a dropped slot).
    @inline(__always)
    public func apply(_ x: UnsafePointer<Float>, count: Int, first: Int, into y: UnsafeMutablePointer<Float>) {
        // Eight counters at a time in SIMD lanes, the tail one by one with the same formula.
        // Branch-free: h − threshold borrows (bit 63 set) exactly when h < threshold, i.e. the
        // element is dropped; that bit minus 1 is 0 then, else all ones, and ANDs the value's
        // bits. Measured at ~1.4 ns per element on the x86-64 baseline (SSE2) in place or not;
        // a per-element `kept ? x·s : 0` compiled to a branch that mispredicts on p of the
        // elements (2.5 ns), and a scalar loop in place 2.5 ns.
        typealias Lanes = SIMD8<UInt64>
        var j = 0
        var state = Lanes(0, 1, 2, 3, 4, 5, 6, 7) &* Self.golden &+ (key &+ UInt64(first &+ 1) &* Self.golden)
        while j + 8 <= count {
            let borrow = ((Self.mix(state) &>> 32) &- threshold) &>> 63
            let keepBits = SIMD8<UInt32>(truncatingIfNeeded: borrow) &- 1
            let scaled = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) * scale
            let masked = unsafeBitCast(unsafeBitCast(scaled, to: SIMD8<UInt32>.self) & keepBits, to: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + j).storeBytes(of: masked, as: SIMD8<Float>.self)
            state &+= Lanes(repeating: 8 &* Self.golden)
            j += 8
        }
        var counter = key &+ UInt64(first &+ j &+ 1) &* Self.golden
        while j < count {
            let borrow = ((Self.mix(counter) >> 32) &- threshold) >> 63
            y[j] = Float(bitPattern: (x[j] * scale).bitPattern & (UInt32(truncatingIfNeeded: borrow) &- 1))
            counter = counter &+ Self.golden
            j += 1
        }
    }

    /// `mix` on eight lanes.
    @inline(__always)
    static func mix(_ value: SIMD8<UInt64>) -> SIMD8<UInt64> {
        var z = value
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }
}

/// Dropout over whole buffers, split across the engine's workers.
public enum Dropout {
    /// y = x ∘ m/(1 − p) over `count` values, element i taking bit i of `mask`; x and y may be
    /// the same buffer.
    public static func forward(_ x: UnsafePointer<Float>, count: Int, mask: DropoutMask, into y: UnsafeMutablePointer<Float>) {
        // ~1.4 ns per element (two 64-bit multiplies); below 2¹⁴ a thread hand-off costs more.
        Parallel.forEach(count, grain: 1 << 14) { range in
            mask.apply(x + range.lowerBound, count: range.count, first: range.lowerBound, into: y + range.lowerBound)
        }
    }

    /// dx = dy ∘ m/(1 − p): the same mask and scale as the forward (dropout is linear in x).
    /// Unlike the other layers' backward this writes dx rather than adding to it: the model
    /// applies it in place on a gradient nothing else reads afterwards, which accumulation would
    /// need a second buffer for.
    public static func backward(_ dy: UnsafePointer<Float>, count: Int, mask: DropoutMask, into dx: UnsafeMutablePointer<Float>) {
        forward(dy, count: count, mask: mask, into: dx)
    }
}
