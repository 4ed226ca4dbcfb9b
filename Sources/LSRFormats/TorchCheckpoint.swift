/// PyTorch checkpoints (`torch.save`) read without Python: the zip format (torch ≥ 1.6) and the
/// legacy format of consecutive pickles (torch/serialization.py `_save`, `_legacy_save`,
/// `_load`, `_legacy_load`). The pickle is run by the restricted `Pickle` machine; tensors are
/// recognised from a fixed table of torch rebuild functions (torch/_utils.py, torch/_tensor.py)
/// and checked against the bytes actually stored (SECURITY.md rule 3). Everything else in the
/// pickle stays inert data.
///
/// What is read:
/// - the state dict at the top level, or under "state_dict", "model" or "module" (the first
///   that is a dict whose values are all tensors). A non-tensor value in the place where the
///   state dict is expected is an error, never skipped: dropping weights silently is worse.
/// - the other top-level entries (fairseq's `args` Namespace, `cfg`, counters) as inert JSON
///   in `TensorArchive.auxiliary`.
/// Stored zip entries become zero-copy views into the map (no byte is read until used);
/// deflated entries are inflated; legacy storages are views too when their elements are
/// aligned, else copied (only their counts are read up front).
public enum TorchCheckpoint {
    /// Largest pickle accepted (data.pkl, or the pickles at the head of a legacy file).
    /// A state dict's data.pkl takes about 100 bytes a tensor; 16 MiB leaves room for
    /// fairseq's optimizer state and vocabularies while refusing a 64 MiB zip bomb up front.
    public static let maxPickleSize = 16 << 20
    /// Bytes that broadcast views (stride 0, more elements than their storage) may add when
    /// materialised, over the whole checkpoint: real ones are small buffers (`expand`ed masks);
    /// a crafted one could otherwise ask for any amount of memory from a few bytes.
    public static let maxBroadcastBytes = 16 << 20
    /// Largest small text record read (byteorder, version).
    public static let maxRecordTextSize = 64
    /// Where the state dict may sit in a top-level dict, in the order tried.
    public static let stateDictKeys = ["state_dict", "model", "module"]
    /// The legacy format's magic number, 0x1950a86a20f9469cfc6c, as LONG1's little-endian bytes.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    /// The legacy format's protocol version (serialization.py PROTOCOL_VERSION).
    static let legacyProtocolVersion: Int64 = 1001
    /// First read of a legacy file's pickles; grows fourfold until they fit.
    static let legacyFirstWindow = 1 << 20

    /// A checkpoint and what was accepted with a warning.
    public struct Loaded: Sendable {
        public var archive: TensorArchive
        public var warnings: [String]
    }
}

/// Why a PyTorch checkpoint was refused. Pickle offsets (`pickleOffset`) are byte offsets in
/// the pickle (data.pkl, or the legacy file); storage keys name `data/<key>` entries.
public enum TorchCheckpointError: Error, Equatable, Sendable {
    /// A TorchScript archive (constants.pkl, code/): it holds a program, not a state dict.
    case torchScript(entry: String)
    /// Entries not under one common top folder.
    case notOneTopFolder(entry: String, folder: String)
    /// A required record (data.pkl) is missing.
    case missingRecord(String)
    /// The byteorder record is neither "little" nor "big".
    case invalidByteOrder(String)
    /// A pickle global that is not a torch rebuild function where a tensor or state dict was
    /// expected (`key`: the state dict entry, nil at the top level).
    case refusedGlobal(module: String, name: String, pickleOffset: Int, key: String?)
    /// No state dict at the top level nor under "state_dict", "model" or "module".
    case noStateDict(found: String)
    /// A value in the state dict that is not a tensor.
    case notATensor(key: String, kind: String)
    /// A state dict key that is not a string.
    case nonStringKey(kind: String)
    /// Rebuild arguments of the wrong shape or kind.
    case invalidTensor(tensor: String, reason: String, pickleOffset: Int)
    /// A storage persistent id that is malformed, of an unknown storage type, or redeclared differently.
    case invalidStorage(tensor: String, reason: String, pickleOffset: Int)
    /// A storage key that is not decimal digits.
    case invalidStorageKey(String)
    /// A storage key with no data (no `data/<key>` entry, or absent from the legacy key list).
    case missingStorage(tensor: String, key: String)
    /// The storage's declared elements × element size differ from the bytes stored.
    case storageSizeMismatch(tensor: String, key: String, declaredBytes: Int, storedBytes: Int)
    /// A tar checkpoint of the earliest torch releases (serialization.py `_legacy_load`): not read.
    case legacyTar
    /// A dtype the tensor layer cannot hold (sub-byte packed types, quantized, complex128).
    case unsupportedDType(tensor: String, dtype: String, pickleOffset: Int)
    /// A negative size, stride or storage offset.
    case negativeDimension(tensor: String, pickleOffset: Int)
    /// Sizes, strides or offsets whose products or sums overflow.
    case shapeOverflow(tensor: String, pickleOffset: Int)
    /// The tensor's last element lies past its storage: offset + Σ(size−1)·stride ≥ elements.
    case tensorOutOfBounds(tensor: String, requiredBytes: Int, storageBytes: Int)
    /// Broadcast views (more elements than their storage, stride 0) expanding beyond `maxBroadcastBytes`.
    case broadcastTooLarge(tensor: String, bytes: Int, storageBytes: Int)
    /// The legacy file's leading pickles are not magic, protocol 1001, sys_info, object, keys.
    case legacyHeader(reason: String, offset: Int)
    /// A legacy storage record that is truncated or disagrees with its declaration.
    case legacyStorage(key: String, reason: String, offset: Int)
    /// Bytes after the last legacy storage.
    case trailingBytes(offset: Int, count: Int)
}

