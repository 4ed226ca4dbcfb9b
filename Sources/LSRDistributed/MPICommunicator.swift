#if canImport(CMPI)
    import CMPI

    /// MPI_COMM_WORLD of a job started by `mpirun` (Open MPI; compiled in when pkg-config finds
    /// ompi-c). Only the calling (main) thread talks to MPI: MPI_THREAD_FUNNELED, while the
    /// engine's worker threads never do.
    ///
    /// Errors return instead of aborting (MPI_ERRORS_RETURN on the communicator), so a failed
    /// collective becomes a `DistributedError` with MPI's own text. Open MPI's runtime still
    /// ends the job when a rank dies (mpirun's "exited on signal" report): a rank stuck in a
    /// collective does not wait forever.
    public final class MPICommunicator: Communicator {
        public let rank: Int
        public let size: Int
        private let world: MPI_Comm
        /// The concatenation buffer of `allReduceSum` (kept between steps: no allocation per step).
        private var flat: [Float] = []
        private var finished = false

        /// MPI_Init_thread; fails when the MPI runtime cannot start.
        public init() throws(DistributedError) {
            var provided: Int32 = 0
            try Self.check("MPI_Init_thread", MPI_Init_thread(nil, nil, lsr_mpi_thread_funneled(), &provided))
            world = lsr_mpi_comm_world()
            try Self.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(world, lsr_mpi_errors_return()))
            var r: Int32 = 0
            var s: Int32 = 0
            try Self.check("MPI_Comm_rank", MPI_Comm_rank(world, &r))
            try Self.check("MPI_Comm_size", MPI_Comm_size(world, &s))
            (rank, size) = (Int(r), Int(s))
        }

        /// MPI counts are Int32: larger transfers go in pieces of at most this many elements.
        static let chunk = 1 << 30

        public func allReduceSum(_ buffers: [UnsafeMutableBufferPointer<Float>]) throws(DistributedError) {
            let total = buffers.reduce(0) { $0 + $1.count }
            if flat.count != total { flat = [Float](repeating: 0, count: total) }
            try flat.withUnsafeMutableBufferPointer { (flat) throws(DistributedError) in
                var offset = 0
                for b in buffers {
                    if b.count > 0 { (flat.baseAddress! + offset).update(from: b.baseAddress!, count: b.count) }
                    offset += b.count
                }
                var start = 0
                while start < total {
                    let n = min(Self.chunk, total - start)
                    try Self.check(
                        "MPI_Allreduce", MPI_Allreduce(lsr_mpi_in_place(), flat.baseAddress! + start, Int32(n), lsr_mpi_float(), lsr_mpi_sum(), world))
                    start += n
                }
                offset = 0
                for b in buffers {
                    if b.count > 0 { b.baseAddress!.update(from: flat.baseAddress! + offset, count: b.count) }
                    offset += b.count
                }
            }
        }

        public func allReduceSum(_ values: inout [Double]) throws(DistributedError) {
            let count = Int32(values.count)
            let world = world
            let code = values.withUnsafeMutableBufferPointer { MPI_Allreduce(lsr_mpi_in_place(), $0.baseAddress, count, lsr_mpi_double(), lsr_mpi_sum(), world) }
            try Self.check("MPI_Allreduce", code)
        }

        public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int) throws(DistributedError) {
            var start = 0
            while start < buffer.count {
                let n = min(Self.chunk, buffer.count - start)
                try Self.check("MPI_Bcast", MPI_Bcast(buffer.baseAddress! + start, Int32(n), lsr_mpi_float(), Int32(root), world))
                start += n
            }
        }

        public func broadcast(_ bytes: inout [UInt8], from root: Int) throws(DistributedError) {
            var length = Int64(bytes.count)
            try Self.check("MPI_Bcast", MPI_Bcast(&length, 1, lsr_mpi_int64(), Int32(root), world))
            if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
            let world = world
            var start = 0
            while start < bytes.count {
                let n = min(Self.chunk, bytes.count - start)
                let code = bytes.withUnsafeMutableBufferPointer { MPI_Bcast($0.baseAddress! + start, Int32(n), lsr_mpi_byte(), Int32(root), world) }
                try Self.check("MPI_Bcast", code)
                start += n
            }
        }

        public func barrier() throws(DistributedError) {
            try Self.check("MPI_Barrier", MPI_Barrier(world))
        }

        public func finish() {
            guard !finished else { return }
            finished = true
            MPI_Finalize()
        }

        public func abortJob(code: Int32) {
            MPI_Abort(world, code)
        }

        private static func check(_ call: String, _ code: Int32) throws(DistributedError) {
            guard code != lsr_mpi_success() else { return }
            var text = [CChar](repeating: 0, count: Int(lsr_mpi_max_error_string()) + 1)
            var length: Int32 = 0
            MPI_Error_string(code, &text, &length)
            let message = String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .mpi(call: call, code: code, message: message)
        }
    }
#endif
