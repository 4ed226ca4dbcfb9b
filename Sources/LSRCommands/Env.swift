import ArgumentParser
import Foundation
import LSRDistributed
import LSREngine
import LSRFormats

/// `lsrconv env [--json] [--measure]`: the facts a speed figure depends on. Performance is the
/// BLAS kernels' (README "Performance depends on your BLAS"), so every figure we or a user
/// report should come with this.
struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the machine, the BLAS library and the kernels lsrconv runs on.",
        discussion: """
            Prints lsrconv's version, the OS, the CPU model and its vector features (AVX2, FMA, \
            AVX-512 F/BW/DQ/VL/CD, BF16, FP16), the BLAS library and its version, the OpenBLAS core \
            in use and the one OpenBLAS would pick alone, threads, and whether MPI is compiled in. \
            lsrconv restarts itself with OPENBLAS_CORETYPE set when OpenBLAS falls back to kernels \
            slower than the CPU supports; an OPENBLAS_CORETYPE of your own is always kept.

            Examples:
              lsrconv env
              lsrconv env --measure --json
            """)

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Flag(help: "Also time sgemm on 1 thread and on all threads (a few hundred ms).")
    var measure = false

    func run() throws {
        let cpu = CPUFeatures.current
        let build = OpenBLASBuild.loaded
        let choice = BLASKernels.choice
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = Parallel.threads
        let measurements = measure ? [SgemmRate.measure(threads: 1)] + (threads > 1 ? [SgemmRate.measure(threads: threads)] : []) : []
        let contrasting = BLASKernels.contrastingCore(to: choice.coreInUse, cpu: cpu)
        let system = Self.operatingSystem()

        if json {
            let features = JSONObject(cpu.named.map { ($0.name, JSONValue.bool($0.present)) })
            var blas: JSONObject = [
                "library": "OpenBLAS", "version": .string(build.version.description), "configuration": .string(build.configuration),
                "path": Self.optional(OpenBLASBuild.libraryPath), "dynamic_arch": .bool(build.dynamicArch),
                "core": .string(choice.coreInUse), "default_core": Self.optional(choice.openBLASDefault),
                "best_core": Self.optional(choice.bestSupported), "chosen_by": .string(choice.source.rawValue),
                "requested_core": Self.optional(choice.requested), "contrasting_core": .string(contrasting),
            ]
            blas["notes"] = .array((choice.notes + choice.warnings).map { .string($0) })
            var document: JSONObject = [
                "version": .string(LSRConv.configuration.version),
                "os": ["name": .string(system.name), "kernel": .string(system.kernel), "machine": .string(system.machine)],
                "cpu": [
                    "vendor": .string(cpu.vendor), "model_name": .string(cpu.modelName), "family": JSONValue(cpu.family),
                    "model": JSONValue(cpu.model), "stepping": JSONValue(cpu.stepping), "cores": JSONValue(cores),
                    "os_saves_ymm": .bool(cpu.osSavesYMM), "os_saves_zmm": .bool(cpu.osSavesZMM), "features": .object(features),
                ],
                "blas": .object(blas),
                "threads": ["engine": JSONValue(threads), "openblas_per_call": JSONValue(BLAS.threads)],
                "mpi": ["compiled_in": .bool(Launch.mpiCompiledIn), "library": Self.optional(Launch.mpiLibraryVersion)],
            ]
            if measure {
                document["sgemm"] = .array(
                    measurements.map {
                        [
                            "threads": JSONValue($0.threads), "gflops": .double(($0.gflops * 10).rounded() / 10),
                            "m": JSONValue($0.m), "n": JSONValue($0.n), "k": JSONValue($0.k), "repetitions": JSONValue($0.repetitions),
                        ]
                    })
            }
            Output.json(.object(document))
            return
        }

        let present = cpu.named.filter(\.present).map(\.name)
        let absent = cpu.named.filter { !$0.present }.map(\.name)
        var rows: [[String]] = [
            ["lsrconv", LSRConv.configuration.version],
            ["os", "\(system.name); \(system.kernel) \(system.machine)"],
            ["cpu", "\(cpu.modelName.isEmpty ? "unknown" : cpu.modelName) (\(cpu.vendor), family \(cpu.family), model \(cpu.model), stepping \(cpu.stepping)), \(cores) cores"],
            ["features", (present.isEmpty ? "none of the vector features below" : present.joined(separator: " ")) + (absent.isEmpty ? "" : "; no " + absent.joined(separator: " "))],
            ["blas", "OpenBLAS \(build.version)" + (OpenBLASBuild.libraryPath.map { " (\($0))" } ?? "") + (build.dynamicArch ? ", DYNAMIC_ARCH" : ", one core only")],
            ["core", Self.describe(choice)],
            ["threads", "\(threads) (the engine splits each GEMM by rows; OpenBLAS runs \(BLAS.threads) per block)"],
            ["mpi", Launch.mpiCompiledIn ? "compiled in" + (Launch.mpiLibraryVersion.map { " (\($0))" } ?? "") : "not compiled in"],
        ]
        for note in choice.notes { rows.append(["note", note]) }
        if !measurements.isEmpty {
            let shape = SgemmRate.shape
            rows.append([
                "sgemm",
                measurements.map { String(format: "%.1f GFLOP/s on %d thread%@", $0.gflops, $0.threads, $0.threads == 1 ? "" : "s") }
                    .joined(separator: ", ") + " ([\(shape.m)×\(shape.k)]·[\(shape.k)×\(shape.n)], best of each run)",
            ])
        }
        for line in Output.table(rows) { Output.line(line) }
    }

    /// "Zen: OpenBLAS's own choice", "SkylakeX: chosen by lsrconv; OpenBLAS alone picks Prescott", …
    static func describe(_ choice: KernelChoice) -> String {
        switch choice.source {
        case .openBLAS:
            let best = choice.bestSupported.map { best in
                OpenBLASBuild.tier(of: best) ?? .generic <= OpenBLASBuild.tier(of: choice.coreInUse) ?? .generic
                    ? "as fast as this CPU allows" : "\(best) would be faster but cannot be forced"
            }
            return "\(choice.coreInUse): OpenBLAS's own choice" + (best.map { ", \($0)" } ?? "")
        case .lsrconv:
            return "\(choice.coreInUse): chosen by lsrconv; OpenBLAS alone picks \(choice.openBLASDefault ?? "?"), slower than this CPU supports"
        case .user:
            return "\(choice.coreInUse): OPENBLAS_CORETYPE=\(choice.requested ?? "")"
                + (OpenBLASBuild.sameCore(choice.requested ?? "", choice.coreInUse) ? "" : " (not honoured)")
        }
    }

    static func optional(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }

    /// PRETTY_NAME from /etc/os-release (os-release(5)), and uname's release and machine.
    static func operatingSystem() -> (name: String, kernel: String, machine: String) {
        var name = "unknown"
        if let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
                name = String(line.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            }
        }
        var names = utsname()
        uname(&names)
        func field<T>(_ value: inout T) -> String {
            withUnsafeBytes(of: &value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return (name, field(&names.sysname) + " " + field(&names.release), field(&names.machine))
    }
}
