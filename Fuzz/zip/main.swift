// libFuzzer harness: the zip reader (central directory, local headers, inflate with its caps,
// CRC), then the torch zip checkpoint reader on the same archive. ZipArchive reads a MappedFile,
// so the input goes through a scratch file.
import FuzzSupport
import LSRFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    withScratchFile(fuzzBytes(data, size)) { path in
        guard let file = try? MappedFile(path: path), let zip = try? ZipArchive(file: file) else { return }
        for entry in zip.entries {
            if let contents = try? zip.contents(of: entry, limit: 1 << 20) {
                precondition(contents.count == entry.uncompressedSize, "\(entry.name): \(contents.count) bytes inflated, \(entry.uncompressedSize) declared")
            }
            if entry.compression == .stored, let view = try? zip.view(entry) {
                precondition(view.count == entry.compressedSize)
                try? zip.verifyChecksum(entry)
            }
        }
        if let loaded = try? TorchCheckpoint.loadZip(file, verifyChecksums: true) { checkArchive(loaded.archive) }
    }
    return 0
}

fuzzMain(test)
