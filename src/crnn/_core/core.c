/* core.c — the crnn core: the type-independent entry points, then every
 * generic kernel instantiated for float (crnn_s_*) and double (crnn_d_*). */
#include "common.h"

const char *crnn_status_string(crnn_status status) {
    switch (status) {
    case CRNN_OK: return "success";
    case CRNN_ERR_NULL: return "a required pointer is NULL";
    case CRNN_ERR_SIZE: return "invalid size, cell kind or proj_size";
    case CRNN_ERR_STRIDE: return "a row stride is smaller than the row";
    case CRNN_ERR_BATCH_SIZES:
        return "batch_sizes must start at the batch size, be >= 1 and non-increasing";
    case CRNN_ERR_TOO_LARGE: return "a size exceeds the 32-bit BLAS integer range";
    case CRNN_ERR_UNSUPPORTED: return "cell kind not implemented";
    }
    return "unknown status";
}

size_t crnn_rows(const crnn_batch *b) {
    size_t R = 0;
    if (!b) return 0;
    if (!b->batch_sizes) return crnn_mul(b->steps, b->size);
    for (size_t t = 0; t < b->steps; t++) R = crnn_add(R, (size_t)b->batch_sizes[t]);
    return R;
}

crnn_status crnn_check_layer_batch(const crnn_layer *ly, const crnn_batch *b) {
    if (crnn_gates(ly->cell) == 0 || ly->input_size == 0 || ly->hidden_size == 0)
        return CRNN_ERR_SIZE;
    if (ly->proj_size != 0) return CRNN_ERR_SIZE;
    if (b->batch_sizes) {
        for (size_t t = 0; t < b->steps; t++) {
            int64_t v = b->batch_sizes[t];
            if (v < 1 || (t == 0 && (uint64_t)v != (uint64_t)b->size) ||
                (t > 0 && v > b->batch_sizes[t - 1]))
                return CRNN_ERR_BATCH_SIZES;
        }
    }
    if (crnn_rows(b) == SIZE_MAX) return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

size_t crnn_workspace_size(const crnn_layer *ly, const crnn_batch *b,
                           crnn_pass pass) {
    size_t R, N, H;
    if (!ly || !b || crnn_check_layer_batch(ly, b) != CRNN_OK) return SIZE_MAX;
    R = crnn_rows(b); N = b->size; H = ly->hidden_size;
    if (b->steps == 0 || N == 0) return 0;
    switch (ly->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU:
        if (pass == CRNN_PASS_TRAINING) return 0;
        return crnn_mul(crnn_add(R, N), H); /* A or dA (R, H), state (N, H) */
    default:
        return SIZE_MAX;
    }
}

size_t crnn_reserve_size(const crnn_layer *ly, const crnn_batch *b) {
    if (!ly || !b || crnn_check_layer_batch(ly, b) != CRNN_OK) return SIZE_MAX;
    switch (ly->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU: /* Hprev, Y */
        return crnn_mul(crnn_mul(2, crnn_rows(b)), ly->hidden_size);
    default:
        return SIZE_MAX;
    }
}

#define CRNN_DOUBLE 0
#include "real.h"
#include "linalg.h"
#include "elman.h"
#include "layer.h"
#undef CRNN_DOUBLE

#define CRNN_DOUBLE 1
#include "real.h"
#include "linalg.h"
#include "elman.h"
#include "layer.h"
#undef CRNN_DOUBLE
