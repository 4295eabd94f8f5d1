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
    case CRNN_ERR_ISA: return "this CPU (or build) does not support that instruction set";
    case CRNN_ERR_PACKED:
        return "the packed weights were made for another instruction set (pack them again), "
               "or for another layer or quantized type";
    case CRNN_ERR_SCALE: return "a quantization scale is not a positive, finite number";
    }
    return "unknown status";
}

#define CRNN_STR_(x) #x
#define CRNN_STR(x) CRNN_STR_(x)
const char *crnn_version(void) {
    return CRNN_STR(CRNN_VERSION_MAJOR) "." CRNN_STR(CRNN_VERSION_MINOR) "."
        CRNN_STR(CRNN_VERSION_PATCH);
}
int crnn_version_number(void) { return CRNN_VERSION_NUMBER; }

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

/* The next buffer of n elements after *end. */
static size_t crnn_next(size_t *end, size_t n) {
    size_t at = *end;
    *end = crnn_add(*end, n);
    return at;
}

/* Forward packs its weights into panels when the call has more rows than
 * this; fewer read them as they are (gemm.inc, FN(tmm): the same results). */
int crnn_pack_wanted(const crnn_batch *b) { return crnn_rows(b) > 8; }

/* Inference computes the input projections a chunk of steps at a time, at
 * most max(N, CRNN_PROJ_ROWS) rows: enough rows that the projections run
 * as one product of many row blocks, few enough that working memory does
 * not grow with the sequence.
 * Training keeps all R in the reserve. */
#define CRNN_PROJ_ROWS 1024

size_t crnn_proj_rows(const crnn_batch *b, int training) {
    size_t R = crnn_rows(b), C = b->size > CRNN_PROJ_ROWS ? b->size : CRNN_PROJ_ROWS;
    return training || R < C ? R : C;
}

/* The buffers of each kind (common.h's enums; the kernels say what each
 * holds): R rows, N sequences, C rows of input projections. */
static void crnn_elman_plan(const crnn_layer *ly, const crnn_batch *b,
                            crnn_pass pass, crnn_plan *p) {
    size_t H = ly->hidden_size, R = crnn_rows(b), N = b->size;
    p->res[ELMAN_HPREV] = crnn_next(&p->reserve, crnn_mul(R, H));
    p->res[ELMAN_HEND] = crnn_next(&p->reserve, crnn_mul(N, H));
    if (pass == CRNN_PASS_BACKWARD) {
        p->wk[ELMAN_DA] = crnn_next(&p->work, crnn_mul(R, H));
        p->wk[ELMAN_DH] = crnn_next(&p->work, crnn_mul(N, H));
        return;
    }
    p->wk[ELMAN_A] = crnn_next(&p->work, crnn_mul(crnn_proj_rows(b, 0), H));
    if (pass == CRNN_PASS_INFERENCE) p->wk[ELMAN_HBUF] = crnn_next(&p->work, crnn_mul(N, H));
}

static void crnn_lstm_plan(const crnn_layer *ly, const crnn_batch *b,
                           crnn_pass pass, crnn_plan *p) {
    size_t H = ly->hidden_size, P = ly->proj_size ? ly->proj_size : H;
    size_t R = crnn_rows(b), N = b->size, G = 4 * H;
    p->res[LSTM_HPREV] = crnn_next(&p->reserve, crnn_mul(R, P));
    p->res[LSTM_GT] = crnn_next(&p->reserve, crnn_mul(R, G));
    p->res[LSTM_CPREV] = crnn_next(&p->reserve, crnn_mul(R, H));
    if (ly->proj_size) p->res[LSTM_M] = crnn_next(&p->reserve, crnn_mul(R, H));
    if (pass == CRNN_PASS_BACKWARD) {
        p->wk[LSTM_DA] = crnn_next(&p->work, crnn_mul(R, G));
        p->wk[LSTM_DH] = crnn_next(&p->work, crnn_mul(N, P));
        p->wk[LSTM_DC] = crnn_next(&p->work, crnn_mul(N, H));
        if (ly->proj_size) {
            p->wk[LSTM_DHT] = crnn_next(&p->work, crnn_mul(R, P));
            p->wk[LSTM_DM] = crnn_next(&p->work, crnn_mul(N, H));
        }
        return;
    }
    if (pass == CRNN_PASS_INFERENCE) {
        p->wk[LSTM_A] = crnn_next(&p->work, crnn_mul(crnn_proj_rows(b, 0), G));
        p->wk[LSTM_HBUF] = crnn_next(&p->work, crnn_mul(N, P));
        p->wk[LSTM_CBUF] = crnn_next(&p->work, crnn_mul(N, H));
    }
    p->wk[LSTM_CS] = crnn_next(&p->work, crnn_mul(N, H));
    p->wk[LSTM_MS] = crnn_next(&p->work, crnn_mul(N, H));
    p->wk[LSTM_HS] = crnn_next(&p->work, crnn_mul(N, P));
}

