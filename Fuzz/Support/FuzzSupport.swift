// Shared by the libFuzzer harnesses in Fuzz/<name>/main.swift (`make fuzz`, README "Fuzzing").
//
// SwiftPM renames an executable's `main` (tools-version >= 5.5), so libFuzzer's own `main` can
// not be used; each harness's top-level code calls `fuzzMain`, which hands the input callback to
// `LLVMFuzzerRunDriver` from the libFuzzer runtime that `-sanitize=fuzzer` links in.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The input libFuzzer hands to `LLVMFuzzerTestOneInput`, copied.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    size == 0 ? [] : [UInt8](UnsafeBufferPointer(start: data, count: size))
}

/// Runs libFuzzer with the process's arguments, calling `test` (the harness's
/// `LLVMFuzzerTestOneInput`) on every input; never returns. `test` must swallow thrown errors:
/// only crashes, sanitizer reports, hangs and runaway memory count as findings.
public func fuzzMain(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    // libFuzzer ends with exit(); a crash skips this and leaves the scratch files for inspection.
    atexit { removeScratchFiles() }
    exit(LLVMFuzzerRunDriver(&argc, &argv, test))
}

nonisolated(unsafe) private var scratchPath: String?

/// For parsers that only read files: writes `bytes` to one per-process scratch file (rewritten
/// on every input, in /dev/shm when it exists) and passes its path.
public func withScratchFile(_ bytes: [UInt8], suffix: String = "", _ use: (String) -> Void) {
    let path = scratchPath ?? {
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let made = "\(directory)/lsrconv-fuzz-\(getpid())\(suffix)"
        scratchPath = made
        return made
    }()
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("fuzz: cannot write \(path)") }
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
        guard n > 0 else { fatalError("fuzz: write to \(path) failed") }
        written += n
    }
    close(fd)
    use(path)
}


import LSRFormats

/// Checks what a successful read promises about its tensors, trapping (a finding) otherwise:
/// each tensor's bytes are exactly shape × element size, and the first and last bytes can be read.
public func checkArchive(_ archive: TensorArchive) {
    var sink: UInt8 = 0
    for tensor in archive.tensors {
        precondition(tensor.shape.allSatisfy { $0 >= 0 }, "negative dimension in \(tensor.name)")
        guard let elements = Safetensors.checkedProduct(tensor.shape),
            let bytes = tensor.dtype.byteCount(elements: elements)
        else { preconditionFailure("\(tensor.name): shape \(tensor.shape) overflows but was accepted") }
        precondition(bytes == tensor.bytes.count, "\(tensor.name): \(bytes) bytes expected, \(tensor.bytes.count) held")
        if tensor.bytes.count > 0 {
            sink &+= tensor.bytes.buffer[0] &+ tensor.bytes.buffer[tensor.bytes.count - 1]
        }
    }
    blackHole(sink)
}

@inline(never) public func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

nonisolated(unsafe) private var scratchDirectory: String?

/// For readers that take a directory: writes `files` (plain names) into one per-process scratch
/// directory, after removing every file the previous input left there, and passes its path.
public func withScratchDirectory(_ files: [(name: String, bytes: [UInt8])], _ use: (String) -> Void) {
    let directory = scratchDirectory ?? {
        let parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let made = "\(parent)/lsrconv-fuzz-dir-\(getpid())"
        guard mkdir(made, 0o700) == 0 || errno == EEXIST else { fatalError("fuzz: cannot create \(made)") }
        scratchDirectory = made
        return made
    }()
    if let names = try? FileSystem.contents(of: directory) {
        for name in names { unlink("\(directory)/\(name)") }
    }
    for file in files {
        let path = "\(directory)/\(file.name)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("fuzz: cannot write \(path)") }
        let n = file.bytes.withUnsafeBytes { $0.count == 0 ? 0 : write(fd, $0.baseAddress!, $0.count) }
        guard n == file.bytes.count else { fatalError("fuzz: short write to \(path)") }
        close(fd)
    }
    use(directory)
}

/// `bytes` split at the first occurrence of `separator` (the rest empty when there is none).
public func splitOnce(_ bytes: ArraySlice<UInt8>, at separator: UInt8) -> (ArraySlice<UInt8>, ArraySlice<UInt8>) {
    guard let i = bytes.firstIndex(of: separator) else { return (bytes, []) }
    return (bytes[..<i], bytes[(i + 1)...])
}

/// Removes the scratch file and directory (at a normal exit; see `fuzzMain`).
func removeScratchFiles() {
    if let scratchPath { unlink(scratchPath) }
    if let scratchDirectory {
        if let names = try? FileSystem.contents(of: scratchDirectory) {
            for name in names { unlink("\(scratchDirectory)/\(name)") }
        }
        rmdir(scratchDirectory)
    }
}
