/* test_quant.c — the int8 and bfloat16 weight products (quant.inc) of every
 * instruction set this CPU runs (AVX-512 with and without VNNI), against
 * plain references written here: int8 bit for bit (integer sums are exact,
 * then one float expression), bf16 bit for bit against the same two FMA
 * chains computed with scalar fmaf, and within a stated bound of a double
 * reference; every output the same bits whether its row came alone, in a
 * batch of 37, or its columns in a split range. The kernels are internal,
 * so this file compiles them itself: it includes dispatch.c, where they
 * are instantiated, and is linked with the core's other files.
 *
 *   make check         (prints "N passed, N failed"; exit status 1 on failure)
 */
#include "../../src/crnn/_core/dispatch.c"

#include <stdio.h>
#include <stdlib.h>

#include "check.h"

typedef struct qpath {
    const char *name;
    crnn_isa isa;
    int vnni_off;
    int fused; /* the bf16 chains' MADD is one fma */
    void (*pack)(crnn_qtype, size_t, size_t, const void *, size_t, const float *,
                 unsigned char *);
    int (*levels)(void);
    void (*rows)(size_t, size_t, const float *, size_t, uint8_t *, size_t, float *);
    void (*q8)(size_t, size_t, const uint8_t *, size_t, const float *, const crnn_qmat *,
               int, float *, size_t, size_t, size_t);
    void (*bf)(size_t, size_t, const float *, size_t, const crnn_qmat *, int, float *,
               size_t, size_t, size_t);
} qpath;

#define QPATH(tag, isa, off, fused)                                           \
    {#tag, isa, off, fused, crnn_##tag##_s_q_pack, crnn_##tag##_s_q8_levels,  \
     crnn_##tag##_s_q8_rows, crnn_##tag##_s_q8_mm, crnn_##tag##_s_bf16_mm}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static float frand(void) { return (float)((double)rnd() / 2097152.0 / 1024.0 * 2.0 - 1.0); }

static uint16_t to_bf16(float f) { return (uint16_t)(crnn_f2u(f) >> 16); }
static float from_bf16(uint16_t h) { return crnn_u2f((uint32_t)h << 16); }
static void *blob_alloc(crnn_qtype type, size_t rows, size_t cols) {
    size_t n = crnn_q_blob_bytes(type, rows, cols);
    if (n > ((size_t)1 << 32)) abort();
    return malloc(n);
}
static int same_bits(float a, float b) { return crnn_f2u(a) == crnn_f2u(b); }

/* The activations' reference quantization: the spec's formula, with
 * nearbyintf for round-to-nearest-even. */
static void ref_rows(int Q, size_t m, size_t k, const float *A, size_t lda, uint8_t *Aq,
                     size_t ldq, float *as) {
    for (size_t i = 0; i < m; i++) {
        float amax = 0;
        int bad = 0;
        for (size_t j = 0; j < k; j++) {
            float x = A[i * lda + j];
            if (!isfinite(x)) bad = 1;
            else if (fabsf(x) > amax) amax = fabsf(x);
        }
        float s = amax / (float)Q;
        for (size_t j = 0; j < ldq; j++) Aq[i * ldq + j] = (uint8_t)(Q + 1);
        as[i] = bad ? NAN : s;
        if (bad || s == 0) { if (!bad) as[i] = 0; continue; }
        for (size_t j = 0; j < k; j++) {
            float y = nearbyintf(A[i * lda + j] / s);
            if (y > Q) y = (float)Q;
            if (y < -Q) y = (float)-Q;
            Aq[i * ldq + j] = (uint8_t)((int)y + Q + 1);
        }
    }
}

/* A (m x k): random, row 1 all zero, row 2 with a NaN, row 3 with an Inf
 * (when m > 3), row 4 huge, row 5 tiny (subnormal) */
static void fill_a(float *A, size_t m, size_t k, size_t lda) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < lda; j++) A[i * lda + j] = frand() * (float)(1 + i % 5);
    if (m > 3) {
        for (size_t j = 0; j < k; j++) A[1 * lda + j] = 0;
        A[2 * lda + (k - 1) / 2] = NAN;
        A[3 * lda + k - 1] = -INFINITY;
    }
    if (m > 5) {
        for (size_t j = 0; j < k; j++) A[4 * lda + j] *= 1e37f;
        for (size_t j = 0; j < k; j++) A[5 * lda + j] = (float)(j % 3) * 1e-44f;
    }
}

static const size_t ROWS[] = {1, 15, 16, 17, 33, 70};
static const size_t COLS[] = {1, 3, 4, 5, 63, 65, 513};
static const size_t MS[] = {1, 2, 3, 7, 37};

