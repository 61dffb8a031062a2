"""How long the README's test command takes, from a fresh clone and with warm caches, as a ratio to a
reference commit timed by the same script on the same machine.

A 2-core machine's speed drifts by up to a fifth from hour to hour, so one time alone says
little; a reference timed between the same runs shares the hour's speed. Each commit is
cloned into a temporary folder, where `make test` runs twice: from nothing (install, every
model trained), then again (the .venv and the model cache kept). The fresh runs go reference
first, the warm runs this commit first, so that a steady drift favours neither. The clones
take the committed files: commit what you want timed. Nothing else may run meanwhile.

    python3 benchmarks/make_test_time.py [--reference COMMIT]     # 30 to 40 minutes on 2 cores

Prints each run's time, the CPU time its processes used (and so how many of the cores were busy on
average) and its test summary, then the ratios; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The last commit before the test suite was made faster (notebooks 00-05, 272 tests).
REFERENCE = "ee102bc"
RUN_LIMIT = 45 * 60   # seconds; a run still going then is stopped and reported as such


def commit_of(name: str) -> str:
    return subprocess.run(["git", "rev-parse", name], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def clone(commit: str, folder: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder)], check=True)
    subprocess.run(["git", "checkout", "--quiet", commit], cwd=folder, check=True)
    return folder


def children_cpu_seconds() -> float:
    """User and system CPU time of the finished processes this one waited for, and of theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_test(folder: Path, log: Path) -> dict:
    """Time `make test` in `folder` as CI runs it (the browser tests may not skip); its log goes to `log`."""
    environment = {name: value for name, value in os.environ.items() if name not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environment["BACKDOOR_LAB_REQUIRE_BROWSER"] = "1"
    start, cpu_start = time.monotonic(), children_cpu_seconds()
    with open(log, "w") as output:
        try:
            code = subprocess.run(["make", "test"], cwd=folder, env=environment, stdout=output,
                                  stderr=subprocess.STDOUT, timeout=RUN_LIMIT).returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds, cpu_seconds = time.monotonic() - start, children_cpu_seconds() - cpu_start
    summaries = re.findall(r"=+ (\d+ (?:passed|failed).*?) in [\d.]+s", log.read_text())
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1), "exit_code": code,
            "tests": summaries[-1] if summaries else "no summary"}


def report(name: str, run: dict) -> None:
    status = "stopped at the limit" if run["exit_code"] is None else f"exit {run['exit_code']}"
    print(f"{name:28s} {run['seconds'] / 60:6.2f} min, {run['cpu_seconds'] / 60:6.2f} CPU-min "
          f"({run['cpu_seconds'] / run['seconds']:.2f} cores busy)   {status}, {run['tests']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=REFERENCE, help=f"the commit to compare with (default {REFERENCE})")
    parser.add_argument("--keep", action="store_true", help="keep the clones and their logs")
    arguments = parser.parse_args()
    commits = {"this commit": commit_of("HEAD"), "reference": commit_of(arguments.reference)}
    work = Path(tempfile.mkdtemp(prefix="backdoor-lab-test-time-"))
    folders = {name: clone(commit, work / name.replace(" ", "-")) for name, commit in commits.items()}
    print(f"this commit {commits['this commit'][:10]}, reference {commits['reference'][:10]}; clones in {work}", flush=True)
    runs = {}
    for name, stage in [("reference", "fresh"), ("this commit", "fresh"), ("this commit", "warm"), ("reference", "warm")]:
        runs[name, stage] = make_test(folders[name], work / f"{name.replace(' ', '-')}-{stage}.log")
        report(f"{name}, {stage}", runs[name, stage])
    figures = {"commit": commits["this commit"], "reference": commits["reference"]}
    for stage in ("fresh", "warm"):
        ours, theirs = runs["this commit", stage]["seconds"], runs["reference", stage]["seconds"]
        figures.update({f"{stage}_seconds": ours, f"reference_{stage}_seconds": theirs, f"{stage}_ratio": round(ours / theirs, 3),
                        f"{stage}_cpu_seconds": runs["this commit", stage]["cpu_seconds"],
                        f"reference_{stage}_cpu_seconds": runs["reference", stage]["cpu_seconds"]})
        print(f"{stage}: this commit takes {ours / theirs:.2f}x the reference's time")
    figures["all_passed"] = all(run["exit_code"] == 0 for run in runs.values())
    if not arguments.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
