"""Shared helpers: the fixtures root (${CFORMER_FIXTURES}) and walking it for cases."""
import json
import os
import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def fixtures_root():
    root = os.environ.get("CFORMER_FIXTURES") or HERE.parents[2] / "shared" / "fixtures"
    return pathlib.Path(root)


def walk_cases(filename):
    """Every folder under the fixtures that holds `filename`, sorted."""
    root = fixtures_root()
    return sorted(pathlib.Path(d) for d, _, files in os.walk(root) if filename in files)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def pytest_report_header(config):
    import cformer
    return f"cformer {cformer.__version__}, fixtures {fixtures_root()}"


@pytest.fixture(scope="session")
def cformer_module():
    import cformer
    return cformer
