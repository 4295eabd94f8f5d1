/* dispatch.c — the generic core instantiated once per instruction set and
 * real type (crnn_<isa>_s_*, crnn_<isa>_d_*: the .inc templates), and the
 * public typed entry points of crnn.h, each dispatching to the active
 * instruction set's instantiation. The kernels are static: this one
 * translation unit holds every one of them and the calls between them. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "crnn.h"
#include "blocking.h"
#include "kernel_util.h"
#include "plan.h"
#include "platform.h"
#include "quant.h"
#include "size_arith.h"
#include "team.h"
#include "walk.h"

/* -- the generic core, once per instruction set and real type ---------------
 * The generic files are templates (.inc, no include guard): instance.inc
 * includes them, in the order of their dependencies, once per real type
 * under the CRNN_ISA_ID / CRNN_ISA_TAG set here. */
#define CRNN_INSTANTIATE "instance.inc"

#define CRNN_ISA_ID CRNN_ID_GENERIC
#define CRNN_ISA_TAG generic
#include CRNN_INSTANTIATE
#undef CRNN_ISA_ID
#undef CRNN_ISA_TAG

#if CRNN_X86
CRNN_TARGET_AVX2_BEGIN
#define CRNN_ISA_ID CRNN_ID_AVX2
#define CRNN_ISA_TAG avx2
#include CRNN_INSTANTIATE
#undef CRNN_ISA_ID
#undef CRNN_ISA_TAG
CRNN_TARGET_END

CRNN_TARGET_AVX512_BEGIN
#define CRNN_ISA_ID CRNN_ID_AVX512
#define CRNN_ISA_TAG avx512
#include CRNN_INSTANTIATE
#undef CRNN_ISA_ID
#undef CRNN_ISA_TAG
CRNN_TARGET_END
#endif

size_t crnn_isa_panel_width(int double_precision) {
    switch (crnn_isa_active()) {
    case CRNN_ISA_GENERIC: return double_precision ? crnn_generic_d_nb() : crnn_generic_s_nb();
#if CRNN_X86
    case CRNN_ISA_AVX2: return double_precision ? crnn_avx2_d_nb() : crnn_avx2_s_nb();
    case CRNN_ISA_AVX512:
    case CRNN_ISA_AVX512_VNNI: return double_precision ? crnn_avx512_d_nb() : crnn_avx512_s_nb();
#else
    default: break;
#endif
    }
    return 0;
}

/* -- the public entry points: the active instantiation's, then the call's
 * team's helper is let go (on every outcome: a helper never waits for a
 * call that has returned). */
#if CRNN_X86
#define CRNN_DISPATCH(T, name, args)                                          \
    switch (crnn_isa_active()) {                                              \
    case CRNN_ISA_AVX512:                                                     \
    case CRNN_ISA_AVX512_VNNI: st = crnn_avx512_##T##_##name args; break;     \
    case CRNN_ISA_AVX2: st = crnn_avx2_##T##_##name args; break;              \
    default: st = crnn_generic_##T##_##name args; break;                      \
    }
#else
#define CRNN_DISPATCH(T, name, args) st = crnn_generic_##T##_##name args;
#endif

#define CRNN_PUBLIC(T, R)                                                     \
    crnn_status crnn_##T##_forward(                                           \
        const crnn_blas *blas, const crnn_layer *layer,                       \
        const crnn_batch *batch, const crnn_##T##_params *w, crnn_##T##_seq x,\
        crnn_##T##_state h0, crnn_##T##_seq out, crnn_##T##_state hn,         \
        R *reserve, R *work) {                                                \
        crnn_status st;                                                       \
        CRNN_DISPATCH(T, forward_call, (blas, layer, batch, w, x, h0, out, hn,\
                                        reserve, work))                       \
        if (blas) crnn_team_end(blas->team);                                  \
        return st;                                                            \
    }                                                                         \
    crnn_status crnn_##T##_backward(                                          \
        const crnn_blas *blas, const crnn_layer *layer,                       \
        const crnn_batch *batch, const crnn_##T##_params *w,                  \
        const crnn_##T##_params *dw, crnn_##T##_seq x, crnn_##T##_seq dout,   \
        crnn_##T##_state dhn, crnn_##T##_seq dx, crnn_##T##_state dh0,        \
        const R *reserve, R *work) {                                          \
        crnn_status st;                                                       \
        CRNN_DISPATCH(T, backward_call, (blas, layer, batch, w, dw, x, dout,  \
                                         dhn, dx, dh0, reserve, work))        \
        if (blas) crnn_team_end(blas->team);                                  \
        return st;                                                            \
    }                                                                         \
    crnn_status crnn_##T##_pack(const crnn_layer *layer,                      \
                                const crnn_##T##_params *w, R *packed) {      \
        crnn_batch one = {1, 1, NULL};                                        \
        crnn_status st;                                                       \
        if (!layer || !w || !packed) return CRNN_ERR_NULL;                    \
        if ((st = crnn_check_layer_batch(layer, &one)) != CRNN_OK) return st; \
        if (!w->w_ih || !w->w_hh || (layer->proj_size && !w->w_hr))          \
            return CRNN_ERR_NULL;                                             \
        if (!crnn_fits_int(crnn_mul(crnn_gates(layer->cell), layer->hidden_size))) \
            return CRNN_ERR_TOO_LARGE;                                        \
        CRNN_DISPATCH(T, pack, (layer, w, packed))                            \
        return st;                                                            \
    }

CRNN_PUBLIC(s, float)
CRNN_PUBLIC(d, double)

crnn_status crnn_q_forward(const crnn_blas *blas, const crnn_layer *layer,
                           const crnn_batch *batch, const crnn_q_params *w,
                           crnn_s_seq x, crnn_s_state h0, crnn_s_seq out,
                           crnn_s_state hn, float *work) {
    crnn_status st;
    CRNN_DISPATCH(s, q_forward_call, (blas, layer, batch, w, x, h0, out, hn, work))
    if (blas) crnn_team_end(blas->team);
    return st;
}

/* Packing is the same for every instruction set: the portable code. */
crnn_status crnn_q_pack(const crnn_layer *ly, crnn_qtype type, const crnn_q_weights *w,
                        void *packed) {
    crnn_status st;
    if (!ly || !w || !packed) return CRNN_ERR_NULL;
    if ((st = crnn_q_check_pack(ly, type, w)) != CRNN_OK) return st;
    crnn_generic_s_q_pack_layer(ly, type, w, (unsigned char *)packed);
    return CRNN_OK;
}
