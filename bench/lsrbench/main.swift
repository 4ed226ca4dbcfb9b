// lsrbench: times lsrconv's RoBERTa forward pass (and the sgemm it rests on) for bench/run.py,
// which times PyTorch on the same model in the same run. Prints one JSON document.
//
//   lsrbench --model DIR --batch B --length T [--threads N] [--iterations K] [--warmup W]
//
// Token ids are drawn from a fixed-seed generator (no padding: every token real), as the
// PyTorch side does; timing covers the forward pass only (weights already loaded).
import Foundation
import LSREngine
import LSRFormats
import LSRModel

struct Arguments {
    var model = ""
    var batch = 16
    var length = 128
    var threads = 2
    var iterations = 5
    var warmup = 1

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
            case "--batch": batch = Int(try value()) ?? 0
            case "--length": length = Int(try value()) ?? 0
            case "--threads": threads = Int(try value()) ?? 0
            case "--iterations": iterations = Int(try value()) ?? 0
            case "--warmup": warmup = Int(try value()) ?? -1
            default: throw CommandError("unknown argument \(argv[i])")
            }
            i += 1
        }
        guard !model.isEmpty, batch > 0, length > 0, threads > 0, iterations > 0, warmup >= 0 else {
            throw CommandError("usage: lsrbench --model DIR --batch B --length T [--threads N] [--iterations K] [--warmup W]")
        }
    }
}

struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// Median of wall-clock seconds over `iterations` runs after `warmup` runs.
func time(iterations: Int, warmup: Int, _ body: () throws -> Void) rethrows -> (median: Double, all: [Double]) {
    for _ in 0..<warmup { try body() }
    var seconds: [Double] = []
    for _ in 0..<iterations {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return (seconds.sorted()[seconds.count / 2], seconds)
}

/// sgemm GFLOP/s at the shape that dominates the forward pass (N tokens × C → F, the
/// intermediate projection): the better of OpenBLAS's own threading and the engine's row split
/// (BLAS.gemmRows with OpenBLAS single-threaded), so the bound is the machine's, not ours.
func sgemmRate(rows: Int, inner: Int, out: Int, threads: Int) -> Double {
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
    let (split, _) = time(iterations: 5, warmup: 1) {
        BLAS.gemmRows(transposeB: true, m: rows, n: out, k: inner, a: a.pointer, lda: inner, b: b.pointer, ldb: inner, c: c.pointer, ldc: out)
    }
    let flops = 2 * Double(rows) * Double(inner) * Double(out)
    FileHandle.standardError.write(Data(String(format: "sgemm %d×%d×%d: OpenBLAS threads %.1f GFLOP/s, row split %.1f GFLOP/s\n",
        rows, inner, out, flops / openblas / 1e9, flops / split / 1e9).utf8))
    return flops / min(openblas, split) / 1e9
}

func run() throws {
    let args = try Arguments(CommandLine.arguments)
    Engine.setThreads(args.threads)
    let model = try RobertaModel.load(args.model)
    let config = model.config
    var state: UInt64 = 42
    let n = args.batch * args.length
    var ids = [Int32](repeating: 0, count: n)
    for i in 0..<n {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        ids[i] = Int32(3 + Int(state >> 33) % (config.vocabSize - 3))
    }
    for b in 0..<args.batch {
        ids[b * args.length] = Int32(config.bosTokenId)
        ids[b * args.length + args.length - 1] = Int32(config.eosTokenId)
    }
    let batch = TokenBatch(ids: ids, mask: [Int32](repeating: 1, count: n), batch: args.batch, length: args.length)
    var workspace: RobertaWorkspace? = nil
    let timing = try time(iterations: args.iterations, warmup: args.warmup) { workspace = try model.forward(batch, workspace: workspace) }

    // FLOPs of the pass: per layer the fused QKV (3C·C), attention output (C·C) and the two
    // feed-forward GEMMs (2·C·F) per token, plus Q·Kᵀ and P·V (2·T·C per token); the head is
    // negligible. Multiply-add = 2 FLOPs.
    let (c, f, l, t) = (Double(config.hiddenSize), Double(config.intermediateSize), Double(config.numHiddenLayers), Double(args.length))
    let flops = 2 * Double(n) * l * (4 * c * c + 2 * c * f + 2 * t * c)
    let rate = sgemmRate(rows: min(n, 2048), inner: config.hiddenSize, out: config.intermediateSize, threads: args.threads)
    let result: JSONValue = [
        "engine": "lsrconv", "batch": JSONValue(args.batch), "length": JSONValue(args.length), "threads": JSONValue(args.threads),
        "seconds": .double(timing.median), "all_seconds": .array(timing.all.map { .double($0) }),
        "tokens_per_second": .double(Double(n) / timing.median), "gflop": .double(flops / 1e9),
        "sgemm_gflops": .double(rate), "sgemm_bound_seconds": .double(flops / 1e9 / rate),
        "blas": .string(BLAS.configuration),
        "logit0": .double(Double(workspace?.logits.pointer[0] ?? .nan)),
    ]
    print(JSON.serialize(result, style: .pretty))
}

do { try run() } catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
