"""Run one notebook over a grid of parameters with papermill; collect the results into a CSV and a plot.

    python -m utils.sweep notebooks/03_triggered_evaluation.ipynb -p poison_rate 0.005 0.01 0.02 -p seed 0 1

Every combination runs headless in its own kernel, several at a time where the machine
has cores to spare. Each run's executed notebook and results JSON stay in
OUT/runs/NAME/; a run whose JSON is there already is skipped, so an interrupted sweep
goes on where it stopped. A run that fails is reported with its parameters and its
executed notebook kept; the other runs' results are still collected. Parameter names
and value types are checked against the notebook's parameters cell before anything runs.
"""

from __future__ import annotations

import argparse
import ast
import csv
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import papermill
from tqdm.auto import tqdm

from .runtime import THREADS_VARIABLE, usable_cpus

SET_BY_SWEEP = {"results_path"}


class SweepError(ValueError):
    """A grid that does not fit the notebook's parameters."""


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
    """The notebook's parameters (name -> default value), read from its `parameters` cell by papermill."""
    found = papermill.inspect_notebook(str(notebook))
    if not found:
        raise SweepError(f"{notebook} has no cell tagged 'parameters'")
    return {name: _literal(info["default"]) for name, info in found.items()}


def check_grid(grid: dict[str, list], defaults: dict) -> None:
    """Refuse unknown names and values whose type differs from the default's, listing what is allowed."""
    listing = ", ".join(f"{name}={value!r}" for name, value in defaults.items() if name not in SET_BY_SWEEP)
    for name, values in grid.items():
        if name in SET_BY_SWEEP:
            raise SweepError(f"{name} is set by the sweep itself; the notebook's other parameters are: {listing}")
        if name not in defaults:
            raise SweepError(f"the notebook has no parameter {name!r}; its parameters are: {listing}")
        if not values:
            raise SweepError(f"{name} needs at least one value")
        expected = defaults[name]
        for value in values:
            if not _same_kind(value, expected):
                raise SweepError(f"{name}={value!r} is a {type(value).__name__}, but the notebook's default "
                                 f"{expected!r} is a {type(expected).__name__}; its parameters are: {listing}")


def plan(grid: dict[str, list], out: Path) -> list[Run]:
    """One run per combination of the grid's values, each with its own folder under out/runs."""
    names = list(grid)
    runs = []
    for values in itertools.product(*(grid[name] for name in names)):
        parameters = dict(zip(names, values))
        label = ",".join(f"{name}={_slug(value)}" for name, value in parameters.items())
        runs.append(Run(parameters, out / "runs" / label))
    return runs


