import CMachine
import COpenBLAS

#if canImport(Glibc)
    import Glibc
#endif

/// The OpenBLAS this process loaded: version, whether it can switch kernels at load
/// (DYNAMIC_ARCH), where it lives, and what its core names mean.
public struct OpenBLASBuild: Equatable, Sendable {
    /// `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    public var configuration: String
    /// (major, minor, patch) from the configuration; (0, 0, 0) when it names none.
    public var version: Version
    /// Built with DYNAMIC_ARCH: kernels for many cores, one chosen at load (else OPENBLAS_CORETYPE
    /// does nothing).
    public var dynamicArch: Bool

    public init(configuration: String) {
        self.configuration = configuration
        let words = configuration.split(separator: " ")
        version = words.count > 1 ? Version(String(words[1])) : Version(major: 0, minor: 0, patch: 0)
        dynamicArch = words.contains("DYNAMIC_ARCH")
    }

    /// The library this process loaded.
    public static let loaded = OpenBLASBuild(configuration: String(cString: openblas_get_config()))

    /// The core whose kernels this process runs.
    public static var loadedCore: String { String(cString: openblas_get_corename()) }

    /// The shared object OpenBLAS was loaded from (dladdr of one of its functions, symlinks
    /// resolved), e.g. /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so.
    public static var libraryPath: String? {
        let function: @convention(c) () -> UnsafeMutablePointer<CChar>? = openblas_get_config
        var name = [CChar](repeating: 0, count: 4096)
        guard lsr_shared_object_path(unsafeBitCast(function, to: UnsafeRawPointer.self), &name, UInt(name.count)) != 0 else { return nil }
        guard let resolved = realpath(name, nil) else { return String(cString: name) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether OPENBLAS_CORETYPE can select `core` in this version: dynamic.c's `force_coretype`
    /// searches its name table only up to SkylakeX in 0.3.21, up to Cooperlake from 0.3.22, and
    /// never reaches SapphireRapids in the versions read (REFERENCE.md, OpenBLAS dynamic.c).
    public func canForce(_ core: String) -> Bool {
        guard dynamicArch, let tier = Self.tier(of: core) else { return false }
        switch tier {
        case .generic, .avx, .avx2, .avx512: return true
        case .avx512bf16: return version >= Version(major: 0, minor: 3, patch: 22)
        case .amx: return false
        }
    }

    /// The instruction set a core's kernels use, from OpenBLAS's x86-64 core names
    /// (dynamic.c `corename`; KERNEL.<CORE> files). Nil for a name it does not have.
    public static func tier(of core: String) -> KernelTier? {
        coreTiers.first { sameCore($0.name, core) }?.tier
    }

    /// OpenBLAS compares core names without regard to case (`strncasecmp`).
    public static func sameCore(_ a: String, _ b: String) -> Bool { a.lowercased() == b.lowercased() }

    private static let coreTiers: [(name: String, tier: KernelTier)] = [
        ("Katmai", .generic), ("Coppermine", .generic), ("Northwood", .generic), ("Prescott", .generic),
        ("Banias", .generic), ("Atom", .generic), ("Core2", .generic), ("Penryn", .generic),
        ("Dunnington", .generic), ("Nehalem", .generic), ("Athlon", .generic), ("Opteron", .generic),
        ("Opteron_SSE3", .generic), ("Barcelona", .generic), ("Nano", .generic), ("Bobcat", .generic),
        // AMD's Bulldozer line: AVX/FMA4-era kernels (Excavator's reuse Piledriver's).
        ("Sandybridge", .avx), ("Bulldozer", .avx), ("Piledriver", .avx), ("Steamroller", .avx), ("Excavator", .avx),
        ("Haswell", .avx2), ("Zen", .avx2),
        ("SkylakeX", .avx512), ("Cooperlake", .avx512bf16), ("SapphireRapids", .amx),
    ]

    public struct Version: Comparable, Sendable, CustomStringConvertible {
        public var major: Int, minor: Int, patch: Int

        public init(major: Int, minor: Int, patch: Int) {
            (self.major, self.minor, self.patch) = (major, minor, patch)
        }

        /// "0.3.21" (a suffix such as ".dev" is ignored); unreadable parts count as 0.
        public init(_ text: String) {
            let parts = text.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
            self.init(major: parts.count > 0 ? parts[0] : 0, minor: parts.count > 1 ? parts[1] : 0, patch: parts.count > 2 ? parts[2] : 0)
        }

        public static func < (a: Version, b: Version) -> Bool { (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch) }
        public var description: String { "\(major).\(minor).\(patch)" }
    }
}

/// The instruction set an OpenBLAS core's kernels are written for, slowest first.
public enum KernelTier: Int, Comparable, Sendable {
    case generic, avx, avx2, avx512, avx512bf16, amx

    public static func < (a: KernelTier, b: KernelTier) -> Bool { a.rawValue < b.rawValue }
}