static void crnn_gru_plan(const crnn_layer *ly, const crnn_batch *b,
                          crnn_pass pass, crnn_plan *p) {
    size_t H = ly->hidden_size, R = crnn_rows(b), N = b->size, G = 3 * H;
    p->res[GRU_HPREV] = crnn_next(&p->reserve, crnn_mul(R, H));
    p->res[GRU_GT] = crnn_next(&p->reserve, crnn_mul(R, G));
    p->res[GRU_HN] = crnn_next(&p->reserve, crnn_mul(R, H));
    if (pass == CRNN_PASS_BACKWARD) {
        p->wk[GRU_DAX] = crnn_next(&p->work, crnn_mul(R, G));
        p->wk[GRU_DAH] = crnn_next(&p->work, crnn_mul(R, G));
        p->wk[GRU_DH] = crnn_next(&p->work, crnn_mul(N, H));
        return;
    }
    if (pass == CRNN_PASS_INFERENCE) {
        p->wk[GRU_A] = crnn_next(&p->work, crnn_mul(crnn_proj_rows(b, 0), G));
        p->wk[GRU_HBUF] = crnn_next(&p->work, crnn_mul(N, H));
        p->wk[GRU_HNS] = crnn_next(&p->work, crnn_mul(N, H));
    }
    p->wk[GRU_AH] = crnn_next(&p->work, crnn_mul(N, G));
    p->wk[GRU_HS] = crnn_next(&p->work, crnn_mul(N, H));
}

/* The panels a call's weights take: forward's of W_hh (G*H x P), W_hr
 * (P x H) and W_ih (G*H x I) for x W^T, when a forward of this batch packs
 * them (layer.inc; b NULL: all of them, crnn_?_pack's output); backward's
 * of the same weights as they are (for d W). */
static size_t crnn_panel_space(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass) {
    size_t H = ly->hidden_size, P = ly->proj_size ? ly->proj_size : H;
    size_t GH = crnn_mul(crnn_gates(ly->cell), H), s;
    if (pass == CRNN_PASS_BACKWARD) { /* W_hh, W_hr, W_ih as they are (d W) */
        s = crnn_add(crnn_panel_size(P, GH), crnn_panel_size(ly->input_size, GH));
        return ly->proj_size ? crnn_add(s, crnn_panel_size(H, P)) : s;
    }
    if (b && !crnn_pack_wanted(b)) return 0;
    s = crnn_add(crnn_panel_size(GH, P), crnn_panel_size(GH, ly->input_size));
    return ly->proj_size ? crnn_add(s, crnn_panel_size(P, H)) : s;
}

void crnn_plan_of(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass,
                  crnn_plan *p) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 4; i++) p->res[i] = CRNN_NOWHERE;
    for (int i = 0; i < 6; i++) p->wk[i] = CRNN_NOWHERE;
    switch (ly->cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU: crnn_elman_plan(ly, b, pass, p); break;
    case CRNN_LSTM: crnn_lstm_plan(ly, b, pass, p); break;
    case CRNN_GRU: crnn_gru_plan(ly, b, pass, p); break;
    }
    p->panels = crnn_next(&p->work, crnn_panel_space(ly, b, pass));
    p->scratch = crnn_next(&p->work, pass == CRNN_PASS_BACKWARD ? CRNN_BWD_SCRATCH : 0);
}