def sweep(notebook: str | Path, grid: dict[str, list], out: str | Path, jobs: int | None = None,
          progress: bool = True) -> dict:
    """Run every combination of `grid` (skipping runs done before); write results.csv and results.png.

    Returns {"done": [...], "skipped": [...], "failed": [...], "csv": path, "plot": path or None}.
    """
    notebook, out = Path(notebook).resolve(), Path(out)
    check_grid(grid, notebook_parameters(notebook))
    runs = plan(grid, out)
    jobs = jobs or max(1, usable_cpus() // 2)
    todo = [run for run in runs if not run.results.exists()]
    report = {"done": [], "skipped": [r for r in runs if r not in todo], "failed": []}
    env = dict(os.environ, **{THREADS_VARIABLE: str(max(1, usable_cpus() // jobs))})   # each kernel's share of the CPUs
    with ThreadPoolExecutor(max_workers=jobs) as pool, tqdm(total=len(runs), initial=len(runs) - len(todo),
                                                              disable=not progress, unit="run", desc="sweep") as bar:
        futures = {pool.submit(_execute, notebook, run, env): run for run in todo}
        for future in as_completed(futures):
            run, error = futures[future], future.result()
            if error is None:
                report["done"].append(run)
            else:
                report["failed"].append((run, error))
                bar.write(f"FAILED {run.parameters}: {error}\n  executed notebook kept: {run.notebook}")
            bar.update()
    table = rows([run for run in runs if run.results.exists()])
    report["csv"] = write_csv(table, out / "results.csv")
    report["plot"] = plot(table, list(grid), out / "results.png") if table else None
    return report


def _execute(notebook: Path, run: Run, env: dict) -> str | None:
    """Run one notebook in its own papermill process; None if it succeeded, else what went wrong."""
    run.folder.mkdir(parents=True, exist_ok=True)
    parameters = {**run.parameters, "results_path": str(run.results.resolve())}
    done = subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(run.notebook), "--cwd", str(notebook.parent),
                           "--no-progress-bar", "-y", json.dumps(parameters)], env=env, capture_output=True, text=True)
    if done.returncode == 0 and run.results.exists():
        return None
    return _notebook_error(run.notebook) or (done.stderr.strip().splitlines() or ["papermill failed"])[-1][:300]


def _notebook_error(path: Path) -> str | None:
    """The error a cell of an executed notebook raised, as 'Name: message'."""
    if not path.exists():
        return None
    for cell in json.loads(path.read_text()).get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output['ename']}: {output['evalue']}"[:300]
    return None


def rows(runs: list[Run]) -> list[dict]:
    """One row per finished run: its parameters, then every number or string in its results."""
    table = []
    for run in runs:
        results = json.loads(run.results.read_text())
        scalars = {k: v for k, v in results.items() if isinstance(v, (int, float, str)) and k not in run.parameters}
        table.append({**{k: _cell(v) for k, v in run.parameters.items()}, **scalars})
    return table


def write_csv(table: list[dict], path: Path) -> Path:
    """The results table (see rows) as CSV."""
    columns = list(dict.fromkeys(key for row in table for key in row))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
    return path


def plot(table: list[dict], names: list[str], path: Path) -> Path:
    """Each result that is a fraction against the first swept parameter, one line per other combination."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [k for k in table[0] if k not in names and all(isinstance(r.get(k), float) and 0 <= r[k] <= 1 for r in table)]
    x_name, others = names[0], names[1:]
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(4.5 * max(1, len(metrics)), 3.6), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        groups = itertools.groupby(sorted(table, key=lambda r: [str(r[o]) for o in others]), key=lambda r: tuple(r[o] for o in others))
        for key, members in groups:
            members = sorted(members, key=lambda r: r[x_name])
            label = ", ".join(f"{o}={v}" for o, v in zip(others, key)) or None
            ax.plot([str(r[x_name]) for r in members], [100 * r[metric] for r in members], "o-", label=label)
        ax.set(title=metric.replace("_", " "), xlabel=x_name, ylabel="%")
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _literal(text: str):
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


def _cell(value):
    return value if isinstance(value, (int, float, str)) else json.dumps(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", help="the notebook to run, e.g. notebooks/03_triggered_evaluation.ipynb")
    parser.add_argument("-p", "--parameter", nargs="+", action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter and the values to try (Python literals); repeat for a grid")
    parser.add_argument("-o", "--out", help="output folder (default: runs/sweep-NOTEBOOK)")
    parser.add_argument("-j", "--jobs", type=int, help="runs at a time (default: half the usable CPUs, at least 1)")
    args = parser.parse_args(argv)
    grid = {}
    for name, *values in args.parameter:
        if not values:
            parser.error(f"-p {name} needs at least one value")
        grid[name] = [_literal(v) for v in values]
    out = Path(args.out or Path("runs") / f"sweep-{Path(args.notebook).stem}")
    try:
        report = sweep(args.notebook, grid, out, jobs=args.jobs)
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(report['done'])} runs done, {len(report['skipped'])} skipped (done before), {len(report['failed'])} failed")
    for run, reason in report["failed"]:
        print(f"  failed: {run.parameters}: {reason} (executed notebook: {run.notebook})")
    print(f"results: {report['csv']}" + (f" and {report['plot']}" if report["plot"] else ""))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
