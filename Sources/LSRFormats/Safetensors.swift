/// The safetensors format: reader, writer and validation sharing one header type.
///
/// Layout (huggingface/safetensors, safetensors/src/tensor.rs): u64 little-endian header
/// length N, N bytes of UTF-8 JSON, then the data buffer. Offsets in the header are relative
/// to the data buffer. The rules below are the reference reader's, plus duplicate names, which
/// the spec forbids and the crate silently resolves (SECURITY.md: parser differentials).
public enum Safetensors {
    /// Largest header accepted (the reference's MAX_HEADER_SIZE, 100 MB).
    public static let maxHeaderSize = 100_000_000
    /// The header length field.
    public static let lengthFieldSize = 8

    /// One tensor entry of the header.
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// Begin and end within the data buffer.
        public var begin: Int
        public var end: Int
    }

    /// A parsed and validated header: entries sorted by offset, metadata in file order.
    public struct Header: Equatable, Sendable {
        public var metadata: [(key: String, value: String)]?
        public var entries: [Entry]
        /// Bytes before the data buffer: 8 + N.
        public var dataStart: Int

        public static func == (lhs: Header, rhs: Header) -> Bool {
            lhs.entries == rhs.entries && lhs.dataStart == rhs.dataStart
                && lhs.metadata?.map { [$0.key, $0.value] } == rhs.metadata?.map { [$0.key, $0.value] }
        }
    }
}

/// Why a safetensors file was refused. Byte offsets are from the start of the file.
public enum SafetensorsError: Error, Equatable, Sendable {
    /// Fewer than the 8 bytes of the header length field.
    case fileTooSmall(size: Int)
    /// The header length exceeds `Safetensors.maxHeaderSize`.
    case headerTooLarge(length: UInt64)
    /// 8 + header length runs past the end of the file.
    case headerPastEnd(length: UInt64, fileSize: Int)
    /// The header bytes are not UTF-8 (offset of the first bad byte).
    case headerNotUTF8(offset: Int)
    /// The header is not valid JSON (json-c's reason and offset).
    case headerInvalidJSON(description: String, offset: Int)
    /// The header is JSON but not an object.
    case headerNotObject(kind: String)
    /// The same tensor name appears twice in the header.
    case duplicateTensor(String, offset: Int)
    /// `__metadata__` is not an object of strings.
    case metadataNotObject(offset: Int)
    case metadataValueNotString(key: String, offset: Int)
    /// A tensor entry is not an object, or lacks `dtype`, `shape` or `data_offsets`.
    case invalidEntry(tensor: String, reason: String, offset: Int)
    /// The dtype name is not one of the format's (names are case-sensitive).
    case unknownDType(tensor: String, dtype: String, offset: Int)
    /// A shape entry is not a non-negative integer.
    case invalidShape(tensor: String, offset: Int)
    /// `data_offsets` is not exactly two non-negative integers.
    case invalidDataOffsets(tensor: String, offset: Int)
    /// The shape's element count times the dtype's size overflows.
    case shapeOverflow(tensor: String, offset: Int)
    /// A sub-byte dtype whose bits do not end on a byte boundary.
    case misalignedSubByte(tensor: String, offset: Int)
    /// end < begin.
    case endBeforeBegin(tensor: String, begin: Int, end: Int, offset: Int)
    /// The tensor starts after the previous one ended (or after 0 for the first).
    case gapBeforeTensor(tensor: String, expectedBegin: Int, begin: Int, offset: Int)
    /// The tensor starts before the previous one ended.
    case overlappingTensor(tensor: String, expectedBegin: Int, begin: Int, offset: Int)
    /// end − begin differs from the shape's byte size.
    case sizeMismatch(tensor: String, expectedBytes: Int, declaredBytes: Int, offset: Int)
    /// The file ends before the data buffer does.
    case truncatedData(expectedSize: Int, fileSize: Int)
    /// Bytes after the last tensor's data.
    case trailingBytes(expectedSize: Int, fileSize: Int)
}

