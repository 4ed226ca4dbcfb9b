// libFuzzer harness: the legacy (pre-zip) torch checkpoint reader: consecutive pickles, then the
// storages' counts and raw bytes. It reads a MappedFile, so the input goes through a scratch file.
import FuzzSupport
import LSRFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    withScratchFile(fuzzBytes(data, size)) { path in
        guard let file = try? MappedFile(path: path) else { return }
        if let loaded = try? TorchCheckpoint.loadLegacy(file) { checkArchive(loaded.archive) }
    }
    return 0
}

fuzzMain(test)