extension TorchCheckpointError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .torchScript(let e): "TorchScript archive (entry '\(e)'): it holds a program, not a state dict; refused"
        case .notOneTopFolder(let e, let f): "zip entry '\(e)' is not under the archive's top folder '\(f)/'"
        case .missingRecord(let r): "no '\(r)' record in the checkpoint"
        case .invalidByteOrder(let b): "byteorder record says '\(b)', expected 'little' or 'big'"
        case .refusedGlobal(let m, let n, let o, let k):
            "refusing pickle global \(m).\(n) at byte \(o)\(k.map { " (state dict entry '\($0)')" } ?? ""): only torch tensor rebuild functions are read"
        case .noStateDict(let f): "no state dict found (looked at the top level and under 'state_dict', 'model', 'module'; found \(f))"
        case .notATensor(let k, let t): "state dict entry '\(k)' is a \(t), not a tensor"
        case .nonStringKey(let t): "state dict key is a \(t), not a string"
        case .invalidTensor(let t, let r, let o): "tensor '\(t)' (pickle byte \(o)): \(r)"
        case .invalidStorage(let t, let r, let o): "storage of tensor '\(t)' (pickle byte \(o)): \(r)"
        case .invalidStorageKey(let k): "storage key '\(k)' is not a decimal number"
        case .missingStorage(let t, let k): "tensor '\(t)': storage '\(k)' has no data in the checkpoint"
        case .storageSizeMismatch(let t, let k, let d, let s): "tensor '\(t)': storage '\(k)' declares \(d) bytes but \(s) are stored"
        case .legacyTar: "legacy tar checkpoint of an early torch release: not read; load and re-save it with a current torch"
        case .unsupportedDType(let t, let d, let o): "tensor '\(t)' (pickle byte \(o)) has dtype \(d), which lsrconv does not read"
        case .negativeDimension(let t, let o): "tensor '\(t)' (pickle byte \(o)) has a negative size, stride or offset"
        case .shapeOverflow(let t, let o): "tensor '\(t)' (pickle byte \(o)): size arithmetic overflows"
        case .tensorOutOfBounds(let t, let r, let s): "tensor '\(t)' needs \(r) bytes of its storage, which holds \(s)"
        case .broadcastTooLarge(let t, let b, let s):
            "tensor '\(t)' would expand to \(b) bytes from a storage of \(s): broadcast views may add at most \(TorchCheckpoint.maxBroadcastBytes) bytes in all"
        case .legacyHeader(let r, let o): "legacy torch file at byte \(o): \(r)"
        case .legacyStorage(let k, let r, let o): "legacy storage '\(k)' at byte \(o): \(r)"
        case .trailingBytes(let o, let c): "\(c) unexpected bytes after the last storage at byte \(o)"
        }
    }
}

// MARK: - Zip format

extension TorchCheckpoint {
    /// Reads either format, detected from the first bytes.
    public static func read(path: String, verifyChecksums: Bool = false) throws -> TensorArchive {
        try load(path: path, verifyChecksums: verifyChecksums).archive
    }

