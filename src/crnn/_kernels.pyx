# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython shim between the Python layers and the C core.

A layer in one direction is one ``Direction``, built with its module: the
C layer description and the weights and gradients it works on, checked
once, and its weights repacked for inference. A call's batch is one
``Batch``. Each call checks the arrays it is handed (dtype, rank, shape,
strides, writability), sizes and allocates the core's workspace (C memory,
freed on return), releases the GIL around the core call and turns the
core's status codes into Python exceptions. It never loops over time steps
and creates no Python objects in a call (the layers hand in the arrays;
the one exception: repacking weights that changed).
BLAS: the core's ``crnn_blas`` gets SciPy's ``sgemm`` / ``dgemm`` (from
``scipy.linalg.cython_blas``, taken at import; the extension links no
BLAS) for the products over whole sequences, or NULL pointers in the
deterministic mode: then every product runs on the core's own kernels.
"""
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyBUF_STRIDES, PyBUF_FORMAT, PyBUF_WRITABLE)
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from libc.stdint cimport int64_t, SIZE_MAX
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memset, strcmp
from cpython.time cimport PyTime_AsSecondsDouble, PyTime_PerfCounterRaw
from collections import namedtuple
import numpy as np

cdef extern from "crnn.h" nogil:
    ctypedef int crnn_status
    int CRNN_OK, CRNN_ERR_SIZE, CRNN_ERR_BATCH_SIZES, CRNN_ERR_TOO_LARGE, CRNN_ERR_PACKED
    int CRNN_ERR_SCALE
    int CRNN_PASS_INFERENCE, CRNN_PASS_TRAINING, CRNN_PASS_BACKWARD
    int CRNN_VERSION_MAJOR, CRNN_VERSION_MINOR, CRNN_VERSION_PATCH
    const char *crnn_status_string(crnn_status)

    ctypedef struct crnn_team:
        pass

    ctypedef struct crnn_blas:
        void (*sgemm)(char *, char *, int *, int *, int *, float *, float *,
                      int *, float *, int *, float *, float *, int *) noexcept nogil
        void (*dgemm)(char *, char *, int *, int *, int *, double *, double *,
                      int *, double *, int *, double *, double *, int *) noexcept nogil
        crnn_team *team

    size_t crnn_team_size()
    crnn_team *crnn_team_init(void *memory)
    void crnn_team_help(crnn_team *team)
    void crnn_team_end(crnn_team *team)

    ctypedef struct crnn_layer:
        int cell
        size_t input_size, hidden_size, proj_size
        int reverse
    size_t crnn_cell_gates(int cell)
    size_t crnn_output_size(const crnn_layer *)

    ctypedef struct crnn_batch:
        size_t steps, size
        const int64_t *batch_sizes

    size_t crnn_rows(const crnn_batch *)
    ctypedef struct crnn_sizes:
        size_t reserve
        size_t workspace[3]
        size_t panels
        size_t packed
    crnn_status crnn_buffer_sizes(const crnn_layer *, const crnn_batch *, crnn_sizes *)
    const char *crnn_version()

    ctypedef int crnn_isa
    crnn_isa CRNN_ISA_GENERIC
    crnn_isa crnn_isa_best()
    crnn_isa crnn_isa_active()
    crnn_status crnn_isa_select(crnn_isa)
    const char *crnn_isa_name(crnn_isa)
    crnn_status crnn_isa_from_name(const char *, crnn_isa *)
    size_t crnn_isa_panel_width(int)

    int CRNN_QINT8, CRNN_QBF16
    size_t crnn_q_packed_size(const crnn_layer *, int)
    size_t crnn_q_workspace_size(const crnn_layer *, const crnn_batch *)

cdef extern from "_shim.h" nogil:
    ctypedef struct shim_seq:
        void *data
        ptrdiff_t st, sn
    ctypedef struct shim_mat:
        void *data
        size_t ld
    ctypedef struct shim_args:
        void *w[5]
        void *dw[5]
        void *packed
        shim_seq x, out, dout, dx
        shim_mat h0, c0, hn, cn, dhn, dcn, dh0, dc0
        void *reserve
        void *work
    crnn_status shim_forward(int dbl, const crnn_blas *, const crnn_layer *,
                             const crnn_batch *, const shim_args *)
    crnn_status shim_backward(int dbl, const crnn_blas *, const crnn_layer *,
                              const crnn_batch *, const shim_args *)
    crnn_status shim_pack(int dbl, const crnn_layer *, const shim_args *)
    crnn_status shim_q_pack(int qtype, const crnn_layer *, const shim_args *,
                            void *const scale[5], void *packed)
    crnn_status shim_q_forward(const crnn_blas *, const crnn_layer *,
                               const crnn_batch *, const shim_args *)

# the core's version: the header's (compiled in) and the library's (run time)
version = "%d.%d.%d" % (CRNN_VERSION_MAJOR, CRNN_VERSION_MINOR, CRNN_VERSION_PATCH)
core_version = crnn_version().decode()

# -- instruction sets (crnn.h): the kernels in use, chosen once per process
ISA_NAMES = tuple(crnn_isa_name(i).decode() for i in range(4))


def isa_best():
    """The best instruction set the CPU supports: 'avx512vnni', 'avx512',
    'avx2' or 'generic'."""
    return crnn_isa_name(crnn_isa_best()).decode()


def isa_active():
    """The instruction set of the kernels in use."""
    return crnn_isa_name(crnn_isa_active()).decode()


def isa_supported():
    """Every instruction set this CPU can run, lowest first."""
    return ISA_NAMES[:crnn_isa_best() + 1]


def select_isa(name, what="isa"):
    """Use the kernels of instruction set ``name`` from now on: one the CPU
    supports (ValueError otherwise). For tests and benchmarks, between
    calls; layers repack their cached weights by themselves."""
    cdef crnn_isa isa
    if not isinstance(name, str) or \
            crnn_isa_from_name(name.encode(), &isa) != CRNN_OK:
        raise ValueError(f"{what}: expected one of {', '.join(ISA_NAMES)}, got {name!r}")
    if crnn_isa_select(isa) != CRNN_OK:
        raise ValueError(f"{what}: this CPU does not support {name!r}; it supports "
                         f"{', '.join(isa_supported())} (best: {isa_best()})")


def panel_width(bint double_precision):
    """Columns of a panel of the active kernels (gemm.inc) for float or double."""
    return crnn_isa_panel_width(double_precision)


# CRNN_ISA forces a lower instruction set than the CPU's best (tests,
# benchmarks); read once, when crnn is imported
import os as _os
if _os.environ.get("CRNN_ISA", "").strip():
    select_isa(_os.environ["CRNN_ISA"].strip().lower(), "CRNN_ISA")


ctypedef void (*sgemm_fn)(char *, char *, int *, int *, int *, float *, float *,
                         int *, float *, int *, float *, float *, int *) noexcept nogil
ctypedef void (*dgemm_fn)(char *, char *, int *, int *, int *, double *, double *,
                         int *, double *, int *, double *, double *, int *) noexcept nogil

cdef extern from *:
    """
    /* gemm calls counted while counting is on (tests: the default mode
       calls BLAS; the deterministic mode does not) */
    static long crnn_shim_gemm_calls;
    static void crnn_shim_count(void) {
    #if defined(__GNUC__)
        __atomic_fetch_add(&crnn_shim_gemm_calls, 1, __ATOMIC_RELAXED);
    #else
        crnn_shim_gemm_calls++;
    #endif
    }
    """
    long crnn_shim_gemm_calls
    void crnn_shim_count() noexcept nogil

# SciPy's BLAS (the default mode) and the core's own kernels (NULL: the
# deterministic mode); BLAS is what calls get, one of the two
cdef crnn_blas SCIPY_BLAS, OWN, BLAS
cdef sgemm_fn scipy_sgemm = NULL
cdef dgemm_fn scipy_dgemm = NULL
OWN.sgemm = NULL
OWN.dgemm = NULL
OWN.team = NULL


cdef void *capi_pointer(object module, str name) except NULL:
    capsule = module.__pyx_capi__[name]
    return PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))


def _load_scipy_blas():
    """Take sgemm and dgemm from scipy.linalg.cython_blas (SciPy's bundled
    OpenBLAS in its wheels): the process keeps one BLAS for crnn and SciPy."""
    global scipy_sgemm, scipy_dgemm
    from scipy.linalg import cython_blas
    scipy_sgemm = <sgemm_fn>capi_pointer(cython_blas, "sgemm")
    scipy_dgemm = <dgemm_fn>capi_pointer(cython_blas, "dgemm")
    SCIPY_BLAS.sgemm = scipy_sgemm
    SCIPY_BLAS.dgemm = scipy_dgemm
    SCIPY_BLAS.team = NULL


cdef void counting_sgemm(char *ta, char *tb, int *m, int *n, int *k, float *alpha,
                         float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                         int *ldc) noexcept nogil:
    crnn_shim_count()
    scipy_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef void counting_dgemm(char *ta, char *tb, int *m, int *n, int *k, double *alpha,
                         double *a, int *lda, double *b, int *ldb, double *beta, double *c,
                         int *ldc) noexcept nogil:
    crnn_shim_count()
    scipy_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


_load_scipy_blas()
BLAS = SCIPY_BLAS
cdef bint deterministic = False


cdef size_t blas_min_rows() noexcept:
    """0 where no call reaches BLAS (the deterministic mode), else the
    fewest rows of a call that may (the core's rule, blocking.h: its
    CRNN_BLAS_ROWS on the portable kernels, CRNN_BLAS_WIDE on AVX2 and
    AVX-512)."""
    if deterministic:
        return 0
    return 16 if crnn_isa_active() == CRNN_ISA_GENERIC else 512


def blas_rows():
    """0 in the deterministic mode, else the fewest rows of a call that may
    reach BLAS with the instruction set in use: a call of fewer needs no
    hold on SciPy's OpenBLAS."""
    return blas_min_rows()


