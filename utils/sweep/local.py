"""The sweep: plan the runs, run what is missing (here, on a Dask cluster, or one shard), collect
the results."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

from ..runtime import THREADS_VARIABLE, usable_cpus
from .execute import run_notebook
from .grid import SweepError, check_grid, notebook_parameters, plan, shard
from .results import aggregate, plot, rows, write_csv

GRID_FILE = "sweep.json"  # the notebook and grid of a sweep folder, for --collect


def sweep(
    notebook: str | Path,
    grid: dict[str, list],
    out: str | Path,
    jobs: int | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    shard_of: tuple[int, int] | None = None,
    over: str | None = None,
) -> dict:
    """Run every combination of `grid` not done before; then write results.csv and results.png.

    `jobs` runs at a time here (default: half the usable CPUs), or on a Dask `scheduler`
    ("local" starts a LocalCluster of `jobs` workers). With shard_of=(I, N) only the
    I-th of N slices runs and nothing is collected (see collect). With `over` (a
    parameter, such as seed), the results are also aggregated over it.
    Returns {"done", "skipped", "failed": [(run, reason)], "csv", "plot", ...} (see collect).
    """
    notebook, out = Path(notebook).resolve(), Path(out)
    check_grid(grid, notebook_parameters(notebook))
    if over is not None and over not in grid:
        raise SweepError(
            f"cannot aggregate over {over!r}: it is not swept (the grid has {', '.join(grid)})"
        )
    runs = plan(grid, out)
    _write_grid(out, notebook, grid)
    mine = shard(runs, *shard_of) if shard_of else runs
    jobs = jobs or max(1, usable_cpus() // 2)
    todo = [run for run in mine if not run.results.exists()]
    report = {"done": [], "skipped": [r for r in mine if r not in todo], "failed": []}
    bar = tqdm(
        total=len(mine),
        initial=len(mine) - len(todo),
        disable=not progress,
        unit="run",
        desc="sweep",
    )

    def finished(run, error):
        if error is None:
            report["done"].append(run)
        else:
            report["failed"].append((run, error))
            bar.write(f"FAILED {run.parameters}: {error}\n  executed notebook kept: {run.notebook}")
        bar.update()

    # each kernel's share of this machine
    local_threads = {THREADS_VARIABLE: str(max(1, usable_cpus() // jobs))}
    with bar:
        if scheduler is None:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(run_notebook, notebook, run, local_threads): run for run in todo
                }
                for future in as_completed(futures):
                    finished(futures[future], future.result())
        elif todo:
            from .cluster import run_on_dask

            run_on_dask(
                notebook,
                todo,
                scheduler,
                jobs,
                local_threads if scheduler == "local" else {},
                finished,
            )
    if shard_of:
        return {**report, "csv": None, "plot": None}
    return {**collect(out, over=over), **report}


def collect(out: str | Path, over: str | None = None) -> dict:
    """Merge the finished runs of a sweep folder into results.csv and results.png (and, with
    `over`, results_over_OVER.csv/.png); list the runs that are missing.

    Returns {"finished", "missing", "failed_before": runs with a notebook but no results,
    "csv", "plot", "aggregate_csv", "aggregate_plot"}.
    """
    out = Path(out)
    if not (out / GRID_FILE).exists():
        raise SweepError(f"{out} holds no sweep (no {GRID_FILE}); run the sweep into it first")
    grid = json.loads((out / GRID_FILE).read_text())["grid"]
    runs = plan(grid, out)
    finished = [run for run in runs if run.results.exists()]
    table = rows(finished)
    report = {
        "finished": finished,
        "missing": [run for run in runs if not run.results.exists()],
        "csv": write_csv(table, out / "results.csv"),
        "plot": plot(table, list(grid), out / "results.png") if table else None,
        "aggregate_csv": None,
        "aggregate_plot": None,
    }
    report["failed_before"] = [run for run in report["missing"] if run.notebook.exists()]
    if over is not None and table:
        kept = [name for name in grid if name != over]
        grouped = aggregate(table, list(grid), over)
        report["aggregate_csv"] = write_csv(grouped, out / f"results_over_{over}.csv")
        report["aggregate_plot"] = (
            plot(grouped, kept, out / f"results_over_{over}.png") if kept else None
        )
    return report


def _write_grid(out: Path, notebook: Path, grid: dict) -> None:
    """Record the sweep's notebook and grid (written beside, then renamed: shards may write it at
    once)."""
    out.mkdir(parents=True, exist_ok=True)
    temporary = out / f".{GRID_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps({"notebook": str(notebook), "grid": grid}, indent=1))
    os.replace(temporary, out / GRID_FILE)
