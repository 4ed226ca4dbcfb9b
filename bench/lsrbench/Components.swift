// Where a train step's time goes. Two views, both at the benchmark's shapes:
//  1. the step's public phases, each timed on its own: the whole step, model.forward (keeping
//     activations), model.backward, AdapterTraining.computeGradients (both, then the factor
//     gradients) and AdapterTraining.update (AdamW and Up/Down materialised again);
//  2. every kernel one encoder layer runs forward and backward, called as RobertaModel does
//     (same engine entry points, same shapes and strides, on buffers of this file), each
//     timed alone and multiplied by its calls per step; plus the per-step kernels (Kronecker
//     factor gradients, materialisation, AdamW).
// Kernels timed alone run with warm caches, so their sum can fall short of the real step.
import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTrain

private struct Row {
    let name: String
    let category: String
    let perCall: Double
    let cpuPerCall: Double
    let calls: Int
    let gflopPerCall: Double
    var perStep: Double { perCall * Double(calls) }
}

func components(_ args: Arguments) throws {
    let model = try RobertaModel.load(args.model)
    let config = model.config
    let (b, t) = (args.batch, args.length)
    let (n, c, f, layers) = (b * t, config.hiddenSize, config.intermediateSize, config.numHiddenLayers)
    let shape = AttentionShape(batch: b, length: t, heads: config.numAttentionHeads, headDim: c / config.numAttentionHeads)
    let batch = randomBatch(config: config, batch: b, length: t)
    let targets = RobertaModel.Targets.classes(randomLabels(count: b, labels: model.weights.labelCount ?? 2))
    let training = try makeTraining(args, model: model)
    let reps = args.iterations

    // 1. Phases of the real step.
    var ws = try model.forward(batch, keepActivations: true)
    let grads = RobertaGradients(model: model, shape: ws.shape, trainHead: true)
    func phase(_ body: () throws -> Void) rethrows -> JSONValue {
        let t = try timeWithCPU(iterations: reps, warmup: args.warmup, body)
        return ["seconds": .double(t.median), "cpu_seconds": .double(t.cpuMedian)]
    }
    let stepPhase = try phase { _ = try training.step(batch, targets: targets, lr: args.lr) }
    let forwardPhase = try phase { ws = try model.forward(batch, workspace: ws, keepActivations: true) }
    let backwardPhase = phase { _ = model.backward(ws, targets: targets, grads: grads) }
    let gradientPhase = try phase { _ = try training.computeGradients(batch, targets: targets) }
    let updatePhase = phase { training.update(lr: args.lr) }

    // 2. Kernels of one layer, as RobertaModel.encoderLayer and backward call them.
    let layer = model.weights.layers[0]
    let deltas = model.adapters[0]
    func buffer(_ count: Int, seed: UInt64, scale: Float = 1) -> FloatBuffer {
        let buf = FloatBuffer(count: count)
        var g = SplitMix64(seed: seed)
        for i in 0..<count { buf.pointer[i] = scale * (2 * g.nextUnit() - 1) }
        return buf
    }
    let hidden = buffer(n * c, seed: 1)
    let input = FloatBuffer(count: n * c)
    let qkv = buffer(n * 3 * c, seed: 2)
    let keyMask = FloatBuffer([Float](repeating: 1, count: n))
    let probs = FloatBuffer(count: shape.probsCount)
    let context = buffer(n * c, seed: 3)
    let attentionSum = buffer(n * c, seed: 4)
    let (mean1, rstd1, mean2, rstd2) = (FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n))
    let attended = FloatBuffer(count: n * c)
    let intermediate = buffer(n * f, seed: 5)
    let activated = FloatBuffer(count: n * f)
    let outputSum = buffer(n * c, seed: 6)
    let out = FloatBuffer(count: n * c)
    Attention.forward(qkv: qkv.pointer, keyMask: keyMask.pointer, shape: shape, probs: probs.pointer, context: context.pointer)
    layer.attentionNorm.forward(attentionSum.pointer, rows: n, into: attended.pointer, mean: mean1.pointer, rstd: rstd1.pointer)
    layer.outputNorm.forward(outputSum.pointer, rows: n, into: out.pointer, mean: mean2.pointer, rstd: rstd2.pointer)
    Activation.gelu.forward(intermediate.pointer, count: n * f, into: activated.pointer)
    let dHidden = buffer(n * c, seed: 7, scale: 1e-3)
    let (dInput, dAttended, dAttentionSum, dContext, dOutputSum) = (
        FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: n * c)
    )
    let dQKV = FloatBuffer(count: n * 3 * c)
    let (dIntermediate, dActivated) = (FloatBuffer(count: n * f), FloatBuffer(count: n * f))
    let scratch = FloatBuffer(count: shape.probsCount)
    let dUp = FloatBuffer(count: c * args.rank)
    let dDown = FloatBuffer(count: args.rank * c)

    let linearFlops = { (inputs: Int, outputs: Int) in 2 * Double(n) * Double(inputs) * Double(outputs) / 1e9 }
    let attentionFlops = 2 * Double(n) * Double(t) * Double(c) / 1e9  // one of the T·C-per-token GEMMs
    var rows: [Row] = []
    func add(_ name: String, _ category: String, calls: Int, gflop: Double = 0, _ body: () -> Void) {
        let t = timeWithCPU(iterations: reps, warmup: args.warmup, body)
        rows.append(Row(name: name, category: category, perCall: t.median, cpuPerCall: t.cpuMedian, calls: calls, gflopPerCall: gflop))
    }
    let adapted: [(AdaptedLinear: RobertaModel.AdaptedLinear, offset: Int)] = [(.query, 0), (.key, c), (.value, 2 * c)]

    // Forward, per layer.
    add("forward: copy layer input", "copy/zero", calls: layers) { input.pointer.update(from: hidden.pointer, count: n * c) }
    add("forward: QKV Linear [N,C]·[3C,C]ᵀ + bias", "Linear GEMM", calls: layers, gflop: linearFlops(c, 3 * c)) {
        layer.queryKeyValue.forward(input.pointer, rows: n, into: qkv.pointer)
    }
    for (linear, offset) in adapted {
        guard let delta = deltas[linear] else { continue }
        add("forward: adapter \(linear.rawValue.split(separator: ".").last!)", "adapter", calls: layers) {
            delta.forward(input.pointer, rows: n, into: qkv.pointer + offset, ldy: 3 * c)
        }
    }
    add("forward: Attention.forward (QKᵀ, softmax, PV)", "attention", calls: layers, gflop: 2 * attentionFlops) {
        Attention.forward(qkv: qkv.pointer, keyMask: keyMask.pointer, shape: shape, probs: probs.pointer, context: context.pointer)
    }
    add("forward: attention output Linear [N,C]·[C,C]ᵀ", "Linear GEMM", calls: layers, gflop: linearFlops(c, c)) {
        layer.attentionOutput.forward(context.pointer, rows: n, into: attentionSum.pointer)
    }
    add("forward: residual add [N,C]", "elementwise", calls: 2 * layers) {
        Elementwise.add(input.pointer, into: attentionSum.pointer, count: n * c)
    }
    add("forward: LayerNorm [N,C]", "LayerNorm", calls: 2 * layers) {
        layer.attentionNorm.forward(attentionSum.pointer, rows: n, into: attended.pointer, mean: mean1.pointer, rstd: rstd1.pointer)
    }
    add("forward: intermediate Linear [N,C]·[F,C]ᵀ", "Linear GEMM", calls: layers, gflop: linearFlops(c, f)) {
        layer.intermediate.forward(attended.pointer, rows: n, into: intermediate.pointer)
    }
    add("forward: GELU [N,F]", "elementwise", calls: layers) {
        model.activation.forward(intermediate.pointer, count: n * f, into: activated.pointer)
    }
    add("forward: output Linear [N,F]·[C,F]ᵀ", "Linear GEMM", calls: layers, gflop: linearFlops(f, c)) {
        layer.output.forward(activated.pointer, rows: n, into: outputSum.pointer)
    }
    // Backward, per layer.
    add("backward: zero 8 gradient buffers (8·N·C + 2·N·F)", "copy/zero", calls: layers) {
        [dInput, dAttended, dAttentionSum, dContext, dQKV, dIntermediate, dActivated, dOutputSum].forEach { $0.zero() }
    }
    add("backward: LayerNorm [N,C]", "LayerNorm", calls: 2 * layers) {
        layer.outputNorm.backward(
            outputSum.pointer, mean: mean2.pointer, rstd: rstd2.pointer, dy: dHidden.pointer, rows: n, dx: dOutputSum.pointer)
    }
    add("backward: residual add [N,C]", "elementwise", calls: 2 * layers) {
        Elementwise.add(dOutputSum.pointer, into: dAttended.pointer, count: n * c)
    }
    add("backward: output Linear dX = dY·W [N,C]·[C,F]", "Linear GEMM", calls: layers, gflop: linearFlops(f, c)) {
        layer.output.backward(activated.pointer, dy: dOutputSum.pointer, rows: n, dx: dActivated.pointer)
    }
    add("backward: GELU [N,F]", "elementwise", calls: layers) {
        model.activation.backward(intermediate.pointer, y: activated.pointer, dy: dActivated.pointer, count: n * f, dx: dIntermediate.pointer)
    }
    add("backward: intermediate Linear dX [N,F]·[F,C]", "Linear GEMM", calls: layers, gflop: linearFlops(c, f)) {
        layer.intermediate.backward(attended.pointer, dy: dIntermediate.pointer, rows: n, dx: dAttended.pointer)
    }
    add("backward: attention output Linear dX [N,C]·[C,C]", "Linear GEMM", calls: layers, gflop: linearFlops(c, c)) {
        layer.attentionOutput.backward(context.pointer, dy: dAttentionSum.pointer, rows: n, dx: dContext.pointer)
    }
    add("backward: Attention.backward (4 GEMMs, softmax')", "attention", calls: layers, gflop: 4 * attentionFlops) {
        Attention.backward(
            qkv: qkv.pointer, probs: probs.pointer, dcontext: dContext.pointer, shape: shape, scratch: scratch.pointer, dqkv: dQKV.pointer)
    }
    add("backward: QKV Linear dX [N,3C]·[3C,C]", "Linear GEMM", calls: layers, gflop: linearFlops(c, 3 * c)) {
        layer.queryKeyValue.backward(input.pointer, dy: dQKV.pointer, rows: n, dx: dInput.pointer)
    }
    for (linear, offset) in adapted {
        guard let delta = deltas[linear] else { continue }
        add("backward: adapter \(linear.rawValue.split(separator: ".").last!)", "adapter", calls: layers) {
            delta.backward(input.pointer, dy: dQKV.pointer + offset, ldy: 3 * c, rows: n, dUp: dUp.pointer, dDown: dDown.pointer, dx: dInput.pointer)
        }
    }
    add("backward: copy dInput → dHidden", "copy/zero", calls: layers) { dHidden.pointer.update(from: dInput.pointer, count: n * c) }

    // Per step.
    let modules = training.adapters.modules
    let sums: [KroneckerSum] = modules.flatMap { m -> [KroneckerSum] in
        if case .lsr(let up, let down) = m.factors { return [up, down] }
        return []
    }
    if let sum = sums.first {
        let g = buffer(sum.rows * sum.columns, seed: 8)
        let (dl, dr) = (FloatBuffer(count: sum.left.count), FloatBuffer(count: sum.right.count))
        add("step: KroneckerSum.backward (factor gradients)", "adapter factors", calls: sums.count) {
            sum.backward(g.pointer, dLeft: dl.pointer, dRight: dr.pointer)
        }
        add("step: KroneckerSum.materialize", "adapter factors", calls: sums.count) { sum.materialize(into: g.pointer) }
    }
    let optimizer = Optimizer(
        parameters: training.optimizer.parameters.map { Optimizer.Parameter(values: FloatBuffer(count: $0.values.count), gradient: $0.gradient) },
        settings: training.optimizer.settings)
    add("step: AdamW over \(optimizer.parameters.reduce(0) { $0 + $1.values.count }) parameters", "optimizer", calls: 1) {
        optimizer.step(lr: args.lr)
    }

    // 3. Candidate rewrites (Prototypes.swift) beside the engine's kernels: seconds per call of
    //    each, calls per step, and the largest difference of their outputs.
    var prototypes: [JSONValue] = []
    // Engine and prototype alternate call by call (a shared machine's speed drifts), each timed
    // in wall-clock and in process CPU seconds; medians.
    func compare(_ name: String, calls: Int, engine: () -> Void, prototype: () -> Void, outputs: [(FloatBuffer, FloatBuffer)], reset: () -> Void)
    {
        var (engineWall, engineCPU, prototypeWall, prototypeCPU) = ([Double](), [Double](), [Double](), [Double]())
        engine()
        prototype()
        for _ in 0..<max(reps, 5) {
            let e = timeWithCPU(iterations: 1, warmup: 0, engine)
            let p = timeWithCPU(iterations: 1, warmup: 0, prototype)
            engineWall.append(e.median)
            engineCPU.append(e.cpuMedian)
            prototypeWall.append(p.median)
            prototypeCPU.append(p.cpuMedian)
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let (engineSeconds, prototypeSeconds) = (median(engineWall), median(prototypeWall))
        reset()
        engine()
        let engineOutputs = outputs.map { $0.0.array }
        reset()
        prototype()
        var difference: Float = 0
        var scale: Float = 0
        for (e, (_, p)) in zip(engineOutputs, outputs) {
            for (a, b) in zip(e, p.array) {
                difference = max(difference, abs(a - b))
                scale = max(scale, abs(a))
            }
        }
        prototypes.append([
            "name": .string(name), "calls_per_step": JSONValue(calls), "engine_seconds_per_call": .double(engineSeconds),
            "prototype_seconds_per_call": .double(prototypeSeconds),
            "engine_cpu_seconds_per_call": .double(median(engineCPU)), "prototype_cpu_seconds_per_call": .double(median(prototypeCPU)),
            "saved_seconds_per_step": .double((engineSeconds - prototypeSeconds) * Double(calls)),
            "max_abs_difference": .double(Double(difference)), "max_abs_value": .double(Double(scale)),
        ])
    }
    let dIntermediate2 = FloatBuffer(count: n * f)
    compare(
        "GELU backward, 8-lane loads/stores (Activation.backward .gelu)", calls: layers,
        engine: { model.activation.backward(intermediate.pointer, y: activated.pointer, dy: dActivated.pointer, count: n * f, dx: dIntermediate.pointer) },
        prototype: { Prototype.geluBackward(intermediate.pointer, dy: dActivated.pointer, count: n * f, dx: dIntermediate2.pointer) },
        outputs: [(dIntermediate, dIntermediate2)], reset: { dIntermediate.zero(); dIntermediate2.zero() })
    let (probs2, context2) = (FloatBuffer(count: shape.probsCount), FloatBuffer(count: n * c))
    compare(
        "Attention.forward, softmax on 8 lanes (no padding)", calls: layers,
        engine: { Attention.forward(qkv: qkv.pointer, keyMask: keyMask.pointer, shape: shape, probs: probs.pointer, context: context.pointer) },
        prototype: { Prototype.attentionForward(qkv: qkv.pointer, shape: shape, probs: probs2.pointer, context: context2.pointer) },
        outputs: [(probs, probs2), (context, context2)], reset: {})
    if let delta = deltas[.query] {
        let (dUp2, dDown2, dInput2) = (FloatBuffer(count: dUp.count), FloatBuffer(count: dDown.count), FloatBuffer(count: n * c))
        let scratch2 = FloatBuffer(count: 2 * n * args.rank)
        let partials = FloatBuffer(count: 2 * max(1, args.threads) * args.rank * 2 * c)
        // dy with the scale of a real step's dQKV (the engine's is whatever the kernels above left).
        let dy = buffer(n * 3 * c, seed: 9, scale: 1e-3)
        compare(
            "adapter backward, rows split over the workers (LowRankDelta.backward)", calls: 2 * layers,
            engine: { delta.backward(input.pointer, dy: dy.pointer, ldy: 3 * c, rows: n, dUp: dUp.pointer, dDown: dDown.pointer, dx: dInput.pointer) },
            prototype: {
                Prototype.adapterBackward(
                    delta, x: input.pointer, dy: dy.pointer, ldy: 3 * c, rows: n, dUp: dUp2.pointer, dDown: dDown2.pointer, dx: dInput2.pointer,
                    scratch: scratch2.pointer, partials: partials.pointer)
            }, outputs: [(dUp, dUp2), (dDown, dDown2), (dInput, dInput2)],
            reset: { [dUp, dDown, dInput, dUp2, dDown2, dInput2].forEach { $0.zero() } })
        let (y1, y2) = (FloatBuffer(count: n * 3 * c), FloatBuffer(count: n * 3 * c))
        compare(
            "adapter forward, rows split over the workers (LowRankDelta.forward)", calls: 2 * layers,
            engine: { delta.forward(input.pointer, rows: n, into: y1.pointer, ldy: 3 * c) },
            prototype: { Prototype.adapterForward(delta, x: input.pointer, rows: n, into: y2.pointer, ldy: 3 * c, scratch: scratch2.pointer) },
            outputs: [(y1, y2)], reset: { y1.zero(); y2.zero() })
    }

    let kernelSum = rows.reduce(0) { $0 + $1.perStep }
    var categories: [String: Double] = [:]
    for r in rows { categories[r.category, default: 0] += r.perStep }
    let result: JSONValue = [
        "engine": "lsrconv", "mode": "components", "batch": JSONValue(b), "length": JSONValue(t), "threads": JSONValue(args.threads),
        "phases": [
            "step": stepPhase, "forward_keep_activations": forwardPhase, "backward": backwardPhase,
            "compute_gradients (forward, backward, factor gradients)": gradientPhase, "update (AdamW, materialize)": updatePhase,
        ],
        "kernel_sum_seconds": .double(kernelSum),
        "prototypes": .array(prototypes),
        "categories": .object(JSONObject(categories.sorted { $0.value > $1.value }.map { ($0.key, JSONValue.double($0.value)) })),
        "kernels": .array(
            rows.map { r in
                [
                    "name": .string(r.name), "category": .string(r.category), "seconds_per_call": .double(r.perCall),
                    "cpu_seconds_per_call": .double(r.cpuPerCall),
                    "calls_per_step": JSONValue(r.calls), "seconds_per_step": .double(r.perStep),
                    "gflops": r.gflopPerCall > 0 ? .double(r.gflopPerCall / r.perCall) : .null,
                ]
            }),
    ]
    report(result)
}
