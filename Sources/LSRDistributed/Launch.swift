#if canImport(Glibc)
    import Glibc
#endif
#if canImport(CMPI)
    import CMPI
#endif

/// How this process was started: alone, or as one rank of an MPI job. mpirun (Open MPI) puts
/// OMPI_COMM_WORLD_SIZE / _RANK / _LOCAL_SIZE in each rank's environment (Open MPI's mpirun(1),
/// "Exported Environment Variables"); a PMIx or PMI launcher (Slurm's `srun --mpi=pmix`, for
/// one) sets PMIX_RANK or PMI_RANK instead. A process without any of them is a plain one and
/// gets `SingleProcess` without touching MPI at all (no MPI_Init: a plain run needs no MPI
/// runtime).
public enum Launch {
    /// The job's size as mpirun declared it (nil: not declared, e.g. not launched by mpirun).
    public static var declaredSize: Int? {
        environment("OMPI_COMM_WORLD_SIZE").flatMap { Int($0) }
    }

    /// This process's rank as its launcher declared it (OMPI_COMM_WORLD_RANK, PMIX_RANK or
    /// PMI_RANK), before any MPI call; nil for a plain process.
    public static var declaredRank: Int? {
        (environment("OMPI_COMM_WORLD_RANK") ?? environment("PMIX_RANK") ?? environment("PMI_RANK")).flatMap { Int($0) }
    }

    /// Whether a launcher started this process as a rank of an MPI job.
    public static var launchedAsRank: Bool {
        declaredSize != nil || environment("PMIX_RANK") != nil || environment("PMI_RANK") != nil
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

    /// The MPI library's own description (MPI_Get_library_version, which MPI-3 allows before
    /// MPI_Init), e.g. "Open MPI v4.1.4, package: Debian OpenMPI, …"; nil without MPI.
    public static var mpiLibraryVersion: String? {
        #if canImport(CMPI)
            var text = [CChar](repeating: 0, count: Int(lsr_mpi_max_library_version_string()) + 1)
            var length: Int32 = 0
            guard MPI_Get_library_version(&text, &length) == lsr_mpi_success() else { return nil }
            return String(cString: text).split(separator: "\n").first.map(String.init)
        #else
            return nil
        #endif
    }

    /// The communicator for this process: MPI's when launched by mpirun, else `SingleProcess`.
    public static func communicator() throws(DistributedError) -> any Communicator {
        guard launchedAsRank else { return SingleProcess() }
        #if canImport(CMPI)
            return try MPICommunicator()
        #else
            // `mpirun -np 1` of a build without MPI is still a correct one-process run.
            if declaredSize == 1 { return SingleProcess() }
            throw .notBuiltWithMPI(size: declaredSize)
        #endif
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
