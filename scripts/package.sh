#!/usr/bin/env bash
# Build the Debian package: a Release build installed under /usr, packed by CPack.
#   scripts/package.sh [BUILD_DIR]     (default: build-deb) -> prints the .deb's path
# Depends is computed by dpkg-shlibdeps from the libraries the binaries link.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-deb}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
      -DCF_TESTS=OFF -DCF_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log" >&2; exit 1; }
ls -t "$PWD/$build"/cformer_*.deb | head -1
