/* gemm.h — the core's own matrix products, generic over REAL and the
 * instantiation's ISA (simd.h): weights repacked into panels, and a
 * register-blocked kernel that streams them.
 *
 * The fixed order. Every element of a product is one chain of VFMA over
 * the summed index in increasing order, started from the element's prior
 * value (or 0):  c = fma(a[k-1], b[k-1], ... fma(a[0], b[0], c0)).
 * Blocking (rows, panels, passes of KC), the rows a product has and the
 * way columns are shared between threads change which kernel computes an
 * element, never its chain: a row's result does not depend on the batch
 * it came in, on how a sequence was cut into calls, or on threads.
 */

/* Pack into panels the (k x n) matrix B = W^T (trans; W is (n x k) with
 * row stride ldw) or B = W (W is (k x n)): ceil(n / NB) blocks of (k, NB),
 * zero-padded. Transposing goes by tiles of T x T through a small buffer
 * in L1: T rows of W are read in order and every line of the panel is
 * written whole, once. */
static void FN(pack_panels)(size_t n, size_t k, const REAL *restrict W,
                            size_t ldw, int trans, REAL *restrict dst) {
    enum { T = 16 };
    REAL tile[T][T];
    for (size_t j0 = 0; j0 < n; j0 += NB) {
        REAL *restrict panel = dst + (j0 / NB) * k * NB;
        size_t nb = n - j0 < NB ? n - j0 : NB;
        if (trans) {
            for (size_t l0 = 0; l0 < nb; l0 += T) {
                size_t tl = nb - l0 < T ? nb - l0 : T;
                for (size_t i0 = 0; i0 < k; i0 += T) {
                    size_t ti = k - i0 < T ? k - i0 : T;
                    for (size_t l = 0; l < tl; l++) {
                        const REAL *restrict src = W + (j0 + l0 + l) * ldw + i0;
                        for (size_t i = 0; i < ti; i++) tile[i][l] = src[i];
                    }
                    for (size_t i = 0; i < ti; i++)
                        memcpy(panel + (i0 + i) * NB + l0, tile[i], tl * sizeof(REAL));
                }
            }
        } else {
            for (size_t i = 0; i < k; i++)
                memcpy(panel + i * NB, W + i * ldw + j0, nb * sizeof(REAL));
        }
        if (nb < NB)
            for (size_t i = 0; i < k; i++)
                memset(panel + i * NB + nb, 0, (NB - nb) * sizeof(REAL));
    }
}

/* Panels of a block of R rows: PF(R) side by side, so that few rows still
 * keep about 8 chains of sums in flight (one row at batch 1 would
 * otherwise wait on its FMA latency), within MR * NV registers of sums. */
#undef PMAX
#undef PF
#define PMAX (8 / NV > 0 ? 8 / NV : 1)
#define PF(R) (MR / (R) < PMAX ? (MR / (R) > 0 ? MR / (R) : 1) : PMAX)

/* The register block: R rows x P panels, all columns valid:
 *   C[r][p*NB + l] = (init ? C[r][p*NB + l] : 0)
 *                    + sum_{i<k} A[r*lda + i] * panel_p[i*NB + l]
 * with panel p at b + p*pstride (rows NB apart), its columns at
 * c + p*NB. R and P are constants where it is inlined: the sums stay in
 * registers. */
static CRNN_INLINE void FN(block)(const int R, const int P, size_t k,
                                  const REAL *restrict a, size_t lda,
                                  const REAL *restrict b, size_t pstride,
                                  REAL *restrict c, size_t ldc, int init) {
    VT acc[6][8];
    CRNN_UNROLL
    for (int r = 0; r < R; r++) {
        CRNN_UNROLL
        for (int q = 0; q < P * NV; q++)
            acc[r][q] = init ? VLOAD(c + r * ldc + (q / NV) * NB + (q % NV) * VL) : VZERO();
    }
    for (size_t i = 0; i < k; i++) {
        VT bv[8];
        CRNN_UNROLL
        for (int q = 0; q < P * NV; q++)
            bv[q] = VLOAD(b + (q / NV) * pstride + i * NB + (q % NV) * VL);
        CRNN_UNROLL
        for (int r = 0; r < R; r++) {
            VT ar = VBCAST(a + r * lda + i);
            CRNN_UNROLL
            for (int q = 0; q < P * NV; q++) acc[r][q] = VFMA(ar, bv[q], acc[r][q]);
        }
    }
    CRNN_UNROLL
    for (int r = 0; r < R; r++) {
        CRNN_UNROLL
        for (int q = 0; q < P * NV; q++)
            VSTORE(c + r * ldc + (q / NV) * NB + (q % NV) * VL, acc[r][q]);
    }
}

