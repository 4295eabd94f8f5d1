/* platform.h — what the core is compiled for: the architecture and its
 * vector headers, the instruction sets as preprocessor numbers, the
 * per-instantiation target pragmas, and the compiler's spellings of
 * inline, unroll and unused. */
#ifndef CRNN_CORE_PLATFORM_H
#define CRNN_CORE_PLATFORM_H

/* Instruction sets (crnn.h's crnn_isa, as numbers the preprocessor can
 * compare): dispatch.c compiles the generic core once for each one the
 * target architecture has. */
#define CRNN_ID_GENERIC 0
#define CRNN_ID_AVX2 1
#define CRNN_ID_AVX512 2

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define CRNN_X86 1
#include <immintrin.h>
#else
#define CRNN_X86 0
#endif
/* the portable instantiation's vectors: NEON on aarch64, SSE2 on x86-64
 * (both baseline), plain C elsewhere */
#if defined(__aarch64__) || defined(_M_ARM64)
#define CRNN_GENERIC_NEON 1
#include <arm_neon.h>
#else
#define CRNN_GENERIC_NEON 0
#endif
#define CRNN_GENERIC_SSE2 CRNN_X86

/* Per-instantiation target: every function defined between BEGIN and END
 * is compiled for the instruction set (GCC and clang; MSVC takes the
 * intrinsics without a flag, and compiles the rest for its baseline). */
#if CRNN_X86 && defined(__clang__)
#define CRNN_TARGET_AVX2_BEGIN                                                \
    _Pragma("clang attribute push (__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define CRNN_TARGET_AVX512_BEGIN                                              \
    _Pragma("clang attribute push (__attribute__((target(\"avx512f,avx512vl,avx512dq,avx512bw,avx2,fma\"))), apply_to = function)")
#define CRNN_TARGET_END _Pragma("clang attribute pop")
#elif CRNN_X86 && defined(__GNUC__)
#define CRNN_TARGET_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define CRNN_TARGET_AVX512_BEGIN                                              \
    _Pragma("GCC push_options")                                               \
    _Pragma("GCC target(\"avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512\")")
#define CRNN_TARGET_END _Pragma("GCC pop_options")
#else
#define CRNN_TARGET_AVX2_BEGIN
#define CRNN_TARGET_AVX512_BEGIN
#define CRNN_TARGET_END
#endif

/* GCC and clang's target of the VNNI kernels (the AVX-512 instantiation's
 * set plus VNNI): functions of their own, called only when crnn_q8_vnni(). */
#if CRNN_X86 && (defined(__GNUC__) || defined(__clang__))
#define CRNN_TARGET_VNNI                                                      \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,avx512vnni")))
#else
#define CRNN_TARGET_VNNI
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define CRNN_INLINE __forceinline
#define CRNN_UNROLL
#elif defined(__clang__)
#define CRNN_INLINE inline __attribute__((always_inline))
#define CRNN_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define CRNN_INLINE inline __attribute__((always_inline))
#define CRNN_UNROLL _Pragma("GCC unroll 8")
#else
#define CRNN_INLINE inline
#define CRNN_UNROLL
#endif

/* a function some instantiations do not call (q_pack: the portable one
 * packs for every instruction set) */
#if defined(__GNUC__) || defined(__clang__)
#define CRNN_MAYBE_UNUSED __attribute__((unused))
#else
#define CRNN_MAYBE_UNUSED
#endif

#define CRNN_CAT_(a, b) a##b
#define CRNN_CAT(a, b) CRNN_CAT_(a, b)

#endif
