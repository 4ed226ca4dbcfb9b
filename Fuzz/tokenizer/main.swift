// libFuzzer harness: the tokenizer loaders (tokenizer.json with any model; vocab.json +
// merges.txt; vocab.txt), then an encoding with whatever loaded. Input: one mode byte, then
// NUL-separated files:
//   even mode byte:    tokenizer.json [\0 tokenizer_config.json]
//   mode byte % 4 = 3: vocab.txt [\0 tokenizer_config.json]
//   mode byte % 4 = 1: vocab.json \0 merges.txt [\0 tokenizer_config.json [\0 added_tokens.json]]
import FuzzSupport
import LSRTokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    guard let mode = bytes.first else { return 0 }
    var parts: [ArraySlice<UInt8>] = []
    var rest = bytes[1...]
    while !rest.isEmpty, parts.count < 3 {
        let (part, tail) = splitOnce(rest, at: 0)
        parts.append(part)
        rest = tail
    }
    parts.append(rest)
    let names =
        mode % 2 == 0
        ? ["tokenizer.json", "tokenizer_config.json"]
        : mode % 4 == 3 ? ["vocab.txt", "tokenizer_config.json"] : ["vocab.json", "merges.txt", "tokenizer_config.json", "added_tokens.json"]
    var files: [(name: String, bytes: [UInt8])] = []
    for (name, part) in zip(names, parts) where files.count < 2 || !part.isEmpty {
        files.append((name, Array(part)))
    }
    withScratchDirectory(files) { directory in
        guard let tokenizer = try? Tokenizer.load(directory: directory) else { return }
        let encoding = tokenizer.encode("Hello world, <s> héllo</s>! 3.14\t日本語 <mask> [CLS] ﬁ ＡＢ e\u{301} 😀  ▁x", pair: "  a  b ", maxLength: 64)
        precondition(encoding.ids.count == encoding.tokens.count)
        blackHole(tokenizer.tokens(encoding.ids))
    }
    return 0
}

fuzzMain(test)
