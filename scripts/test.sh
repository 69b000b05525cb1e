#!/usr/bin/env bash
# Build (optionally with sanitizers) and run the whole test suite.
#   scripts/test.sh            plain Release build in build/
#   scripts/test.sh --asan     ASan+UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build; flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--asan" ]; then
  dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DCF_SANITIZE=ON -DCF_BENCH=OFF)
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