    public static func load(path: String, verifyChecksums: Bool = false) throws -> Loaded {
        let file = try MappedFile(path: path)
        let head = try file.read(offset: 0, count: min(4, file.size))
        if head == [0x50, 0x4B, 0x03, 0x04] { return try loadZip(file, verifyChecksums: verifyChecksums) }
        return try loadLegacy(file)
    }

    /// The zip format: `<top>/data.pkl`, `<top>/byteorder`, `<top>/data/<key>`, version records
    /// (serialization.py `_save`; caffe2/serialize/inline_container.cc names the top folder
    /// after the file, so any single name is accepted).
    /// - Parameter verifyChecksums: also CRC-check every storage (touches all the data).
    public static func loadZip(_ file: MappedFile, verifyChecksums: Bool = false) throws -> Loaded {
        let zip = try ZipArchive(file: file)
        guard let first = zip.entries.first else { throw TorchCheckpointError.missingRecord("data.pkl") }
        let top = String(first.name.prefix { $0 != "/" })
        for entry in zip.entries where !entry.name.hasPrefix(top + "/") {
            throw TorchCheckpointError.notOneTopFolder(entry: entry.name, folder: top)
        }
        // TorchScript archives share the layout but carry code: refuse before any pickle runs.
        for entry in zip.entries where entry.name == "\(top)/constants.pkl" || entry.name.hasPrefix("\(top)/code/") {
            throw TorchCheckpointError.torchScript(entry: entry.name)
        }
        guard let pickleEntry = zip["\(top)/data.pkl"] else { throw TorchCheckpointError.missingRecord("\(top)/data.pkl") }
        let pickle = try zip.contents(of: pickleEntry, limit: maxPickleSize)

        var bigEndian = false
        if let entry = zip["\(top)/byteorder"] {
            let text = String(decoding: try zip.contents(of: entry, limit: maxRecordTextSize), as: UTF8.self)
            guard text == "little" || text == "big" else { throw TorchCheckpointError.invalidByteOrder(text) }
            bigEndian = text == "big"
        }
        // Version records are CRC-checked and bounded but not interpreted.
        for name in ["\(top)/version", "\(top)/.data/version"] {
            if let entry = zip[name] { _ = try zip.contents(of: entry, limit: maxRecordTextSize) }
        }

        let root = try Pickle.parse(pickle)
        var cache: [String: StorageData] = [:]
        let archive = try buildArchive(root, format: .torchZip, file: file, bigEndian: bigEndian) { storage, tensor in
            if let cached = cache[storage.key] { return cached }
            guard let entry = zip["\(top)/data/\(storage.key)"] else {
                throw TorchCheckpointError.missingStorage(tensor: tensor, key: storage.key)
            }
            guard entry.uncompressedSize == storage.byteCount else {
                throw TorchCheckpointError.storageSizeMismatch(
                    tensor: tensor, key: storage.key, declaredBytes: storage.byteCount, storedBytes: entry.uncompressedSize)
            }
            let data: StorageData
            switch entry.compression {
            case .stored:
                if verifyChecksums { try zip.verifyChecksum(entry) }
                data = StorageData(bytes: TensorBytes(view: try zip.view(entry), in: file), mapped: true, fileOffset: entry.dataOffset)
            case .deflated:
                let bytes = try zip.contents(of: entry, limit: storage.byteCount)
                data = StorageData(bytes: TensorBytes(owning: bytes), mapped: false, fileOffset: entry.dataOffset)
            }
            cache[storage.key] = data
            return data
        }
        return Loaded(archive: archive, warnings: zip.warnings.map(\.description))
    }
}

// MARK: - Legacy format

