"""What a sweep produces: the table of finished runs, its CSV and plot, and figures aggregated over
seeds."""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import matplotlib

from .grid import Run

STATISTICS = ("mean", "std", "min", "max", "count")


def rows(runs: list[Run]) -> list[dict]:
    """One row per finished run: its parameters, then every number or string in its results."""
    table = []
    for run in runs:
        results = json.loads(run.results.read_text())
        scalars = {
            k: v
            for k, v in results.items()
            if isinstance(v, (int, float, str)) and k not in run.parameters
        }
        table.append({**{k: _cell(v) for k, v in run.parameters.items()}, **scalars})
    return table


def aggregate(table: list[dict], names: list[str], over: str) -> list[dict]:
    """Group rows that differ only in the parameter `over` (a seed); for every numeric result,
    its mean, standard deviation (n - 1; empty for one run), min, max and count."""
    if over not in names:
        raise ValueError(
            f"cannot aggregate over {over!r}: the sweep's parameters are {', '.join(names)}"
        )
    kept = [name for name in names if name != over]
    numeric = [
        k
        for k in dict.fromkeys(k for row in table for k in row)
        if k not in names and all(_is_number(row.get(k)) for row in table)
    ]
    grouped = []
    for key, members in itertools.groupby(
        sorted(table, key=lambda r: [str(r[n]) for n in kept]),
        key=lambda r: tuple(r[n] for n in kept),
    ):
        members = list(members)
        row = dict(zip(kept, key))
        for metric in numeric:
            values = [float(member[metric]) for member in members]
            mean = sum(values) / len(values)
            std = (
                math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
                if len(values) > 1
                else ""
            )
            row.update(
                {
                    f"{metric}_mean": mean,
                    f"{metric}_std": std,
                    f"{metric}_min": min(values),
                    f"{metric}_max": max(values),
                    f"{metric}_count": len(values),
                }
            )
        grouped.append(row)
    return grouped


def write_csv(table: list[dict], path: Path) -> Path:
    """A table (see rows) as CSV."""
    columns = list(dict.fromkeys(key for row in table for key in row))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
    return path


def plot(table: list[dict], names: list[str], path: Path) -> Path:
    """Each result that is a fraction against the first swept parameter, one line per other
    combination.

    For an aggregated table (columns NAME_mean, NAME_min, NAME_max), each line is the
    mean and a band spans the smallest to the largest value.
    """
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    banded = any(key.endswith("_mean") for key in table[0])
    candidates = (
        [k[: -len("_mean")] for k in table[0] if k.endswith("_mean")]
        if banded
        else [k for k in table[0] if k not in names]
    )
    metrics = [
        m
        for m in candidates
        if all(_is_fraction(r.get(f"{m}_mean" if banded else m)) for r in table)
    ]
    x_name, others = names[0], names[1:]
    fig, axes = plt.subplots(
        1, max(1, len(metrics)), figsize=(4.5 * max(1, len(metrics)), 3.6), squeeze=False
    )
    for ax, metric in zip(axes.flat, metrics):
        groups = itertools.groupby(
            sorted(table, key=lambda r: [str(r[o]) for o in others]),
            key=lambda r: tuple(r[o] for o in others),
        )
        for key, members in groups:
            members = sorted(members, key=lambda r: r[x_name])
            label = ", ".join(f"{o}={v}" for o, v in zip(others, key)) or None
            xs = [str(r[x_name]) for r in members]
            (line,) = ax.plot(
                xs,
                [100 * r[f"{metric}_mean" if banded else metric] for r in members],
                "o-",
                label=label,
            )
            if banded:
                ax.fill_between(
                    xs,
                    [100 * r[f"{metric}_min"] for r in members],
                    [100 * r[f"{metric}_max"] for r in members],
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
        ax.set(
            title=metric.replace("_", " ") + (" (mean, band: min to max)" if banded else ""),
            xlabel=x_name,
            ylabel="%",
        )
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_fraction(value) -> bool:
    return isinstance(value, float) and 0 <= value <= 1


def _cell(value):
    return value if isinstance(value, (int, float, str)) else json.dumps(value)
