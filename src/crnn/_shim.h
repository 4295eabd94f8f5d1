/* _shim.h — type-erased bridge from the Cython shim to the typed core
 * entry points: the shim fills one struct of untyped pointers, and each
 * typed call below is generated once for float and once for double. */
#ifndef CRNN_SHIM_H
#define CRNN_SHIM_H
#include "crnn.h"

typedef struct shim_seq { void *data; ptrdiff_t st, sn; } shim_seq;
typedef struct shim_mat { void *data; size_t ld; } shim_mat;
typedef struct shim_args {
    void *w[5], *dw[5];            /* w_ih, w_hh, b_ih, b_hh, w_hr */
    void *packed;                  /* crnn_?_pack's output, or NULL */
    shim_seq x, out, dout, dx;
    shim_mat h0, c0, hn, cn, dhn, dcn, dh0, dc0;
    void *reserve, *work;
} shim_args;

#define SHIM_SEQ(p, T, s) ((crnn_##p##_seq){(T *)(s).data, (s).st, (s).sn})
#define SHIM_STATE(p, T, h, c) \
    ((crnn_##p##_state){(T *)(h).data, (h).ld, (T *)(c).data, (c).ld})
#define SHIM_PARAMS(p, T, v, pk) \
    ((crnn_##p##_params){(T *)(v)[0], (T *)(v)[1], (T *)(v)[2], (T *)(v)[3], \
                         (T *)(v)[4], (const T *)(pk)})

#define SHIM_FORWARD(p, T)                                                    \
    do {                                                                      \
        crnn_##p##_params w = SHIM_PARAMS(p, T, a->w, a->packed);             \
        return crnn_##p##_forward(blas, ly, bt, &w, SHIM_SEQ(p, T, a->x),     \
                                  SHIM_STATE(p, T, a->h0, a->c0),             \
                                  SHIM_SEQ(p, T, a->out),                     \
                                  SHIM_STATE(p, T, a->hn, a->cn),             \
                                  (T *)a->reserve, (T *)a->work);             \
    } while (0)

#define SHIM_BACKWARD(p, T)                                                   \
    do {                                                                      \
        crnn_##p##_params w = SHIM_PARAMS(p, T, a->w, NULL);                  \
        crnn_##p##_params dw = SHIM_PARAMS(p, T, a->dw, NULL);                \
        return crnn_##p##_backward(blas, ly, bt, &w, &dw,                     \
                                   SHIM_SEQ(p, T, a->x),                      \
                                   SHIM_SEQ(p, T, a->dout),                   \
                                   SHIM_STATE(p, T, a->dhn, a->dcn),          \
                                   SHIM_SEQ(p, T, a->dx),                     \
                                   SHIM_STATE(p, T, a->dh0, a->dc0),          \
                                   (const T *)a->reserve, (T *)a->work);      \
    } while (0)

static crnn_status shim_forward(int dbl, const crnn_blas *blas,
                                const crnn_layer *ly, const crnn_batch *bt,
                                const shim_args *a) {
    if (dbl) SHIM_FORWARD(d, double);
    SHIM_FORWARD(s, float);
}

static crnn_status shim_pack(int dbl, const crnn_layer *ly, const shim_args *a) {
    if (dbl) {
        crnn_d_params w = SHIM_PARAMS(d, double, a->w, NULL);
        return crnn_d_pack(ly, &w, (double *)a->packed);
    } else {
        crnn_s_params w = SHIM_PARAMS(s, float, a->w, NULL);
        return crnn_s_pack(ly, &w, (float *)a->packed);
    }
}

static crnn_status shim_backward(int dbl, const crnn_blas *blas,
                                 const crnn_layer *ly, const crnn_batch *bt,
                                 const shim_args *a) {
    if (dbl) SHIM_BACKWARD(d, double);
    SHIM_BACKWARD(s, float);
}
/* Quantized weights (crnn_q_*): w[] holds the int8 or bfloat16 weights
 * and the float biases, scale[] (int8) the weights' scales. */
static crnn_status shim_q_pack(int qtype, const crnn_layer *ly, const shim_args *a,
                               void *const scale[5], void *packed) {
    crnn_q_weights w = {a->w[0], a->w[1], a->w[4], (const float *)scale[0],
                        (const float *)scale[1], (const float *)scale[4]};
    return crnn_q_pack(ly, (crnn_qtype)qtype, &w, packed);
}

static crnn_status shim_q_forward(const crnn_blas *blas, const crnn_layer *ly,
                                  const crnn_batch *bt, const shim_args *a) {
    crnn_q_params w = {a->packed, (const float *)a->w[2], (const float *)a->w[3]};
    return crnn_q_forward(blas, ly, bt, &w, SHIM_SEQ(s, float, a->x),
                          SHIM_STATE(s, float, a->h0, a->c0), SHIM_SEQ(s, float, a->out),
                          SHIM_STATE(s, float, a->hn, a->cn), (float *)a->work);
}
#endif