extension TorchCheckpoint {
    /// The legacy format (serialization.py `_legacy_save`): pickles of the magic number, the
    /// protocol version 1001, sys_info, the object, and the list of storage keys; then for each
    /// key in that order an int64 little-endian element count and the raw bytes.
    public static func loadLegacy(_ file: MappedFile) throws -> Loaded {
        let (pickles, starts, dataStart) = try legacyPickles(file)
        guard case .bigInt(let magic) = pickles[0], magic == legacyMagic else {
            throw TorchCheckpointError.legacyHeader(reason: "no legacy magic number (nor a zip archive)", offset: starts[0])
        }
        guard case .int(let version) = pickles[1], version == legacyProtocolVersion else {
            throw TorchCheckpointError.legacyHeader(reason: "protocol version is not \(legacyProtocolVersion)", offset: starts[1])
        }
        guard case .dict = pickles[2], let littleEndian = pickles[2]["little_endian"] else {
            throw TorchCheckpointError.legacyHeader(reason: "sys_info is not a dict with 'little_endian'", offset: starts[2])
        }
        guard littleEndian == .bool(true) else {
            throw TorchCheckpointError.legacyHeader(reason: "written on a big-endian machine; not read", offset: starts[2])
        }
        guard case .list(let keyValues) = pickles[4] else {
            throw TorchCheckpointError.legacyHeader(reason: "the storage key list is a \(pickles[4].kindName)", offset: starts[4])
        }

        // Every storage the object declares (also those outside the state dict, whose bytes
        // must be skipped), then their data in key-list order.
        var declared: [String: StorageRef] = [:]
        try collectStorages(pickles[3], into: &declared, depth: 0)
        var data: [String: StorageData] = [:]
        var offset = dataStart
        for value in keyValues {
            guard case .string(let key) = value else {
                throw TorchCheckpointError.legacyHeader(reason: "a storage key is a \(value.kindName)", offset: starts[4])
            }
            guard data[key] == nil else { throw TorchCheckpointError.legacyStorage(key: key, reason: "listed twice", offset: offset) }
            guard let storage = declared[key] else {
                throw TorchCheckpointError.legacyStorage(key: key, reason: "never declared", offset: offset)
            }
            guard file.size - offset >= 8 else {
                throw TorchCheckpointError.legacyStorage(key: key, reason: "file ends before its size", offset: offset)
            }
            let count = Int64(bitPattern: try file.read(offset: offset, count: 8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            guard count >= 0 else {
                throw TorchCheckpointError.legacyStorage(key: key, reason: "negative element count \(count)", offset: offset)
            }
            guard count == Int64(storage.elementCount) else {
                throw TorchCheckpointError.legacyStorage(
                    key: key, reason: "\(count) elements stored, \(storage.elementCount) declared", offset: offset)
            }
            let start = offset + 8
            guard storage.byteCount <= file.size - start, let view = file.view(offset: start, count: storage.byteCount) else {
                throw TorchCheckpointError.legacyStorage(
                    key: key, reason: "\(storage.byteCount) bytes run past the end of the file", offset: offset)
            }
            data[key] = StorageData(bytes: TensorBytes(view: view, in: file), mapped: true, fileOffset: start)
            offset = start + storage.byteCount
        }
        guard offset == file.size else { throw TorchCheckpointError.trailingBytes(offset: offset, count: file.size - offset) }
        let archive = try buildArchive(pickles[3], format: .torchLegacy, file: file, bigEndian: false) { storage, tensor in
            guard let bytes = data[storage.key] else { throw TorchCheckpointError.missingStorage(tensor: tensor, key: storage.key) }
            return bytes
        }
        return Loaded(archive: archive, warnings: [])
    }

    /// Parses the five leading pickles, reading a window of the file that grows until they fit.
    private static func legacyPickles(_ file: MappedFile) throws -> (values: [PickleValue], starts: [Int], end: Int) {
        let limit = min(file.size, maxPickleSize)
        var window = min(limit, legacyFirstWindow)
        while true {
            let bytes = try file.read(offset: 0, count: window)
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(PickleError) -> ([PickleValue], [Int], Int) in
                    var values: [PickleValue] = []
                    var starts: [Int] = []
                    var position = 0
                    for _ in 0..<5 {
                        starts.append(position)
                        let (value, end) = try Pickle.parse(raw, from: position)
                        values.append(value)
                        position = end
                    }
                    return (values, starts, position)
                }
            }
            switch result {
            case .success(let parsed): return parsed
            case .failure(let error):
                // Ran out of window, not of file: read more.
                guard case .truncated = error, window < limit else { throw error }
                window = min(limit, window * 4)
            }
        }
    }

    /// Walks a value for storage persistent ids (depth bounded by the pickle's nesting limit).
    private static func collectStorages(_ value: PickleValue, into storages: inout [String: StorageRef], depth: Int) throws {
        guard depth <= Pickle.maxNestingDepth else { return }
        switch value {
        case .persistentID(let id):
            let storage = try StorageRef(id, tensor: "(legacy storage)", pickleOffset: 0)
            try record(storage, in: &storages, tensor: "(legacy storage)", pickleOffset: 0)
        case .tuple(let items), .list(let items), .set(let items), .frozenSet(let items):
            for item in items { try collectStorages(item, into: &storages, depth: depth + 1) }
        case .dict(let entries):
            for entry in entries {
                try collectStorages(entry.key, into: &storages, depth: depth + 1)
                try collectStorages(entry.value, into: &storages, depth: depth + 1)
            }
        case .object(let object):
            for item in object.args { try collectStorages(item, into: &storages, depth: depth + 1) }
            for entry in object.kwargs { try collectStorages(entry.value, into: &storages, depth: depth + 1) }
            if let state = object.state { try collectStorages(state, into: &storages, depth: depth + 1) }
        default: break
        }
    }

