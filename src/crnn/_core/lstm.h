/* lstm.h — the LSTM cell, with optional projection, generic over REAL.
 *
 *   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh         a_t is (bs, 4H)
 *   i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)
 *   c_t = f * c_{t-1} + i * g                           c_t is (bs, H)
 *   m_t = o * tanh(c_t)
 *   h_t = m_t W_hr^T   (proj_size P > 0)   or   m_t    h_t is (bs, P)
 *
 * P below is proj_size, or H without projection.
 * Reserve (training), R*(P + 4H + H) (+ R*H with projection):
 *   Hprev (R, P)   h_{t-1} of every row: the recurrent GEMM, dW_hh
 *   Gt    (R, 4H)  i, f, g, o of every row (a_t, activated in place)
 *   Cprev (R, H)   c_{t-1} of every row; backward recomputes c_t from it
 *   M     (R, H)   m_t of every row (projection only): dW_hr
 * Workspace, inference: A (C, 4H) (a chunk of steps, C = crnn_proj_rows),
 *   hbuf (N, P), cbuf (N, H) the running state; then in every forward cs (N, H), ms (N, H), hs (N, P), the new
 *   c, m and h of the step's rows before they are copied where they go;
 *   backward: dA (R, 4H), dh (N, P), dc (N, H), and with projection
 *   dHt (R, P) (dL/dh_t of every row, for dW_hr) and dm (N, H).
 */

/* One row: activate the gates a (4H) in place; c = f cp + i g; m = o tanh(c). */
static void FN(lstm_row)(REAL *restrict a, const REAL *restrict cp,
                         REAL *restrict c, REAL *restrict m, size_t H) {
    FN(sigmoid_n)(a, 2 * H);
    FN(tanh_n)(a + 2 * H, H);
    FN(sigmoid_n)(a + 3 * H, H);
    for (size_t j = 0; j < H; j++) {
        c[j] = a[H + j] * cp[j] + a[j] * a[2 * H + j];
        m[j] = a[3 * H + j] * RTANH(c[j]);
    }
}

/* One row backward, from the gates a (4H), c_{t-1} cp and dL/dm_t dm:
 * dL/da_t into da, and dc (dL/dc_t in) becomes dL/dc_{t-1}. */
static void FN(lstm_row_backward)(const REAL *restrict a, const REAL *restrict cp,
                                  const REAL *restrict dm, REAL *restrict dc,
                                  REAL *restrict da, size_t H) {
    for (size_t j = 0; j < H; j++) {
        REAL ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
        REAL tc = RTANH(fg * cp[j] + ig * gg);          /* c_t recomputed */
        /* m = o tanh(c)  ->  dc += dm o (1 - tanh(c)^2) */
        REAL dcj = dc[j] + dm[j] * og * ((REAL)1 - tc * tc);
        da[j] = dcj * gg * ig * ((REAL)1 - ig);         /* c = f cp + i g */
        da[H + j] = dcj * cp[j] * fg * ((REAL)1 - fg);
        da[2 * H + j] = dcj * ig * ((REAL)1 - gg * gg);
        da[3 * H + j] = dm[j] * tc * og * ((REAL)1 - og);
        dc[j] = dcj * fg;                               /* dL/dc_{t-1} */
    }
}

static crnn_status FN(lstm_forward)(const crnn_blas *bl, const crnn_layer *ly,
                                    const crnn_batch *b, const TYPED(params) *w,
                                     const FN(rmat) *rw,
                                    TYPED(seq) x, TYPED(state) s0,
                                    TYPED(seq) out, TYPED(state) sn,
                                    REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const size_t N = b->size, G = 4 * H;
    const int proj = ly->proj_size > 0, train = reserve != NULL;
    const size_t P = proj ? ly->proj_size : H;
    REAL *Hprev = train ? reserve : NULL;
    const size_t C = crnn_proj_rows(b, train);
    REAL *Gt = train ? reserve + R * P : work;          /* (C, 4H) */
    REAL *Cprev = train ? Gt + R * G : NULL;
    REAL *M = train && proj ? Cprev + R * H : NULL;
    REAL *hbuf = train ? NULL : work + C * G;           /* (N, P) */
    REAL *cbuf = train ? NULL : hbuf + N * P;           /* (N, H) */
    REAL *cs = train ? work : cbuf + N * H;             /* (N, H) */
    REAL *ms = cs + N * H, *hs = ms + N * H;            /* (N, H), (N, P) */
    crnn_walk wk;

    FN(proj) pj = FN(proj_init)(bl, b, x, I, w, rw[2].panels, G, G, Gt, C);
    for (crnn_walk_first(&wk, b, ly->reverse); !wk.done; crnn_walk_next(&wk)) {
        REAL *hp = FN(state_now)(Hprev, hbuf, &wk, P);
        REAL *cp = FN(state_now)(Cprev, cbuf, &wk, H);
        REAL *a = FN(proj_at)(&pj, &wk);
        REAL *m = M ? M + wk.off * H : ms;
        /* rows entering at this step start from (h0, c0) */
        FN(copy_rows)(hp, P, s0.h, s0.ld_h, wk.prev_bs, wk.bs, P);
        FN(copy_rows)(cp, H, s0.c, s0.ld_c, wk.prev_bs, wk.bs, H);
        /* a_t += h_{t-1} W_hh^T: one product for all four gates */
        FN(rmat_fwd)(bl, &rw[0], wk.bs, hp, 1, a);
        for (size_t n = 0; n < wk.bs; n++)
            FN(lstm_row)(a + n * G, cp + n * H, cs + n * H, m + n * H, H);
        FN(emit)(cs, H, (TYPED(seq)){NULL, 0, 0}, b, &wk,
                 FN(state_next)(Cprev, cbuf, &wk, H), sn.c, sn.ld_c);
        if (proj) /* h_t = m_t W_hr^T */
            FN(rmat_fwd)(bl, &rw[1], wk.bs, m, 0, hs);
        FN(emit)(proj ? hs : m, P, out, b, &wk,
                 FN(state_next)(Hprev, hbuf, &wk, P), sn.h, sn.ld_h);
    }
    return CRNN_OK;
}

