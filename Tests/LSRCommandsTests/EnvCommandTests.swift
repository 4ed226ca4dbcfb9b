import Foundation
import LSREngine
import LSRFormats
import TestSupport
import Testing

/// `lsrconv env` and the kernel choice at launch, through the binary (issue 14): the relaunch
/// with the best core (driven here by pretending OpenBLAS fell back, on whatever CPU runs the
/// tests), the user's OPENBLAS_CORETYPE kept, a misspelled one reported in one line.
@Suite struct EnvCommandTests {
    /// `lsrconv env --json` under `environment`, parsed.
    static func env(_ extra: [String] = [], environment: [String: String?] = [:]) throws -> (document: JSONObject, stderr: String) {
        let result = try runLSRConv(["env", "--json"] + extra, environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let document = try JSON.parse(Array(result.stdout.utf8)).objectValue ?? [:]
        return (document, result.stderr)
    }

    static func blas(_ document: JSONObject) -> JSONObject { document["blas"]?.objectValue ?? [:] }

    @Test func reportsTheMachineAndTheKernels() throws {
        let (document, stderr) = try Self.env(["--measure"], environment: ["OPENBLAS_CORETYPE": nil])
        #expect(stderr.isEmpty, "\(stderr)")
        let cpu = document["cpu"]?.objectValue ?? [:]
        let features = cpu["features"]?.objectValue ?? [:]
        // The binary decodes cpuid as this process does.
        #expect(cpu["family"]?.intValue == CPUFeatures.current.family && cpu["model"]?.intValue == CPUFeatures.current.model)
        #expect(features["avx2"]?.boolValue == CPUFeatures.current.avx2 && features["avx512f"]?.boolValue == CPUFeatures.current.avx512f)
        let blas = Self.blas(document)
        #expect(blas["version"]?.stringValue == OpenBLASBuild.loaded.version.description)
        // With no OPENBLAS_CORETYPE: OpenBLAS's own choice, or lsrconv's when that was slower.
        let core = blas["core"]?.stringValue ?? ""
        let chosenBy = blas["chosen_by"]?.stringValue
        #expect(chosenBy == "openblas" || chosenBy == "lsrconv")
        if let best = blas["best_core"]?.stringValue {
            #expect(OpenBLASBuild.tier(of: core)! >= OpenBLASBuild.tier(of: best)!, "core \(core) is slower than \(best)")
        }
        #expect(blas["contrasting_core"]?.stringValue == BLASKernels.contrastingCore(to: core, cpu: .current))
        let sgemm = document["sgemm"]?.arrayValue ?? []
        #expect(sgemm.count == (Parallel.threads > 1 ? 2 : 1))
        for measurement in sgemm {
            #expect((measurement.objectValue?["gflops"]?.doubleValue ?? 0) > 0)
        }
        #expect(document["mpi"]?.objectValue?["compiled_in"]?.boolValue != nil)
    }

    /// The relaunch itself: told that OpenBLAS picked Prescott alone, lsrconv starts again with
    /// OPENBLAS_CORETYPE set to the best core this CPU runs, and that process reports it.
    @Test(.enabled(if: CPUFeatures.current.canRunAVX2Kernels, "needs a CPU with AVX2: below it nothing is forced"))
    func aFallbackIsRelaunchedWithTheBestCore() throws {
        let (document, stderr) = try Self.env(environment: ["OPENBLAS_CORETYPE": nil, BLASKernels.pretendDefaultVariable: "Prescott"])
        #expect(stderr.isEmpty, "\(stderr)")
        let blas = Self.blas(document)
        let best = BLASKernels.bestCore(for: .current, build: .loaded)
        #expect(blas["chosen_by"]?.stringValue == "lsrconv")
        #expect(blas["default_core"]?.stringValue == "Prescott")
        #expect(blas["core"]?.stringValue == best && blas["best_core"]?.stringValue == best)

        // The text form says the same in one line.
        let text = try runLSRConv(["env"], environment: ["OPENBLAS_CORETYPE": nil, BLASKernels.pretendDefaultVariable: "Prescott"])
        #expect(text.stdout.contains("core      \(best!): chosen by lsrconv; OpenBLAS alone picks Prescott, slower than this CPU supports\n"))
    }

    /// A relaunched command behaves as it would have: same arguments, same output.
    @Test(.enabled(if: CPUFeatures.current.canRunAVX2Kernels, "needs a CPU with AVX2"))
    func aRelaunchedCommandKeepsItsArgumentsAndOutput() throws {
        let arguments = ["tokenize", "--tokenizer", TestPaths.fixture("tiny-roberta"), "--text", "Relaunched, with commas.", "--json"]
        let plain = try runLSRConv(arguments)
        let relaunched = try runLSRConv(arguments, environment: ["OPENBLAS_CORETYPE": nil, BLASKernels.pretendDefaultVariable: "Prescott"])
        #expect(plain.status == 0 && relaunched.status == 0)
        #expect(relaunched.stdout == plain.stdout && relaunched.stderr == plain.stderr)
    }

    @Test func theUsersCoreTypeIsKept() throws {
        // Sandybridge's kernels run on every CPU with AVX; on others, the generic Prescott.
        let asked = CPUFeatures.current.avx ? "Sandybridge" : "Prescott"
        let (document, stderr) = try Self.env(environment: ["OPENBLAS_CORETYPE": asked.lowercased()])
        #expect(stderr.isEmpty, "\(stderr)")
        let blas = Self.blas(document)
        #expect(blas["core"]?.stringValue == asked)
        #expect(blas["chosen_by"]?.stringValue == "user" && blas["requested_core"]?.stringValue == asked.lowercased())
        #expect(blas["default_core"] == .null)
    }

    /// A misspelled OPENBLAS_CORETYPE: one warning naming the core OpenBLAS used, then the command.
    @Test func aMisspelledCoreTypeIsReportedInOneLine() throws {
        let result = try runLSRConv(["env", "--json"], environment: ["OPENBLAS_CORETYPE": "Haswel"])
        #expect(result.status == 0)
        let core = Self.blas(try JSON.parse(Array(result.stdout.utf8)).objectValue ?? [:])["core"]?.stringValue ?? "?"
        #expect(result.stderr == "warning: OPENBLAS_CORETYPE=Haswel is not a core OpenBLAS \(OpenBLASBuild.loaded.version) can use here; it chose \(core)\n")
        // The warning is on stderr only: the JSON on stdout stays one document.
        let other = try runLSRConv(["schema"], environment: ["OPENBLAS_CORETYPE": "Haswel"])
        #expect(other.status == 0 && other.stderr.hasPrefix("warning: OPENBLAS_CORETYPE=Haswel is not a core"))
    }
}
