"""One run of a sweep: the notebook in its own papermill process, retried only when its kernel never
started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .grid import Run

# more tries for a run whose kernel failed to start (for example "Address already in use")
START_RETRIES = 2


def run_notebook(
    notebook: Path,
    run: Run,
    extra_env: dict | None = None,
    start_retries: int = START_RETRIES,
    dropped_env: tuple[str, ...] = (),
) -> str | None:
    """Run one notebook with papermill, in this machine's environment less `dropped_env`, plus
    `extra_env`; None if it succeeded, else what went wrong.

    Kernels started at the same moment on one host can fail to start (a port taken
    twice). A run that failed before its first cell ran is tried again, up to
    `start_retries` more times; a run whose notebook raised an error is not.
    """
    run.folder.mkdir(parents=True, exist_ok=True)
    env = {**{k: v for k, v in os.environ.items() if k not in dropped_env}, **(extra_env or {})}
    parameters = {**run.parameters, "results_path": str(run.results.resolve())}
    for attempt in range(start_retries + 1):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                str(notebook),
                str(run.notebook),
                "--cwd",
                str(notebook.parent),
                "--no-progress-bar",
                "-y",
                json.dumps(parameters),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0 and run.results.exists():
            return None
        if not never_started(run.notebook) or attempt == start_retries:
            break
        time.sleep(1 + attempt)
    stderr = done.stderr.strip().splitlines() or ["papermill failed"]
    prefix = (
        ""
        if not never_started(run.notebook)
        else f"the kernel did not start ({attempt + 1} tries): "
    )
    return notebook_error(run.notebook) or prefix + stderr[-1][:300]


def never_started(path: Path) -> bool:
    """True when no cell of the executed notebook ran (or papermill did not even write it)."""
    if not path.exists():
        return True
    try:
        cells = json.loads(path.read_text()).get("cells", [])
    except json.JSONDecodeError:
        return True
    return all(
        cell.get("execution_count") is None for cell in cells if cell.get("cell_type") == "code"
    )


def notebook_error(path: Path) -> str | None:
    """The error a cell of an executed notebook raised, as 'Name: message'."""
    if not path.exists():
        return None
    for cell in json.loads(path.read_text()).get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output['ename']}: {output['evalue']}"[:300]
    return None
