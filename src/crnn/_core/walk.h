/* walk.h — the time steps of a (padded or packed) batch in processing
 * order, and which rows are active, enter and leave at each: the loop of
 * every cell kind's forward and backward. */
#ifndef CRNN_CORE_WALK_H
#define CRNN_CORE_WALK_H

#include <stddef.h>

#include "crnn.h"

static inline size_t crnn_batch_at(const crnn_batch *b, size_t t) {
    return b->batch_sizes ? (size_t)b->batch_sizes[t] : b->size;
}

/*
 * A walk over the time steps in processing order (s = 0 .. L-1; t = s
 * forward, t = L-1-s reverse), for forward loops (crnn_walk_first, then
 * crnn_walk_next) and backward loops (crnn_walk_last, then crnn_walk_prev).
 * For the current step it knows the time t, the first row `off` of step t
 * in the batch's row layout (row (t, n) is row off_t + n), the active rows
 * bs, the first row of the processing-next step, and the active rows of the
 * processing-previous and -next steps (0 before the first and after the
 * last). Rows [prev_bs, bs) enter at this step (they start from the initial
 * state); rows [next_bs, bs) leave after it (their state is final). Packed
 * batches make these ranges non-empty in mid-sequence.
 */
typedef struct crnn_walk {
    const crnn_batch *b;
    int reverse, done;
    size_t s, t, off, next_off, bs, prev_bs, next_bs;
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
    /* time t+1 starts at off + bs(t); time t-1 at off - bs(t-1) */
    w->next_off = w->reverse ? w->off - w->next_bs : w->off + w->bs;
}

static inline void crnn_walk_at(crnn_walk *w, const crnn_batch *b,
                                int reverse, int first) {
    w->b = b;
    w->reverse = reverse != 0;
    w->done = b->steps == 0;
    if (w->done) return;
    w->s = first ? 0 : b->steps - 1;
    /* time 0 starts at row 0, time L-1 at rows - bs(L-1) */
    w->off = (first != w->reverse) ? 0 : crnn_rows(b) - crnn_batch_at(b, b->steps - 1);
    crnn_walk_fill(w);
}

static inline void crnn_walk_first(crnn_walk *w, const crnn_batch *b, int reverse) {
    crnn_walk_at(w, b, reverse, 1);
}

static inline void crnn_walk_last(crnn_walk *w, const crnn_batch *b, int reverse) {
    crnn_walk_at(w, b, reverse, 0);
}

static inline void crnn_walk_next(crnn_walk *w) {
    if (w->s + 1 >= w->b->steps) { w->done = 1; return; }
    w->off = w->next_off;
    w->s++;
    crnn_walk_fill(w);
}

static inline void crnn_walk_prev(crnn_walk *w) {
    if (w->s == 0) { w->done = 1; return; }
    if (w->reverse) w->off += w->bs;
    else w->off -= crnn_batch_at(w->b, w->t - 1);
    w->s--;
    crnn_walk_fill(w);
}

#endif
