"""The test session's plan, for every test and notebook under this folder (fixtures: tests/).

`make test` runs the session in two processes (pytest-xdist, `-n 2 --dist loadgroup`). The
cells of a notebook and the claims about its figures share one xdist group, named after the
notebook, so one process runs them, in order; a file whose tests share one folder (the
website's) marks its own group. Run without -n, a test file runs plainly in one process.
"""

import os
import shutil
import tempfile

import pytest

from utils.experiments import RESULTS_DIR_VARIABLE
from utils.runtime import use_reference_threads

# Every test process, and every kernel it starts, computes with one thread, as the committed
# notebooks were executed: the claims are checked on models with the same last digits, and
# two processes on two cores do not stall each other.
use_reference_threads()

# fixtures that load (or train) the models the notebooks store
REUSING_FIXTURES = {"lab_backdoor", "sign_models"}


def notebook_group(item) -> str | None:
    """The xdist group of a notebook's cells (the notebook's name), or the one a test marks."""
    if item.path.suffix == ".ipynb":
        return item.path.stem
    marker = item.get_closest_marker("xdist_group")
    return marker.args[0] if marker else None


def start_order(item, notebooks: set[str]) -> tuple:
    """The notebooks and the claims about them first, in order, each notebook's claims after
    its cells (notebook 02 trains the backdoored model before 03 asks for it); then the tests
    marked `long`; then those reusing the notebooks' models (marked `reuses_models`, or asking
    for a fixture that loads them); the short unit tests fill the end."""
    group = notebook_group(item)
    if group in notebooks:
        return 0, group, item.path.suffix != ".ipynb"
    if item.get_closest_marker("long"):
        return 1, "", False
    reuses = REUSING_FIXTURES & set(getattr(item, "fixturenames", ()))
    if item.get_closest_marker("reuses_models") or reuses:
        return 2, "", False
    return 3, "", False


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(items):
    notebooks = {item.path.stem for item in items if item.path.suffix == ".ipynb"}
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
    items.sort(key=lambda item: start_order(item, notebooks))


def pytest_configure(config):
    """The controller gives the session a fresh folder for the notebooks' figures (the
    workers and their kernels inherit it): no other session's figures can be mistaken for its
    own. A caller that names the folder (benchmarks/claims.py: figures it computed) keeps it.
    """
    if not hasattr(config, "workerinput") and not os.environ.get(RESULTS_DIR_VARIABLE):
        config.results_dir = tempfile.mkdtemp(prefix="backdoor-lab-results-")
        os.environ[RESULTS_DIR_VARIABLE] = config.results_dir


def pytest_unconfigure(config):
    if hasattr(config, "results_dir"):
        shutil.rmtree(config.results_dir, ignore_errors=True)
