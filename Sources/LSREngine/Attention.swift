#if canImport(Glibc)
    import Glibc
#endif

/// Multi-head scaled dot-product self-attention with a key padding mask, as transformers'
/// RobertaSelfAttention computes it (modeling_roberta.py, eager path): for each batch item b and
/// head h, S = Q·Kᵀ/√D, padded keys get an additive −3.4e38 (finfo(float32).min), P = softmax(S),
/// O = P·V. exp(min − max) is exactly 0 in f32, so padded keys are simply given probability 0.
///
/// Legend: B batch, T tokens per item, H heads, D head size, C = H·D.
/// qkv [B·T, 3C]: per token the query, key and value projections side by side (one fused GEMM
/// makes them); head h uses columns h·D..<(h+1)·D of each. keyMask [B·T]: 1 real, 0 padding.
/// probs [B, H, T, T] (kept for the backward pass); context [B·T, C], heads side by side.
///
/// Training-mode dropout on the probabilities (eager_attention_forward: softmax, then
/// nn.functional.dropout, then ·V) takes a `DropoutMask` over the flat [B, H, T, T] index:
/// O = (P∘M/(1 − p))·V. `probs` keeps P itself, undropped, because the softmax backward needs
/// P where M is 0 too (dS = P∘(dP − rowsum(dP∘P)) is non-zero there); M is regenerated from
/// its counter-based hash in backward rather than stored (a stored mask per layer would add a
/// second B·H·T·T buffer per layer, the largest activation there is).
public struct AttentionShape: Sendable, Equatable {
    public let batch: Int
    public let length: Int
    public let heads: Int
    public let headDim: Int
    public init(batch: Int, length: Int, heads: Int, headDim: Int) {
        self.batch = batch
        self.length = length
        self.heads = heads
        self.headDim = headDim
    }
    public var width: Int { heads * headDim }
    public var probsCount: Int { batch * heads * length * length }
}

public enum Attention {
    /// `dropout` with `dropped`: dropout on the probabilities, P∘M/(1 − p) written to `dropped`
    /// ([B, H, T, T], the caller's scratch, shared by every layer) for the P·V product.
    public static func forward(
        qkv: UnsafePointer<Float>, keyMask: UnsafePointer<Float>, shape: AttentionShape,
        probs: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>,
        dropout: DropoutMask? = nil, dropped: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(dropout == nil || dropped != nil, "attention dropout needs a scratch buffer")  // a programming error
        let (t, h, d, c) = (shape.length, shape.heads, shape.headDim, shape.width)
        let scale = 1 / Float(d).squareRoot()
        // B·H independent small GEMM pairs: one per worker, OpenBLAS single-threaded inside.
        BLAS.singleThreaded {
            Parallel.forEach(shape.batch * h, grain: 1) { range in
                for bh in range {
                    let (b, head) = (bh / h, bh % h)
                    let q = qkv + b * t * 3 * c + head * d
                    let k = q + c
                    let v = q + 2 * c
                    let p = probs + bh * t * t
                    BLAS.gemm(transposeB: true, m: t, n: t, k: d, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c, c: p, ldc: t)
                    softmaxRows(p, rows: t, columns: t, keyMask: keyMask + b * t)
                    var weights = UnsafePointer(p)
                    if let dropout, let dropped {
                        dropout.apply(p, count: t * t, first: bh * t * t, into: dropped + bh * t * t)
                        weights = UnsafePointer(dropped + bh * t * t)
                    }
                    BLAS.gemm(m: t, n: d, k: t, a: weights, lda: t, b: v, ldb: 3 * c, c: context + b * t * c + head * d, ldc: c)
                }
            }
        }
    }

