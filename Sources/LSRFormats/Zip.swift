import CZlib

/// Zip archives, read strictly enough that no other reader can see different contents
/// (SECURITY.md rule 4: parser differentials between central and local headers, duplicate
/// names, overlapping entries and zip bombs are the known attacks).
///
/// Layout (PKWARE APPNOTE.TXT 6.3.10): local header + data (+ data descriptor) per entry, then
/// the central directory, then (ZIP64) end record and locator, then the end record. PyTorch
/// writes through miniz (caffe2/serialize/inline_container.cc): stored entries, data padded to
/// 64 bytes with an "FB" extra field, bit 3 set with sizes and CRC in a data descriptor, a
/// ZIP64 end record even for small files. The central directory is the source of truth; every
/// local header is checked against it, and the entries with their descriptors must tile the
/// bytes before the central directory exactly (no gaps, no overlaps, nothing prepended).
public struct ZipArchive: Sendable {
    /// Signatures (APPNOTE.TXT 4.3.7, 4.3.9.3, 4.3.12, 4.3.14, 4.3.15, 4.3.16).
    static let localHeaderSignature: UInt32 = 0x0403_4B50
    static let dataDescriptorSignature: UInt32 = 0x0807_4B50
    static let centralHeaderSignature: UInt32 = 0x0201_4B50
    static let zip64EndRecordSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let endRecordSignature: UInt32 = 0x0605_4B50

    /// Fixed sizes of the records.
    static let localHeaderSize = 30
    static let centralHeaderSize = 46
    static let endRecordSize = 22
    static let zip64LocatorSize = 20
    static let zip64EndRecordSize = 56
    /// The ZIP64 extended information extra field (APPNOTE.TXT 4.5.3).
    static let zip64ExtraID: UInt16 = 0x0001
    /// A 32-bit (16-bit) field holding this value defers to the ZIP64 record or extra field.
    static let sentinel32: UInt32 = 0xFFFF_FFFF
    static let sentinel16: UInt16 = 0xFFFF

    /// Longest archive comment (a 16-bit length): the end record lies within the last
    /// `endRecordSize + maxCommentLength` bytes, which bounds the backwards search.
    public static let maxCommentLength = 65_535
    /// Most entries accepted. The central directory bounds the count too (46 bytes each);
    /// a sharded PyTorch checkpoint has a few hundred.
    public static let maxEntries = 1_000_000
    /// deflate's best case is about 1032:1 (RFC 1951 / zlib FAQ): a larger declared ratio is a lie.
    public static let maxDeflateRatio = 1032

    /// Compression methods accepted (APPNOTE.TXT 4.4.5): everything else is refused.
    public enum Compression: UInt16, Sendable {
        case stored = 0
        case deflated = 8
    }

    /// One entry as the central directory describes it, checked against its local header.
    public struct Entry: Equatable, Sendable {
        /// Normalised name ("." and empty components removed).
        public let name: String
        public let compression: Compression
        public let crc32: UInt32
        public let compressedSize: Int
        public let uncompressedSize: Int
        public let localHeaderOffset: Int
        /// Where the (compressed) data starts.
        public let dataOffset: Int
        public let centralHeaderOffset: Int
        /// General-purpose flag bit 3: CRC and sizes follow the data.
        public let hasDataDescriptor: Bool
        public var isDirectory: Bool { name.hasSuffix("/") }
    }

    /// Things that are accepted but worth reporting.
    public enum Warning: Equatable, Sendable, CustomStringConvertible {
        /// A non-empty entry with a stored CRC of 0: torch.save writes this when
        /// `torch.serialization.set_crc32_options(False)` is in effect; its data is not verified.
        case zeroCRC(entry: String, offset: Int)

        public var description: String {
            switch self {
            case .zeroCRC(let e, let o):
                "zip entry '\(e)' at byte \(o) has no CRC-32 (saved with compute_crc32=False); its data is not verified"
            }
        }
    }

    public let file: MappedFile
    /// Entries in central-directory order.
    public let entries: [Entry]
    public let warnings: [Warning]
    private let indexByName: [String: Int]

    public subscript(name: String) -> Entry? { indexByName[name].map { entries[$0] } }
}

