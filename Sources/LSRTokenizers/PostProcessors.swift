import LSRFormats

/// The post-processors of Hugging Face `tokenizers` (tokenizers/src/processors/{roberta,bert,
/// template,sequence}.rs) as the one thing lsrconv needs of them: where special tokens go around
/// the (truncated) sequences, with which type ids. Offsets are not tracked, so ByteLevel's
/// offset trimming is nothing here.
extension Tokenizer {
    /// How special tokens frame the sequences: tokenizers' RobertaProcessing and
    /// TemplateProcessing both reduce to a template.
    struct PostProcessor: Sendable {
        enum Piece: Sendable {
            /// Tokens with their type id, e.g. `<s>` → ([0], ["<s>"]).
            case special(ids: [Int32], tokens: [String], typeId: Int32)
            /// The first (0) or second (1) sequence with its type id.
            case sequence(index: Int, typeId: Int32)
        }

        var single: [Piece]
        var pair: [Piece]

        /// No post-processor: sequences as they are, the second with type id 1 (as tokenizers
        /// encodes a pair's second sequence).
        static let plain = PostProcessor(
            single: [.sequence(index: 0, typeId: 0)], pair: [.sequence(index: 0, typeId: 0), .sequence(index: 1, typeId: 1)])

        /// `RobertaProcessing`: `<s> A </s>` and `<s> A </s> </s> B </s>`, type ids all 0.
        static func roberta(cls: (String, Int32), sep: (String, Int32)) -> PostProcessor {
            let open = Piece.special(ids: [cls.1], tokens: [cls.0], typeId: 0)
            let close = Piece.special(ids: [sep.1], tokens: [sep.0], typeId: 0)
            return PostProcessor(
                single: [open, .sequence(index: 0, typeId: 0), close],
                pair: [open, .sequence(index: 0, typeId: 0), close, close, .sequence(index: 1, typeId: 0), close])
        }

        /// `BertProcessing`: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`, type ids 0 up to the
        /// first `[SEP]`, 1 after it (tokenizers/src/processors/bert.rs).
        static func bert(cls: (String, Int32), sep: (String, Int32)) -> PostProcessor {
            let open = Piece.special(ids: [cls.1], tokens: [cls.0], typeId: 0)
            return PostProcessor(
                single: [open, .sequence(index: 0, typeId: 0), .special(ids: [sep.1], tokens: [sep.0], typeId: 0)],
                pair: [
                    open, .sequence(index: 0, typeId: 0), .special(ids: [sep.1], tokens: [sep.0], typeId: 0),
                    .sequence(index: 1, typeId: 1), .special(ids: [sep.1], tokens: [sep.0], typeId: 1),
                ])
        }

        /// `added_tokens(is_pair)`: how many special tokens the template adds.
        func addedCount(pair isPair: Bool) -> Int {
            (isPair ? pair : single).reduce(0) { count, piece in
                if case .special(let ids, _, _) = piece { count + ids.count } else { count }
            }
        }
    }

    /// The special-token template of a post-processor; nil for one that only trims offsets.
    static func parsePostProcessor(_ cursor: JSONCursor) throws(TokenizerError) -> PostProcessor? {
        let object = try cursor.object()
        switch object.typeName {
        case "ByteLevel":
            return nil  // only trims offsets
        case "RobertaProcessing", "BertProcessing":
            func token(_ key: String) throws(TokenizerError) -> (String, Int32) {
                let pair = try object.required(key).array()
                guard pair.count == 2 else {
                    throw .wrongType(pointer: "\(cursor.pointer)/\(key)", expected: "[token, id]", found: "\(pair.count) elements")
                }
                return (try pair[0].string(), try pair[1].id())
            }
            let (cls, sep) = (try token("cls"), try token("sep"))
            return object.typeName == "BertProcessing" ? .bert(cls: cls, sep: sep) : .roberta(cls: cls, sep: sep)
        case "TemplateProcessing":
            let specials = try object.required("special_tokens").object()
            func pieces(_ key: String) throws(TokenizerError) -> [PostProcessor.Piece] {
                var result: [PostProcessor.Piece] = []
                for entry in try object.required(key).array() {
                    let piece = try entry.object()
                    if let special = piece.optional("SpecialToken") {
                        let fields = try special.object()
                        let name = try fields.required("id").string()
                        let definition = try specials.required(name).object()
                        let ids = try definition.required("ids").array().map { c throws(TokenizerError) in try c.id() }
                        let tokens = try definition.required("tokens").array().map { c throws(TokenizerError) in try c.string() }
                        result.append(.special(ids: ids, tokens: tokens, typeId: try fields.required("type_id").id()))
                    } else if let sequence = piece.optional("Sequence") {
                        let fields = try sequence.object()
                        let name = try fields.required("id").string()
                        guard name == "A" || name == "B" else {
                            throw .wrongType(pointer: "\(sequence.pointer)/id", expected: "\"A\" or \"B\"", found: "\"\(name)\"")
                        }
                        result.append(.sequence(index: name == "A" ? 0 : 1, typeId: try fields.required("type_id").id()))
                    } else {
                        throw .wrongType(pointer: entry.pointer, expected: "{\"SpecialToken\": …} or {\"Sequence\": …}", found: "other keys")
                    }
                }
                return result
            }
            return PostProcessor(single: try pieces("single"), pair: try pieces("pair"))
        case "Sequence":
            var chosen: PostProcessor?
            for member in try object.required("processors").array() {
                guard let processor = try parsePostProcessor(member) else { continue }
                guard chosen == nil else { throw .unsupported(pointer: member.pointer, what: "a second special-token post-processor") }
                chosen = processor
            }
            return chosen ?? PostProcessor.plain
        case let other:
            throw .unsupported(pointer: cursor.pointer, what: "post-processor \(other.map { "\"\($0)\"" } ?? "without a type")")
        }
    }
}
