/// The labels of a head trained from scratch (a pretrained checkpoint without one): given by the
/// user, or read from the training file the way transformers' run_glue example does
/// (examples/pytorch/text-classification/run_glue.py: the sorted distinct labels of the train
/// split; numbers mean regression).
///
/// - `names` (`--labels a,b,c`): the label names in id order. Every label of the file must be
///   one of them, or an integer id into them (an error names the first that is neither, and its
///   line); a name the file never uses is kept, with a warning; a repeated one is dropped, with
///   a warning.
/// - Otherwise: names → their sorted distinct values; integers → ids 0…max ("LABEL_i", as
///   transformers names labels it was not told); reals → regression (one label).
/// - `numLabels` (`--num-labels`): 1 means regression; otherwise it must agree with the above.
public enum HeadLabels {
    public struct Plan: Equatable, Sendable {
        /// Label names by id; one entry ("LABEL_0") for regression.
        public var id2label: [Int: String]
        /// One line each, for stderr.
        public var warnings: [String] = []

        public var isRegression: Bool { id2label.count == 1 }
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// A label of the file that `--labels` lacks.
        case notInLabels(file: String, line: Int, value: LabelValue, labels: [String])
        /// `--num-labels` and what the data or `--labels` give disagree.
        case numLabelsContradicts(numLabels: Int, reason: String)
        /// Regression needs a number on every line.
        case notANumber(file: String, line: Int, value: LabelValue)
        /// A classifier needs at least two labels.
        case oneClass(file: String, value: LabelValue)
        case missingLabel(file: String, line: Int)

        public var description: String {
            switch self {
            case .notInLabels(let f, let l, let v, let labels):
                "\(f): line \(l): label \(v) is not one of --labels (\(labels.joined(separator: ", ")))"
            case .numLabelsContradicts(let n, let reason): "--num-labels \(n) contradicts \(reason)"
            case .notANumber(let f, let l, let v): "\(f): line \(l): label \(v) is not a number, and a one-label head is a regression head"
            case .oneClass(let f, let v):
                "\(f): every example has the label \(v): a classifier needs two or more (--labels names them; --num-labels 1 trains a regression head)"
            case .missingLabel(let f, let l): "\(f): line \(l): no label"
            }
        }
    }

    public static func plan(data: Dataset, names: [String]?, numLabels: Int?) throws(Error) -> Plan {
        var labelled: [(line: Int, value: LabelValue)] = []
        for example in data.examples {
            guard let label = example.label else { throw .missingLabel(file: data.path, line: example.line) }
            labelled.append((example.line, label))
        }
        let regression = numLabels == 1 || (names == nil && labelled.contains { if case .real = $0.value { true } else { false } })
        if regression {
            if let names, names.count != 1 { throw .numLabelsContradicts(numLabels: 1, reason: "--labels, which names \(names.count)") }
            for (line, value) in labelled {
                switch value {
                case .integer, .real: continue
                case .name(let text): if Double(text)?.isFinite != true { throw .notANumber(file: data.path, line: line, value: value) }
                }
            }
            return Plan(id2label: [0: names?.first ?? "LABEL_0"])
        }

        var plan = Plan(id2label: [:])
        if let names {
            var unique: [String] = []
            for name in names where !name.isEmpty {
                if unique.contains(name) {
                    plan.warnings.append("--labels names '\(name)' twice: the first is id \(unique.firstIndex(of: name)!)")
                } else {
                    unique.append(name)
                }
            }
            // A file's integers are class ids into --labels (0 → the first name), as everywhere else.
            func id(_ value: LabelValue) -> Int? {
                if let i = unique.firstIndex(of: text(of: value)) { return i }
                if case .integer(let i) = value, unique.indices.contains(i) { return i }
                return nil
            }
            var used = Set<Int>()
            for (line, value) in labelled {
                guard let i = id(value) else { throw .notInLabels(file: data.path, line: line, value: value, labels: unique) }
                used.insert(i)
            }
            for (i, name) in unique.enumerated() where !used.contains(i) {
                plan.warnings.append("label '\(name)' of --labels appears in no example of \(data.path)")
            }
            plan.id2label = Dictionary(uniqueKeysWithValues: unique.enumerated().map { ($0.offset, $0.element) })
        } else if labelled.allSatisfy({ if case .integer = $0.value { true } else { false } }) {
            let ids = labelled.compactMap { if case .integer(let i) = $0.value { i } else { nil } }
            if let negative = labelled.first(where: { if case .integer(let i) = $0.value { i < 0 } else { false } }) {
                throw .notInLabels(file: data.path, line: negative.line, value: negative.value, labels: ["class ids from 0"])
            }
            let count = max(numLabels ?? 0, (ids.max() ?? 0) + 1)
            plan.id2label = Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, "LABEL_\($0)") })
        } else {
            // Names (integers among them are names too here, as run_glue sorts what it finds).
            let distinct = Set(labelled.map { text(of: $0.value) }).sorted()
            plan.id2label = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($0.offset, $0.element) })
        }
        if plan.id2label.count == 1, names == nil, let first = labelled.first { throw .oneClass(file: data.path, value: first.value) }
        if let numLabels, numLabels != plan.id2label.count {
            let source = names != nil ? "--labels, which names \(plan.id2label.count)" : "\(data.path), whose labels make \(plan.id2label.count)"
            throw .numLabelsContradicts(numLabels: numLabels, reason: source)
        }
        return plan
    }

    /// A label as the text `--labels` would name it.
    static func text(of value: LabelValue) -> String {
        switch value {
        case .name(let s): s
        case .integer(let i): String(i)
        case .real(let d): String(d)
        }
    }
}
