/* plan.c — layers and batches (crnn.h): a layer's gates and output width,
 * the checks every call starts with, the rows of a batch, and the buffer
 * plan of a call — where each buffer of a cell kind lies in the reserve
 * and the workspace — from which the size queries answer. */
#include <string.h>

#include "blocking.h"
#include "crnn.h"
#include "plan.h"
#include "size_arith.h"

size_t crnn_cell_gates(crnn_cell cell) { return crnn_gates(cell); }

size_t crnn_output_size(const crnn_layer *layer) { return layer ? crnn_out_size(layer) : 0; }

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
    if (ly->proj_size != 0 &&
        (ly->cell != CRNN_LSTM || ly->proj_size >= ly->hidden_size))
        return CRNN_ERR_SIZE;
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

/* Forward packs its weights into panels when the call has more rows than
 * this; fewer read them as they are (gemm.inc, FN(tmm): the same results). */
int crnn_pack_wanted(const crnn_batch *b) { return crnn_rows(b) > 8; }

/* Inference computes the input projections a chunk of steps at a time, at
 * most max(N, CRNN_PROJ_ROWS) rows: enough rows that the projections run
 * as one product of many row blocks, few enough that working memory does
 * not grow with the sequence.
 * Training keeps all R in the reserve. */
#define CRNN_PROJ_ROWS 1024

size_t crnn_proj_rows(const crnn_batch *b, int training) {
    size_t R = crnn_rows(b), C = b->size > CRNN_PROJ_ROWS ? b->size : CRNN_PROJ_ROWS;
    return training || R < C ? R : C;
}

/* The buffers of each kind (plan.h's enums; the kernels say what each
 * holds): R rows, N sequences, C rows of input projections. */
static void crnn_elman_plan(const crnn_layer *ly, const crnn_batch *b,
                            crnn_pass pass, crnn_plan *p) {
    size_t H = ly->hidden_size, R = crnn_rows(b), N = b->size;
    p->res[ELMAN_HPREV] = crnn_next(&p->reserve, crnn_mul(R, H));
    p->res[ELMAN_HEND] = crnn_next(&p->reserve, crnn_mul(N, H));
    if (pass == CRNN_PASS_BACKWARD) {
        p->wk[ELMAN_DA] = crnn_next(&p->work, crnn_mul(R, H));
        p->wk[ELMAN_DH] = crnn_next(&p->work, crnn_mul(N, H));
        return;
    }
    p->wk[ELMAN_A] = crnn_next(&p->work, crnn_mul(crnn_proj_rows(b, 0), H));
    if (pass == CRNN_PASS_INFERENCE) p->wk[ELMAN_HBUF] = crnn_next(&p->work, crnn_mul(N, H));
}

static void crnn_lstm_plan(const crnn_layer *ly, const crnn_batch *b,
                           crnn_pass pass, crnn_plan *p) {
    size_t H = ly->hidden_size, P = crnn_out_size(ly);
    size_t R = crnn_rows(b), N = b->size, G = 4 * H;
    p->res[LSTM_HPREV] = crnn_next(&p->reserve, crnn_mul(R, P));
    p->res[LSTM_GT] = crnn_next(&p->reserve, crnn_mul(R, G));
    p->res[LSTM_CPREV] = crnn_next(&p->reserve, crnn_mul(R, H));
    if (ly->proj_size) p->res[LSTM_M] = crnn_next(&p->reserve, crnn_mul(R, H));
    if (pass == CRNN_PASS_BACKWARD) {
        p->wk[LSTM_DA] = crnn_next(&p->work, crnn_mul(R, G));
        p->wk[LSTM_DH] = crnn_next(&p->work, crnn_mul(N, P));
        p->wk[LSTM_DC] = crnn_next(&p->work, crnn_mul(N, H));
        if (ly->proj_size) {
            p->wk[LSTM_DHT] = crnn_next(&p->work, crnn_mul(R, P));
            p->wk[LSTM_DM] = crnn_next(&p->work, crnn_mul(N, H));
        }
        return;
    }
    if (pass == CRNN_PASS_INFERENCE) {
        p->wk[LSTM_A] = crnn_next(&p->work, crnn_mul(crnn_proj_rows(b, 0), G));
        p->wk[LSTM_HBUF] = crnn_next(&p->work, crnn_mul(N, P));
        p->wk[LSTM_CBUF] = crnn_next(&p->work, crnn_mul(N, H));
    }
    p->wk[LSTM_CS] = crnn_next(&p->work, crnn_mul(N, H));
    p->wk[LSTM_MS] = crnn_next(&p->work, crnn_mul(N, H));
    p->wk[LSTM_HS] = crnn_next(&p->work, crnn_mul(N, P));
}

