/* blocking.h — how the products are cut (gemm.inc, linalg.inc): panels
 * and their widest width, row slices and summed passes, backward's copy
 * space, the header of packed weights, and which products the injected
 * BLAS takes. */
#ifndef CRNN_CORE_BLOCKING_H
#define CRNN_CORE_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "size_arith.h"

/* Panels: a (k x n) matrix B stored as ceil(n / NB) blocks of (k, NB),
 * zero-padded (gemm.inc). NB depends on the instruction set and the real
 * type; sizes are counted with the widest, CRNN_NB, which every NB
 * divides. */
enum { CRNN_NB = 64 };

/* Products run in slices of CRNN_MC rows and passes of CRNN_KC summed
 * elements (gemm.inc). A product whose A is the transpose of a row-major
 * matrix (a row of A is a column of that matrix: one element per cache
 * line and page) reads it from a copy of each slice, CRNN_APACK elements,
 * made once rather than once per panel. */
enum { CRNN_MC = 120, CRNN_KC = 512, CRNN_APACK = CRNN_MC * CRNN_KC };
/* Likewise a product whose B is given as a matrix's rows (not panels)
 * and read by many row blocks copies each panel's pass, CRNN_BPACK
 * elements (CRNN_NB below is the widest panel). */
enum { CRNN_BPACK = CRNN_KC * 64 };
/* backward's room for both, one of each per thread of a team, at the end
 * of its workspace */
#define CRNN_BWD_SCRATCH (2 * ((size_t)CRNN_APACK + CRNN_BPACK))

static inline size_t crnn_panel_size(size_t n, size_t k) {
    return crnn_mul(crnn_mul((n + CRNN_NB - 1) / CRNN_NB, CRNN_NB), k);
}

/* The instantiation a packed buffer (crnn_?_pack) was made by, in its
 * first 4 bytes; the panels start CRNN_PACK_HEADER elements in (64 bytes
 * or more, whichever the real type). */
#define CRNN_PACK_HEADER 16
static inline uint32_t crnn_pack_tag(int isa, int dbl) {
    return 0x6372ea00u | (uint32_t)(isa << 1) | (uint32_t)(dbl != 0);
}

/* Which products the injected BLAS (crnn_blas.sgemm / dgemm; NULL: the
 * own kernels everywhere) takes: those over whole sequences of a weight W
 * (F_out x F_in) — a forward's input projections x W_ih^T, backward's dX,
 * dW_ih, dW_hh and dW_hr — decided once per weight and row count
 * (linalg.inc, FN(blas_takes)), and on the portable kernels the per-step
 * recurrent products too.
 *  - Portable kernels (no own SIMD kernels for the CPU): from
 *    CRNN_BLAS_ROWS rows (a block, the batch, or a step's rows). Below
 *    that a gemm's repacking of the weights at every call costs more than
 *    its kernel saves (measured, Zen 4, 1 thread: LSTM H=512 at batch 4
 *    took 20 ms per 40 steps with a sgemm per step, 12 without; at batch
 *    16, 17 against 28).
 *  - AVX2 / AVX-512 kernels, which run these products at the GEMM floor:
 *    only wide products, at least CRNN_BLAS_WIDE rows and F_out and
 *    CRNN_BLAS_WIDE / 4 F_in, and CRNN_BLAS_MADDS multiply-adds (SciPy's
 *    OpenBLAS 0.3.30, its SkylakeX kernel, Zen 4: level with the own kernel
 *    there, 0.97-1.03 of its time over LSTM and GRU with H >= 256 at 1 and
 *    2 threads; on narrower or smaller ones it took up to 1.15x the own
 *    kernel's time on 1 thread (a stream of 100 rows, Elman H=256) and up
 *    to 1.4x on 2 (Elman H=256 packed training)). */
enum { CRNN_BLAS_ROWS = 16, CRNN_BLAS_WIDE = 512 };
#define CRNN_BLAS_MADDS ((size_t)1 << 26)

#endif
