import Foundation
import LSRFormats
import TestSupport
import Testing

/// PyTorch checkpoints written by torch 2.13 itself (Fixtures/torch/, Fixtures/generate/
/// torch_fixtures.py) read tensor for tensor like the safetensors the same generator wrote;
/// every hostile file of Fixtures/malformed/ is refused with its exact error, quickly.
@Suite struct TorchCheckpointTests {
    /// Every tensor of `archive` equals the safetensors file's tensor of the same name: dtype,
    /// shape and every byte.
    func expectSame(_ archive: TensorArchive, _ safetensors: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try Safetensors.read(path: TestPaths.fixture(safetensors))
        #expect(Set(archive.names) == Set(expected.names), sourceLocation: sourceLocation)
        #expect(archive.names.count == expected.names.count, sourceLocation: sourceLocation)
        for tensor in expected.tensors {
            guard let got = archive[tensor.name] else { continue }
            #expect(got.dtype == tensor.dtype && got.shape == tensor.shape, "\(tensor.name)", sourceLocation: sourceLocation)
            #expect([UInt8](got.bytes.buffer) == [UInt8](tensor.bytes.buffer), "\(tensor.name)", sourceLocation: sourceLocation)
        }
    }

    /// Whether each tensor's `file` and `offset` point at its bytes.
    func offsetsPointAtTheBytes(_ archive: TensorArchive) -> Bool {
        var files: [String: [UInt8]] = [:]
        return archive.tensors.allSatisfy { tensor in
            let bytes = files[tensor.file] ?? readFile(tensor.file)
            files[tensor.file] = bytes
            return tensor.offset + tensor.bytes.count <= bytes.count
                && Array(bytes[tensor.offset..<(tensor.offset + tensor.bytes.count)]) == [UInt8](tensor.bytes.buffer)
        }
    }

    // MARK: Real files

    @Test func zipEqualsSafetensors() throws {
        let archive = try Checkpoint.open(TestPaths.fixture("torch/zip"))
        #expect(archive.format == .torchZip)
        #expect(archive.auxiliary.count == 0)
        try expectSame(archive, "tiny-roberta/model.safetensors")
        // Stored, 64-byte aligned records: every tensor is a view into the map, read in place.
        let file = try MappedFile(path: TestPaths.fixture("torch/zip/pytorch_model.bin"))
        let whole = try #require(file.view(offset: 0, count: file.size))
        let loaded = try TorchCheckpoint.loadZip(file)
        #expect(loaded.warnings.isEmpty)
        for tensor in loaded.archive.tensors {
            #expect(tensor.bytes.buffer.baseAddress == whole.baseAddress! + tensor.offset, "\(tensor.name)")
            #expect(tensor.offset % 64 == 0, "\(tensor.name)")
        }
    }

    @Test(arguments: [
        ("torch/legacy", "tiny-roberta-f16/model.safetensors", ArchiveFormat.torchLegacy),
        ("torch/zip-bf16", "tiny-roberta-bf16/model.safetensors", .torchZip),
        ("torch/nested", "tiny-roberta-f16/model.safetensors", .torchZip),
        ("torch/module", "tiny-roberta-f16/model.safetensors", .torchZip),
        ("torch/sharded", "tiny-roberta/model.safetensors", .torchSharded),
    ])
    func variantsEqualSafetensors(_ checkpoint: String, _ safetensors: String, _ format: ArchiveFormat) throws {
        let archive = try Checkpoint.open(TestPaths.fixture(checkpoint))
        #expect(archive.format == format)
        try expectSame(archive, safetensors)
        #expect(offsetsPointAtTheBytes(archive))
        // Views or copies, every tensor's elements are aligned for direct loads (legacy
        // records sit at arbitrary offsets).
        for tensor in archive.tensors {
            #expect(Int(bitPattern: tensor.bytes.buffer.baseAddress) % (tensor.dtype.bitSize / 8) == 0, "\(tensor.name)")
        }
    }

