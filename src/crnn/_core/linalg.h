/* linalg.h — generic (REAL) matrix helpers over the injected BLAS.
 * Row-major in, column-major BLAS out: a row-major (r x c) matrix with row
 * stride ld is the column-major (c x r) matrix with leading dimension ld,
 * so every product below swaps its operands instead of copying.
 * Callers have checked that every size and stride fits an int. */

/* Address of row (t, n) of a sequence tensor; off is the first row of step
 * t in the packed row layout. */
static inline REAL *FN(seq_row)(TYPED(seq) v, const crnn_batch *b, size_t t,
                                size_t off, size_t n) {
    if (b->batch_sizes) return v.data + (ptrdiff_t)(off + n) * v.stride_n;
    return v.data + (ptrdiff_t)t * v.stride_t + (ptrdiff_t)n * v.stride_n;
}

/* For row_dots: the fixed tree over the DOT_V lanes of each of the `rows`
 * dots in acc, then the tail kv..k-1, into c[i + r]. */
#define DOT_FINISH(rows)                                                      \
    do {                                                                      \
        for (int r = 0; r < (rows); r++) {                                    \
            const REAL *restrict wr = w + r * ldb;                            \
            REAL t8[DOT_V / 2], t4[DOT_V / 4], s;                             \
            for (int l = 0; l < DOT_V / 2; l++) t8[l] = acc[r][l] + acc[r][l + DOT_V / 2]; \
            for (int l = 0; l < DOT_V / 4; l++) t4[l] = t8[l] + t8[l + DOT_V / 4]; \
            s = (t4[0] + t4[2]) + (t4[1] + t4[3]);                            \
            for (size_t j = kv; j < k; j++) s += wr[j] * a[j];                \
            c[i + r] = beta == 0 ? s : beta * c[i + r] + s;                   \
        }                                                                     \
    } while (0)

/* One row (batch 1): c (n) = beta c + B a for B (n x k) row-major, as n
 * dot products, four rows at a time so that four chains of sums run side
 * by side. Each dot keeps 16 partial sums in fixed lanes, added up in a
 * fixed tree: vectorised without reassociating, so the result does not
 * depend on the instruction set (nor on the rows it was grouped with). */
CRNN_HOT static void FN(row_dots)(size_t n, size_t k, const REAL *restrict a,
                                  const REAL *restrict B, size_t ldb, REAL beta,
                                  REAL *restrict c) {
    size_t i = 0, kv = k - k % DOT_V;
    for (; i + DOT_ROWS <= n; i += DOT_ROWS) {
        const REAL *restrict w = B + i * ldb;
        REAL acc[DOT_ROWS][DOT_V] = {{0}};
        const REAL *restrict w0 = w, *restrict w1 = w + ldb,
                   *restrict w2 = w + 2 * ldb, *restrict w3 = w + 3 * ldb;
        for (size_t j = 0; j < kv; j += DOT_V)
            for (int l = 0; l < DOT_V; l++) {
                REAL x = a[j + l];
                acc[0][l] += w0[j + l] * x;
                acc[1][l] += w1[j + l] * x;
                acc[2][l] += w2[j + l] * x;
                acc[3][l] += w3[j + l] * x;
            }
        DOT_FINISH(DOT_ROWS);
    }
    for (; i < n; i++) {
        const REAL *restrict w = B + i * ldb;
        REAL acc[1][DOT_V] = {{0}};
        for (size_t j = 0; j < kv; j += DOT_V)
            for (int l = 0; l < DOT_V; l++) acc[0][l] += w[j + l] * a[j + l];
        DOT_FINISH(1);
    }
}
#undef DOT_FINISH

/* One row: c (n) = beta c + a B for B (k x n) row-major: rows of B scaled
 * by a and added, unit stride throughout (a fixed order per element). */
