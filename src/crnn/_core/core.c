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

/* Buffer sizes, as each kind's header lays them out (elman.h, lstm.h,
 * gru.h): reserve, then workspace per pass, in elements of (R, .) rows,
 * (N, .) rows and (C, .) rows (a chunk of input projections: inf_r and
 * train_c). */
typedef struct sizes {
    size_t res_r, res_n, inf_r, inf_n, train_c, train_n, bwd_r, bwd_n;
} sizes;

static sizes layout(const crnn_layer *ly) {
    size_t H = ly->hidden_size, P = ly->proj_size ? ly->proj_size : H;
    size_t M = ly->proj_size ? H : 0; /* the projection's extra H columns */
    sizes z = {0, 0, 0, 0, 0, 0, 0, 0};
    switch (ly->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU: /* Hprev, Hend | A, hbuf | A | dA, dh */
        z.res_r = H; z.res_n = H; z.inf_r = H; z.inf_n = H; z.train_c = H;
        z.bwd_r = H; z.bwd_n = H;
        break;
    case CRNN_LSTM: /* Hprev, Gt, Cprev, M | A, hbuf, cbuf, cs, ms, hs |
                       cs, ms, hs | dA, dHt, dh, dc, dm */
        z.res_r = P + 5 * H + M; z.inf_r = 4 * H; z.inf_n = 2 * P + 3 * H;
        z.train_n = P + 2 * H; z.bwd_r = 4 * H + (M ? P : 0); z.bwd_n = P + H + M;
        break;
    case CRNN_GRU: /* Hprev, Gt, HN | A, hbuf, hns, ah, hs | ah, hs |
                      dAx, dAh, dh */
        z.res_r = 5 * H; z.inf_r = 3 * H; z.inf_n = 6 * H; z.train_n = 4 * H;
        z.bwd_r = 6 * H; z.bwd_n = H;
        break;
    }
    return z;
}

static size_t rows_and_batch(size_t R, size_t per_r, size_t N, size_t per_n) {
    return crnn_add(crnn_mul(R, per_r), crnn_mul(N, per_n));
}

/* The recurrent products of a call with several steps run over weights
 * repacked into panels (linalg.h), if a panel of k (the summed dimension)
 * x 64 elements stays in L2. */
#define CRNN_PANEL_MAX_K 1024

int crnn_panels_wanted(const crnn_batch *b, size_t k) {
    return b->steps >= 2 && k <= CRNN_PANEL_MAX_K;
}


int crnn_panels_fit(size_t k) { return k <= CRNN_PANEL_MAX_K; }

/* Space for the panels of W_hh (G*H x P) and W_hr (P x H) as the pass
 * packs them (layer.h): for h W^T (forward) or d W (backward); b NULL: the
 * forward panels whenever they fit (crnn_?_pack). */
size_t crnn_panel_space(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass) {
    size_t H = ly->hidden_size, P = ly->proj_size ? ly->proj_size : H;
    size_t dims[2][2] = {{crnn_mul(crnn_gates(ly->cell), H), P}, {P, H}}, s = 0;
    int fwd = pass != CRNN_PASS_BACKWARD;
    for (int i = 0; i < (ly->proj_size ? 2 : 1); i++) {
        size_t n = fwd ? dims[i][0] : dims[i][1], k = fwd ? dims[i][1] : dims[i][0];
        if (b ? crnn_panels_wanted(b, k) : crnn_panels_fit(k))
            s = crnn_add(s, crnn_panel_size(n, k));
    }
    return s;
}

size_t crnn_packed_size(const crnn_layer *ly) {
    crnn_batch one = {1, 1, NULL};
    if (!ly || crnn_check_layer_batch(ly, &one) != CRNN_OK) return SIZE_MAX;
    return crnn_panel_space(ly, NULL, CRNN_PASS_INFERENCE);
}

/* Inference computes the input projections a chunk of steps at a time, at
 * most max(N, CRNN_PROJ_ROWS) rows: enough rows that OpenBLAS's repacking
 * of W_ih for every GEMM costs little (1024: within this machine's noise
 * of one GEMM over all rows; 256 cost 5-8%), few enough that working
 * memory does not grow with the sequence.
 * Training keeps all R in the reserve. */
#define CRNN_PROJ_ROWS 1024

size_t crnn_proj_rows(const crnn_batch *b, int training) {
    size_t R = crnn_rows(b), C = b->size > CRNN_PROJ_ROWS ? b->size : CRNN_PROJ_ROWS;
    return training || R < C ? R : C;
}

/* The workspace of a pass before the panels. */
size_t crnn_workspace_base(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass) {
    sizes z = layout(ly);
    size_t R = crnn_rows(b);
    switch (pass) {
    case CRNN_PASS_INFERENCE:
        return rows_and_batch(crnn_proj_rows(b, 0), z.inf_r, b->size, z.inf_n);
    case CRNN_PASS_TRAINING:
        return crnn_add(crnn_mul(crnn_proj_rows(b, 0), z.train_c), crnn_mul(b->size, z.train_n));
    case CRNN_PASS_BACKWARD: return rows_and_batch(R, z.bwd_r, b->size, z.bwd_n);
    }
    return SIZE_MAX;
}

size_t crnn_workspace_size(const crnn_layer *ly, const crnn_batch *b,
                           crnn_pass pass) {
    if (!ly || !b || crnn_check_layer_batch(ly, b) != CRNN_OK) return SIZE_MAX;
    if (b->steps == 0 || b->size == 0) return 0;
    return crnn_add(crnn_workspace_base(ly, b, pass), crnn_panel_space(ly, b, pass));
}

size_t crnn_reserve_size(const crnn_layer *ly, const crnn_batch *b) {
    if (!ly || !b || crnn_check_layer_batch(ly, b) != CRNN_OK) return SIZE_MAX;
    return rows_and_batch(crnn_rows(b), layout(ly).res_r, b->size, layout(ly).res_n);
}

/* -- teams (crnn.h) --------------------------------------------------------- */
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

#define CRNN_DOUBLE 0
#include "real.h"
#include "linalg.h"
#include "elman.h"
#include "lstm.h"
#include "gru.h"
#include "layer.h"
#undef CRNN_DOUBLE

#define CRNN_DOUBLE 1
#include "real.h"
#include "linalg.h"
#include "elman.h"
#include "lstm.h"
#include "gru.h"
#include "layer.h"
#undef CRNN_DOUBLE
