// The data-parallel benchmark (issue 8): Trainer.run, the very loop `lsrconv train` runs, on a
// roberta-base-sized classifier with an LSR adapter, one process or one rank of
// `mpirun -np N lsrbench --mode data-parallel`; each update's wall time on rank 0 and the time
// spent in the gradient all-reduce. bench/run.py (--bench data-parallel) runs 1 rank × 1
// thread, 2 ranks × 1 thread and 1 process × 2 threads.
import Foundation
import LSRDistributed
import LSREngine
import LSRFormats
import LSRModel
import LSRTokenizers
import LSRTrain

/// A communicator that forwards to another and adds up the seconds spent in its all-reduces
/// (the communication of a step, waiting for the slower rank included).
final class TimedCommunicator: Communicator {
    let inner: any Communicator
    var allReduceSeconds = 0.0
    var allReduceCalls = 0
    var allReduceFloats = 0
    init(_ inner: any Communicator) { self.inner = inner }
    var rank: Int { inner.rank }
    var size: Int { inner.size }
    func allReduceSum(_ buffers: [UnsafeMutableBufferPointer<Float>]) throws(DistributedError) {
        let start = DispatchTime.now().uptimeNanoseconds
        try inner.allReduceSum(buffers)
        allReduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        allReduceCalls += 1
        allReduceFloats = buffers.reduce(0) { $0 + $1.count }
    }
    func allReduceSum(_ values: inout [Double]) throws(DistributedError) { try inner.allReduceSum(&values) }
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int) throws(DistributedError) { try inner.broadcast(buffer, from: root) }
    func broadcast(_ bytes: inout [UInt8], from root: Int) throws(DistributedError) { try inner.broadcast(&bytes, from: root) }
    func barrier() throws(DistributedError) { try inner.barrier() }
    func finish() { inner.finish() }
    func abortJob(code: Int32) { inner.abortJob(code: code) }
}

func dataParallel(_ args: Arguments) throws {
    let communicator = TimedCommunicator(try Launch.communicator())
    let model = try RobertaModel.load(args.model)
    let config = model.config
    let steps = args.warmup + args.iterations
    // Distinct random rows (every token real), `batch` per update: all ranks draw the same.
    let tokens = randomBatch(config: config, batch: args.batch * steps, length: args.length)
    let rows = (0..<(args.batch * steps)).map { r in
        let ids = Array(tokens.ids[(r * args.length)..<((r + 1) * args.length)])
        return Encoding(ids: ids, tokens: ids.map { _ in "" }, typeIds: [Int32](repeating: 0, count: args.length))
    }
    let data = Trainer.Encoded(rows: rows, targets: .classes(randomLabels(count: rows.count, labels: model.weights.labelCount ?? 2)))
    let session = TrainingSession(training: try makeTraining(args, model: model))
    var options = Trainer.Options()
    (options.batchSize, options.maxSteps, options.epochs, options.learningRate) = (args.batch, steps, 1, args.lr)
    var stamps: [UInt64] = [DispatchTime.now().uptimeNanoseconds]
    var reduceAtStep: [Double] = [0]
    var hooks = Trainer.Hooks()
    hooks.events = { event in
        if case .step = event {
            stamps.append(DispatchTime.now().uptimeNanoseconds)
            reduceAtStep.append(communicator.allReduceSeconds)
        }
    }
    _ = try Trainer.run(session, train: data, eval: nil, options: options, hooks: hooks, communicator: communicator)
    let seconds = (args.warmup..<steps).map { Double(stamps[$0 + 1] - stamps[$0]) / 1e9 }
    let reduce = (args.warmup..<steps).map { reduceAtStep[$0 + 1] - reduceAtStep[$0] }
    if communicator.isLeader {
        let median = seconds.sorted()[seconds.count / 2]
        let result: JSONValue = [
            "engine": "lsrconv", "mode": "data-parallel", "ranks": JSONValue(communicator.size), "threads": JSONValue(Parallel.threads),
            "global_batch": JSONValue(args.batch), "length": JSONValue(args.length),
            "seconds": .double(median), "all_seconds": .array(seconds.map { .double($0) }),
            "examples_per_second": .double(Double(args.batch) / median),
            "allreduce_seconds": .double(reduce.sorted()[reduce.count / 2]), "all_allreduce_seconds": .array(reduce.map { .double($0) }),
            "allreduce_floats": JSONValue(communicator.allReduceFloats),
            "trained_parameters": JSONValue(session.training.optimizer.parameters.reduce(0) { $0 + $1.values.count }),
            "adapter_parameters": JSONValue(session.training.adapters.parameterCount),
        ]
        report(result)
    }
    communicator.finish()
}
