/* kernel_util.h — what the generic kernels (simd.inc, gemm.inc, vmath.inc,
 * quant.inc) share across instantiations: register transposes, the AVX2
 * masks of a vector's first lanes, float bit casts and the double
 * sigmoid. */
#ifndef CRNN_CORE_KERNEL_UTIL_H
#define CRNN_CORE_KERNEL_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "platform.h"

/* The first two stages of transposing n rows r[] of float lanes (AVX2,
 * AVX-512): every 4 x 4 block within a 128-bit lane transposed, into u[]:
 * u[4g + c], 128-bit block q, holds column 4q + c of rows 4g .. 4g+3. */
#define CRNN_TRANSPOSE_4X4(r, u, n, UNLO, UNHI, SHUF)                         \
    do {                                                                      \
        VT t_[16];                                                            \
        for (int i_ = 0; i_ < (n) / 2; i_++) {                                \
            t_[2 * i_] = UNLO((r)[2 * i_], (r)[2 * i_ + 1]);                  \
            t_[2 * i_ + 1] = UNHI((r)[2 * i_], (r)[2 * i_ + 1]);              \
        }                                                                     \
        for (int g_ = 0; g_ < (n) / 4; g_++) {                                \
            (u)[4 * g_] = SHUF(t_[4 * g_], t_[4 * g_ + 2], 0x44);             \
            (u)[4 * g_ + 1] = SHUF(t_[4 * g_], t_[4 * g_ + 2], 0xEE);         \
            (u)[4 * g_ + 2] = SHUF(t_[4 * g_ + 1], t_[4 * g_ + 3], 0x44);     \
            (u)[4 * g_ + 3] = SHUF(t_[4 * g_ + 1], t_[4 * g_ + 3], 0xEE);     \
        }                                                                     \
    } while (0)

/* The last stage on AVX-512: the four 128-bit blocks of the columns
 * gathered, with u[k*s + c] holding column (s*q + c) of rows k*s .. in
 * block q (s = lanes per block), into r[k*s + c]. */
#define CRNN_TRANSPOSE_BLOCKS(u, r, s, SH)                                    \
    for (int c_ = 0; c_ < (s); c_++) {                                        \
        VT vl_ = SH((u)[c_], (u)[(s) + c_], 0x44);                            \
        VT vh_ = SH((u)[c_], (u)[(s) + c_], 0xEE);                            \
        VT wl_ = SH((u)[2 * (s) + c_], (u)[3 * (s) + c_], 0x44);              \
        VT wh_ = SH((u)[2 * (s) + c_], (u)[3 * (s) + c_], 0xEE);              \
        (r)[c_] = SH(vl_, wl_, 0x88);                                         \
        (r)[(s) + c_] = SH(vl_, wl_, 0xDD);                                   \
        (r)[2 * (s) + c_] = SH(vh_, wh_, 0x88);                               \
        (r)[3 * (s) + c_] = SH(vh_, wh_, 0xDD);                               \
    }

/* A 2 x 2 transpose (double on SSE2 and NEON). */
#define CRNN_TRANSPOSE_2X2(r, LO, HI)                                         \
    do {                                                                      \
        VT a_ = LO((r)[0], (r)[1]), b_ = HI((r)[0], (r)[1]);                  \
        (r)[0] = a_;                                                          \
        (r)[1] = b_;                                                          \
    } while (0)

#if CRNN_X86 /* AVX2 masked loads of the first n lanes: 8 (4) ones, then zeros */
static const int32_t crnn_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t crnn_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
#endif

static inline uint32_t crnn_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float crnn_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline double crnn_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

#endif
