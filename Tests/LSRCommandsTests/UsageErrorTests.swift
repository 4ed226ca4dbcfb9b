import Foundation
import TestSupport
import Testing

/// Option values refused before any file is read: swift-argument-parser's ValidationError, so
/// one `error:` line, exit 64 (EX_USAGE) and nothing written, the same on every command.
@Suite struct UsageErrorTests {
    static let subcommands = [
        "env", "inspect", "import", "predict", "tokenize", "merge", "init-adapter", "validate", "schema", "export", "convert-adapter", "train", "eval",
    ]

    /// Runs `arguments` expecting a usage error with exactly `message`, and nothing on stdout.
    func usageError(_ arguments: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try runLSRConv(arguments)
        #expect(result.status == 64, "\(arguments): exit \(result.status)", sourceLocation: sourceLocation)
        #expect(result.stderr == "error: \(message)\n", "\(arguments)", sourceLocation: sourceLocation)
        #expect(result.stdout == "", "\(arguments)", sourceLocation: sourceLocation)
    }

    /// Every command that takes --threads (found from each subcommand's help, so a new one is
    /// covered too) refuses 0 and negative counts, with the message predict always gave.
    @Test func threadsBelowOneAreRefusedEverywhere() throws {
        let dir = TemporaryDirectory()
        // The required options of each; the paths are never read (validate() runs first).
        let required: [String: [String]] = [
            "predict": ["--model", dir.file("m"), "--text", "a"],
            "eval": ["--model", dir.file("m"), "--data", dir.file("d.jsonl")],
            "train": ["--model", dir.file("m"), "--train", dir.file("d.jsonl"), "--out", dir.file("out")],
        ]
        var withThreads: [String] = []
        for command in Self.subcommands {
            let help = try runLSRConv([command, "--help"])
            #expect(help.status == 0, "\(command) --help")
            if help.stdout.contains("--threads") { withThreads.append(command) }
        }
        #expect(withThreads == ["predict", "train", "eval"])
        for command in withThreads {
            let arguments = try #require(required[command], "required options of \(command)")
            for value in ["0", "-1", "-64"] {
                try usageError([command] + arguments + ["--threads=\(value)"], "--threads must be at least 1")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "nothing written")
    }
}