static void test_layout(const qpath *p) {
    size_t rows = 19, cols = 7;
    int8_t w8[19 * 9];
    uint16_t wb[19 * 9];
    float sc[19];
    unsigned char *b8 = blob_alloc(CRNN_QINT8, rows, cols);
    unsigned char *bb = blob_alloc(CRNN_QBF16, rows, cols);
    int ok8 = 1, okb = 1;
    for (size_t i = 0; i < rows * 9; i++) { w8[i] = (int8_t)(rnd() & 0xff); wb[i] = (uint16_t)rnd(); }
    for (size_t r = 0; r < rows; r++) sc[r] = (float)r + 0.5f;
    p->pack(CRNN_QINT8, rows, cols, w8, 9, sc, b8);
    p->pack(CRNN_QBF16, rows, cols, wb, 9, NULL, bb);
    CHECK(crnn_q_units_bytes(CRNN_QINT8, rows, cols) == 2 * 2 * 64 &&
          crnn_q_blob_bytes(CRNN_QINT8, rows, cols) == 2 * 2 * 64 + 32 * 8 &&
          crnn_q_blob_bytes(CRNN_QBF16, rows, cols) == 2 * 4 * 64, "%s: blob sizes", p->name);
    for (size_t rb = 0; rb < 2; rb++)
        for (size_t r = 0; r < 16; r++) {
            size_t row = rb * 16 + r;
            int32_t sum = 0;
            for (size_t kg = 0; kg < 2; kg++)
                for (size_t j = 0; j < 4; j++) {
                    size_t col = kg * 4 + j;
                    int8_t want = row < rows && col < cols ? w8[row * 9 + col] : 0;
                    if ((int8_t)b8[(rb * 2 + kg) * 64 + r * 4 + j] != want) ok8 = 0;
                    sum += want;
                }
            for (size_t kg = 0; kg < 4; kg++)
                for (size_t j = 0; j < 2; j++) {
                    size_t col = kg * 2 + j;
                    uint16_t want = row < rows && col < cols ? wb[row * 9 + col] : 0, got;
                    memcpy(&got, bb + (rb * 4 + kg) * 64 + (r * 2 + j) * 2, 2);
                    if (got != want) okb = 0;
                }
            float s;
            int32_t rs;
            memcpy(&s, b8 + 256 + row * 4, 4);
            memcpy(&rs, b8 + 256 + 128 + row * 4, 4);
            if (s != (row < rows ? sc[row] : 0.0f) || rs != sum) ok8 = 0;
        }
    CHECK(ok8, "%s: int8 layout, scales and row sums", p->name);
    CHECK(okb, "%s: bf16 layout", p->name);
    free(b8);
    free(bb);
}

