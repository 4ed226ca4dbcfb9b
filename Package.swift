// swift-tools-version: 6.0
// lsrconv: read RoBERTa checkpoints, train LSR adapters, write files other frameworks consume.
// Layout and module boundaries: see DESIGN.md §2 (shared) and README.md.
import Foundation
import PackageDescription

/// Whether Open MPI's development files are here (pkg-config ompi-c; Debian: libopenmpi-dev):
/// then `lsrconv train` runs under `mpirun` (LSRDistributed); without them it builds and trains
/// in one process as before. LSRCONV_MPI=0 leaves MPI out even where it is installed.
let mpiAvailable: Bool = {
    if Context.environment["LSRCONV_MPI"] == "0" { return false }
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["pkg-config", "--exists", "ompi-c"]
    probe.standardOutput = FileHandle.nullDevice
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
}()

let package = Package(
    name: "lsrconv",
    products: [
        .executable(name: "lsrconv", targets: ["lsrconv"]),
        .library(name: "LSRFormats", targets: ["LSRFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // System libraries: a modulemap + one-line shim each, found through pkg-config.
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CJSONC", pkgConfig: "json-c",
            providers: [.apt(["libjson-c-dev"])]),

        // cpuid, xgetbv and dladdr, which Swift cannot reach (LSREngine/CPUFeatures.swift, OpenBLASBuild.swift).
        .target(name: "CMachine"),

        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),

        // Ranks, all-reduce, broadcast, barrier: MPI when compiled in and launched by mpirun,
        // else one process (the same trainer code either way). Knows nothing of models.
        .target(name: "LSRDistributed", dependencies: mpiAvailable ? ["CMPI"] : []),
        // Files: dtypes, JSON, safetensors, shards, format detection. Knows nothing of models.
        .target(name: "LSRFormats", dependencies: ["CJSONC", "CZlib"]),
        .target(name: "LSRSchema", dependencies: ["LSRFormats"]),
        // f32 buffers, BLAS, threading and the layers (forward beside backward). Knows no files.
        // Swift 5 language mode: kernels hand raw pointers to worker threads (Parallel.swift),
        // which Swift 6's Sendable checking cannot see are disjoint.
        .target(name: "LSREngine", dependencies: ["COpenBLAS", "CMachine"], swiftSettings: [.swiftLanguageMode(.v5)]),
        // RoBERTa: config, weight naming, architecture, the model itself on LSREngine.
        .target(name: "LSRModel", dependencies: ["LSRFormats", "LSREngine"]),
        // LSR (and LoRA) adapters: Kronecker-sum factors, ΔW, gradients, files, merge and export.
        .target(name: "LSRAdapters", dependencies: ["LSREngine", "LSRFormats", "LSRModel", "COpenBLAS"]),
        // Tokenizers from tokenizer.json and the older files (vocab.json + merges.txt, vocab.txt):
        // normalizers, pre-tokenizers, BPE / WordPiece / Unigram, post-processors. Knows no models.
        .target(name: "LSRTokenizers", dependencies: ["LSRFormats"]),
        // Datasets, batching, prediction and the trainer over the model.
        .target(name: "LSRTrain", dependencies: ["LSRFormats", "LSRTokenizers", "LSRModel", "LSREngine", "LSRAdapters", "LSRDistributed"]),
        // The command layer: the only place that prints.
        .target(
            name: "LSRCommands",
            dependencies: [
                "LSRFormats", "LSRModel", "LSREngine", "LSRTokenizers", "LSRTrain", "LSRAdapters", "LSRSchema", "LSRDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "lsrconv", dependencies: ["LSRCommands"]),
        // Times the engine for bench/run.py (`make bench`), beside PyTorch in the same run.
        .executableTarget(
            name: "lsrbench", dependencies: ["LSRModel", "LSREngine", "LSRFormats", "LSRAdapters", "LSRTokenizers", "LSRTrain", "LSRDistributed"], path: "bench/lsrbench"),

        // Shared by the test targets: fixture paths, temporary directories, running the binary.
        .target(name: "TestSupport", dependencies: ["LSRFormats"], path: "Tests/TestSupport"),
        .testTarget(name: "LSRFormatsTests", dependencies: ["LSRFormats", "TestSupport"]),
        .testTarget(name: "LSRSchemaTests", dependencies: ["LSRSchema", "LSRFormats", "TestSupport"]),
        .testTarget(name: "LSREngineTests", dependencies: ["LSREngine", "TestSupport"]),
        .testTarget(name: "LSRModelTests", dependencies: ["LSRModel", "LSREngine", "LSRFormats", "TestSupport"]),
        .testTarget(name: "LSRAdaptersTests", dependencies: ["LSRAdapters", "LSREngine", "LSRFormats", "LSRModel", "TestSupport"]),
        .testTarget(name: "LSRTokenizersTests", dependencies: ["LSRTokenizers", "LSRFormats", "TestSupport"]),
        .testTarget(name: "LSRTrainTests", dependencies: ["LSRTrain", "LSRTokenizers", "LSRModel", "LSRAdapters", "LSREngine", "LSRFormats", "LSRDistributed", "TestSupport"]),
        .testTarget(
            name: "LSRCommandsTests",
            dependencies: ["LSRCommands", "LSRFormats", "LSRAdapters", "LSRSchema", "LSRModel", "LSREngine", "TestSupport", "lsrconv"]),
    ]
)

// libFuzzer harnesses (Fuzz/<name>/main.swift, `make fuzz`): declared only when LSRCONV_FUZZ is
// set, because they link only with `-sanitize=fuzzer` (they call LLVMFuzzerRunDriver), so the
// ordinary `swift build` / `swift test` never see them. Fuzz/run.sh sets it.
if Context.environment["LSRCONV_FUZZ"] != nil {
    let harnesses: [(name: String, dependencies: [Target.Dependency])] = [
        ("safetensors", ["LSRFormats"]),
        ("zip", ["LSRFormats"]),
        ("pickle", ["LSRFormats"]),
        ("json", ["LSRFormats"]),
        ("torch-legacy", ["LSRFormats"]),
        ("schema", ["LSRSchema", "LSRFormats"]),
        ("tokenizer", ["LSRTokenizers"]),
        ("charsmap", ["LSRTokenizers"]),
        ("dataset", ["LSRTrain", "LSRTokenizers"]),
    ]
    package.targets.append(.target(name: "FuzzSupport", dependencies: ["LSRFormats"], path: "Fuzz/Support"))
    for harness in harnesses {
        let name = "fuzz-\(harness.name)"
        package.targets.append(.executableTarget(name: name, dependencies: harness.dependencies + ["FuzzSupport"], path: "Fuzz/\(harness.name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
