#!/usr/bin/env bash
# Install cformer into a temporary prefix and use it the way an outside project would:
#   - the shared library exports exactly the functions of include/cformer.h;
#   - examples/ builds out of tree with pkg-config (make, gcc and clang) and with
#     find_package(cformer) (CMake, shared and static), and the programs run:
#     sentiment and ASR on fixture models (same JSON as the installed CLI), streaming
#     generation on the installed stories260k (streamed text == the final result's text);
#   - the installed CLI runs its version, man page and the default text-generation model.
#   scripts/check-install.sh [BUILD_DIR]      (default: build; configured and built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build}
fixtures=${CFORMER_FIXTURES:-$src/../shared/fixtures}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCF_TESTS=OFF -DCF_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
export HF_HUB_CACHE=$tmp/hf-cache HF_HUB_OFFLINE=1 # no surprise models from the user's cache
fail() { echo "check-install: FAIL: $*" >&2; exit 1; }
step() { echo "check-install: $*"; }

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name libcformer.so -print -quit)")
[ -n "$libdir" ] || fail "libcformer.so was not installed"
for f in "$prefix/bin/cformer" "$prefix/include/cformer.h" "$libdir/libcformer.a" "$libdir/pkgconfig/cformer.pc" \
         "$libdir/cmake/cformer/cformerConfig.cmake" "$prefix/share/cformer/models/stories260k/config.json"; do
  [ -e "$f" ] || fail "$f was not installed"
done
[ -e "$prefix/share/man/man1/cformer.1" ] || fail "cformer.1 was not installed (is help2man installed?)"
soname=$(readelf -d "$libdir/libcformer.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libcformer.so.0" ] || fail "SONAME is '$soname', want libcformer.so.0"
step "installed into a temporary prefix (SONAME $soname)"

# Exported symbols == functions declared in the header.
declared=$(grep -oE '[ *](cf_[a-z0-9_]+)[[:space:]]*\(' include/cformer.h | grep -oE 'cf_[a-z0-9_]+' | sort -u)
exported=$(nm -D --defined-only "$libdir/libcformer.so" | awk '$2 ~ /[TWDBR]/ {print $3}' | sed 's/@.*//' \
           | grep -v '^CFORMER_' | sort -u)
if [ "$declared" != "$exported" ]; then
  diff <(echo "$declared") <(echo "$exported") | sed 's/^</  declared, not exported:/; s/^>/  exported, not declared:/' >&2
  fail "libcformer.so's exports differ from include/cformer.h"
fi
step "libcformer.so exports exactly the $(echo "$declared" | wc -l) functions of cformer.h"

# The installed CLI.
"$prefix/bin/cformer" --version | grep -qx "cformer $(sed -n 's/^project(cformer VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)" \
  || fail "cformer --version"
grep -q '^\.SS run$' "$prefix/share/man/man1/cformer.1" || fail "man page lacks the run command"
"$prefix/bin/cformer" inspect "$prefix/share/cformer/models/stories260k" >/dev/null || fail "cformer inspect stories260k"
out=$("$prefix/bin/cformer" run text-generation --max-new-tokens 8 "Once upon a time" 2>/dev/null) \
  || fail "installed cformer run text-generation without -m (bundled model next to the executable)"
step "installed CLI: --version, man page, inspect, default text-generation model -> $out"

# Fixture models for the examples, found by walking the fixtures (first matching call).
pick() { # TASK -> "DIR<TAB>INPUT" of the first recorded call of TASK with a string input and no kwargs
  python3 - "$fixtures" "$1" <<'PY'
import json, os, sys
root, task = sys.argv[1], sys.argv[2]
for d, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    if "expected.json" not in files:
        continue
    expected = json.load(open(os.path.join(d, "expected.json")))
    for c in expected.get("calls", []) if isinstance(expected, dict) else []:
        call = c["call"]
        if call["task"] == task and len(call["args"]) == 1 and isinstance(call["args"][0], str) and not call["kwargs"]:
            print(d + "\t" + call["args"][0]); sys.exit(0)
PY
}
have_task() { "$prefix/bin/cformer" tasks --json | python3 -c "import json,sys; sys.exit(0 if any(t['task']=='$1' for t in json.load(sys.stdin)) else 1)"; }

run_examples() { # BIN_DIR LABEL
  local bin=$1 label=$2
  IFS=$'\t' read -r dir text < <(pick text-classification) || fail "no text-classification fixture under $fixtures"
  local got want
  got=$("$bin/sentiment" -m "$dir" "$text") || fail "$label sentiment"
  want=$("$prefix/bin/cformer" run text-classification -m "$dir" "$text")
  [ "$got" = "$want" ] || fail "$label sentiment printed $got, the CLI $want"

  local models=$prefix/share/cformer/models
  CFORMER_MODELS_DIR=$models "$bin/generate" -n 12 "Once upon a time" >"$tmp/gen.out" 2>"$tmp/gen.err" \
    || { cat "$tmp/gen.err" >&2; fail "$label generate"; }
  python3 - "$tmp/gen.out" "$tmp/gen.err" <<'PY' || fail "$label generate: streamed text differs from the result"
import json, sys
streamed = open(sys.argv[1], encoding="utf-8").read()
final = json.loads(open(sys.argv[2], encoding="utf-8").read().strip().splitlines()[-1])
sys.exit(0 if final[0]["generated_text"] == streamed and len(streamed) > len("Once upon a time") else 1)
PY

  local ran="sentiment, streaming generation"
  if have_task automatic-speech-recognition; then
    IFS=$'\t' read -r dir audio < <(pick automatic-speech-recognition) || fail "no ASR fixture under $fixtures"
    got=$("$bin/asr" -m "$dir" "$dir/$audio") || fail "$label asr"
    want=$("$prefix/bin/cformer" run automatic-speech-recognition -m "$dir" "$dir/$audio" \
           | python3 -c 'import json,sys; print(json.load(sys.stdin)["text"])')
    [ "$got" = "$want" ] || fail "$label asr printed '$got', the CLI '$want'"
    ran="$ran, asr"
  else
    echo "check-install: $label asr built; not run: automatic-speech-recognition is not in this build's task registry"
  fi
  step "$label: $ran ok"
}

# pkg-config + make, with gcc and clang.
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  mkdir -p "$tmp/make-$cc" && cp examples/*.c examples/Makefile "$tmp/make-$cc/"
  PKG_CONFIG_PATH=$libdir/pkgconfig make -s -C "$tmp/make-$cc" CC=$cc >/dev/null || fail "make with pkg-config ($cc)"
  LD_LIBRARY_PATH=$libdir run_examples "$tmp/make-$cc" "pkg-config/$cc"
done

# find_package(cformer), shared and static.
cmake -S examples -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null \
  || fail "configure examples with find_package(cformer)"
cmake --build "$tmp/cmake" -j"$(nproc)" >/dev/null || fail "build examples with find_package(cformer)"
run_examples "$tmp/cmake" "find_package"
IFS=$'\t' read -r dir text < <(pick text-classification)
[ "$("$tmp/cmake/sentiment_static" -m "$dir" "$text")" = "$("$tmp/cmake/sentiment" -m "$dir" "$text")" ] \
  || fail "static and shared sentiment differ"
ldd "$tmp/cmake/sentiment_static" | grep -q libcformer && fail "sentiment_static links libcformer.so"
step "find_package static: ok"
echo "check-install: all ok"
