import LSRFormats
import TestSupport
import Testing

/// Every rejection rule of the zip reader (SECURITY.md rule 4, APPNOTE.TXT), one archive built
/// byte by byte and damaged in one field each, asserting the exact error.
@Suite struct ZipTests {
    /// "hello hello hello hello\n" as a raw deflate stream (zlib level 9, windowBits −15).
    static let hello = Array("hello hello hello hello\n".utf8)
    static let helloDeflated: [UInt8] = [203, 72, 205, 201, 201, 87, 200, 64, 39, 185, 0]

    func open(_ bytes: [UInt8]) throws(ZipError) -> ZipArchive {
        let dir = TemporaryDirectory()
        let path = dir.write(bytes, to: "a.zip")
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .readFailed(error) }
        return try ZipArchive(file: file)
    }

    func expect(_ error: ZipError, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: error, sourceLocation: sourceLocation) { try open(bytes) }
    }

    static func simple(zip64: Bool = false) -> ZipFixture {
        ZipFixture(items: [.init(name: "t/a", data: Array("abc".utf8)), .init(name: "t/b", data: hello)], zip64: zip64)
    }

    // MARK: Reading what is right

    @Test func readsStoredAndDeflatedEntries() throws {
        var fixture = Self.simple()
        fixture.items.append(.init(name: "t/z", data: Self.helloDeflated, method: 8, uncompressed: Self.hello))
        let built = fixture.build()
        let zip = try open(built.bytes)
        #expect(zip.entries.map(\.name) == ["t/a", "t/b", "t/z"])
        #expect(zip.warnings.isEmpty)
        let b = try zip.entry("t/b")
        #expect(b.dataOffset == built.local[1] + 30 + 3)
        let view = try zip.view(b)
        #expect(view.baseAddress == zip.file.view(offset: 0, count: zip.file.size)!.baseAddress! + b.dataOffset)
        #expect([UInt8](view) == Self.hello)
        #expect(try zip.contents(of: zip.entry("t/z"), limit: 100) == Self.hello)
        #expect(try zip.contents(of: b, limit: 100) == Self.hello)
        try zip.verifyChecksum(b)
    }

    @Test func readsZip64RecordsAndDataDescriptors() throws {
        var fixture = Self.simple(zip64: true)
        fixture.items[1].descriptor = true
        let zip = try open(fixture.build().bytes)
        #expect(zip.entries.count == 2)
        #expect(try zip.contents(of: zip.entry("t/b"), limit: 100) == Self.hello)
        #expect(try zip.entry("t/b").hasDataDescriptor)
    }

    @Test func readsZip64ExtraFieldSizes() throws {
        // Central sizes and offset deferred to the ZIP64 extra field (APPNOTE.TXT 4.5.3).
        var fixture = Self.simple(zip64: true)
        fixture.items[1].centralZip64 = true
        let zip = try open(fixture.build().bytes)
        let b = try zip.entry("t/b")
        #expect(b.uncompressedSize == Self.hello.count && b.compressedSize == Self.hello.count)
        #expect(try zip.contents(of: b, limit: 100) == Self.hello)
    }

    @Test func normalisesNames() throws {
        let fixture = ZipFixture(items: [.init(name: "t/./x//y", data: [1]), .init(name: "t/dir/", data: [])])
        let zip = try open(fixture.build().bytes)
        #expect(zip.entries.map(\.name) == ["t/x/y", "t/dir/"])
        #expect(zip["t/x/y"] != nil)
    }

    @Test func acceptsZeroCRCWithAWarning() throws {
        // torch.serialization.set_crc32_options(False) writes 0 for every entry.
        var fixture = Self.simple()
        fixture.items[1].crc = 0
        let built = fixture.build()
        let zip = try open(built.bytes)
        #expect(zip.warnings == [.zeroCRC(entry: "t/b", offset: built.central[1])])
        #expect(try zip.contents(of: zip.entry("t/b"), limit: 100) == Self.hello)
    }

    @Test func readsTorchWrittenArchive() throws {
        // torch 2.13's writer: data descriptors, "FB" padding to 64 bytes, ZIP64 end records.
        let zip = try ZipArchive(path: TestPaths.fixture("torch/zip/pytorch_model.bin"))
        #expect(zip.entries.first?.name == "pytorch_model/data.pkl")
        #expect(zip.entries.allSatisfy { $0.hasDataDescriptor && $0.compression == .stored && $0.dataOffset % 64 == 0 })
        #expect(zip.warnings.isEmpty)
        for entry in zip.entries { try zip.verifyChecksum(entry) }
    }

    // MARK: End records

    @Test func noEndRecord() {
        expect(.noEndRecord(fileSize: 10), [UInt8](repeating: 0, count: 10))
        expect(.noEndRecord(fileSize: 100), [UInt8](repeating: 0x50, count: 100))
    }

    @Test func endRecordMustEndTheFile() {
        let built = Self.simple().build()
        expect(.endRecordNotAtEnd(offset: built.end, commentLength: 0, fileSize: built.bytes.count + 3), built.bytes + [1, 2, 3])
    }

    @Test func exactlyOneEndRecord() {
        // An empty archive's end record appended after the real one.
        let built = Self.simple().build()
        let empty = ZipFixture(items: []).build().bytes
        expect(.multipleEndRecords(offsets: [built.end, built.bytes.count]), built.bytes + empty)
    }

    @Test func directoryMustEndWhereTheEndRecordBegins() {
        var built = Self.simple().build()
        built.bytes.put32(built.end + 16, UInt32(built.directory + 1))
        expect(
            .inconsistentEndRecord(
                field:
                    "central directory at \(built.directory + 1) of \(built.end - built.directory) bytes does not end at byte \(built.end)",
                offset: built.end), built.bytes)
    }

    @Test func zip64FieldsMustAgree() {
        var built = Self.simple(zip64: true).build()
        built.bytes.put16(built.end + 8, 1)
        built.bytes.put16(built.end + 10, 1)
        expect(.inconsistentEndRecord(field: "entry count differs from the ZIP64 record's", offset: built.end), built.bytes)
    }

    @Test func zip64RecordMustBeValid() {
        var built = Self.simple(zip64: true).build()
        built.bytes.put32(built.zip64Record!, 0x1234_5678)
        expect(.invalidZip64Record(reason: "bad signature", offset: built.zip64Record!), built.bytes)

        var sentinel = Self.simple().build()
        sentinel.bytes.put32(sentinel.end + 16, 0xFFFF_FFFF)
        expect(.invalidZip64Record(reason: "ZIP64 sentinel values without a ZIP64 locator", offset: sentinel.end), sentinel.bytes)
    }

    @Test func splitArchivesAreRefused() {
        var built = Self.simple(zip64: true).build()
        built.bytes.put32(built.end - 20 + 16, 2)  // locator: total disks 2
        expect(.multiDiskArchive(offset: built.end - 20), built.bytes)
        var entry = Self.simple().build()
        entry.bytes.put16(entry.central[0] + 34, 3)  // the entry starts on disk 3
        expect(.multiDiskArchive(offset: entry.central[0]), entry.bytes)
    }

    @Test func entryCountBoundedByDirectorySize() {
        var built = ZipFixture(items: [.init(name: "t/a", data: [1])]).build()
        built.bytes.put16(built.end + 8, 500)
        built.bytes.put16(built.end + 10, 500)
        expect(.tooManyEntries(declared: 500, capacity: 1, offset: built.end), built.bytes)
    }

    // MARK: Central directory

    @Test func centralHeaderSignatureAndLength() {
        var built = Self.simple().build()
        built.bytes.put32(built.central[1], 0)
        expect(.invalidCentralHeader(index: 1, reason: "bad signature", offset: built.central[1]), built.bytes)
        var short = Self.simple().build()
        short.bytes.put16(short.end + 8, 1)
        short.bytes.put16(short.end + 10, 1)
        expect(
            .invalidCentralHeader(
                index: 1, reason: "\(short.end - short.central[1]) bytes left after the last entry", offset: short.central[1]),
            short.bytes)
    }

    @Test(arguments: [
        ("t/../x", "contains a '..' component"), ("../x", "contains a '..' component"), ("/t/x", "is an absolute path"),
        ("t\\x", "contains a backslash"), ("t/a\u{0}b", "contains a NUL byte"), ("./.", "is empty"),
    ])
    func unsafeNames(_ name: String, _ reason: String) {
        let built = ZipFixture(items: [.init(name: name, data: [1])]).build()
        expect(.invalidName(name: name, reason: reason, offset: built.central[0]), built.bytes)
    }

    @Test func nonUTF8Name() {
        let built = ZipFixture(items: [.init(rawName: [0x74, 0x2F, 0xFF], data: [1])]).build()
        expect(.invalidName(name: "t/\u{FFFD}", reason: "is not UTF-8", offset: built.central[0]), built.bytes)
    }

    @Test func duplicateNames() {
        let same = ZipFixture(items: [.init(name: "t/a", data: [1]), .init(name: "t/a", data: [2])]).build()
        expect(.duplicateName(name: "t/a", offset: same.central[1]), same.bytes)
        // Equal once normalised: two readers could disagree on which one "t/a" is.
        let normalised = ZipFixture(items: [.init(name: "t/a", data: [1]), .init(name: "t/./a", data: [2])]).build()
        expect(.duplicateName(name: "t/a", offset: normalised.central[1]), normalised.bytes)
    }

    @Test func encryptionIsRefused() {
        var fixture = Self.simple()
        fixture.items[1].flags |= 0x0001
        let built = fixture.build()
        expect(.encrypted(name: "t/b", offset: built.central[1]), built.bytes)
    }

    @Test func onlyStoredOrDeflated() {
        var fixture = Self.simple()
        fixture.items[1].method = 12  // bzip2
        let built = fixture.build()
        expect(.unsupportedCompression(name: "t/b", method: 12, offset: built.central[1]), built.bytes)
    }

    @Test func extraFieldsMustBeWellFormed() {
        var fixture = Self.simple()
        fixture.items[0].centralExtra = [0x01, 0x00, 0x10, 0x00]
        let built = fixture.build()
        expect(.invalidExtraField(name: "t/a", reason: "record 0x1 runs past the field", offset: built.central[0]), built.bytes)

        var sentinel = Self.simple().build()
        sentinel.bytes.put32(sentinel.central[0] + 24, 0xFFFF_FFFF)
        expect(
            .invalidExtraField(name: "t/a", reason: "ZIP64 field missing for sentinel sizes", offset: sentinel.central[0]), sentinel.bytes)
    }

    @Test func impossibleSizes() {
        var stored = Self.simple().build()
        stored.bytes.put32(stored.central[1] + 24, 7)
        expect(.invalidSizes(name: "t/b", reason: "stored with compressed size 24 ≠ size 7", offset: stored.central[1]), stored.bytes)

        var ratio = ZipFixture(items: [.init(name: "t/z", data: Self.helloDeflated, method: 8, uncompressed: Self.hello)]).build()
        ratio.bytes.put32(ratio.central[0] + 24, 1_000_000)
        expect(
            .invalidSizes(
                name: "t/z", reason: "declares 1000000 bytes from 11 compressed, beyond deflate's ratio", offset: ratio.central[0]),
            ratio.bytes)

        let directory = ZipFixture(items: [.init(name: "t/d/", data: [1])]).build()
        expect(.invalidSizes(name: "t/d/", reason: "a directory entry with data", offset: directory.central[0]), directory.bytes)
    }

    // MARK: Local headers

    @Test func localHeaderMustBeThere() {
        var built = Self.simple().build()
        built.bytes.put32(built.local[1], 0)
        expect(.invalidLocalHeader(name: "t/b", reason: "has a bad signature", offset: built.local[1]), built.bytes)
        var inside = Self.simple().build()
        inside.bytes.put32(inside.central[1] + 42, UInt32(inside.directory - 10))
        expect(.invalidLocalHeader(name: "t/b", reason: "runs into the central directory", offset: inside.directory - 10), inside.bytes)
    }

    @Test func localHeaderMustAgree() {
        var name = Self.simple()
        name.items[1].localName = "t/c"
        let n = name.build()
        expect(.localHeaderMismatch(name: "t/b", field: "name", offset: n.local[1]), n.bytes)

        var method = Self.simple().build()
        method.bytes.put16(method.local[1] + 8, 8)
        expect(.localHeaderMismatch(name: "t/b", field: "compression method", offset: method.local[1]), method.bytes)

        var crc = Self.simple().build()
        crc.bytes.put32(crc.local[1] + 14, 1)
        expect(.localHeaderMismatch(name: "t/b", field: "CRC-32", offset: crc.local[1]), crc.bytes)

        var size = Self.simple().build()
        size.bytes.put32(size.local[1] + 22, 3)
        expect(.localHeaderMismatch(name: "t/b", field: "sizes", offset: size.local[1]), size.bytes)

        var flags = Self.simple().build()
        flags.bytes.put16(flags.local[1] + 6, 0x0808)
        expect(.localHeaderMismatch(name: "t/b", field: "flags", offset: flags.local[1]), flags.bytes)

        var descriptor = Self.simple()
        descriptor.items[1].descriptor = true
        var d = descriptor.build()
        d.bytes.put32(d.local[1] + 22, 5)
        expect(.localHeaderMismatch(name: "t/b", field: "CRC-32 and sizes", offset: d.local[1]), d.bytes)
    }

    @Test func dataDescriptorMustAgree() {
        var fixture = Self.simple()
        fixture.items[0].descriptor = true
        var built = fixture.build()
        let dataEnd = built.local[0] + 30 + 3 + 3
        built.bytes.put32(dataEnd + 4, 0xDEAD_BEEF)  // the descriptor's CRC
        expect(.invalidDataDescriptor(name: "t/a", offset: dataEnd), built.bytes)
    }

    @Test func dataMustEndBeforeTheDirectory() {
        var built = Self.simple().build()
        // 60 bytes: inside the file, past the central directory (t/b holds 24).
        for base in [built.central[1] + 20, built.central[1] + 24, built.local[1] + 18, built.local[1] + 22] { built.bytes.put32(base, 60) }
        expect(.entryOutOfBounds(name: "t/b", offset: built.local[1] + 33), built.bytes)
    }

    // MARK: Layout

    @Test func entriesMustNotOverlap() {
        // t/b's local record is hidden inside t/a's data, both consistent with the directory.
        let inner = ZipFixture.localRecord(name: Array("t/b".utf8), data: [9, 9], crc: ZipArchive.crc32([9, 9]))
        var fixture = ZipFixture(items: [.init(name: "t/a", data: inner), .init(name: "t/b", data: [9, 9])])
        fixture.items[1].writeLocal = false
        fixture.items[1].localOffset = 30 + 3
        let built = fixture.build()
        expect(.overlappingEntries(name: "t/b", previous: "t/a", offset: 33), built.bytes)
    }

    @Test func noUnaccountedBytes() {
        var prefixed = Self.simple()
        prefixed.prefix = Array("#!/bin/sh\n".utf8)
        expect(.unaccountedBytes(offset: 0, count: 10), prefixed.build().bytes)

        var gap = Self.simple()
        gap.items[1].padding = [0, 0, 0]
        let built = gap.build()
        expect(.unaccountedBytes(offset: built.local[1] - 3, count: 3), built.bytes)
    }

    // MARK: Reading entries

    @Test func lookupAndViews() throws {
        var fixture = Self.simple()
        fixture.items.append(.init(name: "t/z", data: Self.helloDeflated, method: 8, uncompressed: Self.hello))
        let zip = try open(fixture.build().bytes)
        #expect(throws: ZipError.entryNotFound(name: "t/nope")) { try zip.entry("t/nope") }
        let z = try zip.entry("t/z")
        #expect(throws: ZipError.notStored(name: "t/z", offset: z.dataOffset)) { try zip.view(z) }
    }

    @Test func declaredSizeCheckedAgainstTheLimit() throws {
        let built = Self.simple().build()
        let zip = try open(built.bytes)
        #expect(throws: ZipError.entryTooLarge(name: "t/b", declaredSize: 24, limit: 10, offset: built.central[1])) {
            try zip.contents(of: zip.entry("t/b"), limit: 10)
        }
    }

    @Test func inflationStopsAtTheDeclaredSize() throws {
        // A lying small size (a bomb stops one byte past it) and a stream shorter than declared.
        for declared in [10, 30] {
            var fixture = ZipFixture(items: [.init(name: "t/z", data: Self.helloDeflated, method: 8, uncompressed: Self.hello)])
            fixture.items[0].uncompressedSize = declared
            let zip = try open(fixture.build().bytes)
            let z = try zip.entry("t/z")
            #expect(throws: ZipError.inflatedSizeMismatch(name: "t/z", declaredSize: declared, offset: z.dataOffset)) {
                try zip.contents(of: z, limit: 100)
            }
        }
    }

    @Test func corruptDeflateStreams() throws {
        let garbage = try open(
            ZipFixture(items: [.init(name: "t/z", data: [0xFF, 0xFF], method: 8, uncompressed: Self.hello)]).build().bytes)
        let g = try garbage.entry("t/z")
        #expect(throws: ZipError.corruptDeflateData(name: "t/z", reason: "invalid block type", offset: g.dataOffset)) {
            try garbage.contents(of: g, limit: 100)
        }
        let cut = Array(Self.helloDeflated.prefix(5))
        let truncated = try open(ZipFixture(items: [.init(name: "t/z", data: cut, method: 8, uncompressed: Self.hello)]).build().bytes)
        let t = try truncated.entry("t/z")
        #expect(throws: ZipError.corruptDeflateData(name: "t/z", reason: "stream ends early", offset: t.dataOffset)) {
            try truncated.contents(of: t, limit: 100)
        }
    }

    @Test func crcIsChecked() throws {
        var fixture = Self.simple()
        fixture.items[1].crc = 0x1234_5678
        let zip = try open(fixture.build().bytes)
        let b = try zip.entry("t/b")
        let error = ZipError.crcMismatch(name: "t/b", stored: 0x1234_5678, computed: ZipArchive.crc32(Self.hello), offset: b.dataOffset)
        #expect(throws: error) { try zip.contents(of: b, limit: 100) }
        #expect(throws: error) { try zip.verifyChecksum(b) }
    }
}