    /// Records a storage declaration; a key declared twice must be declared the same way
    /// (torch keeps the first, so a difference would be a parser differential).
    private static func record(_ storage: StorageRef, in storages: inout [String: StorageRef], tensor: String, pickleOffset: Int) throws {
        if let previous = storages[storage.key] {
            guard previous.dtype == storage.dtype, previous.elementCount == storage.elementCount else {
                throw TorchCheckpointError.invalidStorage(
                    tensor: tensor, reason: "storage '\(storage.key)' redeclared with another type or size", pickleOffset: pickleOffset)
            }
        } else {
            storages[storage.key] = storage
        }
    }
}

// MARK: - From the pickle to tensors

/// One storage as its persistent id declares it: ('storage', StorageClass, key, location,
/// numel[, view_metadata]) (serialization.py `persistent_id`; the sixth field is legacy's).
struct StorageRef {
    var key: String
    /// Element type of the storage class (u8 for torch.UntypedStorage, whose numel counts bytes).
    var dtype: DType
    var elementCount: Int
    var byteCount: Int

    /// Storage classes (torch/storage.py `_LegacyStorage` subclasses) and their element types.
    static let classes: [String: DType] = [
        "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "LongStorage": .i64,
        "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8, "BoolStorage": .bool,
        "ComplexFloatStorage": .c64, "UntypedStorage": .u8,
    ]

    init(_ id: PickleValue, tensor: String, pickleOffset: Int) throws {
        func fail(_ reason: String) -> TorchCheckpointError { .invalidStorage(tensor: tensor, reason: reason, pickleOffset: pickleOffset) }
        guard case .tuple(let fields) = id, fields.count == 5 || fields.count == 6 else {
            throw fail("persistent id is not a 5- or 6-tuple")
        }
        guard fields[0] == .string("storage") || fields[0] == .bytes(Array("storage".utf8)) else {
            throw fail("persistent id is not a storage")
        }
        guard case .global(let module, let name) = fields[1], ["torch", "torch.cuda", "torch.storage"].contains(module),
            let dtype = Self.classes[name], module != "torch.storage" || name == "UntypedStorage"
        else { throw fail("unknown storage type \(fields[1].kindName)") }
        guard case .string(let key) = fields[2] else { throw fail("storage key is a \(fields[2].kindName)") }
        guard !key.isEmpty, key.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw TorchCheckpointError.invalidStorageKey(key) }
        guard case .int(let numel) = fields[4], numel >= 0, let count = Int(exactly: numel),
            let bytes = dtype.byteCount(elements: count)
        else { throw fail("element count \(fields[4]) is not a non-negative integer that fits") }
        if fields.count == 6 {
            guard fields[5] == .none else { throw fail("storage views (legacy view_metadata) are not read") }
        }
        self.key = key
        self.dtype = dtype
        self.elementCount = count
        self.byteCount = bytes
    }
}

/// A storage's bytes (a view into the map, or inflated and owned) and where they start in the file.
struct StorageData {
    var bytes: TensorBytes
    var mapped: Bool
    var fileOffset: Int
}

/// A tensor as its rebuild call describes it (torch/_utils.py `_rebuild_tensor_v2`).
private struct TensorSpec {
    var name: String
    var storage: StorageRef
    var dtype: DType
    var storageOffset: Int
    var shape: [Int]
    var stride: [Int]
    var pickleOffset: Int
}

extension TorchCheckpoint {
    /// Rebuild functions read as tensors (torch/_utils.py, torch/_tensor.py).
    static let tensorRebuilds: Set<String> = [
        "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
    ]

    static func isTensor(_ value: PickleValue) -> Bool {
        if case .object(let o) = value, let name = o.qualifiedName { return tensorRebuilds.contains(name) }
        return false
    }

    /// torch dtype globals (`torch.float32`, ...) by name, aliases included; sub-byte types excluded.
    static let dtypes: [String: DType] = {
        var table: [String: DType] = [:]
        for dtype in DType.allCases where dtype.bitSize % 8 == 0 { table[dtype.torchName] = dtype }
        for (alias, dtype) in [
            ("float", DType.f32), ("double", .f64), ("half", .f16), ("long", .i64), ("int", .i32), ("short", .i16), ("cfloat", .c64),
        ] {
            table[alias] = dtype
        }
        return table
    }()

