/// Elementwise kernels between GEMMs, split across cores.
public enum Elementwise {
    /// y += x over `count` values (residual connections).
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEach(count, grain: 1 << 15) { range in
            for i in range { y[i] += x[i] }
        }
    }
}