/* FN(block) for R (1..MR) rows: with `multi`, PF(R) panels, else one. */
#define GEMM_ARGS k, a, lda, b, pstride, c, ldc, init
#define GEMM_CASE(r)                                                          \
    case r:                                                                   \
        if (multi) FN(block)(r, PF(r) < 1 ? 1 : PF(r), GEMM_ARGS);            \
        else FN(block)(r, 1, GEMM_ARGS);                                      \
        return;
static void FN(block_rows)(size_t R, int multi, size_t k, const REAL *a,
                           size_t lda, const REAL *b, size_t pstride, REAL *c,
                           size_t ldc, int init) {
    switch (R) {
    GEMM_CASE(1)
    GEMM_CASE(2)
#if MR > 2
    GEMM_CASE(3)
    GEMM_CASE(4)
#endif
#if MR > 4
    GEMM_CASE(5)
    GEMM_CASE(6)
#endif
    default: return;
    }
}
#undef GEMM_CASE
#undef GEMM_ARGS

/* R rows (1..MR) over the panels [p0, p1) of a pass: full panels in
 * groups (PF(R) at once), the zero-padded last one (nb valid columns)
 * through a tile on the stack. */
static void FN(strip)(size_t R, size_t p0, size_t p1, size_t nfull,
                      size_t tail, size_t kc, const REAL *a, size_t lda,
                      const REAL *b, size_t pstride, REAL *c, size_t ldc,
                      int init) {
    size_t P = R == (size_t)MR ? 1 : (size_t)PF(R), p = p0;
    size_t full_end = p1 < nfull ? p1 : nfull;
    for (; P > 1 && p + P <= full_end; p += P)
        FN(block_rows)(R, 1, kc, a, lda, b + p * pstride, pstride, c + p * NB, ldc, init);
    for (; p < full_end; p++)
        FN(block_rows)(R, 0, kc, a, lda, b + p * pstride, pstride, c + p * NB, ldc, init);
    if (p < p1 && tail) { /* the last panel, tail columns valid */
        REAL t[6 * NB];
        for (size_t r = 0; r < R; r++)
            for (size_t l = 0; l < (size_t)NB; l++)
                t[r * NB + l] = init && l < tail ? c[r * ldc + p * NB + l] : 0;
        FN(block_rows)(R, 0, kc, a, lda, b + p * pstride, pstride, t, NB, init);
        for (size_t r = 0; r < R; r++)
            memcpy(c + r * ldc + p * NB, t + r * NB, tail * sizeof(REAL));
    }
}

/* C (m x n, ldc) = (init ? C : 0) + A (m x k, lda) . B, for B (k x n) as
 * FN(pack_panels) left it: the panels [p0, p1) of it (their columns
 * p0*NB .. min(n, p1*NB)). Rows go in blocks of MR within slices of MC
 * rows (A's slice stays in L2 while the panels stream), the sum in
 * passes of KC (a panel's pass stays in L1 across the row blocks). */
enum { FN(MC) = 120 };

