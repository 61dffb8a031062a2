"""Do the notebooks' claims hold on another machine? Every claim of tests/test_claims.py, checked
on figures computed from an empty cache for several seeds and machine settings.

A model's last digits change with the thread count and with the CPU's vector width (the
order of floating-point sums). This benchmark runs every notebook headless (papermill) for
each seed and each setting below, each setting from its own empty model cache, and then runs
tests/test_claims.py on each run's figures. It prints a table of the claims that held and
the failures with their messages, and writes the table to docs/results/claims.json. Every
claim must hold in every run. About ten minutes per seed and setting on two idle cores.

    .venv/bin/python benchmarks/claims.py                 # seeds 0 1 2, every setting
    .venv/bin/python benchmarks/claims.py --seeds 0 --settings "2 threads"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))[1:]  # not 00
RESULTS = ROOT / "docs" / "results" / "claims.json"
# the next narrower vector kernels than this CPU's
NARROWER = {"AVX512": "avx2", "AVX2": "default"}


def settings() -> dict[str, dict[str, str]]:
    """The machine settings: one and two threads, and one thread with narrower vector kernels
    (what a CPU of another type computes with; ATen and oneDNN each have their own switch)."""
    native = torch.backends.cpu.get_cpu_capability()
    chosen = {"1 thread": {"BACKDOOR_LAB_THREADS": "1"}, "2 threads": {"BACKDOOR_LAB_THREADS": "2"}}
    if native in NARROWER:
        isa = {"avx2": "AVX2", "default": "SSE41"}[NARROWER[native]]
        chosen[f"1 thread, {NARROWER[native]} kernels (this CPU: {native.lower()})"] = {
            "BACKDOOR_LAB_THREADS": "1",
            "ATEN_CPU_CAPABILITY": NARROWER[native],
            "ONEDNN_MAX_CPU_ISA": isa,
        }
    return chosen


def run_notebooks(
    seed: int, environment: dict[str, str], folder: Path, notebooks: list[Path] = NOTEBOOKS
) -> list[str]:
    """Execute `notebooks` with `seed` into `folder`; return the failures, one line each."""
    failures = []
    for notebook in notebooks:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                "--cwd",
                str(notebook.parent),
                "--no-progress-bar",
                str(notebook),
                str(folder / notebook.name),
                "-p",
                "seed",
                str(seed),
                "-p",
                "results_path",
                str(folder / f"{notebook.stem}.json"),
            ],
            env=environment,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            failures.append(f"{notebook.stem} failed: {done.stderr.strip().splitlines()[-1]}")
    return failures


def check_claims(environment: dict[str, str], folder: Path) -> dict[str, str]:
    """Run tests/test_claims.py on the figures in `folder`: {claim: 'held' or the failure's
    message}."""
    report = folder / "claims.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "tests" / "test_claims.py"),
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-q",
            f"--junitxml={report}",
        ],
        env={**environment, "BACKDOOR_LAB_RESULTS_DIR": str(folder)},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    outcome = {}
    for case in ElementTree.parse(report).iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcome[case.get("name")] = (
            "held" if problem is None else problem.get("message", "failed")[:300]
        )
    return outcome


def run(setting: str, environment: dict[str, str], seed: int, folder: Path) -> dict:
    folder.mkdir(parents=True)
    failures = run_notebooks(seed, environment, folder)
    # a notebook that failed left no figures: its claims are not checked on another run's
    claims = check_claims(environment, folder) if not failures else {"every claim": "not run"}
    print(
        f"{setting}, seed {seed}: {sum(v == 'held' for v in claims.values())} of {len(claims)} "
        "claims held" + "".join(f"\n  {line}" for line in failures),
        flush=True,
    )
    return {"setting": setting, "seed": seed, "notebook_failures": failures, "claims": claims}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--settings", nargs="+", help="names of settings to run (default: all)")
    options = parser.parse_args()
    chosen = settings()
    unknown = set(options.settings or []) - set(chosen)
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}; this machine offers {sorted(chosen)}")
    names = options.settings or list(chosen)
    runs = []
    with tempfile.TemporaryDirectory(prefix="claims-") as scratch:
        jobs = []
        for index, name in enumerate(names):
            cache = Path(scratch) / f"setting-{index}"
            environment = {
                **os.environ,
                "BACKDOOR_LAB_FOLLOW_LOAD": "0",
                "BACKDOOR_LAB_CACHE": str(cache / "models"),
                "BACKDOOR_LAB_SIGNS_CACHE": str(cache / "signs"),
                **chosen[name],
            }
            for seed in options.seeds:
                jobs.append((name, environment, seed, cache / f"seed-{seed}"))
        # the runs with one thread share the cores, a run with two threads has them to itself
        # (more threads than cores would stall every run)
        for threads in sorted({int(job[1]["BACKDOOR_LAB_THREADS"]) for job in jobs}):
            batch = [job for job in jobs if int(job[1]["BACKDOOR_LAB_THREADS"]) == threads]
            with ThreadPoolExecutor(max(1, (os.cpu_count() or 1) // threads)) as pool:
                runs += pool.map(lambda job: run(*job), batch)

    claims = sorted({claim for result in runs for claim in result["claims"]})
    print(f"\n{'claim':75s} held in")
    for claim in claims:
        held = sum(result["claims"].get(claim) == "held" for result in runs)
        print(f"{claim[:75]:75s} {held} of {len(runs)}")
    failed = [
        (result, claim, message)
        for result in runs
        for claim, message in result["claims"].items()
        if message != "held"
    ]
    for result, claim, message in failed:
        print(f"\nFAILED {claim} ({result['setting']}, seed {result['seed']}):\n  {message}")
    held_all = not failed and runs
    print("\nEvery claim held in every run." if held_all else f"\n{len(failed)} failures.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "torch": torch.__version__,
                "cpu": torch.backends.cpu.get_cpu_capability(),
                "runs": runs,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
