import COpenBLAS

#if canImport(Glibc)
    import Glibc
#endif

/// Which of OpenBLAS's kernels this process runs, chosen from what the CPU can do rather than
/// from its model number.
///
/// OpenBLAS built with DYNAMIC_ARCH picks its kernels ("core") once, when the library loads,
/// from the CPU's vendor, family and model (driver/others/dynamic.c `get_coretype`). A model it
/// does not know gets the generic Prescott kernels: Debian's 0.3.21 on an Intel Xeon of family 6
/// model 207 (Emerald Rapids, AVX-512) runs sgemm at 58 GFLOP/s on 2 threads where its SkylakeX
/// kernels reach 300. The only way to choose another core is OPENBLAS_CORETYPE, read by the
/// library's constructor before `main`, so a process that finds the wrong core loaded starts
/// itself again (execv of /proc/self/exe: same pid, arguments and descriptors, so mpirun and
/// PMIx launchers see the same rank) with the variable set. That happens before anything else:
/// no MPI, no threads of ours, no output yet.
///
/// Considered and not taken: calling OpenBLAS's exported `gotoblas_quit`/`gotoblas_init` to
/// reinitialise it in place (internal functions, no API promise, buffers sized for the old core);
/// loading OpenBLAS with dlopen after choosing (still needs the core it would pick alone, which
/// only loading it tells).
///
/// A user's own OPENBLAS_CORETYPE is never overridden; when OpenBLAS did not honour it (an
/// unknown name, or a core this version cannot force) lsrconv says which core it used.
public enum BLASKernels {
    /// Set by the first process for the one it starts: the core OpenBLAS chose alone. Its
    /// presence also means OPENBLAS_CORETYPE was set by lsrconv, not the user, and that no
    /// further restart may happen.
    static let relaunchMarker = "LSRCONV_OPENBLAS_DEFAULT_CORE"
    /// For tests of the restart on a CPU OpenBLAS knows: pretend OpenBLAS chose this core alone.
    public static let pretendDefaultVariable = "LSRCONV_TEST_OPENBLAS_DEFAULT_CORE"
    static let coreTypeVariable = "OPENBLAS_CORETYPE"

    /// The choice in force in this process: what `selectAtLaunch` decided, or (in a process that
    /// never called it, such as the test runner) OpenBLAS's own choice as loaded.
    public static var choice: KernelChoice {
        if let launched = launchedChoice { return launched }
        return decide(environment: .current, loadedCore: OpenBLASBuild.loadedCore, cpu: .current, build: .loaded).choice
    }
    nonisolated(unsafe) private static var launchedChoice: KernelChoice?

