import Foundation
import LSRFormats
import LSRSchema
import TestSupport
import Testing

/// The official JSON Schema Test Suite, draft 2020-12 (TestSupport's JSONSchemaSuite: where it
/// is, and the files and cases allowed to fail, with their reasons), run through the library:
/// a test passes when `validate` returns no errors exactly when `valid` is true. Every file must
/// pass completely except JSONSchemaSuite.excludedFiles and the cases of knownFailures; a known
/// failure that starts passing fails the test too, so the list cannot go stale.
@Suite struct ConformanceTests {
    static let directory = JSONSchemaSuite.directory
    static let excludedFiles = JSONSchemaSuite.excludedFiles
    static let knownFailures = JSONSchemaSuite.knownFailures

    static var suitePresent: Bool {
        let present = JSONSchemaSuite.present
        if !present { print("ConformanceTests: skipped, no JSON Schema Test Suite at \(directory)") }
        return present
    }

    /// The outcome of one file.
    struct FileResult {
        var name: String
        var passed = 0
        var total = 0
        /// "file / group / test" and the errors `validate` returned, for each failing case.
        var failures: [(key: String, detail: String)] = []
        /// Passing cases whose errors include an unresolvable reference: right for the wrong reason.
        var passedOnUnresolvable = 0
    }

    @Test(.enabled(if: ConformanceTests.suitePresent, "needs the JSON Schema Test Suite in ../shared/jsonschema-suite"))
    func draft2020_12() throws {
        let start = ContinuousClock.now
        let names = try JSONSchemaSuite.files()
        #expect(names.count >= 40, "expected the 2020-12 suite's 47 files, found \(names.count)")
        let results = try names.map(run)
        let elapsed = ContinuousClock.now - start
        report(results, elapsed: elapsed)

        for result in results where Self.excludedFiles[result.name] == nil {
            for failure in result.failures where Self.knownFailures[failure.key] == nil {
                Issue.record("\(failure.key): \(failure.detail)")
            }
        }
        let failing = Set(results.flatMap { $0.failures.map(\.key) })
        for key in Self.knownFailures.keys.sorted() where !failing.contains(key) {
            Issue.record("known failure now passes (or no longer exists), remove it from knownFailures: \(key)")
        }
        #expect(results.reduce(0) { $0 + $1.total } >= 1200)
    }

    /// Runs every case of one suite file.
    private func run(_ name: String) throws -> FileResult {
        var result = FileResult(name: name)
        for group in try JSONSchemaSuite.groups(of: name) {
            let schema: Result<JSONSchema, SchemaError> = Result { () throws(SchemaError) in try JSONSchema(group.schema) }
            for test in group.cases {
                result.total += 1
                switch schema {
                case .failure(let error):
                    result.failures.append((test.key, "schema rejected: \(error)"))
                case .success(let schema):
                    let errors = schema.validate(test.data)
                    if errors.isEmpty == test.valid {
                        result.passed += 1
                        if errors.contains(where: { $0.message.hasPrefix("unresolvable reference") }) {
                            result.passedOnUnresolvable += 1
                        }
                    } else {
                        let detail =
                            test.valid
                            ? "expected valid, got \(errors.count) errors: "
                                + errors.prefix(3).map(\.description).joined(separator: "; ")
                            : "expected invalid, got no errors"
                        result.failures.append((test.key, detail))
                    }
                }
            }
        }
        return result
    }

    /// Prints the per-file table, the first failures and the totals.
    private func report(_ results: [FileResult], elapsed: Duration) {
        var lines = ["JSON Schema Test Suite, draft 2020-12 (\(Self.directory))"]
        lines.append("file".padding(to: 34) + "passed/total  note")
        for result in results {
            var notes: [String] = []
            if Self.excludedFiles[result.name] != nil { notes.append("excluded: remote references") }
            let known = result.failures.filter { Self.knownFailures[$0.key] != nil }.count
            if known > 0 { notes.append("\(known) known failure\(known == 1 ? "" : "s")") }
            if result.passedOnUnresolvable > 0 {
                notes.append("\(result.passedOnUnresolvable) pass only through an unresolvable $ref")
            }
            lines.append(
                result.name.padding(to: 34) + "\(result.passed)/\(result.total)".padding(to: 14)
                    + notes.joined(separator: "; "))
        }
        let passed = results.reduce(0) { $0 + $1.passed }
        let total = results.reduce(0) { $0 + $1.total }
        let counted = results.filter { Self.excludedFiles[$0.name] == nil }
        let countedPassed = counted.reduce(0) { $0 + $1.passed }
        let countedTotal = counted.reduce(0) { $0 + $1.total }
        lines.append("total \(passed)/\(total); without refRemote.json \(countedPassed)/\(countedTotal); \(elapsed)")
        let failures = results.filter { Self.excludedFiles[$0.name] == nil }.flatMap(\.failures)
        if !failures.isEmpty { lines.append("first failures:") }
        for failure in failures.prefix(10) {
            let tag = Self.knownFailures[failure.key].map { " [known: \($0)]" } ?? ""
            lines.append("  \(failure.key): \(failure.detail)\(tag)")
        }
        print(lines.joined(separator: "\n"))
    }
}

extension String {
    /// The string padded with spaces to `width` characters (unchanged when longer).
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