static void crnn_gru_plan(const crnn_layer *ly, const crnn_batch *b,
                          crnn_pass pass, crnn_plan *p) {
    size_t H = ly->hidden_size, R = crnn_rows(b), N = b->size, G = 3 * H;
    p->res[GRU_HPREV] = crnn_next(&p->reserve, crnn_mul(R, H));
    p->res[GRU_GT] = crnn_next(&p->reserve, crnn_mul(R, G));
    p->res[GRU_HN] = crnn_next(&p->reserve, crnn_mul(R, H));
    if (pass == CRNN_PASS_BACKWARD) {
        p->wk[GRU_DAX] = crnn_next(&p->work, crnn_mul(R, G));
        p->wk[GRU_DAH] = crnn_next(&p->work, crnn_mul(R, G));
        p->wk[GRU_DH] = crnn_next(&p->work, crnn_mul(N, H));
        return;
    }
    if (pass == CRNN_PASS_INFERENCE) {
        p->wk[GRU_A] = crnn_next(&p->work, crnn_mul(crnn_proj_rows(b, 0), G));
        p->wk[GRU_HBUF] = crnn_next(&p->work, crnn_mul(N, H));
        p->wk[GRU_HNS] = crnn_next(&p->work, crnn_mul(N, H));
    }
    p->wk[GRU_AH] = crnn_next(&p->work, crnn_mul(N, G));
    p->wk[GRU_HS] = crnn_next(&p->work, crnn_mul(N, H));
}

/* The panels a call's weights take: forward's of W_hh (G*H x P), W_hr
 * (P x H) and W_ih (G*H x I) for x W^T, when a forward of this batch packs
 * them (layer.inc; b NULL: all of them, crnn_?_pack's output); backward's
 * of the same weights as they are (for d W). */
static size_t crnn_panel_space(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass) {
    size_t H = ly->hidden_size, P = crnn_out_size(ly);
    size_t GH = crnn_mul(crnn_gates(ly->cell), H), s;
    if (pass == CRNN_PASS_BACKWARD) { /* W_hh, W_hr, W_ih as they are (d W) */
        s = crnn_add(crnn_panel_size(P, GH), crnn_panel_size(ly->input_size, GH));
        return ly->proj_size ? crnn_add(s, crnn_panel_size(H, P)) : s;
    }
    if (b && !crnn_pack_wanted(b)) return 0;
    s = crnn_add(crnn_panel_size(GH, P), crnn_panel_size(GH, ly->input_size));
    return ly->proj_size ? crnn_add(s, crnn_panel_size(P, H)) : s;
}

void crnn_plan_of(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass,
                  crnn_plan *p) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < CRNN_RES_COUNT; i++) p->res[i] = CRNN_NOWHERE;
    for (int i = 0; i < CRNN_WK_COUNT; i++) p->wk[i] = CRNN_NOWHERE;
    switch (ly->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU: crnn_elman_plan(ly, b, pass, p); break;
    case CRNN_LSTM: crnn_lstm_plan(ly, b, pass, p); break;
    case CRNN_GRU: crnn_gru_plan(ly, b, pass, p); break;
    }
    p->panels = crnn_next(&p->work, crnn_panel_space(ly, b, pass));
    p->scratch = crnn_next(&p->work, pass == CRNN_PASS_BACKWARD ? CRNN_BWD_SCRATCH : 0);
}

/* crnn_sizes has one workspace per pass: the loop below fills them all */
#define CRNN_PASSES (CRNN_PASS_BACKWARD + 1)
typedef char crnn_one_workspace_per_pass
    [sizeof(((crnn_sizes *)0)->workspace) == CRNN_PASSES * sizeof(size_t) ? 1 : -1];

crnn_status crnn_buffer_sizes(const crnn_layer *ly, const crnn_batch *b,
                              crnn_sizes *z) {
    int none = b && (b->steps == 0 || b->size == 0); /* nothing to compute */
    crnn_status st;
    crnn_plan p;
    if (!ly || !b || !z) return CRNN_ERR_NULL;
    if ((st = crnn_check_layer_batch(ly, b)) != CRNN_OK) return st;
    for (int pass = CRNN_PASS_INFERENCE; pass < CRNN_PASSES; pass++) {
        crnn_plan_of(ly, b, (crnn_pass)pass, &p);
        z->workspace[pass] = none ? 0 : p.work;
        if (pass == CRNN_PASS_INFERENCE) z->panels = none ? 0 : p.work - p.panels;
    }
    z->reserve = p.reserve;
    z->packed = crnn_add(CRNN_PACK_HEADER, crnn_panel_space(ly, NULL, CRNN_PASS_INFERENCE));
    if (z->reserve == SIZE_MAX || z->packed == SIZE_MAX)
        return CRNN_ERR_TOO_LARGE;
    for (int pass = CRNN_PASS_INFERENCE; pass < CRNN_PASSES; pass++)
        if (z->workspace[pass] == SIZE_MAX) return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

/* The single-number queries of crnn.h: SIZE_MAX where crnn_buffer_sizes
 * says no. */
size_t crnn_workspace_size(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass) {
    crnn_sizes z;
    if ((unsigned)pass >= CRNN_PASSES || crnn_buffer_sizes(ly, b, &z) != CRNN_OK)
        return SIZE_MAX;
    return z.workspace[pass];
}

size_t crnn_reserve_size(const crnn_layer *ly, const crnn_batch *b) {
    crnn_sizes z;
    return crnn_buffer_sizes(ly, b, &z) == CRNN_OK ? z.reserve : SIZE_MAX;
}

size_t crnn_packed_size(const crnn_layer *ly) {
    crnn_batch one = {1, 1, NULL};
    crnn_sizes z;
    return crnn_buffer_sizes(ly, &one, &z) == CRNN_OK ? z.packed : SIZE_MAX;
}
