#!/usr/bin/env python3
"""Run every example of README.md and docs/*.md (see scripts/docs-check.sh for the set-up).

Fenced blocks tagged `sh` run with bash, `python` with python3, `c` are compiled against the
installed library (pkg-config) and run. Blocks with any other tag (text, json, console, none)
are output or illustrations. An HTML comment on the line before a block can say
  <!-- docs-check: requires-task TASK -->   run only if TASK is in the task registry
  <!-- docs-check: skip REASON -->          not run (e.g. needs the network); printed
Each block runs in a fresh copy of the work folder, with a timeout.
usage: docs_check.py WORK_DIR FILE.md...
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\s*$")
DIRECTIVE = re.compile(r"<!--\s*docs-check:\s*(requires-task|skip)\s+(.*?)\s*-->")
TIMEOUT = 120


def blocks(path):
    """(line, lang, code, directive) for every fenced block of a markdown file."""
    lines = open(path, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        d = DIRECTIVE.search(prev)
        yield start + 1, lang, "\n".join(lines[start + 1:j]) + "\n", (d.group(1), d.group(2)) if d else None
        i = j + 1


def registry():
    out = subprocess.run(["cformer", "tasks", "--json"], capture_output=True, text=True, check=True).stdout
    names = set()
    for t in json.loads(out):
        names.add(t["task"])
        names.update(t["aliases"])
    return names


def run(lang, code, cwd):
    if lang == "sh":
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    elif lang == "python":
        cmd = [sys.executable, "-c", code]
    else:  # c: a whole program
        with open(os.path.join(cwd, "example.c"), "w", encoding="utf-8") as f:
            f.write(code)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "cformer", "libcjson"], capture_output=True,
                               text=True, check=True).stdout.split()
        build = subprocess.run(["cc", "-std=c17", "-Wall", "-Wextra", "-Werror", "example.c", "-o", "example"] + flags,
                               cwd=cwd, capture_output=True, text=True)
        if build.returncode:
            return build
        cmd = ["./example"]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


def main():
    work, files = sys.argv[1], sys.argv[2:]
    tasks = registry()
    ran = failed = skipped = 0
    for path in files:
        for line, lang, code, directive in blocks(path):
            if lang not in ("sh", "python", "c"):
                continue
            where = f"{path}:{line} ({lang})"
            if directive and directive[0] == "skip":
                print(f"docs-check: not run {where}: {directive[1]}")
                skipped += 1
                continue
            if directive and directive[0] == "requires-task" and directive[1] not in tasks:
                print(f"docs-check: not run {where}: task {directive[1]} is not in this build's registry")
                skipped += 1
                continue
            with tempfile.TemporaryDirectory() as tmp:
                cwd = os.path.join(tmp, "work")
                shutil.copytree(work, cwd, symlinks=True)
                try:
                    r = run(lang, code, cwd)
                    ok, log = r.returncode == 0, r.stdout + r.stderr
                except subprocess.TimeoutExpired:
                    ok, log = False, f"timed out after {TIMEOUT} s"
            ran += 1
            if not ok:
                failed += 1
                print(f"docs-check: FAIL {where}\n--- code\n{code}--- output\n{log[-3000:]}", file=sys.stderr)
    print(f"docs-check: {ran} examples run, {failed} failed, {skipped} not run")
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main())