/// Why a zip archive or one of its entries was refused. Offsets are from the start of the file:
/// the record (or data) where the problem was found.
public enum ZipError: Error, Equatable, Sendable {
    /// No plausible end-of-central-directory record in the last 65,557 bytes.
    case noEndRecord(fileSize: Int)
    /// An end record whose comment does not reach exactly the end of the file (bytes appended).
    case endRecordNotAtEnd(offset: Int, commentLength: Int, fileSize: Int)
    /// Two plausible end records: which one is meant is ambiguous.
    case multipleEndRecords(offsets: [Int])
    /// The end records disagree with each other or with the file (`field` names the culprit).
    case inconsistentEndRecord(field: String, offset: Int)
    /// A disk number other than 0: split archives are not read.
    case multiDiskArchive(offset: Int)
    /// A malformed ZIP64 locator or end record, or sentinel values without one.
    case invalidZip64Record(reason: String, offset: Int)
    /// The declared entry count exceeds what the central directory's bytes (or `maxEntries`) allow.
    case tooManyEntries(declared: UInt64, capacity: Int, offset: Int)
    /// A central directory header that is truncated, has a bad signature, or leaves bytes over.
    case invalidCentralHeader(index: Int, reason: String, offset: Int)
    /// A name that is empty, absolute, climbs with "..", or holds a backslash, NUL or non-UTF-8.
    case invalidName(name: String, reason: String, offset: Int)
    /// Two entries with the same (normalised) name.
    case duplicateName(name: String, offset: Int)
    /// The encryption flag (bit 0, 6 or 13) is set.
    case encrypted(name: String, offset: Int)
    /// A compression method other than 0 (stored) or 8 (deflated).
    case unsupportedCompression(name: String, method: UInt16, offset: Int)
    /// A malformed extra field, or a missing or short ZIP64 extra field.
    case invalidExtraField(name: String, reason: String, offset: Int)
    /// Sizes that cannot be right: stored with compressed ≠ uncompressed, a directory with data,
    /// or a declared inflation ratio deflate cannot reach.
    case invalidSizes(name: String, reason: String, offset: Int)
    /// A local header that is missing, truncated or has a bad signature.
    case invalidLocalHeader(name: String, reason: String, offset: Int)
    /// Local and central headers disagree on `field`.
    case localHeaderMismatch(name: String, field: String, offset: Int)
    /// A data descriptor that is missing or disagrees with the central directory.
    case invalidDataDescriptor(name: String, offset: Int)
    /// Entry data that runs into the central directory or past the end of the file.
    case entryOutOfBounds(name: String, offset: Int)
    /// Two entries share bytes.
    case overlappingEntries(name: String, previous: String, offset: Int)
    /// Bytes before the central directory that belong to no entry (prepended or hidden data).
    case unaccountedBytes(offset: Int, count: Int)
    /// No entry of that name.
    case entryNotFound(name: String)
    /// A zero-copy view asked of a compressed entry.
    case notStored(name: String, offset: Int)
    /// The declared uncompressed size exceeds the caller's limit.
    case entryTooLarge(name: String, declaredSize: Int, limit: Int, offset: Int)
    /// Inflating produced more or fewer bytes than declared (a bomb stops at declared + 1).
    case inflatedSizeMismatch(name: String, declaredSize: Int, offset: Int)
    /// zlib refused the deflate stream.
    case corruptDeflateData(name: String, reason: String, offset: Int)
    /// The CRC-32 of the data differs from the central directory's.
    case crcMismatch(name: String, stored: UInt32, computed: UInt32, offset: Int)
    /// Reading the file failed (it shrank since it was opened, an I/O error).
    case readFailed(FileError)
}

extension ZipError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .noEndRecord(let s):
            "not a zip archive: no end-of-central-directory record in the last \(min(s, ZipArchive.endRecordSize + ZipArchive.maxCommentLength)) bytes"
        case .endRecordNotAtEnd(let o, let c, let s):
            "zip end record at byte \(o) with a \(c)-byte comment does not end at the end of the file (\(s) bytes): trailing data"
        case .multipleEndRecords(let o):
            "several zip end records (at bytes \(o.map(String.init).joined(separator: ", "))): ambiguous archive"
        case .inconsistentEndRecord(let f, let o): "zip end record at byte \(o): \(f)"
        case .multiDiskArchive(let o): "zip record at byte \(o) names another disk: split archives are not read"
        case .invalidZip64Record(let r, let o): "ZIP64 end record at byte \(o): \(r)"
        case .tooManyEntries(let d, let c, let o): "zip end record at byte \(o) declares \(d) entries but at most \(c) fit"
        case .invalidCentralHeader(let i, let r, let o): "zip central directory entry #\(i) at byte \(o): \(r)"
        case .invalidName(let n, let r, let o): "zip entry name '\(n)' at byte \(o): \(r)"
        case .duplicateName(let n, let o): "zip entry '\(n)' at byte \(o) appears twice"
        case .encrypted(let n, let o): "zip entry '\(n)' at byte \(o) is encrypted"
        case .unsupportedCompression(let n, let m, let o):
            "zip entry '\(n)' at byte \(o) uses compression method \(m) (only 0, stored, and 8, deflated, are read)"
        case .invalidExtraField(let n, let r, let o): "zip entry '\(n)' at byte \(o): extra field \(r)"
        case .invalidSizes(let n, let r, let o): "zip entry '\(n)' at byte \(o): \(r)"
        case .invalidLocalHeader(let n, let r, let o): "zip entry '\(n)': local header at byte \(o) \(r)"
        case .localHeaderMismatch(let n, let f, let o):
            "zip entry '\(n)': local header at byte \(o) disagrees with the central directory on \(f)"
        case .invalidDataDescriptor(let n, let o):
            "zip entry '\(n)': data descriptor at byte \(o) is missing or disagrees with the central directory"
        case .entryOutOfBounds(let n, let o): "zip entry '\(n)' at byte \(o) runs past the central directory or the end of the file"
        case .overlappingEntries(let n, let p, let o): "zip entry '\(n)' at byte \(o) overlaps entry '\(p)'"
        case .unaccountedBytes(let o, let c): "\(c) bytes at byte \(o) of the zip archive belong to no entry"
        case .entryNotFound(let n): "no zip entry named '\(n)'"
        case .notStored(let n, let o): "zip entry '\(n)' at byte \(o) is compressed and cannot be used in place"
        case .entryTooLarge(let n, let d, let l, let o): "zip entry '\(n)' at byte \(o) declares \(d) bytes, over the limit of \(l)"
        case .inflatedSizeMismatch(let n, let d, let o): "zip entry '\(n)' at byte \(o) does not inflate to its declared \(d) bytes"
        case .corruptDeflateData(let n, let r, let o): "zip entry '\(n)' at byte \(o): corrupt deflate data (\(r))"
        case .crcMismatch(let n, let s, let c, let o):
            "zip entry '\(n)' at byte \(o): CRC-32 is \(hex32(c)), the central directory says \(hex32(s))"
        case .readFailed(let e): "\(e)"
        }
    }
}

