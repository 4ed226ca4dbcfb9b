// libFuzzer harness: SentencePiece's precompiled_charsmap (PrecompiledCharsmap.swift), reached as
// a user reaches it: the input bytes, base64-encoded, as the Precompiled normalizer of a small
// Unigram tokenizer.json, loaded and then used to encode a text that meets its rules.
import Foundation
import FuzzSupport
import LSRTokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let charsmap = Data(fuzzBytes(data, size)).base64EncodedString()
    let json = #"{"normalizer": {"type": "Precompiled", "precompiled_charsmap": "\#(charsmap)"}, "#
        + #""pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}, "#
        + #""model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["<pad>", 0.0], ["<s>", 0.0], ["</s>", 0.0], ["▁a", -1.0], ["b", -2.0]]}}"#
    withScratchDirectory([("tokenizer.json", Array(json.utf8))]) { directory in
        guard let tokenizer = try? Tokenizer.load(directory: directory) else { return }
        let encoding = tokenizer.encode("ab ﬁ Ａ e\u{301}\u{0}x 😀👍🏽 ①\t", pair: "½ ㍿", maxLength: 64)
        precondition(encoding.ids.count == encoding.tokens.count)
    }
    return 0
}

fuzzMain(test)
