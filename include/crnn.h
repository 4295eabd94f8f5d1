/*
 * crnn.h — public C API of the crnn core: recurrent layers (Elman RNN with
 * tanh or ReLU, LSTM with optional projection, GRU), forward and backward of
 * one layer in one direction over a whole, padded or packed, batch of
 * sequences.
 *
 * C99. No Python, no allocation, no printing: the caller hands in every
 * buffer (sized by the query functions below) and, optionally, the BLAS
 * routines to use (crnn_blas): the core does not link a BLAS.
 *
 * Conventions
 *  - Typed entry points come in pairs, BLAS style: crnn_s_* (float) and
 *    crnn_d_* (double), generated from one generic source.
 *  - Matrices are row-major. Weights use torch's layout: w_ih is (G*H, I),
 *    w_hh is (G*H, H), biases (G*H), where G is the number of gates of the
 *    cell kind (1 for Elman).
 *  - A sequence tensor (crnn_?_seq) holds one feature row per (time t,
 *    batch row n). Padded: row (t, n) starts at data + t*stride_t +
 *    n*stride_n. Packed (batch->batch_sizes != NULL): rows are stored time
 *    step after time step, row (t, n) at data + (off_t + n)*stride_n with
 *    off_t = batch_sizes[0] + ... + batch_sizes[t-1]; stride_t is ignored.
 *    Features are contiguous. Strides are in elements.
 *  - A state (crnn_?_state) is h, an (N, P) matrix with row stride ld_h, and
 *    for LSTM c, an (N, H) matrix with row stride ld_c; P is proj_size, or
 *    H without projection. A NULL pointer means "zeros" for inputs and "not
 *    wanted" for outputs. Layer outputs have P features too.
 *  - Sizes are size_t; every size handed to BLAS is checked to fit its
 *    32-bit int first (CRNN_ERR_TOO_LARGE otherwise).
 *  - Backward accumulates (+=) into every gradient it writes: parameter
 *    gradients, dx, dh_0. Zeroing is the caller's act.
 */
#ifndef CRNN_H
#define CRNN_H

#include <stddef.h>
#include <stdint.h>

#define CRNN_VERSION_MAJOR 0
#define CRNN_VERSION_MINOR 1
#define CRNN_VERSION_PATCH 0
#define CRNN_VERSION_NUMBER \
    (CRNN_VERSION_MAJOR * 10000 + CRNN_VERSION_MINOR * 100 + CRNN_VERSION_PATCH)

#if defined(_WIN32) && defined(CRNN_BUILD_SHARED)
#define CRNN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CRNN_API __attribute__((visibility("default")))
#else
#define CRNN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. Every entry point returns one; nothing aborts or prints. */
typedef enum crnn_status {
    CRNN_OK = 0,              /* success */
    CRNN_ERR_NULL = 1,        /* a required pointer (the crnn_blas, weight,
                                 input, reserve, workspace) is NULL */
    CRNN_ERR_SIZE = 2,        /* a size is zero where it may not be, or the
                                 cell kind / proj_size is invalid */
    CRNN_ERR_STRIDE = 3,      /* a row stride is smaller than the row */
    CRNN_ERR_BATCH_SIZES = 4, /* batch_sizes not non-increasing, not >= 1,
                                 or batch_sizes[0] != batch->size */
    CRNN_ERR_TOO_LARGE = 5,   /* a size or stride exceeds what a 32-bit
                                 BLAS int can hold, or a buffer size
                                 overflows size_t */
    CRNN_ERR_ISA = 6,         /* the CPU (or this build) lacks the
                                 instruction set asked for */
    CRNN_ERR_PACKED = 7,      /* params.packed was made by another kernel
                                 set (crnn_isa_select since): pack again;
                                 or quantized weights of another type */
    CRNN_ERR_SCALE = 8        /* a quantization scale is not a positive,
                                 finite number */
} crnn_status;

/* Short English text for a status (static storage). */
CRNN_API const char *crnn_status_string(crnn_status status);

/* The version of the library linked at run time, "MAJOR.MINOR.PATCH"
 * (the CRNN_VERSION_* macros give the header's); and as a number,
 * MAJOR * 10000 + MINOR * 100 + PATCH like CRNN_VERSION_NUMBER. */
CRNN_API const char *crnn_version(void);
CRNN_API int crnn_version_number(void);

/*
 * Instruction sets. The core carries its kernels compiled for each one its
 * architecture has and picks, once per process, the best one the CPU (and
 * its OS) supports: AVX-512 (F, VL, DQ, BW) or AVX2 with FMA on x86-64,
 * else the portable kernels (SSE2 on x86-64, NEON on aarch64, plain C
 * elsewhere). Results are bit-identical within one instruction set, for
 * any batch, chunking of a sequence or threads when BLAS is not injected
 * (crnn_blas); they may differ in the last bits between two.
 */