CRNN_HOT static void FN(row_axpys)(size_t n, size_t k, const REAL *restrict a,
                                   const REAL *restrict B, size_t ldb, REAL beta,
                                   REAL *restrict c) {
    if (beta == 0) memset(c, 0, n * sizeof(REAL));
    else if (beta != 1) for (size_t j = 0; j < n; j++) c[j] *= beta;
    for (size_t i = 0; i < k; i++) {
        const REAL *restrict w = B + i * ldb;
        REAL ai = a[i];
        for (size_t j = 0; j < n; j++) c[j] += ai * w[j];
    }
}

/* Pack into panels (common.h) the (k x n) matrix B = W^T (trans; W is
 * (n x k) with row stride ldw) or B = W (W is (k x n)). Transposing goes
 * by tiles of T x T through a small buffer in L1: T rows of W are read in
 * order (T streams the prefetcher follows) and every line of the panel is
 * written whole, once. */
static void FN(pack_panels)(size_t n, size_t k, const REAL *restrict W,
                            size_t ldw, int trans, REAL *restrict dst) {
    enum { T = 16 };
    REAL tile[T][T];
    for (size_t j0 = 0; j0 < n; j0 += CRNN_NB) {
        REAL *restrict panel = dst + (j0 / CRNN_NB) * k * CRNN_NB;
        size_t nb = n - j0 < CRNN_NB ? n - j0 : CRNN_NB;
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
                        memcpy(panel + (i0 + i) * CRNN_NB + l0, tile[i], tl * sizeof(REAL));
                }
            }
        } else {
            for (size_t i = 0; i < k; i++)
                memcpy(panel + i * CRNN_NB, W + i * ldw + j0, nb * sizeof(REAL));
        }
        if (nb < CRNN_NB)
            for (size_t i = 0; i < k; i++)
                memset(panel + i * CRNN_NB + nb, 0, (CRNN_NB - nb) * sizeof(REAL));
    }
}

/* Over panels: C (m x n, ldc) = beta C + A (m x k, lda) . B. Blocks of
 * PANEL_MR rows x NB columns of sums stay in registers while a panel
 * streams past (from L2); every row's sums run over k in the same order,
 * so a row's result does not depend on the batch it came in. */
CRNN_HOT static void FN(panel_mm)(size_t m, size_t n, size_t k,
                                  const REAL *restrict A, size_t lda,
                                  const REAL *restrict panels, REAL beta,
                                  REAL *restrict C, size_t ldc) {
    for (size_t j0 = 0; j0 < n; j0 += CRNN_NB) {
        const REAL *restrict w = panels + (j0 / CRNN_NB) * k * CRNN_NB;
        size_t nb = n - j0 < CRNN_NB ? n - j0 : CRNN_NB;
        size_t r0 = 0;
        for (; r0 + PANEL_MR <= m; r0 += PANEL_MR) {
            REAL acc[PANEL_MR][CRNN_NB] = {{0}};
            for (size_t i = 0; i < k; i++) {
                const REAL *restrict wi = w + i * CRNN_NB;
                for (int r = 0; r < PANEL_MR; r++) {
                    REAL ar = A[(r0 + r) * lda + i];
                    for (int l = 0; l < CRNN_NB; l++) acc[r][l] += ar * wi[l];
                }
            }
            for (int r = 0; r < PANEL_MR; r++) {
                REAL *c = C + (r0 + r) * ldc + j0;
                for (size_t l = 0; l < nb; l++) c[l] = beta == 0 ? acc[r][l] : beta * c[l] + acc[r][l];
            }
        }
        for (; r0 < m; r0++) {
            REAL acc[CRNN_NB] = {0}, *c = C + r0 * ldc + j0;
            for (size_t i = 0; i < k; i++) {
                REAL ar = A[r0 * lda + i];
                for (int l = 0; l < CRNN_NB; l++) acc[l] += ar * w[i * CRNN_NB + l];
            }
            for (size_t l = 0; l < nb; l++) c[l] = beta == 0 ? acc[l] : beta * c[l] + acc[l];
        }
    }
}

