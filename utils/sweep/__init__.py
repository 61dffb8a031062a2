"""Run one notebook over a grid of parameters with papermill; collect the results into a CSV and a
plot.

    python -m utils.sweep notebooks/03_triggered_evaluation.ipynb -p poison_rate 0.005 0.01 0.02
    -p seed 0 1

Every combination runs headless in its own kernel: several at a time on this machine, on
a Dask cluster (--scheduler), or one slice per batch job (--shard I/N). Each run's
executed notebook and results JSON stay in OUT/runs/NAME/; a run whose JSON is there is
skipped, so an interrupted sweep goes on where it stopped. A run that fails is reported
with its parameters and its executed notebook kept; the other runs' results are still
collected. Parameter names and value types are checked before anything runs.

- `grid`: the notebook's parameters, checking a grid, one run per combination, shards
- `execute`: one run in its own papermill process, retried when its kernel fails to start
- `results`: the table of finished runs, the CSV, the plot, and aggregates over seeds
- `cluster`: the same runs as tasks of a Dask cluster (optional: pip install -e .[cluster])
- `local`: the sweep itself, on this machine or a cluster, and collecting a sweep folder
- `command`: the command line (python -m utils.sweep)
"""

from .command import main
from .execute import run_notebook
from .grid import Run, SweepError, check_grid, notebook_parameters, plan, shard
from .local import sweep
from .results import aggregate, plot, rows, write_csv

__all__ = [
    "Run",
    "SweepError",
    "aggregate",
    "check_grid",
    "main",
    "notebook_parameters",
    "plan",
    "plot",
    "rows",
    "run_notebook",
    "shard",
    "sweep",
    "write_csv",
]
