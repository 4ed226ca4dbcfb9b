import ArgumentParser
import Foundation
import LSRFormats
import LSRDistributed
import LSREngine
import LSRModel
import LSRTrain

/// The `lsrconv` root command. Subcommands live one per file; libraries never print.
public struct LSRConv: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lsrconv",
        abstract: "Read RoBERTa checkpoints, adapt them with LSR adapters, write files other frameworks use.",
        discussion: """
            Commands that take an adapter directory as an option name it --adapter; every command that \
            writes refuses to replace an existing output without --force; --json gives a command's result as one JSON \
            document (`lsrconv schema` lists their schemas). Usage errors exit with status 64, other \
            failures with 1, each with one `error:` line on stderr.

            Shell completion: `lsrconv --generate-completion-script bash` (or zsh, fish) prints a script; \
            for bash, `source <(lsrconv --generate-completion-script bash)` in ~/.bashrc.

            Examples:
              lsrconv import pytorch_model.bin --out roberta-base
              lsrconv train --model roberta-base --train train.tsv --eval dev.tsv \\
                  --out sst2
              lsrconv predict --model roberta-base --adapter sst2 --text "a gripping film"
              lsrconv merge --model roberta-base --adapter sst2 --out sst2-merged
            """,
        version: "0.1.0",
        subcommands: [Env.self, Inspect.self, Import.self, Predict.self, Tokenize.self, Merge.self, InitAdapter.self, Validate.self, SchemaCommand.self, Export.self, ConvertAdapter.self, Train.self, Eval.self])

    public init() {}

    /// Runs the command line. Every failure ends in one `error:` line on stderr and a non-zero
    /// exit; help and version requests print as usual.
    public static func main() {
        // First of all: this may start the process again with faster BLAS kernels (BLASKernels).
        let kernels = BLASKernels.selectAtLaunch()
        if (Launch.declaredRank ?? 0) == 0 {
            for warning in kernels.warnings { Output.warning(warning) }
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        var parsed = false
        do {
            var command = try parseAsRoot()
            parsed = true
            try command.run()
        } catch let failure as CommandFailure {
            Output.error(failure.message)
            Foundation.exit(failure.exitCode)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)  // the command already said why (train, interrupted: 130)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            var message = LSRConv.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            if message.hasPrefix("Error: ") { message.removeFirst(7) }
            // A mistyped option is the first thing to report about a command line (usage: 64).
            if !parsed, let unknown = OptionSuggestion.unknownOption(in: arguments) {
                Output.error(unknown)
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
            if message.hasPrefix("Unknown option") { message = "u" + message.dropFirst() }  // short options: "-x"
            Output.error(message)
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }
}

/// A failure a command reports to the user: the message already names the file, and where it
/// applies the tensor, JSON pointer and byte offset.
struct CommandFailure: Error {
    let message: String
    var exitCode: Int32 = 1
}

/// Runs a command body, turning any library error into a `CommandFailure` whose message is
/// prefixed by `path` unless the error already carries its file.
func reporting<T>(path: String? = nil, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as CommandFailure {
        throw failure
    } catch let error as FileContextError {
        throw CommandFailure(message: error.description)
    } catch let error as FileError {
        let named = error.withPath(StagedDirectory.destination(of:))
        if case .alreadyExists = named { throw CommandFailure(message: named.description + Outputs.forceHint) }
        throw CommandFailure(message: named.description)
    } catch {
        // Errors that already name the file (DatasetError does, standard input as <stdin>) are
        // not prefixed twice.
        let text = "\(error)"
        guard let path, !text.hasPrefix(path + ":"),
            !(path == DataSource.standardInputPath && text.hasPrefix(DataSource.standardInputName + ":"))
        else { throw CommandFailure(message: text) }
        throw CommandFailure(message: "\(path): \(text)")
    }
}

/// The rules every output follows: one message for an existing output without `--force`.
enum Outputs {
    /// What the message about an existing output adds.
    static let forceHint = " (--force replaces it)"

    /// Refuses to replace an existing `output` without `--force`, before any work is done (the
    /// writers check again when they rename into place).
    static func refuseExisting(_ output: String, force: Bool) throws {
        let path = StagedDirectory.trimmed(output)
        guard !force, FileSystem.exists(path) else { return }
        throw CommandFailure(message: "\(path): already exists" + forceHint)
    }
}

/// Refuses an output that is one of the inputs, holds one, or lies inside an input directory:
/// writing it would replace or mix with what the command reads (issue 7: outputs inside inputs,
/// the same path as input and output). Inputs that are nil (options not given) are skipped.
func refuseOverlap(output: String, inputs: [String?]) throws {
    for input in inputs.compactMap({ $0 }) {
        try reporting(path: input) { try ModelImport.checkOutputOutsideInput(output: output, input: input) }
    }
}
