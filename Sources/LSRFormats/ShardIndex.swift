/// Sharded checkpoints: `*.index.json` files mapping tensor names to shard files, as written by
/// transformers' save_pretrained (model.safetensors.index.json, pytorch_model.bin.index.json):
/// {"metadata": {"total_size": bytes, ...}, "weight_map": {tensor: "model-00001-of-00003.safetensors"}}.
public enum ShardIndexError: Error, Equatable, Sendable {
    /// The index is not the expected JSON shape; `pointer` is the JSON pointer of the culprit.
    case invalidIndex(pointer: String, reason: String)
    /// A shard name that is not a plain file name in the same directory (SECURITY.md rule 5).
    case unsafeShardName(String)
    /// A tensor present in a shard that the index puts elsewhere or does not list.
    case tensorNotInIndex(tensor: String, shard: String)
    case tensorInWrongShard(tensor: String, shard: String, indexed: String)
    /// A tensor listed in the index but absent from its shard.
    case missingTensor(tensor: String, shard: String)
    /// The same tensor in two shards.
    case duplicateTensor(tensor: String, shards: [String])
}

extension ShardIndexError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidIndex(let p, let r): "invalid index at \(p.isEmpty ? "/" : p): \(r)"
        case .unsafeShardName(let n): "shard name '\(n)' is not a plain file name in the index's directory"
        case .tensorNotInIndex(let t, let s): "tensor '\(t)' in shard \(s) is not listed in the index"
        case .tensorInWrongShard(let t, let s, let i): "tensor '\(t)' found in shard \(s) but the index places it in \(i)"
        case .missingTensor(let t, let s): "tensor '\(t)' listed in the index is missing from shard \(s)"
        case .duplicateTensor(let t, let s): "tensor '\(t)' appears in several shards: \(s.joined(separator: ", "))"
        }
    }
}

/// An error that happened while reading `path`: the command layer prints it as "path: message".
public struct FileContextError: Error, CustomStringConvertible {
    public let path: String
    public let underlying: any Error
    public init(path: String, underlying: any Error) {
        self.path = path
        self.underlying = underlying
    }
    public var description: String { "\(path): \(underlying)" }
}

public enum ShardIndex {
    /// A parsed index: metadata (kept as JSON) and the tensor → shard map in file order.
    public struct Index: Sendable {
        public var metadata: JSONObject
        public var weightMap: [(tensor: String, shard: String)]
        /// Shard files in order of first appearance.
        public var shards: [String] {
            var seen = Set<String>()
            return weightMap.compactMap { seen.insert($0.shard).inserted ? $0.shard : nil }
        }
    }

    /// Largest index file accepted; real ones are a few hundred kilobytes.
    public static let maxIndexSize = 64 << 20

    public static func parse(_ bytes: [UInt8]) throws -> Index {
        let json = try JSON.parse(bytes)
        guard case .object(let root) = json else { throw ShardIndexError.invalidIndex(pointer: "", reason: "not a JSON object") }
        var metadata = JSONObject()
        if let value = root["metadata"] {
            guard case .object(let m) = value else { throw ShardIndexError.invalidIndex(pointer: "/metadata", reason: "not an object") }
            metadata = m
        }
        guard case .object(let map)? = root["weight_map"] else {
            throw ShardIndexError.invalidIndex(pointer: "/weight_map", reason: "missing or not an object")
        }
        var weightMap: [(String, String)] = []
        for (tensor, value) in map.members {
            guard case .string(let shard) = value else {
                throw ShardIndexError.invalidIndex(pointer: "/weight_map/\(JSONPointer.escape(tensor))", reason: "not a string")
            }
            guard FileSystem.isPlainFileName(shard) else { throw ShardIndexError.unsafeShardName(shard) }
            weightMap.append((tensor, shard))
        }
        return Index(metadata: metadata, weightMap: weightMap)
    }

