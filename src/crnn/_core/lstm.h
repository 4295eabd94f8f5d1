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
 * Workspace, inference: A (R, 4H), hbuf (N, P), cbuf (N, H), and with
 *   projection mbuf (N, H); training: hbuf (N, P) with projection, else 0;
 *   backward: dA (R, 4H), dh (N, P), dc (N, H), and with projection
 *   dHt (R, P) (dL/dh_t of every row, for dW_hr) and dm (N, H).
 */

static crnn_status FN(lstm_forward)(const crnn_blas *bl, const crnn_layer *ly,
                                    const crnn_batch *b, const TYPED(params) *w,
                                    TYPED(seq) x, TYPED(state) s0,
                                    TYPED(seq) out, TYPED(state) sn,
                                    REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const size_t N = b->size, G = 4 * H;
    const int proj = ly->proj_size > 0, train = reserve != NULL;
    const size_t P = proj ? ly->proj_size : H;
    REAL *Hprev = train ? reserve : NULL;
    REAL *Gt = train ? reserve + R * P : work;          /* (R, 4H) */
    REAL *Cprev = train ? Gt + R * G : NULL;
    REAL *M = train && proj ? Cprev + R * H : NULL;
    REAL *hbuf = train ? work : work + R * G;           /* (N, P) */
    REAL *cbuf = train ? NULL : hbuf + N * P;           /* (N, H) */
    REAL *mbuf = train || !proj ? NULL : cbuf + N * H;  /* (N, H) */
    crnn_walk wk;

    FN(input_projection)(bl, b, R, x, I, w, G, G, Gt);
    for (crnn_walk_first(&wk, b, ly->reverse); !wk.done; crnn_walk_next(&wk)) {
        REAL *hp = FN(state_now)(Hprev, hbuf, &wk, P);
        REAL *hnext = FN(state_next)(Hprev, hbuf, &wk, P);
        REAL *cp = FN(state_now)(Cprev, cbuf, &wk, H);
        REAL *cnext = FN(state_next)(Cprev, cbuf, &wk, H);
        REAL *a = Gt + wk.off * G;
        REAL *m = proj ? (train ? M + wk.off * H : mbuf) : NULL;
        /* rows entering at this step start from (h0, c0) */
        FN(copy_rows)(hp, P, s0.h, s0.ld_h, wk.prev_bs, wk.bs, P);
        FN(copy_rows)(cp, H, s0.c, s0.ld_c, wk.prev_bs, wk.bs, H);
        /* a_t += h_{t-1} W_hh^T: one product for all four gates */
        FN(mm_nt)(bl, wk.bs, G, P, hp, P, w->w_hh, P, 1, a, G);
        for (size_t n = 0; n < wk.bs; n++) {
            REAL *an = a + n * G, *cpn = cp + n * H;
            REAL *cd = FN(state_dst)(cnext, H, sn.c, sn.ld_c, &wk, n);
            REAL *o = NULL, *hd = NULL, *mn = proj ? m + n * H : NULL;
            if (!proj) {
                o = out.data ? FN(seq_row)(out, b, wk.t, wk.off, n) : NULL;
                hd = FN(state_dst)(hnext, H, sn.h, sn.ld_h, &wk, n);
            }
            for (size_t j = 0; j < H; j++) {
                REAL ig = FN(sigmoid)(an[j]), fg = FN(sigmoid)(an[H + j]);
                REAL gg = RTANH(an[2 * H + j]), og = FN(sigmoid)(an[3 * H + j]);
                REAL c = fg * cpn[j] + ig * gg;  /* cpn may be cd: read first */
                REAL h = og * RTANH(c);
                an[j] = ig; an[H + j] = fg; an[2 * H + j] = gg; an[3 * H + j] = og;
                if (cd) cd[j] = c;
                if (mn) mn[j] = h;
                if (o) o[j] = h;
                if (hd) hd[j] = h;
            }
        }
        if (proj) {
            /* h_t = m_t W_hr^T, then to out and the state */
            FN(mm_nt)(bl, wk.bs, P, H, m, H, w->w_hr, H, 0, hbuf, P);
            for (size_t n = 0; n < wk.bs; n++) {
                const REAL *hr = hbuf + n * P;
                REAL *o = out.data ? FN(seq_row)(out, b, wk.t, wk.off, n) : NULL;
                REAL *hd = FN(state_dst)(hnext, P, sn.h, sn.ld_h, &wk, n);
                if (o) memcpy(o, hr, P * sizeof(REAL));
                if (hd && hd != hr) memcpy(hd, hr, P * sizeof(REAL));
            }
        }
    }
    return CRNN_OK;
}

