/* layer.h — the typed entry points of one instantiation (core.c's public
 * functions dispatch to the active one): check the arguments once, then
 * hand the work to the cell kind's kernel. */

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

/* A state's h has P features (proj_size or H); an LSTM's c has H. */
static crnn_status FN(check_state)(TYPED(state) s, const crnn_layer *ly) {
    size_t H = ly->hidden_size, P = ly->proj_size ? ly->proj_size : H;
    if (s.h && s.ld_h < P) return CRNN_ERR_STRIDE;
    if (ly->cell == CRNN_LSTM && s.c && s.ld_c < H) return CRNN_ERR_STRIDE;
    return CRNN_OK;
}

static crnn_status FN(check_common)(const crnn_blas *bl, const crnn_layer *ly,
                                    const crnn_batch *b, const TYPED(params) *w) {
    size_t G, H, I, R;
    crnn_status st;
    if (!bl || !ly || !b || !w) return CRNN_ERR_NULL;
    if ((st = crnn_check_layer_batch(ly, b)) != CRNN_OK) return st;
    if (!w->w_ih || !w->w_hh || (ly->proj_size && !w->w_hr)) return CRNN_ERR_NULL;
    G = crnn_gates(ly->cell); H = ly->hidden_size; I = ly->input_size;
    R = crnn_rows(b);
    /* every BLAS dimension and leading dimension derives from these */
    if (!crnn_fits_int(crnn_mul(G, H)) || !crnn_fits_int(I) ||
        !crnn_fits_int(ly->proj_size) ||
        !crnn_fits_int(R) || !crnn_fits_int(crnn_mul(b->size, crnn_mul(G, H))))
        return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

/* The weights a call multiplies by: W_hh (G*H x P), with projection W_hr
 * (P x H) in rw[1], and W_ih (G*H x I) in rw[2]; returns how many
 * recurrent ones. */
static int FN(rmats_of)(const crnn_layer *ly, const TYPED(params) *w,
                        FN(rmat) *rw) {
    size_t H = ly->hidden_size, P = ly->proj_size ? ly->proj_size : H;
    size_t GH = crnn_gates(ly->cell) * H;
    rw[0] = (FN(rmat)){w->w_hh, GH, P, NULL};
    rw[1] = (FN(rmat)){w->w_hr, P, H, NULL};
    rw[2] = (FN(rmat)){w->w_ih, GH, ly->input_size, NULL};
    return ly->proj_size ? 2 : 1;
}

/* Whether packed weights were made by this instantiation (crnn_?_pack
 * writes its tag first). */
static int FN(packed_ours)(const REAL *packed) {
    uint32_t tag;
    memcpy(&tag, packed, sizeof tag);
    return tag == crnn_pack_tag(CRNN_ISA_ID, CRNN_DOUBLE);
}

/* The weights of a call as panels (gemm.h), at the end of the workspace
 * (core.c sizes the space). Forward reads W_hh, W_hr and W_ih (for
 * x W^T) from w->packed (crnn_?_pack) when given; a forward of more rows
 * than a few (crnn_pack_wanted) packs them; one of fewer reads the weights
 * as they are (the same results). Backward packs all three as they are
 * (for d W). */
static void FN(prepare_rmats)(const crnn_layer *ly, const crnn_batch *b,
                              const TYPED(params) *w, crnn_pass pass,
                              REAL *work, FN(rmat) *rw) {
    int fwd = pass != CRNN_PASS_BACKWARD;
    const REAL *src = fwd && w->packed ? w->packed + CRNN_PACK_HEADER : NULL;
    REAL *p = work + crnn_workspace_base(ly, b, pass);
    int count = FN(rmats_of)(ly, w, rw);
    if (fwd && !src && !crnn_pack_wanted(b)) return;
    for (int i = 0; i < 3; i++) { /* W_hh, W_hr (projection only), W_ih */
        FN(rmat) *r = &rw[i];
        size_t n = fwd ? r->rows : r->cols, k = fwd ? r->cols : r->rows;
        if (i == 1 && count < 2) continue;
        if (src) {
            r->panels = src;
            src += crnn_panel_size(n, k);
        } else {
            FN(pack_panels)(n, k, r->w, r->cols, fwd, p);
            r->panels = p;
            p += crnn_panel_size(n, k);
        }
    }
}

static crnn_status FN(pack)(const crnn_layer *layer, const TYPED(params) *w,
                            REAL *packed) {
    uint32_t tag = crnn_pack_tag(CRNN_ISA_ID, CRNN_DOUBLE);
    FN(rmat) rw[3];
    int count = FN(rmats_of)(layer, w, rw);
    memset(packed, 0, CRNN_PACK_HEADER * sizeof(REAL));
    memcpy(packed, &tag, sizeof tag);
    packed += CRNN_PACK_HEADER;
    for (int i = 0; i < 3; i++) { /* as prepare_rmats reads them */
        if (i == 1 && count < 2) continue;
        FN(pack_panels)(rw[i].rows, rw[i].cols, rw[i].w, rw[i].cols, 1, packed);
        packed += crnn_panel_size(rw[i].rows, rw[i].cols);
    }
    return CRNN_OK;
}

static crnn_status FN(forward_call)(const crnn_blas *blas, const crnn_layer *layer,
                                    const crnn_batch *batch, const TYPED(params) *w,
                                    TYPED(seq) x, TYPED(state) h0, TYPED(seq) out,
                                    TYPED(state) hn, REAL *reserve, REAL *work) {
    crnn_status st = FN(check_common)(blas, layer, batch, w);
    size_t H, P;
    crnn_pass pass;
    FN(rmat) rw[3];
    if (st != CRNN_OK) return st;
    H = layer->hidden_size;
    P = layer->proj_size ? layer->proj_size : H;
    if ((st = FN(check_seq)(x, batch, layer->input_size, crnn_rows(batch) > 0)) ||
        (st = FN(check_seq)(out, batch, P, 0)) ||
        (st = FN(check_state)(h0, layer)) || (st = FN(check_state)(hn, layer)))
        return st;
    if (batch->size == 0) return CRNN_OK;
    if (batch->steps == 0) { /* no step: the state passes through */
        if (hn.h) FN(copy_rows)(hn.h, hn.ld_h, h0.h, h0.ld_h, 0, batch->size, P);
        if (hn.c && layer->cell == CRNN_LSTM)
            FN(copy_rows)(hn.c, hn.ld_c, h0.c, h0.ld_c, 0, batch->size, H);
        return CRNN_OK;
    }
    pass = reserve ? CRNN_PASS_TRAINING : CRNN_PASS_INFERENCE;
    if (crnn_workspace_size(layer, batch, pass) && !work) return CRNN_ERR_NULL;
    if (w->packed && !FN(packed_ours)(w->packed)) return CRNN_ERR_PACKED;
    if (layer->cell != CRNN_LSTM) h0.c = hn.c = NULL;
    FN(prepare_rmats)(layer, batch, w, pass, work, rw);
    switch (layer->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU:
        return FN(elman_forward)(blas, layer, batch, w, rw, x, h0, out, hn,
                                 reserve, work);
    case CRNN_LSTM:
        return FN(lstm_forward)(blas, layer, batch, w, rw, x, h0, out, hn,
                                reserve, work);
    case CRNN_GRU:
        return FN(gru_forward)(blas, layer, batch, w, rw, x, h0, out, hn,
                               reserve, work);
    }
    return CRNN_ERR_SIZE; /* unreachable: the cell kind was checked */
}

static crnn_status FN(backward_call)(const crnn_blas *blas, const crnn_layer *layer,
                                     const crnn_batch *batch, const TYPED(params) *w,
                                     const TYPED(params) *dw, TYPED(seq) x,
                                     TYPED(seq) dout, TYPED(state) dhn, TYPED(seq) dx,
                                     TYPED(state) dh0, const REAL *reserve, REAL *work) {
    crnn_status st = FN(check_common)(blas, layer, batch, w);
    size_t H, P;
    FN(rmat) rw[3];
    if (st != CRNN_OK) return st;
    if (!dw) return CRNN_ERR_NULL;
    H = layer->hidden_size;
    P = layer->proj_size ? layer->proj_size : H;
    if ((st = FN(check_seq)(x, batch, layer->input_size,
                            dw->w_ih && crnn_rows(batch) > 0)) ||
        (st = FN(check_seq)(dout, batch, P, 0)) ||
        (st = FN(check_seq)(dx, batch, layer->input_size, 0)) ||
        (st = FN(check_state)(dhn, layer)) || (st = FN(check_state)(dh0, layer)))
        return st;
    if (batch->size == 0) return CRNN_OK;
    if (batch->steps == 0) { /* hn = h0  ->  dh0 += dhn */
        if (dhn.h) FN(add_rows)(dh0.h, dh0.ld_h, dhn.h, dhn.ld_h, 0, batch->size, P);
        if (dhn.c && layer->cell == CRNN_LSTM)
            FN(add_rows)(dh0.c, dh0.ld_c, dhn.c, dhn.ld_c, 0, batch->size, H);
        return CRNN_OK;
    }
    if (!reserve || !work) return CRNN_ERR_NULL;
    if (layer->cell != CRNN_LSTM) dhn.c = dh0.c = NULL;
    FN(prepare_rmats)(layer, batch, w, CRNN_PASS_BACKWARD, work, rw);
    switch (layer->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU:
        return FN(elman_backward)(blas, layer, batch, rw, dw, x, dout, dhn, dx,
                                  dh0, reserve, work);
    case CRNN_LSTM:
        return FN(lstm_backward)(blas, layer, batch, rw, dw, x, dout, dhn, dx,
                                 dh0, reserve, work);
    case CRNN_GRU:
        return FN(gru_backward)(blas, layer, batch, rw, dw, x, dout, dhn, dx,
                                dh0, reserve, work);
    }
    return CRNN_ERR_SIZE; /* unreachable: the cell kind was checked */
}
