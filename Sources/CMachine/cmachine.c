#define _GNU_SOURCE
#include "cmachine.h"

#include <dlfcn.h>
#include <string.h>

int lsr_shared_object_path(const void *address, char *path, unsigned long capacity) {
    Dl_info info;
    if (capacity == 0 || !dladdr(address, &info) || !info.dli_fname) return 0;
    strncpy(path, info.dli_fname, capacity - 1);
    path[capacity - 1] = 0;
    return 1;
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

int lsr_cpuid(uint32_t leaf, uint32_t subleaf, lsr_cpuid_registers *out) {
    unsigned int a = 0, b = 0, c = 0, d = 0;
    // __get_cpuid_count checks the leaf against the maximum of its range (0 or 0x80000000).
    int ok = __get_cpuid_count(leaf, subleaf, &a, &b, &c, &d);
    out->eax = ok ? a : 0;
    out->ebx = ok ? b : 0;
    out->ecx = ok ? c : 0;
    out->edx = ok ? d : 0;
    return ok;
}

uint64_t lsr_xgetbv0(void) {
    unsigned int a, b, c, d;
    // xgetbv faults (#UD) unless the OS set CR4.OSXSAVE, which CPUID.1:ECX bit 27 mirrors.
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((uint64_t)high << 32) | low;
}

#else

int lsr_cpuid(uint32_t leaf, uint32_t subleaf, lsr_cpuid_registers *out) {
    (void)leaf;
    (void)subleaf;
    out->eax = out->ebx = out->ecx = out->edx = 0;
    return 0;
}

uint64_t lsr_xgetbv0(void) { return 0; }

#endif
