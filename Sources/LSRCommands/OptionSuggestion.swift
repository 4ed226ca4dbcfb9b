import ArgumentParser
import LSRFormats

/// "did you mean": an unknown option close to one the command takes is answered with that one,
/// `error: unknown option '--lrr'; did you mean '--lr'?` (exit 64, as every usage error).
///
/// swift-argument-parser reports an unknown option with its own suggestion (edit distance < 4,
/// across the command's names). lsrconv's rule is narrower and adds prefixes: the one long
/// option of the same (sub)command that the typed name begins, else the closest within edit
/// distance 2 (and closer than the typed name is long, so that short names do not all suggest
/// each other). The options come from the parser's own description of the command tree (the ToolInfo
/// JSON of `--experimental-dump-help`), so every command, train included, is covered without a
/// list to keep in step.
enum OptionSuggestion {
    /// Options swift-argument-parser answers itself on every command, beside the declared ones.
    static let builtIn = ["--help", "--version", "--generate-completion-script", "--experimental-dump-help"]

    /// The message for the first unknown long option among `arguments` (nil: none), with the
    /// suggestion when one is close. Used for any error met while parsing: swift-argument-parser
    /// reports a missing required option, or a failed validate(), before an unknown option
    /// (`train --lrr 1` would say "Missing expected argument '--model <model>'"), and the
    /// mistyped name is the more useful report.
    static func unknownOption(in arguments: [String]) -> String? {
        let known = longOptions(arguments: arguments)
        guard !known.isEmpty, let typed = firstUnknownOption(arguments, known: known + builtIn) else { return nil }
        let text = "unknown option '\(typed)'"
        guard let suggestion = suggestion(for: typed, among: known) else { return text }
        return text + "; did you mean '\(suggestion)'?"
    }

    /// The first "--name" (or "--name=value") among `arguments` that is none of `known`, up to a
    /// bare "--" (after which everything is a value).
    static func firstUnknownOption(_ arguments: [String], known: [String]) -> String? {
        for argument in arguments {
            if argument == "--" { return nil }
            guard argument.hasPrefix("--") else { continue }
            let name = String(argument.prefix { $0 != "=" })
            if !known.contains(name) { return name }
        }
        return nil
    }

    /// The one of `candidates` (each "--name") `typed` abbreviates, else the closest to it by the
    /// rule above; nil if none is close.
    static func suggestion(for typed: String, among candidates: [String]) -> String? {
        let extensions = candidates.filter { $0.hasPrefix(typed) }
        if extensions.count == 1 { return extensions[0] }
        let name = typed.dropFirst(2)
        let scored = candidates.map { (option: $0, distance: editDistance(name, $0.dropFirst(2))) }
        return scored.filter { $0.distance <= 2 && $0.distance < name.count }.min { $0.distance < $1.distance }?.option
    }

    /// The long options ("--name") of the subcommand `arguments` invoke (the root's when they name
    /// none), in declaration order.
    static func longOptions(arguments: [String]) -> [String] {
        guard var command = (try? JSON.parse(LSRConv._dumpHelp()))?["command"] else { return [] }
        // Descend through the subcommands the first non-option arguments name.
        for argument in arguments {
            if argument.hasPrefix("-") { continue }
            guard let sub = command["subcommands"]?.arrayValue?.first(where: { $0["commandName"]?.stringValue == argument }) else { break }
            command = sub
        }
        var options: [String] = []
        for argument in command["arguments"]?.arrayValue ?? [] {
            for name in argument["names"]?.arrayValue ?? [] where name["kind"]?.stringValue == "long" {
                if let long = name["name"]?.stringValue { options.append("--" + long) }
            }
        }
        return options
    }

    /// Levenshtein distance: insertions, deletions and substitutions of one character each.
    static func editDistance(_ a: Substring, _ b: Substring) -> Int {
        let (x, y) = (Array(a), Array(b))
        var previous = Array(0...y.count)  // distances from x's first i characters to y's first j
        for i in x.indices {
            var current = [i + 1] + [Int](repeating: 0, count: y.count)
            for j in y.indices {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x[i] == y[j] ? 0 : 1))
            }
            previous = current
        }
        return previous[y.count]
    }
}
