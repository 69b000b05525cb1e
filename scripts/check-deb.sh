#!/usr/bin/env bash
# Smoke test of the Debian package without touching the system: its Depends resolve with
# apt (simulated install), and unpacked into a temporary root its cformer runs --version,
# inspecting the bundled model, and the README's main command (default text generation).
# With CF_DEB_INSTALL=1 (a throwaway CI machine, as root) it is really installed with apt.
#   scripts/check-deb.sh [PACKAGE.deb]      (default: build it with scripts/package.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(realpath "${1:-$(scripts/package.sh)}") # apt wants a path, not a name
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HF_HUB_CACHE=$tmp/hf-cache HF_HUB_OFFLINE=1

depends=$(dpkg-deb -f "$deb" Depends)
echo "check-deb: $(basename "$deb"): Depends: $depends"
for lib in libcjson libpcre2-8 libutf8proc libopenblas libavformat libcurl libmicrohttpd; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib"
done
apt-get install -s -q "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt cannot resolve the package's Depends"; }

if [ "${CF_DEB_INSTALL:-0}" = 1 ]; then
  apt-get install -y -q "$deb" >/dev/null
  root=""
else
  dpkg -x "$deb" "$tmp/root"
  root=$tmp/root
fi
contents=$(dpkg-deb -c "$deb")
for f in usr/bin/cformer usr/share/man/man1/cformer.1 libcformer.so.0 usr/include/cformer.h cformer.pc \
         cformerConfig.cmake usr/share/cformer/models/stories260k/model.safetensors; do
  grep -q "$f" <<<"$contents" || fail "no $f in the package"
done
"$root/usr/bin/cformer" --version || fail "cformer --version"
"$root/usr/bin/cformer" inspect "$root/usr/share/cformer/models/stories260k" >/dev/null || fail "cformer inspect of the bundled model"
out=$("$root/usr/bin/cformer" run text-generation "Once upon a time" 2>/dev/null) \
  || fail "cformer run text-generation with the bundled model (README main command)"
echo "check-deb: cformer run text-generation -> $out"
echo "check-deb: ok"
