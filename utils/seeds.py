"""The same measurement over several seeds: one row per seed, then mean and range."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

from .tables import figure

# what the seed benchmarks wrote
RESULTS_DIR = Path(__file__).resolve().parent.parent / "docs" / "results"


def over_seeds(measure: Callable[[int], dict], seeds: Iterable[int]) -> list[dict]:
    """Call measure(seed) for every seed; each row is its dict with the seed added."""
    return [{"seed": seed, **measure(seed)} for seed in seeds]


def spread(rows: list[dict], key: str) -> dict:
    """Mean, smallest and largest value of `key` over the rows."""
    values = [row[key] for row in rows]
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}


def benchmark_results(name: str) -> dict | None:
    """The figures a seed benchmark last wrote (docs/results/NAME.json), or None where it has not
    run."""
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def seed_table(rows: list[dict], columns: dict[str, str], width: int = 12) -> str:
    """A text table: one line per seed, then the mean and the range of every column (as
    percentages)."""
    header = f"{'seed':>6s} " + " ".join(f"{title:>{width}s}" for title in columns.values())
    lines = [header] + [
        f"{row['seed']:>6d} " + " ".join(figure(row[key], width) for key in columns) for row in rows
    ]
    summaries = {key: spread(rows, key) for key in columns}
    lines.append(
        f"{'mean':>6s} " + " ".join(figure(summaries[key]["mean"], width) for key in columns)
    )
    lines.append(
        f"{'range':>6s} "
        + " ".join(
            f"{100 * summaries[key]['min']:.2f}-{100 * summaries[key]['max']:.2f}".rjust(width)
            for key in columns
        )
    )
    return "\n".join(lines)
