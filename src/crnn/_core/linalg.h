/* linalg.h — the pieces of a layer shared by the cell kinds, generic over
 * REAL and the instruction set: sequence rows, the products of a layer on
 * the core's kernels (gemm.h), biases, states, the input projections. */

/* Address of row (t, n) of a sequence tensor; off is the first row of step
 * t in the packed row layout. */
static inline REAL *FN(seq_row)(TYPED(seq) v, const crnn_batch *b, size_t t,
                                size_t off, size_t n) {
    if (b->batch_sizes) return v.data + (ptrdiff_t)(off + n) * v.stride_n;
    return v.data + (ptrdiff_t)t * v.stride_t + (ptrdiff_t)n * v.stride_n;
}

/*
 * Rows of a sequence tensor as strided matrices in the batch's row layout
 * (row (t, n) is row off_t + n of a contiguous (rows, F) workspace): the
 * nt steps from time t0 on, which start at row r0 of the layout and land
 * on the workspace from its row 0. One block when the tensor's rows
 * already are one strided matrix in that order (packed, seq-first padded,
 * N == 1 or one step); otherwise one block per sequence (batch-first
 * padded, rows t of sequence n land on workspace rows t*N + n, so the
 * workspace side has row stride N*F) when nt >= N, or one block per step.
 */
typedef struct FN(blocks) {
    size_t count, rows;   /* blocks, rows per block */
    ptrdiff_t base_v;     /* tensor offset of the first block */
    ptrdiff_t step_v;     /* tensor offset between blocks */
    size_t ld_v;          /* tensor row stride inside a block */
    size_t step_w;        /* workspace row offset between blocks */
    size_t ld_w_rows;     /* workspace row stride inside a block, in rows */
} FN(blocks);

static FN(blocks) FN(blocks_of)(TYPED(seq) v, const crnn_batch *b, size_t t0,
                                   size_t nt, size_t r0, size_t rows, size_t F) {
    FN(blocks) k;
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
    /* a one-row matrix may come with any stride; keep ld >= F (every
       other case had its strides checked against F) */
    if (k.ld_v < F) k.ld_v = F;
    return k;
}

/* All R rows of a tensor: every step. */
static FN(blocks) FN(all_blocks)(TYPED(seq) v, const crnn_batch *b,
                                    size_t R, size_t F) {
    return FN(blocks_of)(v, b, 0, b->steps, 0, R, F);
}

/* A weight W (rows x cols, row-major), with its panels when the call has
 * them (layer.h): for out = h W^T in a forward of more than a few rows or
 * given packed weights (else NULL: W itself is read), for out = d W in
 * backward (always). */
typedef struct FN(rmat) {
    const REAL *w;
    size_t rows, cols;
    const REAL *panels;
} FN(rmat);

/* The columns [n0, n1) of a product job (n0 a multiple of NB):
 * C = (init ? C : 0) + A . W^T, over W's panels when there are, else W
 * itself (FN(tmm)); ctx the FN(pm) below. */
typedef struct FN(pm) {
    size_t m, n, k, lda, ldc;
    const REAL *A, *W, *panels;
    REAL *C;
    int init;
} FN(pm);

static void FN(pm_job)(const crnn_job *j, size_t n0, size_t n1) {
    const FN(pm) *p = (const FN(pm) *)j->ctx;
    if (p->panels)
        FN(panel_mm)(p->m, p->n, p->k, p->A, p->lda, p->panels, n0 / NB,
                     FN(panels_of)(n1), p->init, p->C, p->ldc);
    else
        FN(tmm)(p->m, p->k, p->A, p->lda, p->W, p->k, p->init, p->C, p->ldc, n0, n1);
}

/* The split of an n-column product between a team's two threads: half of
 * the panels each, when there is a team and enough work (0: no split). */
static size_t FN(team_split)(const crnn_blas *bl, size_t m, size_t n, size_t k) {
    size_t np = FN(panels_of)(n);
    return bl->team && np >= 2 && crnn_mul(crnn_mul(m, n), k) >= CRNN_TEAM_MIN ? np / 2 * NB : 0;
}

