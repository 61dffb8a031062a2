"""The session's plan (two worker processes, a fixed thread count, the work that depends on
other work kept in order) and the shared fixtures."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from utils.data import ImageSet, load_mnist
from utils.defenses.reserve import clean_reserve
from utils.experiments import RESULTS_DIR_VARIABLE, AttackConfig, poison_for, train_model
from utils.runtime import use_reference_threads

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# pytest-xdist runs the session in two processes (addopts in pyproject.toml). Each of them,
# and every kernel they start, computes with one thread, as the committed notebooks were
# executed: the claims are checked on models with the same last digits, and two processes
# on two cores do not stall each other.
use_reference_threads()

BINDER_TEST = "test_the_binder_build_steps_succeed_in_a_fresh_environment_and_a_notebook_runs"
REUSERS = {"test_browser.py", "test_sweep.py"}             # tests that reuse the models the notebooks store
REUSING_FIXTURES = {"lab_backdoor", "sign_models"}          # fixtures that load (or train) the notebooks' models


def rank(item) -> int:
    """When a test starts: 0 the notebooks and their claims, in order (notebook 02 trains the
    backdoored model before 03 asks for it), 1 Binder's build (one of the longest tests),
    2 the tests reusing the notebooks' models, 3 the unit tests (short: they fill the gaps at the end)."""
    if item.path.suffix == ".ipynb" or item.path.name == "test_claims.py":
        return 0
    if item.name == BINDER_TEST:
        return 1
    if item.path.name in REUSERS or REUSING_FIXTURES & set(getattr(item, "fixturenames", ())):
        return 2
    return 3


def notebook_of(nodeid: str) -> str | None:
    """The notebook whose kernel or figures a test needs: a notebook's cells, and the claims
    about its figures (test_claims.py's test_NN_... reads notebook NN's); None for any other test."""
    path, _, name = nodeid.partition("::")
    if path.endswith(".ipynb"):
        return Path(path).stem
    if Path(path).name == "test_claims.py":
        return next(NOTEBOOKS.glob(f"{name.split('_')[1]}_*.ipynb")).stem
    return None


def pytest_collection_modifyitems(items):
    """Order the session by rank, each notebook's claims right after its cells."""
    items.sort(key=lambda item: (rank(item), notebook_of(item.nodeid) or "", item.path.name == "test_claims.py"))


ONE_PROCESS_FILES = {"test_site.py"}   # its tests share one build of the website, in one folder


class NotebookScheduling(LoadScopeScheduling):
    """pytest-xdist's scheduling by scope, where a scope is a notebook with the claims about it
    (one process runs them, in order), a file of ONE_PROCESS_FILES, or any other single test;
    scopes start in the session's order."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.partition("::")[0]
        return notebook_of(nodeid) or (path if Path(path).name in ONE_PROCESS_FILES else nodeid)


def pytest_xdist_make_scheduler(config, log):
    return NotebookScheduling(config, log)


def pytest_configure(config):
    """The controller gives the session a fresh folder for the notebooks' figures (the
    workers and their kernels inherit it): no other session's figures can be mistaken for its own."""
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
    """The first 2,000 training images: enough to train a model that tests the machinery, in a second."""
    return ImageSet(mnist_train.images[:2000], mnist_train.labels[:2000])


@pytest.fixture(scope="session")
def lab_backdoor(mnist_train):
    """The models and poisoned set of notebooks 02, 03 and 05 (from the model cache when there)."""
    config = AttackConfig()
    poisoned = poison_for(config, mnist_train)
    return {
        "config": config,
        "poisoned": poisoned,
        "backdoored": train_model(config, mnist_train, progress=False).model,
        "clean": train_model(config.clean(), mnist_train, progress=False).model,
        "reserve": clean_reserve(mnist_train, poisoned.indices, 6000),
    }


@pytest.fixture
def empty_model_cache(tmp_path, monkeypatch):
    """A fresh, empty folder for trained models, so a test never reuses the lab's."""
    from utils import cache

    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "models")
    return tmp_path / "models"
