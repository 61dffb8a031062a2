"""How long installing the lab's packages into a new environment takes: pip in one process,
against the Makefile's way (pip resolves once, tools/parallel_install.py unpacks in one pip per core).

Both install requirements-dev.txt at the versions binder/requirements.txt pins, into a new
virtual environment each time, taking turns (one pip, several, one pip, ...) so that the
machine's drift favours neither. Only the install is timed: creating the environment and
compiling bytecode afterwards are the same either way. Nothing else may run meanwhile, and
each environment needs about 6 GB of disk (PyTorch with its CUDA libraries) until it is deleted.

    python3 benchmarks/install_time.py [--rounds 2]     # about 3 minutes a round on 2 cores

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def new_environment(folder: Path) -> Path:
    """A virtual environment with a current pip, and the constraints file the Makefile writes; its python."""
    subprocess.run(["python3", "-m", "venv", "--upgrade-deps", str(folder)], check=True, capture_output=True)
    pins = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    (folder / "tested-versions.txt").write_text("\n".join(line for line in pins if not line.startswith("-")) + "\n")
    return folder / "bin" / "python"


def pip_install(python: Path, *arguments: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *arguments], cwd=ROOT, check=True,
                   capture_output=True)


def one_pip(python: Path) -> None:
    pip_install(python, "--no-compile", "-r", "requirements-dev.txt", "-c", str(python.parent.parent / "tested-versions.txt"))


def parallel(python: Path) -> None:
    folder = python.parent.parent
    pip_install(python, "--dry-run", "--report", str(folder / "install-report.json"), "-r", "requirements-dev.txt",
                "-c", str(folder / "tested-versions.txt"))
    subprocess.run([str(python), "tools/parallel_install.py", "--quiet", str(folder / "install-report.json")],
                   cwd=ROOT, check=True, capture_output=True)


def gigabytes(folder: Path) -> float:
    """The size of the files under `folder`, in GB."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink()) / 1e9


def timed(install, work: Path) -> tuple[float, float]:
    """Seconds the install took, and the size of the environment it made (GB)."""
    folder = work / "venv"
    python = new_environment(folder)
    start = time.monotonic()
    install(python)
    seconds = time.monotonic() - start
    size = gigabytes(folder)
    shutil.rmtree(folder)
    subprocess.run(["sync"], check=False)   # the next install does not pay for this one's writes
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="turns of each way (default 2)")
    rounds = parser.parse_args().rounds
    if rounds < 1:
        parser.error(f"--rounds must be at least 1, got {rounds}")
    times = {"one_pip_seconds": [], "parallel_seconds": []}
    with tempfile.TemporaryDirectory(prefix="install-time-") as work:
        for round_number in range(1, rounds + 1):
            for name, install in (("one_pip_seconds", one_pip), ("parallel_seconds", parallel)):
                seconds, size = timed(install, Path(work))
                times[name].append(seconds)
                print(f"round {round_number}: {name.replace('_seconds', ''):9s} {seconds:6.1f} s, "
                      f"environment {size:.1f} GB", flush=True)
    one, several = statistics.median(times["one_pip_seconds"]), statistics.median(times["parallel_seconds"])
    print(f"median: one pip {one:.1f} s, resolved once and unpacked in parallel {several:.1f} s: {several / one:.2f}x the time")
    print(json.dumps({**times, "environment_gb": round(size, 2), "ratio": round(several / one, 3)}))


if __name__ == "__main__":
    main()
