#!/usr/bin/env bash
# The Python binding: `pip install` of python/ offline (Debian's python3 + setuptools), then its
# pytest suite against the fixtures with libcformer from an installed prefix (found by the
# system loader through LD_LIBRARY_PATH), and an import straight from the source tree.
#   scripts/check-python.sh [BUILD_DIR] [PYTEST_ARGS...]      (default build dir: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
py=/usr/bin/python3
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCF_TESTS=OFF -DCF_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target cformer_shared >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PYTHONDONTWRITEBYTECODE=1 HF_HUB_OFFLINE=1 HF_HUB_CACHE=$tmp/hf-cache
export CFORMER_FIXTURES=${CFORMER_FIXTURES:-$PWD/../shared/fixtures}

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name libcformer.so -print -quit)")
cp -r python "$tmp/src" # setuptools writes build/ and *.egg-info next to the sources
$py -m pip install -q --no-build-isolation --no-index --no-deps --target "$tmp/site" "$tmp/src" >"$tmp/pip.log" 2>&1 \
  || { cat "$tmp/pip.log" >&2; echo "check-python: FAIL: pip install ./python" >&2; exit 1; }
echo "check-python: pip install ./python ok"

# From the source tree, without CFORMER_LIBRARY or LD_LIBRARY_PATH: the build folder's library.
(cd python && env -u CFORMER_LIBRARY -u LD_LIBRARY_PATH $py -c \
  'import cformer; print("check-python: source-tree import ok, cformer", cformer.__version__, "from", cformer._loader.lib._name)')

cd python/tests
env -u CFORMER_LIBRARY LD_LIBRARY_PATH="$libdir" PYTHONPATH="$tmp/site" \
  $py -m pytest -q -rs -p no:cacheprovider "$@" .