def set_deterministic(bint mode):
    """Every product on the core's own fixed-order kernels (True), or the
    products over whole sequences on SciPy's BLAS (False, the default)."""
    global BLAS, deterministic
    deterministic = mode
    BLAS = OWN if mode else SCIPY_BLAS


def is_deterministic():
    return bool(deterministic)


def count_blas_calls(bint on):
    """Count the gemm calls the core makes from now on (on) or stop counting
    (tests); returns the count so far and resets it."""
    global crnn_shim_gemm_calls
    calls = crnn_shim_gemm_calls
    crnn_shim_gemm_calls = 0
    SCIPY_BLAS.sgemm = counting_sgemm if on else scipy_sgemm
    SCIPY_BLAS.dgemm = counting_dgemm if on else scipy_dgemm
    if not deterministic:
        set_deterministic(False)
    return calls


cdef class Team:
    """A second thread's help with one forward or backward call (crnn.h,
    teams): pass it to that call as ``team=`` and run ``help()`` on another
    thread meanwhile; ``help`` returns when the call has ended, and the call
    never waits for a helper that has not come. One team, one call."""
    cdef void *memory
    cdef crnn_team *team

    def __cinit__(self):
        self.memory = malloc(crnn_team_size() + 64)
        if self.memory == NULL:
            raise MemoryError()
        # its own cache lines: the two threads hand jobs over through it
        self.team = crnn_team_init(<void *>((<size_t>self.memory + 63) & ~(<size_t>63)))

    def __dealloc__(self):
        free(self.memory)

    def help(self):
        with nogil:
            crnn_team_help(self.team)

    def end(self):
        crnn_team_end(self.team)


cdef const crnn_blas *blas_for(object team, crnn_blas *local) except NULL:
    """What the core computes with: the mode's BLAS (taken once, so that a
    call runs in one mode from start to end), the team of the call if it
    has one."""
    local[0] = BLAS
    if team is None:
        return local
    if not isinstance(team, Team):
        raise TypeError(f"team: expected a crnn._kernels.Team, got {type(team).__name__}")
    local.team = (<Team>team).team
    return local

# quantized weight types (crnn.h's crnn_qtype)
QINT8, QBF16 = CRNN_QINT8, CRNN_QBF16

# cell kinds, as crnn.h numbers them, and their gates (the core's count)
RNN_TANH, RNN_RELU, LSTM, GRU = 0, 1, 2, 3


def cell_gates(int cell):
    """The number of gates of a cell kind (crnn.h's crnn_cell_gates): the
    weights have gates * hidden_size rows; 0 for no cell kind."""
    return crnn_cell_gates(cell)


GATES = {cell: cell_gates(cell) for cell in (RNN_TANH, RNN_RELU, LSTM, GRU)}
# a layer-direction's parameters (or gradients) in crnn_?_params' order,
# torch's names; PACKED: the ones crnn_?_pack repacks (forward's products)
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
W_IH, W_HH, B_IH, B_HH, W_HR = range(5)
PACKED = (W_IH, W_HH, W_HR)

