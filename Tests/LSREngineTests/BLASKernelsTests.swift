import Foundation
import LSREngine
import Testing

/// The kernel choice at launch (issue 14), driven with the CPUs and OpenBLAS builds users have.
/// The CPUs' feature sets are those their vendors document (Intel ARK / AMD product pages);
/// what OpenBLAS 0.3.21 loads alone on each is what dynamic.c's `get_coretype` returns (the
/// Emerald Rapids case was seen on a machine of this project: "Core: Prescott").
@Suite struct BLASKernelsTests {
    static let debian = OpenBLASBuild(configuration: "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64")
    static let newer = OpenBLASBuild(configuration: "OpenBLAS 0.3.26.dev DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64")
    static let singleCore = OpenBLASBuild(configuration: "OpenBLAS 0.3.21 NO_AFFINITY HASWELL MAX_THREADS=64")

    static func cpu(avx2: Bool, avx512: Bool, bf16: Bool = false, osSavesZMM: Bool = true, vendor: String = "GenuineIntel", family: Int = 6, model: Int = 207) -> CPUFeatures {
        CPUFeatures(
            vendor: vendor, modelName: "test CPU", family: family, model: model, stepping: 2,
            avx: avx2, fma: avx2, avx2: avx2, avx512f: avx512, avx512bw: avx512, avx512dq: avx512, avx512vl: avx512,
            avx512cd: avx512, avx512bf16: bf16, avx512fp16: bf16, osSavesYMM: avx2, osSavesZMM: avx512 && osSavesZMM)
    }
    static let emeraldRapids = cpu(avx2: true, avx512: true, bf16: true)
    static let skylakeServer = cpu(avx2: true, avx512: true, model: 85)
    static let zen1 = cpu(avx2: true, avx512: false, vendor: "AuthenticAMD", family: 23, model: 1)
    static let zen4 = cpu(avx2: true, avx512: true, bf16: true, vendor: "AuthenticAMD", family: 25, model: 17)
    static let sandyBridge = CPUFeatures(
        vendor: "GenuineIntel", modelName: "test CPU", family: 6, model: 42, stepping: 7, avx: true, fma: false, avx2: false,
        avx512f: false, avx512bw: false, avx512dq: false, avx512vl: false, avx512cd: false, avx512bf16: false, avx512fp16: false,
        osSavesYMM: true, osSavesZMM: false)

    @Test func aFallbackToGenericKernelsOnAnAVX512CPURelaunchesWithSkylakeX() {
        // 0.3.21 cannot force Cooperlake (its name table stops at SkylakeX), so SkylakeX.
        let decision = BLASKernels.decide(environment: .init(), loadedCore: "Prescott", cpu: Self.emeraldRapids, build: Self.debian)
        #expect(decision == .relaunch(core: "SkylakeX", defaultCore: "Prescott"))
        // From 0.3.22 on, Cooperlake's BF16-era kernels can be forced.
        let newer = BLASKernels.decide(environment: .init(), loadedCore: "Prescott", cpu: Self.emeraldRapids, build: Self.newer)
        #expect(newer == .relaunch(core: "Cooperlake", defaultCore: "Prescott"))
    }

    @Test func zen4UnderAnOpenBLASThatTakesItForZenGetsAVX512Kernels() {
        let decision = BLASKernels.decide(environment: .init(), loadedCore: "Zen", cpu: Self.zen4, build: Self.debian)
        #expect(decision == .relaunch(core: "SkylakeX", defaultCore: "Zen"))
    }

    @Test func openBLASsOwnChoiceIsKeptWhenItIsAsGoodAsTheCPUAllows() {
        for (cpu, core) in [(Self.zen1, "Zen"), (Self.skylakeServer, "SkylakeX"), (Self.emeraldRapids, "Cooperlake"), (Self.zen1, "Haswell")] {
            let decision = BLASKernels.decide(environment: .init(), loadedCore: core, cpu: cpu, build: Self.debian)
            guard case .keep(let choice) = decision else {
                Issue.record("\(core) on \(cpu.vendor) family \(cpu.family): \(decision)")
                continue
            }
            #expect(choice.source == .openBLAS)
            #expect(choice.coreInUse == core && choice.openBLASDefault == core)
            #expect(choice.warnings.isEmpty && choice.notes.isEmpty)
        }
    }

