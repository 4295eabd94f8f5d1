"""The extension has nothing POSIX-only for a Windows build to trip on
(pyproject.toml declares Windows wheels, built with MSVC): the Cython
shim declares only the C standard library, CPython's C API and the core's
own headers, and neither it nor the header it includes names a POSIX-only
call or header. (.ci/run compiles the C core and the shim's header for
Windows with MinGW-w64 and runs the core's C test under Wine.)"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "crnn"
SHIM = PACKAGE / "_kernels.pyx"

# Cython's declarations that hold on every platform: the C standard library
# (libc.*) and CPython's C API (cpython.*); not posix.*
PORTABLE_CIMPORTS = ("libc.", "cpython.")
# the headers the shim declares from: the core's public one and its own
SHIM_HEADERS = {"crnn.h", "_shim.h"}
# what MSVC's C runtime lacks (POSIX calls and headers a bridge might use)
POSIX_ONLY = ("clock_gettime", "CLOCK_MONOTONIC", "gettimeofday", "nanosleep", "usleep",
              "sched_yield", "pthread_", "sysconf", "posix_memalign", "mmap(",
              "unistd.h", "sys/time.h", "sys/mman.h", "pthread.h", "sched.h", "dlfcn.h",
              "posix.")


def cimported_modules(text):
    return {m.group(1) or m.group(2) for m in
            re.finditer(r"^\s*(?:from\s+(\S+)\s+cimport\b|cimport\s+(\S+))", text, re.M)}


def test_the_shim_cimports_only_portable_declarations():
    modules = cimported_modules(SHIM.read_text())
    assert "libc.stdlib" in modules        # the pattern reads the shim's cimports
    assert {m for m in modules if not m.startswith(PORTABLE_CIMPORTS)} == set()


def test_the_shim_declares_from_the_cores_headers_only():
    text = SHIM.read_text()
    headers = set(re.findall(r'^\s*cdef extern from "([^"]+)"', text, re.M))
    assert headers == SHIM_HEADERS
    includes = re.findall(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]',
                          (PACKAGE / "_shim.h").read_text(), re.M)
    assert includes == ["crnn.h"]


def test_nothing_posix_only_is_named_in_the_shim():
    for path in (SHIM, PACKAGE / "_shim.h"):
        text = path.read_text()
        named = [word for word in POSIX_ONLY if word in text]
        assert named == [], f"{path.name} names POSIX-only {named}"
