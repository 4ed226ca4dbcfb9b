// The machine facts Swift cannot reach itself: the x86 instructions cpuid and xgetbv, and
// glibc's dladdr (a GNU extension Swift's Glibc module leaves out). Interpretation (which bit
// means which feature) lives in LSREngine/CPUFeatures.swift; this file only asks.
#ifndef CMACHINE_H
#define CMACHINE_H

#include <stdint.h>

/// The registers cpuid returned for one leaf and subleaf.
typedef struct {
    uint32_t eax, ebx, ecx, edx;
} lsr_cpuid_registers;

/// Runs cpuid(leaf, subleaf). Returns 0 and zeroes `out` when the leaf is above the highest the
/// CPU reports (basic or extended range), or on a machine that is not x86.
int lsr_cpuid(uint32_t leaf, uint32_t subleaf, lsr_cpuid_registers *out);

/// XCR0, the register states the operating system saves on a context switch (xgetbv(0)):
/// bits 1–2 SSE/AVX, 5–7 the AVX-512 opmask and ZMM state. 0 when the OS has not enabled
/// xgetbv (CPUID.1:ECX.OSXSAVE clear) or on a machine that is not x86.
uint64_t lsr_xgetbv0(void);

/// Writes into `path` (NUL-terminated, cut at `capacity`) the file of the shared object that
/// holds `address` (dladdr's dli_fname). Returns 0 when no loaded object holds it.
int lsr_shared_object_path(const void *address, char *path, unsigned long capacity);

#endif