cdef enum:
    MAXBUF = 16

cdef struct Bufs:
    Py_buffer view[MAXBUF]
    int n


cdef void release(Bufs *b) noexcept:
    cdef int i
    for i in range(b.n):
        PyBuffer_Release(&b.view[i])
    b.n = 0


cdef Py_buffer *take(Bufs *b, object obj, str name, bint dbl, int ndim,
                     bint writable) except? NULL:
    """Acquire obj's buffer (None gives NULL) and check it: real type of the
    call, rank, non-negative strides that are whole elements, contiguous
    last axis, writable for outputs. Checked in C: a call creates no
    Python object unless it raises."""
    if obj is None:
        return NULL
    cdef Py_buffer *v
    cdef Py_ssize_t item = 8 if dbl else 4
    cdef int i
    cdef int flags = PyBUF_STRIDES | PyBUF_FORMAT | (PyBUF_WRITABLE if writable else 0)
    if b.n >= MAXBUF:
        raise RuntimeError("crnn shim: too many buffers in one call")
    v = &b.view[b.n]
    try:
        PyObject_GetBuffer(obj, v, flags)
    except BufferError as e:
        raise ValueError(f"{name}: {'a writable' if writable else 'a'} buffer is required ({e})") from None
    b.n += 1
    if v.format == NULL or strcmp(v.format, b"d" if dbl else b"f") != 0 or v.itemsize != item:
        fmt = (<bytes>v.format) if v.format != NULL else b"B"
        raise TypeError(f"{name}: expected dtype {'float64' if dbl else 'float32'}, "
                        f"got buffer format {fmt.decode()!r}")
    if v.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim}-D, got {v.ndim}-D")
    for i in range(ndim):
        if v.strides[i] < 0 or v.strides[i] % item:
            raise ValueError(f"{name}: strides {tuple(v.strides[j] for j in range(ndim))} "
                             "must be non-negative multiples of the item size")
    if ndim and v.shape[ndim - 1] > 1 and v.strides[ndim - 1] != item:
        raise ValueError(f"{name}: the last axis must be contiguous")
    return v


cdef void *take_any(Bufs *b, object arr) except NULL:
    """The data of a C-contiguous array the caller built (any dtype),
    held in b until released."""
    cdef Py_buffer *v
    if b.n >= MAXBUF:
        raise RuntimeError("crnn shim: too many buffers in one call")
    v = &b.view[b.n]
    PyObject_GetBuffer(arr, v, PyBUF_STRIDES)
    b.n += 1
    return v.buf


cdef tuple shape_of(Py_buffer *v):
    return tuple(v.shape[i] for i in range(v.ndim))


cdef void check_dims(Py_buffer *v, str name, int ndim, size_t d0, size_t d1=0,
                     size_t d2=0) except *:
    """v (None: NULL, not checked) has shape (d0, d1, d2)[:ndim]."""
    cdef size_t want[3]
    cdef int i
    if v == NULL:
        return
    want[0], want[1], want[2] = d0, d1, d2
    if v.ndim == ndim:
        for i in range(ndim):
            if <size_t>v.shape[i] != want[i]:
                break
        else:
            return
    raise ValueError(f"{name}: expected shape {tuple(want[i] for i in range(ndim))}, "
                     f"got {shape_of(v)}")


cdef void check_shape(Py_buffer *v, str name, tuple expected) except *:
    cdef tuple d = expected + (0,) * (3 - len(expected))
    check_dims(v, name, len(expected), d[0], d[1], d[2])


cdef void check_contig(Py_buffer *v, str name) except *:
    """Weights: C-contiguous."""
    cdef Py_ssize_t expect = v.itemsize
    cdef int i
    for i in range(v.ndim - 1, -1, -1):
        if v.shape[i] > 1 and v.strides[i] != expect:
            raise ValueError(f"{name}: must be C-contiguous")
        expect *= v.shape[i]


cdef shim_seq seq_of(Py_buffer *v, bint packed):
    cdef shim_seq s
    s.data = NULL
    s.st = 0
    s.sn = 0
    if v == NULL:
        return s
    s.data = v.buf
    if packed:   # (R, F)
        s.sn = v.strides[0] // v.itemsize
        s.st = s.sn
    else:        # (L, N, F)
        s.st = v.strides[0] // v.itemsize
        s.sn = v.strides[1] // v.itemsize
    return s


