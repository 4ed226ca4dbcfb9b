// libFuzzer harness: the restricted pickle VM, on one whole pickle and on consecutive pickles
// (as the legacy torch format reads them).
import FuzzSupport
import LSRFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    blackHole(try? Pickle.parse(bytes))
    bytes.withUnsafeBytes { raw in
        var start = 0
        while start < raw.count, let (value, end) = try? Pickle.parse(raw, from: start) {
            precondition(end > start && end <= raw.count, "pickle from \(start) ended at \(end) of \(raw.count)")
            blackHole(value)
            start = end
        }
    }
    return 0
}

fuzzMain(test)
