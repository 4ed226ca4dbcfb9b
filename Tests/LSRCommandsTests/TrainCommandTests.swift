import Foundation
import LSRFormats
import TestSupport
import Testing

/// `lsrconv train` end to end on a keyword task written here (the label is which of two words a
/// sentence holds). What must hold: the loss falls, the adapter it writes is valid for the model,
/// and merging it then predicting gives the accuracy train's own evaluation reported (two
/// independent paths: adapter terms during training, W + ΔW after merge; they may disagree only
/// on a row whose logits tie to rounding). The trajectory itself is checked against PyTorch in
/// LSRTrainTests/TrajectoryTests.
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
            "train", "--model", model, "--train", train, "--eval", dev, "--out", dir.file("adapter"), "--epochs", "24", "--lr", "1e-2",
            "--batch-size", "8", "--separation-rank", "4", "--keep", "last",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let metrics = try String(decoding: readFile(dir.file("adapter/metrics.jsonl")), as: UTF8.self).split(separator: "\n").map { try JSON.parse(String($0)) }
        #expect(metrics.count == 24)
        let first = try #require(metrics.first?["train_loss"]?.doubleValue)
        let last = try #require(metrics.last?["train_loss"]?.doubleValue)
        #expect(last < 0.9 * first, "train loss \(first) → \(last)")
        let accuracy = try #require(metrics.last?["eval_accuracy"]?.doubleValue)

        // `eval` with the written adapter (factors and head from the files) gives train's last
        // evaluation: loss, accuracy, F1 and MCC. The same binary in the same environment (so on
        // the same kernels) with the same f32 factors; only the eval batches may group rows
        // otherwise: the loss agrees to ~1e-9, the metrics come from the same predictions.
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
        // Every line of metrics.jsonl follows its schema (validate reads JSON Lines line by line).
        let lines = try runLSRConv(["validate", dir.file("adapter/metrics.jsonl"), "--schema", "training-metrics-line"])
        #expect(lines.status == 0 && lines.stdout == "valid\n" && lines.stderr == "", "\(lines.stdout)\(lines.stderr)")
        let merge = try runLSRConv(["merge", "--model", model, "--adapter", dir.file("adapter"), "--out", dir.file("merged")])
        #expect(merge.status == 0, "\(merge.stderr)")
        let predict = try runLSRConv(["predict", "--model", dir.file("merged"), "--data", dev])
        #expect(predict.status == 0, "\(predict.stderr)")
        let predictions = try predict.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        let predicted = predictions.map { $0["label"]?.stringValue ?? "" }
        let truth = try rows(16, offset: 32).split(separator: "\n").map { try JSON.parse(String($0))["label"]?.stringValue ?? "" }
        #expect(predicted.count == truth.count, "\(predict.stdout)")
        let correct = zip(predicted, truth).filter { $0 == $1 }.count
        // W + ΔW rounded once and the adapter term x·Downᵀ·Upᵀ added to x·Wᵀ are two f32 sums of
        // the same logits, apart by far less than ForwardParityTests' 1e-4: only a row whose two
        // logits are closer than that may take the other label. Such rows may account for a
        // difference; otherwise the counts agree exactly.
        let ties = predictions.filter { row in
            let logits = row["logits"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            return logits.count != 2 || abs(logits[0] - logits[1]) <= 1e-4
        }.count
        let trained = Int((accuracy * Double(truth.count)).rounded())
        #expect(abs(correct - trained) <= ties, "merged model: \(correct) of \(truth.count) right, train's evaluation \(trained) (\(ties) near-ties)")
    }

    /// A run stopped by SIGINT after a checkpoint and continued with --resume writes the same
    /// bytes as a run that was never stopped: adapter, head, metrics.jsonl. Wherever the signal
    /// lands, the checkpoint holds the exact values, Adam's moments, the position in the epoch and
    /// the best values so far, so the rest of the run repeats the uninterrupted one.
    @Test func interruptedThenResumedIsByteIdentical() throws {
        let dir = TemporaryDirectory()
        let train = dir.write(Array(rows(24, offset: 0).utf8), to: "train.jsonl")
        let dev = dir.write(Array(rows(8, offset: 24).utf8), to: "dev.jsonl")
        let model = TestPaths.fixture("tiny-roberta")
        func arguments(_ out: String) -> [String] {
            [
                "train", "--model", model, "--train", train, "--eval", dev, "--out", dir.file(out), "--epochs", "12", "--lr", "1e-2",
                "--batch-size", "4", "--grad-accum", "2", "--separation-rank", "4", "--eval-every", "7", "--save-every", "5",
            ]
        }
        let whole = try runLSRConv(arguments("whole"))
        #expect(whole.status == 0, "\(whole.stderr)")

        // The same run, interrupted once its first checkpoint is on disk.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.binary)
        process.arguments = arguments("cut")
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let first = dir.file("cut/checkpoints/step-5/trainer_state.json")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: first) && process.isRunning && Date() < deadline { usleep(20_000) }
        process.interrupt()  // SIGINT
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "a run stopped by Ctrl-C exits with 130 after its checkpoint")
        let steps = try FileManager.default.contentsOfDirectory(atPath: dir.file("cut/checkpoints")).compactMap { Int($0.dropFirst(5)) }
        #expect(!steps.isEmpty && steps.max()! < 36, "stopped before the end: checkpoints \(steps)")
        // The top level holds the checkpoint's adapter, so that eval --adapter takes the output (ResumeCommandTests).
        #expect(FileManager.default.fileExists(atPath: dir.file("cut/adapter_model.safetensors")), "the checkpoint's adapter at the top level")

        let resumed = try runLSRConv(arguments("cut") + ["--resume", dir.file("cut")])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        for name in ["adapter_model.safetensors", "adapter_config.json", "metrics.jsonl"] {
            #expect(byteDifference(dir.file("whole/" + name), dir.file("cut/" + name)) == nil, "\(name)")
        }
        // Resuming with an option other than the checkpoint's is refused before any step.
        let other = try runLSRConv(arguments("other").map { $0 == "1e-2" ? "2e-2" : $0 } + ["--resume", dir.file("whole")])
        #expect(other.status == 1)
        #expect(other.stderr == "error: \(dir.file("whole/checkpoints/step-35")): --lr 0.02 on the command line, 0.01 in the checkpoint\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("other")))
    }

    /// --keep best (the default) writes the state of the best evaluation, which `eval` confirms;
    /// trainer_state.json and every metrics line are valid against their schemas.
    @Test func keepsTheBestEvaluation() throws {
        let dir = TemporaryDirectory()
        let train = dir.write(Array(rows(16, offset: 0).utf8), to: "train.jsonl")
        let dev = dir.write(Array(rows(8, offset: 16).utf8), to: "dev.jsonl")
        let model = TestPaths.fixture("tiny-roberta")
        let result = try runLSRConv([
            "train", "--model", model, "--train", train, "--eval", dev, "--out", dir.file("out"), "--epochs", "6", "--lr", "2e-2",
            "--batch-size", "4", "--separation-rank", "4",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let state = try JSON.parse(String(decoding: readFile(dir.file("out/trainer_state.json")), as: UTF8.self))
        let bestStep = try #require(state["best"]?["step"]?.intValue)
        let log = try #require(state["log_history"]?.arrayValue)
        let best = try #require(log.first { $0["step"]?.intValue == bestStep })
        let accuracies = log.compactMap { $0["eval_accuracy"]?.doubleValue }
        #expect(best["eval_accuracy"]?.doubleValue == accuracies.max(), "best is the first maximum of \(accuracies)")
        #expect(log.firstIndex { $0["eval_accuracy"]?.doubleValue == accuracies.max() } == log.firstIndex { $0["step"]?.intValue == bestStep })
        let eval = try runLSRConv(["eval", "--model", model, "--adapter", dir.file("out"), "--data", dev, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let evaluated = try JSON.parse(eval.stdout)
        for key in ["loss", "accuracy"] {
            let got = try #require(evaluated[key]?.doubleValue)
            let want = try #require(best["eval_" + key]?.doubleValue)
            #expect(abs(got - want) < 1e-6, "\(key): eval \(got), best step \(want)")
        }
        var documents = [(dir.file("out/trainer_state.json"), "trainer-state")]
        for (i, line) in String(decoding: readFile(dir.file("out/metrics.jsonl")), as: UTF8.self).split(separator: "\n").enumerated() {
            documents.append((dir.write(Array(line.utf8), to: "line\(i).json"), "training-metrics-line"))
        }
        #expect(documents.count == 7)
        for (file, schema) in documents {
            let check = try runLSRConv(["validate", file, "--schema", schema])
            #expect(check.status == 0, "\(file): \(check.stdout)\(check.stderr)")
        }
        let svg = String(decoding: readFile(dir.file("out/curve.svg")), as: UTF8.self)
        #expect(svg.hasPrefix("<svg ") && svg.hasSuffix("</svg>\n") && svg.contains("eval accuracy"))
    }

    /// Every input problem is one error line before training starts, and no output directory.
    @Test func badInputIsRefusedBeforeTraining() throws {
        let dir = TemporaryDirectory()
        let model = TestPaths.fixture("tiny-roberta")
        let good = dir.write(Array(rows(8, offset: 0).utf8), to: "good.jsonl")
        let empty = dir.write([], to: "empty.jsonl")
        let blank = dir.write(Array("\n\n".utf8), to: "blank.jsonl")
        let noLabel = dir.write(Array(#"{"text": "a film"}"#.utf8 + [10]), to: "nolabel.jsonl")
        let mixed = dir.write(Array((#"{"text": "a", "label": "positive"}"# + "\n" + #"{"text": "b", "label": 1}"# + "\n").utf8), to: "mixed.jsonl")
        let cases: [([String], String)] = [
            (["--train", empty], "error: \(empty): the file is empty: no header row and no examples\n"),
            (["--train", blank], "error: \(blank): the file is empty: no header row and no examples\n"),
            (["--train", noLabel], #"error: \#(noLabel): line 1: no label field among "label", "gold_label", "Quality", "is_duplicate", "score"; available: "text""# + "\n"),
            (["--train", mixed], #"error: \#(mixed): line 2: label 1 is a number, but line 1 has a name ("positive"): one file holds one kind of class label"# + "\n"),
            (["--train", good, "--max-length", "3"], "error: --max-length must be at least 4\n"),
            (["--train", good, "--batch-size", "0"], "error: --batch-size must be at least 1\n"),
            (["--train", good, "--task", "regression"], "error: \(model): --task regression needs a one-label head; this one has 2 labels\n"),
            (["--train", good, "--resume", dir.path], "error: \(dir.path): not a training checkpoint (no trainer_state.json here or under checkpoints/step-*)\n"),
        ]
        // A model without a classification head: the tiny model's tensors less classifier.*.
        try FileManager.default.createDirectory(atPath: dir.file("mlm"), withIntermediateDirectories: true)
        let archive = try Checkpoint.open(TestPaths.fixture("tiny-roberta/model.safetensors"))
        let encoder = archive.tensors.filter { !$0.name.hasPrefix("classifier.") }.map { Safetensors.OutputTensor($0) }
        #expect(encoder.count == archive.tensors.count - 4)
        try Safetensors.write(encoder, metadata: [(key: "format", value: "pt")], to: dir.file("mlm/model.safetensors"))
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: TestPaths.fixture("tiny-roberta/" + name), toPath: dir.file("mlm/" + name))
        }
        // It trains a new head (FreshHeadCommandTests), but has none to keep frozen.
        let headless = try runLSRConv(["train", "--model", dir.file("mlm"), "--train", good, "--out", dir.file("out"), "--freeze-head"])
        #expect(headless.status == 1)
        #expect(headless.stderr == "error: --freeze-head: \(dir.file("mlm")) has no classification head to keep (a new one is trained without it)\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
        for (extra, expected) in cases {
            let result = try runLSRConv(["train", "--model", model, "--out", dir.file("out")] + extra)
            #expect(result.status != 0, "\(extra)")
            #expect(result.stderr == expected, "\(extra)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("out")), "\(extra)")
        }
    }

    @Test func badOptions() throws {
        let result = try runLSRConv(["train", "--model", TestPaths.fixture("tiny-roberta"), "--train", "x.jsonl", "--out", "y", "--max-length", "3"])
        #expect(result.status != 0)
        #expect(result.stderr == "error: --max-length must be at least 4\n")
    }
}