static crnn_status FN(lstm_backward)(const crnn_blas *bl, const crnn_layer *ly,
                                     const crnn_batch *b, const TYPED(params) *w,
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
    REAL *dm = proj ? dHt + R * P : NULL;  /* (N, H) */
    crnn_walk wk;

    for (crnn_walk_last(&wk, b, ly->reverse); !wk.done; crnn_walk_prev(&wk)) {
        const REAL *gt = Gt + wk.off * G, *cp = Cprev + wk.off * H;
        REAL *da = dA + wk.off * G;
        /* rows whose state was final take (dhn, dcn) */
        FN(copy_rows)(dh, P, dsn.h, dsn.ld_h, wk.next_bs, wk.bs, P);
        FN(copy_rows)(dc, H, dsn.c, dsn.ld_c, wk.next_bs, wk.bs, H);
        if (proj) {
            /* h_t = m_t W_hr^T  ->  dm_t = (dh_t + dout_t) W_hr */
            REAL *dht = dHt + wk.off * P;
            for (size_t n = 0; n < wk.bs; n++) {
                const REAL *g = dout.data ? FN(seq_row)(dout, b, wk.t, wk.off, n) : NULL;
                for (size_t j = 0; j < P; j++)
                    dht[n * P + j] = dh[n * P + j] + (g ? g[j] : 0);
            }
            FN(mm_nn)(bl, wk.bs, H, P, dht, P, w->w_hr, H, 0, dm, H);
        }
        for (size_t n = 0; n < wk.bs; n++) {
            const REAL *gn = gt + n * G, *cpn = cp + n * H;
            const REAL *g = NULL, *dmn = proj ? dm + n * H : NULL;
            REAL *dan = da + n * G, *dcn = dc + n * H, *dhn = dh + n * P;
            if (!proj && dout.data) g = FN(seq_row)(dout, b, wk.t, wk.off, n);
            for (size_t j = 0; j < H; j++) {
                REAL ig = gn[j], fg = gn[H + j], gg = gn[2 * H + j], og = gn[3 * H + j];
                /* c_t = f c_{t-1} + i g; m_t = o tanh(c_t) */
                REAL tc = RTANH(fg * cpn[j] + ig * gg);
                REAL dmj = proj ? dmn[j] : dhn[j] + (g ? g[j] : 0);
                REAL dcj = dcn[j] + dmj * og * ((REAL)1 - tc * tc);
                dan[j] = dcj * gg * ig * ((REAL)1 - ig);             /* i */
                dan[H + j] = dcj * cpn[j] * fg * ((REAL)1 - fg);     /* f */
                dan[2 * H + j] = dcj * ig * ((REAL)1 - gg * gg);     /* g */
                dan[3 * H + j] = dmj * tc * og * ((REAL)1 - og);     /* o */
                dcn[j] = dcj * fg;                                   /* dc_{t-1} */
            }
        }
        /* a_t += h_{t-1} W_hh^T  ->  dh_{t-1} = da_t W_hh */
        FN(mm_nn)(bl, wk.bs, P, G, da, G, w->w_hh, P, 0, dh, P);
        /* rows that entered at this step took (h0, c0) */
        FN(add_rows)(ds0.h, ds0.ld_h, dh, P, wk.prev_bs, wk.bs, P);
        FN(add_rows)(ds0.c, ds0.ld_c, dc, H, wk.prev_bs, wk.bs, H);
    }
    if (proj && dw->w_hr) FN(mm_tn_acc)(bl, P, H, R, dHt, P, M, H, dw->w_hr, H);
    if (dw->w_hh) FN(mm_tn_acc)(bl, G, P, R, dA, G, Hprev, P, dw->w_hh, P);
    FN(input_projection_backward)(bl, b, R, x, I, w, dw, dw->b_hh, G, dA, dx);
    return CRNN_OK;
}