/* C (m x n) = A (m x k) . op(B) + beta C, where op(B) is B^T for B (n x k)
 * when b_trans, else B for B (k x n). One row (batch 1) takes the loops
 * above: OpenBLAS's gemm repacks B on every call, and its gemv's call
 * overhead dominates at small sizes. */
static void FN(mm)(const crnn_blas *bl, int b_trans, size_t m, size_t n,
                   size_t k, const REAL *A, size_t lda, const REAL *B,
                   size_t ldb, REAL beta, REAL *C, size_t ldc) {
    int im = (int)m, in = (int)n, ik = (int)k, ila = (int)lda,
        ilb = (int)ldb, ilc = (int)ldc;
    char tb = b_trans ? 'T' : 'N', tn = 'N';
    REAL alpha = 1;
    if (m == 0 || n == 0) return;
    if (k == 0) { /* an empty sum */
        if (beta == 0)
            for (size_t i = 0; i < m; i++) memset(C + i * ldc, 0, n * sizeof(REAL));
        return;
    }
    if (m == 1) { /* numpy c = B @ a (b_trans) or c = a @ B */
        if (b_trans) FN(row_dots)(n, k, A, B, ldb, beta, C);
        else FN(row_axpys)(n, k, A, B, ldb, beta, C);
    } else {      /* numpy C = A @ B.T (b_trans) or C = A @ B */
        bl->GEMM(&tb, &tn, &in, &im, &ik, &alpha, (REAL *)B, &ilb, (REAL *)A,
                 &ila, &beta, C, &ilc);
    }
}

/* C (m x n) = A (m x k) . B^T + beta C, with B (n x k). */
static inline void FN(mm_nt)(const crnn_blas *bl, size_t m, size_t n, size_t k,
                             const REAL *A, size_t lda, const REAL *B,
                             size_t ldb, REAL beta, REAL *C, size_t ldc) {
    FN(mm)(bl, 1, m, n, k, A, lda, B, ldb, beta, C, ldc);
}

/* C (m x n) = A (m x k) . B + beta C, with B (k x n). */
static inline void FN(mm_nn)(const crnn_blas *bl, size_t m, size_t n, size_t k,
                             const REAL *A, size_t lda, const REAL *B,
                             size_t ldb, REAL beta, REAL *C, size_t ldc) {
    FN(mm)(bl, 0, m, n, k, A, lda, B, ldb, beta, C, ldc);
}

/* C (m x n) += A^T . B, with A (k x m), B (k x n): a sum over k rows. */
static void FN(mm_tn_acc)(const crnn_blas *bl, size_t m, size_t n, size_t k,
                          const REAL *A, size_t lda, const REAL *B,
                          size_t ldb, REAL *C, size_t ldc) {
    int im = (int)m, in = (int)n, ik = (int)k, ila = (int)lda,
        ilb = (int)ldb, ilc = (int)ldc;
    REAL alpha = 1, beta = 1;
    char ta = 'N', tb = 'T';
    if (m == 0 || n == 0 || k == 0) return;
    /* numpy C += A.T @ B */
    bl->GEMM(&ta, &tb, &in, &im, &ik, &alpha, (REAL *)B, &ilb, (REAL *)A,
             &ila, &beta, C, &ilc);
}

/*
 * Rows of a sequence tensor as BLAS matrices in the batch's row layout
 * (row (t, n) is row off_t + n of a contiguous (rows, F) workspace): the
 * nt steps from time t0 on, which start at row r0 of the layout and land
 * on the workspace from its row 0. One block when the tensor's rows
 * already are one strided matrix in that order (packed, seq-first padded,
 * N == 1 or one step); otherwise one block per sequence (batch-first
 * padded, rows t of sequence n land on workspace rows t*N + n, so the
 * workspace side has row stride N*F) when nt >= N, or one block per step.
 */
