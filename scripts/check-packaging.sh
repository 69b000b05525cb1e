#!/usr/bin/env bash
# Everything packaging checks, on an existing build (CI runs it after scripts/test.sh):
# install + out-of-tree examples, the Python binding, the docs examples; with --deb also
# the Debian package (a separate /usr build, so it takes a full compile).
#   scripts/check-packaging.sh [BUILD_DIR] [--deb]        (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build deb=0
for a in "$@"; do
  case $a in --deb) deb=1 ;; *) build=$a ;; esac
done
scripts/check-install.sh "$build"
scripts/check-python.sh "$build"
scripts/docs-check.sh "$build"
if [ $deb = 1 ]; then scripts/check-deb.sh; fi
