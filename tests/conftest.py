"""Shared fixtures: the data sets, loaded once per test session; where notebooks leave their figures."""

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from utils.data import load_mnist
from utils.experiments import RESULTS_DIR_VARIABLE

# Every notebook that nbval runs in this session writes its key figures to the folder in
# RESULTS_DIR_VARIABLE (the kernels inherit it); tests/test_claims.py, collected last,
# checks the text against them. A session that runs the notebooks empties runs/test-results
# and uses it; any other session gets a fresh folder of its own, so that neither mistakes
# another session's figures for its own.
NOTEBOOK_RESULTS = Path(__file__).resolve().parent.parent / "runs" / "test-results"


BINDER_TEST = "test_the_binder_build_steps_succeed_in_a_fresh_environment_and_a_notebook_runs"


REUSERS = {"test_browser.py", "test_sweep.py"}             # tests that reuse the models the notebooks store
REUSING_FIXTURES = {"lab_backdoor", "sign_models"}          # fixtures that load (or train) the notebooks' models


def rank(item) -> int:
    """Where a test runs: 0 unit tests, 1 the notebooks, 2 the claims, 3 tests reusing the notebooks' models, 4 Binder."""
    if item.name == BINDER_TEST:
        return 4
    if item.path.name in REUSERS or REUSING_FIXTURES & set(getattr(item, "fixturenames", ())):
        return 3
    if item.path.name == "test_claims.py":
        return 2
    return 1 if item.path.suffix == ".ipynb" else 0


def pytest_collection_modifyitems(items):
    """Order the session: unit tests first; then the notebooks, which train and store the
    course's models with nothing else running (a busy machine computes with fewer threads,
    which changes a model's last digits); the claims, from the figures nbval has just
    produced; then the tests that reuse the stored models, while Binder's build runs in
    the background; Binder's build checked last."""
    items.sort(key=rank)
    if any(item.path.suffix == ".ipynb" and item.path.parent.name == "notebooks" for item in items):
        shutil.rmtree(NOTEBOOK_RESULTS, ignore_errors=True)
        os.environ[RESULTS_DIR_VARIABLE] = str(NOTEBOOK_RESULTS)
    else:
        os.environ[RESULTS_DIR_VARIABLE] = tempfile.mkdtemp(prefix="backdoor-lab-results-")


_binder = {"pool": ThreadPoolExecutor(max_workers=1), "build": None, "folder": None}


def start_binder_build():
    """Binder's build in a fresh environment, in the background (it mostly waits on pip); started once."""
    if _binder["build"] is None:
        from test_binder import build_in_fresh_environment

        _binder["folder"] = tempfile.TemporaryDirectory(prefix="backdoor-lab-binder-")
        _binder["build"] = _binder["pool"].submit(build_in_fresh_environment, Path(_binder["folder"].name))
    return _binder["build"]


def pytest_runtest_setup(item):
    if rank(item) >= 3 and any(other.name == BINDER_TEST for other in item.session.items):
        start_binder_build()


def pytest_sessionfinish(session):
    _binder["pool"].shutdown(wait=True)
    if _binder["folder"] is not None:
        _binder["folder"].cleanup()


@pytest.fixture(scope="session")
def binder_build():
    """The future of Binder's build, checked by test_binder.py (started here if no earlier test started it)."""
    return start_binder_build()


@pytest.fixture(scope="session")
def mnist_train():
    return load_mnist("train")


@pytest.fixture(scope="session")
def mnist_test():
    return load_mnist("test")


@pytest.fixture
def empty_model_cache(tmp_path, monkeypatch):
    """A fresh, empty folder for trained models, so a test never reuses the lab's."""
    from utils import cache

    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "models")
    return tmp_path / "models"