typedef struct TYPED(blocks) {
    size_t count, rows;   /* blocks, rows per block */
    ptrdiff_t base_v;     /* tensor offset of the first block */
    ptrdiff_t step_v;     /* tensor offset between blocks */
    size_t ld_v;          /* tensor row stride inside a block */
    size_t step_w;        /* workspace row offset between blocks */
    size_t ld_w_rows;     /* workspace row stride inside a block, in rows */
} TYPED(blocks);

static TYPED(blocks) FN(blocks_of)(TYPED(seq) v, const crnn_batch *b, size_t t0,
                                   size_t nt, size_t r0, size_t rows, size_t F) {
    TYPED(blocks) k;
    size_t N = b->size;
    k.count = 1; k.rows = rows; k.step_v = 0; k.step_w = 0; k.ld_w_rows = 1;
    k.base_v = b->batch_sizes ? (ptrdiff_t)r0 * v.stride_n : (ptrdiff_t)t0 * v.stride_t;
    if (b->batch_sizes || nt == 1 || (N > 1 && v.stride_t == (ptrdiff_t)N * v.stride_n)) {
        k.ld_v = (size_t)v.stride_n;
    } else if (N == 1) {
        k.ld_v = (size_t)v.stride_t;
    } else if (nt >= N) { /* one block per sequence */
        k.count = N; k.rows = nt; k.step_v = v.stride_n; k.ld_v = (size_t)v.stride_t;
        k.step_w = 1; k.ld_w_rows = N;
    } else {              /* one block per time step */
        k.count = nt; k.rows = N; k.step_v = v.stride_t; k.ld_v = (size_t)v.stride_n;
        k.step_w = N;
    }
    /* a one-row matrix may come with any stride; BLAS wants ld >= F
       (every other case had its strides checked against F) */
    if (k.ld_v < F) k.ld_v = F;
    return k;
}

/* All R rows of a tensor: every step. */
static TYPED(blocks) FN(all_blocks)(TYPED(seq) v, const crnn_batch *b,
                                    size_t R, size_t F) {
    return FN(blocks_of)(v, b, 0, b->steps, 0, R, F);
}

/* A recurrent weight W (rows x cols, row-major), with its panels when the
 * call packed them: for out = h W^T in forward, for out = d W in backward. */
typedef struct TYPED(rmat) {
    const REAL *w;
    size_t rows, cols;
    const REAL *panels;
} TYPED(rmat);

/* Columns [n0, n1) of a panel product job (n0 a multiple of the panel
 * width): C = beta C + A . panels. */
static void FN(panel_job)(const crnn_job *j, size_t n0, size_t n1) {
    FN(panel_mm)(j->m, n1 - n0, j->k, (const REAL *)j->A, j->lda,
                 (const REAL *)j->B + (n0 / CRNN_NB) * j->k * CRNN_NB, (REAL)j->beta,
                 (REAL *)j->C + n0, j->ldc);
}

/* C (m x n, ldc) = beta C + A (m x k, lda) . panels, with the call's team
 * when it has one and the product is large enough to share (half the
 * panels each); multiply-adds below CRNN_TEAM_MIN stay on the caller. */

static void FN(panel_product)(const crnn_blas *bl, size_t m, size_t n, size_t k,
                              const REAL *A, size_t lda, const REAL *panels,
                              REAL beta, REAL *C, size_t ldc) {
    size_t np = (n + CRNN_NB - 1) / CRNN_NB;
    crnn_job job;
    job.run = FN(panel_job);
    job.m = m; job.n = n; job.k = k; job.lda = lda; job.ldc = ldc;
    job.A = A; job.B = panels; job.C = C; job.beta = beta;
    job.split = bl->team && np >= 2 && m * n * k >= CRNN_TEAM_MIN ? np / 2 * CRNN_NB : 0;
    crnn_team_run(bl->team, &job);
}

