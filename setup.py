"""Build of the crnn extension: the Cython shim and the C core in one module.

The core is plain C99 (src/crnn/_core, public header include/crnn.h) with
its own kernels; BLAS is injected at run time: the shim takes sgemm and
dgemm from scipy.linalg.cython_blas's C-API capsules when crnn is
imported, so the build needs no SciPy and the extension links no BLAS
(only libc and libm).
Flags stay portable: -O3, no -march=native, no -ffast-math: the core
carries its kernels for each instruction set (AVX-512, AVX2+FMA and the
portable baseline) and picks one at run time. -ffp-contract=off keeps the
compiler from fusing a multiply and an add on its own: the kernels fuse
where they say so, so every element takes the same operations wherever it
is computed (results that do not depend on batch, chunking or threads).
-fno-trapping-math only tells the compiler that no code here reads the
floating-point exception flags, so it may evaluate both arms of a float
select and vectorise the gate math; results are unchanged (NaN and Inf
keep their meaning, no flush-to-zero).
"""
import sys
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    cflags = ["/O2", "/std:c11"]  # C99 features of the core (restrict)
else:
    cflags = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fvisibility=hidden"]

# the core: one C file per concern (dispatch.c instantiates the .inc
# kernels per instruction set); its headers and templates are dependencies
core = sorted(Path("src/crnn/_core").glob("*.c"))
ext = Extension(
    "crnn._kernels",
    sources=["src/crnn/_kernels.pyx"] + [p.as_posix() for p in core],
    include_dirs=["include", "src/crnn/_core", "src/crnn"],
    depends=["include/crnn.h", "src/crnn/_shim.h"]
    + sorted(p.as_posix() for ext in ("h", "inc") for p in Path("src/crnn/_core").glob(f"*.{ext}")),
    extra_compile_args=cflags,
)

setup(ext_modules=cythonize([ext], language_level=3))
