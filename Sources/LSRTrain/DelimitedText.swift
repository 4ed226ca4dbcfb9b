#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Splitting the bytes of a text file into physical lines (JSON Lines, GLUE-style TSV) and into
/// RFC 4180 records (CSV), without copying: fields are byte ranges into the caller's buffer
/// (a memory map), decoded to `String` only for the columns that are used.
///
/// Positions are byte offsets from the start of the buffer and lines are 1-based physical
/// lines, so every error can name both. A row may not exceed `maxRowBytes` (its terminating
/// newline not counted): a missing closing quote or a binary file fails at the limit instead of
/// growing one field until memory runs out.
struct DelimitedText {
    /// Why the bytes could not be split. `line` is where the row (or the quoted field) starts.
    enum SplitError: Error, Equatable {
        /// A quoted field (opening quote at `offset`) runs to the end of the file.
        case unterminatedQuote(line: Int, offset: Int)
        /// Something other than a delimiter or a line end right after a closing quote.
        case textAfterQuote(line: Int, offset: Int)
        /// The row starting at `offset` is longer than `maxRowBytes`.
        case rowTooLong(line: Int, offset: Int)
    }

    /// One physical line without its "\n" or "\r\n".
    struct Line: Equatable {
        var range: Range<Int>
        var line: Int
    }

    /// One field of a record: the bytes of its content (inside the quotes when it was quoted).
    struct Field: Equatable {
        var start: Int
        var end: Int
        /// The content holds `""` pairs that stand for one `"` each (RFC 4180 §2.7).
        var hasDoubledQuotes: Bool = false
    }

    /// One record: its fields, the physical line it starts on and its first byte.
    struct Record: Equatable {
        var fields: [Field]
        var line: Int
        var offset: Int
    }

    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let quote = UInt8(ascii: "\"")

    let bytes: UnsafeRawBufferPointer
    let maxRowBytes: Int
    /// The next byte to read.
    private(set) var position: Int
    /// The physical line of `position`.
    private(set) var line = 1

    init(bytes: UnsafeRawBufferPointer, start: Int, maxRowBytes: Int) {
        self.bytes = bytes
        self.position = start
        self.maxRowBytes = max(0, maxRowBytes)
    }

    /// Where a row starting at `start` must end, and whether that bound is the row limit (true)
    /// or the end of the file (false).
    private func rowBound(from start: Int) -> (bound: Int, limited: Bool) {
        bytes.count - start > maxRowBytes ? (start + maxRowBytes, true) : (bytes.count, false)
    }

    // MARK: - Lines

    /// The next physical line, or nil at the end. A final line without "\n" counts.
    mutating func nextLine() throws(SplitError) -> Line? {
        guard position < bytes.count else { return nil }
        let start = position
        let number = line
        let (bound, limited) = rowBound(from: start)
        var end: Int
        if let newline = firstLineFeed(in: start..<bound) {
            end = newline
        } else if limited {
            // A line of exactly `maxRowBytes` has its line end at the bound.
            guard let lineEnd = lineEnd(at: bound) else { throw .rowTooLong(line: number, offset: start) }
            end = lineEnd
        } else {
            end = bound
        }
        if end < bytes.count {
            position = end + 1
            line += 1
        } else {
            position = end
        }
        if end > start, bytes[end - 1] == Self.carriageReturn { end -= 1 }
        return Line(range: start..<end, line: number)
    }

    /// Splits a line on `delimiter`, with no quoting: GLUE's TSV files hold bare `"` characters
    /// (MNLI, QQP) and are read by csv.reader with quoting=QUOTE_NONE upstream
    /// (transformers/data/processors/glue.py, `_read_tsv`).
    func split(_ line: Line, on delimiter: UInt8) -> [Field] {
        var fields: [Field] = []
        var start = line.range.lowerBound
        while let i = first(delimiter, in: start..<line.range.upperBound) {
            fields.append(Field(start: start, end: i))
            start = i + 1
        }
        fields.append(Field(start: start, end: line.range.upperBound))
        return fields
    }

    /// The offset of the line feed of a "\n" or "\r\n" that starts at `offset`, or nil.
    private func lineEnd(at offset: Int) -> Int? {
        if bytes[offset] == Self.lineFeed { return offset }
        if bytes[offset] == Self.carriageReturn, offset + 1 < bytes.count, bytes[offset + 1] == Self.lineFeed {
            return offset + 1
        }
        return nil
    }

    private func firstLineFeed(in range: Range<Int>) -> Int? { first(Self.lineFeed, in: range) }