/* out (bs x rows) = beta out + h (bs x cols) . W^T: the recurrent product.
 * Over panels when the call packed them; else OpenBLAS (or, for one row,
 * the dot-product loop: nothing to pack for). */
static void FN(rmat_fwd)(const crnn_blas *bl, const TYPED(rmat) *r, size_t bs,
                         const REAL *h, REAL beta, REAL *out) {
    if (r->panels) FN(panel_product)(bl, bs, r->rows, r->cols, h, r->cols, r->panels, beta, out, r->rows);
    else FN(mm_nt)(bl, bs, r->rows, r->cols, h, r->cols, r->w, r->cols, beta, out, r->rows);
}

/* out (bs x cols) = beta out + d (bs x rows) . W: its gradient w.r.t. h. */
static void FN(rmat_bwd)(const crnn_blas *bl, const TYPED(rmat) *r, size_t bs,
                         const REAL *d, REAL beta, REAL *out) {
    if (r->panels) FN(panel_product)(bl, bs, r->cols, r->rows, d, r->rows, r->panels, beta, out, r->cols);
    else FN(mm_nn)(bl, bs, r->cols, r->rows, d, r->rows, r->w, r->cols, beta, out, r->cols);
}

/* Y (rows, F_out; workspace rows ldy apart) = X . W^T + beta Y for the
 * rows of X that k gives. */
static void FN(seq_mm_nt)(const crnn_blas *bl, TYPED(blocks) k, TYPED(seq) X,
                          size_t F_in, const REAL *W, size_t F_out, REAL beta,
                          REAL *Y, size_t ldy) {
    for (size_t i = 0; i < k.count; i++)
        FN(mm_nt)(bl, k.rows, F_out, F_in, X.data + k.base_v + (ptrdiff_t)i * k.step_v,
                  k.ld_v, W, F_in, beta, Y + i * k.step_w * ldy, k.ld_w_rows * ldy);
}

/* After a backward loop: the GEMMs over all rows, with dY (R, F_out) the
 * gradient of Y = X W^T (X's rows as the blocks k give them, W (F_out,
 * F_in)). As team jobs, the caller and the helper each take half of the
 * output's columns (dX) or rows (dW). */
typedef struct TYPED(grad_gemm) {
    const crnn_blas *bl;
    TYPED(blocks) k;
    const REAL *dY, *W;
    size_t F_out, F_in;
    REAL *X;           /* X (dW's job) or dX (dX's job) */
    REAL *dW;
} TYPED(grad_gemm);

/* dX[:, n0:n1] += dY . W[:, n0:n1] */
static void FN(dx_job)(const crnn_job *j, size_t n0, size_t n1) {
    const TYPED(grad_gemm) *g = (const TYPED(grad_gemm) *)j->A;
    TYPED(blocks) k = g->k;
    for (size_t i = 0; i < k.count; i++)
        FN(mm_nn)(g->bl, k.rows, n1 - n0, g->F_out, g->dY + i * k.step_w * g->F_out,
                  k.ld_w_rows * g->F_out, g->W + n0, g->F_in, 1,
                  g->X + k.base_v + (ptrdiff_t)i * k.step_v + n0, k.ld_v);
}

/* dW[n0:n1, :] += dY[:, n0:n1]^T . X */
static void FN(dw_job)(const crnn_job *j, size_t n0, size_t n1) {
    const TYPED(grad_gemm) *g = (const TYPED(grad_gemm) *)j->A;
    TYPED(blocks) k = g->k;
    for (size_t i = 0; i < k.count; i++)
        FN(mm_tn_acc)(g->bl, n1 - n0, g->F_in, k.rows,
                      g->dY + i * k.step_w * g->F_out + n0, k.ld_w_rows * g->F_out,
                      g->X + k.base_v + (ptrdiff_t)i * k.step_v, k.ld_v,
                      g->dW + n0 * g->F_in, g->F_in);
}

