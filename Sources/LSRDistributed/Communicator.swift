/// The collective operations data-parallel training needs, over the processes of one job
/// ("ranks" 0..<size): a sum of gradients across ranks, rank 0's values sent to all, and a
/// point every rank must reach before any goes on. `SingleProcess` is the one-rank
/// communicator (every operation a no-op), so a plain `lsrconv train` runs the very code an
/// `mpirun -np N lsrconv train` runs; `MPICommunicator` is the MPI one (MPI 4.1 standard:
/// §6.9.1 MPI_Allreduce, §6.4 MPI_Bcast, §6.3 MPI_Barrier).
///
/// Every rank must make the same calls in the same order with the same sizes (MPI's rule for
/// collectives); the trainer's loop, identical on every rank, guarantees it.
public protocol Communicator: AnyObject {
    /// This process's index in the job, 0..<size.
    var rank: Int { get }
    /// The number of processes in the job.
    var size: Int { get }
    /// Replaces every element of `buffers` by its sum over the ranks, as one collective over
    /// their concatenation (one message per step however many tensors there are).
    func allReduceSum(_ buffers: [UnsafeMutableBufferPointer<Float>]) throws(DistributedError)
    /// The same for a few doubles (the loss, a stop request).
    func allReduceSum(_ values: inout [Double]) throws(DistributedError)
    /// Replaces `buffer` on every rank by rank `root`'s; the sizes must agree.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int) throws(DistributedError)
    /// Replaces `bytes` on every rank by rank `root`'s (whose length the others need not know).
    func broadcast(_ bytes: inout [UInt8], from root: Int) throws(DistributedError)
    /// Returns once every rank has called it.
    func barrier() throws(DistributedError)
    /// Ends this process's part after a successful run (MPI_Finalize). Call once, last.
    func finish()
    /// Ends the whole job after a failure on this rank (MPI_Abort, which makes mpirun stop the
    /// other ranks instead of leaving them waiting in a collective forever). Returns only for
    /// a one-rank job, where the caller then exits as usual.
    func abortJob(code: Int32)
}

extension Communicator {
    /// Whether this rank writes outputs, logs and checkpoints (rank 0 alone does).
    public var isLeader: Bool { rank == 0 }

    /// The half-open range of `count` items (a global batch's rows) that `rank` works on: as
    /// equal as integers allow, in rank order, so the ranks' slices put back together are the
    /// whole batch in its order. Ranks beyond `count` get an empty range.
    public func share(of count: Int) -> Range<Int> {
        Self.share(of: count, rank: rank, size: size)
    }

    public static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        (count * rank / size)..<(count * (rank + 1) / size)
    }
}

/// Why a collective failed (another rank died, the network dropped), or why MPI could not start.
public enum DistributedError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An MPI call returned an error code; `message` is MPI_Error_string's.
    case mpi(call: String, code: Int32, message: String)
    /// Launched as a rank of an MPI job (of `size` ranks, where the launcher says) but built without MPI.
    case notBuiltWithMPI(size: Int?)
    /// A rank's inputs or settings differ from rank 0's: `what` names the first difference.
    case mismatch(rank: Int, what: String)
    /// `count` other ranks failed a check this rank passed (their messages say why).
    case otherRankFailed(count: Int)

    public var description: String {
        switch self {
        case .mpi(let call, let code, let message):
            "\(call) failed (MPI error \(code): \(message)): another rank has probably stopped"
        case .notBuiltWithMPI(let size):
            "launched as \(size.map { "one of \($0) MPI ranks" } ?? "an MPI rank"), but this lsrconv was built without MPI "
                + "(install libopenmpi-dev, then rebuild)"
        case .mismatch(_, let what):
            "this rank's settings differ from rank 0's: \(what) (every rank must run the same command on the same files)"
        case .otherRankFailed(let count):
            "\(count) other rank\(count == 1 ? "" : "s") stopped (see \(count == 1 ? "its" : "their") message)"
        }
    }
}

/// The one-rank job: every collective is the identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffers: [UnsafeMutableBufferPointer<Float>]) {}
    public func allReduceSum(_ values: inout [Double]) {}
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int) {}
    public func broadcast(_ bytes: inout [UInt8], from root: Int) {}
    public func barrier() {}
    public func finish() {}
    public func abortJob(code: Int32) {}
}
