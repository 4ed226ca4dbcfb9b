import LSREngine
import LSRModel
import LSRTokenizers

/// Sequence classification over many texts: tokenize, batch by length (dynamic padding),
/// run the model, turn logits into probabilities. The command layer only formats the result.
public enum Prediction {
    /// One example's result. For a regression head (one label) `probabilities` is empty and
    /// the score is `logits[0]`.
    public struct Result: Sendable, Equatable {
        public var label: Int
        public var logits: [Float]
        public var probabilities: [Double]
    }

    /// Predicts every (text, pair) with batches of at most `batchSize` rows. Rows are sorted by
    /// token count before batching so each batch pads little; results come back in input order.
    public static func run(
        model: RobertaModel, tokenizer: Tokenizer, inputs: [(text: String, pair: String?)], batchSize: Int, maxLength: Int
    ) throws -> [Result] {
        let length = min(maxLength, model.maxTokens)
        let encodings = inputs.map { tokenizer.encode($0.text, pair: $0.pair, maxLength: length) }
        let order = encodings.indices.sorted { (encodings[$0].count, $0) < (encodings[$1].count, $1) }
        var results = [Result?](repeating: nil, count: inputs.count)
        var workspace: RobertaWorkspace?
        var start = 0
        while start < order.count {
            let rows = Array(order[start..<min(start + max(batchSize, 1), order.count)])
            let padded = Tokenizer.pad(rows.map { encodings[$0] }, padId: Int32(model.config.padTokenId))
            let batch = TokenBatch(ids: padded.ids, mask: padded.attentionMask, batch: padded.batch, length: padded.length)
            workspace = try model.forward(batch, workspace: workspace)
            let labels = workspace!.logits.count / batch.batch
            for (i, row) in rows.enumerated() {
                let logits = Array(UnsafeBufferPointer(start: workspace!.logits.pointer + i * labels, count: labels))
                results[row] = result(logits)
            }
            start += rows.count
        }
        return results.map { $0! }
    }

    /// Softmax in double (probabilities that sum to 1 to print precision) and the arg-max.
    static func result(_ logits: [Float]) -> Result {
        guard logits.count > 1 else { return Result(label: 0, logits: logits, probabilities: []) }
        let top = logits.max()!
        let exps = logits.map { exp(Double($0 - top)) }
        let total = exps.reduce(0, +)
        let label = logits.firstIndex(of: top)!  // the first maximum, as torch.argmax
        return Result(label: label, logits: logits, probabilities: exps.map { $0 / total })
    }
}

#if canImport(Glibc)
    import Glibc
#endif
