import ArgumentParser
import LSRFormats
import LSRTokenizers
import LSRTrain

/// `lsrconv tokenize --tokenizer DIR --text S [--pair S] [--max-length N] [--json]`.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode a text (or a pair) with a RoBERTa tokenizer and show its ids and tokens.",
        discussion: """
            Encodes as Hugging Face tokenizers does: <s> A </s>, or <s> A </s></s> B </s> for a pair; \
            --max-length truncates longest first (default: 128, or the tokenizer's model_max_length if \
            lower). Tokens are shown in their byte-level spelling (Ġ is a space, Ċ a newline).

            Examples:
              lsrconv tokenize --tokenizer roberta-base --text "Hello world"
              lsrconv tokenize --tokenizer roberta-base --text "A man is eating." \\
                  --pair "Someone eats." --json
              lsrconv tokenize --tokenizer roberta-base --text "$(cat review.txt)" \\
                  --max-length 32
            """)

    @Option(help: "Tokenizer directory (tokenizer.json, or vocab.json + merges.txt).")
    var tokenizer: String

    @Option(help: "Text to encode.")
    var text: String

    @Option(help: "Second text of a pair.")
    var pair: String?

    @Option(
        help: "Truncate to this many tokens, special tokens included, longest first (default: \(DataOptions.defaultMaxLength), or the tokenizer's model_max_length if lower).")
    var maxLength: Int?

    @Flag(help: "Print one JSON document {ids, tokens, attention_mask} instead of a table.")
    var json = false

    func validate() throws {
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1") }
    }

    func run() throws {
        let loaded = try reporting(path: tokenizer) { try Tokenizer.load(directory: tokenizer) }
        let specials = loaded.specialTokenCount(pair: pair != nil)
        let length = DataOptions.maxLength(maxLength, limit: loaded.modelMaxLength)
        if length < specials {
            throw CommandFailure(
                message: "--max-length \(length) leaves no room for text: \(tokenizer) adds \(specials) special tokens"
                    + (pair == nil ? "" : " to a pair"))
        }
        let encoding = loaded.encode(text, pair: pair, maxLength: length)
        if json {
            Output.json([
                "ids": .array(encoding.ids.map { JSONValue(Int($0)) }),
                "tokens": .array(encoding.tokens.map { .string($0) }),
                "attention_mask": .array(encoding.attentionMask.map { JSONValue(Int($0)) }),
            ])
            return
        }
        var rows = [["index", "id", "token"]]
        for (index, (id, token)) in zip(encoding.ids, encoding.tokens).enumerated() {
            rows.append([String(index), String(id), Self.visible(token)])
        }
        for line in Output.table(rows) { Output.line(line) }
        Output.line("\(encoding.count) tokens" + (maxLength.map { " (max length \($0))" } ?? ""))
    }

    /// A token with control characters escaped, so each stays on its table row.
    static func visible(_ token: String) -> String {
        var shown = ""
        for scalar in token.unicodeScalars {
            switch scalar {
            case "\n": shown += "\\n"
            case "\r": shown += "\\r"
            case "\t": shown += "\\t"
            case "\\": shown += "\\\\"
            default:
                if scalar.properties.generalCategory == .control || (scalar.properties.isWhitespace && scalar != " ") {
                    shown += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    shown.unicodeScalars.append(scalar)
                }
            }
        }
        return shown
    }
}
