/* layer.h — the typed public entry points, generic over REAL: check the
 * arguments once, then hand the work to the cell kind's kernel. */

static crnn_status FN(check_seq)(TYPED(seq) v, const crnn_batch *b,
                                 size_t F, int required) {
    if (!v.data) return required ? CRNN_ERR_NULL : CRNN_OK;
    if (b->size == 0 || b->steps == 0) return CRNN_OK; /* nothing addressed */
    if (v.stride_n < (ptrdiff_t)F && !(b->size == 1 && !b->batch_sizes))
        return CRNN_ERR_STRIDE;
    if (!b->batch_sizes && b->steps > 1 && v.stride_t < (ptrdiff_t)F)
        return CRNN_ERR_STRIDE;
    if (v.stride_n < 0 || v.stride_t < 0) return CRNN_ERR_STRIDE;
    if (!crnn_fits_int((size_t)v.stride_n) ||
        (!b->batch_sizes && !crnn_fits_int((size_t)v.stride_t)))
        return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

static crnn_status FN(check_state)(const REAL *p, size_t ld, size_t F) {
    if (p && ld < F) return CRNN_ERR_STRIDE;
    return CRNN_OK;
}

static crnn_status FN(check_common)(const crnn_blas *bl, const crnn_layer *ly,
                                    const crnn_batch *b, const TYPED(params) *w) {
    size_t G, H, I, R;
    crnn_status st;
    if (!bl || !ly || !b || !w) return CRNN_ERR_NULL;
    if (!bl->GEMM || !bl->GEMV) return CRNN_ERR_NULL;
    if ((st = crnn_check_layer_batch(ly, b)) != CRNN_OK) return st;
    if (!w->w_ih || !w->w_hh) return CRNN_ERR_NULL;
    G = crnn_gates(ly->cell); H = ly->hidden_size; I = ly->input_size;
    R = crnn_rows(b);
    /* every BLAS dimension and leading dimension derives from these */
    if (!crnn_fits_int(crnn_mul(G, H)) || !crnn_fits_int(I) ||
        !crnn_fits_int(R) || !crnn_fits_int(crnn_mul(b->size, crnn_mul(G, H))))
        return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

crnn_status FN(forward)(const crnn_blas *blas, const crnn_layer *layer,
                        const crnn_batch *batch, const TYPED(params) *w,
                        TYPED(seq) x, TYPED(state) h0, TYPED(seq) out,
                        TYPED(state) hn, REAL *reserve, REAL *work) {
    crnn_status st = FN(check_common)(blas, layer, batch, w);
    const size_t H = layer ? layer->hidden_size : 0;
    if (st != CRNN_OK) return st;
    if ((st = FN(check_seq)(x, batch, layer->input_size, crnn_rows(batch) > 0)) ||
        (st = FN(check_seq)(out, batch, H, 0)) ||
        (st = FN(check_state)(h0.h, h0.ld_h, H)) ||
        (st = FN(check_state)(hn.h, hn.ld_h, H)))
        return st;
    if (batch->size == 0) return CRNN_OK;
    if (batch->steps == 0) { /* no step: the state passes through */
        if (hn.h) FN(copy_rows)(hn.h, hn.ld_h, h0.h, h0.ld_h, 0, batch->size, H);
        return CRNN_OK;
    }
    if (crnn_workspace_size(layer, batch, reserve ? CRNN_PASS_TRAINING
                                                  : CRNN_PASS_INFERENCE) && !work)
        return CRNN_ERR_NULL;
    switch (layer->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU:
        return FN(elman_forward)(blas, layer, batch, w, x, h0, out, hn,
                                 reserve, work);
    default:
        return CRNN_ERR_UNSUPPORTED;
    }
}

crnn_status FN(backward)(const crnn_blas *blas, const crnn_layer *layer,
                         const crnn_batch *batch, const TYPED(params) *w,
                         const TYPED(params) *dw, TYPED(seq) x,
                         TYPED(seq) dout, TYPED(state) dhn, TYPED(seq) dx,
                         TYPED(state) dh0, const REAL *reserve, REAL *work) {
    crnn_status st = FN(check_common)(blas, layer, batch, w);
    const size_t H = layer ? layer->hidden_size : 0;
    if (st != CRNN_OK) return st;
    if (!dw) return CRNN_ERR_NULL;
    if ((st = FN(check_seq)(x, batch, layer->input_size,
                            dw->w_ih && crnn_rows(batch) > 0)) ||
        (st = FN(check_seq)(dout, batch, H, 0)) ||
        (st = FN(check_seq)(dx, batch, layer->input_size, 0)) ||
        (st = FN(check_state)(dhn.h, dhn.ld_h, H)) ||
        (st = FN(check_state)(dh0.h, dh0.ld_h, H)))
        return st;
    if (batch->size == 0) return CRNN_OK;
    if (batch->steps == 0) { /* hn = h0  ->  dh0 += dhn */
        if (dhn.h) FN(add_rows)(dh0.h, dh0.ld_h, dhn.h, dhn.ld_h, 0, batch->size, H);
        return CRNN_OK;
    }
    if (!reserve || !work) return CRNN_ERR_NULL;
    switch (layer->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU:
        return FN(elman_backward)(blas, layer, batch, w, dw, x, dout, dhn, dx,
                                  dh0, reserve, work);
    default:
        return CRNN_ERR_UNSUPPORTED;
    }
}
