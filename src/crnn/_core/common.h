/* common.h — type-independent internals of the crnn core. */
#ifndef CRNN_CORE_COMMON_H
#define CRNN_CORE_COMMON_H

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "crnn.h"

/* a*b, or SIZE_MAX when it overflows (SIZE_MAX stays SIZE_MAX). */
static inline size_t crnn_mul(size_t a, size_t b) {
    if (a == SIZE_MAX || b == SIZE_MAX) return SIZE_MAX;
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

static inline size_t crnn_add(size_t a, size_t b) {
    if (a == SIZE_MAX || b == SIZE_MAX || b > SIZE_MAX - a) return SIZE_MAX;
    return a + b;
}

static inline int crnn_fits_int(size_t v) { return v <= (size_t)INT_MAX; }

/* Number of gates of a cell kind (rows of w_ih are gates * hidden_size). */
static inline size_t crnn_gates(crnn_cell cell) {
    switch (cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU: return 1;
    case CRNN_LSTM: return 4;
    case CRNN_GRU: return 3;
    }
    return 0;
}

/* Layer and batch valid (sizes, cell kind, batch_sizes)? Internal. */
crnn_status crnn_check_layer_batch(const crnn_layer *ly, const crnn_batch *b);

static inline size_t crnn_batch_at(const crnn_batch *b, size_t t) {
    return b->batch_sizes ? (size_t)b->batch_sizes[t] : b->size;
}

/*
 * A walk over the time steps in processing order (s = 0 .. L-1; t = s
 * forward, t = L-1-s reverse). For the current step it knows the time t,
 * the first row off of step t in the row layout of the batch, the active
 * rows bs, and the active rows of the processing-previous and -next steps
 * (0 before the first and after the last). Rows [prev_bs, bs) enter at this
 * step (they start from h0); rows [next_bs, bs) leave after it (their state
 * is final). Packed batches make these ranges non-empty mid-sequence.
 */
typedef struct crnn_walk {
    const crnn_batch *b;
    int reverse;
    size_t s, t, off, bs, prev_bs, next_bs;
} crnn_walk;

static inline void crnn_walk_fill(crnn_walk *w) {
    const crnn_batch *b = w->b;
    size_t L = b->steps, s = w->s;
    w->t = w->reverse ? L - 1 - s : s;
    w->bs = crnn_batch_at(b, w->t);
    if (s == 0) w->prev_bs = 0;
    else w->prev_bs = crnn_batch_at(b, w->reverse ? w->t + 1 : w->t - 1);
    if (s + 1 >= L) w->next_bs = 0;
    else w->next_bs = crnn_batch_at(b, w->reverse ? w->t - 1 : w->t + 1);
}

/* Start at processing step 0 (first = 1) or L-1 (first = 0). L >= 1. */
static inline void crnn_walk_start(crnn_walk *w, const crnn_batch *b,
                                   int reverse, int first, size_t rows) {
    size_t last_t_rows = crnn_batch_at(b, b->steps - 1);
    w->b = b;
    w->reverse = reverse;
    w->s = first ? 0 : b->steps - 1;
    /* time 0 starts at row 0; time L-1 at rows - batch_at(L-1) */
    w->off = (first != reverse) ? 0 : rows - last_t_rows;
    crnn_walk_fill(w);
}

/* Row offset of time t+1 is off + bs(t); of time t-1 is off - bs(t-1). */
static inline void crnn_walk_next(crnn_walk *w) {
    if (w->reverse) w->off -= crnn_batch_at(w->b, w->t - 1);
    else w->off += w->bs;
    w->s++;
    crnn_walk_fill(w);
}

static inline void crnn_walk_prev(crnn_walk *w) {
    if (w->reverse) w->off += w->bs;
    else w->off -= crnn_batch_at(w->b, w->t - 1);
    w->s--;
    crnn_walk_fill(w);
}

#endif
