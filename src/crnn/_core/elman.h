/* elman.h — the Elman cell, generic over REAL (included once per type).
 *
 *   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      a_t, h_t are (bs, H)
 *   h_t = tanh(a_t)  or  relu(a_t)
 *
 * Rows of every workspace and of the reserve follow the batch's row layout:
 * row (t, n) is row off_t + n of an (R, H) matrix.
 *
 * Reserve (training), 2*R*H:
 *   Hprev (R, H)  h_{t-1} of every row (h0 for a sequence's first step):
 *                 the recurrent GEMM reads it, dW_hh is one GEMM over it.
 *   Y     (R, H)  h_t of every row: the activation's derivative.
 * Workspace: forward inference (R + N)*H: A (R, H) the pre-activations,
 *   hbuf (N, H) the running state; forward training 0 (A lives in Y, the
 *   state in Hprev); backward (R + N)*H: dA (R, H), dh (N, H).
 */

static inline REAL FN(elman_act)(int relu, REAL a) {
    /* relu keeps NaN (NaN < 0 is false), as torch does */
    return relu ? (a < 0 ? (REAL)0 : a) : RTANH(a);
}

static inline REAL FN(elman_dact)(int relu, REAL y) {
    /* derivative from the output: tanh' = 1 - y^2, relu' = [y > 0] */
    return relu ? (y > 0 ? (REAL)1 : (REAL)0) : (REAL)1 - y * y;
}

static crnn_status FN(elman_forward)(const crnn_blas *bl, const crnn_layer *ly,
                                     const crnn_batch *b, const TYPED(params) *w,
                                     TYPED(seq) x, TYPED(state) h0,
                                     TYPED(seq) out, TYPED(state) hn,
                                     REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size;
    const size_t R = crnn_rows(b);
    const int relu = ly->cell == CRNN_RNN_RELU, train = reserve != NULL;
    REAL *Hprev = reserve, *Y = train ? reserve + R * H : NULL;
    REAL *A = train ? Y : work;                 /* (R, H) pre-activations */
    REAL *hbuf = train ? NULL : work + R * H;   /* (N, H) running state */
    crnn_walk wk;

    /* A = x W_ih^T + b_ih + b_hh for every row: one GEMM before the loop */
    if (w->b_ih || w->b_hh) FN(fill_bias)(A, R, H, w->b_ih, w->b_hh);
    FN(seq_mm_nt)(bl, b, R, x, I, w->w_ih, H,
                  (w->b_ih || w->b_hh) ? (REAL)1 : (REAL)0, A);

    crnn_walk_start(&wk, b, ly->reverse, 1, R);
    for (;;) {
        const size_t t = wk.t, off = wk.off, bs = wk.bs;
        /* where this step's h_{t-1} lives, and where h_t goes for the rows
           that go on (training: the next step's Hprev rows) */
        REAL *hp = train ? Hprev + off * H : hbuf;
        REAL *hnext = hbuf;
        REAL *a = A + off * H;
        if (train && wk.next_bs)
            hnext = Hprev + (ly->reverse ? off - wk.next_bs : off + bs) * H;

        /* rows entering at this step start from h0 */
        FN(copy_rows)(hp, H, h0.h, h0.ld_h, wk.prev_bs, bs, H);
        /* a_t += h_{t-1} W_hh^T */
        FN(mm_nt)(bl, bs, H, H, hp, H, w->w_hh, H, 1, a, H);
        /* h_t = act(a_t): to out, the next step's state, or hn */
        for (size_t n = 0; n < bs; n++) {
            REAL *an = a + n * H;
            REAL *o = out.data ? FN(seq_row)(out, b, t, off, n) : NULL;
            REAL *dst = n < wk.next_bs ? hnext + n * H
                                       : (hn.h ? hn.h + n * hn.ld_h : NULL);
            for (size_t j = 0; j < H; j++) {
                REAL v = FN(elman_act)(relu, an[j]);
                an[j] = v; /* training: this is Y */
                if (o) o[j] = v;
                if (dst) dst[j] = v;
            }
        }
        if (wk.s + 1 == b->steps) break;
        crnn_walk_next(&wk);
    }
    return CRNN_OK;
}

static crnn_status FN(elman_backward)(const crnn_blas *bl, const crnn_layer *ly,
                                      const crnn_batch *b, const TYPED(params) *w,
                                      const TYPED(params) *dw, TYPED(seq) x,
                                      TYPED(seq) dout, TYPED(state) dhn,
                                      TYPED(seq) dx, TYPED(state) dh0,
                                      const REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size;
    const size_t R = crnn_rows(b);
    const int relu = ly->cell == CRNN_RNN_RELU;
    const REAL *Hprev = reserve, *Y = reserve + R * H;
    REAL *dA = work;           /* (R, H) gradient of the pre-activations */
    REAL *dh = work + R * H;   /* (N, H) gradient w.r.t. h_t, rows active */
    crnn_walk wk;

    /* the forward loop, walked in reverse */
    crnn_walk_start(&wk, b, ly->reverse, 0, R);
    for (;;) {
        const size_t t = wk.t, off = wk.off, bs = wk.bs;
        const REAL *y = Y + off * H;
        REAL *da = dA + off * H;
        /* rows whose h_t was final (went to hn) take dhn */
        FN(copy_rows)(dh, H, dhn.h, dhn.ld_h, wk.next_bs, bs, H);
        /* h_t = act(a_t)  ->  da_t = (dh_t + dout_t) * act'(a_t) */
        for (size_t n = 0; n < bs; n++) {
            const REAL *go = dout.data ? FN(seq_row)(dout, b, t, off, n) : NULL;
            const REAL *yn = y + n * H;
            REAL *dan = da + n * H, *dhn_ = dh + n * H;
            for (size_t j = 0; j < H; j++)
                dan[j] = (dhn_[j] + (go ? go[j] : 0)) * FN(elman_dact)(relu, yn[j]);
        }
        /* a_t += h_{t-1} W_hh^T  ->  dh_{t-1} = da_t W_hh */
        FN(mm_nn)(bl, bs, H, H, da, H, w->w_hh, H, 0, dh, H);
        /* rows that entered at this step took h0 */
        FN(add_rows)(dh0.h, dh0.ld_h, dh, H, wk.prev_bs, bs, H);
        if (wk.s == 0) break;
        crnn_walk_prev(&wk);
    }

    /* A = x W_ih^T + b_ih + b_hh  ->  the input and weight gradients,
       one GEMM each over all steps */
    FN(colsum_acc)(dw->b_ih, dA, R, H);
    FN(colsum_acc)(dw->b_hh, dA, R, H);
    if (dw->w_hh) FN(mm_tn_acc)(bl, H, H, R, dA, H, Hprev, H, dw->w_hh, H);
    if (dw->w_ih) FN(seq_mm_tn_acc)(bl, b, R, dA, H, x, I, dw->w_ih);
    if (dx.data) FN(seq_mm_nn_acc)(bl, b, R, dx, I, w->w_ih, H, dA);
    return CRNN_OK;
}
