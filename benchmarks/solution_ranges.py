"""The range over seeds 0, 1 and 2 of every figure the notebooks' solutions compute.

Runs every notebook headless (papermill) with its default settings for each seed, with the
thread count the committed notebooks were executed with, two seeds at a time on two cores, sharing
the model cache. Each solution cell records its figures (utils.solutions); this script
collects them into docs/results/solutions.json, from which every solution cell prints its
figure's range beside its own. About twenty minutes on two idle cores with seed 0's models
in the cache. Given notebooks, it runs only those and keeps the other notebooks' ranges.

    .venv/bin/python benchmarks/solution_ranges.py
    .venv/bin/python benchmarks/solution_ranges.py notebooks/01_clean_training.ipynb
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from claims import NOTEBOOKS, run_notebooks

from utils.experiments import RESULTS_DIR_VARIABLE
from utils.runtime import REFERENCE_THREADS, THREADS_VARIABLE
from utils.seeds import RESULTS_DIR
from utils.solutions import SOLUTION_RANGES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = RESULTS_DIR / f"{SOLUTION_RANGES}.json"
SEEDS = (0, 1, 2)


def run_seed(seed: int, folder: Path, notebooks: list[Path]) -> dict[str, dict]:
    """`notebooks` with `seed`: what their solutions recorded, by notebook."""
    environment = dict(
        os.environ, **{THREADS_VARIABLE: str(REFERENCE_THREADS), RESULTS_DIR_VARIABLE: str(folder)}
    )
    failures = run_notebooks(seed, environment, folder, notebooks)
    if failures:
        raise SystemExit(f"seed {seed}: " + "; ".join(failures))
    return {
        path.name.removesuffix(".solutions.json"): json.loads(path.read_text())
        for path in folder.glob("*.solutions.json")
    }


def main() -> None:
    chosen = [Path(name).resolve() for name in sys.argv[1:]] or NOTEBOOKS
    unknown = [str(path) for path in chosen if path not in NOTEBOOKS]
    if unknown:
        raise SystemExit(
            f"not a notebook of the course: {unknown}; choose from notebooks/NN_*.ipynb"
        )
    with tempfile.TemporaryDirectory() as scratch:
        folders = [Path(scratch) / f"seed-{seed}" for seed in SEEDS]
        for folder in folders:
            folder.mkdir()
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = dict(zip(SEEDS, pool.map(run_seed, SEEDS, folders, [chosen] * len(SEEDS))))
    kept = json.loads(RESULTS.read_text())["notebooks"] if RESULTS.exists() else {}
    # the notebooks not run this time keep their ranges; a notebook gone from the course loses them
    not_run = {path.stem for path in NOTEBOOKS} - {path.stem for path in chosen}
    ranges: dict[str, dict] = {name: kept[name] for name in sorted(not_run) if name in kept}
    for seed, notebooks in runs.items():
        for notebook, solutions in notebooks.items():
            for solution, figures in solutions.items():
                for name, value in figures.items():
                    by_seed = ranges.setdefault(notebook, {}).setdefault(solution, {})
                    by_seed.setdefault(name, {})[str(seed)] = value
    for notebook in sorted(ranges):
        for solution, figures in sorted(ranges[notebook].items()):
            for name, values in figures.items():
                print(
                    f"{notebook} solution {solution}, {name}: "
                    f"{min(values.values()):.4g} to {max(values.values()):.4g}"
                )
    RESULTS.write_text(
        json.dumps(
            {
                "seeds": list(SEEDS),
                "threads": REFERENCE_THREADS,
                "torch": torch.__version__,
                "cpu": torch.backends.cpu.get_cpu_capability(),
                "notebooks": ranges,
            },
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
