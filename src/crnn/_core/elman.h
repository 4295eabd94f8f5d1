/* elman.h — the Elman cell, generic over REAL (included once per type).
 *
 *   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      a_t, h_t are (bs, H)
 *   h_t = tanh(a_t)  or  relu(a_t)
 *
 * Rows of every workspace and of the reserve follow the batch's row layout:
 * row (t, n) is row off_t + n of an (R, .) matrix.
 *
 * Reserve (training), (R + N)*H:
 *   Hprev (R, H)  h_{t-1} of every row (h0 at a sequence's first step):
 *                 the recurrent GEMM reads it, dW_hh is one GEMM over it
 *   Hend  (N, H)  h_t of each sequence's last step. With Hprev, every h_t
 *                 is kept once, for the activation's derivative: the rows
 *                 that go on are the next step's Hprev.
 * Workspace: forward (C + N)*H: A (C, H) pre-activations of a chunk of
 *   steps (C = crnn_proj_rows), then h_t; hbuf (N, H) the running state
 *   (inference; training keeps it in Hprev); backward (R + N)*H: dA (R, H),
 *   dh (N, H).
 */

/* a = act(a) in place over n elements; relu keeps NaN (NaN < 0 is false),
 * as torch does */
static void FN(elman_act_n)(int relu, REAL *restrict a, size_t n) {
    if (!relu) {
        FN(tanh_n)(a, n);
        return;
    }
    for (size_t j = 0; j < n; j++) a[j] = a[j] < 0 ? (REAL)0 : a[j];
}

/* da = dh * act'(a), the derivative from the output y: tanh' = 1 - y^2,
 * relu' = [y > 0] */
static void FN(elman_dact_n)(int relu, REAL *restrict da, const REAL *restrict dh,
                             const REAL *restrict y, size_t n) {
    if (relu)
        for (size_t j = 0; j < n; j++) {
            REAL d = dh[j];
            da[j] = y[j] > 0 ? d : (REAL)0;
        }
    else
        for (size_t j = 0; j < n; j++) da[j] = dh[j] * ((REAL)1 - y[j] * y[j]);
}

static crnn_status FN(elman_forward)(const crnn_blas *bl, const crnn_layer *ly,
                                     const crnn_batch *b, const TYPED(params) *w,
                                     const FN(rmat) *rw,
                                     TYPED(seq) x, TYPED(state) h0,
                                     TYPED(seq) out, TYPED(state) hn,
                                     REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const int relu = ly->cell == CRNN_RNN_RELU, train = reserve != NULL;
    const size_t C = crnn_proj_rows(b, 0);
    REAL *Hprev = train ? reserve : NULL;
    REAL *Hend = train ? reserve + R * H : NULL;  /* (N, H) */
    REAL *A = work;                               /* (C, H): a_t, then h_t */
    REAL *hbuf = train ? NULL : work + C * H;     /* (N, H) */
    FN(proj) pj = FN(proj_init)(bl, b, x, I, w, rw[2].panels, H, H, A, C);
    crnn_walk wk;

    for (crnn_walk_first(&wk, b, ly->reverse); !wk.done; crnn_walk_next(&wk)) {
        REAL *hp = FN(state_now)(Hprev, hbuf, &wk, H);
        REAL *a = FN(proj_at)(&pj, &wk);
        /* rows entering at this step start from h0 */
        FN(copy_rows)(hp, H, h0.h, h0.ld_h, wk.prev_bs, wk.bs, H);
        /* a_t += h_{t-1} W_hh^T */
        FN(rmat_fwd)(bl, &rw[0], wk.bs, hp, 1, a);
        /* h_t = act(a_t), in place */
        FN(elman_act_n)(relu, a, wk.bs * H);
        FN(emit)(a, H, out, b, &wk, FN(state_next)(Hprev, hbuf, &wk, H), hn.h, hn.ld_h);
        /* training keeps the h_t of rows that end here */
        if (train) FN(copy_rows)(Hend, H, a, H, wk.next_bs, wk.bs, H);
    }
    return CRNN_OK;
}

static crnn_status FN(elman_backward)(const crnn_blas *bl, const crnn_layer *ly,
                                      const crnn_batch *b,
                                     const FN(rmat) *rw,
                                      const TYPED(params) *dw, TYPED(seq) x,
                                      TYPED(seq) dout, TYPED(state) dhn,
                                      TYPED(seq) dx, TYPED(state) dh0,
                                      const REAL *reserve, REAL *work) {
    const size_t I = ly->input_size, H = ly->hidden_size, R = crnn_rows(b);
    const int relu = ly->cell == CRNN_RNN_RELU;
    const REAL *Hprev = reserve, *Hend = reserve + R * H;
    REAL *dA = work;           /* (R, H) gradient of the pre-activations */
    REAL *dh = work + R * H;   /* (N, H) gradient w.r.t. h_t, active rows */
    REAL *scratch = work + crnn_workspace_size(ly, b, CRNN_PASS_BACKWARD) - CRNN_BWD_SCRATCH;
    crnn_walk wk;

    /* the forward loop, walked in reverse */
    for (crnn_walk_last(&wk, b, ly->reverse); !wk.done; crnn_walk_prev(&wk)) {
        REAL *da = dA + wk.off * H;
        /* the first `on` rows go on to the next step (in processing order;
           in reverse, rows enter rather than leave: all of them go on) */
        size_t on = wk.next_bs < wk.bs ? wk.next_bs : wk.bs;
        /* rows whose h_t was final (went to hn) take dhn; all take dout */
        FN(copy_rows)(dh, H, dhn.h, dhn.ld_h, wk.next_bs, wk.bs, H);
        FN(add_dout)(dh, H, dout, b, &wk);
        /* h_t = act(a_t)  ->  da_t = dh_t * act'(a_t), with h_t the next
           step's h_{t-1} for the rows that go on, else the kept last h */
        if (on)
            FN(elman_dact_n)(relu, da, dh, Hprev + wk.next_off * H, on * H);
        FN(elman_dact_n)(relu, da + on * H, dh + on * H, Hend + on * H,
                         (wk.bs - on) * H);
        /* a_t += h_{t-1} W_hh^T  ->  dh_{t-1} = da_t W_hh */
        FN(rmat_bwd)(bl, &rw[0], wk.bs, da, 0, dh);
        /* rows that entered at this step took h0 */
        FN(add_rows)(dh0.h, dh0.ld_h, dh, H, wk.prev_bs, wk.bs, H);
    }
    /* a_t += h_{t-1} W_hh^T  ->  dW_hh += dA^T Hprev, over all steps */
    if (dw->w_hh) FN(mat_mm_tn_acc)(bl, R, dA, H, Hprev, H, dw->w_hh, scratch);
    /* A = x W_ih^T + b_ih + b_hh  ->  db_ih, db_hh, dW_ih, dx */
    FN(input_projection_backward)(bl, b, R, x, I, dw, dw->b_hh, H, dA, dx, rw[2].panels, scratch);
    return CRNN_OK;
}