    /// Chooses the kernels; call first thing in `main`. When OpenBLAS fell back to kernels
    /// slower than the CPU supports, this does not return: the process starts again with the
    /// best core it supports, and that process's call returns the choice.
    @discardableResult
    public static func selectAtLaunch() -> KernelChoice {
        let environment = LaunchEnvironment.current
        let decision = decide(environment: environment, loadedCore: OpenBLASBuild.loadedCore, cpu: .current, build: .loaded)
        var choice = decision.choice
        if environment.relaunchedFor != nil {
            // Ours, not the user's: children of this process choose for themselves.
            unsetenv(coreTypeVariable)
            unsetenv(relaunchMarker)
        }
        if case .relaunch(let core, let defaultCore) = decision {
            setenv(coreTypeVariable, core, 1)
            setenv(relaunchMarker, defaultCore, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // Only reached when the restart failed: go on with the kernels we have.
            let reason = String(cString: strerror(errno))
            unsetenv(coreTypeVariable)
            unsetenv(relaunchMarker)
            choice.warnings.append(
                "could not restart with OPENBLAS_CORETYPE=\(core) (/proc/self/exe: \(reason)): running OpenBLAS's \(choice.coreInUse) kernels, slower than this CPU allows")
        }
        launchedChoice = choice
        return choice
    }

    /// What to do at launch, from the environment, the core OpenBLAS loaded, the CPU and the
    /// OpenBLAS build. Pure: the tests drive it with the CPUs and versions users have.
    public static func decide(environment: LaunchEnvironment, loadedCore: String, cpu: CPUFeatures, build: OpenBLASBuild) -> Decision {
        let best = bestCore(for: cpu, build: build)
        var choice = KernelChoice(coreInUse: loadedCore, openBLASDefault: loadedCore, bestSupported: best, source: .openBLAS)
        if !cpu.canRunAVX2Kernels {
            choice.notes.append("this CPU has no AVX2 with FMA: OpenBLAS runs its generic kernels, several times slower than on a current CPU")
        }
        if let defaultCore = environment.relaunchedFor {
            // The second start: OPENBLAS_CORETYPE is ours.
            choice.source = .lsrconv
            choice.openBLASDefault = defaultCore
            let asked = environment.coreType ?? ""
            if !OpenBLASBuild.sameCore(asked, loadedCore) {
                choice.warnings.append("asked OpenBLAS for its \(asked) kernels, it runs \(loadedCore)")
            }
            return .keep(choice)
        }
        if let requested = environment.coreType {
            choice.source = .user
            choice.requested = requested
            choice.openBLASDefault = nil
            if !build.dynamicArch {
                choice.warnings.append("OPENBLAS_CORETYPE=\(requested) has no effect: this OpenBLAS is built for \(loadedCore) alone (no DYNAMIC_ARCH)")
            } else if !OpenBLASBuild.sameCore(requested, loadedCore) {
                choice.warnings.append(
                    "OPENBLAS_CORETYPE=\(requested) is not a core OpenBLAS \(build.version) can use here; it chose \(loadedCore)")
            }
            return .keep(choice)
        }
        let alone = environment.pretendDefault ?? loadedCore
        choice.openBLASDefault = alone
        choice.coreInUse = alone
        guard build.dynamicArch, let best, let tierAlone = OpenBLASBuild.tier(of: alone),
            tierAlone < OpenBLASBuild.tier(of: best)!
        else { return .keep(choice) }
        return .relaunch(core: best, defaultCore: alone)
    }

    /// The fastest core this CPU runs that this OpenBLAS lets OPENBLAS_CORETYPE choose; nil
    /// below AVX2 (nothing to gain over what OpenBLAS picks there).
    public static func bestCore(for cpu: CPUFeatures, build: OpenBLASBuild) -> String? {
        if cpu.canRunAVX512BF16Kernels && build.canForce("Cooperlake") { return "Cooperlake" }
        if cpu.canRunAVX512Kernels { return "SkylakeX" }
        if cpu.canRunAVX2Kernels { return "Haswell" }
        return nil
    }

    /// A core whose sgemm rounds differently from `core` and that this CPU runs: `make test` runs
    /// the numeric suites a second time under it, so an assertion that holds only under one
    /// kernel fails on every machine. AVX-512 ↔ Haswell (other vector width and blocking, so
    /// other summation order); on an AVX2-only CPU, Sandybridge (AVX without FMA: every
    /// product rounded before its sum).
    public static func contrastingCore(to core: String, cpu: CPUFeatures) -> String {
        let tier = OpenBLASBuild.tier(of: core) ?? .generic
        if tier >= .avx512 { return "Haswell" }
        if cpu.canRunAVX512Kernels { return "SkylakeX" }
        if tier >= .avx2 { return "Sandybridge" }
        if cpu.canRunAVX2Kernels { return "Haswell" }
        return OpenBLASBuild.sameCore(core, "Prescott") ? "Core2" : "Prescott"
    }

    public enum Decision: Equatable, Sendable {
        /// Run with the kernels loaded.
        case keep(KernelChoice)
        /// Start again with OPENBLAS_CORETYPE=core; OpenBLAS alone chose `defaultCore`.
        case relaunch(core: String, defaultCore: String)

        /// The choice as it stands before any restart.
        var choice: KernelChoice {
            switch self {
            case .keep(let choice): return choice
            case .relaunch(let core, let defaultCore):
                return KernelChoice(coreInUse: defaultCore, openBLASDefault: defaultCore, bestSupported: core, source: .openBLAS)
            }
        }
    }
}

/// The kernels a process runs, how they were chosen, and what to tell the user.
public struct KernelChoice: Equatable, Sendable {
    public enum Source: String, Sendable {
        /// OpenBLAS's own choice, kept: as good as the CPU allows, or nothing better to force.
        case openBLAS = "openblas"
        /// lsrconv restarted the process with OPENBLAS_CORETYPE set to the best core.
        case lsrconv
        /// The user's OPENBLAS_CORETYPE.
        case user
    }

    /// The core whose kernels run (`openblas_get_corename`).
    public var coreInUse: String
    /// The core OpenBLAS picks on this machine alone (nil: unknown, the user chose one).
    public var openBLASDefault: String?
    /// The fastest core this CPU supports and this OpenBLAS can force (nil below AVX2).
    public var bestSupported: String?
    public var source: Source
    /// The user's OPENBLAS_CORETYPE, when set.
    public var requested: String? = nil
    /// One line each, for stderr: the user's core not honoured, a failed restart.
    public var warnings: [String] = []
    /// Facts for `lsrconv env` (a CPU without AVX2).
    public var notes: [String] = []

    public init(coreInUse: String, openBLASDefault: String?, bestSupported: String?, source: Source) {
        (self.coreInUse, self.openBLASDefault, self.bestSupported, self.source) = (coreInUse, openBLASDefault, bestSupported, source)
    }
}

/// The variables `BLASKernels` reads at launch.
public struct LaunchEnvironment: Equatable, Sendable {
    /// OPENBLAS_CORETYPE.
    public var coreType: String?
    /// The marker set before a restart (the core OpenBLAS chose alone).
    public var relaunchedFor: String?
    /// LSRCONV_TEST_OPENBLAS_DEFAULT_CORE.
    public var pretendDefault: String?

    public init(coreType: String? = nil, relaunchedFor: String? = nil, pretendDefault: String? = nil) {
        self.coreType = coreType
        self.relaunchedFor = relaunchedFor
        self.pretendDefault = pretendDefault
    }

    public static var current: LaunchEnvironment {
        func value(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        func nonEmpty(_ name: String) -> String? { value(name).flatMap { $0.isEmpty ? nil : $0 } }
        // An empty OPENBLAS_CORETYPE is still the user's: OpenBLAS reads it as an unknown name.
        return LaunchEnvironment(
            coreType: value(BLASKernels.coreTypeVariable), relaunchedFor: nonEmpty(BLASKernels.relaunchMarker),
            pretendDefault: nonEmpty(BLASKernels.pretendDefaultVariable))
    }
}
