#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Outputs that are either complete or absent (SECURITY.md rule 7): data goes to a temporary
/// sibling created with O_EXCL, every write is checked, the file is fsynced, renamed into
/// place, and the directory fsynced. On any failure the temporary file is removed and the
/// previous output, if any, is untouched.
public enum DurableFile {
    /// Where a writer sends bytes; wraps the temporary file's descriptor.
    public final class Sink {
        let descriptor: Int32
        let path: String
        public private(set) var bytesWritten = 0

        init(descriptor: Int32, path: String) {
            self.descriptor = descriptor
            self.path = path
        }

        public func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .fromErrno(errno, path: path, operation: "write")
                }
                done += n
            }
            bytesWritten += done
        }

        public func write(_ bytes: [UInt8]) throws(FileError) {
            try bytes.withUnsafeBytes { raw in Result { () throws(FileError) in try write(raw) } }.get()
        }
    }

    /// Writes `path` through `body`; returns the number of bytes written.
    @discardableResult
    public static func write(to path: String, _ body: (Sink) throws -> Void) throws -> Int {
        let directory = FileSystem.directoryName(path)
        try StagedDirectory.createDirectories(directory)  // as for directory outputs: parents made
        let temporary = FileSystem.join(directory, ".\(FileSystem.baseName(path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        // SIGXFSZ would kill the process when a size limit is hit; get EFBIG from write instead.
        signal(SIGXFSZ, SIG_IGN)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.fromErrno(errno, path: path, operation: "create") }
        let sink = Sink(descriptor: fd, path: path)
        do {
            try body(sink)
            guard fsync(fd) == 0 else { throw FileError.fromErrno(errno, path: path, operation: "fsync") }
            guard close(fd) == 0 else {
                unlink(temporary)
                throw FileError.fromErrno(errno, path: path, operation: "close")
            }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw FileError.fromErrno(code, path: path, operation: "rename")
        }
        syncDirectory(directory)
        return sink.bytesWritten
    }

    /// Writes `bytes` to `path` durably.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { try $0.write(bytes) }
    }

    /// fsync of a directory, so a rename in it survives a crash. Best effort: some file
    /// systems refuse to open directories for this.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

/// A directory output built under a temporary sibling and renamed into place at the end, so a
/// failed command leaves no directory behind and an existing one is replaced whole or not at all.
public final class StagedDirectory {
    public let destination: String
    /// Where files go while the output is being built.
    public let path: String
    private var committed = false

    /// Creates the staging directory next to `destination`. An existing destination is an error
    /// unless `replace` is set.
    public init(destination: String, replace: Bool) throws(FileError) {
        let trimmed = Self.trimmed(destination)
        self.destination = trimmed
        if FileSystem.exists(trimmed) {
            guard replace else { throw .alreadyExists(path: trimmed) }
            guard FileSystem.isDirectory(trimmed) else { throw .notADirectory(path: trimmed) }
        }
        // Missing parents are created, as transformers' save_pretrained does (os.makedirs).
        let parent = FileSystem.directoryName(trimmed)
        try StagedDirectory.createDirectories(parent)
        path = FileSystem.join(parent, ".\(FileSystem.baseName(trimmed)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard mkdir(path, 0o755) == 0 else { throw .fromErrno(errno, path: trimmed, operation: "mkdir") }
    }

    deinit {
        if !committed { removeTree(path) }
    }

    /// mkdir -p: creates `path` and any missing ancestors; an existing non-directory is an error.
    public static func createDirectories(_ path: String) throws(FileError) {
        if FileSystem.isDirectory(path) { return }
        if FileSystem.exists(path) { throw .notADirectory(path: path) }
        let parent = FileSystem.directoryName(path)
        if parent != path { try createDirectories(parent) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw .fromErrno(errno, path: path, operation: "mkdir") }
    }

    public func file(_ name: String) -> String { FileSystem.join(path, name) }

    /// `destination` as a staged output names it: one trailing slash dropped ("out/" → "out").
    public static func trimmed(_ destination: String) -> String {
        destination.count > 1 && destination.hasSuffix("/") ? String(destination.dropLast()) : destination
    }

    /// The path a file in a staging directory will have once committed: every component named
    /// as `init` names staging directories (".NAME.tmp-PID-RANDOM") becomes NAME, so that an
    /// error met while writing names the output the user asked for, not a temporary that is
    /// removed on the way out.
    public static func destination(of path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { component -> String in
            let name = String(component)
            // ".NAME.tmp-PID-RANDOM": split at the last ".tmp-".
            guard name.hasPrefix("."), let marker = name.ranges(of: ".tmp-").last else { return name }
            let tail = name[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
            guard tail.count == 2, tail.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return name }
            return String(name[name.index(after: name.startIndex)..<marker.lowerBound])
        }.joined(separator: "/")
    }

    /// Moves the staged directory into place; an existing destination is swapped out first and
    /// removed only once the new one is in place.
    public func commit() throws(FileError) {
        let parent = FileSystem.directoryName(destination)
        DurableFile.syncDirectory(path)
        var previous: String?
        if FileSystem.exists(destination) {
            let aside = path + ".old"
            guard rename(destination, aside) == 0 else { throw .fromErrno(errno, path: destination, operation: "rename") }
            previous = aside
        }
        guard rename(path, destination) == 0 else {
            let code = errno
            if let previous { rename(previous, destination) }
            throw .fromErrno(code, path: destination, operation: "rename")
        }
        committed = true
        DurableFile.syncDirectory(parent)
        if let previous { removeTree(previous) }
    }
}

/// Removes a directory tree we created (regular files and subdirectories; symlinks unlinked, not followed).
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        for name in (try? FileSystem.contents(of: path)) ?? [] { removeTree(FileSystem.join(path, name)) }
        rmdir(path)
    } else {
        unlink(path)
    }
}
