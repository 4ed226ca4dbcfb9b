import LSRAdapters

/// `--factors auto|AxB|AxB,CxD` and `--rank-split AxB`, shared by the commands that build LSR
/// adapters (init-adapter, convert-adapter).
enum SplitOptions {
    /// The out and in splits `--factors` names; nil for auto. One split applies to both sides.
    static func factors(_ text: String) throws -> (out: FactorSplit, in: FactorSplit)? {
        guard text != "auto" else { return nil }
        let parts = text.split(separator: ",").map(String.init)
        guard (1...2).contains(parts.count), let o = FactorSplit(text: parts[0]), let i = FactorSplit(text: parts.last!) else {
            throw CommandFailure(message: "--factors '\(text)' is not auto, AxB or AxB,CxD")
        }
        return (o, i)
    }

    static func rank(_ text: String?) throws -> FactorSplit? {
        guard let text else { return nil }
        guard let split = FactorSplit(text: text) else { throw CommandFailure(message: "--rank-split '\(text)' is not AxB") }
        return split
    }
}
