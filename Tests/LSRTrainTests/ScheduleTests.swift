import Foundation
import LSRAdapters
import LSREngine
import LSRFormats
import LSRModel
import LSRTrain
import TestSupport
import Testing

/// The training loop's arithmetic against its references: learning-rate schedules and warm-up
/// step counts as transformers 5.23 computes them, the clipping factor as torch 2.13's
/// clip_grad_norm_ (all from Fixtures/reference/schedules.json, written by
/// Fixtures/generate/schedule_reference.py), and gradient accumulation against one big batch.
@Suite struct ScheduleTests {
    static func reference() throws -> JSONValue {
        try JSON.parse(String(decoding: readFile(TestPaths.fixture("reference/schedules.json")), as: UTF8.self))
    }

    @Test func schedulesMatchTransformers() throws {
        let cases = try #require(try Self.reference()["schedules"]?.arrayValue)
        #expect(cases.count == 5)
        for c in cases {
            let kind = try #require(ScheduleKind(rawValue: c["kind"]?.stringValue ?? ""))
            let peak = try #require(c["peak"]?.doubleValue)
            let schedule = LearningRateSchedule(
                kind: kind, peak: Float(peak), warmupSteps: try #require(c["warmup"]?.intValue), totalSteps: try #require(c["total"]?.intValue))
            let rates = try #require(c["rates"]?.arrayValue).compactMap(\.doubleValue)
            #expect(rates.count == schedule.totalSteps)
            // rate(at:) is f32: rounding the rate costs ≤ u·peak = 6e-8·peak, its two or three
            // operations before that a few ulps more; transformers computes in double.
            for (step, want) in rates.enumerated() {
                let got = Double(schedule.rate(at: step))
                #expect(abs(got - want) <= 1e-6 * peak, "\(kind) step \(step): \(got), transformers \(want)")
            }
        }
    }

    @Test func warmupStepsFromARatio() throws {
        let cases = try #require(try Self.reference()["warmup"]?.arrayValue)
        for c in cases {
            let (ratio, total, want) = (c["ratio"]!.doubleValue!, c["total"]!.intValue!, c["steps"]!.intValue!)
            #expect(LearningRateSchedule.warmupSteps(ratio: ratio, totalSteps: total) == want, "ratio \(ratio) of \(total)")
        }
    }

    /// The global norm over every gradient and the factor torch multiplies them by.
    @Test func clippingMatchesTorch() throws {
        let cases = try #require(try Self.reference()["clipping"]?.arrayValue)
        #expect(cases.count == 4)
        for c in cases {
            let gradients = try #require(c["gradients"]?.arrayValue).map { $0.arrayValue!.map { Float($0.doubleValue!) } }
            let optimizer = Optimizer(parameters: gradients.map { g in
                let p = Optimizer.Parameter(values: FloatBuffer(count: g.count), gradient: FloatBuffer(g))
                return p
            })
            // lsrconv sums the squares in double; torch's f32 norm of these 19 values is within
            // ½·20u + ½u ≈ 6.3e-7 relative of exact (worst case), and so is the factor: 1e-6.
            let norm = optimizer.gradientNorm
            let want = c["total_norm"]!.doubleValue!
            #expect(abs(norm - want) <= 1e-6 * want, "norm \(norm), torch \(want)")
            let factor = Optimizer.clipFactor(norm: norm, maxNorm: c["max_norm"]!.doubleValue!)
            let wantFactor = c["factor"]!.doubleValue!
            #expect(abs(factor - wantFactor) <= 1e-6 * wantFactor, "factor \(factor), torch \(wantFactor)")
            #expect(Optimizer.clipFactor(norm: norm, maxNorm: 0) == 1, "0 turns clipping off")
        }
    }

    /// Two micro-batches of 3 accumulated give the gradient of the 6-row batch they split:
    /// the mean of the two means equals the mean over 6 when the halves are equal in size.
    @Test func accumulationEqualsTheWholeBatch() throws {
        let rows = try referenceBatch()
        let labels = [0, 1, 1, 0, 1, 0]
        func part(_ items: Range<Int>) -> TokenBatch {
            let (t, ids, mask) = (rows.length, rows.ids, rows.mask)
            return TokenBatch(
                ids: items.flatMap { ids[$0 * t..<($0 + 1) * t] }, mask: items.flatMap { mask[$0 * t..<($0 + 1) * t] }, batch: items.count, length: t)
        }
        func gradients(accumulated: Bool) throws -> [[Float]] {
            let model = try RobertaModel.load(TestPaths.fixture("tiny-roberta"))
            let training = try AdapterTraining(
                model: model, adapters: try AdapterFile.read(TestPaths.fixture("reference/adapter")), trainHead: true, settings: Optimizer.Settings())
            if accumulated {
                _ = try training.computeGradients(part(0..<3), targets: .classes(Array(labels[0..<3])))
                _ = try training.computeGradients(part(3..<6), targets: .classes(Array(labels[3..<6])), accumulate: true)
                return training.optimizer.parameters.map { $0.gradient.array.map { $0 / 2 } }
            }
            _ = try training.computeGradients(part(0..<6), targets: .classes(labels))
            return training.optimizer.parameters.map(\.gradient.array)
        }
        // The same kernels in this process, but other orders: the whole batch sums its 402 token
        // rows at once, the halves 201 each and then add; ≈ √n·u ≈ 1e-6 relative per product,
        // chained through the layers (GradientParityTests): 1e-5 relative to each tensor's scale.
        let (split, whole) = (try gradients(accumulated: true), try gradients(accumulated: false))
        #expect(split.count == whole.count && split.count > 4)
        for (i, (a, b)) in zip(split, whole).enumerated() {
            let scale = b.reduce(Float(0)) { max($0, abs($1)) }
            #expect(maxAbsDifference(a, b) <= 1e-5 * scale, "tensor \(i): max |Δ| \(maxAbsDifference(a, b)) of \(scale)")
        }
    }

    /// Micro-batches per epoch round up; an epoch's last partial group still makes an update.
    @Test func planCountsUpdates() {
        var options = Trainer.Options()
        (options.batchSize, options.gradientAccumulation, options.epochs, options.warmupRatio) = (4, 3, 2, 0.1)
        let plan = Trainer.Plan(examples: 26, options: options)
        #expect(plan.microBatchesPerEpoch == 7)
        #expect(plan.updatesPerEpoch == 3)
        #expect(plan.totalSteps == 6)
        #expect(plan.schedule.warmupSteps == 1)
        options.maxSteps = 4
        options.warmupSteps = 2
        #expect(Trainer.Plan(examples: 26, options: options).totalSteps == 4)
        #expect(Trainer.Plan(examples: 26, options: options).schedule.warmupSteps == 2)
    }
}