typedef enum crnn_isa {
    CRNN_ISA_GENERIC = 0,    /* portable */
    CRNN_ISA_AVX2 = 1,       /* AVX2 + FMA (x86-64) */
    CRNN_ISA_AVX512 = 2,     /* AVX-512 F, VL, DQ, BW (x86-64) */
    CRNN_ISA_AVX512_VNNI = 3 /* AVX-512 as above, plus VNNI: the same float
                                kernels; int8 products on vpdpbusd */
} crnn_isa;

/* The best instruction set this CPU and build support. */
CRNN_API crnn_isa crnn_isa_best(void);
/* The one in use (crnn_isa_best() unless crnn_isa_select chose another). */
CRNN_API crnn_isa crnn_isa_active(void);
/* Use the given instruction set from now on, one the CPU supports
 * (CRNN_ERR_ISA otherwise: nothing changes). Meant for tests and
 * benchmarks, between calls; packed weights made before must be packed
 * again (forward then returns CRNN_ERR_PACKED). */
CRNN_API crnn_status crnn_isa_select(crnn_isa isa);
/* "generic", "avx2", "avx512", "avx512vnni" (NULL for another value), and back: the
 * name to the set (CRNN_ERR_ISA for an unknown name). */
CRNN_API const char *crnn_isa_name(crnn_isa isa);
CRNN_API crnn_status crnn_isa_from_name(const char *name, crnn_isa *isa);
/* Panel width (elements) of the active kernels for float and double. */
CRNN_API size_t crnn_isa_panel_width(int double_precision);

/* Fortran BLAS prototypes, as scipy.linalg.cython_blas and OpenBLAS
 * (sgemm_, dgemm_) export them: column-major, 32-bit int. */
typedef void crnn_sgemm_fn(char *transa, char *transb, int *m, int *n, int *k,
                           float *alpha, float *a, int *lda, float *b,
                           int *ldb, float *beta, float *c, int *ldc);
typedef void crnn_dgemm_fn(char *transa, char *transb, int *m, int *n, int *k,
                           double *alpha, double *a, int *lda, double *b,
                           int *ldb, double *beta, double *c, int *ldc);

/* A second thread's help with one call (see crnn_team_help). */
typedef struct crnn_team crnn_team;

/* What the core computes with, injected by the caller.
 *
 * sgemm / dgemm: a Fortran BLAS gemm for float / double (OpenBLAS's
 * sgemm_, SciPy's scipy.linalg.cython_blas, MKL, the reference BLAS), or
 * NULL. Given one, the core calls it for the products over a whole
 * sequence: a forward's input projections x W_ih^T over all steps and
 * backward's dX = dA W_ih, dW_ih += dA^T x, dW_hh += dA^T h and dW_hr
 * after the time loop, where it measured at least as fast as the core's
 * own kernels: on the portable kernels (CRNN_ISA_GENERIC: no own SIMD
 * kernels for this CPU) from 16 rows on, and there also the per-step
 * recurrent products of 16 rows or more; on AVX2 / AVX-512, whose own
 * kernels run these products at the GEMM floor, only wide ones (at least
 * 512 rows, 512 outputs, 128 inputs and 2^26 multiply-adds). The per-step
 * products on AVX2 / AVX-512 and every call of fewer rows (a stream's
 * frame) stay on the core's own kernels, fused with the gate math.
 * Calls are made from the calling thread (and the team's helper, each on
 * its half of the columns): a multi-threaded BLAS should be held to one
 * thread meanwhile, or its idle workers compete with the time loop. Sums
 * inside a BLAS change order with the number of rows and its kernels, so
 * results may differ in the last bits with the batch.
 * NULL (both, or the one of a type): every product on the core's own
 * kernels, whose sums have a fixed order: a sequence's results are the
 * same bits whatever its batch, packing, chunking or threads (crnn's
 * deterministic mode). int8 / bfloat16 weights (crnn_q_forward) never
 * call BLAS.
 *
 * team: optionally, a helper thread that takes a share of every product
 * (see below); NULL: the calling thread does everything. */
typedef struct crnn_blas {
    crnn_sgemm_fn *sgemm;
    crnn_dgemm_fn *dgemm;
    crnn_team *team;
} crnn_blas;

