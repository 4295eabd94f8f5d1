# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython shim between the Python layers and the C core.

It takes BLAS from SciPy (``scipy.linalg.cython_blas``: the extension links
no BLAS of its own, the process keeps SciPy's one OpenBLAS), checks every
buffer it is handed (dtype, rank, shape, strides, writability), releases the
GIL around each core call and turns the core's status codes into Python
exceptions. It never loops over time steps and never allocates arrays.
"""
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyBUF_STRIDES, PyBUF_FORMAT, PyBUF_WRITABLE)
from libc.stdint cimport int64_t, SIZE_MAX
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memset
from scipy.linalg.cython_blas cimport sgemm, dgemm

cdef extern from "crnn.h" nogil:
    ctypedef int crnn_status
    int CRNN_OK, CRNN_ERR_TOO_LARGE, CRNN_ERR_PACKED
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

    ctypedef struct crnn_batch:
        size_t steps, size
        const int64_t *batch_sizes

    size_t crnn_rows(const crnn_batch *)
    size_t crnn_workspace_size(const crnn_layer *, const crnn_batch *, int)
    size_t crnn_reserve_size(const crnn_layer *, const crnn_batch *)
    size_t crnn_packed_size(const crnn_layer *)

    ctypedef int crnn_isa
    crnn_isa crnn_isa_best()
    crnn_isa crnn_isa_active()
    crnn_status crnn_isa_select(crnn_isa)
    const char *crnn_isa_name(crnn_isa)
    crnn_status crnn_isa_from_name(const char *, crnn_isa *)
    size_t crnn_isa_panel_width(int)

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

version = "%d.%d.%d" % (CRNN_VERSION_MAJOR, CRNN_VERSION_MINOR, CRNN_VERSION_PATCH)

# -- instruction sets (crnn.h): the kernels in use, chosen once per process
ISA_NAMES = tuple(crnn_isa_name(i).decode() for i in range(3))


def isa_best():
    """The best instruction set the CPU supports: 'avx512', 'avx2' or
    'generic'."""
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
    """Columns of a panel of the active kernels (gemm.h) for float or double."""
    return crnn_isa_panel_width(double_precision)


# CRNN_ISA forces a lower instruction set than the CPU's best (tests,
# benchmarks); read once, when crnn is imported
import os as _os
if _os.environ.get("CRNN_ISA", "").strip():
    select_isa(_os.environ["CRNN_ISA"].strip().lower(), "CRNN_ISA")


cdef crnn_blas BLAS
BLAS.sgemm = sgemm
BLAS.dgemm = dgemm
BLAS.team = NULL


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
    """SciPy's BLAS, with the team of the call if it has one."""
    if team is None:
        return &BLAS
    if not isinstance(team, Team):
        raise TypeError(f"team: expected a crnn._kernels.Team, got {type(team).__name__}")
    local[0] = BLAS
    local.team = (<Team>team).team
    return local

# cell kinds, as crnn.h numbers them
RNN_TANH, RNN_RELU, LSTM, GRU = 0, 1, 2, 3
GATES = {RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3}

cdef enum:
    MAXBUF = 32

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
    last axis, writable for outputs."""
    if obj is None:
        return NULL
    cdef Py_buffer *v
    cdef Py_ssize_t item = 8 if dbl else 4
    cdef int i
    if b.n >= MAXBUF:
        raise RuntimeError("crnn shim: too many buffers in one call")
    v = &b.view[b.n]
    flags = PyBUF_STRIDES | PyBUF_FORMAT | (PyBUF_WRITABLE if writable else 0)
    try:
        PyObject_GetBuffer(obj, v, flags)
    except BufferError as e:
        raise ValueError(f"{name}: {'a writable' if writable else 'a'} buffer is required ({e})") from None
    b.n += 1
    fmt = (<bytes>v.format) if v.format != NULL else b"B"
    if fmt != (b"d" if dbl else b"f") or v.itemsize != item:
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


cdef tuple shape_of(Py_buffer *v):
    return tuple(v.shape[i] for i in range(v.ndim))


cdef void check_shape(Py_buffer *v, str name, tuple expected) except *:
    if v != NULL and shape_of(v) != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {shape_of(v)}")


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


cdef class _Plan:
    """The sizes of one layer-direction call, checked once."""
    cdef crnn_layer layer
    cdef crnn_batch batch
    cdef size_t rows
    cdef object bs          # keeps batch_sizes alive
    cdef Bufs bsbuf

    def __dealloc__(self):
        release(&self.bsbuf)


cdef _Plan make_plan(int cell, bint reverse, size_t input_size,
                     size_t hidden_size, size_t proj_size, size_t steps,
                     size_t batch, object batch_sizes):
    cdef _Plan p = _Plan()
    cdef Py_buffer *v
    if cell not in GATES:
        raise ValueError(f"cell: expected one of {sorted(GATES)}, got {cell}")
    if input_size < 1 or hidden_size < 1:
        raise ValueError(f"input_size and hidden_size must be >= 1, got "
                         f"{input_size} and {hidden_size}")
    p.layer.cell = cell
    p.layer.input_size = input_size
    p.layer.hidden_size = hidden_size
    if proj_size and (cell != LSTM or proj_size >= hidden_size):
        raise ValueError(f"proj_size: expected 0, or for LSTM 0 < proj_size < "
                         f"hidden_size={hidden_size}, got {proj_size}")
    p.layer.proj_size = proj_size
    p.layer.reverse = reverse
    p.batch.steps = steps
    p.batch.size = batch
    p.batch.batch_sizes = NULL
    p.bsbuf.n = 0
    if batch_sizes is not None:
        p.bs = batch_sizes
        PyObject_GetBuffer(batch_sizes, &p.bsbuf.view[0], PyBUF_STRIDES | PyBUF_FORMAT)
        p.bsbuf.n = 1
        v = &p.bsbuf.view[0]
        if v.ndim != 1 or v.itemsize != 8 or (<bytes>v.format) not in (b"q", b"l") \
                or (v.shape[0] > 1 and v.strides[0] != 8):
            raise TypeError("batch_sizes: expected a contiguous 1-D int64 array")
        if <size_t>v.shape[0] != steps:
            raise ValueError(f"batch_sizes: expected {steps} entries, got {v.shape[0]}")
        p.batch.batch_sizes = <const int64_t *>v.buf
    p.rows = crnn_rows(&p.batch)
    if crnn_workspace_size(&p.layer, &p.batch, CRNN_PASS_INFERENCE) == SIZE_MAX:
        raise ValueError("batch_sizes: expected values >= 1, non-increasing, "
                         f"starting at the batch size {batch}")
    return p


def sizes(int cell, size_t input_size, size_t hidden_size, size_t proj_size,
          size_t steps, size_t batch, batch_sizes=None):
    """(reserve, inference workspace, training workspace, backward workspace)
    in elements for one layer-direction."""
    cdef _Plan p = make_plan(cell, False, input_size, hidden_size, proj_size,
                             steps, batch, batch_sizes)
    return (crnn_reserve_size(&p.layer, &p.batch),
            crnn_workspace_size(&p.layer, &p.batch, CRNN_PASS_INFERENCE),
            crnn_workspace_size(&p.layer, &p.batch, CRNN_PASS_TRAINING),
            crnn_workspace_size(&p.layer, &p.batch, CRNN_PASS_BACKWARD))


cdef void raise_status(crnn_status st) except *:
    if st == CRNN_OK:
        return
    msg = crnn_status_string(st).decode()
    if st == CRNN_ERR_TOO_LARGE:
        raise OverflowError(f"crnn core: {msg}")
    if st == CRNN_ERR_PACKED:
        raise ValueError(f"packed_weights: {msg}")
    raise RuntimeError(f"crnn core: {msg} (status {st})")


cdef tuple seq_shape(_Plan p, bint packed, size_t F):
    if packed:
        return (p.rows, F)
    return (p.batch.steps, p.batch.size, F)


cdef void check_work(Py_buffer *v, str name, size_t need) except *:
    if need == 0:
        return
    if v == NULL or v.ndim != 1 or <size_t>v.shape[0] < need or \
            (v.shape[0] > 1 and v.strides[0] != v.itemsize):
        raise ValueError(f"{name}: expected a contiguous 1-D buffer of at least "
                         f"{need} elements, got {None if v == NULL else shape_of(v)}")


cdef void take_params(Bufs *b, shim_args *a, bint grads, tuple params,
                      _Plan p, bint dbl) except *:
    cdef size_t GH = GATES[p.layer.cell] * p.layer.hidden_size
    cdef size_t H = p.layer.hidden_size, I = p.layer.input_size
    cdef size_t P = p.layer.proj_size if p.layer.proj_size else H
    cdef tuple shapes = ((GH, I), (GH, P), (GH,), (GH,),
                         (P, H) if p.layer.proj_size else None)
    cdef tuple names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    cdef Py_buffer *v
    cdef int i
    if len(params) != 5:
        raise ValueError("params: expected (w_ih, w_hh, b_ih, b_hh, w_hr)")
    for i in range(5):
        name = ("grad of " if grads else "") + names[i]
        if shapes[i] is None:
            if params[i] is not None:
                raise ValueError(f"{name}: given, but proj_size is 0")
            v = NULL
        else:
            v = take(b, params[i], name, dbl, len(shapes[i]), grads)
            if v == NULL and (i < 2 or i == 4) and not grads:
                raise ValueError(f"{name}: required")
            check_shape(v, name, shapes[i])
            if v != NULL:
                check_contig(v, name)
        if grads:
            a.dw[i] = v.buf if v != NULL else NULL
        else:
            a.w[i] = v.buf if v != NULL else NULL


cdef _Plan open_call(Bufs *b, shim_args *a, bint *dbl, int cell,
                     bint reverse, size_t input_size, size_t hidden_size,
                     size_t proj_size, object x, object batch_sizes,
                     tuple params):
    """Check x and the parameters, fill a.x and a.w, and plan the call."""
    cdef bint packed = batch_sizes is not None
    cdef size_t steps, batch
    cdef Py_buffer *vx
    cdef _Plan p
    memset(a, 0, sizeof(shim_args))
    dbl[0] = getattr(x, "dtype", None) is not None and x.dtype.itemsize == 8
    vx = take(b, x, "x", dbl[0], 2 if packed else 3, False)
    if vx == NULL:
        raise ValueError("x: required")
    if packed:
        steps = len(batch_sizes)
        batch = batch_sizes[0] if steps else 0
    else:
        steps = vx.shape[0]
        batch = vx.shape[1]
    p = make_plan(cell, reverse, input_size, hidden_size, proj_size, steps,
                  batch, batch_sizes)
    check_shape(vx, "x", seq_shape(p, packed, input_size))
    a.x = seq_of(vx, packed)
    take_params(b, a, False, params, p, dbl[0])
    return p


cdef shim_seq take_seq(Bufs *b, _Plan p, object obj, str name, bint dbl,
                       size_t F, bint packed, bint writable) except *:
    cdef Py_buffer *v = take(b, obj, name, dbl, 2 if packed else 3, writable)
    check_shape(v, name, seq_shape(p, packed, F))
    return seq_of(v, packed)


cdef shim_mat take_mat(Bufs *b, _Plan p, object obj, str name, bint dbl,
                       size_t F, bint writable) except *:
    cdef Py_buffer *v = take(b, obj, name, dbl, 2, writable)
    check_shape(v, name, (p.batch.size, F))
    return mat_of(v)


cdef void *take_work(Bufs *b, object obj, str name, bint dbl, bint writable,
                     size_t need) except? NULL:
    cdef Py_buffer *v = take(b, obj, name, dbl, 1, writable)
    check_work(v, name, need)
    return v.buf if v != NULL else NULL


cdef size_t out_features(_Plan p):
    return p.layer.proj_size if p.layer.proj_size else p.layer.hidden_size


cdef shim_mat take_cell_state(Bufs *b, _Plan p, object obj, str name, bint dbl,
                              bint writable) except *:
    """The LSTM cell state c (N, H); None for other kinds."""
    if obj is not None and p.layer.cell != LSTM:
        raise ValueError(f"{name}: only an LSTM has a cell state")
    return take_mat(b, p, obj, name, dbl, p.layer.hidden_size, writable)


def packed_size(int cell, size_t input_size, size_t hidden_size, size_t proj_size):
    """Elements of ``pack``'s output for one layer-direction."""
    cdef _Plan p = make_plan(cell, False, input_size, hidden_size, proj_size, 1, 1, None)
    return crnn_packed_size(&p.layer)


def pack(int cell, size_t input_size, size_t hidden_size, size_t proj_size,
         tuple params, packed):
    """The recurrent weights of params (w_ih, w_hh, b_ih, b_hh, w_hr)
    repacked into ``packed`` (1-D, ``packed_size`` elements) for ``forward``
    to read; runs without the GIL."""
    cdef Bufs b
    cdef shim_args a
    cdef _Plan p
    cdef bint dbl
    cdef crnn_status st
    b.n = 0
    memset(&a, 0, sizeof(shim_args))
    try:
        p = make_plan(cell, False, input_size, hidden_size, proj_size, 1, 1, None)
        dbl = params[1] is not None and params[1].dtype.itemsize == 8
        take_params(&b, &a, False, params, p, dbl)
        a.packed = take_work(&b, packed, "packed", dbl, True, crnn_packed_size(&p.layer))
        with nogil:
            st = shim_pack(dbl, &p.layer, &a)
        raise_status(st)
    finally:
        release(&b)


def unchanged(tuple kept, tuple now):
    """Whether every array of ``now`` holds the same bytes as its copy in
    ``kept`` (None pairs with None); compared without the GIL."""
    cdef Bufs b
    cdef Py_buffer *u
    cdef Py_buffer *v
    cdef int i, same = 1
    b.n = 0
    if len(kept) != len(now):
        return False
    try:
        for i in range(len(now)):
            if kept[i] is None or now[i] is None:
                if kept[i] is not now[i]:
                    return False
                continue
            if kept[i].dtype != now[i].dtype or kept[i].shape != now[i].shape or \
                    not now[i].flags.c_contiguous:
                return False
            u = take(&b, kept[i], "kept", kept[i].dtype.itemsize == 8, kept[i].ndim, False)
            v = take(&b, now[i], "now", now[i].dtype.itemsize == 8, now[i].ndim, False)
            with nogil:
                same = memcmp(u.buf, v.buf, <size_t>v.len) == 0
            if not same:
                return False
        return True
    finally:
        release(&b)


def forward(int cell, bint reverse, size_t input_size, size_t hidden_size,
            size_t proj_size, x, h0, c0, out, hn, cn, tuple params,
            reserve=None, work=None, batch_sizes=None, packed_weights=None, team=None):
    """One layer in one direction over the whole batch.

    x (L, N, I) padded, any non-negative strides with a contiguous last axis,
    or (R, I) packed with ``batch_sizes``; h0, hn (N, P) and, for LSTM, c0,
    cn (N, H), or None; out like x with P features (may be a column slice
    of a wider array) or None; P is proj_size or hidden_size. params (w_ih,
    w_hh, b_ih, b_hh, w_hr); reserve (training) and work are 1-D buffers of
    the sizes ``sizes()`` gives; packed_weights (optional) ``pack``'s output
    for these weights; team (optional) a ``Team`` whose helper shares the
    steps' products. Runs without the GIL.
    """
    cdef Bufs b
    cdef shim_args a
    cdef _Plan p
    cdef bint packed = batch_sizes is not None, dbl
    cdef crnn_status st
    cdef size_t P
    cdef crnn_blas local
    cdef const crnn_blas *bl
    b.n = 0
    try:
        bl = blas_for(team, &local)
        p = open_call(&b, &a, &dbl, cell, reverse, input_size, hidden_size,
                      proj_size, x, batch_sizes, params)
        P = out_features(p)
        a.out = take_seq(&b, p, out, "out", dbl, P, packed, True)
        a.h0 = take_mat(&b, p, h0, "h0", dbl, P, False)
        a.hn = take_mat(&b, p, hn, "hn", dbl, P, True)
        a.c0 = take_cell_state(&b, p, c0, "c0", dbl, False)
        a.cn = take_cell_state(&b, p, cn, "cn", dbl, True)
        if reserve is not None:
            a.reserve = take_work(&b, reserve, "reserve", dbl, True,
                                  crnn_reserve_size(&p.layer, &p.batch))
        a.work = take_work(&b, work, "work", dbl, True, crnn_workspace_size(
            &p.layer, &p.batch,
            CRNN_PASS_TRAINING if reserve is not None else CRNN_PASS_INFERENCE))
        if packed_weights is not None:
            a.packed = take_work(&b, packed_weights, "packed_weights", dbl, False,
                                 crnn_packed_size(&p.layer))
        with nogil:
            st = shim_forward(dbl, bl, &p.layer, &p.batch, &a)
        raise_status(st)
    finally:
        release(&b)
        if isinstance(team, Team):  # the call may not have been made
            (<Team>team).end()


def backward(int cell, bint reverse, size_t input_size, size_t hidden_size,
             size_t proj_size, tuple params, tuple grads, x, dout, dhn, dcn,
             dx, dh0, dc0, reserve, work, batch_sizes=None, team=None):
    """Backpropagation through time of one layer-direction after a training
    forward that filled ``reserve``. Accumulates (+=) into grads (w_ih, w_hh,
    b_ih, b_hh, w_hr; None members skipped), dx, dh0 and dc0. Runs without
    the GIL; team as for ``forward``."""
    cdef Bufs b
    cdef shim_args a
    cdef _Plan p
    cdef bint packed = batch_sizes is not None, dbl
    cdef crnn_status st
    cdef size_t P
    cdef crnn_blas local
    cdef const crnn_blas *bl
    b.n = 0
    try:
        bl = blas_for(team, &local)
        p = open_call(&b, &a, &dbl, cell, reverse, input_size, hidden_size,
                      proj_size, x, batch_sizes, params)
        P = out_features(p)
        take_params(&b, &a, True, grads, p, dbl)
        a.dout = take_seq(&b, p, dout, "grad_out", dbl, P, packed, False)
        a.dx = take_seq(&b, p, dx, "grad_x", dbl, input_size, packed, True)
        a.dhn = take_mat(&b, p, dhn, "grad_hn", dbl, P, False)
        a.dh0 = take_mat(&b, p, dh0, "grad_h0", dbl, P, True)
        a.dcn = take_cell_state(&b, p, dcn, "grad_cn", dbl, False)
        a.dc0 = take_cell_state(&b, p, dc0, "grad_c0", dbl, True)
        a.reserve = take_work(&b, reserve, "reserve", dbl, False,
                              crnn_reserve_size(&p.layer, &p.batch))
        a.work = take_work(&b, work, "work", dbl, True, crnn_workspace_size(
            &p.layer, &p.batch, CRNN_PASS_BACKWARD))
        with nogil:
            st = shim_backward(dbl, bl, &p.layer, &p.batch, &a)
        raise_status(st)
    finally:
        release(&b)
        if isinstance(team, Team):  # the call may not have been made
            (<Team>team).end()