    /// The offset of the first `byte` in `range` (memchr: these scans are most of the work).
    private func first(_ byte: UInt8, in range: Range<Int>) -> Int? {
        guard !range.isEmpty, let base = bytes.baseAddress else { return nil }
        guard let hit = memchr(base + range.lowerBound, Int32(byte), range.count) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    // MARK: - RFC 4180 records

    /// The next CSV record, skipping empty lines; nil at the end. Quoted fields may hold the
    /// delimiter, line breaks and doubled quotes; a `"` inside an unquoted field is kept as a
    /// character (as Python's csv module and pandas do). Records end at "\n" or "\r\n".
    mutating func nextRecord(delimiter: UInt8) throws(SplitError) -> Record? {
        skipEmptyLines()
        guard position < bytes.count else { return nil }
        let start = position
        let startLine = line
        let (bound, limited) = rowBound(from: start)
        var fields: [Field] = []
        var p = start
        while true {
            if p < bound, bytes[p] == Self.quote {
                let open = p
                let openLine = line
                p += 1
                var field = Field(start: p, end: p)
                while true {
                    guard p < bound else {
                        if limited { throw .rowTooLong(line: startLine, offset: start) }
                        throw .unterminatedQuote(line: openLine, offset: open)
                    }
                    let byte = bytes[p]
                    if byte == Self.quote {
                        guard p + 1 < bytes.count, bytes[p + 1] == Self.quote else { break }
                        if p + 1 == bound { throw .rowTooLong(line: startLine, offset: start) }
                        field.hasDoubledQuotes = true
                        p += 2
                        continue
                    }
                    if byte == Self.lineFeed { line += 1 }
                    p += 1
                }
                field.end = p
                fields.append(field)
                p += 1  // the closing quote
                if p < bound, bytes[p] == Self.carriageReturn, p + 1 < bytes.count, bytes[p + 1] == Self.lineFeed {
                    p += 1
                }
                if p < bound, bytes[p] != delimiter, bytes[p] != Self.lineFeed {
                    throw .textAfterQuote(line: line, offset: p)
                }
            } else {
                let fieldStart = p
                while p < bound, bytes[p] != delimiter, bytes[p] != Self.lineFeed { p += 1 }
                var fieldEnd = p
                let endsRecord = p == bytes.count || bytes[p] == Self.lineFeed
                if endsRecord, fieldEnd > fieldStart, bytes[fieldEnd - 1] == Self.carriageReturn { fieldEnd -= 1 }
                fields.append(Field(start: fieldStart, end: fieldEnd))
            }
            // Here p is at a delimiter, a line feed, the end of the file, or the row limit.
            if p < bound, bytes[p] == delimiter {
                p += 1
                continue
            }
            if p == bound, limited {
                // A row of exactly `maxRowBytes` has its line end at the bound.
                guard let lineEnd = lineEnd(at: p) else { throw .rowTooLong(line: startLine, offset: start) }
                p = lineEnd
            }
            if p < bytes.count {
                p += 1  // the line feed
                line += 1
            }
            break
        }
        position = p
        return Record(fields: fields, line: startLine, offset: start)
    }

    /// Skips lines that are empty or hold only "\r".
    private mutating func skipEmptyLines() {
        while position < bytes.count {
            if bytes[position] == Self.lineFeed {
                position += 1
                line += 1
            } else if bytes[position] == Self.carriageReturn,
                position + 1 == bytes.count || bytes[position + 1] == Self.lineFeed
            {
                position += 1
            } else {
                return
            }
        }
    }

    // MARK: - Decoding

    /// The field's text. The buffer is validated UTF-8 before any splitting (delimiters, quotes
    /// and line feeds are ASCII and never occur inside a multi-byte sequence).
    func string(_ field: Field) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[field.start..<field.end])
        guard field.hasDoubledQuotes else { return String(decoding: raw, as: UTF8.self) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            unescaped.append(raw[i])
            i += raw[i] == Self.quote ? 2 : 1
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    /// Offset of the first byte at or after `start` that breaks UTF-8 (the lead byte of a bad
    /// sequence), or nil. Well-formed sequences as in the Unicode Standard, Table 3-7: no
    /// overlong forms, no surrogates, nothing above U+10FFFF.
    static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let n = bytes.count
        var i = start
        while i < n {
            // ASCII runs, eight bytes at a time.
            while i + 8 <= n, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < n else { return nil }
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            // The allowed range of the second byte depends on the lead; later bytes are 80...BF.
            let second: ClosedRange<UInt8>
            let length: Int
            switch lead {
            case 0xC2...0xDF: (second, length) = (0x80...0xBF, 2)
            case 0xE0: (second, length) = (0xA0...0xBF, 3)
            case 0xE1...0xEC, 0xEE...0xEF: (second, length) = (0x80...0xBF, 3)
            case 0xED: (second, length) = (0x80...0x9F, 3)
            case 0xF0: (second, length) = (0x90...0xBF, 4)
            case 0xF1...0xF3: (second, length) = (0x80...0xBF, 4)
            case 0xF4: (second, length) = (0x80...0x8F, 4)
            default: return i
            }
            guard n - i >= length, second.contains(bytes[i + 1]) else { return i }
            for k in 2..<length where !(0x80...0xBF).contains(bytes[i + k]) { return i }
            i += length
        }
        return nil
    }
}