/* C (m x n, ldc) = (init ? C : 0) + A (m x k, lda) . W^T (W (n x k),
 * or its panels when not NULL), with the call's team when it has one
 * (crnn_team_run). */
static void FN(panel_product)(const crnn_blas *bl, size_t m, size_t n, size_t k,
                              const REAL *A, size_t lda, const REAL *W,
                              const REAL *panels, int init, REAL *C, size_t ldc) {
    FN(pm) p = {m, n, k, lda, ldc, A, W, panels, C, init};
    crnn_job job;
    job.run = FN(pm_job);
    job.ctx = &p;
    job.n = n;
    job.split = FN(team_split)(bl, m, n, k);
    crnn_team_run(bl->team, &job);
}

/* out (bs x rows) = (init ? out : 0) + h (bs x cols) . W^T: the
 * recurrent product, over W's panels, or W when the call has few rows. */
static void FN(rmat_fwd)(const crnn_blas *bl, const FN(rmat) *r, size_t bs,
                         const REAL *h, int init, REAL *out) {
    FN(panel_product)(bl, bs, r->rows, r->cols, h, r->cols, r->w, r->panels, init, out, r->rows);
}

/* out (bs x cols) = (init ? out : 0) + d (bs x rows) . W: its gradient
 * w.r.t. h, over the panels of W backward packed (layer.h); columns
 * shared with the team if any. */
static void FN(rmat_bwd)(const crnn_blas *bl, const FN(rmat) *r, size_t bs,
                         const REAL *d, int init, REAL *out) {
    FN(panel_product)(bl, bs, r->cols, r->rows, d, r->rows, NULL, r->panels, init, out, r->cols);
}

/* After a backward loop: the products over all rows, with dY (R, F_out)
 * the gradient of Y = X W^T (X's rows as the blocks k give them, W (F_out,
 * F_in)): dX += dY W, dW += dY^T X. Each element is one chain over its sum
 * in the blocks' order: the same bits on one thread or two. As team jobs,
 * the caller and the helper each take half of dX's columns or dW's rows. */
typedef struct FN(grad) {
    FN(blocks) k;
    const REAL *dY, *W;  /* W: dX's job, W's panels (F_out x F_in, packed) */
    size_t F_out, F_in;
    REAL *X;           /* X (dW's job) or dX (dX's job) */
    REAL *dW;
    REAL *scratch;     /* dW: 2 * (CRNN_APACK + CRNN_BPACK), a part per thread */
} FN(grad);

/* dX[:, n0:n1] += dY . W[:, n0:n1], block by block of dX's rows */
static void FN(dx_job)(const crnn_job *j, size_t n0, size_t n1) {
    const FN(grad) *g = (const FN(grad) *)j->ctx;
    FN(blocks) k = g->k;
    for (size_t i = 0; i < k.count; i++) {
        FN(mm) op = {k.rows, g->F_in, g->F_out, g->dY + i * k.step_w * g->F_out,
                     k.ld_w_rows * g->F_out, 1, g->W, NB, g->F_out * NB, 0,
                     g->X + k.base_v + (ptrdiff_t)i * k.step_v, k.ld_v, 1, NULL, NULL};
        FN(gemm)(&op, n0 / NB, FN(panels_of)(n1));
    }
}

/* dW[n0:n1, :] += dY[:, n0:n1]^T . X: a chain over all rows, block after
 * block (each pass starts from the sums the one before stored) */
