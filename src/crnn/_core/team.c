/* team.c — teams (crnn.h): a call's products split with a helper thread
 * that spins on the team's sequence number (team.h has the protocol). */
#include <string.h>

#include "crnn.h"
#include "team.h"

size_t crnn_team_size(void) { return sizeof(crnn_team); }

crnn_team *crnn_team_init(void *memory) {
    crnn_team *t = (crnn_team *)memory;
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    return t;
}

void crnn_team_run(crnn_team *t, const crnn_job *job) {
    long s;
    if (!t || job->split == 0 || job->split >= job->n) {
        job->run(job, 0, job->n);
        return;
    }
    s = CRNN_LOAD(&t->seq) + 1;
    t->job = *job;              /* no helper reads it before seq = s */
    CRNN_STORE(&t->seq, s);
    job->run(job, 0, job->split);
    if (CRNN_CAS(&t->claim, s - 1, s)) { /* no helper yet: do its share */
        job->run(job, job->split, job->n);
        return;
    }
    while (CRNN_LOAD(&t->done) != s) CRNN_PAUSE();
}

void crnn_team_end(crnn_team *t) {
    if (t) CRNN_STORE(&t->quit, 1);
}

void crnn_team_help(crnn_team *t) {
    long seen = 0;
    unsigned long spins = 0;
    if (!t) return;
    while (!CRNN_LOAD(&t->quit)) {
        long s = CRNN_LOAD(&t->seq);
        if (s != seen) {
            seen = s;
            if (CRNN_CAS(&t->claim, s - 1, s)) { /* the job is ours to finish */
                crnn_job job = t->job;
                job.run(&job, job.split, job.n);
                CRNN_STORE(&t->done, s);
            }
            spins = 0;
        } else if (++spins % 4096 == 0) {
            CRNN_YIELD(); /* the caller is busy elsewhere (or descheduled) */
        } else {
            CRNN_PAUSE();
        }
    }
}
