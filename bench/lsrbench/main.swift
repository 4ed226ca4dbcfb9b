// lsrbench: times lsrconv's RoBERTa forward pass or LSR train step (and the sgemm they rest on)
// for bench/run.py, which times PyTorch on the same model in the same run. Prints one JSON
// document.
//
//   lsrbench --model DIR --batch B --length T [--threads N] [--iterations K] [--warmup W]
//            [--mode forward|train|components|data-parallel]
//
// forward:    the forward pass (weights already loaded).
// train:      AdapterTraining.step (forward keeping activations, backward, factor gradients,
//             AdamW, Up/Down refreshed) with an LSR adapter on query+value and the head trained
//             (Train.swift); also the peak RSS of the process.
// components: the kernels of one train step timed one by one at the step's shapes, to see where
//             its time goes (Components.swift).
// data-parallel: Trainer.run's updates, alone or as a rank of `mpirun -np N lsrbench ...`
//             (--batch is then the global batch; DataParallel.swift).
//
// Token ids are drawn from a fixed-seed generator (no padding: every token real), as the
// PyTorch side does.
import Foundation
import LSREngine
import LSRFormats
import LSRModel

struct Arguments {
    enum Mode: String { case forward, train, components, dataParallel = "data-parallel" }
    var model = ""
    var mode = Mode.forward
    var batch = 16
    var length = 128
    var threads = 2
    var iterations = 5
    var warmup = 1
    // Train mode: the adapter (DESIGN.md §4, the paper's RoBERTa-base setting) and the step.
    var rank = 4
    var separationRank = 16
    var targets = "query,value"
    var lr: Float = 1e-4

    init(_ argv: [String]) throws {
        var i = 1
        func value() throws -> String {
            i += 1
            guard i < argv.count else { throw CommandError("\(argv[i - 1]) needs a value") }
            return argv[i]
        }
        while i < argv.count {
            switch argv[i] {
            case "--model": model = try value()
            case "--mode":
                let text = try value()
                guard let m = Mode(rawValue: text) else { throw CommandError("--mode \(text): forward, train, components or data-parallel") }
                mode = m
            case "--batch": batch = Int(try value()) ?? 0
            case "--length": length = Int(try value()) ?? 0
            case "--threads": threads = Int(try value()) ?? 0
            case "--iterations": iterations = Int(try value()) ?? 0
            case "--warmup": warmup = Int(try value()) ?? -1
            case "--rank": rank = Int(try value()) ?? 0
            case "--separation-rank": separationRank = Int(try value()) ?? 0
            case "--targets": targets = try value()
            case "--lr": lr = Float(try value()) ?? .nan
            default: throw CommandError("unknown argument \(argv[i])")
            }
            i += 1
        }
        guard !model.isEmpty, batch > 0, length > 0, threads > 0, iterations > 0, warmup >= 0, rank > 0, separationRank > 0, lr.isFinite else {
            throw CommandError(
                "usage: lsrbench --model DIR --batch B --length T [--threads N] [--iterations K] [--warmup W] [--mode forward|train|components|data-parallel]"
                    + " [--rank R] [--separation-rank S] [--targets query,value] [--lr LR]")
        }
    }
}

struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// Median of wall-clock seconds over `iterations` runs after `warmup` runs.
func time(iterations: Int, warmup: Int, _ body: () throws -> Void) rethrows -> (median: Double, all: [Double]) {
    let t = try timeWithCPU(iterations: iterations, warmup: warmup, body)
    return (t.median, t.all)
}

/// CPU seconds of the whole process (every thread), user + system.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// As `time`, with the process CPU seconds of each run beside its wall-clock seconds: on a
/// shared machine wall time also counts the time other processes held the cores, CPU time
/// only the work done (and any spinning).
func timeWithCPU(iterations: Int, warmup: Int, _ body: () throws -> Void) rethrows
    -> (median: Double, all: [Double], cpuMedian: Double, cpu: [Double])
{
    for _ in 0..<warmup { try body() }
    var seconds: [Double] = []
    var cpu: [Double] = []
    for _ in 0..<iterations {
        let (start, cpuStart) = (DispatchTime.now().uptimeNanoseconds, processCPUSeconds())
        try body()
        seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        cpu.append(processCPUSeconds() - cpuStart)
    }
    return (seconds.sorted()[seconds.count / 2], seconds, cpu.sorted()[cpu.count / 2], cpu)
}

/// sgemm GFLOP/s at the shape that dominates the forward pass (N tokens × C → F, the
/// intermediate projection): the better of OpenBLAS's own threading and the engine's row split
/// (BLAS.gemmRows with OpenBLAS single-threaded), so the bound is the machine's, not ours.
func sgemmRate(rows: Int, inner: Int, out: Int, threads: Int) -> Double {
    sgemmRates(rows: rows, inner: inner, out: out, threads: threads).wall
}