crnn_status crnn_buffer_sizes(const crnn_layer *ly, const crnn_batch *b,
                              crnn_sizes *z) {
    int none = b && (b->steps == 0 || b->size == 0); /* nothing to compute */
    crnn_status st;
    crnn_plan p;
    if (!ly || !b || !z) return CRNN_ERR_NULL;
    if ((st = crnn_check_layer_batch(ly, b)) != CRNN_OK) return st;
    for (int pass = CRNN_PASS_INFERENCE; pass <= CRNN_PASS_BACKWARD; pass++) {
        crnn_plan_of(ly, b, (crnn_pass)pass, &p);
        z->workspace[pass] = none ? 0 : p.work;
        if (pass == CRNN_PASS_INFERENCE) z->panels = none ? 0 : p.work - p.panels;
    }
    z->reserve = p.reserve;
    z->packed = crnn_add(CRNN_PACK_HEADER, crnn_panel_space(ly, NULL, CRNN_PASS_INFERENCE));
    if (z->reserve == SIZE_MAX || z->packed == SIZE_MAX || z->workspace[0] == SIZE_MAX ||
        z->workspace[1] == SIZE_MAX || z->workspace[2] == SIZE_MAX)
        return CRNN_ERR_TOO_LARGE;
    return CRNN_OK;
}

/* The single-number queries of crnn.h: SIZE_MAX where crnn_buffer_sizes
 * says no. */
size_t crnn_workspace_size(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass) {
    crnn_sizes z;
    if ((unsigned)pass > CRNN_PASS_BACKWARD || crnn_buffer_sizes(ly, b, &z) != CRNN_OK)
        return SIZE_MAX;
    return z.workspace[pass];
}

size_t crnn_reserve_size(const crnn_layer *ly, const crnn_batch *b) {
    crnn_sizes z;
    return crnn_buffer_sizes(ly, b, &z) == CRNN_OK ? z.reserve : SIZE_MAX;
}

size_t crnn_packed_size(const crnn_layer *ly) {
    crnn_batch one = {1, 1, NULL};
    crnn_sizes z;
    return crnn_buffer_sizes(ly, &one, &z) == CRNN_OK ? z.packed : SIZE_MAX;
}

/* -- quantized weights (crnn.h) ---------------------------------------------- */
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
    P = ly->proj_size ? ly->proj_size : H;
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

/* -- instruction sets -------------------------------------------------------
 * What the CPU and its OS support, read once with cpuid (and xgetbv: the OS
 * must save the vector registers). */