private func hex32(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

// MARK: - Opening

extension ZipArchive {
    /// Reads and validates the end records, the central directory and every local header
    /// (with pread; entry data is not touched).
    public init(file: MappedFile) throws(ZipError) {
        self.file = file
        let end = try Self.locateCentralDirectory(file)
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var warnings: [Warning] = []
        let directory = try Self.read(file, offset: end.directoryOffset, count: end.directorySize)
        var position = 0
        entries.reserveCapacity(end.entryCount)
        for i in 0..<end.entryCount {
            let (entry, next) = try Self.parseCentralHeader(
                directory, at: position, index: i, directoryOffset: end.directoryOffset, file: file)
            if index[entry.name] != nil { throw .duplicateName(name: entry.name, offset: entry.centralHeaderOffset) }
            index[entry.name] = entries.count
            entries.append(entry)
            if entry.crc32 == 0 && entry.uncompressedSize > 0 {
                warnings.append(.zeroCRC(entry: entry.name, offset: entry.centralHeaderOffset))
            }
            position = next
        }
        guard position == directory.count else {
            throw .invalidCentralHeader(
                index: end.entryCount, reason: "\(directory.count - position) bytes left after the last entry",
                offset: end.directoryOffset + position)
        }
        try Self.checkTiling(entries, file: file, directoryOffset: end.directoryOffset)
        self.entries = entries
        self.indexByName = index
        self.warnings = warnings
    }

    public init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    private struct EndOfCentralDirectory {
        var entryCount: Int
        var directoryOffset: Int
        var directorySize: Int
    }

    static func read(_ file: MappedFile, offset: Int, count: Int) throws(ZipError) -> [UInt8] {
        do { return try file.read(offset: offset, count: count) } catch { throw .readFailed(error) }
    }

    /// Finds the one end record (APPNOTE.TXT 4.3.16) and, when present, the ZIP64 locator and
    /// record (4.3.14, 4.3.15); checks they agree and that the central directory ends exactly
    /// where they begin.
    private static func locateCentralDirectory(_ file: MappedFile) throws(ZipError) -> EndOfCentralDirectory {
        let window = min(file.size, endRecordSize + maxCommentLength)
        guard window >= endRecordSize else { throw .noEndRecord(fileSize: file.size) }
        let tailStart = file.size - window
        let tail = try read(file, offset: tailStart, count: window)
        // Every plausible record in the window is a candidate: the signature, disk fields 0 (or
        // the ZIP64 sentinel), equal entry counts, and a comment that fits. Random entry data
        // matches all of that with odds near 2⁻⁸⁰; a second record (an empty archive appended
        // after the real one) is refused rather than chosen, and the one record must end the
        // file (no trailing bytes).
        var candidates: [Int] = []
        var p = window - endRecordSize
        while p >= 0 {
            if tail.u32(p) == endRecordSignature, [0, sentinel16].contains(tail.u16(p + 4)), [0, sentinel16].contains(tail.u16(p + 6)),
                tail.u16(p + 8) == tail.u16(p + 10), p + endRecordSize + Int(tail.u16(p + 20)) <= window
            {
                candidates.append(p)
            }
            p -= 1
        }
        guard let found = candidates.first else { throw .noEndRecord(fileSize: file.size) }
        guard candidates.count == 1 else { throw .multipleEndRecords(offsets: candidates.reversed().map { tailStart + $0 }) }
        guard found + endRecordSize + Int(tail.u16(found + 20)) == window else {
            throw .endRecordNotAtEnd(offset: tailStart + found, commentLength: Int(tail.u16(found + 20)), fileSize: file.size)
        }
        let endOffset = tailStart + found
        let disk = tail.u16(found + 4)
        let directoryDisk = tail.u16(found + 6)
        let entriesOnDisk = tail.u16(found + 8)
        let totalEntries16 = tail.u16(found + 10)
        let size32 = tail.u32(found + 12)
        let offset32 = tail.u32(found + 16)

        // ZIP64: the locator sits right before the end record.
        var zip64: (entries: UInt64, size: UInt64, offset: UInt64, recordOffset: Int)?
        if endOffset >= zip64LocatorSize {
            let locatorOffset = endOffset - zip64LocatorSize
            let locator = try read(file, offset: locatorOffset, count: zip64LocatorSize)
            if locator.u32(0) == zip64LocatorSignature {
                guard locator.u32(4) == 0, locator.u32(16) <= 1 else { throw .multiDiskArchive(offset: locatorOffset) }
                let recordOffset64 = locator.u64(8)
                guard locatorOffset >= zip64EndRecordSize, recordOffset64 <= UInt64(locatorOffset - zip64EndRecordSize) else {
                    throw .invalidZip64Record(reason: "locator points past itself", offset: locatorOffset)
                }
                let recordOffset = Int(recordOffset64)
                let record = try read(file, offset: recordOffset, count: zip64EndRecordSize)
                guard record.u32(0) == zip64EndRecordSignature else {
                    throw .invalidZip64Record(reason: "bad signature", offset: recordOffset)
                }
                // Size of the record after its first 12 bytes; extensible data may follow the 44 fixed bytes.
                let declaredSize = record.u64(4)
                guard declaredSize >= 44, declaredSize == UInt64(locatorOffset - recordOffset - 12) else {
                    throw .invalidZip64Record(reason: "record size \(declaredSize) does not reach the locator", offset: recordOffset)
                }
                guard record.u32(16) == 0, record.u32(20) == 0 else { throw .multiDiskArchive(offset: recordOffset) }
                guard record.u64(24) == record.u64(32) else {
                    throw .invalidZip64Record(reason: "entries on this disk differ from total entries", offset: recordOffset)
                }
                zip64 = (record.u64(32), record.u64(40), record.u64(48), recordOffset)
            }
        }
        guard disk == 0 || (disk == sentinel16 && zip64 != nil), directoryDisk == 0 || (directoryDisk == sentinel16 && zip64 != nil)
        else { throw .multiDiskArchive(offset: endOffset) }
        guard entriesOnDisk == totalEntries16 else {
            throw .inconsistentEndRecord(field: "entries on this disk differ from total entries", offset: endOffset)
        }

        let entryCount: UInt64
        let directorySize: UInt64
        let directoryOffset: UInt64
        let directoryEnd: Int
        if let z = zip64 {
            // The 16/32-bit fields hold either the real value or the sentinel.
            guard totalEntries16 == sentinel16 || UInt64(totalEntries16) == z.entries else {
                throw .inconsistentEndRecord(field: "entry count differs from the ZIP64 record's", offset: endOffset)
            }
            guard size32 == sentinel32 || UInt64(size32) == z.size else {
                throw .inconsistentEndRecord(field: "central directory size differs from the ZIP64 record's", offset: endOffset)
            }
            guard offset32 == sentinel32 || UInt64(offset32) == z.offset else {
                throw .inconsistentEndRecord(field: "central directory offset differs from the ZIP64 record's", offset: endOffset)
            }
            (entryCount, directorySize, directoryOffset, directoryEnd) = (z.entries, z.size, z.offset, z.recordOffset)
        } else {
            guard totalEntries16 != sentinel16, size32 != sentinel32, offset32 != sentinel32 else {
                throw .invalidZip64Record(reason: "ZIP64 sentinel values without a ZIP64 locator", offset: endOffset)
            }
            (entryCount, directorySize, directoryOffset, directoryEnd) = (
                UInt64(totalEntries16), UInt64(size32), UInt64(offset32), endOffset
            )
        }
        // The central directory ends exactly where the end records begin.
        guard directoryOffset <= UInt64(directoryEnd), directorySize == UInt64(directoryEnd) - directoryOffset else {
            throw .inconsistentEndRecord(
                field: "central directory at \(directoryOffset) of \(directorySize) bytes does not end at byte \(directoryEnd)",
                offset: endOffset)
        }
        let capacity = min(Int(directorySize) / centralHeaderSize, maxEntries)
        guard entryCount <= UInt64(capacity) else { throw .tooManyEntries(declared: entryCount, capacity: capacity, offset: endOffset) }
        return EndOfCentralDirectory(entryCount: Int(entryCount), directoryOffset: Int(directoryOffset), directorySize: Int(directorySize))
    }

    /// Parses the central header at `position` of `directory` (APPNOTE.TXT 4.3.12), resolves
    /// ZIP64 fields, checks the local header, and returns the entry and the next position.
    private static func parseCentralHeader(
        _ directory: [UInt8], at position: Int, index: Int, directoryOffset: Int, file: MappedFile
    ) throws(ZipError) -> (Entry, Int) {
        let headerOffset = directoryOffset + position
        guard directory.count - position >= centralHeaderSize else {
            throw .invalidCentralHeader(index: index, reason: "truncated", offset: headerOffset)
        }
        guard directory.u32(position) == centralHeaderSignature else {
            throw .invalidCentralHeader(index: index, reason: "bad signature", offset: headerOffset)
        }
        let flags = directory.u16(position + 8)
        let method = directory.u16(position + 10)
        let crc = directory.u32(position + 16)
        let compressed32 = directory.u32(position + 20)
        let uncompressed32 = directory.u32(position + 24)
        let nameLength = Int(directory.u16(position + 28))
        let extraLength = Int(directory.u16(position + 30))
        let commentLength = Int(directory.u16(position + 32))
        let diskStart = directory.u16(position + 34)
        let localOffset32 = directory.u32(position + 42)
        let variable = nameLength + extraLength + commentLength
        guard directory.count - position - centralHeaderSize >= variable else {
            throw .invalidCentralHeader(
                index: index, reason: "name, extra field and comment run past the central directory", offset: headerOffset)
        }
        let nameStart = position + centralHeaderSize
        let rawName = Array(directory[nameStart..<(nameStart + nameLength)])
        let name = try normalisedName(rawName, offset: headerOffset)
        let extra = Array(directory[(nameStart + nameLength)..<(nameStart + nameLength + extraLength)])

        // Encryption: bit 0 (traditional), bit 6 (strong), bit 13 (masked central directory).
        guard flags & 0x0001 == 0, flags & 0x0040 == 0, flags & 0x2000 == 0 else { throw .encrypted(name: name, offset: headerOffset) }
        guard let compression = Compression(rawValue: method) else {
            throw .unsupportedCompression(name: name, method: method, offset: headerOffset)
        }

        // ZIP64 extra field: 8-byte values for each 32-bit field holding the sentinel, in the
        // order uncompressed, compressed, local header offset, disk (APPNOTE.TXT 4.5.3).
        let records = try extraRecords(extra, name: name, offset: headerOffset)
        var uncompressed = UInt64(uncompressed32)
        var compressed = UInt64(compressed32)
        var localOffset = UInt64(localOffset32)
        var disk = UInt32(diskStart)
        let needs = [uncompressed32 == sentinel32, compressed32 == sentinel32, localOffset32 == sentinel32, diskStart == sentinel16]
        let zip64Extra = records.first { $0.id == zip64ExtraID }
        if needs.contains(true) {
            guard let zip64Extra else {
                throw .invalidExtraField(name: name, reason: "ZIP64 field missing for sentinel sizes", offset: headerOffset)
            }
            var at = 0
            func next8() throws(ZipError) -> UInt64 {
                guard zip64Extra.data.count - at >= 8 else {
                    throw .invalidExtraField(name: name, reason: "ZIP64 field too short", offset: headerOffset)
                }
                defer { at += 8 }
                return zip64Extra.data.u64(at)
            }
            if needs[0] { uncompressed = try next8() }
            if needs[1] { compressed = try next8() }
            if needs[2] { localOffset = try next8() }
            if needs[3] {
                guard zip64Extra.data.count - at >= 4 else {
                    throw .invalidExtraField(name: name, reason: "ZIP64 field too short", offset: headerOffset)
                }
                disk = zip64Extra.data.u32(at)
            }
        }
        guard disk == 0 else { throw .multiDiskArchive(offset: headerOffset) }
        // Every size must fit the file: compressed data lies inside it.
        guard compressed <= UInt64(file.size), localOffset <= UInt64(file.size), uncompressed <= UInt64(Int.max) else {
            throw .entryOutOfBounds(name: name, offset: headerOffset)
        }
        let compressedSize = Int(compressed)
        let uncompressedSize = Int(uncompressed)
        let localHeaderOffset = Int(localOffset)
        switch compression {
        case .stored:
            guard compressedSize == uncompressedSize else {
                throw .invalidSizes(
                    name: name, reason: "stored with compressed size \(compressedSize) ≠ size \(uncompressedSize)", offset: headerOffset)
            }
        case .deflated:
            let (most, overflow) = compressedSize.multipliedReportingOverflow(by: maxDeflateRatio)
            guard overflow || uncompressedSize <= most + 64 else {
                throw .invalidSizes(
                    name: name, reason: "declares \(uncompressedSize) bytes from \(compressedSize) compressed, beyond deflate's ratio",
                    offset: headerOffset)
            }
        }
        if name.hasSuffix("/") && uncompressedSize != 0 {
            throw .invalidSizes(name: name, reason: "a directory entry with data", offset: headerOffset)
        }

        let local = try checkLocalHeader(
            file: file, name: name, rawName: rawName, at: localHeaderOffset, flags: flags, method: method, crc: crc,
            compressedSize: compressedSize, uncompressedSize: uncompressedSize, directoryOffset: directoryOffset)
        let entry = Entry(
            name: name, compression: compression, crc32: crc, compressedSize: compressedSize, uncompressedSize: uncompressedSize,
            localHeaderOffset: localHeaderOffset, dataOffset: local, centralHeaderOffset: headerOffset,
            hasDataDescriptor: flags & 0x0008 != 0)
        return (entry, nameStart + variable)
    }

    /// Checks a local header (APPNOTE.TXT 4.3.7) against the central one; returns the data offset.
    private static func checkLocalHeader(
        file: MappedFile, name: String, rawName: [UInt8], at offset: Int, flags: UInt16, method: UInt16, crc: UInt32,
        compressedSize: Int, uncompressedSize: Int, directoryOffset: Int
    ) throws(ZipError) -> Int {
        guard directoryOffset >= localHeaderSize, offset <= directoryOffset - localHeaderSize else {
            throw .invalidLocalHeader(name: name, reason: "runs into the central directory", offset: offset)
        }
        let header = try read(file, offset: offset, count: localHeaderSize)
        guard header.u32(0) == localHeaderSignature else {
            throw .invalidLocalHeader(name: name, reason: "has a bad signature", offset: offset)
        }
        let localFlags = header.u16(6)
        let nameLength = Int(header.u16(26))
        let extraLength = Int(header.u16(28))
        let variableEnd = offset + localHeaderSize + nameLength + extraLength
        guard variableEnd <= directoryOffset else {
            throw .invalidLocalHeader(name: name, reason: "runs into the central directory", offset: offset)
        }
        let variable = try read(file, offset: offset + localHeaderSize, count: nameLength + extraLength)
        guard Array(variable[0..<nameLength]) == rawName else { throw .localHeaderMismatch(name: name, field: "name", offset: offset) }
        // Bits that change how the entry is read: encryption, data descriptor, UTF-8 names.
        let significant: UInt16 = 0x0001 | 0x0008 | 0x0040 | 0x0800 | 0x2000
        guard localFlags & significant == flags & significant else {
            throw .localHeaderMismatch(name: name, field: "flags", offset: offset)
        }
        guard header.u16(8) == method else { throw .localHeaderMismatch(name: name, field: "compression method", offset: offset) }
        let records = try extraRecords(Array(variable[nameLength...]), name: name, offset: offset)

        var localCompressed = UInt64(header.u32(18))
        var localUncompressed = UInt64(header.u32(22))
        if localCompressed == UInt64(sentinel32) || localUncompressed == UInt64(sentinel32) {
            // A local ZIP64 field always holds both sizes (APPNOTE.TXT 4.5.3).
            guard let z = records.first(where: { $0.id == zip64ExtraID }), z.data.count >= 16 else {
                throw .invalidExtraField(name: name, reason: "ZIP64 field missing in the local header", offset: offset)
            }
            localUncompressed = z.data.u64(0)
            localCompressed = z.data.u64(8)
        }
        let localCRC = header.u32(14)
        let agrees = localCRC == crc && localCompressed == UInt64(compressedSize) && localUncompressed == UInt64(uncompressedSize)
        if flags & 0x0008 != 0 {
            // With a data descriptor the local fields are zero (APPNOTE.TXT 4.4.4) or already right.
            let zero = localCRC == 0 && localCompressed == 0 && localUncompressed == 0
            guard zero || agrees else { throw .localHeaderMismatch(name: name, field: "CRC-32 and sizes", offset: offset) }
        } else {
            guard localCRC == crc else { throw .localHeaderMismatch(name: name, field: "CRC-32", offset: offset) }
            guard agrees else { throw .localHeaderMismatch(name: name, field: "sizes", offset: offset) }
        }
        let dataEnd = variableEnd.addingReportingOverflow(compressedSize)
        guard !dataEnd.overflow, dataEnd.partialValue <= directoryOffset else { throw .entryOutOfBounds(name: name, offset: variableEnd) }
        return variableEnd
    }

    /// Splits an extra field into (id, data) records; they must tile it exactly (APPNOTE.TXT 4.5.1).
    private static func extraRecords(_ extra: [UInt8], name: String, offset: Int) throws(ZipError) -> [(id: UInt16, data: [UInt8])] {
        var records: [(UInt16, [UInt8])] = []
        var p = 0
        while p < extra.count {
            guard extra.count - p >= 4 else { throw .invalidExtraField(name: name, reason: "truncated record header", offset: offset) }
            let id = extra.u16(p)
            let size = Int(extra.u16(p + 2))
            guard extra.count - p - 4 >= size else {
                throw .invalidExtraField(name: name, reason: "record 0x\(String(id, radix: 16)) runs past the field", offset: offset)
            }
            records.append((id, Array(extra[(p + 4)..<(p + 4 + size)])))
            p += 4 + size
        }
        return records
    }

    /// Validates a raw entry name and returns it normalised: "." and empty components dropped
    /// (a trailing "/" marks a directory). Names that could leave the archive's tree, or that
    /// two readers might decode differently, are refused.
    static func normalisedName(_ raw: [UInt8], offset: Int) throws(ZipError) -> String {
        let shown = String(decoding: raw, as: UTF8.self)
        guard !raw.contains(0) else { throw .invalidName(name: shown, reason: "contains a NUL byte", offset: offset) }
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw .invalidName(name: shown, reason: "is not UTF-8", offset: offset)
        }
        guard !text.contains("\\") else { throw .invalidName(name: text, reason: "contains a backslash", offset: offset) }
        guard !text.hasPrefix("/") else { throw .invalidName(name: text, reason: "is an absolute path", offset: offset) }
        let components = text.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.contains("..") else { throw .invalidName(name: text, reason: "contains a '..' component", offset: offset) }
        let kept = components.filter { $0 != "." }
        guard !kept.isEmpty else { throw .invalidName(name: text, reason: "is empty", offset: offset) }
        return kept.joined(separator: "/") + (text.hasSuffix("/") ? "/" : "")
    }

    /// Entries (with their data descriptors) must cover [0, central directory) exactly.
    private static func checkTiling(_ entries: [Entry], file: MappedFile, directoryOffset: Int) throws(ZipError) {
        var spans: [(start: Int, end: Int, name: String)] = []
        spans.reserveCapacity(entries.count)
        for entry in entries {
            var end = entry.dataOffset + entry.compressedSize
            if entry.hasDataDescriptor { end = try descriptorEnd(entry, file: file, dataEnd: end, directoryOffset: directoryOffset) }
            spans.append((entry.localHeaderOffset, end, entry.name))
        }
        spans.sort { $0.start < $1.start }
        var covered = 0
        var previous = ""
        for span in spans {
            if span.start < covered { throw .overlappingEntries(name: span.name, previous: previous, offset: span.start) }
            if span.start > covered { throw .unaccountedBytes(offset: covered, count: span.start - covered) }
            covered = span.end
            previous = span.name
        }
        if covered < directoryOffset { throw .unaccountedBytes(offset: covered, count: directoryOffset - covered) }
    }

    /// Checks the data descriptor after an entry's data (APPNOTE.TXT 4.3.9): an optional
    /// signature, the CRC-32, then both sizes as 4-byte or (ZIP64) 8-byte values. Returns its end.
    private static func descriptorEnd(_ entry: Entry, file: MappedFile, dataEnd: Int, directoryOffset: Int) throws(ZipError) -> Int {
        let available = min(24, directoryOffset - dataEnd)
        let bytes = try read(file, offset: dataEnd, count: max(0, available))
        for signed in [true, false] {
            let base = signed ? 4 : 0
            if signed && (bytes.count < 4 || bytes.u32(0) != dataDescriptorSignature) { continue }
            guard bytes.count >= base + 12, bytes.u32(base) == entry.crc32 else { continue }
            if bytes.u32(base + 4) == UInt32(truncatingIfNeeded: entry.compressedSize),
                bytes.u32(base + 8) == UInt32(truncatingIfNeeded: entry.uncompressedSize),
                entry.compressedSize < Int(sentinel32), entry.uncompressedSize < Int(sentinel32)
            {
                return dataEnd + base + 12
            }
            if bytes.count >= base + 20, bytes.u64(base + 4) == UInt64(entry.compressedSize),
                bytes.u64(base + 12) == UInt64(entry.uncompressedSize)
            {
                return dataEnd + base + 20
            }
        }
        throw .invalidDataDescriptor(name: entry.name, offset: dataEnd)
    }
}

