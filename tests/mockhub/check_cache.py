#!/usr/bin/env python3
"""Check a Hugging Face cache folder against the rules huggingface_hub reads it by.

usage: check_cache.py CACHE_DIR REPO_ID REVISION FILE...

Mirrors huggingface_hub's file_download.try_to_load_from_cache (refs/<revision> holds the
commit; snapshots/<commit>/<file> is the file) and the checks of utils/_cache_manager.
scan_cache_dir (a repo folder is models--<org>--<name> holding blobs/, refs/ and snapshots/;
snapshot entries are symlinks that resolve inside blobs/; no *.incomplete is linked).
Prints what is wrong and exits 1, or exits 0.
"""
import os
import re
import sys


def try_to_load_from_cache(cache_dir, repo_id, filename, revision):
    # Same steps as huggingface_hub.file_download.try_to_load_from_cache for repo_type="model".
    repo_cache = os.path.join(cache_dir, "models--" + repo_id.replace("/", "--"))
    if not os.path.isdir(repo_cache):
        return None
    refs_dir = os.path.join(repo_cache, "refs")
    snapshots_dir = os.path.join(repo_cache, "snapshots")
    if os.path.isdir(refs_dir):
        revision_file = os.path.join(refs_dir, revision)
        if os.path.isfile(revision_file):
            with open(revision_file) as f:
                revision = f.read()
    if not os.path.exists(snapshots_dir):
        return None
    cached_shas = os.listdir(snapshots_dir)
    if revision not in cached_shas:
        return None
    cached_file = os.path.join(snapshots_dir, revision, filename)
    return cached_file if os.path.isfile(cached_file) else None


def scan_repo(repo_path):
    problems = []
    name = os.path.basename(repo_path)
    if not re.fullmatch(r"models--[^/]+", name):
        problems.append("%s: not a models--org--name folder" % name)
    blobs = os.path.realpath(os.path.join(repo_path, "blobs"))
    snapshots = os.path.join(repo_path, "snapshots")
    if not os.path.isdir(snapshots):
        problems.append("%s: no snapshots/ folder" % repo_path)
        return problems
    for commit in os.listdir(snapshots):
        for root, _, files in os.walk(os.path.join(snapshots, commit)):
            for f in files:
                path = os.path.join(root, f)
                if not os.path.islink(path):
                    problems.append("%s: not a symlink" % path)
                    continue
                target = os.path.realpath(path)
                if os.path.dirname(target) != blobs or not os.path.isfile(target):
                    problems.append("%s -> %s: not a file in blobs/" % (path, target))
                if target.endswith(".incomplete"):
                    problems.append("%s: links an incomplete download" % path)
    refs = os.path.join(repo_path, "refs")
    if os.path.isdir(refs):
        for root, _, files in os.walk(refs):
            for f in files:
                with open(os.path.join(root, f)) as fh:
                    commit = fh.read()
                if not os.path.isdir(os.path.join(snapshots, commit)):
                    problems.append("ref %s -> %s: no such snapshot" % (f, commit))
    return problems


def main():
    cache_dir, repo_id, revision, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    problems = []
    for name in sorted(os.listdir(cache_dir)):
        if name.startswith("models--"):
            problems += scan_repo(os.path.join(cache_dir, name))
    for filename in files:
        if try_to_load_from_cache(cache_dir, repo_id, filename, revision) is None:
            problems.append("try_to_load_from_cache(%r, %r, revision=%r) found nothing" % (repo_id, filename, revision))
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
