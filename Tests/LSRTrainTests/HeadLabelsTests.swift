import LSRFormats
import LSRTrain
import Testing
import TestSupport

/// The labels of a fresh head (issue 15): run_glue's rule (sorted distinct labels; numbers are
/// regression) and the --labels / --num-labels checks, with their exact messages.
@Suite struct HeadLabelsTests {
    let dir = TemporaryDirectory()

    func data(_ labels: [String]) throws -> Dataset {
        let lines = labels.enumerated().map { "{\"text\": \"t\($0.offset)\", \"label\": \($0.element)}" }
        let path = dir.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: "train.jsonl")
        return try DataSource.load(path: path, labels: .required)
    }

    func error(_ labels: [String], names: [String]? = nil, numLabels: Int? = nil) throws -> String? {
        let d = try data(labels)
        do {
            _ = try HeadLabels.plan(data: d, names: names, numLabels: numLabels)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func namesAreSortedAsRunGlueSortsThem() throws {
        let plan = try HeadLabels.plan(data: try data(["\"pos\"", "\"neg\"", "\"neutral\"", "\"pos\""]), names: nil, numLabels: nil)
        #expect(plan.id2label == [0: "neg", 1: "neutral", 2: "pos"])
        #expect(plan.warnings.isEmpty && !plan.isRegression)
    }

    @Test func integersAreIdsFromZero() throws {
        let plan = try HeadLabels.plan(data: try data(["2", "0", "2"]), names: nil, numLabels: nil)
        #expect(plan.id2label == [0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"])
        let wider = try HeadLabels.plan(data: try data(["1", "0"]), names: nil, numLabels: 4)
        #expect(wider.id2label.count == 4)
        #expect(try error(["2", "0"], numLabels: 2) == "--num-labels 2 contradicts \(dir.file("train.jsonl")), whose labels make 3")
    }

    @Test func realsOrOneLabelMeanRegression() throws {
        let plan = try HeadLabels.plan(data: try data(["0.5", "3", "4.25"]), names: nil, numLabels: nil)
        #expect(plan.isRegression && plan.id2label == [0: "LABEL_0"])
        let forced = try HeadLabels.plan(data: try data(["1", "3"]), names: nil, numLabels: 1)
        #expect(forced.isRegression)
        #expect(try error(["1", "\"high\""], numLabels: 1)
            == "\(dir.file("train.jsonl")): line 2: label \"high\" is not a number, and a one-label head is a regression head")
    }

    @Test func givenNamesAreCheckedAgainstTheData() throws {
        let plan = try HeadLabels.plan(data: try data(["\"b\"", "\"a\"", "1"]), names: ["b", "a", "c", "a"], numLabels: nil)
        #expect(plan.id2label == [0: "b", 1: "a", 2: "c"])
        #expect(plan.warnings == [
            "--labels names 'a' twice: the first is id 1",
            "label 'c' of --labels appears in no example of \(dir.file("train.jsonl"))",
        ])
        #expect(try error(["\"a\"", "\"z\""], names: ["a", "b"])
            == "\(dir.file("train.jsonl")): line 2: label \"z\" is not one of --labels (a, b)")
        #expect(try error(["\"a\"", "\"b\""], names: ["a", "b"], numLabels: 3) == "--num-labels 3 contradicts --labels, which names 2")
    }

    @Test func oneClassIsNotAClassifier() throws {
        #expect(try error(["\"a\"", "\"a\""]) == "\(dir.file("train.jsonl")): every example has the label \"a\": a classifier needs two or more "
            + "(--labels names them; --num-labels 1 trains a regression head)")
    }
}
