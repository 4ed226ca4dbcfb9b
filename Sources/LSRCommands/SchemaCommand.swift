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
            `lsrconv validate FILE --schema NAME` checks a document against it. --json lists them as one JSON \
            document {schemas: [{name, id, title}]}; a schema is JSON either way.

            Examples:
              lsrconv schema
              lsrconv schema lsr-adapter > lsr-adapter.schema.json
              lsrconv schema --json
            """)

    @Argument(help: "A bundled schema's name (as listed without NAME).")
    var name: String?

    @Flag(help: "List the schemas as one JSON document instead of a table (a schema itself is always JSON).")
    var json = false

    func validate() throws {
        if let name, BundledSchemas.named(name) == nil {
            throw ValidationError("no bundled schema '\(name)': the schemas are \(Self.nameList)")
        }
    }

    func run() throws {
        guard let name else {
            let listed = BundledSchemas.all.map { schema in
                (name: schema.name, id: schema.document["$id"]?.stringValue ?? "", title: schema.document["title"]?.stringValue ?? "")
            }
            if json {
                Output.json(["schemas": .array(listed.map { ["name": .string($0.name), "id": .string($0.id), "title": .string($0.title)] })])
                return
            }
            let rows = [["name", "$id", "title"]] + listed.map { [$0.name, $0.id, $0.title] }
            for line in Output.table(rows) { Output.line(line) }
            return
        }
        let schema = BundledSchemas.named(name)!  // validate() checked the name
        // The text ends with its newline; Output.line adds one.
        Output.line(String(schema.text.dropLast()))
    }

    /// "lsr-adapter, inspect-output, ..." for messages.
    static var nameList: String { BundledSchemas.all.map(\.name).joined(separator: ", ") }
}
