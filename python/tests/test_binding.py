"""The binding itself: library loading, errors, argument mapping, streaming, threads, lifetime."""
import os
import re
import subprocess
import sys
import threading

import pytest

from conftest import read_json, walk_cases, HERE


def first_call(task):
    """(case folder, call) of the first recorded call of `task` under the fixtures."""
    for case in walk_cases("expected.json"):
        doc = read_json(case / "expected.json")
        for entry in (doc.get("calls") or []) if isinstance(doc, dict) else []:
            if entry["call"]["task"] == task:
                return case, entry
    pytest.skip(f"no recorded {task} call under the fixtures")


def test_version_matches_the_package(cformer_module):
    """pyproject.toml's version is the library's (CMakeLists.txt project VERSION)."""
    pyproject = (HERE.parent / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1)
    assert cformer_module.__version__ == version


def test_unknown_task_names_the_task(cformer_module):
    case, _ = first_call("text-classification")
    with pytest.raises(cformer_module.CformerError) as e:
        cformer_module.pipeline("no-such-task", model=case)
    assert e.value.status == "CF_ERR_INVALID_ARG"
    assert "no-such-task" in e.value.message


def test_missing_model_is_not_found(cformer_module, tmp_path):
    with pytest.raises(cformer_module.CformerError) as e:
        cformer_module.pipeline("text-classification", model=tmp_path / "absent")
    assert e.value.status in ("CF_ERR_NOT_FOUND", "CF_ERR_IO")


def test_bad_parameter_is_an_error_naming_it(cformer_module):
    case, entry = first_call("text-classification")
    pipe = cformer_module.pipeline("text-classification", model=case)
    with pytest.raises(cformer_module.CformerError) as e:
        pipe(entry["call"]["args"][0], topk_typo=3)
    assert "topk_typo" in e.value.message


def test_alias_and_properties(cformer_module):
    case, entry = first_call("text-classification")
    with cformer_module.pipeline("sentiment-analysis", model=case) as pipe:
        assert pipe.task == "text-classification"
        assert os.path.samefile(pipe.model_dir, case)
        assert pipe(entry["call"]["args"][0]) == pipe(inputs=entry["call"]["args"][0])
    with pytest.raises(ValueError):
        pipe("after close")


def test_question_answering_keywords_and_dict(cformer_module):
    case, entry = first_call("question-answering")
    pipe = cformer_module.pipeline("question-answering", model=case)
    kw = entry["call"]["kwargs"]
    q = {"question": kw["question"], "context": kw["context"]}
    assert pipe(question=q["question"], context=q["context"]) == pipe(q)


def test_threads_share_one_pipeline(cformer_module):
    case, entry = first_call("text-classification")
    pipe = cformer_module.pipeline("text-classification", model=case)
    text = entry["call"]["args"][0]
    want = pipe(text)
    results = []
    threads = [threading.Thread(target=lambda: results.append(pipe(text))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 4


def test_stream_pieces_make_the_generated_text(cformer_module):
    case, entry = first_call("text-generation")
    pipe = cformer_module.pipeline("text-generation", model=case)
    prompt = entry["call"]["args"][0]
    kwargs = {"max_new_tokens": 8, "do_sample": False}
    gen = pipe.stream(prompt, **kwargs)
    pieces = []
    while True:
        try:
            pieces.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert result == pipe(prompt, **kwargs)
    assert pieces, "no text was streamed"
    assert prompt + "".join(pieces) == result[0]["generated_text"]


def test_stream_error_is_raised(cformer_module):
    case, _ = first_call("text-generation")
    pipe = cformer_module.pipeline("text-generation", model=case)
    with pytest.raises(cformer_module.CformerError):
        list(pipe.stream("x", no_such_option=1))


def test_bad_library_path_says_what_was_tried(tmp_path):
    env = dict(os.environ, CFORMER_LIBRARY=str(tmp_path / "libnothing.so"), PYTHONPATH=str(HERE.parent))
    r = subprocess.run([sys.executable, "-c", "import cformer"], env=env, capture_output=True, text=True)
    assert r.returncode != 0
    assert "CFORMER_LIBRARY" in r.stderr and "libnothing.so" in r.stderr