#if CRNN_X86 && defined(_MSC_VER) && !defined(__clang__)
static void crnn_cpuid(int leaf, int sub, unsigned r[4]) {
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long crnn_xgetbv(void) { return _xgetbv(0); }
#elif CRNN_X86
#include <cpuid.h>
static void crnn_cpuid(int leaf, int sub, unsigned r[4]) {
    if (!__get_cpuid_count((unsigned)leaf, (unsigned)sub, &r[0], &r[1], &r[2], &r[3]))
        r[0] = r[1] = r[2] = r[3] = 0;
}
static unsigned long long crnn_xgetbv(void) {
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static crnn_isa crnn_detect(void) {
#if CRNN_X86
    unsigned l1[4], l7[4];
    unsigned long long xcr0;
    crnn_cpuid(0, 0, l1);
    if (l1[0] < 7) return CRNN_ISA_GENERIC;
    crnn_cpuid(1, 0, l1);
    crnn_cpuid(7, 0, l7);
    if (!(l1[2] >> 27 & 1)) return CRNN_ISA_GENERIC; /* no OSXSAVE */
    xcr0 = crnn_xgetbv();
    if ((xcr0 & 0x6) != 0x6) return CRNN_ISA_GENERIC; /* no YMM state */
    /* AVX (leaf 1 ecx 28), FMA (ecx 12), AVX2 (leaf 7 ebx 5) */
    if (!(l1[2] >> 28 & 1) || !(l1[2] >> 12 & 1) || !(l7[1] >> 5 & 1))
        return CRNN_ISA_GENERIC;
    /* AVX-512 F (ebx 16), DQ (17), BW (30), VL (31); opmask and ZMM state */
    if ((xcr0 & 0xe6) == 0xe6 && (l7[1] >> 16 & 1) && (l7[1] >> 17 & 1) &&
        (l7[1] >> 30 & 1) && (l7[1] >> 31 & 1))
        return l7[2] >> 11 & 1 ? CRNN_ISA_AVX512_VNNI : CRNN_ISA_AVX512; /* VNNI: ecx 11 */
    return CRNN_ISA_AVX2;
#else
    return CRNN_ISA_GENERIC;
#endif
}

static const char *const crnn_isa_names[] = {"generic", "avx2", "avx512", "avx512vnni"};

const char *crnn_isa_name(crnn_isa isa) {
    return (unsigned)isa <= CRNN_ISA_AVX512_VNNI ? crnn_isa_names[isa] : NULL;
}

crnn_status crnn_isa_from_name(const char *name, crnn_isa *isa) {
    if (!name || !isa) return CRNN_ERR_NULL;
    for (int i = 0; i <= CRNN_ISA_AVX512_VNNI; i++)
        if (strcmp(name, crnn_isa_names[i]) == 0) {
            *isa = (crnn_isa)i;
            return CRNN_OK;
        }
    return CRNN_ERR_ISA;
}

/* best + 1 and active + 1, 0 until first asked (a race only computes the
 * same value twice) */
static crnn_atomic crnn_best_plus1, crnn_active_plus1;

crnn_isa crnn_isa_best(void) {
    long v = CRNN_LOAD(&crnn_best_plus1);
    if (!v) {
        v = (long)crnn_detect() + 1;
        CRNN_STORE(&crnn_best_plus1, v);
    }
    return (crnn_isa)(v - 1);
}

crnn_isa crnn_isa_active(void) {
    long v = CRNN_LOAD(&crnn_active_plus1);
    if (!v) {
        v = (long)crnn_isa_best() + 1;
        CRNN_CAS(&crnn_active_plus1, 0, v);
        v = CRNN_LOAD(&crnn_active_plus1);
    }
    return (crnn_isa)(v - 1);
}

crnn_status crnn_isa_select(crnn_isa isa) {
    if ((unsigned)isa > CRNN_ISA_AVX512_VNNI || isa > crnn_isa_best()) return CRNN_ERR_ISA;
    CRNN_STORE(&crnn_active_plus1, (long)isa + 1);
    return CRNN_OK;
}


/* -- the generic core, once per instruction set and real type ---------------
 * The generic files are templates (.inc, no include guard): instance.inc
 * includes them, in the order of their dependencies, once per real type
 * under the CRNN_ISA_ID / CRNN_ISA_TAG set here. */
#define CRNN_INSTANTIATE "instance.inc"

#define CRNN_ISA_ID CRNN_ID_GENERIC
#define CRNN_ISA_TAG generic
#include CRNN_INSTANTIATE
#undef CRNN_ISA_ID
#undef CRNN_ISA_TAG

#if CRNN_X86
CRNN_TARGET_AVX2_BEGIN
#define CRNN_ISA_ID CRNN_ID_AVX2
#define CRNN_ISA_TAG avx2
#include CRNN_INSTANTIATE
#undef CRNN_ISA_ID
#undef CRNN_ISA_TAG
CRNN_TARGET_END

CRNN_TARGET_AVX512_BEGIN
#define CRNN_ISA_ID CRNN_ID_AVX512
#define CRNN_ISA_TAG avx512
#include CRNN_INSTANTIATE
#undef CRNN_ISA_ID
#undef CRNN_ISA_TAG
CRNN_TARGET_END
#endif

size_t crnn_isa_panel_width(int double_precision) {
    switch (crnn_isa_active()) {
    case CRNN_ISA_GENERIC: return double_precision ? crnn_generic_d_nb() : crnn_generic_s_nb();
#if CRNN_X86
    case CRNN_ISA_AVX2: return double_precision ? crnn_avx2_d_nb() : crnn_avx2_s_nb();
    case CRNN_ISA_AVX512:
    case CRNN_ISA_AVX512_VNNI: return double_precision ? crnn_avx512_d_nb() : crnn_avx512_s_nb();
#else
    default: break;
#endif
    }
    return 0;
}

/* -- the public entry points: the active instantiation's, then the call's
 * team's helper is let go (on every outcome: a helper never waits for a
 * call that has returned). */
#if CRNN_X86
#define CRNN_DISPATCH(T, name, args)                                          \
    switch (crnn_isa_active()) {                                              \
    case CRNN_ISA_AVX512:                                                     \
    case CRNN_ISA_AVX512_VNNI: st = crnn_avx512_##T##_##name args; break;     \
    case CRNN_ISA_AVX2: st = crnn_avx2_##T##_##name args; break;              \
    default: st = crnn_generic_##T##_##name args; break;                      \
    }
#else
#define CRNN_DISPATCH(T, name, args) st = crnn_generic_##T##_##name args;
#endif

#define CRNN_PUBLIC(T, R)                                                     \
    crnn_status crnn_##T##_forward(                                           \
        const crnn_blas *blas, const crnn_layer *layer,                       \
        const crnn_batch *batch, const crnn_##T##_params *w, crnn_##T##_seq x,\
        crnn_##T##_state h0, crnn_##T##_seq out, crnn_##T##_state hn,         \
        R *reserve, R *work) {                                                \
        crnn_status st;                                                       \
        CRNN_DISPATCH(T, forward_call, (blas, layer, batch, w, x, h0, out, hn,\
                                        reserve, work))                       \
        if (blas) crnn_team_end(blas->team);                                  \
        return st;                                                            \
    }                                                                         \
    crnn_status crnn_##T##_backward(                                          \
        const crnn_blas *blas, const crnn_layer *layer,                       \
        const crnn_batch *batch, const crnn_##T##_params *w,                  \
        const crnn_##T##_params *dw, crnn_##T##_seq x, crnn_##T##_seq dout,   \
        crnn_##T##_state dhn, crnn_##T##_seq dx, crnn_##T##_state dh0,        \
        const R *reserve, R *work) {                                          \
        crnn_status st;                                                       \
        CRNN_DISPATCH(T, backward_call, (blas, layer, batch, w, dw, x, dout,  \
                                         dhn, dx, dh0, reserve, work))        \
        if (blas) crnn_team_end(blas->team);                                  \
        return st;                                                            \
    }                                                                         \
    crnn_status crnn_##T##_pack(const crnn_layer *layer,                      \
                                const crnn_##T##_params *w, R *packed) {      \
        crnn_batch one = {1, 1, NULL};                                        \
        crnn_status st;                                                       \
        if (!layer || !w || !packed) return CRNN_ERR_NULL;                    \
        if ((st = crnn_check_layer_batch(layer, &one)) != CRNN_OK) return st; \
        if (!w->w_ih || !w->w_hh || (layer->proj_size && !w->w_hr))          \
            return CRNN_ERR_NULL;                                             \
        if (!crnn_fits_int(crnn_mul(crnn_gates(layer->cell), layer->hidden_size))) \
            return CRNN_ERR_TOO_LARGE;                                        \
        CRNN_DISPATCH(T, pack, (layer, w, packed))                            \
        return st;                                                            \
    }

