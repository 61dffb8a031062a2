"""A solution's figures beside their range over seeds: every solution cell of the notebooks
records what it computed, and prints the range the same solution gave for seeds 0, 1 and 2
with the notebook's default settings (docs/results/solutions.json, written by
benchmarks/solution_ranges.py)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .experiments import RESULTS_DIR_VARIABLE
from .seeds import benchmark_results

SOLUTION_RANGES = "solutions"  # docs/results/solutions.json


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
    measured = benchmark_results(SOLUTION_RANGES) or {}
    by_name = measured.get("notebooks", {}).get(notebook, {}).get(str(solution), {})
    seeds = measured.get("seeds", [])
    lines = []
    for name, value in figures.items():
        values = by_name.get(name, {}).values()
        spread = (
            f"seeds {seeds[0]}-{seeds[-1]} at the default settings: {form.format(min(values))} "
            f"to {form.format(max(values))}"
            if values and seeds
            else "its range over seeds is not measured yet"
        )
        lines.append(f"{name}: {form.format(value)} in this run ({spread})")
    print("\n".join(lines))
    return lines


def record(notebook: str, solution: int, figures: dict[str, float]) -> Path | None:
    """Add `figures` to what the notebook's solutions recorded in this run, in
    $BACKDOOR_LAB_RESULTS_DIR/<notebook>.solutions.json (written whole: a kernel stopped midway
    leaves the previous file). Without that variable, record nothing."""
    folder = os.environ.get(RESULTS_DIR_VARIABLE)
    if not folder:
        return None
    path = Path(folder) / f"{notebook}.solutions.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    recorded.setdefault(str(solution), {}).update(
        {name: float(value) for name, value in figures.items()}
    )
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".partial", delete=False) as partial:
        partial.write(json.dumps(recorded, indent=1, sort_keys=True))
    os.replace(partial.name, path)
    return path
