#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Why a file could not be opened or read.
public enum FileError: Error, Equatable, Sendable {
    case notFound(path: String)
    case isDirectory(path: String)
    case notADirectory(path: String)
    case permissionDenied(path: String)
    case alreadyExists(path: String)
    /// Any other system error: the failing call and `strerror`'s text.
    case system(path: String, operation: String, message: String)
}

extension FileError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notFound(let p): "\(p): no such file or directory"
        case .isDirectory(let p): "\(p): is a directory, expected a file"
        case .notADirectory(let p): "\(p): is not a directory"
        case .permissionDenied(let p): "\(p): permission denied"
        case .alreadyExists(let p): "\(p): already exists"
        case .system(let p, let op, let m): "\(p): \(op) failed: \(m)"
        }
    }

    /// The same error for another path (a staged output's final name: StagedDirectory.destination(of:)).
    public func withPath(_ transform: (String) -> String) -> FileError {
        switch self {
        case .notFound(let p): .notFound(path: transform(p))
        case .isDirectory(let p): .isDirectory(path: transform(p))
        case .notADirectory(let p): .notADirectory(path: transform(p))
        case .permissionDenied(let p): .permissionDenied(path: transform(p))
        case .alreadyExists(let p): .alreadyExists(path: transform(p))
        case .system(let p, let op, let m): .system(path: transform(p), operation: op, message: m)
        }
    }

    /// The error for `errno` after `operation` on `path`.
    static func fromErrno(_ code: Int32, path: String, operation: String) -> FileError {
        switch code {
        case ENOENT: .notFound(path: path)
        case EISDIR: .isDirectory(path: path)
        case ENOTDIR: .notADirectory(path: path)
        case EACCES, EPERM, EROFS: .permissionDenied(path: path)
        case EEXIST: .alreadyExists(path: path)
        default: .system(path: path, operation: operation, message: String(cString: strerror(code)))
        }
    }
}

/// A read-only memory map of a whole file, kept alive by whoever holds views into it.
///
/// The size is fixed at open (fstat), and every view is bounds-checked against it. A file that
/// another process truncates while mapped would raise SIGBUS on access (SECURITY.md rule 6);
/// headers are therefore read with `pread` into owned buffers, and only tensor data is used in
/// place.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeRawPointer?
    private let descriptor: Int32

    public init(path: String) throws(FileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .fromErrno(errno, path: path, operation: "open") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .fromErrno(code, path: path, operation: "stat")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw .isDirectory(path: path)
        }
        size = Int(info.st_size)
        descriptor = fd
        if size == 0 {
            base = nil
        } else {
            let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            guard let mapped, mapped != MAP_FAILED else {
                let code = errno
                close(fd)
                throw .fromErrno(code, path: path, operation: "mmap")
            }
            base = UnsafeRawPointer(mapped)
        }
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
        close(descriptor)
    }

    /// Bytes `offset..<offset+count` of the mapping, or nil when the range leaves the file.
    public func view(offset: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else { return nil }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// Copies `count` bytes at `offset` with pread (never faults on a file shrunk since open).
    public func read(offset: Int, count: Int) throws(FileError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw .system(path: path, operation: "read", message: "range \(offset)+\(count) past the end (\(size) bytes)")
        }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw .system(path: path, operation: "read", message: n == 0 ? "file shrank while reading" : String(cString: strerror(errno)))
            }
            done += n
        }
        return buffer
    }
}

/// Helpers on paths shared by the readers and writers.
public enum FileSystem {
    /// Removes a directory tree this program wrote (symlinks are unlinked, not followed).
    public static func removeTree(_ path: String) { LSRFormats.removeTree(path) }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Entries of a directory (names only, no "." or ".."), sorted.
    public static func contents(of directory: String) throws(FileError) -> [String] {
        guard let dir = opendir(directory) else { throw .fromErrno(errno, path: directory, operation: "opendir") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    public static func directoryName(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    public static func baseName(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// Absolute, symlink-free form of an existing path (realpath), or nil.
    public static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether `name` is a plain file name that stays inside its directory (SECURITY.md rule 5):
    /// not empty, no "/", not "." or "..", no NUL.
    public static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }
}
