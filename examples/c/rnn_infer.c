/* rnn_infer.c — a 2-layer bidirectional Elman RNN (tanh) forward at batch 1
 * in plain C over libcrnn, with weights exported from Python as .npy files.
 *
 *   python examples/c/export.py DIR     writes DIR/<state_dict key>.npy,
 *                                       DIR/x.npy (L, I) and
 *                                       DIR/expected.npy (crnn's output)
 *   rnn_infer DIR                       writes DIR/out.npy (L, 2H) and, if
 *                                       expected.npy is there, compares
 *
 * Two builds of the same source (make run-example BLAS_LIBS="-lopenblas",
 * see the Makefile): rnn_infer injects OpenBLAS's sgemm, which the core
 * calls for the input projection over all steps; rnn_infer_noblas (built
 * with -DNO_BLAS, linked with libcrnn and libm alone) injects none, and the
 * core computes every product on its own kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crnn.h"
#include "npy.h"

#ifndef NO_BLAS
/* The BLAS routine, possibly prefixed (SciPy's OpenBLAS: scipy_sgemm_). */
#ifndef BLAS_PREFIX
#define BLAS_PREFIX
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
extern void CAT(BLAS_PREFIX, sgemm_)(char *, char *, int *, int *, int *, float *,
                                     float *, int *, float *, int *, float *,
                                     float *, int *);
#define SGEMM CAT(BLAS_PREFIX, sgemm_)
#else
#define SGEMM NULL /* no BLAS: the core's own kernels for every product */
#endif

static const char usage[] =
    "usage: rnn_infer DIR\n"
    "  runs a 2-layer bidirectional RNN (tanh) at batch 1 over DIR/x.npy with the\n"
    "  weights DIR/<state_dict key>.npy, writes DIR/out.npy and compares it with\n"
    "  DIR/expected.npy if present. DIR comes from: python examples/c/export.py DIR\n"
    "  (or, from the repository root: make run-example BLAS_LIBS=-lopenblas)\n";

int main(int argc, char **argv) {
    const char *dir;
    if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    dir = argv[1];
    crnn_blas blas = {SGEMM, NULL, NULL};
    npy x = load(dir, "x", NPY_F4);                       /* (L, I) */
    size_t L = x.rows, H = load(dir, "weight_hh_l0", NPY_F4).rows, layers = 2, D = 2;
    float *in = (float *)x.data, *out = NULL;
    size_t in_size = x.cols;
    char path[1024];

    for (size_t k = 0; k < layers; k++) {
        out = malloc(L * D * H * sizeof(float));
        for (size_t d = 0; d < D; d++) {
            char name[64];
            const char *sfx = d ? "_reverse" : "";
            npy p[4];
            const char *kinds[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
            crnn_layer layer = {CRNN_RNN_TANH, in_size, H, 0, (int)d};
            crnn_batch batch = {L, 1, NULL};             /* batch 1, padded */
            crnn_s_seq xs = {in, (ptrdiff_t)in_size, (ptrdiff_t)in_size};
            /* this direction's half of the (L, 2H) output, written in place */
            crnn_s_seq os = {out + d * H, (ptrdiff_t)(D * H), (ptrdiff_t)(D * H)};
            crnn_s_state none = {NULL, 0, NULL, 0};
            size_t nwork = crnn_workspace_size(&layer, &batch, CRNN_PASS_INFERENCE);
            float *work = malloc((nwork ? nwork : 1) * sizeof(float));
            crnn_s_params w;
            crnn_status st;
            float *packed;
            for (int i = 0; i < 4; i++) {
                snprintf(name, sizeof name, "%s_l%zu%s", kinds[i], k, sfx);
                p[i] = load(dir, name, NPY_F4);
            }
            w = (crnn_s_params){(float *)p[0].data, (float *)p[1].data, (float *)p[2].data,
                                (float *)p[3].data, NULL, NULL};
            /* a server would pack W_hh once at load time and reuse it for
               every request (streaming: many short calls) */
            packed = malloc(crnn_packed_size(&layer) * sizeof(float) + 1);
            st = crnn_s_pack(&layer, &w, packed);
            w.packed = packed;
            if (st == CRNN_OK)
                st = crnn_s_forward(&blas, &layer, &batch, &w, xs, none, os, none, NULL, work);
            if (st != CRNN_OK) {
                fprintf(stderr, "crnn_s_forward: %s\n", crnn_status_string(st));
                return 1;
            }
            for (int i = 0; i < 4; i++) free(p[i].data);
            free(work);
            free(packed);
        }
        if (in != (float *)x.data) free(in);
        in = out;
        in_size = D * H;
    }
    snprintf(path, sizeof path, "%s/out.npy", dir);
    if (npy_write(path, out, L, D * H)) return 2;
    printf("wrote %s: (%zu, %zu)\n", path, L, D * H);

    snprintf(path, sizeof path, "%s/expected.npy", dir);
    {
        npy e;
        double worst = 0;
        if (npy_read(path, &e, NPY_F4)) return 0;
        if (e.rows != L || e.cols != D * H) {
            fprintf(stderr, "expected.npy has shape (%zu, %zu)\n", e.rows, e.cols);
            return 1;
        }
        worst = max_diff((const float *)e.data, out, L * D * H);
        printf("max |C - Python| = %.3g\n", worst);
        return worst <= 1e-5 ? 0 : 1;
    }
}
