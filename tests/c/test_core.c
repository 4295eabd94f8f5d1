/* test_core.c — the crnn core from C alone: every cell kind, padded and
 * packed, both directions, float and double, against a plain reference
 * written here from the equations; backward against central differences;
 * teams (a helper thread) giving identical results; and the status codes of
 * bad arguments. Everything runs twice: with a BLAS injected (a naive
 * column-major gemm defined below, which counts its calls, so the test
 * needs no library but libm and pthreads) and with none (NULL pointers:
 * the core's own kernels for every product, as a C user without a BLAS
 * and crnn's deterministic mode run it).
 *
 *   make check      (prints "N passed, N failed"; exit status 1 on failure)
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crnn.h"

#include "check.h"

/* Reference Fortran gemm: C = alpha op(A) op(B) + beta C, column-major. */
#define NAIVE_GEMM(name, T)                                                   \
    static void name(char *ta, char *tb, int *m, int *n, int *k, T *alpha,    \
                     T *a, int *lda, T *b, int *ldb, T *beta, T *c, int *ldc) {\
        for (int j = 0; j < *n; j++)                                          \
            for (int i = 0; i < *m; i++) {                                    \
                T s = 0;                                                      \
                for (int l = 0; l < *k; l++) {                                \
                    T av = *ta == 'N' ? a[i + l * *lda] : a[l + i * *lda];    \
                    T bv = *tb == 'N' ? b[l + j * *ldb] : b[j + l * *ldb];    \
                    s += av * bv;                                             \
                }                                                             \
                c[i + j * *ldc] = *alpha * s +                                \
                                  (*beta == 0 ? 0 : *beta * c[i + j * *ldc]); \
            }                                                                 \
    }
NAIVE_GEMM(naive_sgemm, float)
NAIVE_GEMM(naive_dgemm, double)

/* The gemm calls made since the counter was last reset (a team's two
 * threads both call: counted under a lock). */
static long gemm_calls;
static pthread_mutex_t gemm_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_call(void) {
    pthread_mutex_lock(&gemm_lock);
    gemm_calls++;
    pthread_mutex_unlock(&gemm_lock);
}

