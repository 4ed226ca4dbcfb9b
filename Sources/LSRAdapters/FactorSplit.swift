/// How a dimension n is split into the two factor sizes of a Kronecker product, n = n₁·n₂.
public struct FactorSplit: Equatable, Sendable, CustomStringConvertible {
    public let first: Int
    public let second: Int

    public init(_ first: Int, _ second: Int) {
        self.first = first
        self.second = second
    }

    public var product: Int { first * second }
    public var description: String { "\(first)x\(second)" }

    /// The default (DESIGN.md §4): the divisor pair closest to √n, larger first:
    /// 768 → 32·24, 3072 → 64·48, 4 → 2·2, 8 → 4·2; a prime n → n·1.
    public static func auto(_ n: Int) -> FactorSplit {
        precondition(n >= 1, "FactorSplit.auto of a non-positive size")  // sizes come from shapes ≥ 1
        var small = 1
        var i = 1
        while i * i <= n {
            if n % i == 0 { small = i }
            i += 1
        }
        return FactorSplit(n / small, small)
    }

    /// "32x24" or "32*24" → (32, 24); nil for anything else.
    public init?(text: String) {
        let parts = text.split(whereSeparator: { $0 == "x" || $0 == "*" || $0 == "×" })
        guard parts.count == 2, let x = Int(parts[0]), let y = Int(parts[1]), x >= 1, y >= 1 else { return nil }
        self.init(x, y)
    }
}
