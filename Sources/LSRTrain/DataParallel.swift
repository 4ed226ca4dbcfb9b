import LSRDistributed
import LSREngine

/// What the ranks of a data-parallel run (see `Trainer`) must share before the first step: the
/// same inputs and settings (checked: each rank compares its own description of them with rank
/// 0's), and rank 0's starting point (sent: the trained tensors, Adam's moments and the
/// position), so that a fresh or resumed run starts every rank from one state however each
/// rank read its files.
public enum DataParallel {
    /// Fails on every rank whose `description` (e.g. the run's settings as JSON: model and data
    /// digests, options, seed) differs from rank 0's; `what` names it in the error.
    public static func checkSame(_ description: String, what: String, communicator: any Communicator) throws(DistributedError) {
        guard communicator.size > 1 else { return }
        var bytes = Array(description.utf8)
        try communicator.broadcast(&bytes, from: 0)
        if bytes != Array(description.utf8) { throw .mismatch(rank: communicator.rank, what: what) }
    }

    /// Rank 0's value of `value` on every rank (the data order's seed, say).
    public static func broadcast(_ value: UInt64, communicator: any Communicator) throws(DistributedError) -> UInt64 {
        guard communicator.size > 1 else { return value }
        var bytes = withUnsafeBytes(of: value.littleEndian) { Array($0) }
        try communicator.broadcast(&bytes, from: 0)
        return UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }
}

extension TrainingSession {
    /// Makes every rank's session rank 0's: trained values, Adam's moments and step count, and
    /// the position in the run (step, epoch, micro-batches). The log and the best values stay
    /// rank 0's alone (only rank 0 evaluates and writes).
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
