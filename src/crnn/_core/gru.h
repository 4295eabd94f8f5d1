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
 * Workspace, inference: A (R, 3H), ah (N, 3H), hbuf (N, H); training:
 *   ah (N, 3H); backward: dAx (R, 3H), dAh (R, 3H), dh (N, H).
 */

static crnn_status FN(gru_forward)(const crnn_blas *bl, const crnn_layer *ly,
                                   const crnn_batch *b, const TYPED(params) *w,
                                   TYPED(seq) x, TYPED(state) h0,
                                   TYPED(seq) out, TYPED(state) hn,
                                   REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const size_t N = b->size, G = 3 * H;
    const int train = reserve != NULL;
    const REAL *bhn = w->b_hh ? w->b_hh + 2 * H : NULL;
    REAL *Hprev = train ? reserve : NULL;
    REAL *Gt = train ? reserve + R * H : work;       /* (R, 3H) */
    REAL *HN = train ? Gt + R * G : NULL;            /* (R, H) */
    REAL *ah = train ? work : work + R * G;          /* (N, 3H) */
    REAL *hbuf = train ? NULL : ah + N * G;          /* (N, H) */
    crnn_walk wk;

    FN(input_projection)(bl, b, R, x, I, w, G, 2 * H, Gt);
    for (crnn_walk_first(&wk, b, ly->reverse); !wk.done; crnn_walk_next(&wk)) {
        REAL *hp = FN(state_now)(Hprev, hbuf, &wk, H);
        REAL *hnext = FN(state_next)(Hprev, hbuf, &wk, H);
        REAL *a = Gt + wk.off * G;
        REAL *hnr = train ? HN + wk.off * H : NULL;
        FN(copy_rows)(hp, H, h0.h, h0.ld_h, wk.prev_bs, wk.bs, H);
        /* ah = h_{t-1} W_hh^T (b_hn added below) */
        FN(mm_nt)(bl, wk.bs, G, H, hp, H, w->w_hh, H, 0, ah, G);
        for (size_t n = 0; n < wk.bs; n++) {
            REAL *an = a + n * G, *ahn = ah + n * G, *hpn = hp + n * H;
            REAL *o = out.data ? FN(seq_row)(out, b, wk.t, wk.off, n) : NULL;
            REAL *d = FN(state_dst)(hnext, H, hn.h, hn.ld_h, &wk, n);
            for (size_t j = 0; j < H; j++) {
                REAL r = FN(sigmoid)(an[j] + ahn[j]);
                REAL z = FN(sigmoid)(an[H + j] + ahn[H + j]);
                REAL hh = ahn[2 * H + j] + (bhn ? bhn[j] : 0);
                REAL nn = RTANH(an[2 * H + j] + r * hh);
                REAL h = ((REAL)1 - z) * nn + z * hpn[j]; /* hpn may be d */
                an[j] = r; an[H + j] = z; an[2 * H + j] = nn;
                if (hnr) hnr[n * H + j] = hh;
                if (o) o[j] = h;
                if (d) d[j] = h;
            }
        }
    }
    return CRNN_OK;
}

static crnn_status FN(gru_backward)(const crnn_blas *bl, const crnn_layer *ly,
                                    const crnn_batch *b, const TYPED(params) *w,
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
    crnn_walk wk;

    for (crnn_walk_last(&wk, b, ly->reverse); !wk.done; crnn_walk_prev(&wk)) {
        const REAL *gt = Gt + wk.off * G, *hnr = HN + wk.off * H;
        const REAL *hp = Hprev + wk.off * H;
        REAL *dax = dAx + wk.off * G, *dah = dAh + wk.off * G;
        FN(copy_rows)(dh, H, dhn.h, dhn.ld_h, wk.next_bs, wk.bs, H);
        for (size_t n = 0; n < wk.bs; n++) {
            const REAL *gn = gt + n * G, *hpn = hp + n * H, *hh = hnr + n * H;
            const REAL *g = dout.data ? FN(seq_row)(dout, b, wk.t, wk.off, n) : NULL;
            REAL *daxn = dax + n * G, *dahn = dah + n * G, *dhr = dh + n * H;
            for (size_t j = 0; j < H; j++) {
                REAL r = gn[j], z = gn[H + j], nn = gn[2 * H + j];
                REAL dht = dhr[j] + (g ? g[j] : 0);
                /* h_t = (1 - z) n + z h_{t-1} */
                REAL dnp = dht * ((REAL)1 - z) * ((REAL)1 - nn * nn); /* d(n pre) */
                REAL dzp = dht * (hpn[j] - nn) * z * ((REAL)1 - z);   /* d(z pre) */
                /* n = tanh(ax_n + r ah_n) */
                REAL drp = dnp * hh[j] * r * ((REAL)1 - r);           /* d(r pre) */
                daxn[j] = drp; daxn[H + j] = dzp; daxn[2 * H + j] = dnp;
                dahn[j] = drp; dahn[H + j] = dzp; dahn[2 * H + j] = dnp * r;
                dhr[j] = dht * z;              /* the direct path to h_{t-1} */
            }
        }
        /* ah = h_{t-1} W_hh^T  ->  dh_{t-1} += dah W_hh */
        FN(mm_nn)(bl, wk.bs, H, G, dah, G, w->w_hh, H, 1, dh, H);
        FN(add_rows)(dh0.h, dh0.ld_h, dh, H, wk.prev_bs, wk.bs, H);
    }
    FN(colsum_acc)(dw->b_hh, dAh, R, G);
    if (dw->w_hh) FN(mm_tn_acc)(bl, G, H, R, dAh, G, Hprev, H, dw->w_hh, H);
    /* ax = x W_ih^T + b_ih (+ b_hr, b_hz, whose gradients dAh holds) */
    FN(input_projection_backward)(bl, b, R, x, I, w, dw, NULL, G, dAx, dx);
    return CRNN_OK;
}
