// The train-step benchmark (issue 6): AdapterTraining.step on a roberta-base-sized classifier
// with an LSR adapter, timed after a warm-up, with the process's peak RSS.
import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTrain

/// FLOPs a train step must do, counted as the forward's (forwardFlops) plus the activation
/// gradients of the backward: per layer the transposed GEMM of each Linear (dX = dY·W, as many
/// FLOPs as its forward) and four attention GEMMs (dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K,
/// dK = dSᵀ·Q: 4·T·C multiply-adds per token), less layer 0's dX of the QKV projection, which
/// nothing needs (the embeddings are frozen). Frozen weights need no dW. Left out as negligible:
/// the adapters (~45k multiply-adds per token and layer against ~7.5M), softmax, LayerNorm, GELU,
/// the head, AdamW.
func trainFlops(_ config: RobertaConfig, batch: Int, length: Int) -> Double {
    let (n, c, f, l, t) = (
        Double(batch * length), Double(config.hiddenSize), Double(config.intermediateSize), Double(config.numHiddenLayers), Double(length)
    )
    let backward = 2 * n * l * (4 * c * c + 2 * c * f + 4 * t * c) - 2 * n * 3 * c * c
    return forwardFlops(config, batch: batch, length: length) + backward
}

/// Class ids 0..<labels from a fixed-seed generator, one per item.
func randomLabels(count: Int, labels: Int) -> [Int] {
    var state: UInt64 = 7
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(state >> 33) % labels
    }
}

/// The adapter of the benchmark: LSR r = `rank` (FactorSplit.auto: 4 = 2×2), s =
/// `separationRank`, 768 = 32·24 (FactorSplit.auto), α = 8, λ fixed at 1, on `targets`.
func makeTraining(_ args: Arguments, model: RobertaModel) throws -> AdapterTraining {
    var options = AdapterInit.Options()
    options.kind = .lsr
    options.rank = args.rank
    options.separationRank = args.separationRank
    options.targets = args.targets.split(separator: ",").map(String.init)
    let adapters = try AdapterInit.make(config: model.config, weights: [], options: options)
    var settings = Optimizer.Settings()
    settings.kind = .adamw
    settings.weightDecay = 0.01
    return try AdapterTraining(model: model, adapters: adapters, trainHead: true, settings: settings)
}

func train(_ args: Arguments) throws {
    let rssStart = statusKiB("VmRSS")
    let model = try RobertaModel.load(args.model)
    let rssLoaded = statusKiB("VmRSS")
    let (anonLoaded, fileLoaded) = (statusKiB("RssAnon"), statusKiB("RssFile"))
    let config = model.config
    let n = args.batch * args.length
    let batch = randomBatch(config: config, batch: args.batch, length: args.length)
    let targets = RobertaModel.Targets.classes(randomLabels(count: args.batch, labels: model.weights.labelCount ?? 2))
    let training = try makeTraining(args, model: model)
    var losses: [Double] = []
    let timing = try timeWithCPU(iterations: args.iterations, warmup: args.warmup) {
        losses.append(try training.step(batch, targets: targets, lr: args.lr))
    }
    let peak = statusKiB("VmHWM")
    let rssEnd = statusKiB("VmRSS")

    let flops = trainFlops(config, batch: args.batch, length: args.length)
    let (rate, cpuRate) = sgemmRates(rows: min(n, 2048), inner: config.hiddenSize, out: config.intermediateSize, threads: args.threads)
    let trained = training.optimizer.parameters.reduce(0) { $0 + $1.values.count }
    let result: JSONValue = [
        "engine": "lsrconv", "mode": "train", "batch": JSONValue(args.batch), "length": JSONValue(args.length),
        "threads": JSONValue(args.threads),
        "seconds": .double(timing.median), "all_seconds": .array(timing.all.map { .double($0) }),
        "cpu_seconds": .double(timing.cpuMedian), "all_cpu_seconds": .array(timing.cpu.map { .double($0) }),
        "tokens_per_second": .double(Double(n) / timing.median), "gflop": .double(flops / 1e9),
        "forward_gflop": .double(forwardFlops(config, batch: args.batch, length: args.length) / 1e9),
        "sgemm_gflops": .double(rate), "sgemm_bound_seconds": .double(flops / 1e9 / rate),
        "sgemm_gflops_per_cpu_second": .double(cpuRate), "sgemm_bound_cpu_seconds": .double(flops / 1e9 / cpuRate),
        "trained_parameters": JSONValue(trained), "adapter_parameters": JSONValue(training.adapters.parameterCount),
        "losses": .array(losses.map { .double($0) }),
        "rss_start_kib": JSONValue(rssStart), "rss_loaded_kib": JSONValue(rssLoaded), "rss_end_kib": JSONValue(rssEnd),
        "peak_rss_kib": JSONValue(peak),
        "rss_anon_loaded_kib": JSONValue(anonLoaded), "rss_file_loaded_kib": JSONValue(fileLoaded),
        "rss_anon_end_kib": JSONValue(statusKiB("RssAnon")), "rss_file_end_kib": JSONValue(statusKiB("RssFile")),
        "blas": .string(BLAS.configuration),
    ]
    report(result)
}
