import Foundation
import LSRFormats
import TestSupport
import Testing

/// Bad input on the command line: exactly one `error:` line naming the file (and where it
/// applies the tensor and byte offset), a non-zero exit, and no output left behind.
@Suite struct CommandErrorTests {
    /// Runs lsrconv expecting failure; returns its single stderr line.
    func failure(_ arguments: [String], cwd: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try runLSRConv(arguments, cwd: cwd)
        #expect(result.status != 0, sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(lines.first?.hasPrefix("error: ") == true, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        return lines.first.map(String.init) ?? ""
    }

    /// Every safetensors rule, through the CLI, for both inspect and import; import leaves nothing.
    @Test(arguments: [
        ("short.safetensors", [UInt8]([1, 2, 3]), "file of 3 bytes is too small"),
        ("huge.safetensors", craftedSafetensors(header: "{}", declaredLength: 200_000_000), "header length 200000000 at offset 0 exceeds"),
        ("past.safetensors", craftedSafetensors(header: "{}", declaredLength: 64), "header length 64 at offset 0 runs past the end"),
        ("array.safetensors", craftedSafetensors(header: "[]"), "header at byte offset 8 is a JSON array"),
        ("dtype.safetensors", craftedSafetensors(header: #"{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            "tensor 'w' at byte offset 9: unknown dtype 'F33'"),
        ("trail.safetensors", craftedSafetensors(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0, 9]),
            "unexpected 1 trailing bytes after the data buffer at byte offset 66"),
        ("dup.safetensors", craftedSafetensors(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#),
            "tensor 'w' appears twice in the header (byte offset 62)"),
    ])
    func malformedSafetensors(_ name: String, _ bytes: [UInt8], _ message: String) throws {
        let dir = TemporaryDirectory()
        let path = dir.write(bytes, to: name)
        let inspect = try failure(["inspect", path])
        #expect(inspect == "error: \(path): " + (inspect.dropFirst("error: \(path): ".count)), "names the file")
        #expect(inspect.contains(message), "\(inspect)")
        let imported = try failure(["import", path, "--out", dir.file("out")])
        #expect(imported.contains(message), "\(imported)")
        #expect(try FileSystem.contents(of: dir.path) == [name], "import left files behind")
    }

    @Test func missingAndWrongKindsOfPaths() throws {
        let dir = TemporaryDirectory()
        #expect(try failure(["inspect", dir.file("nope.safetensors")]) == "error: \(dir.file("nope.safetensors")): no such file or directory")
        #expect(try failure(["inspect", dir.path]).contains("no checkpoint found"))
        let text = dir.write(Array("hello world, not a model".utf8), to: "notes.txt")
        #expect(try failure(["inspect", text]).contains("not a checkpoint lsrconv reads (first bytes at offset 0: 68 65 6c 6c 6f 20 77 6f)"))
    }

    @Test func existingOutputIsKeptUnlessForced() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: false)
        _ = dir.write([1, 2, 3], to: "out/keep.txt")
        let message = try failure(["import", TestPaths.fixture("tiny-roberta"), "--out", dir.file("out")])
        #expect(message == "error: \(dir.file("out")): already exists (--force replaces it)")
        #expect(readFile(dir.file("out/keep.txt")) == [1, 2, 3])
        let forced = try runLSRConv(["import", TestPaths.fixture("tiny-roberta"), "--out", dir.file("out"), "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try FileSystem.contents(of: dir.file("out")).contains("model.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/keep.txt")))
        #expect(try FileSystem.contents(of: dir.path) == ["out"])
    }

    @Test func outputInsideInputIsRefused() throws {
        let dir = TemporaryDirectory()
        _ = dir.write(readFile(TestPaths.fixture("tiny-roberta/model.safetensors")), to: "model.safetensors")
        _ = dir.write(readFile(TestPaths.fixture("tiny-roberta/config.json")), to: "config.json")
        let message = try failure(["import", dir.path, "--out", dir.file("nested")])
        #expect(message == "error: \(dir.path): output \(dir.file("nested")) would overlap the input \(dir.path) (it is the input, holds it, or lies inside it)")
        #expect(try FileSystem.contents(of: dir.path) == ["config.json", "model.safetensors"])
        // Replacing the directory that holds a file source would delete the source.
        let holder = try failure(["import", dir.file("model.safetensors"), "--out", dir.path, "--force"])
        #expect(holder.contains("would overlap the input"))
        #expect(try FileSystem.contents(of: dir.path) == ["config.json", "model.safetensors"])
    }

    /// Every hostile or broken file of Fixtures/malformed (made by Fixtures/generate/malformed.py;
    /// the typed error of each is asserted in TorchCheckpointTests): on the command line one
    /// `error:` line that names the file, a non-zero exit, and for import no output left.
    @Test func malformedCorpusOnTheCommandLine() throws {
        let valid: Set = ["base.pt", "memo_sparse_indices.pt"]  // well-formed baselines of the corpus
        let names = try FileSystem.contents(of: TestPaths.fixture("malformed")).filter { $0.hasSuffix(".pt") && !valid.contains($0) }
        #expect(names.count > 60)
        for name in names {
            let path = TestPaths.fixture("malformed/" + name)
            // inspect reads headers only; a flipped data bit is found when the data is read.
            let inspect = try failure(name == "zip_crc_mismatch.pt" ? ["inspect", "--checksums", path] : ["inspect", path])
            #expect(inspect.hasPrefix("error: \(path): "), "\(name): \(inspect)")
            let dir = TemporaryDirectory()
            let imported = try failure(["import", path, "--out", dir.file("out")])
            #expect(imported.hasPrefix("error: \(path): "), "\(name): \(imported)")
            if name == "zip_crc_mismatch.pt" { #expect(imported.hasSuffix("zip entry 'zip_crc_mismatch/data/0' at byte 704: CRC-32 is 0xe6f36d51, the central directory says 0x30bb74be"), "\(imported)") }
            #expect(try FileSystem.contents(of: dir.path).isEmpty, "\(name): import left files behind")
        }
    }

    @Test func configContradictingWeights() throws {
        let dir = TemporaryDirectory()
        var config = try JSON.parse(readFile(TestPaths.fixture("tiny-roberta/config.json"))).objectValue!
        config["intermediate_size"] = 512
        let path = dir.write(JSON.data(.object(config)), to: "config.json")
        let message = try failure(["import", TestPaths.fixture("tiny-roberta/model.safetensors"), "--config", path, "--out", dir.file("x")])
        #expect(message == "error: \(path): config intermediate_size = 512 contradicts tensor 'encoder.layer.0.intermediate.dense.weight', whose shape gives 256")
        #expect(!FileManager.default.fileExists(atPath: dir.file("x")))
    }

    @Test func badOptions() throws {
        #expect(try failure(["import", TestPaths.fixture("tiny-roberta"), "--dtype", "f8"]).contains("--dtype"))
        #expect(try failure(["import", TestPaths.fixture("tiny-roberta"), "--max-shard-size", "lots"]).contains("--max-shard-size 'lots' is not a size"))
        #expect(try failure(["inspect"]).contains("Missing expected argument"))
        #expect(try failure(["frobnicate"]).contains("frobnicate"))
    }

    @Test func notARobertaCheckpoint() throws {
        let dir = TemporaryDirectory()
        let message = try failure(["import", TestPaths.fixture("safetensors/all_dtypes.safetensors"), "--out", dir.file("x")])
        #expect(message.contains("not a RoBERTa checkpoint"))
        #expect(try FileSystem.contents(of: dir.path).isEmpty)
    }
}
