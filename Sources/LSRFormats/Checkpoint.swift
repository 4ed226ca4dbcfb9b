/// Finding and opening a checkpoint: the format is detected from the bytes, never the name.
public enum CheckpointError: Error, Equatable, Sendable {
    /// The first bytes match no format lsrconv reads.
    case unknownFormat(firstBytes: String)
    /// A directory with no checkpoint file lsrconv recognises.
    case noCheckpointInDirectory(entries: [String])
    /// A format that is recognised but not read by this build.
    case unsupportedFormat(ArchiveFormat)
    /// An index file whose name does not say which kind of shards it lists.
    case unknownIndexKind(name: String)
}

extension CheckpointError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknownFormat(let b):
            "not a checkpoint lsrconv reads (first bytes at offset 0: \(b)); expected safetensors, a PyTorch .bin/.pt or an .index.json"
        case .noCheckpointInDirectory(let e):
            "no checkpoint found (looked for *.safetensors, *.safetensors.index.json, *.bin, *.pt; found: \(e.isEmpty ? "nothing" : e.prefix(8).joined(separator: ", ")))"
        case .unsupportedFormat(let f): "\(f.rawValue) checkpoints are recognised but not read yet"
        case .unknownIndexKind(let n): "index file \(n) does not name its shard format (expected *.safetensors.index.json or *.bin.index.json)"
        }
    }
}

public enum Checkpoint {
    /// What a path holds, from its bytes (and, for directories, the files in them).
    public enum Kind: Equatable, Sendable {
        case safetensors
        case safetensorsIndex
        case torchZip
        case torchLegacy
        case torchIndex
    }

    /// Resolves a file or directory to the checkpoint file to read and its kind.
    public static func locate(_ path: String) throws -> (path: String, kind: Kind) {
        if FileSystem.isDirectory(path) {
            let entries = try FileSystem.contents(of: path)
            // Preferred names first (transformers' own), then any single candidate.
            let preferred = [
                "model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json", "pytorch_model.bin", "model.pt",
            ]
            var candidates = preferred.filter(entries.contains)
            if candidates.isEmpty {
                candidates = entries.filter {
                    !$0.hasPrefix(".") && ($0.hasSuffix(".index.json") || $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".pt"))
                }
            }
            guard let first = candidates.first else {
                throw FileContextError(path: path, underlying: CheckpointError.noCheckpointInDirectory(entries: entries))
            }
            let file = FileSystem.join(path, first)
            return (file, try detect(file))
        }
        return (path, try detect(path))
    }

    /// Detects the format of one file from its first bytes.
    public static func detect(_ path: String) throws -> Kind {
        let file = try MappedFile(path: path)
        let head = try file.read(offset: 0, count: min(16, file.size))
        do {
            return try detect(head: head, fileSize: file.size, name: FileSystem.baseName(path))
        } catch {
            // A tar checkpoint of the earliest torch releases ("ustar" at offset 257 of the first
            // header): refused by name rather than as unknown bytes.
            if case .unknownFormat = error, file.size >= 262, (try? file.read(offset: 257, count: 5)) == Array("ustar".utf8) {
                throw FileContextError(path: path, underlying: TorchCheckpointError.legacyTar)
            }
            throw FileContextError(path: path, underlying: error)
        }
    }

    static func detect(head: [UInt8], fileSize: Int, name: String) throws(CheckpointError) -> Kind {
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .torchZip }
        // Legacy torch.save: pickle PROTO 2, then LONG1 of the 10-byte magic 0x1950a86a20f9469cfc6c.
        if head.starts(with: [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) {
            return .torchLegacy
        }
        if let first = head.first(where: { !JSON.isJSONWhitespace($0) }), first == UInt8(ascii: "{") {
            if name.hasSuffix(".safetensors.index.json") { return .safetensorsIndex }
            if name.hasSuffix(".bin.index.json") || name.hasSuffix(".pt.index.json") { return .torchIndex }
            throw .unknownIndexKind(name: name)
        }
        // Safetensors: the header's JSON object starts right at offset 8 (padding only trails it).
        if head.count >= 9, head[8] == UInt8(ascii: "{") { return .safetensors }
        // Bytes that fit no format but a file named *.safetensors: let that reader say exactly
        // what is wrong (too small, header past the end, not an object, ...).
        if name.hasSuffix(".safetensors") { return .safetensors }
        throw .unknownFormat(firstBytes: head.prefix(8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " "))
    }

    /// Opens any checkpoint lsrconv reads as a `TensorArchive`. Only headers are read; tensor
    /// data stays in the file until used.
    /// - Parameter verifyChecksums: also CRC-check the storages of PyTorch zip checkpoints,
    ///   which reads all their data (headers and data.pkl are always checked).
    public static func open(_ path: String, verifyChecksums: Bool = false) throws -> TensorArchive {
        let (file, kind) = try locate(path)
        func wrap<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let error as FileContextError { throw error } catch {
                throw FileContextError(path: file, underlying: error)
            }
        }
        switch kind {
        case .safetensors:
            return try wrap { try Safetensors.read(path: file) }
        case .safetensorsIndex:
            return try ShardIndex.read(indexPath: file, format: .safetensorsSharded) { shard in
                guard try detect(shard) == .safetensors else {
                    throw FileContextError(path: shard, underlying: CheckpointError.unknownFormat(firstBytes: "not safetensors"))
                }
                return try Safetensors.read(path: shard)
            }
        case .torchZip:
            return try wrap { try TorchCheckpoint.loadZip(MappedFile(path: file), verifyChecksums: verifyChecksums).archive }
        case .torchLegacy:
            return try wrap { try TorchCheckpoint.loadLegacy(MappedFile(path: file)).archive }
        case .torchIndex:
            return try ShardIndex.read(indexPath: file, format: .torchSharded) { shard in
                switch try detect(shard) {
                case .torchZip: return try TorchCheckpoint.loadZip(MappedFile(path: shard), verifyChecksums: verifyChecksums).archive
                case .torchLegacy: return try TorchCheckpoint.loadLegacy(MappedFile(path: shard)).archive
                default: throw FileContextError(path: shard, underlying: CheckpointError.unknownFormat(firstBytes: "not a PyTorch checkpoint"))
                }
            }
        }
    }
}
