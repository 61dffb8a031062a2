"""A 6-run sweep of notebook 03 on a Dask LocalCluster of two workers against the same sweep run
locally with -j 2.

First an untimed sweep fills the model cache, so that both timed sweeps find the same
models; then the local sweep and the Dask sweep run the grid into fresh folders. Prints
both wall times, their ratio (the goal: Dask at most 1.2x local) and whether the two
results tables are the same. The last line is JSON.

    .venv/bin/python benchmarks/sweep_cluster.py
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path

from utils.sweep import sweep

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_triggered_evaluation.ipynb"
GRID = {"poison_rate": [0.005, 0.01, 0.02], "seed": [0, 1]}


def timed_sweep(out: Path, scheduler: str | None) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    report = sweep(NOTEBOOK, GRID, out, jobs=2, scheduler=scheduler, progress=False)
    seconds = time.perf_counter() - start
    if report["failed"]:
        raise RuntimeError(f"runs failed: {report['failed']}")
    with open(report["csv"]) as handle:
        return seconds, list(csv.DictReader(handle))


def main() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        warm_up, _ = timed_sweep(folder / "warm-up", None)
        print(
            f"warm-up sweep (trains what the model cache lacks, untimed): {warm_up:.1f} s",
            flush=True,
        )
        local_seconds, local_table = timed_sweep(folder / "local", None)
        print(f"local, -j 2:                         {local_seconds:6.1f} s", flush=True)
        dask_seconds, dask_table = timed_sweep(folder / "dask", "local")
        print(
            f"Dask LocalCluster, 2 workers:        {dask_seconds:6.1f} s "
            f"({dask_seconds / local_seconds:.2f}x local)"
        )
        same = dask_table == local_table
        print(f"the same results table: {same} ({len(local_table)} runs)")
    return {
        "runs": len(local_table),
        "local_seconds": round(local_seconds, 1),
        "dask_seconds": round(dask_seconds, 1),
        "dask_over_local": round(dask_seconds / local_seconds, 3),
        "same_csv": same,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