static void FN(panel_mm)(size_t m, size_t n, size_t k, const REAL *A,
                         size_t lda, const REAL *panels, size_t p0, size_t p1,
                         int init, REAL *C, size_t ldc) {
    size_t nfull = n / NB, tail = n % NB, pstride = k * NB;
    if (m == 0 || p0 >= p1) return;
    if (k == 0) {
        if (!init)
            for (size_t i = 0; i < m; i++) {
                size_t j0 = p0 * NB, j1 = p1 * NB < n ? p1 * NB : n;
                memset(C + i * ldc + j0, 0, (j1 - j0) * sizeof(REAL));
            }
        return;
    }
    for (size_t k0 = 0; k0 < k; k0 += KC) {
        size_t kc = k - k0 < KC ? k - k0 : KC;
        int in = init || k0 > 0;
        const REAL *b = panels + k0 * NB;
        for (size_t m0 = 0; m0 < m; m0 += FN(MC)) {
            size_t mc = m - m0 < FN(MC) ? m - m0 : FN(MC);
            size_t rem = mc % MR, mfull = mc - rem;
            for (size_t p = p0; p < p1; p++)
                for (size_t r = 0; r < mfull; r += MR)
                    FN(strip)(MR, p, p + 1, nfull, tail, kc, A + (m0 + r) * lda + k0,
                              lda, b, pstride, C + (m0 + r) * ldc, ldc, in);
            if (rem)
                FN(strip)(rem, p0, p1, nfull, tail, kc, A + (m0 + mfull) * lda + k0,
                          lda, b, pstride, C + (m0 + mfull) * ldc, ldc, in);
        }
    }
}

/* Panels of an n-column product. */
static inline size_t FN(panels_of)(size_t n) { return (n + NB - 1) / NB; }

/* The same product from W itself, unpacked: C (m x n, ldc) = (init ? C :
 * 0) + A (m x k, lda) . W^T for W (n x k) row-major (ldw), its columns
 * [j0, j1) only. The chains are those of FN(panel_mm) over W's panels
 * (one VFMA per summed element, in order), so results match it bit for
 * bit; tiles of W (VL rows x VL sums) are transposed in registers instead
 * of packed, which pays for calls of few rows (a step at batch 1), where
 * packing would cost more than the product. Rows go TM at a time. */
enum { FN(TM) = 4 };

static void FN(tmm)(size_t m, size_t k, const REAL *A, size_t lda,
                    const REAL *W, size_t ldw, int init, REAL *C, size_t ldc,
                    size_t j0, size_t j1) {
    size_t kv = k - k % VL;
    for (size_t r0 = 0; r0 < m; r0 += FN(TM)) {
        size_t tm = m - r0 < FN(TM) ? m - r0 : FN(TM);
        for (size_t j = j0; j < j1; j += VL) {
            size_t nj = j1 - j < VL ? j1 - j : VL;
            VT acc[4], t[VL];
            REAL tmp[VL];
            for (size_t r = 0; r < tm; r++) {
                if (init) {
                    for (size_t l = 0; l < VL; l++) tmp[l] = l < nj ? C[(r0 + r) * ldc + j + l] : 0;
                    acc[r] = VLOAD(tmp);
                } else {
                    acc[r] = VZERO();
                }
            }
            for (size_t i = 0; i < kv; i += VL) {
                for (size_t l = 0; l < VL; l++)
                    t[l] = l < nj ? VLOAD(W + (j + l) * ldw + i) : VZERO();
                VTRANSPOSE(t); /* t[q]: column i + q of W^T, lanes j .. j+VL */
                for (size_t r = 0; r < tm; r++) {
                    const REAL *a = A + (r0 + r) * lda + i;
                    CRNN_UNROLL
                    for (int q = 0; q < VL; q++) acc[r] = VFMA(VBCAST(a + q), t[q], acc[r]);
                }
            }
            for (size_t i = kv; i < k; i++) { /* the last k % VL sums */
                VT col;
                for (size_t l = 0; l < VL; l++) tmp[l] = l < nj ? W[(j + l) * ldw + i] : 0;
                col = VLOAD(tmp);
                for (size_t r = 0; r < tm; r++)
                    acc[r] = VFMA(VBCAST(A + (r0 + r) * lda + i), col, acc[r]);
            }
            for (size_t r = 0; r < tm; r++) {
                VSTORE(tmp, acc[r]);
                memcpy(C + (r0 + r) * ldc + j, tmp, nj * sizeof(REAL));
            }
        }
    }
}

