import LSRDistributed
import LSREngine
import LSRFormats

/// What the ranks of a data-parallel run (see `Trainer`) must share before the first step: the
/// same inputs and settings (checked: each rank compares its own with rank 0's, which include
/// the data order's seed), and rank 0's starting point (sent: the trained tensors, Adam's
/// moments and the position), so that a fresh or resumed run starts every rank from one state
/// however each rank read its files.
public enum DataParallel {
    /// Fails on every rank whose `settings` (the run's: model and data digests, options, seed;
    /// what a checkpoint records) differ from rank 0's, naming the first key that differs.
    public static func checkSame(_ settings: JSONObject, communicator: any Communicator) throws {
        guard communicator.size > 1 else { return }
        var bytes = JSON.data(.object(settings))
        try communicator.broadcast(&bytes, from: 0)
        let leader = try JSON.parse(bytes).objectValue ?? [:]  // rank 0 sent an object
        let difference = TrainingCheckpoint.firstDifference(leader, settings)
        // Every rank learns whether any differs before going on: rank 0 must not start writing.
        var differing = [difference == nil ? 0.0 : 1]
        try communicator.allReduceSum(&differing)
        if let d = difference {
            throw DistributedError.mismatch(rank: communicator.rank, what: "\(d.key) = \(d.second), rank 0 has \(d.first)")
        }
        if differing[0] > 0 { throw DistributedError.otherRankFailed(count: Int(differing[0])) }
    }
}

extension TrainingSession {
    /// Makes every rank's session rank 0's: trained values, Adam's moments and step count, and
    /// the position in the run (step, epoch, micro-batches). The log and the best values so far
    /// stay rank 0's alone: only rank 0 writes them.
    public func synchronize(_ communicator: any Communicator) throws(DistributedError) {
        guard communicator.size > 1 else { return }
        for p in training.optimizer.parameters {
            for buffer in [p.values, p.m, p.v] {
                try communicator.broadcast(UnsafeMutableBufferPointer(start: buffer.pointer, count: buffer.count), from: 0)
            }
        }
        let positions = [training.optimizer.steps, state.step, state.epoch, state.batchInEpoch, state.microBatches]
        var bytes = positions.flatMap { withUnsafeBytes(of: Int64($0).littleEndian) { Array($0) } }
        try communicator.broadcast(&bytes, from: 0)
        let received = (0..<positions.count).map { i in
            Int(Int64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self) }))
        }
        training.optimizer.restore(steps: received[0])
        (state.step, state.epoch, state.batchInEpoch, state.microBatches) = (received[1], received[2], received[3], received[4])
        training.refresh()
    }
}