static void counting_sgemm(char *ta, char *tb, int *m, int *n, int *k, float *alpha,
                           float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                           int *ldc) {
    count_call();
    naive_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void counting_dgemm(char *ta, char *tb, int *m, int *n, int *k, double *alpha,
                           double *a, int *lda, double *b, int *ldb, double *beta, double *c,
                           int *ldc) {
    count_call();
    naive_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* What the calls below compute with: main sets the BLAS members or leaves
 * them NULL (no BLAS). */
static crnn_blas BLAS = {counting_sgemm, counting_dgemm, NULL};

/* Teams: run_d's calls get a team when team_mode is 1 (with a helper
 * thread) or 2 (no helper ever comes: the caller must do it all). */
static int team_mode;

typedef struct call_ctx { crnn_blas blas; void *mem; pthread_t helper; } call_ctx;

static void *help_main(void *team) {
    crnn_team_help((crnn_team *)team);
    return NULL;
}

static const crnn_blas *call_begin(call_ctx *x) {
    x->blas = BLAS;
    x->mem = NULL;
    if (!team_mode) return &x->blas;
    x->mem = malloc(crnn_team_size());
    x->blas.team = crnn_team_init(x->mem);
    if (team_mode == 1) pthread_create(&x->helper, NULL, help_main, x->blas.team);
    return &x->blas;
}

static void call_end(call_ctx *x) {
    if (team_mode == 1) pthread_join(x->helper, NULL);
    free(x->mem);
}

static double urand(void) { return 2.0 * rand() / RAND_MAX - 1.0; }
static double sig(double a) { return 1 / (1 + exp(-a)); }

/* One configuration: cell, sizes, direction, optional packing. */
typedef struct cfg {
    crnn_cell cell;
    size_t I, H, P, L, N;
    int reverse;
    const int64_t *bs; /* NULL: padded */
} cfg;

static size_t gates(crnn_cell c) { return c == CRNN_LSTM ? 4 : c == CRNN_GRU ? 3 : 1; }

static size_t rows_of(const cfg *c) {
    size_t R = 0;
    if (!c->bs) return c->L * c->N;
    for (size_t t = 0; t < c->L; t++) R += (size_t)c->bs[t];
    return R;
}

static size_t active(const cfg *c, size_t t) { return c->bs ? (size_t)c->bs[t] : c->N; }

/* Row of step t, sequence n in the (R, F) layout; -1 when inactive. */
static long row_of(const cfg *c, size_t t, size_t n) {
    size_t off = 0;
    if (n >= active(c, t)) return -1;
    for (size_t s = 0; s < t; s++) off += active(c, s);
    return (long)(off + n);
}

/* Parameters in one double array: w_ih, w_hh, b_ih, b_hh, w_hr. */
typedef struct par { double *w_ih, *w_hh, *b_ih, *b_hh, *w_hr; } par;

static size_t par_size(const cfg *c) {
    size_t G = gates(c->cell) * c->H, P = c->P ? c->P : c->H;
    return G * c->I + G * P + 2 * G + (c->P ? c->P * c->H : 0);
}

static par par_views(const cfg *c, double *all) {
    size_t G = gates(c->cell) * c->H, P = c->P ? c->P : c->H;
    par p;
    p.w_ih = all; p.w_hh = p.w_ih + G * c->I; p.b_ih = p.w_hh + G * P;
    p.b_hh = p.b_ih + G; p.w_hr = c->P ? p.b_hh + G : NULL;
    return p;
}

/* Reference forward in double from the equations: x (R, I), h0 (N, P),
 * c0 (N, H) -> out (R, P), hn (N, P), cn (N, H). */
static void reference(const cfg *c, par p, const double *x, const double *h0,
                      const double *c0, double *out, double *hn, double *cn) {
    size_t H = c->H, P = c->P ? c->P : H, G = gates(c->cell) * H;
    double *a = malloc(G * sizeof *a), *m = malloc(H * sizeof *m);
    for (size_t n = 0; n < c->N; n++) {
        double h[64], cc[64];
        int started = 0;
        for (size_t j = 0; j < P; j++) h[j] = h0[n * P + j];
        for (size_t j = 0; j < H; j++) cc[j] = c0 ? c0[n * H + j] : 0;
        for (size_t s = 0; s < c->L; s++) {
            size_t t = c->reverse ? c->L - 1 - s : s;
            long r = row_of(c, t, n);
            if (r < 0) continue;
            started = 1;
            for (size_t g = 0; g < G; g++) {
                double v = p.b_ih[g] + p.b_hh[g];
                for (size_t i = 0; i < c->I; i++) v += p.w_ih[g * c->I + i] * x[r * c->I + i];
                if (c->cell != CRNN_GRU)
                    for (size_t i = 0; i < P; i++) v += p.w_hh[g * P + i] * h[i];
                a[g] = v;
            }
            if (c->cell == CRNN_RNN_TANH || c->cell == CRNN_RNN_RELU) {
                for (size_t j = 0; j < H; j++)
                    h[j] = c->cell == CRNN_RNN_TANH ? tanh(a[j]) : (a[j] > 0 ? a[j] : 0);
            } else if (c->cell == CRNN_LSTM) {
                for (size_t j = 0; j < H; j++) {
                    cc[j] = sig(a[H + j]) * cc[j] + sig(a[j]) * tanh(a[2 * H + j]);
                    m[j] = sig(a[3 * H + j]) * tanh(cc[j]);
                }
                for (size_t q = 0; q < P; q++) {
                    double v = 0;
                    if (!c->P) v = m[q];
                    else for (size_t j = 0; j < H; j++) v += p.w_hr[q * H + j] * m[j];
                    h[q] = v;
                }
            } else { /* GRU: a holds W_ih x + b_ih + b_hh; redo with ah */
                double ah[3 * 64], hn_[64];
                for (size_t g = 0; g < G; g++) {
                    double v = p.b_hh[g];
                    for (size_t i = 0; i < H; i++) v += p.w_hh[g * H + i] * h[i];
                    ah[g] = v;
                    a[g] -= p.b_hh[g];
                }
                for (size_t j = 0; j < H; j++) {
                    double rg = sig(a[j] + ah[j]), z = sig(a[H + j] + ah[H + j]);
                    double nn = tanh(a[2 * H + j] + rg * ah[2 * H + j]);
                    hn_[j] = (1 - z) * nn + z * h[j];
                }
                memcpy(h, hn_, H * sizeof *h);
            }
            for (size_t j = 0; j < P; j++) out[r * P + j] = h[j];
        }
        (void)started;
        for (size_t j = 0; j < P; j++) hn[n * P + j] = h[j];
        if (cn) for (size_t j = 0; j < H; j++) cn[n * H + j] = cc[j];
    }
    free(a);
    free(m);
}

/* crnn's forward (and optionally backward) in double through the public
 * API, packed or padded by the cfg, x and out in the (R, F) layout. */
static crnn_status run_d(const cfg *c, double *pall, const double *x, const double *h0,
                         const double *c0, double *out, double *hn, double *cn,
                         const double *gout, double *gall, double *gx) {
    crnn_layer ly = {c->cell, c->I, c->H, c->P, c->reverse};
    crnn_batch b = {c->L, c->N, c->bs};
    size_t P = c->P ? c->P : c->H, R = rows_of(c);
    int train = gout != NULL;
    size_t nres = crnn_reserve_size(&ly, &b);
    size_t nwork = crnn_workspace_size(&ly, &b, train ? CRNN_PASS_TRAINING : CRNN_PASS_INFERENCE);
    size_t nbw = crnn_workspace_size(&ly, &b, CRNN_PASS_BACKWARD);
    double *res = train ? malloc((nres + 1) * sizeof *res) : NULL;
    double *work = malloc((nwork + 1) * sizeof *work), *bwork = malloc((nbw + 1) * sizeof *bwork);
    par p = par_views(c, pall);
    crnn_d_params w = {p.w_ih, p.w_hh, p.b_ih, p.b_hh, p.w_hr, NULL};
    /* padded cfg: (R, F) rows are t*N + n, i.e. strides (N*F, F) */
    crnn_d_seq xs = {(double *)x, (ptrdiff_t)(c->N * c->I), (ptrdiff_t)c->I};
    crnn_d_seq os = {out, (ptrdiff_t)(c->N * P), (ptrdiff_t)P};
    crnn_d_state s0 = {(double *)h0, P, (double *)c0, c->H};
    crnn_d_state sn = {hn, P, cn, c->H};
    call_ctx cx;
    crnn_status st = crnn_d_forward(call_begin(&cx), &ly, &b, &w, xs, s0, os, sn, res, work);
    call_end(&cx);
    if (st == CRNN_OK && train) {
        par g = par_views(c, gall);
        crnn_d_params dw = {g.w_ih, g.w_hh, g.b_ih, g.b_hh, g.w_hr, NULL};
        crnn_d_seq dout = {(double *)gout, (ptrdiff_t)(c->N * P), (ptrdiff_t)P};
        crnn_d_seq dx = {gx, (ptrdiff_t)(c->N * c->I), (ptrdiff_t)c->I};
        crnn_d_state none = {NULL, 0, NULL, 0};
        st = crnn_d_backward(call_begin(&cx), &ly, &b, &w, &dw, xs, dout, none, dx, none,
                             res, bwork);
        call_end(&cx);
    }
    (void)R;
    free(res); free(work); free(bwork);
    return st;
}

static double max_diff(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
    return m;
}

static void test_forward_and_backward(const cfg *c, const char *what) {
    size_t H = c->H, P = c->P ? c->P : H, R = rows_of(c), np = par_size(c);
    double *pall = malloc(np * sizeof *pall), *gall = calloc(np, sizeof *gall);
    double *x = malloc(R * c->I * sizeof *x), *gx = calloc(R * c->I, sizeof *gx);
    double *h0 = malloc(c->N * P * sizeof *h0), *c0 = malloc(c->N * H * sizeof *c0);
    double *out = malloc(R * P * sizeof *out), *ref = malloc(R * P * sizeof *ref);
    double *hn = malloc(c->N * P * sizeof *hn), *hnr = malloc(c->N * P * sizeof *hnr);
    double *cn = malloc(c->N * H * sizeof *cn), *cnr = malloc(c->N * H * sizeof *cnr);
    double *gout = malloc(R * P * sizeof *gout);
    int lstm = c->cell == CRNN_LSTM;
    for (size_t i = 0; i < np; i++) pall[i] = 0.5 * urand();
    for (size_t i = 0; i < R * c->I; i++) x[i] = urand();
    for (size_t i = 0; i < c->N * P; i++) h0[i] = 0.5 * urand();
    for (size_t i = 0; i < c->N * H; i++) c0[i] = 0.5 * urand();
    for (size_t i = 0; i < R * P; i++) gout[i] = urand();

    reference(c, par_views(c, pall), x, h0, lstm ? c0 : NULL, ref, hnr, lstm ? cnr : NULL);
    CHECK(run_d(c, pall, x, h0, lstm ? c0 : NULL, out, hn, lstm ? cn : NULL,
                NULL, NULL, NULL) == CRNN_OK, "%s: forward status", what);
    CHECK(max_diff(out, ref, R * P) < 1e-12, "%s: output differs by %g", what,
          max_diff(out, ref, R * P));
    CHECK(max_diff(hn, hnr, c->N * P) < 1e-12, "%s: h_n differs", what);
    if (lstm) CHECK(max_diff(cn, cnr, c->N * H) < 1e-12, "%s: c_n differs", what);

    /* backward: d/dtheta sum(out * gout) against central differences */
    CHECK(run_d(c, pall, x, h0, lstm ? c0 : NULL, out, hn, lstm ? cn : NULL,
                gout, gall, gx) == CRNN_OK, "%s: backward status", what);
    {
        double worst = 0;
        for (int probe = 0; probe < 12; probe++) {
            size_t i = (size_t)rand() % np;
            double keep = pall[i], up = 0, down = 0, eps = 1e-6;
            pall[i] = keep + eps;
            reference(c, par_views(c, pall), x, h0, lstm ? c0 : NULL, ref, hnr, lstm ? cnr : NULL);
            for (size_t j = 0; j < R * P; j++) up += ref[j] * gout[j];
            pall[i] = keep - eps;
            reference(c, par_views(c, pall), x, h0, lstm ? c0 : NULL, ref, hnr, lstm ? cnr : NULL);
            for (size_t j = 0; j < R * P; j++) down += ref[j] * gout[j];
            pall[i] = keep;
            if (fabs((up - down) / (2 * eps) - gall[i]) > worst)
                worst = fabs((up - down) / (2 * eps) - gall[i]);
        }
        CHECK(worst < 1e-6, "%s: parameter gradient off by %g", what, worst);
    }
    free(pall); free(gall); free(x); free(gx); free(h0); free(c0); free(out);
    free(ref); free(hn); free(hnr); free(cn); free(cnr); free(gout);
}

/* float through the same API agrees with double to float precision. */
static void test_float_matches_double(const cfg *c, const char *what) {
    crnn_layer ly = {c->cell, c->I, c->H, c->P, c->reverse};
    crnn_batch b = {c->L, c->N, c->bs};
    size_t P = c->P ? c->P : c->H, R = rows_of(c), np = par_size(c);
    double *pd = malloc(np * sizeof *pd), *xd = malloc(R * c->I * sizeof *xd);
    double *od = malloc(R * P * sizeof *od), *hd = malloc(c->N * P * sizeof *hd);
    float *pf = malloc(np * sizeof *pf), *xf = malloc(R * c->I * sizeof *xf);
    float *of = malloc(R * P * sizeof *of);
    size_t nw = crnn_workspace_size(&ly, &b, CRNN_PASS_INFERENCE);
    float *work = malloc((nw + 1) * sizeof *work);
    double worst = 0;
    for (size_t i = 0; i < np; i++) pf[i] = (float)(pd[i] = 0.5 * urand());
    for (size_t i = 0; i < R * c->I; i++) xf[i] = (float)(xd[i] = urand());
    run_d(c, pd, xd, NULL, NULL, od, hd, NULL, NULL, NULL, NULL);
    {
        par p = par_views(c, pd);
        size_t o_ih = (size_t)(p.w_ih - pd), o_hh = (size_t)(p.w_hh - pd),
               o_bi = (size_t)(p.b_ih - pd), o_bh = (size_t)(p.b_hh - pd);
        crnn_s_params w = {pf + o_ih, pf + o_hh, pf + o_bi, pf + o_bh,
                           p.w_hr ? pf + (p.w_hr - pd) : NULL, NULL};
        crnn_s_seq xs = {xf, (ptrdiff_t)(c->N * c->I), (ptrdiff_t)c->I};
        crnn_s_seq os = {of, (ptrdiff_t)(c->N * P), (ptrdiff_t)P};
        crnn_s_state none = {NULL, 0, NULL, 0};
        size_t npk = crnn_packed_size(&ly);
        float *pk = malloc((npk + 1) * sizeof *pk), *op = malloc(R * P * sizeof *op), *small;
        crnn_sizes z;
        double dpk = 0;
        CHECK(crnn_s_forward(&BLAS, &ly, &b, &w, xs, none, os, none, NULL, work) == CRNN_OK,
              "%s: float forward status", what);
        /* the same forward over weights packed once (crnn_s_pack) */
        CHECK(crnn_s_pack(&ly, &w, pk) == CRNN_OK, "%s: pack status", what);
        w.packed = pk;
        os.data = op;
        /* given packed weights, a forward needs no room for its panels
           (exactly the smaller workspace: the sanitizers see an overrun) */
        CHECK(crnn_buffer_sizes(&ly, &b, &z) == CRNN_OK && z.workspace[CRNN_PASS_INFERENCE] == nw &&
              z.packed == npk && z.panels <= nw, "%s: crnn_buffer_sizes", what);
        small = malloc((nw - z.panels + 1) * sizeof *small);
        CHECK(crnn_s_forward(&BLAS, &ly, &b, &w, xs, none, os, none, NULL, small) == CRNN_OK,
              "%s: packed forward status", what);
        free(small);
        for (size_t i = 0; i < R * P; i++) if (fabs(op[i] - of[i]) > dpk) dpk = fabs(op[i] - of[i]);
        /* packed once, packed per call or read unpacked (few rows):
           the same chains, the same bits */
        CHECK(dpk == 0, "%s: packed weights change the output by %g",
              what, dpk);
        free(pk); free(op);
    }
    for (size_t i = 0; i < R * P; i++) if (fabs(of[i] - od[i]) > worst) worst = fabs(of[i] - od[i]);
    CHECK(worst < 2e-5, "%s: float differs from double by %g", what, worst);
    free(pd); free(xd); free(od); free(hd); free(pf); free(xf); free(of); free(work);
}

/* A team splits every step's recurrent product with a helper thread: the
 * same numbers as alone (each output column is one core's sum in the same
 * order), forward and backward, with or without a helper showing up. */
static void test_team(const cfg *c, const char *what) {
    size_t H = c->H, P = c->P ? c->P : H, R = rows_of(c), np = par_size(c);
    double *pall = malloc(np * sizeof *pall), *x = malloc(R * c->I * sizeof *x);
    double *gout = malloc(R * P * sizeof *gout);
    double *out[3], *hn[3], *gall[3], *gx[3];
    for (size_t i = 0; i < np; i++) pall[i] = 0.2 * urand();
    for (size_t i = 0; i < R * c->I; i++) x[i] = urand();
    for (size_t i = 0; i < R * P; i++) gout[i] = urand();
    for (int mode = 0; mode < 3; mode++) {
        out[mode] = malloc(R * P * sizeof(double));
        hn[mode] = malloc(c->N * P * sizeof(double));
        gall[mode] = calloc(np, sizeof(double));
        gx[mode] = calloc(R * c->I, sizeof(double));
        team_mode = mode;
        CHECK(run_d(c, pall, x, NULL, NULL, out[mode], hn[mode], NULL, NULL, NULL, NULL) ==
              CRNN_OK, "%s: team %d forward status", what, mode);
        CHECK(run_d(c, pall, x, NULL, NULL, out[mode], hn[mode], NULL, gout, gall[mode],
                    gx[mode]) == CRNN_OK, "%s: team %d backward status", what, mode);
    }
    team_mode = 0;
    for (int mode = 1; mode < 3; mode++) {
        CHECK(memcmp(out[mode], out[0], R * P * sizeof(double)) == 0,
              "%s: team %d output differs by %g", what, mode, max_diff(out[mode], out[0], R * P));
        CHECK(memcmp(hn[mode], hn[0], c->N * P * sizeof(double)) == 0,
              "%s: team %d h_n differs", what, mode);
        CHECK(memcmp(gall[mode], gall[0], np * sizeof(double)) == 0,
              "%s: team %d parameter gradients differ by %g", what, mode,
              max_diff(gall[mode], gall[0], np));
        CHECK(memcmp(gx[mode], gx[0], R * c->I * sizeof(double)) == 0,
              "%s: team %d input gradient differs", what, mode);
    }
    for (int mode = 0; mode < 3; mode++) { free(out[mode]); free(hn[mode]); free(gall[mode]); free(gx[mode]); }
    free(pall); free(x); free(gout);
}

static void test_status_codes(void) {
    float w_ih[8] = {0}, w_hh[16] = {0}, x[8] = {0}, out[16] = {0}, *work;
    crnn_s_params w = {w_ih, w_hh, NULL, NULL, NULL, NULL};
    crnn_layer ly = {CRNN_RNN_TANH, 2, 4, 0, 0};
    crnn_batch b = {2, 2, NULL};
    crnn_s_seq xs = {x, 4, 2}, os = {out, 8, 4}, bad = {out, 8, 2};
    crnn_s_state none = {NULL, 0, NULL, 0};
    crnn_blas noblas = {NULL, NULL, NULL};
    int64_t up[2] = {1, 2}, wrong0[2] = {3, 1};
    crnn_layer gru_proj = {CRNN_GRU, 2, 4, 2, 0}, big_proj = {CRNN_LSTM, 2, 4, 4, 0};
    crnn_layer zero_h = {CRNN_RNN_TANH, 2, 0, 0, 0};
    work = malloc(crnn_workspace_size(&ly, &b, CRNN_PASS_INFERENCE) * sizeof *work);
    CHECK(crnn_s_forward(&BLAS, &ly, &b, &w, xs, none, os, none, NULL, work) == CRNN_OK, "ok call");
    /* no BLAS given: every product on the own kernels */
    CHECK(crnn_s_forward(&noblas, &ly, &b, &w, xs, none, os, none, NULL, work) == CRNN_OK,
          "forward without BLAS");
    CHECK(crnn_s_forward(&BLAS, &ly, &b, &w, xs, none, bad, none, NULL, work) == CRNN_ERR_STRIDE, "stride");
    b.batch_sizes = up;
    CHECK(crnn_s_forward(&BLAS, &ly, &b, &w, xs, none, os, none, NULL, work) == CRNN_ERR_BATCH_SIZES,
          "increasing batch_sizes");
    b.batch_sizes = wrong0;
    CHECK(crnn_s_forward(&BLAS, &ly, &b, &w, xs, none, os, none, NULL, work) == CRNN_ERR_BATCH_SIZES,
          "batch_sizes[0] != N");
    b.batch_sizes = NULL;
    CHECK(crnn_s_forward(&BLAS, &gru_proj, &b, &w, xs, none, os, none, NULL, work) == CRNN_ERR_SIZE,
          "GRU with projection");
    CHECK(crnn_s_forward(&BLAS, &big_proj, &b, &w, xs, none, os, none, NULL, work) == CRNN_ERR_SIZE,
          "proj_size >= hidden_size");
    CHECK(crnn_s_forward(&BLAS, &zero_h, &b, &w, xs, none, os, none, NULL, work) == CRNN_ERR_SIZE,
          "hidden_size 0");
    CHECK(crnn_workspace_size(&zero_h, &b, CRNN_PASS_INFERENCE) == (size_t)-1, "size of a bad layer");
    {   /* the size query says why it cannot size */
        crnn_sizes z;
        crnn_batch huge = {(size_t)1 << 40, (size_t)1 << 40, NULL};
        CHECK(crnn_buffer_sizes(&zero_h, &b, &z) == CRNN_ERR_SIZE, "sizes: bad layer");
        CHECK(crnn_buffer_sizes(&gru_proj, &b, &z) == CRNN_ERR_SIZE, "sizes: GRU projection");
        CHECK(crnn_buffer_sizes(&ly, &b, NULL) == CRNN_ERR_NULL, "sizes: NULL");
        b.batch_sizes = up;
        CHECK(crnn_buffer_sizes(&ly, &b, &z) == CRNN_ERR_BATCH_SIZES, "sizes: batch_sizes");
        b.batch_sizes = NULL;
        CHECK(crnn_buffer_sizes(&ly, &huge, &z) == CRNN_ERR_TOO_LARGE, "sizes: overflow");
        CHECK(crnn_reserve_size(&ly, &huge) == (size_t)-1, "reserve size: overflow");
        CHECK(crnn_buffer_sizes(&ly, &b, &z) == CRNN_OK &&
              z.reserve == crnn_reserve_size(&ly, &b) &&
              z.workspace[CRNN_PASS_BACKWARD] == crnn_workspace_size(&ly, &b, CRNN_PASS_BACKWARD),
              "sizes: the single queries agree");
    }
    {   /* the library's version is the header's */
        char want[32];
        snprintf(want, sizeof want, "%d.%d.%d", CRNN_VERSION_MAJOR, CRNN_VERSION_MINOR,
                 CRNN_VERSION_PATCH);
        CHECK(strcmp(crnn_version(), want) == 0 && crnn_version_number() == CRNN_VERSION_NUMBER,
              "version %s", crnn_version());
    }
    CHECK(strlen(crnn_status_string(CRNN_ERR_STRIDE)) > 0, "status string");
    free(work);
}

/* A layer's gates and output width (the shim, the ONNX reader and the
 * core's checks all take them from here). */
static void test_layer_shape(void) {
    crnn_layer plain = {CRNN_LSTM, 3, 8, 0, 0}, proj = {CRNN_LSTM, 3, 8, 5, 1};
    crnn_layer gru = {CRNN_GRU, 3, 6, 0, 0};
    CHECK(crnn_cell_gates(CRNN_RNN_TANH) == 1 && crnn_cell_gates(CRNN_RNN_RELU) == 1 &&
          crnn_cell_gates(CRNN_LSTM) == 4 && crnn_cell_gates(CRNN_GRU) == 3,
          "gates: Elman 1, LSTM 4, GRU 3");
    CHECK(crnn_cell_gates((crnn_cell)4) == 0 && crnn_cell_gates((crnn_cell)-1) == 0,
          "gates of no cell kind: 0");
    CHECK(crnn_output_size(&plain) == 8 && crnn_output_size(&proj) == 5 &&
          crnn_output_size(&gru) == 6 && crnn_output_size(NULL) == 0,
          "output size: proj_size, else hidden_size; NULL 0");
    {   /* the packed weights hold G*H x P, P x H and G*H x I panels */
        size_t GH = crnn_cell_gates(proj.cell) * proj.hidden_size, P = crnn_output_size(&proj);
        size_t panels = crnn_packed_size(&proj);
        CHECK(panels != (size_t)-1 && panels >= GH * P + P * proj.hidden_size + GH * proj.input_size,
              "packed size covers the weights: %zu", panels);
    }
}

static void test_all_kinds(void) {
    static const int64_t bs_skew[20] = {4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const int64_t bs_small[3] = {3, 2, 1};
    crnn_cell cells[4] = {CRNN_RNN_TANH, CRNN_RNN_RELU, CRNN_LSTM, CRNN_GRU};
    const char *names[4] = {"rnn_tanh", "rnn_relu", "lstm", "gru"};
    srand(1);
    for (int k = 0; k < 4; k++)
        for (int rev = 0; rev < 2; rev++) {
            char what[96];
            cfg shapes[5] = {
                {cells[k], 3, 5, 0, 4, 3, rev, NULL},        /* padded */
                {cells[k], 2, 6, 0, 3, 3, rev, bs_small},    /* packed */
                {cells[k], 3, 5, 0, 20, 4, rev, bs_skew},    /* long one-row tail */
                {cells[k], 2, 4, 0, 25, 1, rev, NULL},       /* batch 1, many steps */
                /* few rows: weights read unpacked (their results must be
                   those of the panels, bit for bit), several tiles */
                {cells[k], 37, 60, 0, 5, 1, rev, NULL},
            };
            for (int s = 0; s < 5; s++) {
                snprintf(what, sizeof what, "%s rev=%d shape=%d", names[k], rev, s);
                test_forward_and_backward(&shapes[s], what);
                test_float_matches_double(&shapes[s], what);
            }
            if (cells[k] == CRNN_LSTM) {
                cfg proj = {CRNN_LSTM, 3, 6, 4, 18, 2, rev, NULL};
                snprintf(what, sizeof what, "lstm proj rev=%d", rev);
                test_forward_and_backward(&proj, what);
                test_float_matches_double(&proj, what);
            }
        }
    for (int k = 0; k < 4; k++)
        for (int rev = 0; rev < 2; rev++) {
            /* wide enough that every step's product and the GEMMs over
               all rows are shared */
            static const int64_t bs_team[7] = {3, 3, 2, 2, 1, 1, 1};
            cfg team_shapes[4] = {
                {cells[k], 40, 150, 0, 7, 1, rev, NULL},
                {cells[k], 40, 150, 0, 7, 3, rev, bs_team},
                {cells[k], 40, 150, cells[k] == CRNN_LSTM ? 130 : 0, 5, 2, rev, NULL},
                {cells[k], 40, 150, 0, 3, 64, rev, NULL},
            };
            for (int s = 0; s < 4; s++) {
                char what[96];
                snprintf(what, sizeof what, "%s rev=%d team shape=%d", names[k], rev, s);
                test_team(&team_shapes[s], what);
            }
        }
    test_status_codes();
}

/* The instruction sets: names both ways; one above the CPU's best is
 * refused; weights packed under one are refused under another. */
static void test_isa(void) {
    crnn_isa best = crnn_isa_best(), isa;
    crnn_layer ly = {CRNN_LSTM, 3, 5, 0, 0};
    float wih[60], whh[100], pk[4096];
    crnn_s_params w = {wih, whh, NULL, NULL, NULL, NULL};
    for (int i = 0; i <= CRNN_ISA_AVX512_VNNI; i++) {
        CHECK(crnn_isa_from_name(crnn_isa_name((crnn_isa)i), &isa) == CRNN_OK &&
              isa == (crnn_isa)i, "isa name round trip %d", i);
        if (i > (int)best)
            CHECK(crnn_isa_select((crnn_isa)i) == CRNN_ERR_ISA, "isa %d above best refused", i);
    }
    CHECK(crnn_isa_from_name("sse9", &isa) == CRNN_ERR_ISA, "unknown isa name refused");
    CHECK(crnn_isa_name((crnn_isa)7) == NULL, "no name for an unknown isa");
    memset(wih, 0, sizeof wih);
    memset(whh, 0, sizeof whh);
    CHECK(crnn_packed_size(&ly) <= 4096, "packed size");
    if (best != CRNN_ISA_GENERIC) {
        crnn_batch b = {2, 1, NULL};
        float x[6] = {0}, work[8192];
        crnn_s_seq xs = {x, 3, 3}, none = {NULL, 0, 0};
        crnn_s_state s0 = {NULL, 0, NULL, 0};
        crnn_blas bl = {NULL, NULL, NULL};
        CHECK(crnn_isa_select(best) == CRNN_OK, "select best");
        CHECK(crnn_s_pack(&ly, &w, pk) == CRNN_OK, "pack");
        CHECK(crnn_isa_select(CRNN_ISA_GENERIC) == CRNN_OK, "select generic");
        w.packed = pk;
        CHECK(crnn_workspace_size(&ly, &b, CRNN_PASS_INFERENCE) <= 8192, "work size");
        crnn_status st = crnn_s_forward(&bl, &ly, &b, &w, xs, s0, none, s0, NULL, work);
        CHECK(st == CRNN_ERR_PACKED, "packed weights of another isa refused (%d)", (int)st);
    }
}

/* Quantized weights (crnn_q_*): bfloat16 computes the float forward of
 * its widened weights; int8 gives each row the same bits alone or in a
 * batch, with or without a team; the statuses; every forward in exactly
 * crnn_q_workspace_size floats (the sanitizers see an overrun). */
static crnn_status q_run(const crnn_layer *ly, const crnn_batch *b, const crnn_q_params *w,
                         const float *x, float *out, float *hn, float *cn, int team) {
    size_t P = ly->proj_size ? ly->proj_size : ly->hidden_size;
    size_t nw = crnn_q_workspace_size(ly, b);
    float *work = malloc(nw * sizeof *work + 1);
    crnn_s_seq xs = {(float *)x, (ptrdiff_t)(b->size * ly->input_size), (ptrdiff_t)ly->input_size};
    crnn_s_seq os = {out, (ptrdiff_t)(b->size * P), (ptrdiff_t)P};
    crnn_s_state s0 = {NULL, 0, NULL, 0}, sn = {hn, P, cn, ly->hidden_size};
    call_ctx cx;
    crnn_status st;
    team_mode = team;
    st = crnn_q_forward(call_begin(&cx), ly, b, w, xs, s0, os, sn, work);
    call_end(&cx);
    team_mode = 0;
    free(work);
    return st;
}

static void test_quantized(crnn_cell cell, size_t proj) {
    size_t I = 37, H = 33, P = proj ? proj : H, G = gates(cell) * H, L = 6, N = 3;
    crnn_layer ly = {cell, I, H, proj, 0};
    crnn_batch b = {L, N, NULL}, one = {L, 1, NULL};
    int8_t *q[3];
    uint16_t *bf[3];
    float *s[3], *wf[3], bias[2][4 * 33], *x = malloc(L * N * I * sizeof *x);
    size_t rows[3] = {G, G, P}, cols[3] = {I, P, H};
    float *o = malloc(L * N * P * sizeof *o), *o1 = malloc(L * P * sizeof *o1);
    float *of = malloc(L * N * P * sizeof *of), hn[3 * 33], cn[3 * 33], h1[33], c1[33];
    for (int m = 0; m < 3; m++) {
        q[m] = malloc(rows[m] * cols[m]);
        bf[m] = malloc(rows[m] * cols[m] * 2);
        wf[m] = malloc(rows[m] * cols[m] * sizeof(float));
        s[m] = malloc(rows[m] * sizeof(float));
        for (size_t r = 0; r < rows[m]; r++) {
            s[m][r] = (float)(0.004 + 0.002 * fabs(urand()));
            for (size_t k = 0; k < cols[m]; k++) {
                float v = (float)(0.3 * urand());
                uint32_t u;
                q[m][r * cols[m] + k] = (int8_t)lrint(127 * urand());
                memcpy(&u, &v, 4);
                bf[m][r * cols[m] + k] = (uint16_t)(u >> 16);
                u = (uint32_t)bf[m][r * cols[m] + k] << 16;
                memcpy(&wf[m][r * cols[m] + k], &u, 4);
            }
        }
    }
    for (size_t i = 0; i < G; i++) bias[0][i] = (float)urand(), bias[1][i] = (float)urand();
    for (size_t i = 0; i < L * N * I; i++) x[i] = (float)(2 * urand());
    {   /* bfloat16: the float forward of the widened weights */
        crnn_q_weights qw = {bf[0], bf[1], proj ? bf[2] : NULL, NULL, NULL, NULL};
        void *pk = malloc(crnn_q_packed_size(&ly, CRNN_QBF16));
        crnn_q_params w = {pk, bias[0], bias[1]};
        crnn_s_params fw = {wf[0], wf[1], bias[0], bias[1], proj ? wf[2] : NULL, NULL};
        size_t nw = crnn_workspace_size(&ly, &b, CRNN_PASS_INFERENCE);
        float *work = malloc(nw * sizeof *work + 1), worst = 0;
        crnn_s_seq xs = {x, (ptrdiff_t)(N * I), (ptrdiff_t)I}, os = {of, (ptrdiff_t)(N * P), (ptrdiff_t)P};
        crnn_s_state none = {NULL, 0, NULL, 0};
        CHECK(crnn_q_pack(&ly, CRNN_QBF16, &qw, pk) == CRNN_OK, "bf16 pack");
        CHECK(q_run(&ly, &b, &w, x, o, hn, cn, 0) == CRNN_OK, "bf16 forward");
        CHECK(crnn_s_forward(&BLAS, &ly, &b, &fw, xs, none, os, none, NULL, work) == CRNN_OK,
              "float forward");
        for (size_t i = 0; i < L * N * P; i++)
            if (fabsf(o[i] - of[i]) > worst) worst = fabsf(o[i] - of[i]);
        CHECK(worst < 1e-5, "cell %d: bf16 differs from the float forward by %g", cell, worst);
        free(pk); free(work);
    }
    {   /* int8: a row alone, the batch, the batch with a team: the same bits */
        crnn_q_weights qw = {q[0], q[1], proj ? q[2] : NULL, s[0], s[1], proj ? s[2] : NULL};
        size_t npk = crnn_q_packed_size(&ly, CRNN_QINT8);
        void *pk = malloc(npk);
        crnn_q_params w = {pk, bias[0], bias[1]};
        crnn_layer other = ly;
        float keep;
        CHECK(crnn_q_pack(&ly, CRNN_QINT8, &qw, pk) == CRNN_OK, "int8 pack");
        CHECK(q_run(&ly, &b, &w, x, o, hn, cn, 0) == CRNN_OK, "int8 forward");
        CHECK(q_run(&ly, &b, &w, x, of, hn, cn, 1) == CRNN_OK, "int8 forward, team");
        CHECK(memcmp(o, of, L * N * P * sizeof *o) == 0, "cell %d: int8 team changes bits", cell);
        for (size_t n = 0; n < N; n++) {
            float *xn = malloc(L * I * sizeof *xn);
            for (size_t t = 0; t < L; t++) memcpy(xn + t * I, x + (t * N + n) * I, I * sizeof *x);
            CHECK(q_run(&ly, &one, &w, xn, o1, h1, c1, 0) == CRNN_OK, "int8 row alone");
            for (size_t t = 0; t < L; t++)
                CHECK(memcmp(o1 + t * P, o + (t * N + n) * P, P * sizeof *o) == 0,
                      "cell %d: int8 row %zu step %zu differs alone", cell, n, t);
            free(xn);
        }
        /* statuses */
        other.hidden_size = H + 1;
        CHECK(q_run(&other, &b, &w, x, o, hn, cn, 0) == CRNN_ERR_PACKED, "another layer's packing");
        CHECK(crnn_q_pack(&ly, CRNN_QINT8, &qw, NULL) == CRNN_ERR_NULL, "pack NULL");
        CHECK(crnn_q_packed_size(&ly, (crnn_qtype)7) == SIZE_MAX, "unknown type");
        keep = s[1][4];
        s[1][4] = 0;
        CHECK(crnn_q_pack(&ly, CRNN_QINT8, &qw, pk) == CRNN_ERR_SCALE, "zero scale");
        s[1][4] = NAN;
        CHECK(crnn_q_pack(&ly, CRNN_QINT8, &qw, pk) == CRNN_ERR_SCALE, "NaN scale");
        s[1][4] = -keep;
        CHECK(crnn_q_pack(&ly, CRNN_QINT8, &qw, pk) == CRNN_ERR_SCALE, "negative scale");
        s[1][4] = keep;
        other = ly;
        other.input_size = 65537;
        CHECK(crnn_q_packed_size(&other, CRNN_QINT8) == SIZE_MAX &&
              crnn_q_packed_size(&other, CRNN_QBF16) != SIZE_MAX, "int8 inputs up to 65536");
        free(pk);
    }
    for (int m = 0; m < 3; m++) free(q[m]), free(bf[m]), free(wf[m]), free(s[m]);
    free(x); free(o); free(o1); free(of);
}

/* Which products go to the injected gemm: the input projection and the
 * gradients over a batch of many rows (wide enough for every instruction
 * set's rule, blocking.h), never a step of few rows (a stream's frame),
 * never a call without one. */
static void test_blas_calls(void) {
    crnn_layer ly = {CRNN_LSTM, 128, 128, 0, 0};
    enum { I = 128, H = 128, G = 512, L = 16, N = 64 };
    static float w_ih[G * I], w_hh[G * H], x[L * N * I], out[L * N * H];
    crnn_s_params w = {w_ih, w_hh, NULL, NULL, NULL, NULL};
    crnn_s_seq xs = {x, N * I, I}, os = {out, N * H, H};
    crnn_s_state none = {NULL, 0, NULL, 0};
    crnn_blas with = {counting_sgemm, counting_dgemm, NULL}, without = {NULL, NULL, NULL};
    crnn_batch many = {L, N, NULL}, frame = {1, 1, NULL};
    float *work = malloc(crnn_workspace_size(&ly, &many, CRNN_PASS_INFERENCE) * sizeof *work);
    for (size_t i = 0; i < G * I; i++) w_ih[i] = (float)(0.1 * urand());
    for (size_t i = 0; i < G * H; i++) w_hh[i] = (float)(0.1 * urand());
    for (size_t i = 0; i < L * N * I; i++) x[i] = (float)urand();
    gemm_calls = 0;
    CHECK(crnn_s_forward(&with, &ly, &many, &w, xs, none, os, none, NULL, work) == CRNN_OK &&
          gemm_calls > 0, "a forward of %d rows calls the injected sgemm (%ld calls)", L * N,
          gemm_calls);
    gemm_calls = 0;
    CHECK(crnn_s_forward(&with, &ly, &frame, &w, xs, none, os, none, NULL, work) == CRNN_OK &&
          gemm_calls == 0, "a frame (batch 1, one step) runs on the own kernels (%ld calls)",
          gemm_calls);
    CHECK(crnn_s_forward(&without, &ly, &many, &w, xs, none, os, none, NULL, work) == CRNN_OK &&
          gemm_calls == 0, "no BLAS given: the own kernels");
    free(work);
}

int main(void) {
    const char *want = getenv("CRNN_ISA");
    crnn_isa best = crnn_isa_best(), only = best;
    if (want && *want && crnn_isa_from_name(want, &only) != CRNN_OK) {
        printf("CRNN_ISA=%s: expected generic, avx2, avx512 or avx512vnni\n", want);
        return 2;
    }
    test_isa();
    test_layer_shape();
    /* every instruction set the CPU has (CRNN_ISA: that one only) */
    for (int i = 0; i <= (int)best; i++) {
        if (want && *want && i != (int)only) continue;
        CHECK(crnn_isa_select((crnn_isa)i) == CRNN_OK, "select isa %d", i);
        printf("instruction set %s\n", crnn_isa_name((crnn_isa)i));
        test_blas_calls();
        BLAS.sgemm = counting_sgemm, BLAS.dgemm = counting_dgemm;
        test_all_kinds();
        printf("  and without BLAS (the own kernels for every product)\n");
        BLAS.sgemm = NULL, BLAS.dgemm = NULL;
        test_all_kinds();
        BLAS.sgemm = counting_sgemm, BLAS.dgemm = counting_dgemm;
        test_quantized(CRNN_RNN_TANH, 0);
        test_quantized(CRNN_GRU, 0);
        test_quantized(CRNN_LSTM, 0);
        test_quantized(CRNN_LSTM, 17);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
