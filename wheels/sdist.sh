#!/usr/bin/env bash
# Build the source distribution, check that it carries the real sources
# (.pyx, the C core and headers, not only generated C), then build and test
# it from scratch in a fresh virtual environment, away from this tree.
#
#   bash wheels/sdist.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip build pytest hypothesis onnx "setuptools>=77"
"$tmp/venv/bin/python" -m build --sdist --outdir "$tmp/dist" "$root"
sdist=$(ls "$tmp"/dist/crnn-*.tar.gz)
tar -tzf "$sdist" > "$tmp/contents"
# every file of the C core (one per concern), as the tree has them
core=$(cd "$root" && ls src/crnn/_core/*.c src/crnn/_core/*.h src/crnn/_core/*.inc)
for f in src/crnn/_kernels.pyx src/crnn/_shim.h include/crnn.h $core \
         Makefile tests/c/test_core.c tests/golden/case0_rnn.npz; do
    grep -q "/$f\$" "$tmp/contents" || { echo "error: $f is missing from the sdist"; exit 1; }
done
if grep -q "src/crnn/_kernels.c\$" "$tmp/contents"; then
    echo "error: the sdist carries generated C"; exit 1
fi
echo "sdist: $(basename "$sdist"), $(wc -l < "$tmp/contents") files, sources present"

"$tmp/venv/bin/pip" install --quiet "$sdist[mpi,dask]"   # the scale-out tests too
tar -xzf "$sdist" -C "$tmp"
cd "$tmp"
"$tmp/venv/bin/python" -m pytest "$tmp"/crnn-*/tests --ignore-glob="$tmp/crnn-*/tests/*torch*" \
    -q -p no:cacheprovider