static void FN(grad_gemm_run)(const TYPED(grad_gemm) *g, int dx, size_t R) {
    crnn_job job;
    size_t n = dx ? g->F_in : g->F_out;
    job.run = dx ? FN(dx_job) : FN(dw_job);
    job.m = R; job.n = n; job.k = dx ? g->F_out : g->F_in;
    job.lda = job.ldc = 0; job.A = g; job.B = NULL; job.C = NULL; job.beta = 1;
    job.split = g->bl->team && n >= 32 && R * g->F_in * g->F_out >= CRNN_TEAM_MIN ? n / 2 / 16 * 16 : 0;
    crnn_team_run(g->bl->team, &job);
}

/* dX += dY . W for every row of a sequence tensor dX. */
static void FN(seq_mm_nn_acc)(const crnn_blas *bl, const crnn_batch *b,
                              size_t R, TYPED(seq) dX, size_t F_in,
                              const REAL *W, size_t F_out, const REAL *dY) {
    TYPED(grad_gemm) g = {bl, FN(all_blocks)(dX, b, R, F_in), dY, W, F_out, F_in, dX.data, NULL};
    FN(grad_gemm_run)(&g, 1, R);
}

/* dW (F_out, F_in) += dY^T . X over every row of a sequence tensor X. */
static void FN(seq_mm_tn_acc)(const crnn_blas *bl, const crnn_batch *b,
                              size_t R, const REAL *dY, size_t F_out,
                              TYPED(seq) X, size_t F_in, REAL *dW) {
    TYPED(grad_gemm) g = {bl, FN(all_blocks)(X, b, R, F_in), dY, NULL, F_out, F_in, X.data, dW};
    FN(grad_gemm_run)(&g, 0, R);
}

/* dW (F_out, F_in) += dY^T . X for plain matrices dY (R, F_out) and
 * X (R, F_in): the recurrent weights' gradients. */
static void FN(mat_mm_tn_acc)(const crnn_blas *bl, size_t R, const REAL *dY,
                              size_t F_out, const REAL *X, size_t F_in, REAL *dW) {
    TYPED(blocks) k = {1, R, 0, 0, F_in, 0, 1};
    TYPED(grad_gemm) g = {bl, k, dY, NULL, F_out, F_in, (REAL *)X, dW};
    FN(grad_gemm_run)(&g, 0, R);
}

/* Y[r][j] = b1[j] + (j < F2 ? b2[j] : 0) for the columns j in [j0, j1) of
 * every row r of Y (R, F); a NULL bias is zero. (GRU keeps b_hn out:
 * F2 = 2H.) One row is summed, the others are copies of it. */
static void FN(fill_bias)(REAL *Y, size_t R, size_t F, size_t j0, size_t j1,
                          const REAL *b1, const REAL *b2, size_t F2) {
    if (R == 0) return;
    for (size_t j = j0; j < j1; j++)
        Y[j] = (b1 ? b1[j] : 0) + (b2 && j < F2 ? b2[j] : 0);
    for (size_t r = 1; r < R; r++) memcpy(Y + r * F + j0, Y + j0, (j1 - j0) * sizeof(REAL));
}

/* db[j] += sum_r dY[r][j]  (numpy db += dY.sum(0)); db NULL is skipped. */
static void FN(colsum_acc)(REAL *db, const REAL *dY, size_t R, size_t F) {
    if (!db) return;
    for (size_t r = 0; r < R; r++) {
        const REAL *d = dY + r * F;
        for (size_t j = 0; j < F; j++) db[j] += d[j];
    }
}

/* The rows of a state (h or c, F features) at the current step. Training
 * keeps every step's incoming state in a reserve matrix S (R, F), so the
 * rows that go on are written straight into the next step's block;
 * inference keeps one running (N, F) buffer. */
static inline REAL *FN(state_now)(REAL *S, REAL *buf, const crnn_walk *w,
                                  size_t F) {
    return S ? S + w->off * F : buf;
}

