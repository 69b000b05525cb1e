#!/usr/bin/env bash
# Run every example of README.md and docs/*.md so they can't rot (scripts/docs_check.py says
# which blocks run), and check that docs/models.md is what scripts/gen-models-md.py generates.
#   scripts/docs-check.sh [BUILD_DIR]        (default: build)
# The examples see an installed cformer (PATH, pkg-config, Python binding) and an offline
# Hugging Face cache in which each task's default Hub model is a stand-in: the first fixture
# model (walking ${CFORMER_FIXTURES}) with a recorded call of that task. Input files named in
# the docs (cat.png, speech.flac) are fixture inputs; stories260k is the bundled model.
# Outputs of stand-ins differ from the real
# models', so examples are checked for running cleanly, not for their printed values.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build}
py=/usr/bin/python3
export CFORMER_FIXTURES=${CFORMER_FIXTURES:-$src/../shared/fixtures}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCF_TESTS=OFF -DCF_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name libcformer.so -print -quit)")
export PATH=$tmp/prefix/bin:$PATH PKG_CONFIG_PATH=$libdir/pkgconfig LD_LIBRARY_PATH=$libdir
export PYTHONPATH=$src/python PYTHONDONTWRITEBYTECODE=1
export HF_HUB_CACHE=$tmp/hf-cache HF_HUB_OFFLINE=1 CFORMER_PREFIX=$tmp/prefix

# The stand-in cache and the work folder's input files.
mkdir -p "$tmp/work"
$py - "$CFORMER_FIXTURES" "$HF_HUB_CACHE" "$tmp/work" <<'PY'
import json, os, shutil, subprocess, sys
import cformer
fixtures, cache, work = sys.argv[1:]
cases = {}   # task -> [(folder, model_type)] with a recorded call of it
inputs = {}  # extension -> first input file recorded in a call
for d, dirs, files in sorted(os.walk(fixtures)):
    dirs.sort()
    if "expected.json" not in files or "config.json" not in files:
        continue
    doc = json.load(open(os.path.join(d, "expected.json")))
    model_type = json.load(open(os.path.join(d, "config.json"))).get("model_type", "")
    for entry in doc.get("calls", []) if isinstance(doc, dict) else []:
        call = entry["call"]
        task = "translation" if call["task"].startswith("translation_") else call["task"]
        if (d, model_type) not in cases.setdefault(task, []):
            cases[task].append((d, model_type))
        for a in call["args"]:
            if isinstance(a, str) and os.path.isfile(os.path.join(d, a)):
                inputs.setdefault(os.path.splitext(a)[1], os.path.join(d, a))

def opens(task, folder):
    try:
        cformer.pipeline(task, model=folder).close()
        return True
    except cformer.CformerError:
        return False

# Stand-in for a task's default model: a folder that opens for the task, preferring the model
# type the Hub id names (the longest one: "distilroberta-base" -> roberta).
for t in json.loads(subprocess.check_output(["cformer", "tasks", "--json"])):
    found = [c for n in [t["task"]] + t["aliases"] for c in cases.get(n, [])]
    found = [c for c in found if opens(t["task"], c[0])]
    if not found or not t["default_model"]:
        continue
    folder = max(found, key=lambda c: len(c[1]) if c[1] and c[1] in t["default_model"].lower() else -1)[0]
    repo = os.path.join(cache, "models--" + t["default_model"].replace("/", "--"))
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    os.makedirs(os.path.join(repo, "snapshots"), exist_ok=True)
    open(os.path.join(repo, "refs", "main"), "w").write("0" * 40)
    os.symlink(folder, os.path.join(repo, "snapshots", "0" * 40))
    print(f"docs-check: {t['default_model']} -> {os.path.relpath(folder, fixtures)}")
os.symlink(os.path.join(os.environ["CFORMER_PREFIX"], "share/cformer/models/stories260k"),
           os.path.join(work, "stories260k"))
for name, ext in (("cat.png", ".png"), ("speech.flac", ".flac")):
    if ext in inputs:
        shutil.copy(inputs[ext], os.path.join(work, name))
PY

docs=$(ls docs/*.md | grep -vx docs/DESIGN.md) # DESIGN.md is the design note, not user docs
$py scripts/docs_check.py "$tmp/work" README.md $docs
$py scripts/gen-models-md.py --check docs/models.md
