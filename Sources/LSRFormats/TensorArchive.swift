/// Raw bytes of one tensor: a view into a memory-mapped file (zero-copy) or an owned buffer.
/// Whatever backs the view is retained by `owner` for as long as the bytes are in use.
public struct TensorBytes: @unchecked Sendable {
    private let owner: AnyObject?
    public let buffer: UnsafeRawBufferPointer

    /// A view into `file`; the caller has bounds-checked the range.
    public init(view buffer: UnsafeRawBufferPointer, in file: MappedFile) {
        self.owner = file
        self.buffer = buffer
    }

    /// Bytes owned by this value (converted or inflated data).
    public init(owning bytes: [UInt8]) {
        let box = OwnedBytes(bytes)
        self.owner = box
        self.buffer = box.buffer
    }

    public var count: Int { buffer.count }

    /// Bytes `range` of these bytes, kept alive by the same owner (a mapped file or an owned
    /// buffer): zero-copy sub-views such as the query/key/value thirds of fairseq's fused
    /// `in_proj_weight`. Nil when the range leaves the bytes.
    public func slice(_ range: Range<Int>) -> TensorBytes? {
        guard range.lowerBound >= 0, range.upperBound <= buffer.count else { return nil }
        return TensorBytes(owner: owner, buffer: UnsafeRawBufferPointer(rebasing: buffer[range]))
    }

    private init(owner: AnyObject?, buffer: UnsafeRawBufferPointer) {
        self.owner = owner
        self.buffer = buffer
    }
}

private final class OwnedBytes {
    let storage: UnsafeMutableRawBufferPointer
    init(_ bytes: [UInt8]) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
        self.storage = storage
        count = bytes.count
    }
    let count: Int
    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }
    deinit { storage.deallocate() }
}

/// One named tensor of a checkpoint: dtype, shape and raw little-endian C-order bytes.
public struct ArchiveTensor: Sendable {
    public var name: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: TensorBytes
    /// The file the bytes come from and their offset in it (for error messages).
    public let file: String
    public let offset: Int

    public init(name: String, dtype: DType, shape: [Int], bytes: TensorBytes, file: String, offset: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    /// Number of elements (the reader has checked the product).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// The on-disk formats lsrconv reads, detected from the bytes.
public enum ArchiveFormat: String, Sendable {
    case safetensors = "safetensors"
    case safetensorsSharded = "safetensors (sharded)"
    case torchZip = "pytorch zip"
    case torchLegacy = "pytorch legacy"
    case torchSharded = "pytorch zip (sharded)"
}

/// Named raw tensors read from a checkpoint, in file order. Every reader produces one.
public struct TensorArchive: Sendable {
    public var format: ArchiveFormat
    /// The files the tensors were read from (one, or every shard).
    public var files: [String]
    /// String metadata (`__metadata__` of safetensors; merged across shards).
    public var metadata: [(key: String, value: String)]
    public var tensors: [ArchiveTensor]
    /// Non-tensor data found beside the state dict in a pickled checkpoint (fairseq's `args`
    /// Namespace or `cfg`, an epoch counter, ...), rendered as inert JSON; empty for safetensors.
    public var auxiliary: JSONObject

    public init(
        format: ArchiveFormat, files: [String], metadata: [(key: String, value: String)], tensors: [ArchiveTensor],
        auxiliary: JSONObject = [:]
    ) {
        self.format = format
        self.files = files
        self.metadata = metadata
        self.tensors = tensors
        self.auxiliary = auxiliary
    }

    public subscript(name: String) -> ArchiveTensor? { tensors.first { $0.name == name } }

    public var names: [String] { tensors.map(\.name) }

    /// Total number of elements over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// Total bytes of tensor data.
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.bytes.count } }
}