static crnn_status FN(lstm_backward)(const crnn_blas *bl, const crnn_layer *ly,
                                     const crnn_batch *b,
                                     const FN(rmat) *rw,
                                     const TYPED(params) *dw, TYPED(seq) x,
                                     TYPED(seq) dout, TYPED(state) dsn,
                                     TYPED(seq) dx, TYPED(state) ds0,
                                     const REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const size_t N = b->size, G = 4 * H;
    const int proj = ly->proj_size > 0;
    const size_t P = proj ? ly->proj_size : H;
    const REAL *Hprev = reserve, *Gt = reserve + R * P, *Cprev = Gt + R * G;
    const REAL *M = proj ? Cprev + R * H : NULL;
    REAL *dA = work;                       /* (R, 4H) */
    REAL *dh = dA + R * G;                 /* (N, P) dL/dh_t, active rows */
    REAL *dc = dh + N * P;                 /* (N, H) dL/dc_t, active rows */
    REAL *dHt = proj ? dc + N * H : NULL;  /* (R, P) */
    REAL *dm = proj ? dHt + R * P : dh;    /* (N, H) dL/dm_t */
    REAL *scratch = work + crnn_workspace_size(ly, b, CRNN_PASS_BACKWARD) - CRNN_BWD_SCRATCH;
    crnn_walk wk;

    for (crnn_walk_last(&wk, b, ly->reverse); !wk.done; crnn_walk_prev(&wk)) {
        const REAL *a = Gt + wk.off * G, *cp = Cprev + wk.off * H;
        REAL *da = dA + wk.off * G;
        /* rows whose state was final take (dhn, dcn); all take dout */
        FN(copy_rows)(dh, P, dsn.h, dsn.ld_h, wk.next_bs, wk.bs, P);
        FN(copy_rows)(dc, H, dsn.c, dsn.ld_c, wk.next_bs, wk.bs, H);
        FN(add_dout)(dh, P, dout, b, &wk);
        if (proj) { /* h_t = m_t W_hr^T  ->  dm_t = dh_t W_hr, dW_hr later */
            memcpy(dHt + wk.off * P, dh, wk.bs * P * sizeof(REAL));
            FN(rmat_bwd)(bl, &rw[1], wk.bs, dh, 0, dm);
        }
        for (size_t n = 0; n < wk.bs; n++)
            FN(lstm_row_backward)(a + n * G, cp + n * H, dm + n * H, dc + n * H,
                                  da + n * G, H);
        /* a_t += h_{t-1} W_hh^T  ->  dh_{t-1} = da_t W_hh */
        FN(rmat_bwd)(bl, &rw[0], wk.bs, da, 0, dh);
        /* rows that entered at this step took (h0, c0) */
        FN(add_rows)(ds0.h, ds0.ld_h, dh, P, wk.prev_bs, wk.bs, P);
        FN(add_rows)(ds0.c, ds0.ld_c, dc, H, wk.prev_bs, wk.bs, H);
    }
    if (proj && dw->w_hr) FN(mat_mm_tn_acc)(bl, R, dHt, P, M, H, dw->w_hr, scratch);
    if (dw->w_hh) FN(mat_mm_tn_acc)(bl, R, dA, G, Hprev, P, dw->w_hh, scratch);
    FN(input_projection_backward)(bl, b, R, x, I, dw, dw->b_hh, G, dA, dx, rw[2].panels, scratch);
    return CRNN_OK;
}