    @Test func anAVX512CPUWhoseOSDoesNotSaveZMMStateGetsHaswell() {
        let cpu = Self.cpu(avx2: true, avx512: true, osSavesZMM: false)
        #expect(BLASKernels.bestCore(for: cpu, build: Self.debian) == "Haswell")
        #expect(BLASKernels.decide(environment: .init(), loadedCore: "Prescott", cpu: cpu, build: Self.debian)
            == .relaunch(core: "Haswell", defaultCore: "Prescott"))
    }

    @Test func aCPUWithoutAVX2KeepsItsKernelsWithANote() {
        let decision = BLASKernels.decide(environment: .init(), loadedCore: "Sandybridge", cpu: Self.sandyBridge, build: Self.debian)
        guard case .keep(let choice) = decision else { Issue.record("\(decision)"); return }
        #expect(choice.bestSupported == nil)
        #expect(choice.warnings.isEmpty)
        #expect(choice.notes == ["this CPU has no AVX2 with FMA: OpenBLAS runs its generic kernels, several times slower than on a current CPU"])
    }

    @Test func anOpenBLASBuiltForOneCoreIsNeverRelaunched() {
        #expect(!Self.singleCore.dynamicArch)
        let decision = BLASKernels.decide(environment: .init(), loadedCore: "Haswell", cpu: Self.emeraldRapids, build: Self.singleCore)
        guard case .keep(let choice) = decision else { Issue.record("\(decision)"); return }
        #expect(choice.source == .openBLAS)
    }

    @Test func theUsersCoreTypeIsNeverOverridden() {
        // Honoured (OpenBLAS compares names without case): no warning, even when slower.
        let honoured = BLASKernels.decide(
            environment: .init(coreType: "prescott"), loadedCore: "Prescott", cpu: Self.emeraldRapids, build: Self.debian)
        guard case .keep(let choice) = honoured else { Issue.record("\(honoured)"); return }
        #expect(choice.source == .user && choice.requested == "prescott" && choice.openBLASDefault == nil)
        #expect(choice.warnings.isEmpty)

        // Misspelled: OpenBLAS fell back; one warning naming the core it used.
        let misspelled = BLASKernels.decide(
            environment: .init(coreType: "Skylakex2"), loadedCore: "Haswell", cpu: Self.emeraldRapids, build: Self.debian)
        guard case .keep(let other) = misspelled else { Issue.record("\(misspelled)"); return }
        #expect(other.warnings == ["OPENBLAS_CORETYPE=Skylakex2 is not a core OpenBLAS 0.3.21 can use here; it chose Haswell"])

        // Set but empty is still the user's (OpenBLAS reads it as an unknown name).
        let empty = BLASKernels.decide(environment: .init(coreType: ""), loadedCore: "Haswell", cpu: Self.zen1, build: Self.debian)
        guard case .keep(let third) = empty else { Issue.record("\(empty)"); return }
        #expect(third.warnings == ["OPENBLAS_CORETYPE= is not a core OpenBLAS 0.3.21 can use here; it chose Haswell"])

        let ignored = BLASKernels.decide(
            environment: .init(coreType: "SkylakeX"), loadedCore: "Haswell", cpu: Self.emeraldRapids, build: Self.singleCore)
        guard case .keep(let fourth) = ignored else { Issue.record("\(ignored)"); return }
        #expect(fourth.warnings == ["OPENBLAS_CORETYPE=SkylakeX has no effect: this OpenBLAS is built for Haswell alone (no DYNAMIC_ARCH)"])
    }

    @Test func theRelaunchedProcessKeepsWhatItGotAndNeverRelaunchesAgain() {
        let environment = LaunchEnvironment(coreType: "SkylakeX", relaunchedFor: "Prescott")
        let decision = BLASKernels.decide(environment: environment, loadedCore: "SkylakeX", cpu: Self.emeraldRapids, build: Self.debian)
        #expect(decision == .keep(KernelChoice(coreInUse: "SkylakeX", openBLASDefault: "Prescott", bestSupported: "SkylakeX", source: .lsrconv)))
        // Not honoured after all (a version whose names differ): say so, do not loop.
        let refused = BLASKernels.decide(environment: environment, loadedCore: "Haswell", cpu: Self.emeraldRapids, build: Self.debian)
        guard case .keep(let choice) = refused else { Issue.record("\(refused)"); return }
        #expect(choice.warnings == ["asked OpenBLAS for its SkylakeX kernels, it runs Haswell"])
    }

    @Test func thePretendedDefaultDrivesTheDecisionLikeARealOne() {
        let decision = BLASKernels.decide(environment: .init(pretendDefault: "Prescott"), loadedCore: "Zen", cpu: Self.zen1, build: Self.debian)
        #expect(decision == .relaunch(core: "Haswell", defaultCore: "Prescott"))
    }

    @Test func theContrastingCoreRoundsDifferentlyAndRunsHere() {
        #expect(BLASKernels.contrastingCore(to: "SkylakeX", cpu: Self.emeraldRapids) == "Haswell")
        #expect(BLASKernels.contrastingCore(to: "Cooperlake", cpu: Self.emeraldRapids) == "Haswell")
        #expect(BLASKernels.contrastingCore(to: "Prescott", cpu: Self.emeraldRapids) == "SkylakeX")
        #expect(BLASKernels.contrastingCore(to: "Haswell", cpu: Self.emeraldRapids) == "SkylakeX")
        #expect(BLASKernels.contrastingCore(to: "Zen", cpu: Self.zen1) == "Sandybridge")
        #expect(BLASKernels.contrastingCore(to: "Sandybridge", cpu: Self.zen1) == "Haswell")
        #expect(BLASKernels.contrastingCore(to: "Sandybridge", cpu: Self.sandyBridge) == "Prescott")
        #expect(BLASKernels.contrastingCore(to: "Prescott", cpu: Self.sandyBridge) == "Core2")
    }

    @Test func versionsAndCoreNames() {
        #expect(Self.debian.version == OpenBLASBuild.Version(major: 0, minor: 3, patch: 21))
        #expect(Self.newer.version == OpenBLASBuild.Version(major: 0, minor: 3, patch: 26))
        #expect(Self.debian.dynamicArch && Self.newer.dynamicArch)
        #expect(!Self.debian.canForce("Cooperlake") && Self.newer.canForce("Cooperlake"))
        #expect(Self.debian.canForce("SkylakeX") && !Self.newer.canForce("SapphireRapids") && !Self.debian.canForce("NoSuchCore"))
        #expect(OpenBLASBuild.tier(of: "skylakex") == .avx512 && OpenBLASBuild.tier(of: "Zen") == .avx2)
        #expect(OpenBLASBuild.tier(of: "Excavator") == .avx && OpenBLASBuild.tier(of: "NoSuchCore") == nil)
    }

    /// cpuid as decoded here against what the Linux kernel reports in /proc/cpuinfo (which also
    /// hides what the OS does not enable): the two must agree on this machine, whatever it is.
    @Test func thisCPUsFeaturesAgreeWithProcCpuinfo() throws {
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            Issue.record("no flags line in /proc/cpuinfo")
            return
        }
        let flags = Set(line.split(separator: ":", maxSplits: 1)[1].split(separator: " ").map(String.init))
        let cpu = CPUFeatures.current
        let ymm = cpu.osSavesYMM
        let zmm = cpu.osSavesZMM
        let expected: [(String, Bool)] = [
            ("avx", cpu.avx && ymm), ("fma", cpu.fma && ymm), ("avx2", cpu.avx2 && ymm), ("avx512f", cpu.avx512f && zmm),
            ("avx512bw", cpu.avx512bw && zmm), ("avx512dq", cpu.avx512dq && zmm), ("avx512vl", cpu.avx512vl && zmm),
            ("avx512cd", cpu.avx512cd && zmm), ("avx512_bf16", cpu.avx512bf16 && zmm), ("avx512_fp16", cpu.avx512fp16 && zmm),
        ]
        for (flag, present) in expected {
            #expect(flags.contains(flag) == present, "\(flag): cpuid says \(present), /proc/cpuinfo \(flags.contains(flag))")
        }
        if let family = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu family") }) {
            #expect(Int(family.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) == cpu.family)
        }
        if let model = text.split(separator: "\n").first(where: { $0.hasPrefix("model\t") }) {
            #expect(Int(model.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) == cpu.model)
        }
    }
}
