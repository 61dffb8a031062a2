"""Shared fixtures: the data sets, loaded once per test session."""

import pytest

from utils.data import load_mnist


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
