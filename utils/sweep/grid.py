"""The grid of a sweep: the notebook's parameters, checking a grid against them, one run per
combination."""

from __future__ import annotations

import ast
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import papermill

SET_BY_SWEEP = {"results_path"}


class SweepError(ValueError):
    """A grid or an option that does not fit the notebook or the sweep."""


@dataclass(frozen=True)
class Run:
    parameters: dict
    folder: Path

    @property
    def notebook(self) -> Path:
        return self.folder / "notebook.ipynb"

    @property
    def results(self) -> Path:
        return self.folder / "results.json"


def notebook_parameters(notebook: str | Path) -> dict:
    """The notebook's parameters (name -> default value), read from its `parameters` cell by
    papermill."""
    found = papermill.inspect_notebook(str(notebook))
    if not found:
        raise SweepError(f"{notebook} has no cell tagged 'parameters'")
    return {name: literal(info["default"]) for name, info in found.items()}


def check_grid(grid: dict[str, list], defaults: dict) -> None:
    """Refuse unknown names and values whose type differs from the default's, listing what is
    allowed."""
    listing = ", ".join(
        f"{name}={value!r}" for name, value in defaults.items() if name not in SET_BY_SWEEP
    )
    for name, values in grid.items():
        if name in SET_BY_SWEEP:
            raise SweepError(
                f"{name} is set by the sweep itself; the notebook's other parameters are: {listing}"
            )
        if name not in defaults:
            raise SweepError(
                f"the notebook has no parameter {name!r}; its parameters are: {listing}"
            )
        if not values:
            raise SweepError(f"{name} needs at least one value")
        expected = defaults[name]
        for value in values:
            if not _same_kind(value, expected):
                raise SweepError(
                    f"{name}={value!r} is a {type(value).__name__}, but the notebook's default "
                    f"{expected!r} is a {type(expected).__name__}; its parameters are: {listing}"
                )


def plan(grid: dict[str, list], out: Path) -> list[Run]:
    """One run per combination of the grid's values, each with its own folder under out/runs."""
    names = list(grid)
    runs = []
    for values in itertools.product(*(grid[name] for name in names)):
        parameters = dict(zip(names, values))
        label = ",".join(f"{name}={_slug(value)}" for name, value in parameters.items())
        runs.append(Run(parameters, out / "runs" / label))
    return runs


def shard(runs: list[Run], index: int, count: int) -> list[Run]:
    """The index-th (from 1) of `count` slices of the runs: every count-th run, starting at run
    `index`.

    The slices are disjoint, together hold every run, and depend only on the grid, so
    the jobs of a scheduler's array (--shard $TASK/$COUNT) share the grid between them.
    """
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or count < 1
        or isinstance(index, bool)
        or not isinstance(index, int)
        or not 1 <= index <= count
    ):
        raise SweepError(f"a shard is I/N with whole numbers 1 <= I <= N, got {index}/{count}")
    return runs[index - 1 :: count]


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4), with a clear error for anything else."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise SweepError(f"a shard is written I/N (for example 2/4), got {text!r}") from None
    shard([], index, count)
    return index, count


def literal(text: str):
    """A Python literal as its value; anything else stays the string it is."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _same_kind(value, default) -> bool:
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _slug(value) -> str:
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in json.dumps(value).strip('"'))