cdef shim_mat mat_of(Py_buffer *v):
    cdef shim_mat m
    m.data = NULL
    m.ld = 0
    if v != NULL:
        m.data = v.buf
        m.ld = <size_t>(v.strides[0] // v.itemsize)
    return m


cdef void raise_status(crnn_status st, str what="crnn core") except *:
    if st == CRNN_OK:
        return
    msg = crnn_status_string(st).decode()
    if st == CRNN_ERR_TOO_LARGE:
        raise OverflowError(f"{what}: {msg}")
    if st == CRNN_ERR_PACKED:
        raise ValueError(f"packed_weights: {msg}")
    if st == CRNN_ERR_SIZE or st == CRNN_ERR_BATCH_SIZES or st == CRNN_ERR_SCALE:
        raise ValueError(f"{what}: {msg}")
    raise RuntimeError(f"{what}: {msg} (status {st})")


cdef class Batch:
    """The batch of one call, shared by every layer-direction of it: L
    steps of N sequences, padded, or packed with ``batch_sizes`` (a 1-D
    int64 array, read in place and kept alive)."""
    cdef crnn_batch batch
    cdef readonly size_t rows
    cdef readonly object batch_sizes
    cdef Bufs bsbuf

    def __cinit__(self, size_t steps, size_t size, batch_sizes=None):
        cdef Py_buffer *v
        self.bsbuf.n = 0
        self.batch.steps = steps
        self.batch.size = size
        self.batch.batch_sizes = NULL
        self.batch_sizes = batch_sizes
        if batch_sizes is not None:
            v = &self.bsbuf.view[0]
            PyObject_GetBuffer(batch_sizes, v, PyBUF_STRIDES | PyBUF_FORMAT)
            self.bsbuf.n = 1
            if v.ndim != 1 or v.itemsize != 8 or (<bytes>v.format) not in (b"q", b"l") \
                    or (v.shape[0] > 1 and v.strides[0] != 8):
                raise TypeError("batch_sizes: expected a contiguous 1-D int64 array")
            if <size_t>v.shape[0] != steps:
                raise ValueError(f"batch_sizes: expected {steps} entries, got {v.shape[0]}")
            self.batch.batch_sizes = <const int64_t *>v.buf
        self.rows = crnn_rows(&self.batch)

    def __dealloc__(self):
        release(&self.bsbuf)

    @property
    def steps(self):
        return self.batch.steps

    @property
    def size(self):
        return self.batch.size

    @property
    def packed(self):
        return self.batch.batch_sizes != NULL


# what crnn_sizes holds, by name (elements)
Sizes = namedtuple("Sizes", "reserve inference training backward panels packed")


cdef object named(crnn_sizes *z):
    return Sizes(z.reserve, z.workspace[CRNN_PASS_INFERENCE],
                 z.workspace[CRNN_PASS_TRAINING], z.workspace[CRNN_PASS_BACKWARD],
                 z.panels, z.packed)


cdef void *aligned(void *raw) noexcept nogil:
    return <void *>((<size_t>raw + 63) & ~(<size_t>63))


# One spare workspace kept between calls (the largest recently given back,
# up to SPARE_MAX bytes): a fresh workspace of a few MB comes from new pages
# that the kernel faults in and zeroes, and goes back to the OS on free, at
# every call; for a small model's training step that was half its time.
# Taken and given back with the GIL held.
cdef void *spare_raw = NULL
cdef size_t spare_bytes = 0
cdef enum:
    SPARE_MAX = 256 << 20


cdef struct Work:
    void *raw
    size_t bytes


cdef void *workspace(size_t n, bint dbl, Work *w) except NULL:
    """A workspace of n elements on a cache line (give_back(w) after)."""
    global spare_raw, spare_bytes
    w.bytes = n * (8 if dbl else 4) + 64
    if spare_raw != NULL and spare_bytes >= w.bytes:
        w.raw, w.bytes = spare_raw, spare_bytes
        spare_raw, spare_bytes = NULL, 0
    else:
        w.raw = malloc(w.bytes)
        if w.raw == NULL:
            raise MemoryError(f"work: cannot allocate {n} elements")
    return aligned(w.raw)


cdef void give_back(Work *w) noexcept:
    """Keep the larger of w and the spare (within SPARE_MAX), free the other."""
    global spare_raw, spare_bytes
    if w.raw == NULL:
        return
    if w.bytes <= SPARE_MAX and (spare_raw == NULL or spare_bytes < w.bytes):
        free(spare_raw)
        spare_raw, spare_bytes = w.raw, w.bytes
    else:
        free(w.raw)
    w.raw = NULL


# For benchmarks: the core's own time of forward calls, read on Python's
# perf_counter clock (the same on every platform; read without the GIL),
# per call (Direction.time_forward) or summed over the calls the layers
# make while clocked (core_clock); the clock is not read otherwise
cdef inline double now() noexcept nogil:
    return PyTime_AsSecondsDouble(PyTime_PerfCounterRaw())


cdef bint clocked = False
cdef double clock_seconds = 0
cdef size_t clock_calls = 0


cdef void clock_add(double seconds) noexcept:
    """Count one forward that spent seconds in the core (with the GIL;
    not when the clock was switched off meanwhile)."""
    global clock_seconds, clock_calls
    if clocked and seconds >= 0:
        clock_seconds += seconds
        clock_calls += 1


def core_clock(bint on):
    """For benchmarks: start (on) or stop summing the time every forward
    spends in the core, in the calls the layers make; returns (calls,
    seconds) summed since the last start."""
    global clocked, clock_seconds, clock_calls
    calls, seconds = clock_calls, clock_seconds
    clocked = on
    if on:
        clock_seconds, clock_calls = 0, 0
    return calls, seconds


cdef class Direction:
    """One layer in one direction, built once per module (its weights stay
    where they are; crnn's modules keep them in one flat buffer): the C
    layer description, the weights and gradients it reads and writes,
    checked once here, and its weights repacked for the kernels, kept while
    they hold the same bytes. ``forward`` and ``backward`` then take a call's
    batch, sequences and states; they size and allocate the workspace, and
    run without the GIL."""
    cdef crnn_layer layer
    cdef readonly bint dbl
    cdef shim_args params        # w and dw only
    cdef Bufs held               # the weights' and gradients' buffers
    cdef readonly tuple weights, grads
    cdef object dtype
    cdef object kept             # copies of the PACKED weights behind packed
    cdef object packed
    cdef crnn_isa packed_isa
    cdef readonly int qtype      # 0, or quantized weights: QINT8, QBF16
    cdef const void *qpacked     # crnn_q_pack's output, in packed
    cdef readonly size_t out_size      # P: proj_size or hidden_size
    # the sizes of the last batch asked about, under the instruction set
    # then active (a stream asks about the same Batch at every call)
    cdef Batch sized
    cdef crnn_isa sized_isa
    cdef crnn_sizes sized_z

    def __cinit__(self, int cell, bint reverse, size_t input_size, size_t hidden_size,
                  size_t proj_size, tuple weights, tuple grads=None, int qtype=0,
                  tuple scales=None):
        """weights (w_ih, w_hh, b_ih, b_hh, w_hr), float32 or float64 (and
        grads like them); or with qtype QINT8 (scales: the weights' per-row
        float32 scales, None for the biases) or QBF16 the three matrices
        int8 or uint16 (bfloat16 bits), the biases float32: packed once,
        here, for inference only."""
        cdef crnn_batch one
        cdef crnn_sizes z
        self.held.n = 0
        memset(&self.params, 0, sizeof(shim_args))
        self.layer.cell = cell
        self.layer.input_size = input_size
        self.layer.hidden_size = hidden_size
        self.layer.proj_size = proj_size
        self.layer.reverse = reverse
        self.out_size = crnn_output_size(&self.layer)
        one.steps = one.size = 1
        one.batch_sizes = NULL
        raise_status(crnn_buffer_sizes(&self.layer, &one, &z), "layer")
        if len(weights) != 5 or weights[W_HH] is None:
            raise ValueError("weights: expected (w_ih, w_hh, b_ih, b_hh, w_hr)")
        self.qtype = qtype
        self.dtype = np.dtype(np.float32) if qtype else weights[W_HH].dtype
        self.dbl = self.dtype.itemsize == 8
        self.weights, self.grads = weights, grads
        self.packed = None
        if qtype:
            if grads is not None:
                raise ValueError("grads: quantized weights are for inference only")
            self.take_quantized(weights, scales)
            return
        self.take_params(weights, False)
        if grads is not None:
            self.take_params(grads, True)

    cdef void take_quantized(self, tuple weights, tuple scales) except *:
        """The int8 / bfloat16 weights and their scales checked, packed."""
        cdef size_t GH = crnn_cell_gates(self.layer.cell) * self.layer.hidden_size
        cdef tuple shapes = ((GH, self.layer.input_size), (GH, self.out_size), None, None,
                             (self.out_size, self.layer.hidden_size)
                             if self.layer.proj_size else None)
        cdef void *scale[5]
        cdef size_t n = crnn_q_packed_size(&self.layer, self.qtype)
        cdef Bufs b
        cdef crnn_status st
        cdef int i
        want = np.dtype(np.int8 if self.qtype == CRNN_QINT8 else np.uint16)
        if n == SIZE_MAX:
            raise ValueError(f"layer: cannot be quantized (an int8 layer's inputs are at "
                             f"most 65536 wide), got input_size={self.layer.input_size}, "
                             f"hidden_size={self.layer.hidden_size}")
        if scales is None:
            scales = (None,) * 5
        self.take_params((None, None, weights[B_IH], weights[B_HH], None), False, True)
        memset(scale, 0, sizeof(scale))
        b.n = 0
        try:
            for i in (W_IH, W_HH, W_HR):
                if shapes[i] is None:
                    continue
                w = np.ascontiguousarray(weights[i])
                if w.dtype != want or w.shape != shapes[i]:
                    raise ValueError(f"{WEIGHT_NAMES[i]}: expected {want} of shape "
                                     f"{shapes[i]}, got {w.dtype} of shape {w.shape}")
                self.params.w[i] = take_any(&b, w)
                if self.qtype == CRNN_QINT8:
                    sc = np.ascontiguousarray(scales[i], np.float32)
                    if sc.shape != (shapes[i][0],):
                        raise ValueError(f"{WEIGHT_NAMES[i]}_scale: expected shape "
                                         f"{(shapes[i][0],)}, got {sc.shape}")
                    scale[i] = take_any(&b, sc)
            raw = np.empty(n + 64, np.uint8)
            off = (-raw.ctypes.data) % 64
            self.packed = raw[off:off + n]
            self.qpacked = take_any(&b, self.packed)
            with nogil:
                st = shim_q_pack(self.qtype, &self.layer, &self.params, scale,
                                 <void *>self.qpacked)
            raise_status(st, "scales")
        finally:
            release(&b)
            for i in (W_IH, W_HH, W_HR):
                self.params.w[i] = NULL

    def __dealloc__(self):
        release(&self.held)

    @property
    def nbytes(self):
        """Bytes this object keeps beside the module's parameters: the
        weights repacked (and the copy they came from), or the quantized
        packing."""
        arrays = [self.packed] + list(self.kept or ())
        return sum(a.nbytes for a in arrays if a is not None)

    cdef void take_params(self, tuple params, bint grads, bint biases_only=False) except *:
        cdef size_t GH = crnn_cell_gates(self.layer.cell) * self.layer.hidden_size
        cdef size_t H = self.layer.hidden_size, I = self.layer.input_size
        cdef size_t P = self.out_size
        cdef tuple shapes = ((GH, I), (GH, P), (GH,), (GH,),
                             (P, H) if self.layer.proj_size else None)
        cdef Py_buffer *v
        cdef int i
        if len(params) != 5:
            raise ValueError("params: expected (w_ih, w_hh, b_ih, b_hh, w_hr)")
        for i in range(5):
            name = ("grad of " if grads else "") + WEIGHT_NAMES[i]
            if shapes[i] is None or (biases_only and i not in (B_IH, B_HH)):
                if params[i] is not None:
                    raise ValueError(f"{name}: given, but proj_size is 0")
                continue
            v = take(&self.held, params[i], name, self.dbl, len(shapes[i]), grads)
            if v == NULL and (i < 2 or i == 4) and not grads and not biases_only:
                raise ValueError(f"{name}: required")
            if v == NULL:
                continue
            check_shape(v, name, shapes[i])
            check_contig(v, name)
            if grads:
                self.params.dw[i] = v.buf
            else:
                self.params.w[i] = v.buf

    cdef crnn_sizes sizes_of(self, Batch b) except *:
        cdef crnn_sizes z
        if b is self.sized and self.sized_isa == crnn_isa_active():
            return self.sized_z
        raise_status(crnn_buffer_sizes(&self.layer, &b.batch, &z), "batch")
        self.sized, self.sized_isa, self.sized_z = b, crnn_isa_active(), z
        return z

    def sizes(self, Batch b):
        """The buffers of this layer-direction over batch b (``Sizes``)."""
        cdef crnn_sizes z = self.sizes_of(b)
        return named(&z)

    cdef object packed_weights(self):
        """The weights as the kernels read them, repacked when they changed
        since (compared with the copy they came from, without the GIL) or
        the instruction set did."""
        cdef Bufs b
        cdef shim_args a
        cdef crnn_status st
        cdef bint same = self.packed is not None and self.packed_isa == crnn_isa_active()
        cdef int i, j
        cdef Py_buffer *v
        b.n = 0
        try:
            for i, j in enumerate(PACKED):
                if not same or self.kept[i] is None:
                    continue
                v = take(&b, self.kept[i], "kept", self.dbl, self.kept[i].ndim, False)
                with nogil:
                    same = memcmp(v.buf, self.params.w[j], <size_t>v.len) == 0
            if same:
                return self.packed
            kept = tuple(None if self.weights[j] is None else self.weights[j].copy()
                         for j in PACKED)
            packed = np.empty(self.sizes_of(Batch(1, 1)).packed, self.dtype)
            a = self.params
            for i, j in enumerate(PACKED):
                if kept[i] is not None:
                    a.w[j] = take(&b, kept[i], "kept", self.dbl, kept[i].ndim, False).buf
            a.packed = take(&b, packed, "packed", self.dbl, 1, True).buf
            with nogil:
                st = shim_pack(self.dbl, &self.layer, &a)
            raise_status(st)
            self.kept, self.packed, self.packed_isa = kept, packed, crnn_isa_active()
            return packed
        finally:
            release(&b)

    cdef shim_seq seq(self, Bufs *b, Batch bt, object obj, str name, size_t F,
                      bint writable) except *:
        cdef bint packed = bt.batch.batch_sizes != NULL
        cdef Py_buffer *v = take(b, obj, name, self.dbl, 2 if packed else 3, writable)
        if packed:
            check_dims(v, name, 2, bt.rows, F)
        else:
            check_dims(v, name, 3, bt.batch.steps, bt.batch.size, F)
        return seq_of(v, packed)

    cdef shim_mat state(self, Bufs *b, Batch bt, object obj, str name, bint cell_state,
                        bint writable) except *:
        """A state (N, P), or with cell_state an LSTM's c (N, H)."""
        cdef Py_buffer *v
        if obj is not None and cell_state and self.layer.cell != LSTM:
            raise ValueError(f"{name}: only an LSTM has a cell state")
        v = take(b, obj, name, self.dbl, 2, writable)
        check_dims(v, name, 2, bt.batch.size,
                   self.layer.hidden_size if cell_state else self.out_size)
        return mat_of(v)

    cdef void *reserve(self, Bufs *b, object obj, size_t need, bint writable) except NULL:
        cdef Py_buffer *v = take(b, obj, "reserve", self.dbl, 1, writable)
        if v == NULL or <size_t>v.shape[0] < need or (v.shape[0] > 1 and v.strides[0] != v.itemsize):
            raise ValueError(f"reserve: expected a contiguous 1-D buffer of {need} elements "
                             f"(this batch's), got {None if v == NULL else shape_of(v)}")
        return v.buf

    cdef void prepare_forward(self, Bufs *b, shim_args *a, Work *work, Batch batch, x, h0,
                              c0, out, hn, cn, reserve, bint use_packed) except *:
        """Fill a (a copy of params) for one forward call: the buffers
        checked and held in b, the workspace taken into work."""
        cdef crnn_sizes z = self.sizes_of(batch)
        cdef bint training = reserve is not None
        cdef size_t need
        a.x = self.seq(b, batch, x, "x", self.layer.input_size, False)
        if a.x.data == NULL:
            raise ValueError("x: required")
        a.out = self.seq(b, batch, out, "out", self.out_size, True)
        a.h0 = self.state(b, batch, h0, "h0", False, False)
        a.hn = self.state(b, batch, hn, "hn", False, True)
        a.c0 = self.state(b, batch, c0, "c0", True, False)
        a.cn = self.state(b, batch, cn, "cn", True, True)
        if training:
            a.reserve = self.reserve(b, reserve, z.reserve, True)
        need = z.workspace[CRNN_PASS_TRAINING if training else CRNN_PASS_INFERENCE]
        if self.qtype:
            if training:
                raise ValueError("reserve: quantized weights are for inference only")
            a.packed = <void *>self.qpacked
            need = crnn_q_workspace_size(&self.layer, &batch.batch)
        elif use_packed and not training:
            packed = self.packed_weights()
            a.packed = take(b, packed, "packed", self.dbl, 1, False).buf
            need -= z.panels
        a.work = workspace(need, self.dbl, work)

    cdef inline crnn_status run_core(self, const crnn_blas *bl, const crnn_batch *batch,
                                     const shim_args *a) noexcept nogil:
        """The core's forward of this layer-direction, float or quantized."""
        if self.qtype:
            return shim_q_forward(bl, &self.layer, batch, a)
        return shim_forward(self.dbl, bl, &self.layer, batch, a)

    cdef int run_forward(self, Batch batch, x, h0, c0, out, hn, cn, reserve,
                         bint use_packed, team, size_t repeats, double *seconds) except -1:
        """forward's work: the arrays checked and held, the workspace taken,
        then the core run ``repeats`` times without the GIL (each run
        computes the same, from h0); seconds: NULL, or where each run's time
        in the core goes."""
        cdef Bufs b
        cdef shim_args a = self.params
        cdef crnn_blas local
        cdef const crnn_blas *bl = blas_for(team, &local)
        cdef crnn_status st = CRNN_OK
        cdef Work work
        cdef size_t i
        cdef double t0 = 0
        b.n = 0
        work.raw = NULL
        try:
            self.prepare_forward(&b, &a, &work, batch, x, h0, c0, out, hn, cn, reserve,
                                 use_packed)
            with nogil:
                for i in range(repeats):
                    if seconds != NULL:
                        t0 = now()
                    st = self.run_core(bl, &batch.batch, &a)
                    if seconds != NULL:
                        seconds[i] = now() - t0
                    if st != CRNN_OK:
                        break
            raise_status(st)
        finally:
            give_back(&work)
            release(&b)
        return 0

    def forward(self, Batch batch, x, h0=None, c0=None, out=None, hn=None, cn=None,
                reserve=None, bint use_packed=False, team=None):
        """One layer-direction over the batch: x (L, N, I) padded (any
        non-negative strides, contiguous last axis) or (R, I) packed; h0,
        hn (N, P), an LSTM's c0, cn (N, H), None: zeros / not wanted; out
        like x with P features (may be a column slice of a wider array) or
        None. reserve: for a training forward, 1-D of ``sizes(batch).reserve``
        elements, filled with what backward needs (None: inference).
        use_packed: read the weights repacked once (inference over several
        steps). team: a ``Team`` whose helper shares the products."""
        cdef double seconds = -1
        if not clocked:
            self.run_forward(batch, x, h0, c0, out, hn, cn, reserve, use_packed, team, 1, NULL)
            return
        self.run_forward(batch, x, h0, c0, out, hn, cn, reserve, use_packed, team, 1, &seconds)
        clock_add(seconds)

    def time_forward(self, size_t repeats, Batch batch, x, h0=None, c0=None, out=None,
                     hn=None, cn=None, bint use_packed=False):
        """For benchmarks: the core's own time (seconds per call, median
        of ``repeats`` timed calls) of an inference forward with these
        arrays: forward's path, the arrays prepared once and the core run
        ``repeats`` times back to back without the GIL (each run computes
        the same, from h0), each run timed on perf_counter's clock."""
        cdef double *times = <double *>malloc((repeats + 1) * sizeof(double))
        if times == NULL:
            raise MemoryError()
        try:
            self.run_forward(batch, x, h0, c0, out, hn, cn, None, use_packed, None, repeats,
                             times)
            return float(np.median([times[i] for i in range(repeats)]))
        finally:
            free(times)

    def backward(self, Batch batch, x, reserve, dout=None, dhn=None, dcn=None, dx=None,
                 dh0=None, dc0=None, team=None):
        """Backpropagation through time after a training forward that
        filled ``reserve``: adds (+=) into the gradients given at
        construction, dx, dh0 and dc0 (None: not wanted); dout, dhn, dcn
        None mean zeros. Shapes as for forward."""
        cdef Bufs b
        cdef shim_args a = self.params
        cdef crnn_sizes z = self.sizes_of(batch)
        cdef crnn_blas local
        cdef const crnn_blas *bl = blas_for(team, &local)
        cdef crnn_status st
        cdef Py_buffer *v
        cdef Work work
        b.n = 0
        work.raw = NULL
        if self.grads is None:
            raise ValueError("grads: this layer-direction was built without gradients")
        try:
            a.x = self.seq(&b, batch, x, "x", self.layer.input_size, False)
            a.dout = self.seq(&b, batch, dout, "grad_out", self.out_size, False)
            a.dx = self.seq(&b, batch, dx, "grad_x", self.layer.input_size, True)
            a.dhn = self.state(&b, batch, dhn, "grad_hn", False, False)
            a.dh0 = self.state(&b, batch, dh0, "grad_h0", False, True)
            a.dcn = self.state(&b, batch, dcn, "grad_cn", True, False)
            a.dc0 = self.state(&b, batch, dc0, "grad_c0", True, True)
            a.reserve = self.reserve(&b, reserve, z.reserve, False)
            a.work = workspace(z.workspace[CRNN_PASS_BACKWARD], self.dbl, &work)
            with nogil:
                st = shim_backward(self.dbl, bl, &self.layer, &batch.batch, &a)
            raise_status(st)
        finally:
            give_back(&work)
            release(&b)


def sizes(int cell, size_t input_size, size_t hidden_size, size_t proj_size,
          size_t steps, size_t batch, batch_sizes=None):
    """The buffers (``Sizes``, elements) of one layer-direction of this
    kind over a batch, without weights: for tests and benchmarks."""
    cdef crnn_layer layer
    cdef crnn_sizes z
    cdef Batch b = Batch(steps, batch, batch_sizes)
    layer.cell = cell
    layer.input_size = input_size
    layer.hidden_size = hidden_size
    layer.proj_size = proj_size
    layer.reverse = 0
    raise_status(crnn_buffer_sizes(&layer, &b.batch, &z), "sizes")
    return named(&z)


# -- crnn.freeze: a serving object's one-frame path ---------------------------
from libc.string cimport memcpy

cdef object NDARRAY = np.ndarray


cdef inline bint plain_buffer(Py_buffer *v, int ndim, const Py_ssize_t *shape,
                              char fmt, Py_ssize_t item) noexcept:
    """v is a C-contiguous, aligned buffer of the call's real type and of
    this exact shape (a few comparisons: the frozen call's whole check)."""
    cdef int i
    cdef Py_ssize_t expect = item
    if v.format == NULL or v.format[0] != fmt or v.format[1] != 0 or v.itemsize != item \
            or v.ndim != ndim or (<size_t>v.buf) % item:
        return False
    for i in range(ndim - 1, -1, -1):
        if v.shape[i] != shape[i] or (shape[i] > 1 and v.strides[i] != expect):
            return False
        expect *= shape[i]
    return True


cdef inline char *data_of(object arr):
    return <char *><size_t>arr.__array_interface__["data"][0]


cdef class FrozenCore:
    """The fixed-shape chain of a frozen module (``crnn.freeze``): every
    layer-direction's core arguments prepared once — weights packed once,
    outputs and the next state in buffers it owns, one workspace — so that
    a call checks the input (and a state given) against the fixed shape in
    C and runs the whole chain in one stretch without the GIL, then copies
    the next state into the carried one. Anything else (another shape,
    dtype, layout, a thread count whose plan splits the work, a changed
    instruction set) goes to the Python layer's ``_call``."""
    cdef int n, D, nstates, xndim
    cdef shim_args *args
    cdef crnn_layer *lays
    cdef int *qtypes
    cdef Batch batch
    cdef void *work_raw
    cdef bint dbl
    cdef char fmt
    cdef Py_ssize_t item
    cdef Py_ssize_t xshape[4]
    cdef ptrdiff_t x_st, x_sn
    cdef int sndim[2]
    cdef Py_ssize_t sshape[2][4]
    cdef char *cur[2]
    cdef char *nxt[2]
    cdef size_t sbytes[2]
    cdef size_t sstep[2]
    cdef object keep
    cdef object result
    cdef object threads_mod
    cdef crnn_isa isa
    cdef bint busy
    cdef public bint fast         # the Python layer's verdict: the plan is one piece
    cdef public int threads       # the thread count that verdict is for
    cdef readonly bint bound

    def __cinit__(self, *args, **kwargs):
        self.args = NULL
        self.lays = NULL
        self.qtypes = NULL
        self.work_raw = NULL
        self.busy = False
        self.bound = False
        self.fast = False
        self.n = 0

    def __dealloc__(self):
        self.unbind()

    cdef void unbind(self) noexcept:
        free(self.args)
        free(self.lays)
        free(self.qtypes)
        free(self.work_raw)
        self.args, self.lays, self.qtypes, self.work_raw = NULL, NULL, NULL, NULL
        self.n = 0
        self.bound = False
        self.fast = False

    def _bind(self, tuple dirs, int D, Batch batch, tuple xshape, ptrdiff_t x_st,
              ptrdiff_t x_sn, tuple outs, tuple states, tuple nexts, tuple sshapes,
              object result, object threads_mod):
        """Prepare the chain. dirs: the layer-directions (k * D + d); x: the
        caller's input of shape xshape, C-contiguous, the kernels reading it
        with strides (x_st, x_sn) elements; outs: per layer (array, st, sn,
        P), direction d's output at P * d elements into the array; states,
        nexts: the carried and the next state, (S, N, F) each; sshapes: the
        shape a state given by the caller has; result: what a call returns
        (views of the owned buffers)."""
        if self.busy:
            raise RuntimeError(_BUSY)
        # busy while it is rebuilt: the Python it calls may let another
        # thread in, whose call must not find the chain half built
        self.busy = True
        try:
            self.bind(dirs, D, batch, xshape, x_st, x_sn, outs, states, nexts, sshapes)
        except BaseException:
            self.unbind()
            raise
        finally:
            self.busy = False
        self.keep = (self.keep, outs, states, nexts, dirs)
        self.result = result
        self.threads_mod = threads_mod
        self.bound = True

    cdef void bind(self, tuple dirs, int D, Batch batch, tuple xshape, ptrdiff_t x_st,
                   ptrdiff_t x_sn, tuple outs, tuple states, tuple nexts,
                   tuple sshapes) except *:
        cdef int i, j, k, d
        cdef Direction dr
        cdef crnn_sizes z
        cdef size_t need = 0, w
        cdef char *base
        cdef shim_args *a
        self.unbind()
        self.n = len(dirs)
        self.D = D
        self.batch = batch
        self.args = <shim_args *>malloc(self.n * sizeof(shim_args))
        self.lays = <crnn_layer *>malloc(self.n * sizeof(crnn_layer))
        self.qtypes = <int *>malloc(self.n * sizeof(int))
        if self.args == NULL or self.lays == NULL or self.qtypes == NULL:
            self.unbind()
            raise MemoryError()
        keep = []       # the packings the chain reads
        self.isa = crnn_isa_active()
        for i in range(self.n):
            dr = dirs[i]
            self.args[i] = dr.params
            self.lays[i] = dr.layer
            self.qtypes[i] = dr.qtype
            if i == 0:
                self.dbl = dr.dbl
            if dr.qtype:
                self.args[i].packed = <void *>dr.qpacked
                w = crnn_q_workspace_size(&dr.layer, &batch.batch)
            else:
                packed = dr.packed_weights()
                # a frozen module's weights do not change: no copy to compare
                # with (packed_weights then returns the packing as it is)
                dr.kept = (None,) * len(PACKED)
                keep.append(packed)
                self.args[i].packed = <void *>data_of(packed)
                z = dr.sizes_of(batch)
                w = z.workspace[CRNN_PASS_INFERENCE] - z.panels
            need = max(need, w)
        self.item = 8 if self.dbl else 4
        self.fmt = b"d"[0] if self.dbl else b"f"[0]
        self.work_raw = malloc(need * self.item + 64)
        if self.work_raw == NULL:
            self.unbind()
            raise MemoryError(f"work: cannot allocate {need} elements")
        self.nstates = len(states)
        for j in range(self.nstates):
            self.cur[j] = data_of(states[j])
            self.nxt[j] = data_of(nexts[j])
            self.sbytes[j] = states[j].nbytes
            self.sstep[j] = states[j].nbytes // self.n
            self.sndim[j] = len(sshapes[j])
            for k in range(self.sndim[j]):
                self.sshape[j][k] = sshapes[j][k]
        self.xndim = len(xshape)
        for k in range(self.xndim):
            self.xshape[k] = xshape[k]
        self.x_st, self.x_sn = x_st, x_sn
        for i in range(self.n):
            a = &self.args[i]
            k, d = i // D, i % D
            a.work = aligned(self.work_raw)
            a.reserve = NULL
            if k > 0:
                arr, st, sn, P = outs[k - 1]
                a.x.data = <void *>data_of(arr)
                a.x.st, a.x.sn = st, sn
            arr, st, sn, P = outs[k]
            a.out.data = NULL
            if arr is not None:
                base = data_of(arr)
                a.out.data = <void *>(base + d * <size_t>P * self.item)
            a.out.st, a.out.sn = st, sn
            for j in range(self.nstates):
                base = self.nxt[j] + i * self.sstep[j]
                if j == 0:
                    a.hn.data = <void *>base
                    a.hn.ld = a.h0.ld = nexts[j].shape[2]
                else:
                    a.cn.data = <void *>base
                    a.cn.ld = a.c0.ld = nexts[j].shape[2]
        self.keep = keep

    def _enter(self):
        """Mark a call running (refused if one already is)."""
        if self.busy:
            raise RuntimeError(_BUSY)
        self.busy = True

    def _leave(self):
        self.busy = False

    def __call__(self, x, hx=None, *, out=None):
        # (a call that may reach BLAS takes the module's path, which holds
        # SciPy's OpenBLAS to one thread meanwhile)
        if self.fast and self.threads == self.threads_mod._num_threads \
                and crnn_isa_active() == self.isa \
                and (blas_min_rows() == 0 or crnn_rows(&self.batch.batch) < blas_min_rows()):
            r = self.run_plain(x, hx)
            if r is not None:
                return r if out is None else self._copy_out(r, out)
        return self._call(x, hx, out)

    def _try(self, x, hx=None):
        """The call on the chain if x and hx are plain arrays of the fixed
        shapes, else None."""
        if not self.bound:
            return None
        return self.run_plain(x, hx)

    cdef object run_plain(self, object x, object hx):
        cdef Py_buffer xv
        cdef Py_buffer hv[2]
        cdef int nh = 0, i, j
        cdef char *h0[2]
        cdef crnn_status st = CRNN_OK
        cdef object parts
        cdef crnn_blas bl = BLAS
        if type(x) is not NDARRAY:
            return None
        if hx is not None:
            if self.nstates == 1:
                parts = (hx,)
            elif type(hx) is tuple and len(<tuple>hx) == 2:
                parts = hx
            else:
                return None
            for j in range(self.nstates):
                if type(parts[j]) is not NDARRAY:
                    return None
        if self.busy:
            raise RuntimeError(_BUSY)
        PyObject_GetBuffer(x, &xv, PyBUF_STRIDES | PyBUF_FORMAT)
        try:
            if not plain_buffer(&xv, self.xndim, self.xshape, self.fmt, self.item):
                return None
            for j in range(self.nstates):
                h0[j] = self.cur[j]
            if hx is not None:
                for j in range(self.nstates):
                    PyObject_GetBuffer(parts[j], &hv[j], PyBUF_STRIDES | PyBUF_FORMAT)
                    nh += 1
                    if not plain_buffer(&hv[j], self.sndim[j], self.sshape[j], self.fmt,
                                        self.item):
                        return None
                    h0[j] = <char *>hv[j].buf
            self.busy = True
            for i in range(self.D):
                self.args[i].x.data = xv.buf
                self.args[i].x.st, self.args[i].x.sn = self.x_st, self.x_sn
            for i in range(self.n):
                self.args[i].h0.data = <void *>(h0[0] + i * self.sstep[0])
                if self.nstates == 2:
                    self.args[i].c0.data = <void *>(h0[1] + i * self.sstep[1])
            with nogil:
                for i in range(self.n):
                    if self.qtypes[i]:
                        st = shim_q_forward(&bl, &self.lays[i], &self.batch.batch,
                                            &self.args[i])
                    else:
                        st = shim_forward(self.dbl, &bl, &self.lays[i], &self.batch.batch,
                                          &self.args[i])
                    if st != CRNN_OK:
                        break
                if st == CRNN_OK:
                    for j in range(self.nstates):
                        memcpy(self.cur[j], self.nxt[j], self.sbytes[j])
            self.busy = False
        finally:
            PyBuffer_Release(&xv)
            for j in range(nh):
                PyBuffer_Release(&hv[j])
        raise_status(st)
        return self.result


_BUSY = ("a frozen module serves one call at a time: another thread is calling it; "
         "give each thread its own (copy.copy(frozen) shares the packed weights)")