    /// Gradients of `forward` given dcontext [B·T, C], the qkv it read and the probs it kept:
    /// per (b, h), with O = P·V and P = softmax(S), S = scale·Q·Kᵀ,
    ///   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P∘(dP − rowsum(dP∘P))·scale,  dQ = dS·K,  dK = dSᵀ·Q,
    /// written (accumulated) into dqkv [B·T, 3C] at the query, key and value columns of the head.
    /// Masked keys have P = 0, hence dS = 0: no gradient flows to padding. `scratch` holds
    /// dP/dS, B·H·T·T floats (the caller's, reused across steps).
    /// With the forward's `dropout` mask M (P̃ = P∘M/(1 − p)): dV = P̃ᵀ·dO, dP = (dO·Vᵀ)∘M/(1 − p),
    /// and dS as above from P and dP; P̃ is rebuilt in the scratch slot before dP overwrites it.
    /// With `recomputeWith` (the forward's keyMask), `probs` is not what the forward kept but a
    /// [B, H, T, T] scratch: P is computed again into it from Q and K, by the forward's own
    /// operations, hence the same bits. The training pass keeps one such buffer for all layers
    /// instead of one per layer (144 MB less on RoBERTa-base at 16×128) for ~2% more time.
    public static func backward(
        qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, dcontext: UnsafePointer<Float>, shape: AttentionShape,
        scratch: UnsafeMutablePointer<Float>, dqkv: UnsafeMutablePointer<Float>, dropout: DropoutMask? = nil,
        recomputeWith keyMask: UnsafePointer<Float>? = nil
    ) {
        let (t, h, d, c) = (shape.length, shape.heads, shape.headDim, shape.width)
        let scale = 1 / Float(d).squareRoot()
        BLAS.singleThreaded {
            Parallel.forEach(shape.batch * h, grain: 1) { range in
                for bh in range {
                    let (b, head) = (bh / h, bh % h)
                    let q = qkv + b * t * 3 * c + head * d
                    let (k, v) = (q + c, q + 2 * c)
                    let dq = dqkv + b * t * 3 * c + head * d
                    let (dk, dv) = (dq + c, dq + 2 * c)
                    let p = probs + bh * t * t
                    if let keyMask {
                        let slot = UnsafeMutablePointer(mutating: p)  // the caller's scratch (see above)
                        BLAS.gemm(transposeB: true, m: t, n: t, k: d, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c, c: slot, ldc: t)
                        softmaxRows(slot, rows: t, columns: t, keyMask: keyMask + b * t)
                    }
                    let dp = scratch + bh * t * t
                    let dO = dcontext + b * t * c + head * d
                    if let dropout {
                        dropout.apply(p, count: t * t, first: bh * t * t, into: dp)  // P̃
                        BLAS.gemm(transposeA: true, m: t, n: d, k: t, a: dp, lda: t, b: dO, ldb: c, beta: 1, c: dv, ldc: 3 * c)
                        BLAS.gemm(transposeB: true, m: t, n: t, k: d, a: dO, lda: c, b: v, ldb: 3 * c, c: dp, ldc: t)  // dP̃
                        dropout.apply(dp, count: t * t, first: bh * t * t, into: dp)  // dP
                    } else {
                        BLAS.gemm(transposeA: true, m: t, n: d, k: t, a: p, lda: t, b: dO, ldb: c, beta: 1, c: dv, ldc: 3 * c)
                        BLAS.gemm(transposeB: true, m: t, n: t, k: d, a: dO, lda: c, b: v, ldb: 3 * c, c: dp, ldc: t)
                    }
                    for i in 0..<t {
                        let (pr, dr) = (p + i * t, dp + i * t)
                        var dot: Float = 0
                        for j in 0..<t { dot += pr[j] * dr[j] }
                        for j in 0..<t { dr[j] = pr[j] * (dr[j] - dot) * scale }
                    }
                    BLAS.gemm(m: t, n: d, k: t, a: dp, lda: t, b: k, ldb: 3 * c, beta: 1, c: dq, ldc: 3 * c)
                    BLAS.gemm(transposeA: true, m: t, n: d, k: t, a: dp, lda: t, b: q, ldb: 3 * c, beta: 1, c: dk, ldc: 3 * c)
                }
            }
        }
    }

