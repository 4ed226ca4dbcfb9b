import ArgumentParser
import LSRFormats

/// `lsrconv schema [NAME]`: the JSON Schemas of the files and `--json` outputs lsrconv writes,
/// as bundled in the binary (BundledSchemas, the text of schemas/ byte for byte).
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "List the bundled JSON Schemas, or print one.",
        discussion: """
            Without NAME, lists every bundled schema: name, $id and title. With NAME (e.g. lsr-adapter, \
            validate-output), prints that schema's text exactly as in schemas/NAME.schema.json. \
            `lsrconv validate FILE --schema NAME` checks a document against it.
            """)

    @Argument(help: "A bundled schema's name (as listed without NAME).")
    var name: String?

    func run() throws {
        guard let name else {
            var rows = [["name", "$id", "title"]]
            for schema in BundledSchemas.all {
                let document = schema.document
                rows.append([schema.name, document["$id"]?.stringValue ?? "", document["title"]?.stringValue ?? ""])
            }
            for line in Output.table(rows) { Output.line(line) }
            return
        }
        guard let schema = BundledSchemas.named(name) else {
            throw CommandFailure(message: "no bundled schema '\(name)': the schemas are \(Self.nameList)")
        }
        // The text ends with its newline; Output.line adds one.
        Output.line(String(schema.text.dropLast()))
    }

    /// "lsr-adapter, inspect-output, ..." for messages.
    static var nameList: String { BundledSchemas.all.map(\.name).joined(separator: ", ") }
}
