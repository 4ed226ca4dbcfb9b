/// The GLUE metrics (Wang et al. 2019): accuracy, binary F1, Matthews correlation for
/// classification; Pearson and Spearman correlation for regression (STS-B). Definitions as
/// scikit-learn and scipy compute them (their values are the test's reference).
public enum Metrics {
    public static func accuracy(predictions: [Int], labels: [Int]) -> Double {
        guard !labels.isEmpty else { return .nan }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// F1 of class 1 (sklearn f1_score, zero_division = 0): 2·TP / (2·TP + FP + FN).
    public static func f1(predictions: [Int], labels: [Int]) -> Double {
        var (tp, fp, fn) = (0, 0, 0)
        for (p, y) in zip(predictions, labels) {
            if p == 1 && y == 1 { tp += 1 } else if p == 1 { fp += 1 } else if y == 1 { fn += 1 }
        }
        let denominator = 2 * tp + fp + fn
        return denominator == 0 ? 0 : Double(2 * tp) / Double(denominator)
    }

    /// Matthews correlation, multi-class form (Gorodkin 2004; sklearn matthews_corrcoef):
    /// (c·s − Σ pₖtₖ) / √((s² − Σ pₖ²)(s² − Σ tₖ²)) with c correct, s total, pₖ/tₖ the predicted
    /// and true counts of class k; 0 when a factor of the denominator is 0.
    public static func matthews(predictions: [Int], labels: [Int]) -> Double {
        var predicted: [Int: Double] = [:]
        var actual: [Int: Double] = [:]
        var correct = 0.0
        for (p, y) in zip(predictions, labels) {
            predicted[p, default: 0] += 1
            actual[y, default: 0] += 1
            if p == y { correct += 1 }
        }
        let s = Double(labels.count)
        let classes = Set(predicted.keys).union(actual.keys)
        let cov = correct * s - classes.reduce(0) { $0 + (predicted[$1] ?? 0) * (actual[$1] ?? 0) }
        let pp = s * s - predicted.values.reduce(0) { $0 + $1 * $1 }
        let tt = s * s - actual.values.reduce(0) { $0 + $1 * $1 }
        return pp * tt == 0 ? 0 : cov / (pp * tt).squareRoot()
    }

    /// Pearson's r (scipy.stats.pearsonr), in double with mean-centred sums.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
        var (sxy, sxx, syy) = (0.0, 0.0, 0.0)
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my)
            sxx += (a - mx) * (a - mx)
            syy += (b - my) * (b - my)
        }
        return sxx * syy == 0 ? .nan : sxy / (sxx * syy).squareRoot()
    }

    /// Spearman's ρ (scipy.stats.spearmanr): Pearson of the ranks, ties given their average rank.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double { pearson(ranks(x), ranks(y)) }

    /// 1-based ranks, ties averaged.
    static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && values[order[j + 1]] == values[order[i]] { j += 1 }
            let average = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = average }
            i = j + 1
        }
        return ranks
    }
}
