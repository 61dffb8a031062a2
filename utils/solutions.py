"""A solution's figures beside their range over seeds: every solution cell of the notebooks
records what it computed, and prints the range the same solution gave for seeds 0, 1 and 2
with the notebook's default settings (docs/results/solutions.json, written by
benchmarks/solution_ranges.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .experiments import RESULTS_DIR_VARIABLE
from .seeds import benchmark_results

RANGES = "solutions"  # docs/results/solutions.json


def solution_figures(
    notebook: str, solution: int, figures: dict[str, float], form: str = "{:.1%}"
) -> list[str]:
    """Record `figures` (name: value) of solution `solution` and print one line per figure:
    its value in this run and its range over the measured seeds, both written with `form`.

    The figures go to $BACKDOOR_LAB_RESULTS_DIR/<notebook>.solutions.json when that variable is
    set (benchmarks/solution_ranges.py sets it for every run).
    """
    if not figures:
        raise ValueError("a solution records at least one figure")
    record(notebook, solution, figures)
    measured = (benchmark_results(RANGES) or {}).get("notebooks", {})
    seeds = measured.get(notebook, {}).get(str(solution), {})
    lines = []
    for name, value in figures.items():
        values = seeds.get(name, {}).values()
        spread = (
            f"seeds 0-2 at the default settings: {form.format(min(values))} to "
            f"{form.format(max(values))}"
            if values
            else "its range over seeds is not measured yet"
        )
        lines.append(f"{name}: {form.format(value)} in this run ({spread})")
    print("\n".join(lines))
    return lines


def record(notebook: str, solution: int, figures: dict[str, float]) -> Path | None:
    folder = os.environ.get(RESULTS_DIR_VARIABLE)
    if not folder:
        return None
    path = Path(folder) / f"{notebook}.solutions.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    recorded.setdefault(str(solution), {}).update(
        {name: float(value) for name, value in figures.items()}
    )
    path.write_text(json.dumps(recorded, indent=1, sort_keys=True))
    return path