/* One shape on one path: both products, every m and init. */
static void test_shape(const qpath *p, size_t rows, size_t cols) {
    size_t k = cols, lda = k + 3, ldq = (k + 3) / 4 * 4 + 4, mmax = 37, ldc = rows + 5;
    int Q = p->levels(), off = Q + 1;
    int8_t *w8 = malloc(rows * k);
    uint16_t *wb = malloc(rows * k * 2);
    float *sc = malloc(rows * 4), *A = malloc(mmax * lda * 4), *as = malloc(mmax * 4);
    float *asr = malloc(mmax * 4), *C = malloc(mmax * ldc * 4), *C0 = malloc(mmax * ldc * 4);
    float *R = malloc(mmax * ldc * 4), *S = malloc(ldc * 4);
    uint8_t *Aq = malloc(mmax * ldq), *Aqr = malloc(mmax * ldq);
    unsigned char *b8 = blob_alloc(CRNN_QINT8, rows, k);
    unsigned char *bb = blob_alloc(CRNN_QBF16, rows, k);
    crnn_qmat W8 = {CRNN_QINT8, rows, k, b8}, WB = {CRNN_QBF16, rows, k, bb};
    int okq = 1, ok8 = 1, okb = 1, okbd = 1, oki = 1;
    double worst = 0;

    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < k; j++) {
            w8[r * k + j] = (int8_t)(rnd() & 0xff); /* -128 .. 127: the extremes too */
            wb[r * k + j] = to_bf16(frand());
        }
        sc[r] = (0.5f + (float)(rnd() % 1000) / 1000.0f) / 64.0f;
    }
    if (rows > 2) for (size_t j = 0; j < k; j++) w8[2 * k + j] = -128; /* saturation's worst */
    p->pack(CRNN_QINT8, rows, k, w8, k, sc, b8);
    p->pack(CRNN_QBF16, rows, k, wb, k, NULL, bb);
    fill_a(A, mmax, k, lda);
    if (mmax > 6) for (size_t j = 0; j < k; j++) A[6 * lda + j] = 3.0f; /* all at +Q */

    /* the activations: the reference formula, bit for bit */
    p->rows(mmax, k, A, lda, Aq, ldq, as);
    ref_rows(Q, mmax, k, A, lda, Aqr, ldq, asr);
    for (size_t i = 0; i < mmax; i++)
        if (memcmp(Aq + i * ldq, Aqr + i * ldq, ldq) != 0 ||
            !(same_bits(as[i], asr[i]) || (isnan(as[i]) && isnan(asr[i]))))
            okq = 0;
    CHECK(okq, "%s %zux%zu: q8_rows matches the formula (Q=%d)", p->name, rows, k, Q);

    for (size_t mi = 0; mi < sizeof MS / sizeof *MS; mi++) {
        size_t m = MS[mi];
        for (int init = 0; init <= 1; init++) {
            for (size_t i = 0; i < m * ldc; i++) C0[i] = frand();
            /* int8: exact */
            memcpy(C, C0, m * ldc * 4);
            p->q8(m, k, Aq, ldq, as, &W8, init, C, ldc, 0, rows);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < rows; j++) {
                    int32_t acc = 0, rs = 0;
                    for (size_t l = 0; l < k; l++) {
                        acc += (int32_t)Aq[i * ldq + l] * w8[j * k + l];
                        rs += w8[j * k + l];
                    }
                    float v = (as[i] * sc[j]) * (float)(acc - off * rs);
                    float want = init ? C0[i * ldc + j] + v : v;
                    if (!same_bits(C[i * ldc + j], want) &&
                        !(isnan(want) && isnan(C[i * ldc + j])))
                        ok8 = 0;
                }
            for (size_t i = 0; i < m; i++) /* nothing written past n1 */
                for (size_t j = rows; j < ldc; j++)
                    if (!same_bits(C[i * ldc + j], C0[i * ldc + j])) ok8 = 0;
            /* bf16: the fixed chains bit for bit, and near the double product */
            memcpy(C, C0, m * ldc * 4);
            p->bf(m, k, A, lda, &WB, init, C, ldc, 0, rows);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < rows; j++) {
                    float e = 0, o = 0;
                    double d = 0, mag = 0;
                    for (size_t l = 0; l < (k + 1) / 2 * 2; l++) {
                        float a = l < k ? A[i * lda + l] : 0.0f;
                        float w = l < k ? from_bf16(wb[j * k + l]) : 0.0f;
                        float *ch = l % 2 ? &o : &e;
                        *ch = p->fused ? fmaf(a, w, *ch) : a * w + *ch;
                        d += (double)a * w;
                        mag += fabs((double)a * w);
                    }
                    float want = init ? C0[i * ldc + j] + (e + o) : e + o;
                    float got = C[i * ldc + j];
                    if (!same_bits(got, want) && !(isnan(got) && isnan(want))) okb = 0;
                    if (init) { d += C0[i * ldc + j]; mag += fabs(C0[i * ldc + j]); }
                    /* float sums of k + 2 terms: each rounding at most 2^-24 of
                     * the running magnitude, bounded by mag */
                    if (isfinite(d) && mag < 1e38) { /* (float sums overflow past) */
                        double err = fabs(got - d), bound = (double)(k + 2) * 0x1p-24 * mag + 1e-38;
                        if (!(err <= bound)) okbd = 0;
                        if (mag > 1e-30 && err / mag > worst) worst = err / mag;
                    } else if (!isfinite(d) && isfinite(got)) {
                        okbd = 0;
                    }
                }
            for (size_t i = 0; i < m; i++)
                for (size_t j = rows; j < ldc; j++)
                    if (!same_bits(C[i * ldc + j], C0[i * ldc + j])) okb = 0;
        }
    }
    CHECK(ok8, "%s %zux%zu: q8_mm bit for bit against the formula", p->name, rows, k);
    CHECK(okb, "%s %zux%zu: bf16_mm bit for bit against the fixed chains", p->name, rows, k);
    CHECK(okbd, "%s %zux%zu: bf16_mm within (k+2) 2^-24 sum|a w| of double (worst %.2g)",
          p->name, rows, k, worst);

    /* independence: row i alone, inside m = 37, and columns in pieces */
    for (int bf = 0; bf <= 1; bf++) {
        for (size_t i = 0; i < mmax * ldc; i++) R[i] = C0[i % (2 * ldc)];
        memcpy(C, R, mmax * ldc * 4);
        if (bf) p->bf(mmax, k, A, lda, &WB, 1, R, ldc, 0, rows);
        else p->q8(mmax, k, Aq, ldq, as, &W8, 1, R, ldc, 0, rows);
        for (size_t i = 0; i < mmax; i += 5) {
            memcpy(S, C + i * ldc, ldc * 4);
            if (bf) p->bf(1, k, A + i * lda, lda, &WB, 1, S, ldc, 0, rows);
            else p->q8(1, k, Aq + i * ldq, ldq, as + i, &W8, 1, S, ldc, 0, rows);
            if (memcmp(S, R + i * ldc, ldc * 4) != 0) oki = 0;
        }
        memcpy(S, C, ldc * 4); /* the pieces [0,16), [16,32), [32, rows) */
        for (size_t c0 = 0; c0 < rows; c0 += 16) {
            size_t c1 = c0 < 32 ? (c0 + 16 < rows ? c0 + 16 : rows) : rows;
            if (bf) p->bf(1, k, A, lda, &WB, 1, S, ldc, c0, c1);
            else p->q8(1, k, Aq, ldq, as, &W8, 1, S, ldc, c0, c1);
            if (c1 == rows) break;
        }
        if (memcmp(S, R, ldc * 4) != 0) oki = 0;
        /* rows 3 .. 9 as a batch of 7 */
        {
            float *T = malloc(7 * ldc * 4);
            memcpy(T, C + 3 * ldc, 7 * ldc * 4);
            if (bf) p->bf(7, k, A + 3 * lda, lda, &WB, 1, T, ldc, 0, rows);
            else p->q8(7, k, Aq + 3 * ldq, ldq, as + 3, &W8, 1, T, ldc, 0, rows);
            if (memcmp(T, R + 3 * ldc, 7 * ldc * 4) != 0) oki = 0;
            free(T);
        }
    }
    CHECK(oki, "%s %zux%zu: the same bits alone, in a batch, in column pieces", p->name,
          rows, k);
    free(w8); free(wb); free(sc); free(A); free(as); free(asr); free(C); free(C0);
    free(R); free(S); free(Aq); free(Aqr); free(b8); free(bb);
}

