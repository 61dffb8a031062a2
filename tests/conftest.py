"""Shared fixtures: the data sets, loaded once per test session; where notebooks leave their figures."""

import os
import shutil
from pathlib import Path

import pytest

from utils.data import load_mnist
from utils.experiments import RESULTS_DIR_VARIABLE

# Every notebook that nbval runs in this session writes its key figures here (the kernels
# inherit the variable); tests/test_claims.py, collected last, checks the text against them.
NOTEBOOK_RESULTS = Path(__file__).resolve().parent.parent / "runs" / "test-results"
shutil.rmtree(NOTEBOOK_RESULTS, ignore_errors=True)
os.environ[RESULTS_DIR_VARIABLE] = str(NOTEBOOK_RESULTS)


def pytest_collection_modifyitems(items):
    """Run the claims last, after nbval has executed the notebooks that produce their figures."""
    items.sort(key=lambda item: item.path.name == "test_claims.py")


@pytest.fixture(scope="session")
def mnist_train():
    return load_mnist("train")


@pytest.fixture(scope="session")
def mnist_test():
    return load_mnist("test")


@pytest.fixture
def empty_model_cache(tmp_path, monkeypatch):
    """A fresh, empty folder for trained models, so a test never reuses the lab's."""
    from utils import experiments

    monkeypatch.setattr(experiments, "CACHE_DIR", tmp_path / "models")
    return tmp_path / "models"
