#!/usr/bin/env bash
# The C core and the extension under AddressSanitizer and
# UndefinedBehaviorSanitizer: the C test of the core (and under
# ThreadSanitizer, for the helper threads of teams), then the extension
# built with both sanitizers (ASan's runtime preloaded into Python) running
# the torch-free test suite. Any report fails the run.
#
#   bash tests/sanitize.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"

echo "== the C test of the core, sanitized"
make -C "$root" BUILD="$tmp/c" CFLAGS="$san" check

echo "== the C test under ThreadSanitizer (teams: a helper thread per call)"
TSAN_OPTIONS=halt_on_error=1 make -C "$root" BUILD="$tmp/tsan" \
    CFLAGS="-fsanitize=thread -g -O1" check

echo "== the extension, sanitized, under the torch-free suite"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip
"$tmp/venv/bin/pip" install --quiet "setuptools>=77" Cython numpy scipy threadpoolctl pytest hypothesis safetensors onnx
cp -r "$root"/{setup.py,pyproject.toml,MANIFEST.in,README.md,LICENSE,include,src} "$tmp/"
cd "$tmp"
CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" LDSHARED="${CC:-cc} -shared" \
    "$tmp/venv/bin/pip" install --quiet --no-build-isolation .
asan=$(${CC:-cc} -print-file-name=libasan.so)
# Python's own allocations are not ours to judge (detect_leaks=0); a report
# of ours aborts the process and fails the run. The resident-memory test is
# left to the plain run: ASan's quarantine holds freed memory on purpose.
# The scale-out tests (MPI, Dask: processes of their own) run in the plain
# suite; here the kernels are under test.
LD_PRELOAD="$asan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$tmp/venv/bin/python" -m pytest "$root/tests" --ignore-glob="$root/tests/*torch*" \
    --deselect tests/test_reliability.py::test_resident_memory_stays_flat_over_10000_calls \
    --ignore="$root/tests/test_distributed.py" --ignore="$root/tests/test_dask.py" \
    -q -p no:cacheprovider -x