    @Test func shardedReadsEveryShard() throws {
        let archive = try Checkpoint.open(TestPaths.fixture("torch/sharded"))
        // In order of first appearance in the (sorted) weight map.
        #expect(Set(archive.files.map(FileSystem.baseName)) == Set((1...3).map { "pytorch_model-0000\($0)-of-00003.bin" }))
        #expect(Set(archive.tensors.map(\.file)).count == 3)
    }

    @Test func auxiliaryDataIsInertJSON() throws {
        let nested = try Checkpoint.open(TestPaths.fixture("torch/nested"))
        #expect(nested.auxiliary == ["epoch": 3, "optimizer": .null])
        let module = try Checkpoint.open(TestPaths.fixture("torch/module"))
        #expect(module.auxiliary["global_steps"] == 10)
        // fairseq ≥ 0.10: cfg.model is an argparse.Namespace, rendered as its attributes.
        let fairseq = try Checkpoint.open(TestPaths.fixture("torch/fairseq/model.pt"))
        #expect(fairseq.auxiliary["args"] == .null)
        #expect(fairseq.auxiliary["cfg"]?["model"]?["_name"] == "roberta_base")
        #expect(fairseq.auxiliary["cfg"]?["task"]?["num_classes"] == 2)
        #expect(fairseq.auxiliary.keys.contains("optimizer_history") && !fairseq.auxiliary.keys.contains("model"))
        // The original RoBERTa release (legacy format): args is the Namespace itself.
        let decoder = try Checkpoint.open(TestPaths.fixture("torch/fairseq/model_decoder.pt"))
        #expect(decoder.format == .torchLegacy)
        #expect(decoder.auxiliary["args"]?["arch"] == "roberta_base")
    }

    @Test func fairseqStateDict() throws {
        // model.pt's "model" is the fairseq-named state dict; its lm_head.weight is tied to
        // embed_tokens (one storage), which safetensors could not hold.
        let archive = try Checkpoint.open(TestPaths.fixture("torch/fairseq/model.pt"))
        let expected = try Safetensors.read(path: TestPaths.fixture("torch/fairseq/fairseq_names.safetensors"))
        #expect(Set(archive.names).subtracting(expected.names) == ["encoder.lm_head.weight"])
        for tensor in expected.tensors {
            let got = try #require(archive[tensor.name])
            #expect(got.dtype == tensor.dtype && got.shape == tensor.shape, "\(tensor.name)")
            #expect([UInt8](got.bytes.buffer) == [UInt8](tensor.bytes.buffer), "\(tensor.name)")
        }
        let tied = try #require(archive["encoder.lm_head.weight"])
        let embed = try #require(archive["encoder.sentence_encoder.embed_tokens.weight"])
        #expect(tied.bytes.buffer.baseAddress == embed.bytes.buffer.baseAddress)
    }