// MARK: - Reading entries

extension ZipArchive {
    /// The entry named `name`, or `.entryNotFound`.
    public func entry(_ name: String) throws(ZipError) -> Entry {
        guard let entry = self[name] else { throw .entryNotFound(name: name) }
        return entry
    }

    /// A zero-copy view of a stored entry's bytes in the map. Nothing is read (and the CRC is
    /// not checked: see `verifyChecksum`) until the caller touches the bytes.
    public func view(_ entry: Entry) throws(ZipError) -> UnsafeRawBufferPointer {
        guard entry.compression == .stored else { throw .notStored(name: entry.name, offset: entry.dataOffset) }
        // In bounds: the constructor checked the data ends before the central directory.
        guard let view = file.view(offset: entry.dataOffset, count: entry.compressedSize) else {
            throw .entryOutOfBounds(name: entry.name, offset: entry.dataOffset)
        }
        return view
    }

    /// The entry's bytes as an owned array: copied with pread (stored) or inflated (deflated),
    /// after checking the declared size against `limit`, and CRC-checked (a CRC of 0 is
    /// accepted and reported in `warnings`).
    public func contents(of entry: Entry, limit: Int) throws(ZipError) -> [UInt8] {
        guard entry.uncompressedSize <= limit else {
            throw .entryTooLarge(name: entry.name, declaredSize: entry.uncompressedSize, limit: limit, offset: entry.centralHeaderOffset)
        }
        let compressed = try Self.read(file, offset: entry.dataOffset, count: entry.compressedSize)
        let bytes: [UInt8]
        switch entry.compression {
        case .stored: bytes = compressed
        case .deflated: bytes = try inflate(compressed, entry: entry)
        }
        try checkCRC(entry, bytes.withUnsafeBytes { Self.crc32($0) })
        return bytes
    }

