/* quant_plan.c — quantized layers (crnn.h's crnn_q_*): the checks of
 * their layers, types, scales and packed weights, the packed header, the
 * sizes of the packing and the workspace, and a quantized call's buffer
 * plan. */
#include <math.h>
#include <string.h>

#include "crnn.h"
#include "plan.h"
#include "quant.h"
#include "size_arith.h"

int crnn_q8_vnni(void) { return crnn_isa_active() == CRNN_ISA_AVX512_VNNI; }

static int crnn_q_type_ok(crnn_qtype type) { return type == CRNN_QINT8 || type == CRNN_QBF16; }

/* The widest summed dimension of a layer's products. */
static size_t crnn_q_widest(const crnn_layer *ly) {
    size_t k = ly->input_size > ly->hidden_size ? ly->input_size : ly->hidden_size;
    return k > ly->proj_size ? k : ly->proj_size;
}

static crnn_status crnn_q_check_layer(const crnn_layer *ly, crnn_qtype type) {
    crnn_batch one = {1, 1, NULL};
    crnn_status st;
    if (!crnn_q_type_ok(type)) return CRNN_ERR_SIZE;
    if ((st = crnn_check_layer_batch(ly, &one)) != CRNN_OK) return st;
    if (!crnn_fits_int(crnn_mul(crnn_gates(ly->cell), ly->hidden_size)) ||
        !crnn_fits_int(ly->input_size) ||
        (type == CRNN_QINT8 && crnn_q_widest(ly) > CRNN_Q8_MAXK))
        return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

size_t crnn_q_packed_size(const crnn_layer *ly, crnn_qtype type) {
    size_t H, P, GH, n;
    if (!ly || crnn_q_check_layer(ly, type) != CRNN_OK) return SIZE_MAX;
    H = ly->hidden_size;
    P = crnn_out_size(ly);
    GH = crnn_gates(ly->cell) * H;
    n = crnn_add(crnn_q_blob_bytes(type, GH, P), crnn_q_blob_bytes(type, GH, ly->input_size));
    if (ly->proj_size) n = crnn_add(n, crnn_q_blob_bytes(type, P, H));
    return crnn_add(n, CRNN_QHEADER);
}

void crnn_q_header(crnn_qtype type, const crnn_layer *ly, unsigned char *packed) {
    uint64_t v[5] = {0x63726e6e71000000u | (uint64_t)type, (uint64_t)ly->cell,
                     ly->input_size, ly->hidden_size, ly->proj_size};
    memset(packed, 0, CRNN_QHEADER);
    memcpy(packed, v, sizeof v);
}

crnn_status crnn_q_check_pack(const crnn_layer *ly, crnn_qtype type,
                              const crnn_q_weights *w) {
    crnn_status st;
    if ((st = crnn_q_check_layer(ly, type)) != CRNN_OK) return st;
    if (!w->w_ih || !w->w_hh || (ly->proj_size && !w->w_hr)) return CRNN_ERR_NULL;
    if (type == CRNN_QINT8) {
        size_t GH = crnn_gates(ly->cell) * ly->hidden_size;
        const float *s[3] = {w->s_ih, w->s_hh, ly->proj_size ? w->s_hr : NULL};
        size_t n[3] = {GH, GH, crnn_out_size(ly)};
        for (int i = 0; i < 3; i++) {
            if (i == 2 && !ly->proj_size) continue;
            if (!s[i]) return CRNN_ERR_NULL;
            for (size_t r = 0; r < n[i]; r++)
                if (!(s[i][r] > 0.0f) || !isfinite(s[i][r])) return CRNN_ERR_SCALE;
        }
    }
    return CRNN_OK;
}

crnn_status crnn_q_check(const crnn_blas *bl, const crnn_layer *ly, const crnn_batch *b,
                         const crnn_q_params *w, crnn_qtype *type) {
    unsigned char want[CRNN_QHEADER];
    crnn_status st;
    uint64_t tag;
    if (!bl || !ly || !b || !w || !w->packed) return CRNN_ERR_NULL;
    if ((st = crnn_check_layer_batch(ly, b)) != CRNN_OK) return st;
    memcpy(&tag, w->packed, sizeof tag);
    *type = (crnn_qtype)(tag & 0xff);
    if (!crnn_q_type_ok(*type)) return CRNN_ERR_PACKED;
    if ((st = crnn_q_check_layer(ly, *type)) != CRNN_OK) return st;
    crnn_q_header(*type, ly, want);
    if (memcmp(want, w->packed, CRNN_QHEADER) != 0) return CRNN_ERR_PACKED;
    if (!crnn_fits_int(crnn_rows(b)) ||
        !crnn_fits_int(crnn_mul(b->size, crnn_mul(crnn_gates(ly->cell), ly->hidden_size))))
        return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

void crnn_q_plan_of(const crnn_layer *ly, const crnn_batch *b, crnn_plan *p) {
    size_t rows = crnn_proj_rows(b, 0), k = (crnn_q_widest(ly) + 3) / 4 * 4;
    crnn_plan_of(ly, b, CRNN_PASS_INFERENCE, p);
    p->work = p->panels; /* the weights come packed */
    p->panels = crnn_next(&p->work, rows);
    p->scratch = crnn_next(&p->work, (crnn_mul(rows, k) + 3) / 4);
}

size_t crnn_q_workspace_size(const crnn_layer *ly, const crnn_batch *b) {
    crnn_plan p;
    if (!ly || !b || crnn_check_layer_batch(ly, b) != CRNN_OK) return SIZE_MAX;
    if (b->steps == 0 || b->size == 0) return 0;
    crnn_q_plan_of(ly, b, &p);
    return p.work;
}
