/* gru.h — the GRU cell (torch's equations), generic over REAL.
 *
 *   ax = W_ih x_t + b_ih            ah = W_hh h_{t-1} + b_hh   (bs, 3H)
 *   r = sigmoid(ax_r + ah_r)        z = sigmoid(ax_z + ah_z)
 *   n = tanh(ax_n + r * ah_n)
 *   h_t = (1 - z) * n + z * h_{t-1}
 *
 * b_hr and b_hz are folded into ax before the loop; b_hn stays inside r's
 * product. One recurrent GEMM per step gives all of ah.
 * Reserve (training), R*5H:
 *   Hprev (R, H)   h_{t-1} of every row
 *   Gt    (R, 3H)  r, z, n of every row (ax, activated in place)
 *   HN    (R, H)   ah_n = W_hn h_{t-1} + b_hn of every row: dr
 * Workspace, inference: A (C, 3H) (a chunk of steps, C = crnn_proj_rows),
 *   hbuf (N, H), hns (N, H) (ah_n, kept only for the step); then in every forward ah (N, 3H), hs (N, H) the
 *   new h before it is copied where it goes; backward: dAx (R, 3H),
 *   dAh (R, 3H), dh (N, H).
 */

/* One row: the gates into a (3H, ax in, r z n out), ah_n + b_hn into hh,
 * h_t into h. */
static void FN(gru_row)(REAL *restrict a, const REAL *restrict ah,
                        const REAL *restrict bhn, const REAL *restrict hp,
                        REAL *restrict hh, REAL *restrict h, size_t H) {
    for (size_t j = 0; j < 2 * H; j++) a[j] = RSIGMOID(a[j] + ah[j]);
    for (size_t j = 0; j < H; j++) hh[j] = ah[2 * H + j] + (bhn ? bhn[j] : 0);
    for (size_t j = 0; j < H; j++) {
        REAL r = a[j], z = a[H + j];
        REAL nn = RTANH(a[2 * H + j] + r * hh[j]);
        a[2 * H + j] = nn;
        h[j] = ((REAL)1 - z) * nn + z * hp[j];
    }
}

/* One row backward: dh (dL/dh_t in, the direct part of dL/dh_{t-1} out),
 * dL/dax into dax, dL/dah into dah. */
static void FN(gru_row_backward)(const REAL *restrict a, const REAL *restrict hh,
                                 const REAL *restrict hp, REAL *restrict dh,
                                 REAL *restrict dax, REAL *restrict dah, size_t H) {
    for (size_t j = 0; j < H; j++) {
        REAL r = a[j], z = a[H + j], nn = a[2 * H + j], d = dh[j];
        /* h_t = (1 - z) n + z h_{t-1} */
        REAL dnp = d * ((REAL)1 - z) * ((REAL)1 - nn * nn);  /* d(n pre) */
        REAL dzp = d * (hp[j] - nn) * z * ((REAL)1 - z);     /* d(z pre) */
        /* n = tanh(ax_n + r ah_n) */
        REAL drp = dnp * hh[j] * r * ((REAL)1 - r);          /* d(r pre) */
        dax[j] = drp; dax[H + j] = dzp; dax[2 * H + j] = dnp;
        dah[j] = drp; dah[H + j] = dzp; dah[2 * H + j] = dnp * r;
        dh[j] = d * z;
    }
}

