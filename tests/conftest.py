"""The session's plan and the shared fixtures.

`make test` runs the session in two processes (pytest-xdist, `-n 2 --dist loadgroup`). The
cells of a notebook and the claims about its figures share one xdist group, named after the
notebook, so one process runs them, in order; a file whose tests share one folder (the
website's) marks its own group. Run without -n, a test file runs plainly in one process.
"""

import os
import shutil
import tempfile

import pytest

from utils.attacks import BadNets, poisoned_training_set, train_attack, train_clean
from utils.data import ImageSet, load_mnist
from utils.defenses.reserve import clean_reserve
from utils.experiments import RESULTS_DIR_VARIABLE
from utils.runtime import use_reference_threads

# Every test process, and every kernel it starts, computes with one thread, as the committed
# notebooks were executed: the claims are checked on models with the same last digits, and
# two processes on two cores do not stall each other.
use_reference_threads()

# one of the longest tests: start it early
LONG_FILES = {"test_binder.py"}
# they reuse the models the notebooks store
REUSING_FILES = {"test_browser.py", "test_sweep.py"}
# fixtures that load (or train) those models
REUSING_FIXTURES = {"lab_backdoor", "sign_models"}


def notebook_group(item) -> str | None:
    """The xdist group of a notebook's cells (the notebook's name), or the one a test marks."""
    if item.path.suffix == ".ipynb":
        return item.path.stem
    marker = item.get_closest_marker("xdist_group")
    return marker.args[0] if marker else None


def start_order(item) -> tuple:
    """The notebooks and their claims first, in order, each notebook's claims after its cells
    (notebook 02 trains the backdoored model before 03 asks for it); then the long Binder
    build; then the tests reusing the notebooks' models; the short unit tests fill the end."""
    group = notebook_group(item)
    if group and (item.path.suffix == ".ipynb" or item.path.name == "test_claims.py"):
        return 0, group, item.path.name == "test_claims.py"
    if item.path.name in LONG_FILES:
        return 1, "", False
    if item.path.name in REUSING_FILES or REUSING_FIXTURES & set(getattr(item, "fixturenames", ())):
        return 2, "", False
    return 3, "", False


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
    items.sort(key=start_order)


def pytest_configure(config):
    """The controller gives the session a fresh folder for the notebooks' figures (the
    workers and their kernels inherit it): no other session's figures can be mistaken for its own.
    """
    if not hasattr(config, "workerinput"):
        config.results_dir = tempfile.mkdtemp(prefix="backdoor-lab-results-")
        os.environ[RESULTS_DIR_VARIABLE] = config.results_dir


def pytest_unconfigure(config):
    if hasattr(config, "results_dir"):
        shutil.rmtree(config.results_dir, ignore_errors=True)


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
    """The models and poisoned set of notebooks 02, 03 and 05 (from the model cache when there)."""
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