    /// Reads an index and every shard it names with `readShard`, checking that the shards hold
    /// exactly the tensors the index assigns them.
    public static func read(
        indexPath: String, format: ArchiveFormat, readShard: (String) throws -> TensorArchive
    ) throws -> TensorArchive {
        let file = try MappedFile(path: indexPath)
        guard file.size <= maxIndexSize else {
            throw FileContextError(path: indexPath, underlying: JSONError.tooLarge(bytes: file.size, limit: maxIndexSize))
        }
        let index: Index
        do { index = try parse(file.read(offset: 0, count: file.size)) } catch { throw FileContextError(path: indexPath, underlying: error) }
        let directory = FileSystem.directoryName(indexPath)
        var placement: [String: String] = [:]
        for (tensor, shard) in index.weightMap { placement[tensor] = shard }

        var tensors: [ArchiveTensor] = []
        var files: [String] = []
        var metadata: [(key: String, value: String)] = []
        var foundIn: [String: String] = [:]
        for shard in index.shards {
            let path = FileSystem.join(directory, shard)
            let archive: TensorArchive
            do { archive = try readShard(path) } catch let error as FileContextError { throw error } catch {
                throw FileContextError(path: path, underlying: error)
            }
            files.append(path)
            for (k, v) in archive.metadata where !metadata.contains(where: { $0.key == k }) { metadata.append((k, v)) }
            for tensor in archive.tensors {
                if let other = foundIn[tensor.name] {
                    throw FileContextError(path: indexPath, underlying: ShardIndexError.duplicateTensor(tensor: tensor.name, shards: [other, shard]))
                }
                guard let indexed = placement[tensor.name] else {
                    throw FileContextError(path: indexPath, underlying: ShardIndexError.tensorNotInIndex(tensor: tensor.name, shard: shard))
                }
                guard indexed == shard else {
                    throw FileContextError(
                        path: indexPath, underlying: ShardIndexError.tensorInWrongShard(tensor: tensor.name, shard: shard, indexed: indexed))
                }
                foundIn[tensor.name] = shard
                tensors.append(tensor)
            }
        }
        for (tensor, shard) in index.weightMap where foundIn[tensor] == nil {
            throw FileContextError(path: indexPath, underlying: ShardIndexError.missingTensor(tensor: tensor, shard: shard))
        }
        return TensorArchive(format: format, files: files, metadata: metadata, tensors: tensors)
    }

    /// Groups tensors (by byte size, in the given order) into shards of at most `maxShardSize`
    /// bytes, as transformers does: a tensor that does not fit starts a new shard, and a tensor
    /// larger than the limit gets a shard of its own.
    public static func plan(sizes: [Int], maxShardSize: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var current: [Int] = []
        var currentSize = 0
        for (i, size) in sizes.enumerated() {
            if !current.isEmpty && currentSize + size > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(i)
            currentSize += size
        }
        if !current.isEmpty { shards.append(current) }
        return shards
    }

    /// transformers' shard file name: model-00001-of-00003.safetensors.
    public static func shardName(prefix: String, index: Int, count: Int, extension ext: String) -> String {
        func pad(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }
        return "\(prefix)-\(pad(index + 1))-of-\(pad(count)).\(ext)"
    }

    /// The index document as transformers 5 writes it: metadata (total_parameters, total_size)
    /// and the weight map, keys sorted.
    public static func document(totalSize: Int, totalParameters: Int, weightMap: [(tensor: String, shard: String)]) -> JSONValue {
        var map = JSONObject()
        for (tensor, shard) in weightMap { map[tensor] = .string(shard) }
        return [
            "metadata": ["total_parameters": JSONValue(totalParameters), "total_size": JSONValue(totalSize)],
            "weight_map": .object(map.sortedByKey()),
        ]
    }
}

/// RFC 6901 JSON pointers, for naming the culprit in a JSON document.
public enum JSONPointer {
    public static func escape(_ token: String) -> String {
        var out = ""
        for c in token {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(c)
            }
        }
        return out
    }
}
