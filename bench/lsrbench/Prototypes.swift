// Candidate rewrites of engine kernels, timed beside the engine's own (components mode) so that
// each proposed change to Sources/LSREngine comes with a measured gain and a check that it
// computes the same thing. Nothing here is used by lsrconv itself.
import LSREngine

#if canImport(Glibc)
    import Glibc
#endif

enum Prototype {
    typealias Vector = VectorMath.Vector

    /// Activation.gelu.backward with 8-lane loads and stores (as Activation.forward already
    /// does) instead of filling SIMD8 lanes one by one: the same arithmetic, so bit-identical.
    static func geluBackward(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>) {
        Parallel.forEach(count, grain: 1 << 14) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vector.self)
                let g = UnsafeRawPointer(dy + i).loadUnaligned(as: Vector.self)
                let acc = UnsafeRawPointer(dx + i).loadUnaligned(as: Vector.self)
                let cdf = 0.5 * (1 + VectorMath.erf(v * 0.707_106_781_186_547_5))
                let pdf = VectorMath.exp(-0.5 * v * v) * 0.398_942_280_401_432_7
                UnsafeMutableRawPointer(dx + i).storeBytes(of: acc + g * (cdf + v * pdf), as: Vector.self)
                i += 8
            }
            if i < range.upperBound {
                let n = range.upperBound - i
                var v = Vector(repeating: 0)
                var g = Vector(repeating: 0)
                for j in 0..<n {
                    v[j] = x[i + j]
                    g[j] = dy[i + j]
                }
                let cdf = 0.5 * (1 + VectorMath.erf(v * 0.707_106_781_186_547_5))
                let pdf = VectorMath.exp(-0.5 * v * v) * 0.398_942_280_401_432_7
                let d = g * (cdf + v * pdf)
                for j in 0..<n { dx[i + j] += d[j] }
            }
        }
    }

    /// Attention.forward with the softmax on 8 lanes (VectorMath.exp) when the item has no
    /// padding (the common case of a length-bucketed batch); otherwise the engine's scalar
    /// masked path would still be used. Same GEMMs and split as the engine.
    static func attentionForward(
        qkv: UnsafePointer<Float>, shape: AttentionShape, probs: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>
    ) {
        let (t, h, d, c) = (shape.length, shape.heads, shape.headDim, shape.width)
        let scale = 1 / Float(d).squareRoot()
        precondition(t % 8 == 0, "prototype: T a multiple of 8")
        BLAS.singleThreaded {
            Parallel.forEach(shape.batch * h, grain: 1) { range in
                for bh in range {
                    let (b, head) = (bh / h, bh % h)
                    let q = qkv + b * t * 3 * c + head * d
                    let p = probs + bh * t * t
                    BLAS.gemm(transposeB: true, m: t, n: t, k: d, alpha: scale, a: q, lda: 3 * c, b: q + c, ldb: 3 * c, c: p, ldc: t)
                    for r in 0..<t {
                        let row = UnsafeMutableRawPointer(p + r * t)
                        var top = Vector(repeating: -.greatestFiniteMagnitude)
                        for j in stride(from: 0, to: t, by: 8) {
                            let v = row.loadUnaligned(fromByteOffset: j * 4, as: Vector.self)
                            top = top.replacing(with: v, where: v .> top)
                        }
                        let m = top.max()
                        var sum = Vector(repeating: 0)
                        for j in stride(from: 0, to: t, by: 8) {
                            let e = VectorMath.exp(row.loadUnaligned(fromByteOffset: j * 4, as: Vector.self) - m)
                            row.storeBytes(of: e, toByteOffset: j * 4, as: Vector.self)
                            sum += e
                        }
                        let inv = 1 / sum.sum()
                        for j in stride(from: 0, to: t, by: 8) {
                            row.storeBytes(of: row.loadUnaligned(fromByteOffset: j * 4, as: Vector.self) * inv, toByteOffset: j * 4, as: Vector.self)
                        }
                    }
                    BLAS.gemm(m: t, n: d, k: t, a: p, lda: t, b: q + 2 * c, ldb: 3 * c, c: context + b * t * c + head * d, ldc: c)
                }
            }
        }
    }

    /// LowRankDelta.backward with its rows split over the engine's workers (each runs the five
    /// thin GEMMs on its block of rows, OpenBLAS single-threaded as the engine keeps it; dUp
    /// and dDown are summed from per-worker partials). The engine's version runs them on one
    /// core. `partials`: 2 · workers · r · (out + in) floats; `scratch`: 2 · N · r floats.
    static func adapterBackward(
        _ delta: LowRankDelta, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, ldy: Int, rows: Int, dUp: UnsafeMutablePointer<Float>,
        dDown: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        partials: UnsafeMutablePointer<Float>
    ) {
        let (r, out, inputs, scaling) = (delta.rank, delta.outFeatures, delta.inFeatures, delta.scaling)
        let workers = max(1, min(Parallel.threads, rows / 64))
        let partialSize = r * (out + inputs)
        // One block per worker: Parallel.forEach over `workers` items with grain 1.
        Parallel.forEach(workers, grain: 1) { blocks in
            for w in blocks {
                let (start, end) = (rows * w / workers, rows * (w + 1) / workers)
                let m = end - start
                let (xs, dys) = (x + start * inputs, dy + start * ldy)
                let t = scratch + start * r
                let dt = scratch + rows * r + start * r
                let (pUp, pDown) = (partials + w * partialSize, partials + w * partialSize + r * out)
                BLAS.gemm(transposeB: true, m: m, n: r, k: inputs, a: xs, lda: inputs, b: delta.down.pointer, ldb: inputs, c: t, ldc: r)
                BLAS.gemm(transposeA: true, m: out, n: r, k: m, alpha: scaling, a: dys, lda: ldy, b: t, ldb: r, c: pUp, ldc: r)
                BLAS.gemm(m: m, n: r, k: out, alpha: scaling, a: dys, lda: ldy, b: delta.up.pointer, ldb: r, c: dt, ldc: r)
                BLAS.gemm(transposeA: true, m: r, n: inputs, k: m, a: dt, lda: r, b: xs, ldb: inputs, c: pDown, ldc: inputs)
                BLAS.gemm(m: m, n: inputs, k: r, a: dt, lda: r, b: delta.down.pointer, ldb: inputs, beta: 1, c: dx + start * inputs, ldc: inputs)
            }
        }
        for w in 0..<workers {
            let p = partials + w * partialSize
            for i in 0..<(r * out) { dUp[i] += p[i] }
            for i in 0..<(r * inputs) { dDown[i] += p[r * out + i] }
        }
    }

    /// LowRankDelta.forward with its rows split over the workers (both thin GEMMs per block).
    static func adapterForward(
        _ delta: LowRankDelta, x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let (r, out, inputs) = (delta.rank, delta.outFeatures, delta.inFeatures)
        Parallel.forEach(rows, grain: 64) { range in
            let t = scratch + range.lowerBound * r
            BLAS.gemm(
                transposeB: true, m: range.count, n: r, k: inputs, a: x + range.lowerBound * inputs, lda: inputs, b: delta.down.pointer,
                ldb: inputs, c: t, ldc: r)
            BLAS.gemm(
                transposeB: true, m: range.count, n: out, k: r, alpha: delta.scaling, a: t, lda: r, b: delta.up.pointer, ldb: r, beta: 1,
                c: y + range.lowerBound * ldy, ldc: ldy)
        }
    }
}
