import Foundation
import LSRFormats
import TestSupport
import Testing

/// From a pretrained checkpoint without a head to a classifier (issue 15, items 1 and 2), through
/// the binary: Fixtures/pretrained-mlm is a RobertaForMaskedLM written by transformers'
/// save_pretrained (Fixtures/generate/pretrained_mlm.py) with the learning task's encoder. The
/// PyTorch side (the merged directory and the PEFT export in transformers/PEFT) is `make
/// interop-torch`'s check e.
@Suite struct FreshHeadCommandTests {
    static let pretrained = TestPaths.fixture("pretrained-mlm")
    static let train = TestPaths.fixture("learning/train.jsonl")
    static let dev = TestPaths.fixture("learning/dev.jsonl")
    static let common = ["train", "--model", pretrained, "--train", train, "--lr", "1e-2", "--separation-rank", "4", "--warmup-steps", "2"]

    /// `predict --json --text` logits.
    static func logits(_ arguments: [String]) throws -> [Double] {
        let result = try runLSRConv(["predict", "--json", "--text", "map open leaf close bird bus"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let document = try JSON.parse(Array(result.stdout.utf8))
        return (document["predictions"]?.arrayValue?.first?["logits"]?.arrayValue ?? []).compactMap(\.doubleValue)
    }

    @Test func trainsAFreshHeadThenEvalPredictAndMergeAgree() throws {
        let dir = TemporaryDirectory()
        let run = try runLSRConv(Self.common + ["--max-steps", "40", "--out", dir.file("adapter")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("\(Self.pretrained) has no classification head: training a new one, 2 labels (ordered, reversed)\n"))
        // The adapter records the head and its labels, sorted as run_glue sorts them.
        let config = try JSON.parse(readFile(dir.file("adapter/adapter_config.json")))
        #expect(config["head"]?["id2label"] == ["0": "ordered", "1": "reversed"])
        #expect(config["head"]?["num_labels"]?.intValue == 2)

        let eval = try runLSRConv(["eval", "--model", Self.pretrained, "--adapter", dir.file("adapter"), "--data", Self.dev, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        // predict --adapter gives what merging gives (the attached low-rank terms against W + ΔW in
        // f32: the same binary, so the difference is only those roundings, ≪ 1e-5 at these sizes).
        let attached = try Self.logits(["--model", Self.pretrained, "--adapter", dir.file("adapter")])
        let merge = try runLSRConv(["merge", "--model", Self.pretrained, "--adapter", dir.file("adapter"), "--out", dir.file("merged")])
        #expect(merge.status == 0, "\(merge.stderr)")
        let merged = try Self.logits(["--model", dir.file("merged")])
        #expect(attached.count == 2 && merged.count == 2)
        let d = zip(attached, merged).map { abs($0 - $1) }.max() ?? .infinity
        #expect(d <= 1e-5, "predict --adapter vs merged: max |Δ| = \(d)")

        // The merged directory is a classifier: transformers' config fields, no masked-LM head.
        let mergedConfig = try JSON.parse(readFile(dir.file("merged/config.json")))
        #expect(mergedConfig["architectures"] == ["RobertaForSequenceClassification"])
        #expect(mergedConfig["label2id"] == ["ordered": 0, "reversed": 1])
        #expect(mergedConfig["problem_type"] == "single_label_classification" && mergedConfig["num_labels"]?.intValue == 2)
        let names = try Checkpoint.open(dir.file("merged")).names
        #expect(!names.contains { $0.hasPrefix("lm_head.") } && names.contains("classifier.out_proj.weight"))
        #expect(names.filter { !$0.hasPrefix("classifier.") }.allSatisfy { $0.hasPrefix("roberta.") })
    }

    @Test func labelOptionsAreChecked() throws {
        let dir = TemporaryDirectory()
        // A name the file lacks: an error naming the first label outside --labels and its line, nothing written.
        let unknown = try runLSRConv(Self.common + ["--labels", "ordered,other", "--max-steps", "1", "--out", dir.file("a")])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "error: \(Self.train): line 1: label \"reversed\" is not one of --labels (ordered, other)\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("a")))
        // A repeated name and a name the file never uses: warnings, and the run goes on.
        let repeated = try runLSRConv(Self.common + ["--labels", "ordered,reversed,ordered", "--max-steps", "1", "--out", dir.file("d")])
        #expect(repeated.status == 0, "\(repeated.stderr)")
        #expect(repeated.stderr.hasPrefix("warning: --labels names 'ordered' twice: the first is id 0\n"), "\(repeated.stderr)")
        let unused = try runLSRConv(Self.common + ["--labels", "ordered,reversed,extra", "--max-steps", "1", "--out", dir.file("e")])
        #expect(unused.status == 0, "\(unused.stderr)")
        #expect(unused.stderr.hasPrefix("warning: label 'extra' of --labels appears in no example of \(Self.train)\n"), "\(unused.stderr)")
        #expect(unused.stderr.contains("training a new one, 3 labels (ordered, reversed, extra)"))
        // --num-labels against the data: an error before anything is written.
        let counted = try runLSRConv(Self.common + ["--num-labels", "3", "--max-steps", "1", "--out", dir.file("f")])
        #expect(counted.status == 1)
        #expect(counted.stderr == "error: --num-labels 3 contradicts \(Self.train), whose labels make 2\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("f")))
        // A model with a head keeps its labels.
        let model = TestPaths.fixture("learning/model")
        let contradicting = try runLSRConv([
            "train", "--model", model, "--train", Self.train, "--labels", "a,b", "--max-steps", "1", "--out", dir.file("b"),
        ])
        #expect(contradicting.status == 1)
        #expect(contradicting.stderr == "error: --labels a,b contradicts \(model)'s id2label (reversed, ordered); its head keeps its labels\n")
        let frozen = try runLSRConv(Self.common + ["--freeze-head", "--max-steps", "1", "--out", dir.file("c")])
        #expect(frozen.stderr == "error: --freeze-head: \(Self.pretrained) has no classification head to keep (a new one is trained without it)\n")
        // Without an adapter there is nothing to predict with.
        let bare = try runLSRConv(["predict", "--model", Self.pretrained, "--text", "open close"])
        #expect(bare.status == 1)
        #expect(bare.stderr == "error: \(Self.pretrained): no sequence-classification head (classifier.*) and no --adapter with one: nothing to predict with\n")
    }
}