CRNN_PUBLIC(s, float)
CRNN_PUBLIC(d, double)

crnn_status crnn_q_forward(const crnn_blas *blas, const crnn_layer *layer,
                           const crnn_batch *batch, const crnn_q_params *w,
                           crnn_s_seq x, crnn_s_state h0, crnn_s_seq out,
                           crnn_s_state hn, float *work) {
    crnn_status st;
    CRNN_DISPATCH(s, q_forward_call, (blas, layer, batch, w, x, h0, out, hn, work))
    if (blas) crnn_team_end(blas->team);
    return st;
}

/* Packing is the same for every instruction set: the portable code. */
crnn_status crnn_q_pack(const crnn_layer *ly, crnn_qtype type, const crnn_q_weights *w,
                        void *packed) {
    size_t H, P, GH;
    crnn_status st;
    if (!ly || !w || !packed) return CRNN_ERR_NULL;
    if ((st = crnn_q_check_layer(ly, type)) != CRNN_OK) return st;
    if (!w->w_ih || !w->w_hh || (ly->proj_size && !w->w_hr)) return CRNN_ERR_NULL;
    H = ly->hidden_size;
    P = ly->proj_size ? ly->proj_size : H;
    GH = crnn_gates(ly->cell) * H;
    if (type == CRNN_QINT8) {
        const float *s[3] = {w->s_ih, w->s_hh, ly->proj_size ? w->s_hr : NULL};
        size_t n[3] = {GH, GH, P};
        for (int i = 0; i < 3; i++) {
            if (i == 2 && !ly->proj_size) continue;
            if (!s[i]) return CRNN_ERR_NULL;
            for (size_t r = 0; r < n[i]; r++)
                if (!(s[i][r] > 0.0f) || !isfinite(s[i][r])) return CRNN_ERR_SCALE;
        }
    }
    crnn_generic_s_q_pack_layer(ly, type, w, (unsigned char *)packed);
    return CRNN_OK;
}
