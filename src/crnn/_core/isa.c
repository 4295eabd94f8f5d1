/* isa.c — instruction sets (crnn.h): what the CPU and its OS support,
 * read once with cpuid (and xgetbv: the OS must save the vector
 * registers), their names, and the one in use. */
#include <string.h>

#include "atomic.h"
#include "crnn.h"
#include "platform.h"

#if CRNN_X86 && defined(_MSC_VER) && !defined(__clang__)
static void crnn_cpuid(int leaf, int sub, unsigned r[4]) {
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long crnn_xgetbv(void) { return _xgetbv(0); }
#elif CRNN_X86
#include <cpuid.h>
static void crnn_cpuid(int leaf, int sub, unsigned r[4]) {
    if (!__get_cpuid_count((unsigned)leaf, (unsigned)sub, &r[0], &r[1], &r[2], &r[3]))
        r[0] = r[1] = r[2] = r[3] = 0;
}
static unsigned long long crnn_xgetbv(void) {
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static crnn_isa crnn_detect(void) {
#if CRNN_X86
    unsigned l1[4], l7[4];
    unsigned long long xcr0;
    crnn_cpuid(0, 0, l1);
    if (l1[0] < 7) return CRNN_ISA_GENERIC;
    crnn_cpuid(1, 0, l1);
    crnn_cpuid(7, 0, l7);
    if (!(l1[2] >> 27 & 1)) return CRNN_ISA_GENERIC; /* no OSXSAVE */
    xcr0 = crnn_xgetbv();
    if ((xcr0 & 0x6) != 0x6) return CRNN_ISA_GENERIC; /* no YMM state */
    /* AVX (leaf 1 ecx 28), FMA (ecx 12), AVX2 (leaf 7 ebx 5) */
    if (!(l1[2] >> 28 & 1) || !(l1[2] >> 12 & 1) || !(l7[1] >> 5 & 1))
        return CRNN_ISA_GENERIC;
    /* AVX-512 F (ebx 16), DQ (17), BW (30), VL (31); opmask and ZMM state */
    if ((xcr0 & 0xe6) == 0xe6 && (l7[1] >> 16 & 1) && (l7[1] >> 17 & 1) &&
        (l7[1] >> 30 & 1) && (l7[1] >> 31 & 1))
        return l7[2] >> 11 & 1 ? CRNN_ISA_AVX512_VNNI : CRNN_ISA_AVX512; /* VNNI: ecx 11 */
    return CRNN_ISA_AVX2;
#else
    return CRNN_ISA_GENERIC;
#endif
}

static const char *const crnn_isa_names[] = {"generic", "avx2", "avx512", "avx512vnni"};

const char *crnn_isa_name(crnn_isa isa) {
    return (unsigned)isa <= CRNN_ISA_AVX512_VNNI ? crnn_isa_names[isa] : NULL;
}

crnn_status crnn_isa_from_name(const char *name, crnn_isa *isa) {
    if (!name || !isa) return CRNN_ERR_NULL;
    for (int i = 0; i <= CRNN_ISA_AVX512_VNNI; i++)
        if (strcmp(name, crnn_isa_names[i]) == 0) {
            *isa = (crnn_isa)i;
            return CRNN_OK;
        }
    return CRNN_ERR_ISA;
}

/* best + 1 and active + 1, 0 until first asked (a race only computes the
 * same value twice) */
static crnn_atomic crnn_best_plus1, crnn_active_plus1;

crnn_isa crnn_isa_best(void) {
    long v = CRNN_LOAD(&crnn_best_plus1);
    if (!v) {
        v = (long)crnn_detect() + 1;
        CRNN_STORE(&crnn_best_plus1, v);
    }
    return (crnn_isa)(v - 1);
}

crnn_isa crnn_isa_active(void) {
    long v = CRNN_LOAD(&crnn_active_plus1);
    if (!v) {
        v = (long)crnn_isa_best() + 1;
        CRNN_CAS(&crnn_active_plus1, 0, v);
        v = CRNN_LOAD(&crnn_active_plus1);
    }
    return (crnn_isa)(v - 1);
}

crnn_status crnn_isa_select(crnn_isa isa) {
    if ((unsigned)isa > CRNN_ISA_AVX512_VNNI || isa > crnn_isa_best()) return CRNN_ERR_ISA;
    CRNN_STORE(&crnn_active_plus1, (long)isa + 1);
    return CRNN_OK;
}
