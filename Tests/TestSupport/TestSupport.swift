import Foundation
import LSRFormats

/// Paths and helpers shared by the test targets.
public enum TestPaths {
    /// The package root, found from this file's location.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func fixture(_ relative: String) -> String { root + "/Fixtures/" + relative }

    /// The lsrconv executable built beside the test bundle (LSRCONV_BIN overrides).
    public static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["LSRCONV_BIN"] { return path }
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lsrconv").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("lsrconv").path,
            Bundle.main.bundleURL.appendingPathComponent("lsrconv").path,
            root + "/.build/debug/lsrconv",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }()
}

/// A fresh directory under the system temporary directory, removed on deinit.
public final class TemporaryDirectory {
    public let path: String
    public init() {
        let template = NSTemporaryDirectory() + "lsrconv-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: made!)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    public func file(_ name: String) -> String { path + "/" + name }

    public func write(_ bytes: [UInt8], to name: String) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}

/// The result of running the lsrconv binary.
public struct RunResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs the lsrconv binary with `arguments` (no shell), capturing both streams.
/// `fileSizeLimitBlocks`: run under that RLIMIT_FSIZE in 512-byte blocks (POSIX `ulimit -f`), for
/// failing writes. `unprivileged`: when the tests run as root, run lsrconv as nobody (util-linux
/// setpriv), so that file permissions apply to it as they do to a user. `environment`: variables
/// to set (a nil value removes one) on top of the test process's own. `stdin`: bytes to pipe to
/// its standard input (default: none, the test process's own).
public func runLSRConv(
    _ arguments: [String], cwd: String? = nil, fileSizeLimitBlocks: Int? = nil, unprivileged: Bool = false,
    environment: [String: String?] = [:], stdin: [UInt8]? = nil
) throws -> RunResult {
    let process = Process()
    var command = [TestPaths.binary] + arguments
    if unprivileged && geteuid() == 0 {
        command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + command
    }
    if let fileSizeLimitBlocks {
        let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        command = ["/bin/sh", "-c", "ulimit -f \(fileSizeLimitBlocks) && exec " + quoted.joined(separator: " ")]
    }
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if !environment.isEmpty {
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in environment { merged[name] = value }
        process.environment = merged
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = stdin.map { _ in Pipe() }
    if let input { process.standardInput = input }
    try process.run()
    if let input, let stdin {
        // Written from another thread, so that a child that writes before it reads cannot block;
        // a child that exits without reading all of it ends the write with EPIPE, not SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let writer = input.fileHandleForWriting
        Thread.detachNewThread {
            try? writer.write(contentsOf: Data(stdin))
            try? writer.close()
        }
    }
    // Read both pipes before waiting so a large output cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Builds a safetensors file from a header text and a data buffer (for crafted bad input).
public func craftedSafetensors(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    let length = declaredLength ?? UInt64(json.count)
    return withUnsafeBytes(of: length.littleEndian) { Array($0) } + json + data
}

public func readFile(_ path: String) -> [UInt8] {
    (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
}

/// Compares two files byte for byte. Nil when identical; otherwise where they first differ.
/// Use `#expect(byteDifference(a, b) == nil)`, never `#expect(readFile(a) == readFile(b))`:
/// on a mismatch Swift Testing diffs the two arrays element-wise, which on files of a few
/// hundred kilobytes runs for many minutes.
public func byteDifference(_ a: String, _ b: String) -> String? {
    let x = readFile(a)
    let y = readFile(b)
    if x == y { return nil }
    let common = zip(x, y).prefix { $0 == $1 }.count
    return "\(a) (\(x.count) bytes) and \(b) (\(y.count) bytes) first differ at byte \(common)"
}

/// Compares the tensors of two checkpoints (files or directories, any format lsrconv reads):
/// names, dtypes, shapes and raw bytes, exactly. Empty when they agree; otherwise one line per
/// difference. Use `#expect(try tensorDifferences(a, b) == [])`.
public func tensorDifferences(_ a: String, _ b: String) throws -> [String] {
    let x = try Checkpoint.open(a)
    let y = try Checkpoint.open(b)
    var differences: [String] = []
    let xs = Dictionary(x.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    let ys = Dictionary(y.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    for name in Set(xs.keys).symmetricDifference(ys.keys).sorted() {
        differences.append("'\(name)' only in \(xs[name] == nil ? b : a)")
    }
    for (name, s) in xs.sorted(by: { $0.key < $1.key }) {
        guard let t = ys[name] else { continue }
        if s.dtype != t.dtype || s.shape != t.shape {
            differences.append("'\(name)': \(s.dtype.rawValue) \(s.shape) vs \(t.dtype.rawValue) \(t.shape)")
        } else if !s.bytes.buffer.elementsEqual(t.bytes.buffer) {
            differences.append("'\(name)': bytes differ")
        }
    }
    return differences
}

/// Tensor `name` of `archive` as f32 values (any float dtype converted), for comparisons.
public func floats(_ archive: TensorArchive, _ name: String) throws -> [Float] {
    guard let t = archive[name] else { throw TestSupportError.missingTensor(name) }
    var out = [Float](repeating: 0, count: t.elementCount)
    try out.withUnsafeMutableBufferPointer { try DTypeConversion.toFloat(t.bytes.buffer, dtype: t.dtype, into: $0) }
    return out
}

public enum TestSupportError: Error, Equatable {
    case missingTensor(String)
}

/// max |aᵢ − bᵢ| over two equally long arrays (the number parity tests print on failure).
/// Infinity when the lengths differ and NaN when any difference is NaN, so that no
/// `maxAbsDifference(a, b) <= tolerance` passes on a short or NaN-holding result (`max` alone
/// would skip a NaN).
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var largest: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if d.isNaN { return .nan }
        largest = max(largest, d)
    }
    return largest
}

/// The padded 6-row batch every PyTorch parity reference was computed on
/// (Fixtures/reference/forward.safetensors: input_ids and attention_mask, [B, T]).
public func referenceBatch() throws -> (ids: [Int32], mask: [Int32], batch: Int, length: Int) {
    let archive = try Checkpoint.open(TestPaths.fixture("reference/forward.safetensors"))
    guard let shape = archive["input_ids"]?.shape, shape.count == 2 else { throw TestSupportError.missingTensor("input_ids") }
    return (try floats(archive, "input_ids").map { Int32($0) }, try floats(archive, "attention_mask").map { Int32($0) }, shape[0], shape[1])
}
