import CMachine

/// What this x86-64 CPU can run, read from cpuid and xgetbv: the facts OpenBLAS's kernel choice
/// rests on (OpenBLAS driver/others/dynamic.c, `support_avx2`, `support_avx512`,
/// `support_avx512_bf16`), so that lsrconv can tell when OpenBLAS fell back to kernels slower
/// than the CPU supports (BLASKernels.swift).
///
/// Bits: Intel SDM vol. 2A, CPUID: leaf 1 ECX (FMA 12, OSXSAVE 27, AVX 28); leaf 7.0 EBX (AVX2 5,
/// AVX512F 16, AVX512DQ 17, AVX512CD 28, AVX512BW 30, AVX512VL 31), EDX (AVX512_FP16 23);
/// leaf 7.1 EAX (AVX512_BF16 5). XCR0 (xgetbv 0): bits 1–2 XMM/YMM state, 5–7 opmask/ZMM state;
/// an instruction set is usable only when the OS saves its registers too.
public struct CPUFeatures: Equatable, Sendable {
    /// "GenuineIntel", "AuthenticAMD", … (empty on a machine that is not x86).
    public var vendor: String
    /// The brand string (cpuid 0x80000002–4), e.g. "Intel(R) Xeon(R) Platinum 8581C CPU @ 2.10GHz".
    public var modelName: String
    /// Display family and model (base plus extended fields, as the SDM defines them).
    public var family: Int
    public var model: Int
    public var stepping: Int

    public var avx: Bool
    public var fma: Bool
    public var avx2: Bool
    public var avx512f: Bool
    public var avx512bw: Bool
    public var avx512dq: Bool
    public var avx512vl: Bool
    public var avx512cd: Bool
    public var avx512bf16: Bool
    public var avx512fp16: Bool
    /// The OS saves YMM state (XCR0 bits 1–2): AVX and AVX2 are usable.
    public var osSavesYMM: Bool
    /// The OS saves opmask and ZMM state (XCR0 bits 5–7): AVX-512 is usable.
    public var osSavesZMM: Bool

    public init(
        vendor: String, modelName: String, family: Int, model: Int, stepping: Int, avx: Bool, fma: Bool, avx2: Bool,
        avx512f: Bool, avx512bw: Bool, avx512dq: Bool, avx512vl: Bool, avx512cd: Bool, avx512bf16: Bool, avx512fp16: Bool,
        osSavesYMM: Bool, osSavesZMM: Bool
    ) {
        (self.vendor, self.modelName, self.family, self.model, self.stepping) = (vendor, modelName, family, model, stepping)
        (self.avx, self.fma, self.avx2) = (avx, fma, avx2)
        (self.avx512f, self.avx512bw, self.avx512dq, self.avx512vl, self.avx512cd) = (avx512f, avx512bw, avx512dq, avx512vl, avx512cd)
        (self.avx512bf16, self.avx512fp16, self.osSavesYMM, self.osSavesZMM) = (avx512bf16, avx512fp16, osSavesYMM, osSavesZMM)
    }

    /// AVX2 with FMA, enabled by the OS: what OpenBLAS's Haswell kernels need.
    public var canRunAVX2Kernels: Bool { avx2 && fma && avx && osSavesYMM }

    /// AVX-512 F/BW/DQ/VL/CD, enabled by the OS: what its SkylakeX kernels need.
    public var canRunAVX512Kernels: Bool {
        canRunAVX2Kernels && avx512f && avx512bw && avx512dq && avx512vl && avx512cd && osSavesZMM
    }

    /// AVX-512 with BF16 as well: its Cooperlake kernels.
    public var canRunAVX512BF16Kernels: Bool { canRunAVX512Kernels && avx512bf16 }

    /// The features `lsrconv env` reports, in a fixed order.
    public var named: [(name: String, present: Bool)] {
        [
            ("avx", avx), ("fma", fma), ("avx2", avx2), ("avx512f", avx512f), ("avx512bw", avx512bw),
            ("avx512dq", avx512dq), ("avx512vl", avx512vl), ("avx512cd", avx512cd),
            ("avx512_bf16", avx512bf16), ("avx512_fp16", avx512fp16),
        ]
    }

    /// This machine's CPU, read once.
    public static let current = CPUFeatures.read()

    static func read() -> CPUFeatures {
        func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> lsr_cpuid_registers {
            var registers = lsr_cpuid_registers()
            _ = lsr_cpuid(leaf, subleaf, &registers)
            return registers
        }
        func bit(_ value: UInt32, _ n: UInt32) -> Bool { value & (1 << n) != 0 }

        let leaf0 = cpuid(0)
        let vendor = text(of: [leaf0.ebx, leaf0.edx, leaf0.ecx])
        let leaf1 = cpuid(1)
        let leaf7 = leaf0.eax >= 7 ? cpuid(7, 0) : lsr_cpuid_registers()
        let leaf71 = leaf0.eax >= 7 && leaf7.eax >= 1 ? cpuid(7, 1) : lsr_cpuid_registers()
        let brand = cpuid(0x8000_0000).eax >= 0x8000_0004
            ? text(of: (0x8000_0002...0x8000_0004).flatMap { leaf -> [UInt32] in
                let r = cpuid(UInt32(leaf))
                return [r.eax, r.ebx, r.ecx, r.edx]
            })
            : ""
        let xcr0 = lsr_xgetbv0()

        let baseFamily = Int((leaf1.eax >> 8) & 0xF)
        let baseModel = Int((leaf1.eax >> 4) & 0xF)
        let family = baseFamily == 0xF ? baseFamily + Int((leaf1.eax >> 20) & 0xFF) : baseFamily
        let model = baseFamily == 0x6 || baseFamily == 0xF ? (Int((leaf1.eax >> 16) & 0xF) << 4) | baseModel : baseModel

        return CPUFeatures(
            vendor: vendor, modelName: brand.trimmingSpaces, family: family, model: model, stepping: Int(leaf1.eax & 0xF),
            avx: bit(leaf1.ecx, 28), fma: bit(leaf1.ecx, 12), avx2: bit(leaf7.ebx, 5),
            avx512f: bit(leaf7.ebx, 16), avx512bw: bit(leaf7.ebx, 30), avx512dq: bit(leaf7.ebx, 17),
            avx512vl: bit(leaf7.ebx, 31), avx512cd: bit(leaf7.ebx, 28), avx512bf16: bit(leaf71.eax, 5),
            avx512fp16: bit(leaf7.edx, 23),
            osSavesYMM: xcr0 & 0x6 == 0x6, osSavesZMM: xcr0 & 0xE6 == 0xE6)
    }

    /// The ASCII text packed little-endian into cpuid registers, up to the first NUL.
    private static func text(of registers: [UInt32]) -> String {
        var bytes: [UInt8] = []
        for register in registers {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((register >> UInt32(shift)) & 0xFF)) }
        }
        if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