extension SafetensorsError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .fileTooSmall(let s): "file of \(s) bytes is too small for a safetensors header (8 bytes at offset 0)"
        case .headerTooLarge(let n): "header length \(n) at offset 0 exceeds the limit of \(Safetensors.maxHeaderSize) bytes"
        case .headerPastEnd(let n, let s): "header length \(n) at offset 0 runs past the end of the file (\(s) bytes)"
        case .headerNotUTF8(let o): "header is not valid UTF-8 at byte offset \(o)"
        case .headerInvalidJSON(let d, let o): "header is not valid JSON at byte offset \(o): \(d)"
        case .headerNotObject(let k): "header at byte offset 8 is a JSON \(k), expected an object"
        case .duplicateTensor(let t, let o): "tensor '\(t)' appears twice in the header (byte offset \(o))"
        case .metadataNotObject(let o): "'__metadata__' at byte offset \(o) is not an object"
        case .metadataValueNotString(let k, let o): "metadata value of '\(k)' at byte offset \(o) is not a string"
        case .invalidEntry(let t, let r, let o): "tensor '\(t)' at byte offset \(o): \(r)"
        case .unknownDType(let t, let d, let o): "tensor '\(t)' at byte offset \(o): unknown dtype '\(d)'"
        case .invalidShape(let t, let o): "tensor '\(t)' at byte offset \(o): shape entries must be non-negative integers"
        case .invalidDataOffsets(let t, let o): "tensor '\(t)' at byte offset \(o): data_offsets must be two non-negative integers"
        case .shapeOverflow(let t, let o): "tensor '\(t)' at byte offset \(o): shape size overflows"
        case .misalignedSubByte(let t, let o): "tensor '\(t)' at byte offset \(o): sub-byte data does not end on a byte boundary"
        case .endBeforeBegin(let t, let b, let e, let o): "tensor '\(t)' at byte offset \(o): data ends (\(e)) before it begins (\(b))"
        case .gapBeforeTensor(let t, let x, let b, let o): "tensor '\(t)' at byte offset \(o): data begins at \(b), expected \(x) (a hole in the data buffer)"
        case .overlappingTensor(let t, let x, let b, let o): "tensor '\(t)' at byte offset \(o): data begins at \(b), overlapping the previous tensor (expected \(x))"
        case .sizeMismatch(let t, let x, let d, let o): "tensor '\(t)' at byte offset \(o): shape and dtype give \(x) bytes, data_offsets give \(d)"
        case .truncatedData(let x, let s): "data buffer ends at byte offset \(x) but the file has only \(s) bytes (truncated)"
        case .trailingBytes(let x, let s): "unexpected \(s - x) trailing bytes after the data buffer at byte offset \(x)"
        }
    }
}

// MARK: - Reading

extension Safetensors {
    /// Parses and validates the header of a file of `fileSize` bytes, reading only the length
    /// field and the header through `readBytes(offset, count)`.
    public static func parseHeader(fileSize: Int, readBytes: (Int, Int) throws -> [UInt8]) throws -> Header {
        guard fileSize >= lengthFieldSize else { throw SafetensorsError.fileTooSmall(size: fileSize) }
        let lengthField = try readBytes(0, lengthFieldSize)
        let declared = lengthField.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard declared <= UInt64(maxHeaderSize) else { throw SafetensorsError.headerTooLarge(length: declared) }
        let length = Int(declared)
        guard length <= fileSize - lengthFieldSize else {
            throw SafetensorsError.headerPastEnd(length: declared, fileSize: fileSize)
        }
        return try parseHeaderJSON(readBytes(lengthFieldSize, length), fileSize: fileSize)
    }

