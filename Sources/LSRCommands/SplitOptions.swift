import ArgumentParser
import LSRAdapters

/// `--factors auto|AxB|AxB,CxD` and `--rank-split AxB`, shared by the commands that build LSR
/// adapters (init-adapter, convert-adapter, train), and what they say about the adapter's size.
enum SplitOptions {
    /// One warning when an LSR adapter holds more parameters than LoRA at the same rank on the
    /// same modules: its parameter count grows with s, so a large --separation-rank (or a small
    /// model) loses the point of LSR without any error to say so. Names the largest s that
    /// keeps it no larger (the count is s times a per-term count).
    static func warnIfLargerThanLoRA(_ set: AdapterSet) {
        let h = set.hyperparameters
        let (lsr, lora) = (set.parameterCount, set.loraParameterCount)
        guard h.kind == .lsr, lsr > lora, h.separationRank >= 1 else { return }
        let largestSmaller = lora / (lsr / h.separationRank)
        Output.warning(
            "--separation-rank \(h.separationRank) makes the LSR adapter larger than LoRA at r = \(h.rank): "
                + "\(Output.grouped(lsr)) parameters against \(Output.grouped(lora))"
                + (largestSmaller >= 1 ? " (s ≤ \(largestSmaller) keeps it no larger)" : " (at every s here)"))
    }

    /// The out and in splits `--factors` names; nil for auto. One split applies to both sides.
    /// Unreadable text is a usage error (exit 64), as are those of `rank`.
    static func factors(_ text: String) throws -> (out: FactorSplit, in: FactorSplit)? {
        guard text != "auto" else { return nil }
        let parts = text.split(separator: ",").map(String.init)
        guard (1...2).contains(parts.count), let o = FactorSplit(text: parts[0]), let i = FactorSplit(text: parts.last!) else {
            throw ValidationError("--factors '\(text)' is not auto, AxB or AxB,CxD")
        }
        return (o, i)
    }

    static func rank(_ text: String?) throws -> FactorSplit? {
        guard let text else { return nil }
        guard let split = FactorSplit(text: text) else { throw ValidationError("--rank-split '\(text)' is not AxB") }
        return split
    }
}
