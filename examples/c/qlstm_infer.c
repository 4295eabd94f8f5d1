/* qlstm_infer.c — an int8 LSTM with projections served a frame at a time
 * in plain C over libcrnn: the weights quantized and exported from Python
 * (crnn.quantize), packed once, then one crnn_q_forward call per frame with
 * the state (h, c) carried from call to call, as a streaming server runs.
 *
 *   python examples/c/export.py DIR     writes DIR/qlstm/: the int8 weights
 *                                       <key>.npy and scales <key>_scale.npy,
 *                                       float32 biases, x.npy (L, I) and
 *                                       expected.npy (Python's output)
 *   qlstm_infer DIR/qlstm               writes out.npy (L, P), compares
 *
 * Build and run: make run-example (see the Makefile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crnn.h"
#include "npy.h"

static const char usage[] =
    "usage: qlstm_infer DIR\n"
    "  runs a one-layer int8 LSTM with projections a frame at a time over DIR/x.npy\n"
    "  with the weights DIR/<state_dict key>.npy (int8, and <key>_scale.npy), writes\n"
    "  DIR/out.npy and compares it with DIR/expected.npy if present. DIR comes from:\n"
    "  python examples/c/export.py OUT (then DIR is OUT/qlstm)\n";

static void check(crnn_status st, const char *what) {
    if (st != CRNN_OK) {
        fprintf(stderr, "%s: %s\n", what, crnn_status_string(st));
        exit(1);
    }
}

int main(int argc, char **argv) {
    const char *dir;
    char path[1024];
    if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    dir = argv[1];
    npy x = load(dir, "x", NPY_F4), w_ih = load(dir, "weight_ih_l0", NPY_I1),
        w_hh = load(dir, "weight_hh_l0", NPY_I1), w_hr = load(dir, "weight_hr_l0", NPY_I1),
        s_ih = load(dir, "weight_ih_l0_scale", NPY_F4),
        s_hh = load(dir, "weight_hh_l0_scale", NPY_F4),
        s_hr = load(dir, "weight_hr_l0_scale", NPY_F4),
        b_ih = load(dir, "bias_ih_l0", NPY_F4), b_hh = load(dir, "bias_hh_l0", NPY_F4);
    size_t L = x.rows, I = x.cols, H = w_hr.cols, P = w_hr.rows;
    crnn_layer layer = {CRNN_LSTM, I, H, P, 0};
    crnn_batch frame = {1, 1, NULL};                   /* one step of one stream */
    crnn_blas blas = {NULL, NULL, NULL};               /* no BLAS, no team */
    crnn_q_weights qw = {w_ih.data, w_hh.data, w_hr.data, (float *)s_ih.data,
                         (float *)s_hh.data, (float *)s_hr.data};
    size_t nwork = crnn_q_workspace_size(&layer, &frame);
    void *packed = malloc(crnn_q_packed_size(&layer, CRNN_QINT8));
    float *work = malloc(nwork * sizeof(float));
    float *out = malloc(L * P * sizeof(float));
    float *h = calloc(2 * P, sizeof(float)), *c = calloc(2 * H, sizeof(float));
    crnn_q_params params = {packed, (float *)b_ih.data, (float *)b_hh.data};

    /* at load time: pack once (checks the scales) */
    check(crnn_q_pack(&layer, CRNN_QINT8, &qw, packed), "crnn_q_pack");
    /* per frame: h, c double-buffered (out may not overlap the state in) */
    for (size_t t = 0; t < L; t++) {
        float *hp = h + (t % 2) * P, *hn = h + (1 - t % 2) * P;
        float *cp = c + (t % 2) * H, *cn = c + (1 - t % 2) * H;
        crnn_s_seq xs = {(float *)x.data + t * I, (ptrdiff_t)I, (ptrdiff_t)I};
        crnn_s_seq os = {out + t * P, (ptrdiff_t)P, (ptrdiff_t)P};
        crnn_s_state s0 = {hp, P, cp, H}, s1 = {hn, P, cn, H};
        check(crnn_q_forward(&blas, &layer, &frame, &params, xs, s0, os, s1, work),
              "crnn_q_forward");
    }
    snprintf(path, sizeof path, "%s/out.npy", dir);
    if (npy_write(path, out, L, P)) return 2;
    printf("wrote %s: (%zu, %zu), int8 LSTM(%zu, %zu, proj_size=%zu), %zu frames\n", path, L,
           P, I, H, P, L);

    snprintf(path, sizeof path, "%s/expected.npy", dir);
    {
        npy e;
        double worst;
        if (npy_read(path, &e, NPY_F4)) return 0;
        if (e.rows != L || e.cols != P) {
            fprintf(stderr, "expected.npy has shape (%zu, %zu)\n", e.rows, e.cols);
            return 1;
        }
        worst = max_diff((const float *)e.data, out, L * P);
        printf("max |C - Python| = %.3g\n", worst);
        return worst <= 1e-5 ? 0 : 1;
    }
}