    /// Row-wise softmax in place over the unmasked columns; masked columns become 0.
    /// Eight columns at a time with VectorMath.exp (relative error ≤ 2 ulp; glibc's expf ≤ 1):
    /// with the scalar expf loop Attention.forward at B = 16, T = 128 took ~14 ms per call on 2
    /// threads, with this one ~10.5 (lsrbench --mode components), probabilities within 1e-7 of
    /// the scalar ones. The 8 partial sums are added in a fixed order: a rerun gives the same bits.
    @inline(__always)
    static func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, columns: Int, keyMask: UnsafePointer<Float>) {
        typealias Vector = VectorMath.Vector
        var real = 0
        for j in 0..<columns where keyMask[j] != 0 { real += 1 }
        if real == 0 {
            // A row with every key masked: transformers' softmax over all-equal scores gives a
            // uniform row; no tokenizer output has one (<s> is always real). Kept at 0 here.
            s.update(repeating: 0, count: rows * columns)
            return
        }
        let lowest = Vector(repeating: -.greatestFiniteMagnitude)
        let full = columns / 8 * 8
        let tail = columns - full
        if real == columns && tail == 0 {
            // No padding, whole vectors only (T = 128 in training): no mask selects, no tail
            // branches (the general loop below is ~4% slower on this case).
            for r in 0..<rows {
                let row = UnsafeMutableRawPointer(s + r * columns)
                var top = lowest
                for j in stride(from: 0, to: columns * 4, by: 32) {
                    let v = row.loadUnaligned(fromByteOffset: j, as: Vector.self)
                    top = top.replacing(with: v, where: v .> top)
                }
                let maximum = top.max()
                var sum = Vector(repeating: 0)
                for j in stride(from: 0, to: columns * 4, by: 32) {
                    let e = VectorMath.exp(row.loadUnaligned(fromByteOffset: j, as: Vector.self) - maximum)
                    row.storeBytes(of: e, toByteOffset: j, as: Vector.self)
                    sum += e
                }
                let inv = 1 / sum.sum()
                for j in stride(from: 0, to: columns * 4, by: 32) {
                    row.storeBytes(of: row.loadUnaligned(fromByteOffset: j, as: Vector.self) * inv, toByteOffset: j, as: Vector.self)
                }
            }
            return
        }
        // Tail lanes past the row's end are masked; so are padded keys (mask 0).
        @inline(__always) func laneMask(_ j: Int) -> SIMDMask<SIMD8<Int32>> {
            var m = Vector(repeating: 0)
            if j < full {
                if real == columns { return .init(repeating: true) }
                m = UnsafeRawPointer(keyMask + j).loadUnaligned(as: Vector.self)
            } else {
                for l in 0..<tail { m[l] = keyMask[j + l] }
            }
            return m .!= 0
        }
        @inline(__always) func load(_ row: UnsafeMutablePointer<Float>, _ j: Int) -> Vector {
            if j < full { return UnsafeRawPointer(row + j).loadUnaligned(as: Vector.self) }
            var v = lowest
            for l in 0..<tail { v[l] = row[j + l] }
            return v
        }
        @inline(__always) func store(_ v: Vector, _ row: UnsafeMutablePointer<Float>, _ j: Int) {
            if j < full {
                UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: Vector.self)
            } else {
                for l in 0..<tail { row[j + l] = v[l] }
            }
        }
        for r in 0..<rows {
            let row = s + r * columns
            var top = lowest
            for j in stride(from: 0, to: columns, by: 8) {
                let v = load(row, j).replacing(with: lowest, where: .!laneMask(j))
                top = top.replacing(with: v, where: v .> top)
            }
            let maximum = top.max()
            var sum = Vector(repeating: 0)
            for j in stride(from: 0, to: columns, by: 8) {
                // Masked lanes are set to 0 explicitly: exp(score − max) of a masked key need
                // not underflow (its score is not −∞ here, only left out of the max).
                let e = VectorMath.exp(load(row, j) - maximum).replacing(with: 0, where: .!laneMask(j))
                store(e, row, j)
                sum += e
            }
            let inv = 1 / sum.sum()
            for j in stride(from: 0, to: columns, by: 8) { store(load(row, j) * inv, row, j) }
        }
    }
}
