import Foundation
import LSRFormats
import LSRSchema
import TestSupport
import Testing

/// Replays every input under Fuzz/regressions/schema/ (what `make fuzz` found in the schema
/// target, once fixed) the way the harness Fuzz/schema/main.swift feeds it: a schema, then
/// optionally a NUL byte and an instance, the schema validated against itself without one. The
/// check is that each finishes (no crash, no hang: `make test`'s timeout stops a hung suite)
/// and returns; what each input must produce is asserted in the suite that names it
/// (`nestedQuantifierPatternFinishes` for timeout-nested-quantifier). `make fuzz` replays the
/// same inputs under the sanitizers before fuzzing.
@Suite struct FuzzRegressionTests {
    static let directory = TestPaths.root + "/Fuzz/regressions/schema"

    @Test func schemaInputsFinish() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory).sorted()
        #expect(!names.isEmpty, "expected the recorded inputs in \(Self.directory)")
        for name in names {
            let bytes = readFile(Self.directory + "/" + name)
            let split = bytes.firstIndex(of: 0) ?? bytes.count
            guard let schemaValue = try? JSON.parse(Array(bytes[..<split])), let schema = try? JSONSchema(schemaValue) else { continue }
            let instance = split < bytes.count ? (try? JSON.parse(Array(bytes[(split + 1)...]))) ?? schemaValue : schemaValue
            _ = schema.validate(instance)
        }
    }
}
