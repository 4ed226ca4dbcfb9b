import Foundation
import LSRFormats
import TestSupport
import Testing

/// Reading and writing against files made by the real producer (safetensors 0.8.0 through
/// safetensors.torch.save_file and transformers' save_pretrained; Fixtures/generate/).
@Suite struct SafetensorsFixtureTests {
    /// Every dtype the Python library writes, plus scalar and zero-size tensors: our reader sees
    /// the dtype, shape and bytes (sha256 from Python's `safetensors.deserialize`) of each.
    @Test func readsEveryDTypeLikePython() throws {
        let archive = try Safetensors.read(path: TestPaths.fixture("safetensors/all_dtypes.safetensors"))
        let manifest = try JSON.parse(readFile(TestPaths.fixture("safetensors/all_dtypes.json")))
        let expected = try #require(manifest["tensors"]?.objectValue)
        #expect(archive.tensors.count == expected.count)
        for (name, entry) in expected.members {
            let tensor = try #require(archive[name], "missing \(name)")
            #expect(tensor.dtype.rawValue == entry["dtype"]?.stringValue, "\(name)")
            #expect(tensor.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(name)")
            #expect(SHA256.hex(tensor.bytes.buffer) == entry["sha256"]?.stringValue, "\(name)")
        }
        let metadata = try #require(manifest["metadata"]?.objectValue)
        #expect(archive.metadata.map(\.key) == metadata.keys.sorted())
    }

    /// Our writer lays files out exactly as the reference writer: same order, offsets, header
    /// text and padding, so rewriting a Python-written file reproduces it byte for byte.
    @Test(arguments: ["safetensors/all_dtypes.safetensors", "tiny-roberta/model.safetensors", "tiny-roberta-bf16/model.safetensors"])
    func rewriteIsByteIdentical(_ fixture: String) throws {
        let archive = try Safetensors.read(path: TestPaths.fixture(fixture))
        let dir = TemporaryDirectory()
        let out = dir.file("copy.safetensors")
        try Safetensors.write(archive.tensors.map { Safetensors.OutputTensor($0) }, metadata: archive.metadata, to: out)
        #expect(byteDifference(out, TestPaths.fixture(fixture)) == nil)
        // Nothing else left in the directory (the temporary sibling was renamed).
        #expect(try FileSystem.contents(of: dir.path) == ["copy.safetensors"])
    }

    @Test func zeroCopyViewsPointIntoTheFile() throws {
        let file = try MappedFile(path: TestPaths.fixture("tiny-roberta/model.safetensors"))
        let archive = try Safetensors.read(file)
        let tensor = try #require(archive["roberta.embeddings.word_embeddings.weight"])
        let whole = try #require(file.view(offset: 0, count: file.size))
        #expect(tensor.bytes.buffer.baseAddress == whole.baseAddress! + tensor.offset)
        #expect(tensor.shape == [1000, 64])
    }

    @Test func shardedEqualsSingle() throws {
        let single = try Checkpoint.open(TestPaths.fixture("tiny-roberta"))
        let sharded = try Checkpoint.open(TestPaths.fixture("tiny-roberta-sharded"))
        #expect(sharded.format == .safetensorsSharded)
        #expect(sharded.files.count == 3)
        #expect(Set(single.names) == Set(sharded.names))
        for t in single.tensors {
            let s = try #require(sharded[t.name])
            #expect(s.dtype == t.dtype && s.shape == t.shape)
            #expect([UInt8](s.bytes.buffer) == [UInt8](t.bytes.buffer), "\(t.name)")
        }
    }

    @Test func shardPlanFollowsTransformers() {
        #expect(ShardIndex.plan(sizes: [4, 4, 4, 4], maxShardSize: 8) == [[0, 1], [2, 3]])
        #expect(ShardIndex.plan(sizes: [10, 1, 1], maxShardSize: 8) == [[0], [1, 2]])
        #expect(ShardIndex.plan(sizes: [], maxShardSize: 8) == [])
        #expect(ShardIndex.shardName(prefix: "model", index: 0, count: 3, extension: "safetensors") == "model-00001-of-00003.safetensors")
    }

    @Test func shardIndexRejectsUnsafeNamesAndMismatches() throws {
        #expect(throws: ShardIndexError.unsafeShardName("../x.safetensors")) {
            try ShardIndex.parse(Array(#"{"weight_map":{"a":"../x.safetensors"}}"#.utf8))
        }
        #expect(throws: ShardIndexError.unsafeShardName("/etc/passwd")) {
            try ShardIndex.parse(Array(#"{"weight_map":{"a":"/etc/passwd"}}"#.utf8))
        }
        #expect(throws: ShardIndexError.invalidIndex(pointer: "/weight_map/a~1b", reason: "not a string")) {
            try ShardIndex.parse(Array(#"{"weight_map":{"a/b":1}}"#.utf8))
        }
        #expect(throws: ShardIndexError.invalidIndex(pointer: "/weight_map", reason: "missing or not an object")) {
            try ShardIndex.parse(Array(#"{"metadata":{}}"#.utf8))
        }
        // An index naming a tensor its shard lacks.
        let dir = TemporaryDirectory()
        let shard = try String(contentsOfFile: TestPaths.fixture("tiny-roberta-sharded/model.safetensors.index.json"), encoding: .utf8)
        var index = try JSON.parse(shard).objectValue!
        var map = index["weight_map"]!.objectValue!
        map["ghost.weight"] = "model-00001-of-00003.safetensors"
        index["weight_map"] = .object(map)
        _ = dir.write(JSON.data(.object(index)), to: "model.safetensors.index.json")
        for i in 1...3 {
            let name = "model-0000\(i)-of-00003.safetensors"
            _ = dir.write(readFile(TestPaths.fixture("tiny-roberta-sharded/" + name)), to: name)
        }
        do {
            _ = try Checkpoint.open(dir.path)
            Issue.record("accepted an index with a missing tensor")
        } catch let error as FileContextError {
            #expect(error.underlying as? ShardIndexError == .missingTensor(tensor: "ghost.weight", shard: "model-00001-of-00003.safetensors"))
        }
    }

    @Test func durableWriteLeavesNothingOnFailure() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("out.bin")
        struct Boom: Error {}
        #expect(throws: Boom.self) { try DurableFile.write(to: path) { sink in try sink.write([1, 2, 3]); throw Boom() } }
        #expect(try FileSystem.contents(of: dir.path).isEmpty)
        try DurableFile.write([9], to: path)
        #expect(throws: Boom.self) { try DurableFile.write(to: path) { _ in throw Boom() } }
        #expect(readFile(path) == [9])
    }
}
