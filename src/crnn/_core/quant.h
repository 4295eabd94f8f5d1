/* quant.h — quantized weights: their packed format (the same on every
 * instruction set; quant.inc's kernels read it), and the checks, header
 * and buffer plan of a quantized call (quant_plan.c). */
#ifndef CRNN_CORE_QUANT_H
#define CRNN_CORE_QUANT_H

#include <stddef.h>

#include "crnn.h"
#include "plan.h"
#include "size_arith.h"

/* A (rows x cols) weight matrix W as int8 or bfloat16, packed in a layout
 * that is the same on every instruction set (a blob packed on one path
 * runs on any): rows in blocks of 16; in a block, the summed index k in
 * groups of g (4 for int8, 2 for bf16), each group a 64-byte unit of 16
 * rows x g consecutive k,
 *   unit (rb, kg) at byte (rb * KG + kg) * 64, KG = ceil(cols / g),
 *   element [r][j] of the unit = W[rb*16 + r][kg*g + j], 0 outside W,
 * so a 32-bit lane of a unit holds one row's g summed elements (what
 * vpdpbusd and the bf16 widening read). int8 adds after the units
 * float scale[rows16] (0 for pad rows), then int32_t rowsum[rows16]
 * (sum over k of W's int8 row), rows16 = rows rounded up to 16. */
typedef struct crnn_qmat {
    crnn_qtype type;
    size_t rows, cols;
    const unsigned char *blob; /* units, then (int8) scale, rowsum */
} crnn_qmat;

/* Quantized products' row blocks and units (the packing above). */
enum { CRNN_QROWS = 16, CRNN_QUNIT = 64 };

static inline size_t crnn_q_group(crnn_qtype type) { return type == CRNN_QINT8 ? 4 : 2; }

/* bytes of the units; SIZE_MAX on overflow (or an unknown type) */
static inline size_t crnn_q_units_bytes(crnn_qtype type, size_t rows, size_t cols) {
    size_t g = crnn_q_group(type), blocks = rows / 16 + (rows % 16 != 0);
    if (type != CRNN_QINT8 && type != CRNN_QBF16) return SIZE_MAX;
    return crnn_mul(crnn_mul(blocks, cols / g + (cols % g != 0)), 64);
}

/* bytes of the whole blob: the units, and for int8 the scales and row
 * sums (8 bytes a row, 16 rows a block: the size stays a multiple of 64) */
static inline size_t crnn_q_blob_bytes(crnn_qtype type, size_t rows, size_t cols) {
    size_t u = crnn_q_units_bytes(type, rows, cols);
    size_t rows16 = crnn_mul(rows / 16 + (rows % 16 != 0), 16);
    return type == CRNN_QINT8 ? crnn_add(u, crnn_mul(rows16, 8)) : u;
}

/* The largest summed dimension of an int8 product: its int32 sums, at
 * most 255 * 128 a term, stay exact. Callers refuse larger k. */
enum { CRNN_Q8_MAXK = 65536 };

/* Nonzero iff the active instruction set is "avx512vnni": the int8
 * product's activations take 127 levels and vpdpbusd (else 63, so that
 * vpmaddubsw's int16 pairs cannot saturate). */
int crnn_q8_vnni(void);

/* crnn_q_pack's output starts with a header of CRNN_QHEADER bytes: a tag
 * with the type, then the layer's cell kind and sizes (a forward of
 * another layer is refused); the blobs of W_hh, W_hr (projection only)
 * and W_ih follow. */
enum { CRNN_QHEADER = 64 };
void crnn_q_header(crnn_qtype type, const crnn_layer *ly, unsigned char *packed);
/* The checks of crnn_q_pack's arguments: the layer and type, the weights
 * given, every int8 scale a positive, finite float. */
crnn_status crnn_q_check_pack(const crnn_layer *ly, crnn_qtype type,
                              const crnn_q_weights *w);
/* The checks of crnn_q_forward's arguments that protect memory; *type the
 * packed weights'. */
crnn_status crnn_q_check(const crnn_blas *bl, const crnn_layer *ly, const crnn_batch *b,
                         const crnn_q_params *w, crnn_qtype *type);
/* A quantized forward's buffers: the inference plan without panels, then
 * at `panels` the int8 input scales, at `scratch` the int8 inputs. */
void crnn_q_plan_of(const crnn_layer *ly, const crnn_batch *b, crnn_plan *p);

#endif