    @Test(arguments: ["transposed.pt", "transposed_legacy.pt"])
    func edgeCases(_ file: String) throws {
        // Views, transposes, offsets, shared storages, stride 0, 0-d and empty tensors, a
        // Parameter, and (zip only) float8/uint16 through _rebuild_tensor_v3 + UntypedStorage.
        let manifest = try JSON.parse(readFile(TestPaths.fixture("torch/edge/transposed.json")))
        let omitted = Set(manifest["legacy_omits"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let expected = try #require(manifest["tensors"]?.objectValue)
        let archive = try Checkpoint.open(TestPaths.fixture("torch/edge/" + file))
        let names = expected.keys.filter { file == "transposed.pt" || !omitted.contains($0) }
        #expect(archive.names == names)
        for name in names {
            let entry = try #require(expected[name]?.objectValue)
            let tensor = try #require(archive[name])
            #expect(tensor.dtype.rawValue == entry["dtype"]?.stringValue, "\(name)")
            #expect(tensor.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(name)")
            #expect(SHA256.hex(tensor.bytes.buffer) == entry["sha256"]?.stringValue, "\(name)")
        }
        // Storage sharing: shared_b starts 5 halves into shared_a's storage, in place.
        let a = try #require(archive["shared_a"])
        let b = try #require(archive["shared_b"])
        #expect(b.bytes.buffer.baseAddress == a.bytes.buffer.baseAddress! + 10)
    }

    // MARK: Hostile and broken files

    enum Refusal: Sendable {
        case zip(ZipError)
        case pickle(PickleError)
        case torch(TorchCheckpointError)
    }

    static let malformed: [(String, Refusal)] = [
        ("legacy_count_negative.pt", .torch(.legacyStorage(key: "0", reason: "negative element count -1", offset: 383))),
        ("legacy_count_past_end.pt", .torch(.legacyStorage(key: "0", reason: "1099511627776 elements stored, 64 declared", offset: 383))),
        ("legacy_numel_mismatch.pt", .torch(.legacyStorage(key: "0", reason: "32 elements stored, 64 declared", offset: 383))),
        ("legacy_tar.pt", .torch(.legacyTar)),
        ("legacy_truncated.pt", .torch(.legacyStorage(key: "1", reason: "256 bytes run past the end of the file", offset: 647))),
        ("nesting_lists_10000.pt", .pickle(.limitExceeded(limit: "Pickle.maxNestingDepth", value: 200, offset: 396))),
        ("nesting_marks_10000.pt", .pickle(.limitExceeded(limit: "Pickle.maxMarkDepth", value: 1000, offset: 1196))),
        ("nesting_tuples_10000.pt", .pickle(.limitExceeded(limit: "Pickle.maxNestingDepth", value: 200, offset: 9998))),
        ("pickle_after_stop.pt", .pickle(.trailingBytes(offset: 165))),
        ("pickle_append_on_dict.pt", .pickle(.wrongType(opcode: 0x61, expected: "a list", got: "dict", offset: 130))),
        ("pickle_binbytes_past_end.pt", .pickle(.truncated(opcode: 0x42, offset: 2))),
        ("pickle_binget_undefined.pt", .pickle(.memoMissing(index: 7, offset: 2))),
        ("pickle_binunicode_bad_utf8.pt", .pickle(.invalidArgument(opcode: 0x58, reason: "text is not valid UTF-8", offset: 3))),
        ("pickle_binunicode_past_end.pt", .pickle(.truncated(opcode: 0x58, offset: 2))),
        ("pickle_builtins_eval.pt", .torch(.refusedGlobal(module: "builtins", name: "eval", pickleOffset: 81, key: nil))),
        ("pickle_evil_value_in_state_dict.pt", .torch(.refusedGlobal(module: "os", name: "system", pickleOffset: 220, key: "evil"))),
        ("pickle_inst_os_system.pt", .torch(.refusedGlobal(module: "os", name: "system", pickleOffset: 39, key: nil))),
        ("pickle_long1_past_end.pt", .pickle(.truncated(opcode: 0x8A, offset: 2))),
        ("pickle_long4_past_end.pt", .pickle(.truncated(opcode: 0x8B, offset: 2))),
        ("pickle_newobj_popen.pt", .torch(.refusedGlobal(module: "subprocess", name: "Popen", pickleOffset: 74, key: nil))),
        ("pickle_no_stop.pt", .pickle(.truncated(opcode: 0x2E, offset: 164))),
        ("pickle_obj_os_system.pt", .torch(.refusedGlobal(module: "os", name: "system", pickleOffset: 50, key: nil))),
        ("pickle_os_system.pt", .torch(.refusedGlobal(module: "os", name: "system", pickleOffset: 50, key: nil))),
        ("pickle_posix_system.pt", .torch(.refusedGlobal(module: "posix", name: "system", pickleOffset: 53, key: nil))),
        ("pickle_proto_twice.pt", .pickle(.protoNotFirst(offset: 3))),
        ("pickle_rebuild_os_system.pt", .torch(.refusedGlobal(module: "os", name: "system", pickleOffset: 140, key: "w"))),
        ("pickle_setitems_no_mark.pt", .pickle(.missingMark(opcode: 0x75, offset: 136))),
        ("pickle_setitems_on_list.pt", .pickle(.wrongType(opcode: 0x75, expected: "a dict", got: "list", offset: 137))),
        ("pickle_stack_global_popen.pt", .torch(.refusedGlobal(module: "subprocess", name: "Popen", pickleOffset: 79, key: nil))),
        ("pickle_stop_empty_stack.pt", .pickle(.unbalancedStop(offset: 2))),
        (
            "pickle_storage_class_os_system.pt",
            .torch(.invalidStorage(tensor: "w", reason: "unknown storage type global os.system", pickleOffset: 153))
        ),
        ("pickle_unknown_opcode.pt", .pickle(.unsupportedOpcode(0xFF, offset: 2))),
        (
            "rebuild_wrong_arity.pt",
            .torch(.invalidTensor(tensor: "w", reason: "_rebuild_tensor_v2 takes 6 or 7 arguments, got 2", pickleOffset: 123))
        ),
        ("self_containing_dict.pt", .pickle(.selfReference(offset: 197))),
        ("self_containing_list.pt", .pickle(.selfReference(offset: 197))),
        ("stack_bomb_empty_lists.pt", .pickle(.unbalancedStop(offset: 65538))),
        ("stack_bomb_marks.pt", .pickle(.limitExceeded(limit: "Pickle.maxMarkDepth", value: 1000, offset: 1002))),
        ("storage_key_missing.pt", .torch(.missingStorage(tensor: "w", key: "7"))),
        ("storage_key_traversal.pt", .torch(.invalidStorageKey("../../../etc/passwd"))),
        ("storage_numel_past_entry.pt", .torch(.storageSizeMismatch(tensor: "w", key: "0", declaredBytes: 4_000_000, storedBytes: 16))),
        (
            "storage_shared_two_dtypes.pt",
            .torch(.invalidStorage(tensor: "h", reason: "storage '0' redeclared with another type or size", pickleOffset: 290))
        ),
        ("tensor_negative_size.pt", .torch(.negativeDimension(tensor: "w", pickleOffset: 161))),
        ("tensor_negative_stride.pt", .torch(.negativeDimension(tensor: "w", pickleOffset: 161))),
        ("tensor_offset_overflow.pt", .torch(.shapeOverflow(tensor: "w", pickleOffset: 174))),
        ("tensor_view_past_storage.pt", .torch(.tensorOutOfBounds(tensor: "w", requiredBytes: 400, storageBytes: 16))),
        ("torchscript.pt", .torch(.torchScript(entry: "torchscript/code/__torch__/malformed.py"))),
        (
            "zip_bomb_declared_4g.pt",
            .zip(
                .invalidSizes(
                    name: "zip_bomb_declared_4g/data.pkl", reason: "declares 4294967280 bytes from 1030 compressed, beyond deflate's ratio",
                    offset: 1912))
        ),
        (
            "zip_bomb_honest.pt",
            .zip(.entryTooLarge(name: "zip_bomb_honest/data.pkl", declaredSize: 67_108_897, limit: 16 << 20, offset: 65912))
        ),
        ("zip_bomb_lying_small.pt", .zip(.inflatedSizeMismatch(name: "zip_bomb_lying_small/data.pkl", declaredSize: 1024, offset: 64))),
        (
            "zip_dotdot_under_top.pt",
            .zip(.invalidName(name: "zip_dotdot_under_top/../../etc/x", reason: "contains a '..' component", offset: 1462))
        ),
        ("zip_duplicate_name.pt", .zip(.duplicateName(name: "zip_duplicate_name/data.pkl", offset: 1454))),
        ("zip_encrypted.pt", .zip(.encrypted(name: "zip_encrypted/data/0", offset: 1306))),
        ("zip_eocd_count_mismatch.pt", .zip(.inconsistentEndRecord(field: "entry count differs from the ZIP64 record's", offset: 1731))),
        ("zip_local_name_mismatch.pt", .zip(.localHeaderMismatch(name: "zip_local_name_mismatch/data/0", field: "name", offset: 662))),
        ("zip_local_size_mismatch.pt", .zip(.localHeaderMismatch(name: "zip_local_size_mismatch/data/0", field: "sizes", offset: 662))),
        ("zip_method_bzip2.pt", .zip(.unsupportedCompression(name: "zip_method_bzip2/data/0", method: 12, offset: 1318))),
        (
            "zip_overlapping_entries.pt",
            .zip(.overlappingEntries(name: "zip_overlapping_entries/data/1", previous: "zip_overlapping_entries/data/0", offset: 896))
        ),
        ("zip_path_traversal.pt", .zip(.invalidName(name: "../../etc/x", reason: "contains a '..' component", offset: 1454))),
        ("zip_trailing_bytes.pt", .zip(.endRecordNotAtEnd(offset: 1632, commentLength: 0, fileSize: 1670))),
        ("zip_two_eocd.pt", .zip(.multipleEndRecords(offsets: [1590, 1612]))),
    ]

    /// Files that are valid, or refused only on request (their checks are elsewhere).
    static let notInTable = ["base.pt", "memo_sparse_indices.pt", "memo_amplification.pt", "zip_crc_mismatch.pt"]

    /// The error `Checkpoint.open` ends with, without the path it adds.
    func refusal(_ path: String) -> (any Error)? {
        do {
            _ = try Checkpoint.open(path)
            return nil
        } catch let error as FileContextError {
            return error.underlying
        } catch {
            return error
        }
    }

    @Test(arguments: malformed)
    func malformedFileIsRefused(_ name: String, _ expected: Refusal) {
        let start = ContinuousClock.now
        let error = refusal(TestPaths.fixture("malformed/" + name))
        switch expected {
        case .zip(let e): #expect(error as? ZipError == e, "\(String(describing: error))")
        case .pickle(let e): #expect(error as? PickleError == e, "\(String(describing: error))")
        case .torch(let e): #expect(error as? TorchCheckpointError == e, "\(String(describing: error))")
        }
        // Refused without reading or inflating anything large.
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func everyMalformedFileIsCovered() throws {
        let files = try FileSystem.contents(of: TestPaths.fixture("malformed")).filter { $0.hasSuffix(".pt") }
        let covered = Set(Self.malformed.map(\.0) + Self.notInTable)
        #expect(Set(files).subtracting(covered).isEmpty, "no expectation for \(Set(files).subtracting(covered).sorted())")
    }

    @Test func validMalformedBaselines() throws {
        let base = try Checkpoint.open(TestPaths.fixture("malformed/base.pt"))
        let w = try #require(base["w"])
        #expect(w.dtype == .f32 && w.shape == [2, 2])
        #expect(Array(w.bytes.buffer.bindMemory(to: Float.self)) == [1.5, -2, 0.25, 3])
        // LONG_BINPUT indices near 2³²: the memo is a dictionary; 'w_again' is 'w' itself.
        let sparse = try Checkpoint.open(TestPaths.fixture("malformed/memo_sparse_indices.pt"))
        #expect(sparse.names == ["w", "w_again"])
        #expect(sparse["w"]?.bytes.buffer.baseAddress == sparse["w_again"]?.bytes.buffer.baseAddress)
    }

    @Test func memoAmplificationIsRefused() {
        // The file's SETITEMS pairs its 31 lists up as keys (a list is unhashable) before the
        // 10³⁰-node extra_state can be walked; either way it is refused quickly.
        let start = ContinuousClock.now
        let error = refusal(TestPaths.fixture("malformed/memo_amplification.pt"))
        switch error as? PickleError {
        case .unhashable(kind: "list", _)?, .limitExceeded(limit: "Pickle.maxValueNodes", _, _)?: break
        default: Issue.record("unexpected \(String(describing: error))")
        }
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func storageChecksumsOnRequest() throws {
        // Loading maps storages without reading them; verifyChecksums reads and CRC-checks them.
        let path = TestPaths.fixture("malformed/zip_crc_mismatch.pt")
        #expect(try Checkpoint.open(path).names == ["w"])
        do {
            _ = try Checkpoint.open(path, verifyChecksums: true)
            Issue.record("accepted a corrupted storage")
        } catch let error as FileContextError {
            guard case .crcMismatch(name: "zip_crc_mismatch/data/0", _, _, _)? = error.underlying as? ZipError else {
                Issue.record("wrong error \(error)")
                return
            }
        }
        try Checkpoint.open(TestPaths.fixture("torch/zip"), verifyChecksums: true).tensors.forEach { _ = $0 }
    }

    // MARK: Crafted archives

    /// A torch zip with `pickle` as data.pkl and the given storages under top folder "t".
    func torchZip(
        _ pickle: [UInt8], storages: [(String, [UInt8])] = [("0", floats)], byteorder: String? = "little",
        extra: [ZipFixture.Item] = [], deflate: Bool = false
    ) throws -> TorchCheckpoint.Loaded {
        var items = [ZipFixture.Item(name: "t/data.pkl", data: pickle)]
        if let byteorder { items.append(.init(name: "t/byteorder", data: Array(byteorder.utf8))) }
        for (key, bytes) in storages {
            // A deflate stream of one stored block (RFC 1951 3.2.4) needs no compressor.
            let n = UInt16(bytes.count)
            let block: [UInt8] = [0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + bytes
            items.append(
                deflate
                    ? .init(name: "t/data/\(key)", data: block, method: 8, uncompressed: bytes) : .init(name: "t/data/\(key)", data: bytes))
        }
        let dir = TemporaryDirectory()
        let path = dir.write(ZipFixture(items: items + extra, zip64: true).build().bytes, to: "t.pt")
        return try TorchCheckpoint.load(path: path)
    }

    static let floats: [UInt8] = [1.5, -2, 0.25, 3].flatMap { (f: Float) in withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init) }

    @Test func deflatedStoragesAreInflated() throws {
        let loaded = try torchZip(TorchPickle.stateDict([("w", TorchPickle.tensor(size: [2, 2], stride: [2, 1]))]), deflate: true)
        #expect([UInt8](try #require(loaded.archive["w"]).bytes.buffer) == Self.floats)
    }

    @Test func bigEndianArchivesAreSwapped() throws {
        let swapped = stride(from: 0, to: 16, by: 4).flatMap { Self.floats[$0..<($0 + 4)].reversed() }
        let loaded = try torchZip(
            TorchPickle.stateDict([
                ("w", TorchPickle.tensor(size: [2, 2], stride: [2, 1])), ("t", TorchPickle.tensor(size: [2, 2], stride: [1, 2])),
            ]),
            storages: [("0", swapped)], byteorder: "big")
        #expect([UInt8](try #require(loaded.archive["w"]).bytes.buffer) == Self.floats)
        let transposed = try #require(loaded.archive["t"]).bytes.buffer.bindMemory(to: Float.self)
        #expect(Array(transposed) == [1.5, 0.25, -2, 3])
    }

    @Test func zeroCRCIsAWarning() throws {
        var items = [ZipFixture.Item(name: "t/data.pkl", data: TorchPickle.stateDict([("w", TorchPickle.tensor(size: [4], stride: [1]))]))]
        items.append(.init(name: "t/data/0", data: Self.floats))
        items[1].crc = 0
        let dir = TemporaryDirectory()
        let loaded = try TorchCheckpoint.load(path: dir.write(ZipFixture(items: items).build().bytes, to: "t.pt"))
        #expect(loaded.warnings.count == 1 && loaded.warnings[0].contains("t/data/0"))
    }

    @Test func archiveShapeRules() throws {
        let sd = TorchPickle.stateDict([("w", TorchPickle.tensor(size: [4], stride: [1]))])
        #expect(throws: TorchCheckpointError.torchScript(entry: "t/constants.pkl")) {
            try torchZip(sd, extra: [.init(name: "t/constants.pkl", data: [0x80, 2, 0x4E, 0x2E])])
        }
        #expect(throws: TorchCheckpointError.notOneTopFolder(entry: "u/x", folder: "t")) {
            try torchZip(sd, extra: [.init(name: "u/x", data: [])])
        }
        #expect(throws: TorchCheckpointError.invalidByteOrder("middle")) { try torchZip(sd, byteorder: "middle") }
        let dir = TemporaryDirectory()
        let noPickle = dir.write(ZipFixture(items: [.init(name: "t/data/0", data: Self.floats)]).build().bytes, to: "n.pt")
        #expect(throws: TorchCheckpointError.missingRecord("t/data.pkl")) { try TorchCheckpoint.load(path: noPickle) }
    }

    @Test func stateDictRules() throws {
        let tensor = TorchPickle.tensor(size: [4], stride: [1])
        // A non-tensor value where the state dict is: an error, never skipped.
        #expect(throws: TorchCheckpointError.notATensor(key: "n", kind: "int")) {
            try torchZip(TorchPickle.stateDict([("w", tensor), ("n", [0x4B, 3])]))
        }
        #expect(throws: TorchCheckpointError.noStateDict(found: "list")) { try torchZip([0x80, 2, 0x5D, 0x2E]) }
        // Under "model" beside other data; the other data becomes auxiliary JSON.
        let wrapped = TorchPickle.stateDict([("epoch", [0x4B, 7]), ("model", TorchPickle.stateDict([("w", tensor)], complete: false))])
        let loaded = try torchZip(wrapped)
        #expect(loaded.archive.names == ["w"] && loaded.archive.auxiliary == ["epoch": 7])
        // A state dict key that is not a string.
        let intKey: [UInt8] = [0x80, 2, 0x7D, 0x28, 0x4B, 1] + tensor + [0x75, 0x2E]
        #expect(throws: TorchCheckpointError.nonStringKey(kind: "int")) { try torchZip(intKey) }
    }

    @Test func broadcastViewsAreBounded() throws {
        // Stride 0 repeats the storage: allowed, but only up to maxBroadcastBytes in all.
        let small = try torchZip(TorchPickle.stateDict([("e", TorchPickle.tensor(size: [3, 4], stride: [0, 1]))]))
        #expect([UInt8](try #require(small.archive["e"]).bytes.buffer) == Self.floats + Self.floats + Self.floats)
        let huge = TorchPickle.stateDict([("e", TorchPickle.tensor(size: [1 << 30, 4], stride: [0, 1]))])
        #expect(throws: TorchCheckpointError.broadcastTooLarge(tensor: "e", bytes: 1 << 34, storageBytes: 16)) { try torchZip(huge) }
    }

    @Test func legacyTrailingBytes() throws {
        let bytes = readFile(TestPaths.fixture("torch/edge/transposed_legacy.pt")) + [0]
        let dir = TemporaryDirectory()
        let path = dir.write(bytes, to: "l.pt")
        #expect(throws: TorchCheckpointError.trailingBytes(offset: bytes.count - 1, count: 1)) { try TorchCheckpoint.load(path: path) }
    }
}

/// Assembles torch.save-shaped pickles (protocol 2) for crafted archives.
enum TorchPickle {
    static func unicode(_ s: String) -> [UInt8] {
        let u = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(u.count).littleEndian, Array.init) + u
    }
    static func int(_ i: Int) -> [UInt8] { [0x8A, 8] + withUnsafeBytes(of: Int64(i).littleEndian, Array.init) }
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.flatMap { $0 } + [0x74] }

    /// `_rebuild_tensor_v2((storage, FloatStorage, key, cpu, numel), offset, size, stride, False, OrderedDict())`.
    static func tensor(key: String = "0", numel: Int = 4, offset: Int = 0, size: [Int], stride: [Int]) -> [UInt8] {
        let storage = tuple([unicode("storage"), global("torch", "FloatStorage"), unicode(key), unicode("cpu"), int(numel)]) + [0x51]
        let hooks = global("collections", "OrderedDict") + [0x29, 0x52]
        let args = tuple([storage, int(offset), tuple(size.map(int)), tuple(stride.map(int)), [0x89], hooks])
        return global("torch._utils", "_rebuild_tensor_v2") + args + [0x52]
    }

    /// A dict of `entries`; `complete` adds PROTO and STOP.
    static func stateDict(_ entries: [(String, [UInt8])], complete: Bool = true) -> [UInt8] {
        let pairs: [UInt8] = entries.flatMap { unicode($0.0) + $0.1 }
        let body: [UInt8] = [0x7D, 0x28] + pairs + [0x75]
        return complete ? [0x80, 2] + body + [0x2E] : body
    }
}
