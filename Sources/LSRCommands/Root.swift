import ArgumentParser
import Foundation
import LSRFormats
import LSRDistributed
import LSREngine
import LSRModel

/// The `lsrconv` root command. Subcommands live one per file; libraries never print.
public struct LSRConv: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lsrconv",
        abstract: "Read RoBERTa checkpoints, adapt them with LSR adapters, write files other frameworks use.",
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
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CommandFailure {
            Output.error(failure.message)
            Foundation.exit(failure.exitCode)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)  // the command already said why (train, interrupted: 130)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            let message = LSRConv.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            Output.error(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message)
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
        throw CommandFailure(message: error.withPath(StagedDirectory.destination(of:)).description)
    } catch {
        // Errors that already name the file (DatasetError does) are not prefixed twice.
        let text = "\(error)"
        guard let path, !text.hasPrefix(path + ":") else { throw CommandFailure(message: text) }
        throw CommandFailure(message: "\(path): \(text)")
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
