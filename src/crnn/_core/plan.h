/* plan.h — a call's buffers (plan.c): the layer and batch checks every
 * call starts with, and where each of a cell kind's buffers lies in the
 * reserve and the workspace, one enum per kind and buffer set, each with
 * its count, so that the plan's arrays grow with them. */
#ifndef CRNN_CORE_PLAN_H
#define CRNN_CORE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "crnn.h"
#include "size_arith.h"

/* crnn.h's crnn_cell_gates and crnn_output_size, inline for the kernels:
 * G, the gates of a cell kind (0 for none), and P, the layer's output
 * width (proj_size, or hidden_size without projection). */
static inline size_t crnn_gates(crnn_cell cell) {
    switch (cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU: return 1;
    case CRNN_LSTM: return 4;
    case CRNN_GRU: return 3;
    }
    return 0;
}

static inline size_t crnn_out_size(const crnn_layer *ly) {
    return ly->proj_size ? ly->proj_size : ly->hidden_size;
}

/* Layer and batch valid (sizes, cell kind, batch_sizes)? */
crnn_status crnn_check_layer_batch(const crnn_layer *ly, const crnn_batch *b);

/* crnn_proj_rows: the rows of input projections a forward pass holds at
 * once (linalg.inc, FN(proj)); crnn_pack_wanted: whether a forward of
 * this batch packs its weights (else it reads them in place). */
size_t crnn_proj_rows(const crnn_batch *b, int training);
int crnn_pack_wanted(const crnn_batch *b);

/* Each kind's buffers, each set closed by its count. Reserve (training
 * forward fills, backward reads): rows R = every (t, n) of the batch,
 * N = the batch, C = crnn_proj_rows, P = crnn_output_size. */
enum { ELMAN_HPREV, ELMAN_HEND, ELMAN_RES_COUNT };  /* (R, H), (N, H) */
enum { ELMAN_A, ELMAN_HBUF, ELMAN_FWD_COUNT };      /* forward: (C, H), (N, H) inference */
enum { ELMAN_DA, ELMAN_DH, ELMAN_BWD_COUNT };       /* backward: (R, H), (N, H) */
/* (R, P), (R, 4H), (R, H), (R, H) proj */
enum { LSTM_HPREV, LSTM_GT, LSTM_CPREV, LSTM_M, LSTM_RES_COUNT };
/* forward: inference (C, 4H), (N, P), (N, H); both (N, H), (N, H), (N, P) */
enum { LSTM_A, LSTM_HBUF, LSTM_CBUF, LSTM_CS, LSTM_MS, LSTM_HS, LSTM_FWD_COUNT };
/* backward: (R, 4H), (N, P), (N, H), proj: (R, P), (N, H) */
enum { LSTM_DA, LSTM_DH, LSTM_DC, LSTM_DHT, LSTM_DM, LSTM_BWD_COUNT };
enum { GRU_HPREV, GRU_GT, GRU_HN, GRU_RES_COUNT };  /* (R, H), (R, 3H), (R, H) */
/* forward: inference (C, 3H), (N, H), (N, H); both (N, 3H), (N, H) */
enum { GRU_A, GRU_HBUF, GRU_HNS, GRU_AH, GRU_HS, GRU_FWD_COUNT };
enum { GRU_DAX, GRU_DAH, GRU_DH, GRU_BWD_COUNT };   /* backward: (R, 3H), (R, 3H), (N, H) */

#define CRNN_MAX(a, b) ((int)(a) > (int)(b) ? (int)(a) : (int)(b))
#define CRNN_MAX3(a, b, c) CRNN_MAX(CRNN_MAX(a, b), c)
/* The most buffers of any kind in the reserve, and in a pass's workspace
 * (forward's or backward's set): the plan's arrays' lengths. */
enum {
    CRNN_RES_COUNT = CRNN_MAX3(ELMAN_RES_COUNT, LSTM_RES_COUNT, GRU_RES_COUNT),
    CRNN_WK_COUNT = CRNN_MAX(CRNN_MAX3(ELMAN_FWD_COUNT, LSTM_FWD_COUNT, GRU_FWD_COUNT),
                             CRNN_MAX3(ELMAN_BWD_COUNT, LSTM_BWD_COUNT, GRU_BWD_COUNT))
};

/* Where one call's buffers lie, in elements from the start of the reserve
 * (res) or of the pass's workspace (wk), indexed by the cell kind's enums
 * above; CRNN_NOWHERE for one the call does not have. crnn_plan_of
 * (plan.c) lays them out, with one function per kind; the size queries
 * and the kernels both read it. The workspace ends with the weights'
 * panels (a forward that packs, or backward) and backward's copy space. */
#define CRNN_NOWHERE SIZE_MAX
typedef struct crnn_plan {
    size_t reserve;   /* elements of the reserve */
    size_t panels;    /* where the panels start in the workspace */
    size_t scratch;   /* backward: where its copy space starts */
    size_t work;      /* elements of the workspace */
    size_t res[CRNN_RES_COUNT], wk[CRNN_WK_COUNT];
} crnn_plan;
void crnn_plan_of(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass,
                  crnn_plan *p);
/* The next buffer of n elements after *end (a plan's reserve or work):
 * its offset, with *end moved past it. */
static inline size_t crnn_next(size_t *end, size_t n) {
    size_t at = *end;
    *end = crnn_add(*end, n);
    return at;
}
/* base + off, or NULL where there is no such buffer (or no base) */
#define CRNN_AT(base, off) ((base) && (off) != CRNN_NOWHERE ? (base) + (off) : NULL)

#endif
