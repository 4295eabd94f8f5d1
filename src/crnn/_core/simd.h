/* simd.h — vectors of REAL for one instantiation of the generic core: its
 * instruction set (CRNN_ISA_ID, core.c) and real type (CRNN_DOUBLE,
 * real.h). Included without guard, once per instantiation, after real.h.
 *
 *   VT            a vector of VL REALs
 *   VZERO()       all lanes 0
 *   VLOAD(p)      VL REALs from p (any alignment)
 *   VSTORE(p, v)  v to p (any alignment)
 *   VLOADN(p, n)  the first n <= VL REALs from p, zeros after them (never
 *                 reads past p + n)
 *   VBCAST(p)     *p in every lane
 *   VFMA(a, b, c) c + a * b lane by lane: one rounding where the ISA has
 *                 FMA (AVX2, AVX-512, aarch64), two elsewhere (SSE2) — the
 *                 same form everywhere in one instantiation, so a sum gives
 *                 the same bits whichever kernel computes it
 *
 * and the register blocking of the panel kernels (gemm.h): NV vectors per
 * panel row (panel width NB = NV * VL), MR rows per block, and KC, the
 * summed elements per pass over a panel.
 */
#undef VT
#undef VL
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VBCAST
#undef VFMA
#undef NV
#undef MR
#undef NB
#undef KC
#undef MADD
#undef VTRANSPOSE
#undef VLOADN