    /// Validates a whole file held in memory (tests and fuzzing use this entry point).
    public static func parseHeader(fileBytes: [UInt8]) throws -> Header {
        try parseHeader(fileSize: fileBytes.count) { offset, count in Array(fileBytes[offset..<(offset + count)]) }
    }

    /// Validates the JSON header text (without the length field) against a file of `fileSize` bytes.
    public static func parseHeaderJSON(_ header: [UInt8], fileSize: Int) throws(SafetensorsError) -> Header {
        let dataStart = lengthFieldSize + header.count
        let json: JSONValue
        do {
            json = try JSON.parse(header)
        } catch {
            switch error {
            case .invalidUTF8(let o): throw .headerNotUTF8(offset: lengthFieldSize + o)
            case .duplicateKey(let k, let o): throw .duplicateTensor(k, offset: lengthFieldSize + o)
            default: throw .headerInvalidJSON(description: "\(error)", offset: lengthFieldSize + jsonErrorOffset(error))
            }
        }
        guard case .object(let object) = json else { throw .headerNotObject(kind: json.kindName) }

        // Where each key sits in the header, for messages (first occurrence of the quoted key).
        let text = String(decoding: header, as: UTF8.self)
        func offset(of key: String) -> Int {
            guard let range = text.utf8.firstRange(of: Array("\"\(key)\"".utf8)) else { return lengthFieldSize }
            return lengthFieldSize + text.utf8.distance(from: text.utf8.startIndex, to: range.lowerBound)
        }

        var metadata: [(key: String, value: String)]?
        var entries: [Entry] = []
        entries.reserveCapacity(object.count)
        for (name, value) in object.members {
            if name == "__metadata__" {
                guard case .object(let fields) = value else { throw .metadataNotObject(offset: offset(of: name)) }
                metadata = try fields.members.map { (key, value) throws(SafetensorsError) in
                    guard case .string(let s) = value else { throw .metadataValueNotString(key: key, offset: offset(of: key)) }
                    return (key, s)
                }
                continue
            }
            entries.append(try parseEntry(name: name, value: value, offset: offset(of: name)))
        }

        // Validate the layout in data order (tensor.rs, Metadata::validate).
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expectedBegin = 0
        for entry in entries {
            let at = dataStart + entry.begin
            guard entry.end >= entry.begin else {
                throw .endBeforeBegin(tensor: entry.name, begin: entry.begin, end: entry.end, offset: at)
            }
            if entry.begin > expectedBegin {
                throw .gapBeforeTensor(tensor: entry.name, expectedBegin: expectedBegin, begin: entry.begin, offset: at)
            }
            if entry.begin < expectedBegin {
                throw .overlappingTensor(tensor: entry.name, expectedBegin: expectedBegin, begin: entry.begin, offset: at)
            }
            guard let elements = checkedProduct(entry.shape) else { throw .shapeOverflow(tensor: entry.name, offset: offset(of: entry.name)) }
            let (bits, overflow) = elements.multipliedReportingOverflow(by: entry.dtype.bitSize)
            guard !overflow else { throw .shapeOverflow(tensor: entry.name, offset: offset(of: entry.name)) }
            guard bits % 8 == 0 else { throw .misalignedSubByte(tensor: entry.name, offset: offset(of: entry.name)) }
            guard entry.end - entry.begin == bits / 8 else {
                throw .sizeMismatch(tensor: entry.name, expectedBytes: bits / 8, declaredBytes: entry.end - entry.begin, offset: at)
            }
            expectedBegin = entry.end
        }
        let (expectedSize, overflow) = dataStart.addingReportingOverflow(expectedBegin)
        if overflow || expectedSize > fileSize { throw .truncatedData(expectedSize: overflow ? Int.max : expectedSize, fileSize: fileSize) }
        if expectedSize < fileSize { throw .trailingBytes(expectedSize: expectedSize, fileSize: fileSize) }
        return Header(metadata: metadata, entries: entries, dataStart: dataStart)
    }

