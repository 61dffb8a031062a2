"""The package's docstrings name every module: utils/__init__.py every module and subpackage,
each subpackage's __init__.py each of its modules (a reader's map of the code)."""

import pkgutil
import re

import pytest

import utils


def modules(package) -> list[str]:
    return [m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "__main__"]


@pytest.mark.parametrize(
    "name", ["utils", *(f"utils.{m.name}" for m in pkgutil.iter_modules(utils.__path__) if m.ispkg)]
)
def test_a_package_docstring_names_each_of_its_modules(name):
    package = __import__(name, fromlist=["_"])
    words = set(re.findall(r"\w+", package.__doc__))
    missing = [module for module in modules(package) if module not in words]
    assert not missing, f"{name}'s docstring does not name {missing}"