#if CRNN_ISA_ID == CRNN_ID_AVX512
#if CRNN_DOUBLE
#define VT __m512d
#define VL 8
#define VZERO() _mm512_setzero_pd()
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd((p), (v))
#define VBCAST(p) _mm512_set1_pd(*(p))
#define VFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VLOADN(p, n) _mm512_maskz_loadu_pd((__mmask8)((1u << (n)) - 1u), (p))
#else
#define VT __m512
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VLOADN(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
#endif
/* r[0..VL) rows of a VL x VL tile -> its columns (in registers) */
#if CRNN_DOUBLE
#define VTRANSPOSE(r) FN(transpose)(r)
static CRNN_INLINE void FN(transpose)(VT r[8]) {
    VT t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    /* t[2g + c], 128-bit block q: column 2q + c */
    CRNN_TRANSPOSE_BLOCKS(t, r, 2, _mm512_shuffle_f64x2);
}
#else
#define VTRANSPOSE(r) FN(transpose)(r)
static CRNN_INLINE void FN(transpose)(VT r[16]) {
    VT u[16];
    CRNN_TRANSPOSE_4X4(r, u, 16, _mm512_unpacklo_ps, _mm512_unpackhi_ps, _mm512_shuffle_ps);
    CRNN_TRANSPOSE_BLOCKS(u, r, 4, _mm512_shuffle_f32x4);
}
#endif
/* 32 registers: 6 rows x 4 vectors of sums, 4 of panel, 1 broadcast */
#define NV 4
#define MR 6

#elif CRNN_ISA_ID == CRNN_ID_AVX2
#if CRNN_DOUBLE
#define VT __m256d
#define VL 4
#define VZERO() _mm256_setzero_pd()
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd((p), (v))
#define VBCAST(p) _mm256_broadcast_sd(p)
#define VFMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define VLOADN(p, n) \
    _mm256_maskload_pd((p), _mm256_loadu_si256((const __m256i *)(crnn_mask64 + 4 - (n))))
#else
#define VT __m256
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VLOADN(p, n) \
    _mm256_maskload_ps((p), _mm256_loadu_si256((const __m256i *)(crnn_mask32 + 8 - (n))))
#endif
#if CRNN_DOUBLE
#define VTRANSPOSE(r) FN(transpose)(r)
static CRNN_INLINE void FN(transpose)(VT r[4]) {
    VT t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    VT t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#else
#define VTRANSPOSE(r) FN(transpose)(r)
static CRNN_INLINE void FN(transpose)(VT r[8]) {
    VT u[8];
    CRNN_TRANSPOSE_4X4(r, u, 8, _mm256_unpacklo_ps, _mm256_unpackhi_ps, _mm256_shuffle_ps);
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}
#endif
/* 16 registers: 6 rows x 2 vectors of sums, 2 of panel, 1 broadcast */
#define NV 2
#define MR 6

#elif CRNN_GENERIC_NEON
#if CRNN_DOUBLE
#define VT float64x2_t
#define VL 2
#define VZERO() vdupq_n_f64(0.0)
#define VLOAD(p) vld1q_f64(p)
#define VSTORE(p, v) vst1q_f64((p), (v))
#define VBCAST(p) vld1q_dup_f64(p)
#define VFMA(a, b, c) vfmaq_f64((c), (a), (b))
#else
#define VT float32x4_t
#define VL 4
#define VZERO() vdupq_n_f32(0.0f)
#define VLOAD(p) vld1q_f32(p)
#define VSTORE(p, v) vst1q_f32((p), (v))
#define VBCAST(p) vld1q_dup_f32(p)
#define VFMA(a, b, c) vfmaq_f32((c), (a), (b))
#endif
#if CRNN_DOUBLE
#define VTRANSPOSE(r) CRNN_TRANSPOSE_2X2(r, vzip1q_f64, vzip2q_f64)
#else
#define VTRANSPOSE(r) FN(transpose)(r)
static CRNN_INLINE void FN(transpose)(VT r[4]) {
    float32x4x2_t p = vtrnq_f32(r[0], r[1]), q = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(p.val[0]), vget_low_f32(q.val[0]));
    r[1] = vcombine_f32(vget_low_f32(p.val[1]), vget_low_f32(q.val[1]));
    r[2] = vcombine_f32(vget_high_f32(p.val[0]), vget_high_f32(q.val[0]));
    r[3] = vcombine_f32(vget_high_f32(p.val[1]), vget_high_f32(q.val[1]));
}
#endif
/* 32 registers: 4 rows x 4 vectors of sums */
#define NV 4
#define MR 4

#elif CRNN_GENERIC_SSE2
#if CRNN_DOUBLE
#define VT __m128d
#define VL 2
#define VZERO() _mm_setzero_pd()
#define VLOAD(p) _mm_loadu_pd(p)
#define VSTORE(p, v) _mm_storeu_pd((p), (v))
#define VBCAST(p) _mm_set1_pd(*(p))
#define VFMA(a, b, c) _mm_add_pd(_mm_mul_pd((a), (b)), (c))
#else
#define VT __m128
#define VL 4
#define VZERO() _mm_setzero_ps()
#define VLOAD(p) _mm_loadu_ps(p)
#define VSTORE(p, v) _mm_storeu_ps((p), (v))
#define VBCAST(p) _mm_set1_ps(*(p))
#define VFMA(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
#endif
#if CRNN_DOUBLE
#define VTRANSPOSE(r) CRNN_TRANSPOSE_2X2(r, _mm_unpacklo_pd, _mm_unpackhi_pd)
#else
#define VTRANSPOSE(r) _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3])
#endif
/* 16 registers, no FMA: 2 rows x 4 vectors of sums */
#define NV 4
#define MR 2

#else /* plain C: a "vector" of one */
#define VT REAL
#define VL 1
#define VZERO() ((REAL)0)
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VBCAST(p) (*(p))
#define VFMA(a, b, c) ((c) + (a) * (b))
#define VTRANSPOSE(r) ((void)(r))
#define NV 4
#define MR 4
#endif

#ifndef VLOADN /* no masked loads: through a zeroed buffer */
#define VLOADN(p, n) FN(loadn)((p), (n))
static inline VT FN(loadn)(const REAL *p, size_t n) {
    REAL t[VL] = {0};
    memcpy(t, p, n * sizeof(REAL));
    return VLOAD(t);
}
#endif

#define NB (NV * VL)
#define KC CRNN_KC

/* a * b + c for the element-wise math (vmath.h, the cells): fused where
 * the instantiation's ISA has FMA, two roundings elsewhere. The build
 * turns off the compiler's own contraction (-ffp-contract=off), so every
 * element takes the same operations whether a loop's vector body or its
 * tail computes it. */
#if (CRNN_ISA_ID != CRNN_ID_GENERIC || CRNN_GENERIC_NEON) && defined(__GNUC__)
#if CRNN_DOUBLE
#define MADD(a, b, c) __builtin_fma((a), (b), (c))
#else
#define MADD(a, b, c) __builtin_fmaf((a), (b), (c))
#endif
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif
