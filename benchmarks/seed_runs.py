"""What the seed benchmarks share: their command line, their thread count, and where their figures
go."""

from __future__ import annotations

import json
import sys
from typing import Callable

from utils.runtime import REFERENCE_THREADS, use_reference_threads
from utils.seeds import RESULTS_DIR


def seed_benchmark(measure: Callable[[list[int]], dict], name: str, folder=RESULTS_DIR) -> None:
    """A seed benchmark's command line: the seeds are its arguments (default 0 1 2); the
    figures go to folder/NAME.json (docs/results/, where the notebooks read them) and, as the
    last line printed, to standard output. It computes with the committed notebooks' thread
    count, so that seed 0's figures are theirs."""
    use_reference_threads()
    figures = {
        **measure([int(seed) for seed in sys.argv[1:]] or [0, 1, 2]),
        "threads": REFERENCE_THREADS,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))
