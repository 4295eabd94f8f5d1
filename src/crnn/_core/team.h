/* team.h — a call's two threads (crnn.h's teams; team.c): the job a
 * product hands over, the team's state, and the one rule that splits a
 * job. */
#ifndef CRNN_CORE_TEAM_H
#define CRNN_CORE_TEAM_H

#include <stddef.h>

#include "atomic.h"
#include "crnn.h"

/* One share of a product: run(job, n0, n1) computes its output columns
 * [n0, n1) of the product that ctx describes. A team's job is the
 * caller's columns [0, split) and the helper's [split, n). */
typedef struct crnn_job {
    void (*run)(const struct crnn_job *job, size_t n0, size_t n1);
    const void *ctx;
    size_t n, split;
} crnn_job;

/* seq: the job the caller posted last; claim: the last job whose helper
 * share someone (the caller or the helper) took; done: the last the helper
 * finished; quit: the call has ended. */
struct crnn_team {
    crnn_atomic seq, claim, done, quit;
    crnn_job job;
};

/* Products of fewer multiply-adds than this are not worth a hand-over. */
enum { CRNN_TEAM_MIN = 32768 };

/* The one split of a job between a team's two threads: n output columns
 * (or rows) in units of `unit` (a panel's width, or 1 row), half the units
 * each, when there is a team and the job has at least CRNN_TEAM_MIN
 * multiply-adds; 0: the caller does it all. Splits fall between outputs,
 * never inside a sum: the same bits on one thread or two. */
static inline size_t crnn_split(const crnn_team *team, size_t madds, size_t n,
                                size_t unit) {
    size_t units = (n + unit - 1) / unit;
    return team && units >= 2 && madds >= CRNN_TEAM_MIN ? units / 2 * unit : 0;
}

/* Run a job, the helper's share on the helper when it takes it in time. */
void crnn_team_run(crnn_team *team, const crnn_job *job);

#endif
