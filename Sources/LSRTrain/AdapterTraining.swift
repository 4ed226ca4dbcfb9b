import LSRAdapters
import LSREngine
import LSRModel

/// One training step of adapters (and the head) on a frozen RoBERTa: forward keeping the
/// activations, backward, factor gradients through the reshape contraction (DESIGN.md §4),
/// an optimiser update, and Up/Down materialised again into the attached adapter terms. The
/// base weights never change.
public final class AdapterTraining: @unchecked Sendable {
    public let model: RobertaModel
    public let adapters: AdapterSet
    public let optimizer: Optimizer
    /// Per module: its factors, the attached term whose Up/Down are refreshed after each update,
    /// and the gradient buffers of the factors.
    struct Slot {
        let layer: Int
        let linear: RobertaModel.AdaptedLinear
        let module: AdaptedModule
        let delta: LowRankDelta
        let gradients: [FloatBuffer]  // LSR: up left, up right, down left, down right[, up λ, down λ]; LoRA: up, down
    }
    let slots: [Slot]
    let trainScales: Bool
    var workspace: RobertaWorkspace?
    var gradients: RobertaGradients?
    let trainHead: Bool

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case noHead
        public var description: String { "the model has no classification head (classifier.*) to train" }
    }

    /// Attaches `adapters` to `model` and prepares the optimiser over their factors (λ only with
    /// trainable scales) and, with `trainHead`, the classification head.
    public init(model: RobertaModel, adapters: AdapterSet, trainHead: Bool, settings: Optimizer.Settings) throws {
        guard let classifier = model.weights.classifier else { throw Error.noHead }
        model.detachAll()
        try adapters.attach(to: model)
        self.model = model
        self.adapters = adapters
        self.trainHead = trainHead
        trainScales = adapters.hyperparameters.trainableScales
        var parameters: [Optimizer.Parameter] = []
        var slots: [Slot] = []
        for module in adapters.modules {
            let (layer, linear) = RobertaModel.AdaptedLinear.parse(module.name)!  // attach checked the names
            let delta = model.adapters[layer][linear]!
            var values: [FloatBuffer]
            switch module.factors {
            case .lsr(let up, let down):
                values = [up.left, up.right, down.left, down.right]
                if trainScales { values += [up.scales, down.scales] }
            case .lora(let up, let down):
                values = [up, down]
            }
            let grads = values.map { FloatBuffer(count: $0.count) }
            parameters += zip(values, grads).map { Optimizer.Parameter(values: $0, gradient: $1) }
            slots.append(Slot(layer: layer, linear: linear, module: module, delta: delta, gradients: grads))
        }
        self.slots = slots
        if trainHead {
            headParameters = [classifier.dense.weight, classifier.dense.bias!, classifier.outProjection.weight, classifier.outProjection.bias!]
            headGradients = headParameters.map { FloatBuffer(count: $0.count) }
            parameters += zip(headParameters, headGradients).map { Optimizer.Parameter(values: $0, gradient: $1) }
        } else {
            headParameters = []
            headGradients = []
        }
        optimizer = Optimizer(parameters: parameters, settings: settings)
    }
    let headParameters: [FloatBuffer]
    let headGradients: [FloatBuffer]

    /// Forward and backward on `batch`: the loss, with every trained tensor's gradient filled
    /// (`accumulate`: added to the gradients already there, for gradient accumulation).
    /// `dropout`: training-mode dropout with masks drawn for micro-batch `stream` (DropoutSettings).
    /// `firstRow` and `lossScale`: for a data-parallel rank's share of a micro-batch, where it
    /// starts (the dropout masks) and its rows' fraction of the micro-batch (the gradients are
    /// scaled by it, so that the ranks' sum is the micro-batch's mean); 0 and 1 in one process.
    public func computeGradients(
        _ batch: TokenBatch, targets: RobertaModel.Targets, accumulate: Bool = false, dropout: DropoutSettings? = nil, stream: UInt64 = 0,
        firstRow: Int = 0, lossScale: Float = 1
    ) throws -> Double {
        let ws = try model.forward(batch, workspace: workspace, keepActivations: true, dropout: dropout, stream: stream, firstRow: firstRow)
        workspace = ws
        if gradients == nil || gradients!.shape != ws.shape {
            gradients = RobertaGradients(model: model, shape: ws.shape, trainHead: trainHead)
        }
        let g = gradients!
        let loss = model.backward(ws, targets: targets, grads: g, lossScale: lossScale)
        if !accumulate { zeroGradients() }
        for slot in slots {
            let d = g.adapters[slot.layer][slot.linear]!
            switch slot.module.factors {
            case .lsr(let up, let down):
                // KroneckerSum.backward adds into its outputs.
                let gs = slot.gradients
                up.backward(d.up.pointer, dLeft: gs[0].pointer, dRight: gs[1].pointer, dScales: trainScales ? gs[4].pointer : nil)
                down.backward(d.down.pointer, dLeft: gs[2].pointer, dRight: gs[3].pointer, dScales: trainScales ? gs[5].pointer : nil)
            case .lora:
                Elementwise.add(d.up.pointer, into: slot.gradients[0].pointer, count: d.up.count)
                Elementwise.add(d.down.pointer, into: slot.gradients[1].pointer, count: d.down.count)
            }
        }
        if let head = g.head {
            for (dst, src) in zip(headGradients, [head.denseWeight, head.denseBias, head.outWeight, head.outBias]) {
                Elementwise.add(src.pointer, into: dst.pointer, count: src.count)
            }
        }
        return loss
    }

    /// Sets every trained tensor's gradient to 0 (a rank with no rows in a micro-batch adds nothing).
    public func zeroGradients() {
        optimizer.parameters.forEach { $0.gradient.zero() }
    }

    /// The gradient buffers in the optimiser's order: what data-parallel ranks sum each step.
    public var gradientBuffers: [UnsafeMutableBufferPointer<Float>] {
        optimizer.parameters.map { UnsafeMutableBufferPointer(start: $0.gradient.pointer, count: $0.gradient.count) }
    }

    /// Applies the optimiser (gradients scaled by `gradientScale`: clipping, the mean over
    /// accumulated micro-batches) and refreshes the attached Up/Down from the updated factors.
    public func update(lr: Float, gradientScale: Float = 1) {
        optimizer.step(lr: lr, gradientScale: gradientScale)
        refresh()
    }

    /// Materialises Up and Down again from the factors into the attached terms (after an
    /// update, or after the factor values were restored from a checkpoint).
    public func refresh() {
        for slot in slots {
            switch slot.module.factors {
            case .lsr(let up, let down):
                up.materialize(into: slot.delta.up.pointer)
                down.materialize(into: slot.delta.down.pointer)
            case .lora:
                break  // the attached term holds the LoRA matrices themselves
            }
        }
    }

    /// One full step: gradients, then the update. Returns the loss before the update.
    public func step(_ batch: TokenBatch, targets: RobertaModel.Targets, lr: Float) throws -> Double {
        let loss = try computeGradients(batch, targets: targets)
        update(lr: lr)
        return loss
    }
}