static inline REAL *FN(state_next)(REAL *S, REAL *buf, const crnn_walk *w,
                                   size_t F) {
    return S ? (w->next_bs ? S + w->next_off * F : NULL) : buf;
}

/* Where row n of the new state goes: the next step's rows if it goes on,
 * else the final state (NULL: not wanted). */
static inline REAL *FN(state_dst)(REAL *next, size_t F, REAL *fin,
                                  size_t ld_fin, const crnn_walk *w, size_t n) {
    if (n < w->next_bs) return next + n * F;
    return fin ? fin + n * ld_fin : NULL;
}

/* The rows of a new state (bs, F), computed into the contiguous block src,
 * go to out (if wanted), to the next step's state rows or to the final
 * state: one copy each, so that the math before it runs on plain arrays. */
static void FN(emit)(const REAL *src, size_t F, TYPED(seq) out,
                     const crnn_batch *b, const crnn_walk *w, REAL *next,
                     REAL *fin, size_t ld_fin) {
    for (size_t n = 0; n < w->bs; n++) {
        const REAL *row = src + n * F;
        REAL *d = FN(state_dst)(next, F, fin, ld_fin, w, n);
        if (out.data) memcpy(FN(seq_row)(out, b, w->t, w->off, n), row, F * sizeof(REAL));
        if (d && d != row) memcpy(d, row, F * sizeof(REAL));
    }
}

/* dh row n += dout row (t, n) for the active rows (dout NULL: nothing). */
static void FN(add_dout)(REAL *dh, size_t F, TYPED(seq) dout,
                         const crnn_batch *b, const crnn_walk *w) {
    if (!dout.data) return;
    for (size_t n = 0; n < w->bs; n++) {
        const REAL *g = FN(seq_row)(dout, b, w->t, w->off, n);
        REAL *d = dh + n * F;
        for (size_t j = 0; j < F; j++) d[j] += g[j];
    }
}

/* x = tanh(x), x = sigmoid(x) over n contiguous elements, in place. */
CRNN_HOT static void FN(tanh_n)(REAL *restrict x, size_t n) {
    for (size_t j = 0; j < n; j++) x[j] = RTANH(x[j]);
}

CRNN_HOT static void FN(sigmoid_n)(REAL *restrict x, size_t n) {
    for (size_t j = 0; j < n; j++) x[j] = RSIGMOID(x[j]);
}

/* dst row n = src row n (or zeros when src is NULL), n in [n0, n1). */
static void FN(copy_rows)(REAL *dst, size_t ldd, const REAL *src, size_t lds,
                          size_t n0, size_t n1, size_t F) {
    for (size_t n = n0; n < n1; n++) {
        if (src) memcpy(dst + n * ldd, src + n * lds, F * sizeof(REAL));
        else memset(dst + n * ldd, 0, F * sizeof(REAL));
    }
}

/* dst row n += src row n, n in [n0, n1); dst NULL is skipped. */
static void FN(add_rows)(REAL *dst, size_t ldd, const REAL *src, size_t lds,
                         size_t n0, size_t n1, size_t F) {
    if (!dst) return;
    for (size_t n = n0; n < n1; n++)
        for (size_t j = 0; j < F; j++) dst[n * ldd + j] += src[n * lds + j];
}

/*
 * The input projections a = x W_ih^T + b_ih + b_hh[:F2] (F columns) of the
 * rows a forward loop is at, as GEMMs outside the time loop. Training keeps
 * every row's (cap = R: one GEMM before the first step, into the reserve);
 * inference keeps a chunk of consecutive steps of at most cap rows
 * (crnn_proj_rows), computed when the walk enters it, so that its working
 * memory does not grow with the sequence.
 */
typedef struct TYPED(proj) {
    const crnn_blas *bl;
    const crnn_batch *b;
    TYPED(seq) x;
    size_t I, F, F2;
    const TYPED(params) *w;
    REAL *A;
    size_t cap, lo, hi;   /* A holds rows [lo, hi) of the layout */
} TYPED(proj);