static void FN(dw_job)(const crnn_job *j, size_t n0, size_t n1) {
    const FN(grad) *g = (const FN(grad) *)j->ctx;
    FN(blocks) k = g->k;
    for (size_t i = 0; i < k.count; i++) {
        FN(mm) op = {n1 - n0, g->F_in, k.rows, g->dY + i * k.step_w * g->F_out + n0, 1,
                     k.ld_w_rows * g->F_out, g->X + k.base_v + (ptrdiff_t)i * k.step_v,
                     k.ld_v, NB, 1, g->dW + n0 * g->F_in, g->F_in, 1,
                     g->scratch + (n0 ? CRNN_APACK : 0),
                     /* B's rows copied into panels only where a panel row is
                        narrower than 4 cache lines (a page per few rows) */
                     NB * sizeof(REAL) < 256 ? g->scratch + 2 * CRNN_APACK +
                                                   (n0 ? CRNN_BPACK : 0) : NULL};
        FN(gemm)(&op, 0, FN(panels_of)(g->F_in));
    }
}

static void FN(grad_run)(const crnn_blas *bl, const FN(grad) *g, int dx, size_t R) {
    crnn_job job;
    size_t n = dx ? g->F_in : g->F_out;
    job.run = dx ? FN(dx_job) : FN(dw_job);
    job.ctx = g;
    job.n = n;
    /* dX: half the panels each; dW: half the rows */
    job.split = !bl->team || crnn_mul(crnn_mul(R, g->F_in), g->F_out) < CRNN_TEAM_MIN ? 0
                : dx ? FN(team_split)(bl, R, n, g->F_out) : n / 2;
    crnn_team_run(bl->team, &job);
}

/* dX += dY . W for every row of a sequence tensor dX (W's panels). */
static void FN(seq_mm_nn_acc)(const crnn_blas *bl, const crnn_batch *b,
                              size_t R, TYPED(seq) dX, size_t F_in,
                              const REAL *W, size_t F_out, const REAL *dY) {
    FN(grad) g = {FN(all_blocks)(dX, b, R, F_in), dY, W, F_out, F_in, dX.data, NULL, NULL};
    FN(grad_run)(bl, &g, 1, R);
}

/* dW (F_out, F_in) += dY^T . X over every row of a sequence tensor X
 * (scratch: 2 * (CRNN_APACK + CRNN_BPACK) elements). */
static void FN(seq_mm_tn_acc)(const crnn_blas *bl, const crnn_batch *b,
                              size_t R, const REAL *dY, size_t F_out,
                              TYPED(seq) X, size_t F_in, REAL *dW, REAL *scratch) {
    FN(grad) g = {FN(all_blocks)(X, b, R, F_in), dY, NULL, F_out, F_in, X.data, dW, scratch};
    FN(grad_run)(bl, &g, 0, R);
}

/* dW (F_out, F_in) += dY^T . X for plain matrices dY (R, F_out) and
 * X (R, F_in): the recurrent weights' gradients (scratch as above). */
static void FN(mat_mm_tn_acc)(const crnn_blas *bl, size_t R, const REAL *dY,
                              size_t F_out, const REAL *X, size_t F_in, REAL *dW,
                              REAL *scratch) {
    FN(blocks) k = {1, R, 0, 0, F_in, 0, 1};
    FN(grad) g = {k, dY, NULL, F_out, F_in, (REAL *)X, dW, scratch};
    FN(grad_run)(bl, &g, 0, R);
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
static void FN(tanh_n)(REAL *restrict x, size_t n) {
    for (size_t j = 0; j < n; j++) x[j] = RTANH(x[j]);
}

static void FN(sigmoid_n)(REAL *restrict x, size_t n) {
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
 * rows a forward loop is at, over W_ih^T's panels (or W_ih itself in calls
 * of few rows, FN(tmm)), outside the time loop.
 * Training keeps every row's (cap = R: one product before the first step,
 * into the reserve); inference keeps a chunk of consecutive steps of at
 * most cap rows (crnn_proj_rows), computed when the walk enters it, so
 * that its working memory does not grow with the sequence. Each element is
 * its bias, then the chain over x (gemm.h): the same bits whatever chunk
 * or batch the row is in.
 */