    private static func parseEntry(name: String, value: JSONValue, offset: Int) throws(SafetensorsError) -> Entry {
        guard case .object(let fields) = value else {
            throw .invalidEntry(tensor: name, reason: "entry is a JSON \(value.kindName), expected an object", offset: offset)
        }
        guard let dtypeValue = fields["dtype"] else { throw .invalidEntry(tensor: name, reason: "missing 'dtype'", offset: offset) }
        guard let shapeValue = fields["shape"] else { throw .invalidEntry(tensor: name, reason: "missing 'shape'", offset: offset) }
        guard let offsetsValue = fields["data_offsets"] else {
            throw .invalidEntry(tensor: name, reason: "missing 'data_offsets'", offset: offset)
        }
        guard case .string(let dtypeName) = dtypeValue else {
            throw .invalidEntry(tensor: name, reason: "'dtype' is a JSON \(dtypeValue.kindName), expected a string", offset: offset)
        }
        guard let dtype = DType(safetensorsName: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName, offset: offset) }
        guard case .array(let dims) = shapeValue else { throw .invalidShape(tensor: name, offset: offset) }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let d) = dim, d >= 0, let size = Int(exactly: d) else { throw .invalidShape(tensor: name, offset: offset) }
            shape.append(size)
        }
        guard case .array(let bounds) = offsetsValue, bounds.count == 2,
            case .int(let begin) = bounds[0], case .int(let end) = bounds[1], begin >= 0, end >= 0
        else { throw .invalidDataOffsets(tensor: name, offset: offset) }
        return Entry(name: name, dtype: dtype, shape: shape, begin: Int(begin), end: Int(end))
    }

    public static func checkedProduct(_ dims: [Int]) -> Int? {
        var product = 1
        for d in dims {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            product = p
        }
        return product
    }

    private static func jsonErrorOffset(_ error: JSONError) -> Int {
        switch error {
        case .syntax(let o, _), .truncated(let o), .trailingCharacters(let o), .tooDeep(let o), .duplicateKey(_, let o),
            .integerOutOfRange(_, let o), .nonFiniteNumber(let o), .invalidUTF8(let o):
            o
        case .tooLarge: 0
        }
    }

    /// Reads the header of a mapped file (with pread) and returns zero-copy views of its tensors.
    public static func read(_ file: MappedFile) throws -> TensorArchive {
        let header = try parseHeader(fileSize: file.size) { offset, count in try file.read(offset: offset, count: count) }
        let tensors = header.entries.map { entry in
            // In bounds: validation proved dataStart + end ≤ file size.
            let view = file.view(offset: header.dataStart + entry.begin, count: entry.end - entry.begin)!
            return ArchiveTensor(
                name: entry.name, dtype: entry.dtype, shape: entry.shape, bytes: TensorBytes(view: view, in: file),
                file: file.path, offset: header.dataStart + entry.begin)
        }
        return TensorArchive(format: .safetensors, files: [file.path], metadata: header.metadata ?? [], tensors: tensors)
    }

    public static func read(path: String) throws -> TensorArchive {
        try read(MappedFile(path: path))
    }
}

// MARK: - Writing

extension Safetensors {
    /// A tensor to write: its bytes as `sourceDType`, stored as `dtype` (converted through
    /// `Float` when the two differ).
    public struct OutputTensor: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var source: TensorBytes
        public var sourceDType: DType

