#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for N seconds (default 60) on its seed corpus.
# FUZZ_SEED (default 1) fixes libFuzzer's mutation sequence so a CI run can be replayed exactly;
# FUZZ_SEED=0 draws a random seed (exploring: what it finds goes into fuzz/corpus and a test).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
seed=${FUZZ_SEED:-1}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCF_FUZZ=ON -DCF_TESTS=OFF -DCF_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)"
for f in build-fuzz/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=fuzz/corpus/${name#fuzz_}
  mkdir -p "build-fuzz/corpus-$name"
  echo "fuzzing $name for ${secs}s"
  "$f" -max_total_time="$secs" -seed="$seed" -timeout=10 -rss_limit_mb=2048 "build-fuzz/corpus-$name" \
       $( [ -d "$corpus" ] && echo "$corpus" ) 2>&1 | tail -n 3
done
