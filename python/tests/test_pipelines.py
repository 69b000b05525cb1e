"""Every recorded transformers.pipeline call of every fixture case (expected.json "calls"),
replayed through cformer.pipeline(task, model=case)(*args, **kwargs), must give the same
Python objects. Fixture cases are found by walking ${CFORMER_FIXTURES}.

A call whose task the library reports as unknown is skipped, naming the task, and only if the
task is really absent from the library's registry (its "unknown task" error lists the known
tasks). A model the library refuses at open time with CF_ERR_UNSUPPORTED (an architecture not
implemented yet for a registered task) is skipped with the library's message; docs/models.md,
checked by scripts/docs-check.sh, records which architectures open, so a regression there shows.
Every other failure fails.

Tolerances (the same as the C suites': the binding adds no arithmetic):
  strings, labels, integers, structure, order   exact
  scores ("score"/"scores")                     1e-5 absolute for text tasks, 1e-4 for image and
                                                audio tasks (reference pixel/feature pipelines)
  other floats (feature vectors, depth)         1e-4 + 1e-4 * |expected|
  boxes                                         +-1 per coordinate (Python truncates float boxes)
  images ("mask", "depth": a PNG file in the fixture) a PNG of the same size (pixels are checked
                                                by the C suites)
  "tensor:NAME" outputs                         the tensor NAME of expected.safetensors, as above
"""
import array
import base64
import json
import math
import struct

import pytest

from conftest import read_json, walk_cases

IMAGE_AUDIO_TASKS = ("image-", "object-", "depth-", "audio-", "automatic-speech")


def recorded_calls():
    for case in walk_cases("expected.json"):
        expected = read_json(case / "expected.json")
        calls = expected.get("calls") if isinstance(expected, dict) else None
        for i, entry in enumerate(calls or []):
            yield pytest.param(case, entry, id=f"{case.parent.name}/{case.name}#{i}:{entry['call']['task']}")


_pipelines = {}


def open_pipeline(cformer, task, case):
    key = (task, str(case))
    if key not in _pipelines:
        try:
            _pipelines[key] = cformer.pipeline(task, model=case)
        except cformer.CformerError as e:
            known = e.message.split("known tasks:")[-1] if "unknown task" in e.message else None
            if known is not None and task not in known:
                _pipelines[key] = f"task '{task}' is not in this build's task registry (known:{known.rstrip(')')})"
            elif e.status == "CF_ERR_UNSUPPORTED":
                _pipelines[key] = f"not supported by this build: {e.message}"
            else:
                raise
    p = _pipelines[key]
    if isinstance(p, str):
        pytest.skip(p)
    return p


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def safetensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        info = header[name]
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        f.seek(8 + n + info["data_offsets"][0])
        values = array.array("f", f.read(info["data_offsets"][1] - info["data_offsets"][0]))
    return info["shape"], list(values)


def flatten(x, shape=None):
    """Nested lists -> (shape, flat values)."""
    if isinstance(x, list):
        parts = [flatten(v) for v in x]
        inner = parts[0][0] if parts else []
        return [len(x)] + inner, [v for _, vals in parts for v in vals]
    return [], [x]


class Compare:
    def __init__(self, case, task):
        self.case = case
        self.score_atol = 1e-4 if task.startswith(IMAGE_AUDIO_TASKS) else 1e-5

    def __call__(self, got, want, where="$", key=None):
        if isinstance(want, str) and want.startswith("tensor:"):
            shape, values = safetensor(self.case / "expected.safetensors", want[len("tensor:"):])
            got_shape, got_values = flatten(got)
            assert got_shape == shape, f"{where}: shape {got_shape}, want {shape}"
            for i, (g, w) in enumerate(zip(got_values, values)):
                assert abs(g - w) <= 1e-4 + 1e-4 * abs(w), f"{where}[{i}]: {g} vs {w}"
        elif isinstance(want, str) and want.endswith(".png") and is_case_file(self.case, want):
            assert isinstance(got, str), f"{where}: want a base64 PNG, got {type(got).__name__}"
            assert png_size(base64.b64decode(got)) == png_size((self.case / want).read_bytes()), f"{where}: size"
        elif isinstance(want, dict):
            assert isinstance(got, dict), f"{where}: want an object, got {got!r:.80}"
            assert list(got) == list(want), f"{where}: keys {list(got)}, want {list(want)}"
            for k in want:
                self(got[k], want[k], f"{where}.{k}", k if key != "box" else "box")
        elif isinstance(want, list):
            assert isinstance(got, list) and len(got) == len(want), f"{where}: want a list of {len(want)}, got {got!r:.80}"
            for i, (g, w) in enumerate(zip(got, want)):
                self(g, w, f"{where}[{i}]", key)
        elif isinstance(want, bool) or want is None or isinstance(want, str):
            assert got == want, f"{where}: {got!r}, want {want!r}"
        elif isinstance(want, int) and key == "box":
            assert isinstance(got, int) and abs(got - want) <= 1, f"{where}: {got}, want {want} (+-1)"
        elif isinstance(want, int):
            assert got == want and not isinstance(got, bool), f"{where}: {got!r}, want {want}"
        else:
            assert isinstance(got, (int, float)) and not math.isnan(got), f"{where}: {got!r}, want {want}"
            tol = self.score_atol if key in ("score", "scores") else 1e-4 + 1e-4 * abs(want)
            assert abs(got - want) <= tol, f"{where}: {got}, want {want} (tolerance {tol:g})"


def is_case_file(case, name):
    try:
        return isinstance(name, str) and "/" not in name and (case / name).is_file()
    except OSError:  # a long text, not a file name
        return False


def call_args(case, call):
    """The recorded positional arguments; a file name in the case folder becomes its path."""
    return [str(case / a) if is_case_file(case, a) else a for a in call["args"]]


@pytest.mark.parametrize("case,entry", list(recorded_calls()))
def test_recorded_call(cformer_module, case, entry):
    call = entry["call"]
    pipe = open_pipeline(cformer_module, call["task"], case)
    got = pipe(*call_args(case, call), **call["kwargs"])
    Compare(case, call["task"])(got, entry["output"])


def test_fixtures_have_calls():
    assert list(recorded_calls()), "no recorded pipeline calls under ${CFORMER_FIXTURES}"
