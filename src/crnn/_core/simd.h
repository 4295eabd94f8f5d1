/* simd.h — vectors of REAL for one instantiation of the generic core: its
 * instruction set (CRNN_ISA_ID, core.c) and real type (CRNN_DOUBLE,
 * real.h). Included without guard, once per instantiation, after real.h.
 *
 *   VT            a vector of VL REALs
 *   VZERO()       all lanes 0
 *   VLOAD(p)      VL REALs from p (any alignment)
 *   VSTORE(p, v)  v to p (any alignment)
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

#if CRNN_ISA_ID == CRNN_ID_AVX512
#if CRNN_DOUBLE
#define VT __m512d
#define VL 8
#define VZERO() _mm512_setzero_pd()
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd((p), (v))
#define VBCAST(p) _mm512_set1_pd(*(p))
#define VFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#else
#define VT __m512
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
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
#else
#define VT __m256
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
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
#define NV 4
#define MR 4
#endif

#define NB (NV * VL)
#define KC 512

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
