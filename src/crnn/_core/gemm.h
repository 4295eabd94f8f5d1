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

/* A product C (m x n) = (init ? C : 0) + A (m x k) . B (k x n):
 *   a(r, i) = a[r*rs_a + i*cs_a]   (rows of A, or A^T of a row-major matrix)
 *   b(i, j) = b[p*pstride + i*ldb + l] for j = p*NB + l: B as panels
 *             (FN(pack_panels): ldb = NB, pstride = k*NB, zero-padded), or
 *             B's own rows (ldb its row stride, pstride = NB, brows set:
 *             the last panel is read only up to column n)
 *   c(r, j) = c[r*ldc + j]
 */
typedef struct FN(mm) {
    size_t m, n, k;
    const REAL *a;
    size_t rs_a, cs_a;
    const REAL *b;
    size_t ldb, pstride;
    int brows;
    REAL *c;
    size_t ldc;
    int init;
    REAL *apack;  /* NULL, or CRNN_APACK elements to copy A's slices into */
    REAL *bpack;  /* NULL, or CRNN_BPACK elements to copy B's panels into
                     (B given as rows, read by many row blocks) */
} FN(mm);

/* B's panel p, rows [k0, k0 + kc), from B's rows into op->bpack (kc x
 * NB, zero-padded past column n). */
static void FN(pack_rows)(const FN(mm) *op, size_t p, size_t k0, size_t kc) {
    size_t j0 = p * NB, nb = op->n - j0 < (size_t)NB ? op->n - j0 : (size_t)NB;
    for (size_t i = 0; i < kc; i++) {
        REAL *dst = op->bpack + i * NB;
        memcpy(dst, op->b + (k0 + i) * op->ldb + j0, nb * sizeof(REAL));
        if (nb < (size_t)NB) memset(dst + nb, 0, (NB - nb) * sizeof(REAL));
    }
}

/* A's rows [m0, m0 + mc) and sums [k0, k0 + kc) into op->apack: blocks of
 * MR rows, each kc x MR (a(r, i) at i*MR + r), matrix rows read in order. */
static void FN(pack_at)(const FN(mm) *op, size_t m0, size_t mc, size_t k0, size_t kc) {
    for (size_t i = 0; i < kc; i++) {
        const REAL *src = op->a + m0 + (k0 + i) * op->cs_a;
        for (size_t r = 0; r < mc; r += MR) {
            size_t nr = mc - r < MR ? mc - r : MR;
            memcpy(op->apack + r * kc + i * MR, src + r, nr * sizeof(REAL));
        }
    }
}

/* The register block: R rows x P panels (with TB, one panel whose first
 * nbv columns only may be read):
 *   c(r, p*NB + l) = (init ? c(r, p*NB + l) : 0) + sum_{i<k} a(r, i) b(i, p*NB + l)
 * R, P and TB are constants where it is inlined: the sums stay in
 * registers. */