        public init(name: String, dtype: DType, shape: [Int], source: TensorBytes, sourceDType: DType) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.source = source
            self.sourceDType = sourceDType
        }

        /// Float32 values, copied, written as `dtype` (f32 unless given): the tensors lsrconv
        /// computes (adapter factors, ΔW, edited weights, optimiser state).
        public init(name: String, shape: [Int], float32 values: UnsafeBufferPointer<Float>, as dtype: DType = .f32) {
            let bytes = [UInt8](UnsafeRawBufferPointer(values))
            self.init(name: name, dtype: dtype, shape: shape, source: TensorBytes(owning: bytes), sourceDType: .f32)
        }

        public init(_ tensor: ArchiveTensor, as dtype: DType? = nil) {
            self.init(name: tensor.name, dtype: dtype ?? tensor.dtype, shape: tensor.shape, source: tensor.bytes, sourceDType: tensor.dtype)
        }

        public var byteCount: Int { dtype.byteCount(elements: Safetensors.checkedProduct(shape) ?? 0) ?? 0 }
    }

    /// The header bytes (length field + space-padded JSON) and the tensors in data order, as
    /// the reference writer lays them out: sorted by dtype descending (so every tensor stays
    /// aligned), then name; offsets contiguous; `__metadata__` first with keys sorted.
    public static func layout(_ tensors: [OutputTensor], metadata: [(key: String, value: String)]?) -> (header: [UInt8], order: [OutputTensor]) {
        let order = tensors.sorted { $0.dtype != $1.dtype ? $0.dtype > $1.dtype : $0.name < $1.name }
        var object = JSONObject()
        if let metadata {
            var fields = JSONObject()
            for (k, v) in metadata { fields[k] = .string(v) }
            object["__metadata__"] = .object(fields)
        }
        var offset = 0
        for tensor in order {
            let n = tensor.byteCount
            object[tensor.name] = [
                "dtype": .string(tensor.dtype.safetensorsName),
                "shape": .array(tensor.shape.map { JSONValue($0) }),
                "data_offsets": [JSONValue(offset), JSONValue(offset + n)],
            ]
            offset += n
        }
        var json = Array(JSON.serialize(.object(object), style: .compact).utf8)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var header = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        header += json
        return (header, order)
    }

    /// Writes a safetensors file durably (temporary sibling, fsync, rename). Returns its size.
    @discardableResult
    public static func write(_ tensors: [OutputTensor], metadata: [(key: String, value: String)]?, to path: String) throws -> Int {
        var seen = Set<String>()
        for t in tensors where !seen.insert(t.name).inserted {
            throw SafetensorsError.duplicateTensor(t.name, offset: 0)
        }
        let (header, order) = layout(tensors, metadata: metadata)
        return try DurableFile.write(to: path) { sink in
            try sink.write(header)
            for tensor in order {
                if tensor.dtype == tensor.sourceDType {
                    try sink.write(tensor.source.buffer)
                } else {
                    try writeConverted(tensor, to: sink)
                }
            }
        }
    }

    /// Converts in chunks so memory stays bounded by the chunk, not by the tensor.
    private static func writeConverted(_ tensor: OutputTensor, to sink: DurableFile.Sink) throws {
        let chunk = 1 << 20
        let elements = checkedProduct(tensor.shape) ?? 0
        let inSize = tensor.sourceDType.bitSize / 8
        let outSize = tensor.dtype.bitSize / 8
        var floats = [Float](repeating: 0, count: min(chunk, max(elements, 1)))
        var out = [UInt8](repeating: 0, count: floats.count * outSize)
        var start = 0
        while start < elements {
            let n = min(chunk, elements - start)
            let source = UnsafeRawBufferPointer(rebasing: tensor.source.buffer[(start * inSize)..<((start + n) * inSize)])
            try floats.withUnsafeMutableBufferPointer { f in
                try DTypeConversion.toFloat(source, dtype: tensor.sourceDType, into: UnsafeMutableBufferPointer(rebasing: f[0..<n]))
                try out.withUnsafeMutableBytes { o in
                    try DTypeConversion.fromFloat(
                        UnsafeBufferPointer(rebasing: f[0..<n]), to: tensor.dtype,
                        into: UnsafeMutableRawBufferPointer(rebasing: o[0..<(n * outSize)]))
                }
            }
            try out.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<(n * outSize)])) }
            start += n
        }
    }
}
