/// Learning-rate schedules by update step, as transformers' optimization.py defines them:
/// `linear` is get_linear_schedule_with_warmup (0 → peak over the warm-up steps, then linearly
/// to 0 at the last step), `constant` is get_constant_schedule_with_warmup (the same warm-up,
/// then the peak rate).
public enum ScheduleKind: String, Sendable, CaseIterable {
    case linear, constant
}

public struct LearningRateSchedule: Sendable, Equatable {
    public var kind: ScheduleKind
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(kind: ScheduleKind, peak: Float, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// Warm-up steps from a ratio of the total, rounded up as transformers'
    /// TrainingArguments.get_warmup_steps does (math.ceil).
    public static func warmupSteps(ratio: Double, totalSteps: Int) -> Int {
        Int((Double(totalSteps) * ratio).rounded(.up))
    }

    /// The rate of update `step` (0-based: the first update uses step 0).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step) / Float(max(1, warmupSteps)) }
        switch kind {
        case .constant: return peak
        case .linear: return peak * max(0, Float(totalSteps - step) / Float(max(1, totalSteps - warmupSteps)))
        }
    }
}
