"""Shared fixtures: the data sets, loaded once per test session."""

import pytest

from utils.data import load_mnist


@pytest.fixture(scope="session")
def mnist_train():
    return load_mnist("train")


@pytest.fixture(scope="session")
def mnist_test():
    return load_mnist("test")