// MARK: - Building archives

/// Builds zip archives record by record (APPNOTE.TXT 4.3) so that tests can damage one field.
struct ZipFixture {
    struct Item {
        var rawName: [UInt8]
        /// The bytes written as the entry's data (compressed bytes when `method` is 8).
        var data: [UInt8]
        var method: UInt16 = 0
        /// For deflated items: what the data inflates to (sizes and CRC come from it).
        var uncompressed: [UInt8]?
        var uncompressedSize: Int?
        var crc: UInt32?
        var flags: UInt16 = 0x0800
        var descriptor = false
        var localName: String?
        var centralExtra: [UInt8] = []
        /// Put the sizes and local offset in a ZIP64 extra field behind sentinels.
        var centralZip64 = false
        var writeLocal = true
        var localOffset: Int?
        /// Bytes written before the local record.
        var padding: [UInt8] = []

        init(name: String, data: [UInt8], method: UInt16 = 0, uncompressed: [UInt8]? = nil) {
            self.init(rawName: Array(name.utf8), data: data, method: method, uncompressed: uncompressed)
        }

        init(rawName: [UInt8], data: [UInt8], method: UInt16 = 0, uncompressed: [UInt8]? = nil) {
            self.rawName = rawName
            self.data = data
            self.method = method
            self.uncompressed = uncompressed
        }
    }