static TYPED(proj) FN(proj_init)(const crnn_blas *bl, const crnn_batch *b,
                                 TYPED(seq) x, size_t I,
                                 const TYPED(params) *w, size_t F, size_t F2,
                                 REAL *A, size_t cap) {
    TYPED(proj) p = {bl, b, x, I, F, F2, w, A, cap, 0, 0};
    return p;
}

/* Columns [n0, n1) of a chunk's projections (a job: A the proj, B the
 * blocks of its rows, m their count, beta whether biased). */
static void FN(proj_job)(const crnn_job *j, size_t n0, size_t n1) {
    const TYPED(proj) *p = (const TYPED(proj) *)j->A;
    int biased = j->beta != 0;
    if (biased) FN(fill_bias)(p->A, j->m, p->F, n0, n1, p->w->b_ih, p->w->b_hh, p->F2);
    FN(seq_mm_nt)(p->bl, *(const TYPED(blocks) *)j->B, p->x, p->I, p->w->w_ih + n0 * p->I,
                  n1 - n0, biased ? (REAL)1 : (REAL)0, p->A + n0, p->F);
}

/* The projections of the walk's current rows (computing the chunk that
 * starts at its step, in processing order, when they are not held). */
static REAL *FN(proj_at)(TYPED(proj) *p, const crnn_walk *wk) {
    if (wk->off < p->lo || wk->off >= p->hi) {
        const crnn_batch *b = p->b;
        size_t rows = wk->bs, t0 = wk->t, t1 = wk->t, lo = wk->off;
        int biased = p->w->b_ih || p->w->b_hh;
        /* take the following steps (t1 up, or t0 down) while they fit */
        if (!wk->reverse)
            while (t1 + 1 < b->steps && rows + crnn_batch_at(b, t1 + 1) <= p->cap)
                rows += crnn_batch_at(b, ++t1);
        else
            while (t0 > 0 && rows + crnn_batch_at(b, t0 - 1) <= p->cap) {
                rows += crnn_batch_at(b, --t0);
                lo -= crnn_batch_at(b, t0);
            }
        crnn_job job;
        TYPED(blocks) k = FN(blocks_of)(p->x, b, t0, t1 - t0 + 1, lo, rows, p->I);
        p->lo = lo;
        p->hi = lo + rows;
        /* one GEMM, its columns shared with the team's helper if any */
        job.run = FN(proj_job);
        job.m = rows; job.n = p->F; job.k = p->I; job.lda = job.ldc = 0;
        job.A = p; job.B = &k; job.C = NULL; job.beta = biased;
        job.split = p->bl->team && rows * p->F * p->I >= CRNN_TEAM_MIN ? p->F / 2 / 16 * 16 : 0;
        crnn_team_run(p->bl->team, &job);
    }
    return p->A + (wk->off - p->lo) * p->F;
}

/* After backward's loop, from dA (R, F), the gradient of A above:
 * db_ih (and db_hh unless NULL is passed) += colsum(dA), dW_ih += dA^T x,
 * dx += dA W_ih: one GEMM each over all steps. */
static void FN(input_projection_backward)(const crnn_blas *bl,
                                          const crnn_batch *b, size_t R,
                                          TYPED(seq) x, size_t I,
                                          const TYPED(params) *w,
                                          const TYPED(params) *dw,
                                          REAL *db_hh, size_t F,
                                          const REAL *dA, TYPED(seq) dx) {
    FN(colsum_acc)(dw->b_ih, dA, R, F);
    FN(colsum_acc)(db_hh, dA, R, F);
    if (dw->w_ih) FN(seq_mm_tn_acc)(bl, b, R, dA, F, x, I, dw->w_ih);
    if (dx.data) FN(seq_mm_nn_acc)(bl, b, R, dx, I, w->w_ih, F, dA);
}
