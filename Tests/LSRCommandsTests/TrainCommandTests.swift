import Foundation
import LSRFormats
import TestSupport
import Testing

/// `lsrconv train` end to end on a keyword task written here (the label is which of two words a
/// sentence holds). What must hold: the loss falls, the adapter it writes is valid for the model,
/// and merging it then predicting gives the accuracy train's own evaluation reported (two
/// independent paths: adapter terms during training, W + ΔW after merge). The trajectory itself
/// is checked against PyTorch in LSRTrainTests/TrajectoryTests.
@Suite struct TrainCommandTests {
    func rows(_ count: Int, offset: Int) -> String {
        let words = ["the", "a", "film", "story", "actor", "plot", "music", "scene", "day", "night", "city", "river"]
        var out = ""
        for i in offset..<(offset + count) {
            let label = i % 2
            var sentence = (0..<5).map { words[(i * 7 + $0 * 3) % words.count] }
            sentence.insert(label == 1 ? "wonderful" : "dreadful", at: i % 6)
            out += JSON.serialize(["text": .string(sentence.joined(separator: " ")), "label": .string(label == 1 ? "positive" : "negative")]) + "\n"
        }
        return out
    }

    @Test func trainsAndTheMergedModelAgrees() throws {
        let dir = TemporaryDirectory()
        let train = dir.write(Array(rows(32, offset: 0).utf8), to: "train.jsonl")
        let dev = dir.write(Array(rows(16, offset: 32).utf8), to: "dev.jsonl")
        let model = TestPaths.fixture("tiny-roberta")
        let result = try runLSRConv([
            "train", "--model", model, "--train", train, "--eval", dev, "--out", dir.file("adapter"), "--epochs", "12", "--lr", "2e-2",
            "--batch-size", "8", "--separation-rank", "4",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let metrics = try String(decoding: readFile(dir.file("adapter/metrics.jsonl")), as: UTF8.self).split(separator: "\n").map { try JSON.parse(String($0)) }
        #expect(metrics.count == 12)
        let first = try #require(metrics.first?["train_loss"]?.doubleValue)
        let last = try #require(metrics.last?["train_loss"]?.doubleValue)
        #expect(last < 0.9 * first, "train loss \(first) → \(last)")
        let accuracy = try #require(metrics.last?["eval_accuracy"]?.doubleValue)

        // `eval` with the written adapter (factors and head from the files) gives train's last
        // evaluation: loss, accuracy, F1 and MCC.
        let eval = try runLSRConv(["eval", "--model", model, "--adapter", dir.file("adapter"), "--data", dev, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let evaluated = try JSON.parse(eval.stdout)
        for key in ["loss", "accuracy", "f1", "mcc"] {
            let got = try #require(evaluated[key]?.doubleValue)
            let want = try #require(metrics.last?["eval_" + key]?.doubleValue)
            #expect(abs(got - want) < 1e-6, "\(key): eval \(got), train \(want)")
        }

        let validate = try runLSRConv(["validate", dir.file("adapter"), "--model", model])
        #expect(validate.status == 0, "\(validate.stdout)")
        let merge = try runLSRConv(["merge", "--model", model, "--adapter", dir.file("adapter"), "--out", dir.file("merged")])
        #expect(merge.status == 0, "\(merge.stderr)")
        let predict = try runLSRConv(["predict", "--model", dir.file("merged"), "--data", dev])
        #expect(predict.status == 0, "\(predict.stderr)")
        let predicted = try predict.stdout.split(separator: "\n").map { try JSON.parse(String($0))["label"]?.stringValue ?? "" }
        let truth = try rows(16, offset: 32).split(separator: "\n").map { try JSON.parse(String($0))["label"]?.stringValue ?? "" }
        let merged = Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
        #expect(merged == accuracy, "merged model accuracy \(merged), train's evaluation \(accuracy)")
    }

    @Test func badOptions() throws {
        let result = try runLSRConv(["train", "--model", TestPaths.fixture("tiny-roberta"), "--train", "x.jsonl", "--out", "y", "--max-length", "3"])
        #expect(result.status != 0)
        #expect(result.stderr == "error: --max-length must be at least 4\n")
    }
}