    var items: [Item]
    var zip64 = false
    var prefix: [UInt8] = []

    struct Built {
        var bytes: [UInt8]
        var local: [Int]
        var central: [Int]
        var directory: Int
        var zip64Record: Int?
        var end: Int
    }

    static func localRecord(name: [UInt8], data: [UInt8], crc: UInt32, flags: UInt16 = 0x0800) -> [UInt8] {
        var b: [UInt8] = []
        b.append32(0x0403_4B50)
        b.append16(20)
        b.append16(flags)
        b.append16(0)
        b.append16(0)
        b.append16(0)
        b.append32(crc)
        b.append32(UInt32(data.count))
        b.append32(UInt32(data.count))
        b.append16(UInt16(name.count))
        b.append16(0)
        return b + name + data
    }

    func build() -> Built {
        var bytes = prefix
        var local: [Int] = []
        for item in items {
            bytes += item.padding
            local.append(item.localOffset ?? bytes.count)
            guard item.writeLocal else { continue }
            let plain = item.uncompressed ?? item.data
            let crc = item.crc ?? ZipArchive.crc32(plain)
            let size = item.uncompressedSize ?? plain.count
            let flags = item.flags | (item.descriptor ? 0x0008 : 0)
            bytes.append32(0x0403_4B50)
            bytes.append16(20)
            bytes.append16(flags)
            bytes.append16(item.method)
            bytes.append16(0)
            bytes.append16(0)
            bytes.append32(item.descriptor ? 0 : crc)
            bytes.append32(item.descriptor ? 0 : UInt32(item.data.count))
            bytes.append32(item.descriptor ? 0 : UInt32(size))
            let name = item.localName.map { Array($0.utf8) } ?? item.rawName
            bytes.append16(UInt16(name.count))
            bytes.append16(0)
            bytes += name + item.data
            if item.descriptor {
                bytes.append32(0x0807_4B50)
                bytes.append32(crc)
                bytes.append32(UInt32(item.data.count))
                bytes.append32(UInt32(size))
            }
        }
        let directory = bytes.count
        var central: [Int] = []
        for (item, offset) in zip(items, local) {
            central.append(bytes.count)
            let plain = item.uncompressed ?? item.data
            let crc = item.crc ?? ZipArchive.crc32(plain)
            let size = item.uncompressedSize ?? plain.count
            var extra = item.centralExtra
            if item.centralZip64 {
                extra.append16(1)
                extra.append16(24)
                extra.append64(UInt64(size))
                extra.append64(UInt64(item.data.count))
                extra.append64(UInt64(offset))
            }
            bytes.append32(0x0201_4B50)
            bytes.append16(0x031E)
            bytes.append16(20)
            bytes.append16(item.flags | (item.descriptor ? 0x0008 : 0))
            bytes.append16(item.method)
            bytes.append16(0)
            bytes.append16(0)
            bytes.append32(crc)
            bytes.append32(item.centralZip64 ? 0xFFFF_FFFF : UInt32(item.data.count))
            bytes.append32(item.centralZip64 ? 0xFFFF_FFFF : UInt32(size))
            bytes.append16(UInt16(item.rawName.count))
            bytes.append16(UInt16(extra.count))
            bytes.append16(0)
            bytes.append16(0)
            bytes.append16(0)
            bytes.append32(0)
            bytes.append32(item.centralZip64 ? 0xFFFF_FFFF : UInt32(offset))
            bytes += item.rawName + extra
        }
        let directorySize = bytes.count - directory
        var zip64Record: Int?
        if zip64 {
            zip64Record = bytes.count
            bytes.append32(0x0606_4B50)
            bytes.append64(44)
            bytes.append16(0x031E)
            bytes.append16(45)
            bytes.append32(0)
            bytes.append32(0)
            bytes.append64(UInt64(items.count))
            bytes.append64(UInt64(items.count))
            bytes.append64(UInt64(directorySize))
            bytes.append64(UInt64(directory))
            bytes.append32(0x0706_4B50)
            bytes.append32(0)
            bytes.append64(UInt64(zip64Record!))
            bytes.append32(1)
        }
        let end = bytes.count
        bytes.append32(0x0605_4B50)
        bytes.append16(0)
        bytes.append16(0)
        bytes.append16(UInt16(items.count))
        bytes.append16(UInt16(items.count))
        bytes.append32(UInt32(directorySize))
        bytes.append32(UInt32(directory))
        bytes.append16(0)
        return Built(bytes: bytes, local: local, central: central, directory: directory, zip64Record: zip64Record, end: end)
    }
}

extension [UInt8] {
    mutating func append16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
    mutating func append32(_ v: UInt32) { for i in 0..<4 { append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func append64(_ v: UInt64) { for i in 0..<8 { append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func put16(_ at: Int, _ v: UInt16) { for i in 0..<2 { self[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
    mutating func put32(_ at: Int, _ v: UInt32) { for i in 0..<4 { self[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
}

extension ZipArchive {
    static func crc32(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { crc32($0) } }
}
