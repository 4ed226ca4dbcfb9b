import LSRFormats
import LSRTrain
import TestSupport
import Testing

/// The GLUE metrics against scikit-learn 1.9.1 and scipy 1.17.1 (Fixtures/reference/metrics.json,
/// written by Fixtures/generate/metrics_reference.py): binary and 3-class sets, a constant
/// prediction, regression values with ties. Tolerance 1e-12 (both sides compute in double).
@Suite struct MetricsTests {
    @Test func matchScikitLearnAndSciPy() throws {
        let reference = try JSON.parse(readFile(TestPaths.fixture("reference/metrics.json")))
        func ints(_ v: JSONValue?) -> [Int] { v?.arrayValue?.compactMap(\.intValue) ?? [] }
        func doubles(_ v: JSONValue?) -> [Double] { v?.arrayValue?.compactMap(\.doubleValue) ?? [] }
        let classification = try #require(reference["classification"]?.arrayValue)
        #expect(classification.count == 5)
        for example in classification {
            let (p, y) = (ints(example["predictions"]), ints(example["labels"]))
            #expect(abs(Metrics.accuracy(predictions: p, labels: y) - (example["accuracy"]?.doubleValue ?? .nan)) < 1e-12)
            #expect(abs(Metrics.matthews(predictions: p, labels: y) - (example["mcc"]?.doubleValue ?? .nan)) < 1e-12, "MCC \(y)")
            if let f1 = example["f1"]?.doubleValue { #expect(abs(Metrics.f1(predictions: p, labels: y) - f1) < 1e-12) }
        }
        let regression = try #require(reference["regression"]?.arrayValue)
        for example in regression {
            let (p, t) = (doubles(example["predictions"]), doubles(example["targets"]))
            #expect(abs(Metrics.pearson(p, t) - (example["pearson"]?.doubleValue ?? .nan)) < 1e-12)
            #expect(abs(Metrics.spearman(p, t) - (example["spearman"]?.doubleValue ?? .nan)) < 1e-12)
        }
    }
}
