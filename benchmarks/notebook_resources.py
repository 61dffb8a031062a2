"""Wall time, slowest cell and peak kernel memory of each notebook, run top to bottom as a student
would.

Each notebook runs in its own fresh process with empty caches, so every model and data
set it needs is trained or generated, not loaded. Peak memory is the largest resident set of
the kernel process (Binder stops a kernel at 2 GB). It writes the rows of the notebooks it
ran into docs/results/notebook_resources.json (the others' rows stay), which the instructor
guide's time table and the results page are written from (`make pages`).

    python benchmarks/notebook_resources.py [notebooks/NN_name.ipynb ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "docs" / "results" / "notebook_resources.json"

RUN_ONE = """
import resource, sys, time, nbformat
from datetime import datetime
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
start = time.perf_counter()
folder = {"metadata": {"path": sys.argv[2]}}
NotebookClient(notebook, timeout=1800, kernel_name="python3", resources=folder).execute()
seconds = time.perf_counter() - start
def cell_seconds(cell):
    stamps = cell.metadata.get("execution", {})
    begin, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
    if not (begin and end):
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(begin)).total_seconds()
code = [(cell_seconds(cell), index) for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"]
slowest, index = max(code)
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, slowest, index)
"""


def measure(notebook: Path) -> dict:
    """Run one notebook in a fresh process: its seconds and the kernel's peak memory in MB."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(
            os.environ,
            BACKDOOR_LAB_CACHE=cache,
            BACKDOOR_LAB_SIGNS_CACHE=os.path.join(cache, "signs"),
        )
        done = subprocess.run(
            [sys.executable, "-c", RUN_ONE, str(notebook), str(notebook.parent)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    seconds, peak_mb, slowest, index = map(float, done.stdout.split()[-4:])
    return {
        "notebook": notebook.name,
        "seconds": round(seconds, 1),
        "peak_kernel_mb": round(peak_mb),
        "slowest_cell_seconds": round(slowest, 1),
        "slowest_cell": int(index),
    }


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))[1:]
    rows = []
    for path in paths:
        rows.append(measure(path))
        row = rows[-1]
        print(
            f"{row['notebook']:32s} {row['seconds']:7.1f} s  peak kernel memory "
            f"{row['peak_kernel_mb']:6d} MB  "
            f"slowest cell: {row['slowest_cell']} ({row['slowest_cell_seconds']:.1f} s)",
            flush=True,
        )
    import torch

    # notebooks named on the command line replace their own rows and keep the others'
    kept = json.loads(RESULTS.read_text())["notebooks"] if sys.argv[1:] and RESULTS.exists() else {}
    measured = {Path(row.pop("notebook")).stem: row for row in rows}
    RESULTS.write_text(
        json.dumps(
            {
                "torch": torch.__version__,
                "cpu": torch.backends.cpu.get_cpu_capability(),
                "usable_cpus": len(os.sched_getaffinity(0)),
                "notebooks": {**kept, **measured},
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
