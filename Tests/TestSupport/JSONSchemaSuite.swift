import Foundation
import LSRFormats

/// The official JSON Schema Test Suite (json-schema-org/JSON-Schema-Test-Suite), draft 2020-12,
/// read from the shared checkout beside the package (never copied into it). ConformanceTests
/// runs it through the library, ValidateDocumentCommandTests through the binary; both hold
/// every case to the suite's verdict except the ones listed here, with their reasons.
///
/// Each file is a list of groups `{description, schema, tests: [{description, data, valid}]}`.
public enum JSONSchemaSuite {
    public static let directory = TestPaths.root + "/../shared/jsonschema-suite/tests/draft2020-12"

    public static var present: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Files not required to pass, with the reason.
    public static let excludedFiles: [String: String] = [
        "refRemote.json":
            "every group references a remote document (http://localhost:1234/…); remote references are out of scope"
    ]

    /// "file / group / test" of each case allowed to fail, with the reason. A known failure that
    /// starts passing fails the tests too, so the list cannot go stale.
    public static let knownFailures: [String: String] = [
        "dynamicRef.json / strict-tree schema, guards against misspelled properties / instance with correct field":
            "the schema $refs http://localhost:1234/draft2020-12/tree.json, a remote document",
        "dynamicRef.json / tests for implementation dynamic anchor and reference link / correct extended schema":
            "the schema $refs http://localhost:1234/draft2020-12/extendible-dynamic-ref.json, a remote document",
        "dynamicRef.json / $ref and $dynamicAnchor are independent of order - $defs first / correct extended schema":
            "the schema $refs http://localhost:1234/draft2020-12/extendible-dynamic-ref.json, a remote document",
        "dynamicRef.json / $ref and $dynamicAnchor are independent of order - $ref first / correct extended schema":
            "the schema $refs http://localhost:1234/draft2020-12/extendible-dynamic-ref.json, a remote document",
        "dynamicRef.json / $ref to $dynamicRef finds detached $dynamicAnchor / number is valid":
            "the schema $refs http://localhost:1234/draft2020-12/detached-dynamicref.json, a remote document",
        "vocabulary.json / schema that uses custom metaschema with with no validation vocabulary / no validation: invalid number, but it still validates":
            "$schema names a remote meta-schema that turns the validation vocabulary off; $vocabulary is not honoured, every vocabulary is on",
    ]

    /// One group of one file: its schema and its cases.
    public struct Group {
        public let file: String
        public let description: String
        public let schema: JSONValue
        public let cases: [Case]
    }

    public struct Case {
        /// "file / group / test", the key of `knownFailures`.
        public let key: String
        public let data: JSONValue
        public let valid: Bool
    }

    /// The suite's file names, sorted.
    public static func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// The groups of one file, in the file's order.
    public static func groups(of file: String) throws -> [Group] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
        return try (JSON.parse(bytes).arrayValue ?? []).map { group in
            let name = group["description"]?.stringValue ?? "?"
            let cases = (group["tests"]?.arrayValue ?? []).map { test in
                Case(
                    key: "\(file) / \(name) / \(test["description"]?.stringValue ?? "?")",
                    data: test["data"] ?? .null, valid: test["valid"]?.boolValue ?? true)
            }
            return Group(file: file, description: name, schema: group["schema"] ?? true, cases: cases)
        }
    }
}