    /// Computes the CRC-32 of the entry's data (touching every byte) and compares it.
    public func verifyChecksum(_ entry: Entry) throws(ZipError) {
        switch entry.compression {
        case .stored: try checkCRC(entry, Self.crc32(view(entry)))
        case .deflated: _ = try contents(of: entry, limit: entry.uncompressedSize)
        }
    }

    private func checkCRC(_ entry: Entry, _ computed: UInt32) throws(ZipError) {
        if entry.crc32 == 0 && entry.uncompressedSize > 0 { return }  // torch's compute_crc32=False: a warning.
        guard computed == entry.crc32 else {
            throw .crcMismatch(name: entry.name, stored: entry.crc32, computed: computed, offset: entry.dataOffset)
        }
    }

    /// zlib's CRC-32 (the zip polynomial), fed in chunks that fit its 32-bit length argument.
    public static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// Inflates a raw deflate stream (RFC 1951, windowBits −15) into a buffer that grows with
    /// the output and never beyond the declared size: one byte more is an error, so a bomb
    /// stops after `uncompressedSize + 1` bytes of work, and memory follows real output.
    private func inflate(_ compressed: [UInt8], entry: Entry) throws(ZipError) -> [UInt8] {
        let declared = entry.uncompressedSize
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corruptDeflateData(name: entry.name, reason: "zlib could not start", offset: entry.dataOffset)
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: min(declared, 1 << 16) + 1)
        var produced = 0
        var consumed = 0
        var status = Z_OK
        while true {
            if produced == output.count {
                // Full: grow towards declared + 1 (the extra byte catches an overlong stream).
                guard output.count <= declared else { break }
                output.append(contentsOf: repeatElement(0, count: min(output.count, declared + 1 - output.count)))
            }
            let inputChunk = min(compressed.count - consumed, Int(UInt32.max))
            let outputChunk = min(output.count - produced, Int(UInt32.max))
            status = compressed.withUnsafeBytes { input in
                output.withUnsafeMutableBytes { out in
                    stream.next_in = UnsafeMutablePointer(
                        mutating: input.baseAddress?.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(inputChunk)
                    stream.next_out = out.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(outputChunk)
                    let s = CZlib.inflate(&stream, Z_NO_FLUSH)
                    consumed += inputChunk - Int(stream.avail_in)
                    produced += outputChunk - Int(stream.avail_out)
                    return s
                }
            }
            if produced > declared { throw .inflatedSizeMismatch(name: entry.name, declaredSize: declared, offset: entry.dataOffset) }
            if status == Z_STREAM_END { break }
            if status == Z_BUF_ERROR && consumed == compressed.count {
                throw .corruptDeflateData(name: entry.name, reason: "stream ends early", offset: entry.dataOffset)
            }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw .corruptDeflateData(name: entry.name, reason: message, offset: entry.dataOffset)
            }
        }
        guard produced == declared else { throw .inflatedSizeMismatch(name: entry.name, declaredSize: declared, offset: entry.dataOffset) }
        guard consumed == compressed.count else {
            throw .corruptDeflateData(
                name: entry.name, reason: "\(compressed.count - consumed) bytes after the end of the stream", offset: entry.dataOffset)
        }
        output.removeLast(output.count - produced)
        return output
    }
}

// MARK: - Little-endian fields

extension [UInt8] {
    /// Little-endian fields at `offset`; callers have checked the bounds.
    fileprivate func u16(_ offset: Int) -> UInt16 { UInt16(self[offset]) | UInt16(self[offset + 1]) << 8 }
    fileprivate func u32(_ offset: Int) -> UInt32 { UInt32(u16(offset)) | UInt32(u16(offset + 2)) << 16 }
    fileprivate func u64(_ offset: Int) -> UInt64 { UInt64(u32(offset)) | UInt64(u32(offset + 4)) << 32 }
}