typedef struct FN(proj) {
    const crnn_blas *bl;
    const crnn_batch *b;
    TYPED(seq) x;
    size_t I, F, F2;
    const TYPED(params) *w;
    const REAL *panels;   /* W_ih^T's, or NULL: W_ih itself */
    REAL *A;
    size_t cap, lo, hi;   /* A holds rows [lo, hi) of the layout */
    FN(blocks) blk;       /* the rows of the chunk being computed */
    int biased;
} FN(proj);

static FN(proj) FN(proj_init)(const crnn_blas *bl, const crnn_batch *b,
                              TYPED(seq) x, size_t I, const TYPED(params) *w,
                              const REAL *panels, size_t F, size_t F2,
                              REAL *A, size_t cap) {
    FN(proj) p;
    memset(&p, 0, sizeof p);
    p.bl = bl; p.b = b; p.x = x; p.I = I; p.F = F; p.F2 = F2; p.w = w;
    p.panels = panels; p.A = A; p.cap = cap;
    p.biased = w->b_ih || w->b_hh;
    return p;
}

/* Columns [n0, n1) of a chunk's projections (a job; n0 a multiple of NB):
 * the bias, then the chain over x. */
static void FN(proj_job)(const crnn_job *j, size_t n0, size_t n1) {
    const FN(proj) *p = (const FN(proj) *)j->ctx;
    const FN(blocks) *k = &p->blk;
    if (p->biased) FN(fill_bias)(p->A, k->count * k->rows, p->F, n0, n1, p->w->b_ih, p->w->b_hh, p->F2);
    for (size_t i = 0; i < k->count; i++) {
        const REAL *x = p->x.data + k->base_v + (ptrdiff_t)i * k->step_v;
        REAL *a = p->A + i * k->step_w * p->F;
        if (p->panels)
            FN(panel_mm)(k->rows, p->F, p->I, x, k->ld_v, p->panels, n0 / NB,
                         FN(panels_of)(n1), p->biased, a, k->ld_w_rows * p->F);
        else
            FN(tmm)(k->rows, p->I, x, k->ld_v, p->w->w_ih, p->I, p->biased, a,
                    k->ld_w_rows * p->F, n0, n1);
    }
}

/* The projections of the walk's current rows (computing the chunk that
 * starts at its step, in processing order, when they are not held). */
static REAL *FN(proj_at)(FN(proj) *p, const crnn_walk *wk) {
    if (wk->off < p->lo || wk->off >= p->hi) {
        const crnn_batch *b = p->b;
        size_t rows = wk->bs, t0 = wk->t, t1 = wk->t, lo = wk->off;
        crnn_job job;
        /* take the following steps (t1 up, or t0 down) while they fit */
        if (!wk->reverse)
            while (t1 + 1 < b->steps && rows + crnn_batch_at(b, t1 + 1) <= p->cap)
                rows += crnn_batch_at(b, ++t1);
        else
            while (t0 > 0 && rows + crnn_batch_at(b, t0 - 1) <= p->cap) {
                rows += crnn_batch_at(b, --t0);
                lo -= crnn_batch_at(b, t0);
            }
        p->blk = FN(blocks_of)(p->x, b, t0, t1 - t0 + 1, lo, rows, p->I);
        p->lo = lo;
        p->hi = lo + rows;
        /* one product, its columns shared with the team's helper if any */
        job.run = FN(proj_job);
        job.ctx = p;
        job.n = p->F;
        job.split = FN(team_split)(p->bl, rows, p->F, p->I);
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
                                          const TYPED(params) *dw,
                                          REAL *db_hh, size_t F,
                                          const REAL *dA, TYPED(seq) dx,
                                          const REAL *w_ih_panels, REAL *scratch) {
    FN(colsum_acc)(dw->b_ih, dA, R, F);
    FN(colsum_acc)(db_hh, dA, R, F);
    if (dw->w_ih) FN(seq_mm_tn_acc)(bl, b, R, dA, F, x, I, dw->w_ih, scratch);
    if (dx.data) FN(seq_mm_nn_acc)(bl, b, R, dx, I, w_ih_panels, F, dA);
}