static crnn_status FN(gru_forward)(const crnn_blas *bl, const crnn_layer *ly,
                                   const crnn_batch *b, const TYPED(params) *w,
                                     const FN(rmat) *rw,
                                   TYPED(seq) x, TYPED(state) h0,
                                   TYPED(seq) out, TYPED(state) hn,
                                   REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const size_t N = b->size, G = 3 * H;
    const int train = reserve != NULL;
    const REAL *bhn = w->b_hh ? w->b_hh + 2 * H : NULL;
    REAL *Hprev = train ? reserve : NULL;
    const size_t C = crnn_proj_rows(b, train);
    REAL *Gt = train ? reserve + R * H : work;       /* (C, 3H) */
    REAL *HN = train ? Gt + R * G : NULL;            /* (R, H) */
    REAL *hbuf = train ? NULL : work + C * G;        /* (N, H) */
    REAL *hns = train ? NULL : hbuf + N * H;         /* (N, H) */
    REAL *ah = train ? work : hns + N * H;           /* (N, 3H) */
    REAL *hs = ah + N * G;                           /* (N, H) */
    crnn_walk wk;

    FN(proj) pj = FN(proj_init)(bl, b, x, I, w, rw[2].panels, G, 2 * H, Gt, C);
    for (crnn_walk_first(&wk, b, ly->reverse); !wk.done; crnn_walk_next(&wk)) {
        REAL *hp = FN(state_now)(Hprev, hbuf, &wk, H);
        REAL *a = FN(proj_at)(&pj, &wk);
        REAL *hh = train ? HN + wk.off * H : hns;
        FN(copy_rows)(hp, H, h0.h, h0.ld_h, wk.prev_bs, wk.bs, H);
        /* ah = h_{t-1} W_hh^T (b_hn added in the row) */
        FN(rmat_fwd)(bl, &rw[0], wk.bs, hp, 0, ah);
        for (size_t n = 0; n < wk.bs; n++)
            FN(gru_row)(a + n * G, ah + n * G, bhn, hp + n * H, hh + n * H,
                        hs + n * H, H);
        FN(emit)(hs, H, out, b, &wk, FN(state_next)(Hprev, hbuf, &wk, H), hn.h, hn.ld_h);
    }
    return CRNN_OK;
}

static crnn_status FN(gru_backward)(const crnn_blas *bl, const crnn_layer *ly,
                                    const crnn_batch *b,
                                     const FN(rmat) *rw,
                                    const TYPED(params) *dw, TYPED(seq) x,
                                    TYPED(seq) dout, TYPED(state) dhn,
                                    TYPED(seq) dx, TYPED(state) dh0,
                                    const REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const size_t G = 3 * H;
    const REAL *Hprev = reserve, *Gt = reserve + R * H, *HN = Gt + R * G;
    REAL *dAx = work;          /* (R, 3H) gradient of ax */
    REAL *dAh = dAx + R * G;   /* (R, 3H) gradient of ah */
    REAL *dh = dAh + R * G;    /* (N, H) */
    REAL *scratch = work + crnn_workspace_size(ly, b, CRNN_PASS_BACKWARD) - CRNN_BWD_SCRATCH;
    crnn_walk wk;

    for (crnn_walk_last(&wk, b, ly->reverse); !wk.done; crnn_walk_prev(&wk)) {
        const REAL *a = Gt + wk.off * G, *hh = HN + wk.off * H;
        const REAL *hp = Hprev + wk.off * H;
        REAL *dax = dAx + wk.off * G, *dah = dAh + wk.off * G;
        FN(copy_rows)(dh, H, dhn.h, dhn.ld_h, wk.next_bs, wk.bs, H);
        FN(add_dout)(dh, H, dout, b, &wk);
        for (size_t n = 0; n < wk.bs; n++)
            FN(gru_row_backward)(a + n * G, hh + n * H, hp + n * H, dh + n * H,
                                 dax + n * G, dah + n * G, H);
        /* ah = h_{t-1} W_hh^T  ->  dh_{t-1} += dah W_hh */
        FN(rmat_bwd)(bl, &rw[0], wk.bs, dah, 1, dh);
        FN(add_rows)(dh0.h, dh0.ld_h, dh, H, wk.prev_bs, wk.bs, H);
    }
    FN(colsum_acc)(dw->b_hh, dAh, R, G);
    if (dw->w_hh) FN(mat_mm_tn_acc)(bl, R, dAh, G, Hprev, H, dw->w_hh, scratch);
    /* ax = x W_ih^T + b_ih (+ b_hr, b_hz, whose gradients dAh holds) */
    FN(input_projection_backward)(bl, b, R, x, I, dw, NULL, G, dAx, dx, rw[2].panels, scratch);
    return CRNN_OK;
}
