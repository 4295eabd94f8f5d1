/* common.h — type-independent internals of the crnn core. */
#ifndef CRNN_CORE_COMMON_H
#define CRNN_CORE_COMMON_H

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "crnn.h"

/* a*b, or SIZE_MAX when it overflows (SIZE_MAX stays SIZE_MAX). */
static inline size_t crnn_mul(size_t a, size_t b) {
    if (a == SIZE_MAX || b == SIZE_MAX) return SIZE_MAX;
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

static inline size_t crnn_add(size_t a, size_t b) {
    if (a == SIZE_MAX || b == SIZE_MAX || b > SIZE_MAX - a) return SIZE_MAX;
    return a + b;
}

static inline int crnn_fits_int(size_t v) { return v <= (size_t)INT_MAX; }

/* Instruction sets (crnn.h's crnn_isa, as numbers the preprocessor can
 * compare): core.c compiles the generic core once for each one the target
 * architecture has. */
#define CRNN_ID_GENERIC 0
#define CRNN_ID_AVX2 1
#define CRNN_ID_AVX512 2

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define CRNN_X86 1
#include <immintrin.h>
#else
#define CRNN_X86 0
#endif
/* the portable instantiation's vectors: NEON on aarch64, SSE2 on x86-64
 * (both baseline), plain C elsewhere */
#if defined(__aarch64__) || defined(_M_ARM64)
#define CRNN_GENERIC_NEON 1
#include <arm_neon.h>
#else
#define CRNN_GENERIC_NEON 0
#endif
#define CRNN_GENERIC_SSE2 CRNN_X86

/* Per-instantiation target: every function defined between BEGIN and END
 * is compiled for the instruction set (GCC and clang; MSVC takes the
 * intrinsics without a flag, and compiles the rest for its baseline). */
#if CRNN_X86 && defined(__clang__)
#define CRNN_TARGET_AVX2_BEGIN                                                \
    _Pragma("clang attribute push (__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define CRNN_TARGET_AVX512_BEGIN                                              \
    _Pragma("clang attribute push (__attribute__((target(\"avx512f,avx512vl,avx512dq,avx512bw,avx2,fma\"))), apply_to = function)")
#define CRNN_TARGET_END _Pragma("clang attribute pop")
#elif CRNN_X86 && defined(__GNUC__)
#define CRNN_TARGET_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define CRNN_TARGET_AVX512_BEGIN                                              \
    _Pragma("GCC push_options")                                               \
    _Pragma("GCC target(\"avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512\")")
#define CRNN_TARGET_END _Pragma("GCC pop_options")
#else
#define CRNN_TARGET_AVX2_BEGIN
#define CRNN_TARGET_AVX512_BEGIN
#define CRNN_TARGET_END
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define CRNN_INLINE __forceinline
#define CRNN_UNROLL
#elif defined(__clang__)
#define CRNN_INLINE inline __attribute__((always_inline))
#define CRNN_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define CRNN_INLINE inline __attribute__((always_inline))
#define CRNN_UNROLL _Pragma("GCC unroll 8")
#else
#define CRNN_INLINE inline
#define CRNN_UNROLL
#endif

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

#define CRNN_CAT_(a, b) a##b
#define CRNN_CAT(a, b) CRNN_CAT_(a, b)

static inline uint32_t crnn_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float crnn_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline double crnn_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

#if CRNN_X86 /* AVX2 masked loads of the first n lanes: 8 (4) ones, then zeros */
static const int32_t crnn_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t crnn_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
#endif

/* The instantiation a packed buffer (crnn_?_pack) was made by, in its
 * first 4 bytes; the panels start CRNN_PACK_HEADER elements in (64 bytes
 * or more, whichever the real type). */
#define CRNN_PACK_HEADER 16
static inline uint32_t crnn_pack_tag(int isa, int dbl) {
    return 0x6372ea00u | (uint32_t)(isa << 1) | (uint32_t)(dbl != 0);
}

/* -- quantized weights (quant.inc) ------------------------------------------
 * A (rows x cols) weight matrix W as int8 or bfloat16, packed in a layout
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
 * vpmaddubsw's int16 pairs cannot saturate). core.c. */
int crnn_q8_vnni(void);

/* GCC and clang's target of the VNNI kernels (the AVX-512 instantiation's
 * set plus VNNI): functions of their own, called only when crnn_q8_vnni(). */
#if CRNN_X86 && (defined(__GNUC__) || defined(__clang__))
#define CRNN_TARGET_VNNI                                                      \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,avx512vnni")))
#else
#define CRNN_TARGET_VNNI
#endif
/* a function some instantiations do not call (q_pack: the portable one
 * packs for every instruction set) */
#if defined(__GNUC__) || defined(__clang__)
#define CRNN_MAYBE_UNUSED __attribute__((unused))
#else
#define CRNN_MAYBE_UNUSED
#endif

/* Atomics, a spin-wait hint and a yield for teams (C11 <stdatomic.h> is
 * missing from some compilers the wheels use, so the builtins). */
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#define CRNN_YIELD() ((void)SwitchToThread())
#else
#include <sched.h>
#define CRNN_YIELD() ((void)sched_yield())
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
typedef volatile long crnn_atomic;
#define CRNN_LOAD(p) InterlockedCompareExchange((p), 0, 0)
#define CRNN_STORE(p, v) ((void)InterlockedExchange((p), (long)(v)))
#define CRNN_CAS(p, expect, want) \
    (InterlockedCompareExchange((p), (long)(want), (long)(expect)) == (long)(expect))
#define CRNN_PAUSE() YieldProcessor()
#else
typedef long crnn_atomic;
#define CRNN_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define CRNN_STORE(p, v) __atomic_store_n((p), (long)(v), __ATOMIC_SEQ_CST)
#define CRNN_CAS(p, expect, want)                                             \
    __extension__({                                                           \
        long crnn_e_ = (long)(expect);                                        \
        __atomic_compare_exchange_n((p), &crnn_e_, (long)(want), 0,           \
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);      \
    })
#if defined(__x86_64__) || defined(__i386__)
#define CRNN_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CRNN_PAUSE() __asm__ __volatile__("yield")
#else
#define CRNN_PAUSE() ((void)0)
#endif
#endif

/* One share of a product: run(job, n0, n1) computes its output columns
 * [n0, n1) of the product that ctx describes. A team's job is the
 * caller's columns [0, split) and the helper's [split, n). */
typedef struct crnn_job {
    void (*run)(const struct crnn_job *job, size_t n0, size_t n1);
    const void *ctx;
    size_t n, split;
} crnn_job;

/* seq: the job the caller posted last; claim: the last job whose helper
 * share someone (the caller or the helper) took; done: the last the helper
 * finished; quit: the call has ended. */
struct crnn_team {
    crnn_atomic seq, claim, done, quit;
    crnn_job job;
};

/* Products of fewer multiply-adds than this are not worth a hand-over. */
enum { CRNN_TEAM_MIN = 32768 };

/* The one split of a job between a team's two threads: n output columns
 * (or rows) in units of `unit` (a panel's width, or 1 row), half the units
 * each, when there is a team and the job has at least CRNN_TEAM_MIN
 * multiply-adds; 0: the caller does it all. Splits fall between outputs,
 * never inside a sum: the same bits on one thread or two. */
static inline size_t crnn_split(const crnn_team *team, size_t madds, size_t n,
                                size_t unit) {
    size_t units = (n + unit - 1) / unit;
    return team && units >= 2 && madds >= CRNN_TEAM_MIN ? units / 2 * unit : 0;
}

/* Run a job, the helper's share on the helper when it takes it in time. */
void crnn_team_run(crnn_team *team, const crnn_job *job);

/* Number of gates of a cell kind (rows of w_ih are gates * hidden_size). */
static inline size_t crnn_gates(crnn_cell cell) {
    switch (cell) {
    case CRNN_RNN_TANH:
    case CRNN_RNN_RELU: return 1;
    case CRNN_LSTM: return 4;
    case CRNN_GRU: return 3;
    }
    return 0;
}

/* Layer and batch valid (sizes, cell kind, batch_sizes)? Internal. */
crnn_status crnn_check_layer_batch(const crnn_layer *ly, const crnn_batch *b);

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

/* crnn_proj_rows: the rows of input projections a forward pass holds at
 * once (linalg.inc, FN(proj)); crnn_pack_wanted: whether a forward of
 * this batch packs its weights (else it reads them in place). */
size_t crnn_proj_rows(const crnn_batch *b, int training);
int crnn_pack_wanted(const crnn_batch *b);

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

/* Where one call's buffers lie, in elements from the start of the reserve
 * (res) or of the pass's workspace (wk), indexed by the cell kind's enum
 * below; CRNN_NOWHERE for one the call does not have. crnn_plan_of (core.c)
 * lays them out, with one function per kind; the size queries and the
 * kernels both read it. The workspace ends with the weights' panels (a
 * forward that packs, or backward) and backward's copy space. */
#define CRNN_NOWHERE SIZE_MAX
typedef struct crnn_plan {
    size_t reserve;   /* elements of the reserve */
    size_t panels;    /* where the panels start in the workspace */
    size_t scratch;   /* backward: where its copy space starts */
    size_t work;      /* elements of the workspace */
    size_t res[4], wk[6];
} crnn_plan;
void crnn_plan_of(const crnn_layer *ly, const crnn_batch *b, crnn_pass pass,
                  crnn_plan *p);
/* base + off, or NULL where there is no such buffer (or no base) */
#define CRNN_AT(base, off) ((base) && (off) != CRNN_NOWHERE ? (base) + (off) : NULL)

/* Each kind's buffers. Reserve (training forward fills, backward reads):
 * rows R = every (t, n) of the batch, N = the batch, C = crnn_proj_rows. */
enum { ELMAN_HPREV, ELMAN_HEND };               /* (R, H), (N, H) */
enum { ELMAN_A, ELMAN_HBUF };                   /* forward: (C, H), (N, H) inference */
enum { ELMAN_DA, ELMAN_DH };                    /* backward: (R, H), (N, H) */
enum { LSTM_HPREV, LSTM_GT, LSTM_CPREV, LSTM_M }; /* (R, P), (R, 4H), (R, H), (R, H) proj */
/* forward: inference (C, 4H), (N, P), (N, H); both (N, H), (N, H), (N, P) */
enum { LSTM_A, LSTM_HBUF, LSTM_CBUF, LSTM_CS, LSTM_MS, LSTM_HS };
/* backward: (R, 4H), (N, P), (N, H), proj: (R, P), (N, H) */
enum { LSTM_DA, LSTM_DH, LSTM_DC, LSTM_DHT, LSTM_DM };
enum { GRU_HPREV, GRU_GT, GRU_HN };             /* (R, H), (R, 3H), (R, H) */
/* forward: inference (C, 3H), (N, H), (N, H); both (N, 3H), (N, H) */
enum { GRU_A, GRU_HBUF, GRU_HNS, GRU_AH, GRU_HS };
enum { GRU_DAX, GRU_DAH, GRU_DH };              /* backward: (R, 3H), (R, 3H), (N, H) */

/* Quantized products' row blocks and units (the packing above). */
enum { CRNN_QROWS = 16, CRNN_QUNIT = 64 };

/* crnn_q_pack's output starts with a header of CRNN_QHEADER bytes: a tag
 * with the type, then the layer's cell kind and sizes (a forward of
 * another layer is refused); the blobs of W_hh, W_hr (projection only)
 * and W_ih follow. */
enum { CRNN_QHEADER = 64 };
void crnn_q_header(crnn_qtype type, const crnn_layer *ly, unsigned char *packed);
/* The checks of crnn_q_forward's arguments that protect memory; *type the
 * packed weights'. */
crnn_status crnn_q_check(const crnn_blas *bl, const crnn_layer *ly, const crnn_batch *b,
                         const crnn_q_params *w, crnn_qtype *type);
/* A quantized forward's buffers: the inference plan without panels, then
 * at `panels` the int8 input scales, at `scratch` the int8 inputs. */
void crnn_q_plan_of(const crnn_layer *ly, const crnn_batch *b, crnn_plan *p);


static inline size_t crnn_batch_at(const crnn_batch *b, size_t t) {
    return b->batch_sizes ? (size_t)b->batch_sizes[t] : b->size;
}

/*
 * A walk over the time steps in processing order (s = 0 .. L-1; t = s
 * forward, t = L-1-s reverse), for forward loops (crnn_walk_first, then
 * crnn_walk_next) and backward loops (crnn_walk_last, then crnn_walk_prev).
 * For the current step it knows the time t, the first row `off` of step t
 * in the batch's row layout (row (t, n) is row off_t + n), the active rows
 * bs, the first row of the processing-next step, and the active rows of the
 * processing-previous and -next steps (0 before the first and after the
 * last). Rows [prev_bs, bs) enter at this step (they start from the initial
 * state); rows [next_bs, bs) leave after it (their state is final). Packed
 * batches make these ranges non-empty in mid-sequence.
 */
typedef struct crnn_walk {
    const crnn_batch *b;
    int reverse, done;
    size_t s, t, off, next_off, bs, prev_bs, next_bs;
} crnn_walk;

static inline void crnn_walk_fill(crnn_walk *w) {
    const crnn_batch *b = w->b;
    size_t L = b->steps, s = w->s;
    w->t = w->reverse ? L - 1 - s : s;
    w->bs = crnn_batch_at(b, w->t);
    if (s == 0) w->prev_bs = 0;
    else w->prev_bs = crnn_batch_at(b, w->reverse ? w->t + 1 : w->t - 1);
    if (s + 1 >= L) w->next_bs = 0;
    else w->next_bs = crnn_batch_at(b, w->reverse ? w->t - 1 : w->t + 1);
    /* time t+1 starts at off + bs(t); time t-1 at off - bs(t-1) */
    w->next_off = w->reverse ? w->off - w->next_bs : w->off + w->bs;
}

static inline void crnn_walk_at(crnn_walk *w, const crnn_batch *b,
                                int reverse, int first) {
    w->b = b;
    w->reverse = reverse != 0;
    w->done = b->steps == 0;
    if (w->done) return;
    w->s = first ? 0 : b->steps - 1;
    /* time 0 starts at row 0, time L-1 at rows - bs(L-1) */
    w->off = (first != w->reverse) ? 0 : crnn_rows(b) - crnn_batch_at(b, b->steps - 1);
    crnn_walk_fill(w);
}

static inline void crnn_walk_first(crnn_walk *w, const crnn_batch *b, int reverse) {
    crnn_walk_at(w, b, reverse, 1);
}

static inline void crnn_walk_last(crnn_walk *w, const crnn_batch *b, int reverse) {
    crnn_walk_at(w, b, reverse, 0);
}

static inline void crnn_walk_next(crnn_walk *w) {
    if (w->s + 1 >= w->b->steps) { w->done = 1; return; }
    w->off = w->next_off;
    w->s++;
    crnn_walk_fill(w);
}

static inline void crnn_walk_prev(crnn_walk *w) {
    if (w->s == 0) { w->done = 1; return; }
    if (w->reverse) w->off += w->bs;
    else w->off -= crnn_batch_at(w->b, w->t - 1);
    w->s--;
    crnn_walk_fill(w);
}

#endif
