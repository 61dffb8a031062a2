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


def pytest_collection_modifyitems(items):
    """Order the session: unit tests first, while Binder's build runs in the background; then
    the notebooks, which train and store the course's models; the claims, from the figures
    nbval has just produced; the browser and the sweeps, which reuse the stored models;
    Binder's build checked last."""
    late = {"test_browser.py", "test_sweep.py"}

    def rank(item):
        if item.name == BINDER_TEST:
            return 4
        if item.path.name in late:
            return 3
        if item.path.name == "test_claims.py":
            return 2
        return 1 if item.path.suffix == ".ipynb" else 0

    items.sort(key=rank)
    if any(item.path.suffix == ".ipynb" and item.path.parent.name == "notebooks" for item in items):
        shutil.rmtree(NOTEBOOK_RESULTS, ignore_errors=True)
        os.environ[RESULTS_DIR_VARIABLE] = str(NOTEBOOK_RESULTS)
    else:
        os.environ[RESULTS_DIR_VARIABLE] = tempfile.mkdtemp(prefix="backdoor-lab-results-")


@pytest.fixture(scope="session", autouse=True)
def binder_build(request, tmp_path_factory):
    """Binder's build in a fresh environment, started as the session begins and checked by test_binder.py."""
    if not any(item.name == BINDER_TEST for item in request.session.items):
        yield None
        return
    from test_binder import build_in_fresh_environment

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(build_in_fresh_environment, tmp_path_factory.mktemp("binder"))


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
