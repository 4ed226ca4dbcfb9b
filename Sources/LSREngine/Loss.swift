#if canImport(Glibc)
    import Glibc
#endif

/// Training losses on the head's output and their gradients, side by side. Both average over
/// the batch, as torch.nn.CrossEntropyLoss and MSELoss do by default (transformers'
/// RobertaForSequenceClassification: CrossEntropy for classes, MSE for one label).
///
/// Legend: B batch, L labels. logits [B, L], labels [B], dlogits [B, L].
public enum Loss {
    /// Mean cross-entropy of softmax(logits) against class ids; dlogits = (softmax − onehot)/B.
    /// Log-sum-exp in double so a large logit cannot overflow.
    public static func crossEntropy(
        logits: UnsafePointer<Float>, labels: [Int], classes: Int, dlogits: UnsafeMutablePointer<Float>?
    ) -> Double {
        let batch = labels.count
        var total = 0.0
        for b in 0..<batch {
            let row = logits + b * classes
            var top = -Double.greatestFiniteMagnitude
            for j in 0..<classes { top = max(top, Double(row[j])) }
            var sum = 0.0
            for j in 0..<classes { sum += exp(Double(row[j]) - top) }
            let logSum = top + log(sum)
            total += logSum - Double(row[labels[b]])
            if let dlogits {
                for j in 0..<classes {
                    let p = exp(Double(row[j]) - logSum)
                    dlogits[b * classes + j] = Float((p - (j == labels[b] ? 1 : 0)) / Double(batch))
                }
            }
        }
        return total / Double(batch)
    }

    /// Mean squared error of a one-output head against targets; dy = 2(y − t)/B.
    public static func meanSquaredError(outputs: UnsafePointer<Float>, targets: [Float], doutputs: UnsafeMutablePointer<Float>?) -> Double {
        var total = 0.0
        let batch = targets.count
        for b in 0..<batch {
            let diff = Double(outputs[b]) - Double(targets[b])
            total += diff * diff
            doutputs?[b] = Float(2 * diff / Double(batch))
        }
        return total / Double(batch)
    }
}
