// libFuzzer harness: the safetensors header parser on whole files held in memory; an accepted
// header must describe tensors that tile the data buffer exactly.
import FuzzSupport
import LSRFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let header = try? Safetensors.parseHeader(fileBytes: fuzzBytes(data, size)) else { return 0 }
    var next = 0
    for entry in header.entries {
        precondition(entry.begin == next && entry.end >= entry.begin, "\(entry.name): \(entry.begin)..<\(entry.end) after \(next)")
        next = entry.end
    }
    precondition(header.dataStart + next == size, "data ends at \(header.dataStart + next), file has \(size) bytes")
    return 0
}

fuzzMain(test)
