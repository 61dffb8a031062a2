"""The fixtures the tests share: the MNIST splits, a small training set, the lab's backdoored
model and an empty model cache. The session's plan is in the root conftest.py."""

import pytest

from utils.attacks import BadNets, poisoned_training_set, train_attack, train_clean
from utils.data import ImageSet, load_mnist
from utils.defenses.reserve import clean_reserve


@pytest.fixture(scope="session")
def mnist_train():
    return load_mnist("train")


@pytest.fixture(scope="session")
def mnist_test():
    return load_mnist("test")


@pytest.fixture(scope="session")
def small_train(mnist_train):
    """The first 2,000 training images: enough to train a model that tests the machinery, in a
    second."""
    return ImageSet(mnist_train.images[:2000], mnist_train.labels[:2000])


@pytest.fixture(scope="session")
def lab_backdoor(mnist_train):
    """The models and poisoned set of notebooks 02, 03 and 06 (from the model cache when there)."""
    attack = BadNets()
    poisoned = poisoned_training_set(attack, mnist_train)
    return {
        "attack": attack,
        "poisoned": poisoned,
        "backdoored": train_attack(attack, mnist_train, progress=False).model,
        "clean": train_clean(mnist_train, progress=False).model,
        "reserve": clean_reserve(mnist_train, poisoned.indices, 6000),
    }


@pytest.fixture
def empty_model_cache(tmp_path, monkeypatch):
    """A fresh, empty folder for trained models, so a test never reuses the lab's."""
    from utils import cache

    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "models")
    return tmp_path / "models"