/*
 * Teams. A forward or backward call whose crnn_blas has a team splits
 * every product (the per-step ones, and the whole-sequence ones, by output
 * columns or rows, BLAS's too) with a helper: another thread that calls
 * crnn_team_help(team) meanwhile (before, during or after the call starts).
 * The call never waits for a helper that has not come (it does the share
 * itself), so a late or missing helper costs speed, never progress. One
 * team serves one call: crnn_team_init it before each, and start the
 * helper no earlier; crnn_team_help returns when that call has ended.
 * Worth it when the steps are few rows over large weights (batch 1 with a
 * hidden size of a few hundred): then each core reads half the weights.
 */
CRNN_API size_t crnn_team_size(void); /* bytes, to be aligned to 64 */
CRNN_API crnn_team *crnn_team_init(void *memory);
CRNN_API void crnn_team_help(crnn_team *team);
/* Lets the helper go: every call does this as it returns; a caller that
 * ends up not making the call must do it. */
CRNN_API void crnn_team_end(crnn_team *team);

/* Cell kinds. */
typedef enum crnn_cell {
    CRNN_RNN_TANH = 0, /* h' = tanh(W_ih x + b_ih + W_hh h + b_hh) */
    CRNN_RNN_RELU = 1, /* h' = relu(W_ih x + b_ih + W_hh h + b_hh) */
    CRNN_LSTM = 2,     /* i,f,g,o gates; optional projection (proj_size) */
    CRNN_GRU = 3       /* r,z,n gates, torch's equations */
} crnn_cell;

/* One layer in one direction. */
typedef struct crnn_layer {
    crnn_cell cell;
    size_t input_size;  /* I >= 1 */
    size_t hidden_size; /* H >= 1 */
    size_t proj_size;   /* LSTM: 0 or P < H, h_t = W_hr (o * tanh(c_t));
                           other kinds: 0 */
    int reverse;        /* 0: t = 0 .. L-1; nonzero: t = L-1 .. 0 */
} crnn_layer;

/* G, the number of gates of a cell kind: 1 (Elman), 4 (LSTM: i, f, g, o),
 * 3 (GRU: r, z, n); the weights w_ih and w_hh have G*H rows. 0 for a value
 * that is no crnn_cell. */
CRNN_API size_t crnn_cell_gates(crnn_cell cell);
/* P, the features of the layer's output and of its state h: proj_size,
 * or hidden_size without projection (proj_size 0). 0 for NULL. The layer
 * is not checked (crnn_buffer_sizes does that). */
CRNN_API size_t crnn_output_size(const crnn_layer *layer);

/* The batch of sequences. */
typedef struct crnn_batch {
    size_t steps;                /* L: time steps (the longest sequence) */
    size_t size;                 /* N: sequences */
    const int64_t *batch_sizes;  /* NULL: padded, N rows at every step.
                                    Else packed: [L] counts, batch_sizes[0]
                                    == N, non-increasing, >= 1; sequence n
                                    is active at step t iff
                                    n < batch_sizes[t]. */
} crnn_batch;

/* Buffers, in elements of the real type (float or double). */
typedef enum crnn_pass {
    CRNN_PASS_INFERENCE = 0, /* forward without a reserve */
    CRNN_PASS_TRAINING = 1,  /* forward that fills a reserve */
    CRNN_PASS_BACKWARD = 2   /* backward from that reserve */
} crnn_pass;

/* Every buffer of one layer-direction over a batch, in elements. */
typedef struct crnn_sizes {
    size_t reserve;      /* a training forward fills it, backward reads it */
    size_t workspace[3]; /* per crnn_pass (index); may be 0 */
    size_t panels;       /* the part of a forward's workspace (its end) that
                            holds the weights repacked: not needed when
                            params.packed is given (0 when a forward of
                            this batch reads the weights in place) */
    size_t packed;       /* crnn_?_pack's output */
} crnn_sizes;

/* Fills *sizes, or says why it cannot: CRNN_ERR_NULL, CRNN_ERR_SIZE (cell
 * kind, input/hidden/proj size), CRNN_ERR_BATCH_SIZES, CRNN_ERR_TOO_LARGE
 * (a size overflows size_t). The single-number queries below give the
 * same values, and SIZE_MAX where this fails. */
CRNN_API crnn_status crnn_buffer_sizes(const crnn_layer *layer,
                                       const crnn_batch *batch,
                                       crnn_sizes *sizes);

/* Rows of the batch: L*N padded, the sum of batch_sizes packed. */
CRNN_API size_t crnn_rows(const crnn_batch *batch);
/* Workspace for one call of the given pass (may be 0). SIZE_MAX on
 * overflow or invalid layer. Inference's does not grow with the sequence
 * length beyond a few hundred rows (it works through the input in
 * chunks); training's backward holds (rows x gates*hidden). */
