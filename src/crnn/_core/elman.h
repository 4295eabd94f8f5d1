/* elman.h — the Elman cell, generic over REAL (included once per type).
 *
 *   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      a_t, h_t are (bs, H)
 *   h_t = tanh(a_t)  or  relu(a_t)
 *
 * Rows of every workspace and of the reserve follow the batch's row layout:
 * row (t, n) is row off_t + n of an (R, .) matrix.
 *
 * Reserve (training), 2*R*H:
 *   Hprev (R, H)  h_{t-1} of every row (h0 at a sequence's first step):
 *                 the recurrent GEMM reads it, dW_hh is one GEMM over it
 *   Y     (R, H)  h_t of every row, for the activation's derivative
 * Workspace: inference (R + N)*H: A (R, H) pre-activations, hbuf (N, H)
 *   the running state; training 0 (A lives in Y, the state in Hprev);
 *   backward (R + N)*H: dA (R, H), dh (N, H).
 */

static inline REAL FN(elman_act)(int relu, REAL a) {
    /* relu keeps NaN (NaN < 0 is false), as torch does */
    return relu ? (a < 0 ? (REAL)0 : a) : RTANH(a);
}

static inline REAL FN(elman_dact)(int relu, REAL y) {
    /* the derivative from the output: tanh' = 1 - y^2, relu' = [y > 0] */
    return relu ? (y > 0 ? (REAL)1 : (REAL)0) : (REAL)1 - y * y;
}

static crnn_status FN(elman_forward)(const crnn_blas *bl, const crnn_layer *ly,
                                     const crnn_batch *b, const TYPED(params) *w,
                                     TYPED(seq) x, TYPED(state) h0,
                                     TYPED(seq) out, TYPED(state) hn,
                                     REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const int relu = ly->cell == CRNN_RNN_RELU, train = reserve != NULL;
    REAL *Hprev = train ? reserve : NULL;
    REAL *A = train ? reserve + R * H : work;   /* (R, H): a_t, then h_t */
    REAL *hbuf = train ? NULL : work + R * H;   /* (N, H) */
    crnn_walk wk;

    FN(input_projection)(bl, b, R, x, I, w, H, H, A);
    for (crnn_walk_first(&wk, b, ly->reverse); !wk.done; crnn_walk_next(&wk)) {
        REAL *hp = FN(state_now)(Hprev, hbuf, &wk, H);
        REAL *hnext = FN(state_next)(Hprev, hbuf, &wk, H);
        REAL *a = A + wk.off * H;
        /* rows entering at this step start from h0 */
        FN(copy_rows)(hp, H, h0.h, h0.ld_h, wk.prev_bs, wk.bs, H);
        /* a_t += h_{t-1} W_hh^T */
        FN(mm_nt)(bl, wk.bs, H, H, hp, H, w->w_hh, H, 1, a, H);
        /* h_t = act(a_t), in place (training: Y), to out and the state */
        for (size_t n = 0; n < wk.bs; n++) {
            REAL *an = a + n * H;
            REAL *o = out.data ? FN(seq_row)(out, b, wk.t, wk.off, n) : NULL;
            REAL *d = FN(state_dst)(hnext, H, hn.h, hn.ld_h, &wk, n);
            for (size_t j = 0; j < H; j++) {
                REAL v = FN(elman_act)(relu, an[j]);
                an[j] = v;
                if (o) o[j] = v;
                if (d) d[j] = v;
            }
        }
    }
    return CRNN_OK;
}

static crnn_status FN(elman_backward)(const crnn_blas *bl, const crnn_layer *ly,
                                      const crnn_batch *b, const TYPED(params) *w,
                                      const TYPED(params) *dw, TYPED(seq) x,
                                      TYPED(seq) dout, TYPED(state) dhn,
                                      TYPED(seq) dx, TYPED(state) dh0,
                                      const REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const int relu = ly->cell == CRNN_RNN_RELU;
    const REAL *Hprev = reserve, *Y = reserve + R * H;
    REAL *dA = work;           /* (R, H) gradient of the pre-activations */
    REAL *dh = work + R * H;   /* (N, H) gradient w.r.t. h_t, active rows */
    crnn_walk wk;

    /* the forward loop, walked in reverse */
    for (crnn_walk_last(&wk, b, ly->reverse); !wk.done; crnn_walk_prev(&wk)) {
        const REAL *y = Y + wk.off * H;
        REAL *da = dA + wk.off * H;
        /* rows whose h_t was final (went to hn) take dhn */
        FN(copy_rows)(dh, H, dhn.h, dhn.ld_h, wk.next_bs, wk.bs, H);
        /* h_t = act(a_t)  ->  da_t = (dh_t + dout_t) * act'(a_t) */
        for (size_t n = 0; n < wk.bs; n++) {
            const REAL *g = dout.data ? FN(seq_row)(dout, b, wk.t, wk.off, n) : NULL;
            const REAL *yn = y + n * H, *dhr = dh + n * H;
            REAL *dan = da + n * H;
            for (size_t j = 0; j < H; j++)
                dan[j] = (dhr[j] + (g ? g[j] : 0)) * FN(elman_dact)(relu, yn[j]);
        }
        /* a_t += h_{t-1} W_hh^T  ->  dh_{t-1} = da_t W_hh */
        FN(mm_nn)(bl, wk.bs, H, H, da, H, w->w_hh, H, 0, dh, H);
        /* rows that entered at this step took h0 */
        FN(add_rows)(dh0.h, dh0.ld_h, dh, H, wk.prev_bs, wk.bs, H);
    }
    /* a_t += h_{t-1} W_hh^T  ->  dW_hh += dA^T Hprev, over all steps */
    if (dw->w_hh) FN(mm_tn_acc)(bl, H, H, R, dA, H, Hprev, H, dw->w_hh, H);
    /* A = x W_ih^T + b_ih + b_hh  ->  db_ih, db_hh, dW_ih, dx */
    FN(input_projection_backward)(bl, b, R, x, I, w, dw, dw->b_hh, H, dA, dx);
    return CRNN_OK;
}