/// sgemmRate, and GFLOP per CPU-second of the same row-split sgemm (the rate of one core, as
/// every thread's CPU time is counted): a bound that other processes on the machine move less.
func sgemmRates(rows: Int, inner: Int, out: Int, threads: Int) -> (wall: Double, perCPUSecond: Double) {
    let a = FloatBuffer(count: rows * inner)
    let b = FloatBuffer(count: out * inner)
    let c = FloatBuffer(count: rows * out)
    for i in 0..<a.count { a.pointer[i] = Float(i % 7) * 0.01 }
    for i in 0..<b.count { b.pointer[i] = Float(i % 5) * 0.01 }
    BLAS.setThreads(threads)
    let (openblas, _) = time(iterations: 5, warmup: 1) {
        BLAS.gemm(transposeB: true, m: rows, n: out, k: inner, a: a.pointer, lda: inner, b: b.pointer, ldb: inner, c: c.pointer, ldc: out)
    }
    Engine.setThreads(threads)
    let (split, _, splitCPU, _) = timeWithCPU(iterations: 5, warmup: 1) {
        BLAS.gemmRows(transposeB: true, m: rows, n: out, k: inner, a: a.pointer, lda: inner, b: b.pointer, ldb: inner, c: c.pointer, ldc: out)
    }
    let flops = 2 * Double(rows) * Double(inner) * Double(out)
    FileHandle.standardError.write(Data(String(format: "sgemm %d×%d×%d: OpenBLAS threads %.1f GFLOP/s, row split %.1f GFLOP/s (%.1f per CPU-second)\n",
        rows, inner, out, flops / openblas / 1e9, flops / split / 1e9, flops / splitCPU / 1e9).utf8))
    return (flops / min(openblas, split) / 1e9, flops / splitCPU / 1e9)
}

/// Fixed-seed token ids (every token real, <s> first and </s> last in each row), as
/// bench/run.py's PyTorch side draws its own.
func randomBatch(config: RobertaConfig, batch: Int, length: Int) -> TokenBatch {
    var state: UInt64 = 42
    let n = batch * length
    var ids = [Int32](repeating: 0, count: n)
    for i in 0..<n {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        ids[i] = Int32(3 + Int(state >> 33) % (config.vocabSize - 3))
    }
    for b in 0..<batch {
        ids[b * length] = Int32(config.bosTokenId)
        ids[b * length + length - 1] = Int32(config.eosTokenId)
    }
    return TokenBatch(ids: ids, mask: [Int32](repeating: 1, count: n), batch: batch, length: length)
}

/// FLOPs of the forward pass: per layer the fused QKV (3C·C), attention output (C·C) and the two
/// feed-forward GEMMs (2·C·F) per token, plus Q·Kᵀ and P·V (2·T·C per token); embeddings, the
/// head and any adapter are negligible. Multiply-add = 2 FLOPs.
func forwardFlops(_ config: RobertaConfig, batch: Int, length: Int) -> Double {
    let (c, f, l, t) = (Double(config.hiddenSize), Double(config.intermediateSize), Double(config.numHiddenLayers), Double(length))
    return 2 * Double(batch * length) * l * (4 * c * c + 2 * c * f + 2 * t * c)
}

/// A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: the peak), -1 if absent.
func statusKiB(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
    }
    return -1
}

func forward(_ args: Arguments) throws {
    let model = try RobertaModel.load(args.model)
    let config = model.config
    let n = args.batch * args.length
    let batch = randomBatch(config: config, batch: args.batch, length: args.length)
    var workspace: RobertaWorkspace? = nil
    let timing = try time(iterations: args.iterations, warmup: args.warmup) { workspace = try model.forward(batch, workspace: workspace) }

    let flops = forwardFlops(config, batch: args.batch, length: args.length)
    let rate = sgemmRate(rows: min(n, 2048), inner: config.hiddenSize, out: config.intermediateSize, threads: args.threads)
    let result: JSONValue = [
        "engine": "lsrconv", "batch": JSONValue(args.batch), "length": JSONValue(args.length), "threads": JSONValue(args.threads),
        "seconds": .double(timing.median), "all_seconds": .array(timing.all.map { .double($0) }),
        "tokens_per_second": .double(Double(n) / timing.median), "gflop": .double(flops / 1e9),
        "sgemm_gflops": .double(rate), "sgemm_bound_seconds": .double(flops / 1e9 / rate),
        "blas": .string(BLAS.configuration),
        "logit0": .double(Double(workspace?.logits.pointer[0] ?? .nan)),
    ]
    report(result)
}

/// Prints a mode's result as one JSON document, with the kernels in force (`BLASKernels`: the
/// choice lsrconv makes at launch) added to it.
func report(_ result: JSONValue) {
    guard var object = result.objectValue else { return print(JSON.serialize(result, style: .pretty)) }
    let choice = BLASKernels.choice
    object["blas_core"] = .string(choice.coreInUse)
    object["blas_core_chosen_by"] = .string(choice.source.rawValue)
    object["blas_default_core"] = choice.openBLASDefault.map { .string($0) } ?? .null
    print(JSON.serialize(.object(object), style: .pretty))
}

// First: the same kernel choice as lsrconv (may start this process again with faster kernels).
for warning in BLASKernels.selectAtLaunch().warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }

do {
    let args = try Arguments(CommandLine.arguments)
    Engine.setThreads(args.threads)
    switch args.mode {
    case .forward: try forward(args)
    case .train: try train(args)
    case .components: try components(args)
    case .dataParallel: try dataParallel(args)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
