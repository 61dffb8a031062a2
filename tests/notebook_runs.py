"""Running a notebook headless with papermill in a test, as a student's run would, with a bound on
waiting.

papermill's client emulates ipywidgets' Output widgets: when a cell writes into one, it
sends on the channel it waits on for the cell's reply, and can miss that reply (nbclient
issue #312). The lab's panels no longer write into an Output widget while a cell runs,
which removed the hangs seen; should one come back, a cell that gives no reply within
CELL_LIMIT seconds is stopped and the whole notebook is run once more. A notebook that
fails for any other reason fails the test at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from utils.experiments import RESULTS_DIR_VARIABLE

# seconds; the slowest cell, a matrix column of notebook 08 from an empty cache, stays under
# a minute on two idle cores (benchmarks/notebook_resources.py)
CELL_LIMIT = 600


def run_papermill(
    notebook: Path,
    executed: Path,
    *options: str,
    cwd: Path | None = None,
    keep_results_dir: bool = True,
) -> None:
    """Execute `notebook` into `executed` (output kept in pipes: a kernel started under pytest's
    captured output can hang at shutdown); fail with the end of its log if it fails.

    keep_results_dir=False hides the session's results folder from the kernel, so that this
    run does not overwrite the figures nbval's runs left there.
    """
    environment = dict(os.environ)
    if not keep_results_dir:
        environment.pop(RESULTS_DIR_VARIABLE, None)
    command = [
        sys.executable,
        "-m",
        "papermill",
        "--cwd",
        str(cwd or notebook.parent),
        "--no-progress-bar",
        "--execution-timeout",
        str(CELL_LIMIT),
        str(notebook),
        str(executed),
        *options,
    ]
    for attempt in (1, 2):
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        if done.returncode == 0 or "CellTimeoutError" not in done.stderr:
            break
    assert done.returncode == 0, done.stderr[-3000:]