/* Make p's kernels the active ones: AVX-512 with VNNI is its own level
 * ("avx512vnni"; refused where the CPU lacks VNNI), without it "avx512". */
static crnn_status use_path(const qpath *p) {
    return crnn_isa_select(p->isa == CRNN_ISA_AVX512 && !p->vnni_off ? CRNN_ISA_AVX512_VNNI
                                                                     : p->isa);
}

int main(void) {
    qpath paths[] = {
        QPATH(generic, CRNN_ISA_GENERIC, 0, CRNN_GENERIC_NEON), /* MADD fused on NEON */
#if CRNN_X86
        QPATH(avx2, CRNN_ISA_AVX2, 0, 1),
        QPATH(avx512, CRNN_ISA_AVX512, 1, 1),
        QPATH(avx512, CRNN_ISA_AVX512, 0, 1),
#endif
    };
    uint8_t q127[2][64];
    for (size_t pi = 0; pi < sizeof paths / sizeof *paths; pi++) {
        qpath *p = &paths[pi];
        if (use_path(p) != CRNN_OK) continue;
        if (p->isa == CRNN_ISA_AVX512 && !p->vnni_off && !crnn_q8_vnni()) continue;
        printf("path %s%s: %d levels\n", p->name,
               p->isa == CRNN_ISA_AVX512 ? (p->vnni_off ? " (no vnni)" : " (vnni)") : "",
               p->levels());
        test_layout(p);
        for (size_t a = 0; a < sizeof ROWS / sizeof *ROWS; a++)
            for (size_t b = 0; b < sizeof COLS / sizeof *COLS; b++)
                test_shape(p, ROWS[a], COLS[b]);
        { /* the activations' bytes depend on the levels only */
            float A[61];
            float s;
            for (int j = 0; j < 61; j++) A[j] = (float)sin(j * 0.7) * 7;
            if (p->levels() == 127) {
                p->rows(1, 61, A, 61, q127[p->isa != CRNN_ISA_GENERIC], 64, &s);
                if (p->isa != CRNN_ISA_GENERIC)
                    CHECK(memcmp(q127[0], q127[1], 64) == 0, "vnni's activations = generic's");
            }
        }
    }
    crnn_isa_select(crnn_isa_best());
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
