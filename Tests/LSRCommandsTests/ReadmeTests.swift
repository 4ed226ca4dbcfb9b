import Foundation
import TestSupport
import Testing

/// The README says what the binary does (issue 15 item 6: its command list had fallen behind,
/// its synopses lacked flags `--help` shows). Each command's section holds, as its first code
/// block, the binary's own `--help` from the USAGE line on, and the "Commands" section holds the
/// root's: so every command is listed and every synopsis carries every flag. `make readme`
/// (LSRCONV_UPDATE_README=1) rewrites the blocks from the binary and the script; these tests fail
/// until it has.
///
/// The walk-through's code block is examples/roberta-to-classifier.sh itself, which `make demo`
/// runs on the fixtures: what the README shows is what was run.
@Suite struct ReadmeTests {
    static let readmePath = TestPaths.root + "/README.md"
    static let walkthroughPath = TestPaths.root + "/examples/roberta-to-classifier.sh"
    static var updating: Bool { ProcessInfo.processInfo.environment["LSRCONV_UPDATE_README"] == "1" }

    /// `lsrconv [command] --help` from its USAGE line to the end, without trailing blank lines.
    static func reference(_ command: String?) throws -> String {
        let result = try runLSRConv((command.map { [$0] } ?? []) + ["--help"])
        #expect(result.status == 0, "lsrconv \(command ?? "") --help: \(result)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let start = lines.firstIndex { $0.hasPrefix("USAGE:") } ?? lines.startIndex
        return lines[start...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The subcommand names of the root's help, in its order.
    static func commands(_ rootHelp: String) -> [String] {
        let lines = rootHelp.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == "SUBCOMMANDS:" }) else { return [] }
        let end = lines[(start + 1)...].firstIndex(where: \.isEmpty) ?? lines.endIndex  // then "See 'lsrconv help …'"
        return lines[(start + 1)..<end].compactMap { line in
            // "  name   Abstract": a name starts at column 2; wrapped abstracts start further in.
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            return line.dropFirst(2).split(separator: " ").first.map(String.init)
        }
    }

    /// The range of the first fenced block's body after the line `heading`, or nil.
    static func firstBlock(after heading: String, in text: String) -> Range<String.Index>? {
        guard let headingRange = text.range(of: "\n" + heading + "\n") else { return nil }
        guard let open = text.range(of: "\n```", range: headingRange.upperBound..<text.endIndex),
            let bodyStart = text.range(of: "\n", range: open.upperBound..<text.endIndex)?.upperBound,
            let close = text.range(of: "\n```", range: bodyStart..<text.endIndex)
        else { return nil }
        // No other section may start between the heading and its block.
        if text[headingRange.upperBound..<open.lowerBound].contains("\n#") { return nil }
        return bodyStart..<close.lowerBound
    }

    @Test func everyCommandSectionShowsItsHelp() throws {
        var readme = String(decoding: readFile(Self.readmePath), as: UTF8.self)
        let rootHelp = try Self.reference(nil)
        let names = Self.commands(rootHelp)
        #expect(names.count >= 13 && names.contains("train") && names.contains("eval"), "subcommands read from --help: \(names)")
        var stale: [String] = []
        for (heading, command) in [("## Commands", nil)] + names.map({ ("### `lsrconv \($0)`", $0) }) {
            let expected = try Self.reference(command)
            guard let block = Self.firstBlock(after: heading, in: readme) else {
                Issue.record("README.md has no section \"\(heading)\" with a code block (lsrconv \(command ?? "") --help)")
                continue
            }
            if readme[block] != expected {
                stale.append(heading)
                if Self.updating { readme.replaceSubrange(block, with: expected) }
            }
        }
        if Self.updating && !stale.isEmpty {
            try readme.write(toFile: Self.readmePath, atomically: true, encoding: .utf8)
            print("ReadmeTests: rewrote \(stale.count) blocks of README.md from --help: \(stale.joined(separator: ", "))")
        } else {
            #expect(stale.isEmpty, "README.md's blocks differ from --help (make readme rewrites them): \(stale.joined(separator: ", "))")
        }
    }

    @Test func walkthroughIsTheScriptMakeDemoRuns() throws {
        var readme = String(decoding: readFile(Self.readmePath), as: UTF8.self)
        let script = String(decoding: readFile(Self.walkthroughPath), as: UTF8.self)
        let heading = "### The script: examples/roberta-to-classifier.sh"
        let block = try #require(Self.firstBlock(after: heading, in: readme), "README.md has no \"\(heading)\" section with a code block")
        if Self.updating && String(readme[block]) + "\n" != script {
            readme.replaceSubrange(block, with: String(script.dropLast()))
            try readme.write(toFile: Self.readmePath, atomically: true, encoding: .utf8)
            print("ReadmeTests: rewrote the walk-through of README.md from examples/roberta-to-classifier.sh")
        } else {
            #expect(String(readme[block]) + "\n" == script, "README.md's walk-through differs from examples/roberta-to-classifier.sh (make readme)")
        }
        let makefile = String(decoding: readFile(TestPaths.root + "/Makefile"), as: UTF8.self)
        #expect(makefile.contains("sh examples/roberta-to-classifier.sh"), "make demo runs the walk-through")
    }
}
