// libFuzzer harness: the safetensors header parser on whole files held in memory; an accepted
// header must describe tensors that tile the data buffer exactly, and the mapped reader must
// accept the same bytes and hand out views of exactly the declared sizes.
import FuzzSupport
import LSRFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    guard let header = try? Safetensors.parseHeader(fileBytes: bytes) else { return 0 }
    var next = 0
    for entry in header.entries {
        precondition(entry.begin == next && entry.end >= entry.begin, "\(entry.name): \(entry.begin)..<\(entry.end) after \(next)")
        next = entry.end
    }
    precondition(header.dataStart + next == size, "data ends at \(header.dataStart + next), file has \(size) bytes")
    withScratchFile(bytes) { path in
        do {
            let archive = try Safetensors.read(path: path)
            precondition(archive.tensors.count == header.entries.count)
            checkArchive(archive)
        } catch {
            preconditionFailure("parseHeader(fileBytes:) accepted what read(path:) refuses: \(error)")
        }
    }
    return 0
}

fuzzMain(test)
