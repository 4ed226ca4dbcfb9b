// libFuzzer harness: the JSON wrapper over json-c (UTF-8 check, duplicate keys, big integers,
// depth, trailing data); whatever parses must write and parse back to the same value.
import FuzzSupport
import LSRFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let value = try? JSON.parse(fuzzBytes(data, size)) else { return 0 }
    let text = JSON.serialize(value)
    guard let again = try? JSON.parse(text) else { preconditionFailure("written JSON does not parse: \(text)") }
    precondition(again == value, "round trip changed the value: \(text)")
    return 0
}

fuzzMain(test)