    /// Finds the state dict, builds its tensors through `storageData`, renders the rest as JSON.
    static func buildArchive(
        _ root: PickleValue, format: ArchiveFormat, file: MappedFile, bigEndian: Bool,
        storageData: (StorageRef, String) throws -> StorageData
    ) throws -> TensorArchive {
        let (stateKey, entries) = try locateStateDict(root)
        var declared: [String: StorageRef] = [:]
        var tensors: [ArchiveTensor] = []
        tensors.reserveCapacity(entries.count)
        var broadcastBudget = maxBroadcastBytes
        for entry in entries {
            guard case .string(let name) = entry.key else { throw TorchCheckpointError.nonStringKey(kind: entry.key.kindName) }
            let spec = try tensorSpec(entry.value, name: name)
            try record(spec.storage, in: &declared, tensor: name, pickleOffset: spec.pickleOffset)
            let data = try storageData(spec.storage, name)
            tensors.append(try materialise(spec, data: data, file: file, bigEndian: bigEndian, broadcastBudget: &broadcastBudget))
        }
        var auxiliary = JSONObject()
        if let stateKey, case .dict(let top) = root {
            for entry in top where entry.key != .string(stateKey) {
                guard case .string(let key) = entry.key else { continue }
                auxiliary[key] = json(entry.value, depth: 1)
            }
        }
        return TensorArchive(format: format, files: [file.path], metadata: [], tensors: tensors, auxiliary: auxiliary)
    }

    /// The state dict's entries and the top-level key it was found under (nil: the top level).
    static func locateStateDict(_ root: PickleValue) throws -> (key: String?, entries: [PickleDictEntry]) {
        func allTensors(_ value: PickleValue?) -> [PickleDictEntry]? {
            guard case .dict(let entries)? = value, entries.allSatisfy({ isTensor($0.value) }) else { return nil }
            return entries
        }
        if let entries = allTensors(root) { return (nil, entries) }
        for key in stateDictKeys {
            if let entries = allTensors(root[key]) { return (key, entries) }
        }
        // Nothing fits: explain what is where the state dict was expected.
        let expectedKey = stateDictKeys.first { root[$0] != nil }
        let expected = expectedKey.flatMap { root[$0] } ?? root
        if case .object(let o) = expected, case .global(let m, let n) = o.callable {
            throw TorchCheckpointError.refusedGlobal(module: m, name: n, pickleOffset: o.offset, key: expectedKey)
        }
        guard case .dict(let entries) = expected else { throw TorchCheckpointError.noStateDict(found: expected.kindName) }
        for entry in entries where !isTensor(entry.value) {
            guard case .string(let key) = entry.key else { throw TorchCheckpointError.nonStringKey(kind: entry.key.kindName) }
            if case .object(let o) = entry.value, case .global(let m, let n) = o.callable {
                throw TorchCheckpointError.refusedGlobal(module: m, name: n, pickleOffset: o.offset, key: key)
            }
            throw TorchCheckpointError.notATensor(key: key, kind: entry.value.kindName)
        }
        throw TorchCheckpointError.noStateDict(found: expected.kindName)
    }

