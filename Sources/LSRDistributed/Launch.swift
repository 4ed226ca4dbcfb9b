#if canImport(Glibc)
    import Glibc
#endif

/// How this process was started: alone, or as one rank of an MPI job. mpirun (Open MPI) puts
/// OMPI_COMM_WORLD_SIZE / _RANK / _LOCAL_SIZE in each rank's environment (Open MPI's mpirun(1),
/// "Exported Environment Variables"); a process without them is a plain one and gets
/// `SingleProcess` without touching MPI at all (no MPI_Init: a plain run needs no MPI runtime).
public enum Launch {
    /// The job's size as the launcher declared it (nil: not launched by mpirun).
    public static var declaredSize: Int? {
        environment("OMPI_COMM_WORLD_SIZE").flatMap { Int($0) }
    }

    /// How many ranks share this machine (mpirun's OMPI_COMM_WORLD_LOCAL_SIZE; 1 without MPI):
    /// the trainer divides the cores between them.
    public static var localSize: Int {
        max(1, environment("OMPI_COMM_WORLD_LOCAL_SIZE").flatMap { Int($0) } ?? 1)
    }

    /// Whether MPI support was compiled in (Package.swift: pkg-config ompi-c).
    public static var mpiCompiledIn: Bool {
        #if canImport(CMPI)
            true
        #else
            false
        #endif
    }

    /// The communicator for this process: MPI's when launched by mpirun, else `SingleProcess`.
    public static func communicator() throws(DistributedError) -> any Communicator {
        guard let size = declaredSize else { return SingleProcess() }
        #if canImport(CMPI)
            return try MPICommunicator()
        #else
            // `mpirun -np 1` of a build without MPI is still a correct one-process run.
            if size == 1 { return SingleProcess() }
            throw .notBuiltWithMPI(size: size)
        #endif
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
