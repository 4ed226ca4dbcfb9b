import LSREngine

/// A training run in memory: the adapters being trained (with their optimiser), where the run
/// stands, and a copy of the trained values at the best evaluation so far. This is what a
/// checkpoint stores and what `--resume` rebuilds.
public final class TrainingSession: @unchecked Sendable {
    public let training: AdapterTraining
    public var state: TrainingState
    /// The trained tensors' values at `state.best` (optimizer parameter order), nil before any evaluation.
    public private(set) var bestValues: [FloatBuffer]?

    public init(training: AdapterTraining, state: TrainingState = TrainingState(), bestValues: [FloatBuffer]? = nil) {
        self.training = training
        self.state = state
        self.bestValues = bestValues
    }

    /// Copies the current values as the best.
    func rememberBest() {
        let parameters = training.optimizer.parameters
        if bestValues == nil { bestValues = parameters.map { FloatBuffer(count: $0.values.count) } }
        for (p, best) in zip(parameters, bestValues!) { best.pointer.update(from: p.values.pointer, count: p.values.count) }
    }

    /// Puts the best values back into the trained tensors (and the attached Up/Down).
    func restoreBest() {
        guard let bestValues else { return }
        for (p, best) in zip(training.optimizer.parameters, bestValues) { p.values.pointer.update(from: best.pointer, count: best.count) }
        training.refresh()
    }

    /// Installs restored best values (from a checkpoint).
    public func setBest(_ values: [FloatBuffer]?) { bestValues = values }
}
