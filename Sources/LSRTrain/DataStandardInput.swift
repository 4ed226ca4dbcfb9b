#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import LSRFormats

// `--data -`: a data file read from standard input, for pipelines (`jq … | lsrconv predict
// --data - --format jsonl`). A file is mapped; standard input has to be read into memory, so it
// gets a size limit, and it can be read only once, so its bytes are kept for every later load
// of "-" in the same process (train reads its training file twice: labels, then examples).

extension DataSource {
    /// The path that names standard input wherever a data file is read.
    public static let standardInputPath = "-"
    /// How errors name standard input: `<stdin>: line 3: …`.
    public static let standardInputName = "<stdin>"
    /// Most bytes read from standard input: 1 GiB, as for a tokenizer's files
    /// (Tokenizer.maxFileBytes). Larger data sets belong in a file, which is mapped, not copied.
    public static let maxStandardInputBytes = 1 << 30

    /// Standard input to its end, read on first use (Swift initialises a static once, thread-safely).
    static let standardInput = Result { () throws(DatasetError) in
        try readAll(descriptor: STDIN_FILENO, name: standardInputName, limit: maxStandardInputBytes)
    }

    /// Standard input's bytes (read on first use, then kept): what a command digests when its
    /// data came from `-` (train records the sha256 of its training data).
    public static func standardInputBytes() throws(DatasetError) -> [UInt8] { try standardInput.get() }

    /// Every byte `descriptor` delivers until end of file; more than `limit` bytes is an error
    /// (found after reading at most `limit` + 1 of them).
    public static func readAll(descriptor: Int32, name: String, limit: Int) throws(DatasetError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(.system(path: name, operation: "read", message: String(cString: strerror(errno))))
            }
            if n == 0 { return bytes }
            guard bytes.count + n <= limit else { throw .inputTooLarge(file: name, limit: limit) }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}