CRNN_API size_t crnn_workspace_size(const crnn_layer *layer,
                                    const crnn_batch *batch, crnn_pass pass);
/* Reserve that a training forward fills and backward reads. */
CRNN_API size_t crnn_reserve_size(const crnn_layer *layer,
                                  const crnn_batch *batch);

/* Typed tensors and parameters, one set per real type. */
#define CRNN_DECLARE_TYPES(p, T)                                              \
    /* sequence tensor (L, N, F); see Conventions */                          \
    typedef struct crnn_##p##_seq {                                           \
        T *data;                                                              \
        ptrdiff_t stride_t, stride_n;                                         \
    } crnn_##p##_seq;                                                         \
    /* state: h is (N, H) with row stride ld_h; c (LSTM) likewise */          \
    typedef struct crnn_##p##_state {                                         \
        T *h;                                                                 \
        size_t ld_h;                                                          \
        T *c;                                                                 \
        size_t ld_c;                                                          \
    } crnn_##p##_state;                                                       \
    /* parameters (or their gradients) of one layer-direction; b_* NULL     \
       when the layer has no bias, w_hr NULL without projection */            \
    typedef struct crnn_##p##_params {                                        \
        T *w_ih; /* (G*H, I) */                                               \
        T *w_hh; /* (G*H, H) */                                               \
        T *b_ih; /* (G*H) */                                                  \
        T *b_hh; /* (G*H) */                                                  \
        T *w_hr; /* (P, H), LSTM with proj_size P only */                     \
        /* optional, forward only: w_hh, w_hr and w_ih as crnn_?_pack left  \
           them (kept in step with them by the caller); NULL: a forward of  \
           more than a few rows packs them into its workspace */            \
        const T *packed;                                                      \
    } crnn_##p##_params;

CRNN_DECLARE_TYPES(s, float)
CRNN_DECLARE_TYPES(d, double)

/*
 * crnn_?_forward — run one layer in one direction over the batch.
 *   [in]  x        (L, N, I)
 *   [in]  h0       (N, P) h_0, and (N, H) c_0 for LSTM; NULL = zeros
 *   [out] out      (L, N, P) h_t of every step; data NULL = not written.
 *                  May be a column slice of a wider array (one direction
 *                  of a bidirectional output).
 *   [out] hn       (N, P) h and (N, H) c after each sequence's last step
 *                  (for reverse: after t = 0); NULL = not written
 *   [out] reserve  crnn_reserve_size() elements; NULL for inference.
 *                  Filled with what backward needs.
 *   [tmp] work     crnn_workspace_size(pass) elements (may be NULL if 0)
 * out, hn and reserve must not overlap x, h0 or each other.
 */
#define CRNN_DECLARE_FORWARD(p, T)                                            \
    CRNN_API crnn_status crnn_##p##_forward(                                  \
        const crnn_blas *blas, const crnn_layer *layer,                       \
        const crnn_batch *batch, const crnn_##p##_params *w,                  \
        crnn_##p##_seq x, crnn_##p##_state h0, crnn_##p##_seq out,            \
        crnn_##p##_state hn, T *reserve, T *work);

/*
 * crnn_?_backward — backpropagation through time of one layer-direction,
 * after a training forward that filled `reserve`. Accumulates (+=).
 *   [in]  w        parameters used by the forward
 *   [out] dw       parameter gradients (+=); a NULL member is skipped
 *   [in]  x        (L, N, I) the forward's input
 *   [in]  dout     (L, N, P) gradient of the loss w.r.t. out; NULL = zeros
 *   [in]  dhn      gradient w.r.t. hn (h, and c for LSTM); NULL = zeros
 *   [out] dx       (L, N, I) gradient w.r.t. x (+=); data NULL = skipped
 *   [out] dh0      gradient w.r.t. h0 (h, and c for LSTM) (+=); NULL = skipped
 *   [in]  reserve  as filled by the training forward
 *   [tmp] work     crnn_workspace_size(CRNN_PASS_BACKWARD) elements
 */
#define CRNN_DECLARE_BACKWARD(p, T)                                           \
    CRNN_API crnn_status crnn_##p##_backward(                                 \
        const crnn_blas *blas, const crnn_layer *layer,                       \
        const crnn_batch *batch, const crnn_##p##_params *w,                  \
        const crnn_##p##_params *dw, crnn_##p##_seq x,                        \
        crnn_##p##_seq dout, crnn_##p##_state dhn, crnn_##p##_seq dx,         \
        crnn_##p##_state dh0, const T *reserve, T *work);