static CRNN_INLINE void FN(block)(const int R, const int P, const int TB, size_t k,
                                  const REAL *restrict a, size_t rs, size_t cs,
                                  const REAL *restrict b, size_t pstride, size_t ldb,
                                  size_t nbv, REAL *restrict c, size_t ldc, int init) {
    VT acc[6][8];
    size_t cnt[8];
    CRNN_UNROLL
    for (int q = 0; q < P * NV; q++) {
        size_t lo = (size_t)(q % NV) * VL;
        cnt[q] = nbv <= lo ? 0 : nbv - lo < (size_t)VL ? nbv - lo : (size_t)VL;
    }
    CRNN_UNROLL
    for (int r = 0; r < R; r++) {
        CRNN_UNROLL
        for (int q = 0; q < P * NV; q++)
            acc[r][q] = init ? VLOAD(c + r * ldc + (q / NV) * NB + (q % NV) * VL) : VZERO();
    }
    for (size_t i = 0; i < k; i++) {
        VT bv[8];
        CRNN_UNROLL
        for (int q = 0; q < P * NV; q++) {
            const REAL *bq = b + (q / NV) * pstride + i * ldb + (q % NV) * VL;
            bv[q] = TB ? VLOADN(bq, cnt[q]) : VLOAD(bq);
        }
        CRNN_UNROLL
        for (int r = 0; r < R; r++) {
            VT ar = VBCAST(a + r * rs + i * cs);
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

/* FN(block) for R (1..MR) rows: `multi` panels at once (PF(R)), one, or
 * one read only to nbv columns (tail). */
#define GEMM_ARGS k, a, rs, cs, b, pstride, ldb, nbv, c, ldc, init
#define GEMM_CASE(r)                                                          \
    case r:                                                                   \
        if (multi) FN(block)(r, PF(r) < 1 ? 1 : PF(r), 0, GEMM_ARGS);         \
        else if (tail) FN(block)(r, 1, 1, GEMM_ARGS);                         \
        else FN(block)(r, 1, 0, GEMM_ARGS);                                   \
        return;
static void FN(block_rows)(size_t R, int multi, int tail, size_t k, const REAL *a,
                           size_t rs, size_t cs, const REAL *b, size_t pstride,
                           size_t ldb, size_t nbv, REAL *c, size_t ldc, int init) {
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

/* R rows (1..MR) from row r0, over the panels [p0, p1), a pass of kc
 * sums (A's part of it at a, rs, cs; B's at b, panel p at b + p*pstride,
 * rows ldb apart): full panels in groups (PF(R) at once), the last one
 * (tail valid columns) through a tile on the stack. */
static void FN(strip)(const FN(mm) *op, size_t R, size_t r0, size_t p0, size_t p1,
                      size_t kc, int init, const REAL *a, size_t rs, size_t cs,
                      const REAL *b, size_t pstride, size_t ldb, int brows) {
    size_t nfull = op->n / NB, tail = op->n % NB;
    size_t P = R == (size_t)MR ? 1 : (size_t)PF(R), p = p0;
    size_t full_end = p1 < nfull ? p1 : nfull;
    REAL *c = op->c + r0 * op->ldc;
#define STRIP_ARGS kc, a, rs, cs, b + p * pstride, pstride, ldb
    for (; P > 1 && p + P <= full_end; p += P)
        FN(block_rows)(R, 1, 0, STRIP_ARGS, NB, c + p * NB, op->ldc, init);
    for (; p < full_end; p++)
        FN(block_rows)(R, 0, 0, STRIP_ARGS, NB, c + p * NB, op->ldc, init);
    if (p < p1 && tail) { /* the last panel, tail columns valid */
        REAL t[6 * NB];
        for (size_t r = 0; r < R; r++)
            for (size_t l = 0; l < (size_t)NB; l++)
                t[r * NB + l] = init && l < tail ? c[r * op->ldc + p * NB + l] : 0;
        FN(block_rows)(R, 0, brows, STRIP_ARGS, tail, t, NB, init);
        for (size_t r = 0; r < R; r++)
            memcpy(c + r * op->ldc + p * NB, t + r * NB, tail * sizeof(REAL));
    }
#undef STRIP_ARGS
}

/* The product op over its panels [p0, p1) (columns p0*NB .. min(n,
 * p1*NB)). Rows go in blocks of MR within slices of MC rows (A's slice
 * stays in L2 while the panels stream), the sum in passes of KC (a
 * panel's pass stays in L1 across the row blocks); a pass after the first
 * starts from the sums the one before stored, so blocking changes no
 * chain. */

static void FN(gemm)(const FN(mm) *op, size_t p0, size_t p1) {
    size_t m = op->m, k = op->k;
    if (m == 0 || p0 >= p1) return;
    if (k == 0) {
        if (!op->init)
            for (size_t i = 0; i < m; i++) {
                size_t j0 = p0 * NB, j1 = p1 * NB < op->n ? p1 * NB : op->n;
                memset(op->c + i * op->ldc + j0, 0, (j1 - j0) * sizeof(REAL));
            }
        return;
    }
    for (size_t k0 = 0; k0 < k; k0 += KC) {
        size_t kc = k - k0 < KC ? k - k0 : KC;
        int in = op->init || k0 > 0;
        const REAL *b = op->b + k0 * op->ldb;
        for (size_t m0 = 0; m0 < m; m0 += CRNN_MC) {
            size_t mc = m - m0 < CRNN_MC ? m - m0 : CRNN_MC;
            size_t rem = mc % MR, mfull = mc - rem;
            const REAL *a = op->a + k0 * op->cs_a;
            size_t rs = op->rs_a, cs = op->cs_a, rstep = MR * op->rs_a;
            if (op->apack) { /* A^T of a row-major matrix: copy its slice */
                FN(pack_at)(op, m0, mc, k0, kc);
                a = op->apack;
                rs = 1; cs = MR; rstep = MR * kc;
            } else {
                a += m0 * rs;
            }
            if (op->bpack) { /* B's rows: copy each panel's pass, then use it */
                for (size_t p = p0; p < p1; p++) {
                    FN(pack_rows)(op, p, k0, kc);
                    for (size_t r = 0; r < mfull; r += MR)
                        FN(strip)(op, MR, m0 + r, p, p + 1, kc, in, a + r / MR * rstep, rs,
                                  cs, op->bpack, 0, NB, 0);
                    if (rem)
                        FN(strip)(op, rem, m0 + mfull, p, p + 1, kc, in, a + mfull / MR * rstep,
                                  rs, cs, op->bpack, 0, NB, 0);
                }
                continue;
            }
            if (!mfull) { /* few rows: several panels at once */
                FN(strip)(op, rem, m0, p0, p1, kc, in, a, rs, cs, b, op->pstride, op->ldb,
                          op->brows);
                continue;
            }
            for (size_t p = p0; p < p1; p++) { /* each panel's pass read once */
                for (size_t r = 0; r < mfull; r += MR)
                    FN(strip)(op, MR, m0 + r, p, p + 1, kc, in, a + r / MR * rstep, rs, cs,
                              b, op->pstride, op->ldb, op->brows);
                if (rem)
                    FN(strip)(op, rem, m0 + mfull, p, p + 1, kc, in, a + mfull / MR * rstep,
                              rs, cs, b, op->pstride, op->ldb, op->brows);
            }
        }
    }
}

/* C (m x n, ldc) = (init ? C : 0) + A (m x k, lda) . B, for B (k x n) as
 * FN(pack_panels) left it: its panels [p0, p1). */
static void FN(panel_mm)(size_t m, size_t n, size_t k, const REAL *A,
                         size_t lda, const REAL *panels, size_t p0, size_t p1,
                         int init, REAL *C, size_t ldc) {
    FN(mm) op = {m, n, k, A, lda, 1, panels, NB, k * NB, 0, C, ldc, init, NULL, NULL};
    FN(gemm)(&op, p0, p1);
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