    /// Reads a rebuild call. `_rebuild_parameter*` and `_rebuild_from_type_v2` wrap another
    /// call; the recursion ends because the value is a finite tree no deeper than
    /// `Pickle.maxNestingDepth`.
    private static func tensorSpec(_ value: PickleValue, name: String) throws -> TensorSpec {
        guard case .object(let o) = value, case .global(let module, let function) = o.callable else {
            throw TorchCheckpointError.notATensor(key: name, kind: value.kindName)
        }
        func fail(_ reason: String) -> TorchCheckpointError { .invalidTensor(tensor: name, reason: reason, pickleOffset: o.offset) }
        let args = o.args
        switch "\(module).\(function)" {
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            // (data, requires_grad, backward_hooks[, state])
            guard args.count == 3 || args.count == 4 else { throw fail("\(function) takes 3 or 4 arguments, got \(args.count)") }
            return try tensorSpec(args[0], name: name)
        case "torch._tensor._rebuild_from_type_v2":
            // (func, new_type, args, state): func(*args), then the subclass and its state, ignored.
            guard args.count == 4, case .tuple(let inner) = args[2] else {
                throw fail("_rebuild_from_type_v2 takes (func, type, args, state)")
            }
            let call = PickleObject(callable: args[0], args: inner, offset: o.offset)
            return try tensorSpec(.object(call), name: name)
        case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3":
            let v3 = function == "_rebuild_tensor_v3"
            // v1: (storage, offset, size, stride); v2: + requires_grad, hooks[, metadata]; v3: + dtype[, metadata].
            let allowed = function == "_rebuild_tensor" ? [4] : v3 ? [7, 8] : [6, 7]
            guard allowed.contains(args.count) else {
                throw fail("\(function) takes \(allowed.map(String.init).joined(separator: " or ")) arguments, got \(args.count)")
            }
            guard case .persistentID(let id) = args[0] else { throw fail("storage argument is a \(args[0].kindName)") }
            let storage = try StorageRef(id, tensor: name, pickleOffset: o.offset)
            var dtype = storage.dtype
            if v3 {
                guard case .global(let m, let d) = args[6], m == "torch" else { throw fail("dtype argument is a \(args[6].kindName)") }
                guard let t = dtypes[d] else {
                    throw TorchCheckpointError.unsupportedDType(tensor: name, dtype: "torch.\(d)", pickleOffset: o.offset)
                }
                dtype = t
            }
            guard case .int(let offset64) = args[1] else { throw fail("storage offset is a \(args[1].kindName)") }
            let shape = try integers(args[2], what: "size", fail: fail)
            let stride = try integers(args[3], what: "stride", fail: fail)
            guard shape.count == stride.count else { throw fail("size has \(shape.count) dimensions, stride \(stride.count)") }
            guard offset64 >= 0, shape.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
                throw TorchCheckpointError.negativeDimension(tensor: name, pickleOffset: o.offset)
            }
            guard let storageOffset = Int(exactly: offset64) else {
                throw TorchCheckpointError.shapeOverflow(tensor: name, pickleOffset: o.offset)
            }
            return TensorSpec(
                name: name, storage: storage, dtype: dtype, storageOffset: storageOffset, shape: shape, stride: stride,
                pickleOffset: o.offset)
        default:
            throw TorchCheckpointError.refusedGlobal(module: module, name: function, pickleOffset: o.offset, key: name)
        }
    }

    private static func integers(_ value: PickleValue, what: String, fail: (String) -> TorchCheckpointError) throws -> [Int] {
        guard case .tuple(let items) = value else { throw fail("\(what) is a \(value.kindName), expected a tuple") }
        return try items.map {
            guard case .int(let i) = $0, let n = Int(exactly: i) else { throw fail("\(what) holds a \($0.kindName)") }
            return n
        }
    }

    /// Checks the tensor against its storage (SECURITY.md rule 3, checked arithmetic) and returns
    /// a view when it is contiguous little-endian, else its elements gathered in C order.
    private static func materialise(
        _ spec: TensorSpec, data: StorageData, file: MappedFile, bigEndian: Bool, broadcastBudget: inout Int
    ) throws -> ArchiveTensor {
        let overflow = TorchCheckpointError.shapeOverflow(tensor: spec.name, pickleOffset: spec.pickleOffset)
        let elementSize = spec.dtype.bitSize / 8
        let storageBytes = data.bytes.count
        guard let count = Safetensors.checkedProduct(spec.shape), let byteCount = spec.dtype.byteCount(elements: count) else {
            throw overflow
        }
        // Last element index: offset + Σ(size−1)·stride; bytes needed: (last + 1) · element size.
        var last = spec.storageOffset
        if count > 0 {
            for (size, stride) in zip(spec.shape, spec.stride) {
                let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw overflow }
                last = sum
            }
        }
        guard last < Int.max else { throw overflow }
        let (end, o3) = (count > 0 ? last + 1 : spec.storageOffset).multipliedReportingOverflow(by: elementSize)
        guard !o3 else { throw overflow }
        guard end <= storageBytes else {
            throw TorchCheckpointError.tensorOutOfBounds(tensor: spec.name, requiredBytes: end, storageBytes: storageBytes)
        }

        let begin = spec.storageOffset * elementSize  // ≤ end, no overflow
        let storage = data.bytes.buffer
        var expected = 1
        var contiguous = true
        for (size, stride) in zip(spec.shape, spec.stride).reversed() where size != 1 {
            if stride != expected { contiguous = false }
            expected = expected &* size
        }
        if count == 0 || (contiguous && !bigEndian) {
            let bytes: TensorBytes
            if count == 0 {
                bytes = TensorBytes(owning: [])
            } else if data.mapped && (data.fileOffset + begin) % elementSize == 0 {
                // In place. (Legacy records and foreign zips may leave elements unaligned: those
                // are copied below into an aligned buffer, so that no reader loads misaligned.)
                bytes = TensorBytes(view: UnsafeRawBufferPointer(rebasing: storage[begin..<(begin + byteCount)]), in: file)
            } else if !data.mapped, let shared = data.bytes.slice(begin..<(begin + byteCount)) {
                // Inside an inflated (64-byte aligned, owned) storage: shared, not copied.
                bytes = shared
            } else {
                bytes = TensorBytes(owning: Array(storage[begin..<(begin + byteCount)]))
            }
            return ArchiveTensor(
                name: spec.name, dtype: spec.dtype, shape: spec.shape, bytes: bytes, file: file.path, offset: data.fileOffset + begin)
        }
        if byteCount > storageBytes {
            broadcastBudget -= byteCount - storageBytes
            guard broadcastBudget >= 0 else {
                throw TorchCheckpointError.broadcastTooLarge(tensor: spec.name, bytes: byteCount, storageBytes: storageBytes)
            }
        }
        var out = [UInt8](repeating: 0, count: byteCount)
        out.withUnsafeMutableBytes { destination in
            gather(
                from: storage, into: destination, shape: spec.shape, stride: spec.stride, offset: spec.storageOffset,
                elementSize: elementSize)
            if bigEndian { swapBytes(destination, unit: spec.dtype == .c64 ? 4 : elementSize) }
        }
        return ArchiveTensor(
            name: spec.name, dtype: spec.dtype, shape: spec.shape, bytes: TensorBytes(owning: out), file: file.path,
            offset: data.fileOffset + begin)
    }

    /// Copies the strided elements into C order (indices already bounds-checked).
    private static func gather(
        from source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, shape: [Int], stride: [Int], offset: Int,
        elementSize: Int
    ) {
        let rank = shape.count
        guard rank > 0 else {
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[(offset * elementSize)..<((offset + 1) * elementSize)]))
            return
        }
        var index = [Int](repeating: 0, count: rank)
        var written = 0
        let innerSize = shape[rank - 1]
        let innerStride = stride[rank - 1]
        while written < destination.count {
            var base = offset
            for d in 0..<(rank - 1) { base += index[d] * stride[d] }
            for i in 0..<innerSize {
                let from = (base + i * innerStride) * elementSize
                (destination.baseAddress! + written).copyMemory(from: source.baseAddress! + from, byteCount: elementSize)
                written += elementSize
            }
            // Odometer over the outer dimensions.
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }

    /// Reverses each `unit`-byte group (byteorder "big": torch swaps per element on load).
    private static func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, unit: Int) {
        guard unit > 1 else { return }
        var i = 0
        while i + unit <= buffer.count {
            var a = i
            var b = i + unit - 1
            while a < b {
                buffer.swapAt(a, b)
                a += 1
                b -= 1
            }
            i += unit
        }
    }

    /// Inert JSON for auxiliary data: argparse.Namespace as the object of its attributes,
    /// containers as arrays/objects, other objects as "<object module.name>".
    static func json(_ value: PickleValue, depth: Int) -> JSONValue {
        guard depth < JSON.maxDepth else { return .string("<nested too deep>") }
        switch value {
        case .none: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let b): return .string("<int of \(b.count) bytes>")
        case .float(let d): return d.isFinite ? .double(d) : .string(d.isNaN ? "nan" : d > 0 ? "inf" : "-inf")
        case .string(let s): return .string(s)
        case .bytes(let b): return .string("<bytes of length \(b.count)>")
        case .tuple(let items), .list(let items), .set(let items), .frozenSet(let items):
            return .array(items.map { json($0, depth: depth + 1) })
        case .dict(let entries):
            var object = JSONObject()
            for entry in entries {
                let key: String
                switch entry.key {
                case .string(let s): key = s
                case .int(let i): key = String(i)
                default: key = "<\(entry.key.kindName)>"
                }
                object[key] = json(entry.value, depth: depth + 1)
            }
            return .object(object)
        case .global(let m, let n): return .string("<global \(m).\(n)>")
        case .object(let o):
            if o.qualifiedName == "argparse.Namespace" { return json(o.state ?? .dict([]), depth: depth) }
            return .string("<object \(o.qualifiedName ?? "?")>")
        case .persistentID: return .string("<persistent id>")
        }
    }
}