/*
 * crnn_?_pack — the weights of one layer-direction (w_hh, w_hr with
 * projection, and w_ih), repacked the way forward's products read them,
 * into `packed` (crnn_packed_size() elements), for the instruction set in
 * use.
 * Set params.packed to it: forward calls then skip their own repacking,
 * which pays at batch 1 and in short calls (streaming). Pack again whenever
 * the weights change or crnn_isa_select changed the instruction set.
 */
CRNN_API size_t crnn_packed_size(const crnn_layer *layer);
#define CRNN_DECLARE_PACK(p, T)                                               \
    CRNN_API crnn_status crnn_##p##_pack(const crnn_layer *layer,             \
                                         const crnn_##p##_params *w,          \
                                         T *packed);

CRNN_DECLARE_PACK(s, float)
CRNN_DECLARE_PACK(d, double)
CRNN_DECLARE_FORWARD(s, float)
CRNN_DECLARE_FORWARD(d, double)
CRNN_DECLARE_BACKWARD(s, float)
CRNN_DECLARE_BACKWARD(d, double)

/*
 * Quantized weights, for inference (serving). A layer-direction's weight
 * matrices stored as int8, symmetric with one float scale per output row
 * (W[r][k] ~ scale[r] * q[r][k], q in [-127, 127]), or as bfloat16 (the
 * upper 16 bits of a float32, as uint16). Biases, inputs, states and
 * outputs stay float32; so does the arithmetic of the cells.
 *  - int8: each product quantizes its input rows on the fly, per row
 *    (symmetric, to 127 levels each side where the CPU has AVX-512 VNNI,
 *    to 63 elsewhere on x86: vpmaddubsw's int16 sums must not saturate;
 *    127 in the portable kernels), sums in int32 exactly, and scales the
 *    sum back to float. A row's result depends on that row alone: the same
 *    bits whatever the batch, chunking or threads, within one instruction
 *    set.
 *  - bfloat16: the weights are widened to float32 in registers (exact) and
 *    the products accumulate in float32 with the inputs as they are.
 * Input sizes of int8 layers are limited to 65536 (exact int32 sums).
 */
typedef enum crnn_qtype {
    CRNN_QINT8 = 1, /* int8_t weights, float scales per row */
    CRNN_QBF16 = 2  /* uint16_t: bfloat16 bit patterns */
} crnn_qtype;

/* The quantized weights of one layer-direction, torch's shapes, row-major
 * (as crnn_s_params): w_ih (G*H, I), w_hh (G*H, P), w_hr (P, H) with
 * projection (else NULL). int8: the scales s_* have one float per row
 * (G*H, G*H, P); bfloat16: NULL. */
typedef struct crnn_q_weights {
    const void *w_ih, *w_hh, *w_hr;
    const float *s_ih, *s_hh, *s_hr;
} crnn_q_weights;

/* What crnn_q_forward reads: the weights as crnn_q_pack left them (any
 * instruction set reads the same packing), and the float32 biases (NULL:
 * the layer has none). */
typedef struct crnn_q_params {
    const void *packed;
    const float *b_ih, *b_hh;
} crnn_q_params;

/* Bytes crnn_q_pack writes (SIZE_MAX: invalid layer or type, or an int8
 * layer's input wider than 65536). The buffer must be 4-byte aligned (the
 * row scales are read in place); 64 is best. */
CRNN_API size_t crnn_q_packed_size(const crnn_layer *layer, crnn_qtype type);
/* Packs w for crnn_q_forward. CRNN_ERR_SCALE: an int8 scale that is not a
 * positive, finite float (nothing is trusted to run). */
CRNN_API crnn_status crnn_q_pack(const crnn_layer *layer, crnn_qtype type,
                                 const crnn_q_weights *w, void *packed);
/* Workspace of a crnn_q_forward over this batch, in floats (SIZE_MAX:
 * invalid). */
CRNN_API size_t crnn_q_workspace_size(const crnn_layer *layer,
                                      const crnn_batch *batch);
/* Inference of one layer-direction with quantized weights: as
 * crnn_s_forward without a reserve (the same tensors, states, strides and
 * statuses; CRNN_ERR_PACKED when w->packed is not crnn_q_pack's output). */
CRNN_API crnn_status crnn_q_forward(const crnn_blas *blas, const crnn_layer *layer,
                                    const crnn_batch *batch, const crnn_q_params *w,
                                    crnn_s_seq x, crnn_s_state h0, crnn_s_seq out,
                                    crnn_s_state hn, float *work);

#ifdef __cplusplus
}
#endif

#endif /* CRNN_H */
