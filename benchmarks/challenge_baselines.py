"""The capstone challenge: how long the training population takes to make, and how the two baseline
detectors score on populations they were not calibrated on.

With an empty model cache, builds the training population (seed 0, twenty models) and times
it against its 3-minute budget; calibrates each baseline on it; then builds three more
populations (seeds 1, 2, 3, standing in for an instructor's test population) and scores
both calibrated baselines on each: ROC-AUC, cross-entropy, target-label accuracy and
seconds per model. Prints the figures, then writes docs/results/challenge.json (the results
page shows it).

    python benchmarks/challenge_baselines.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "challenge.json"
BUILD_BUDGET_SECONDS = 180.0
TEST_SEEDS = (1, 2, 3)


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["BACKDOOR_LAB_CACHE"] = cache
        from utils.challenge.baselines import SCANS, calibrated_baseline
        from utils.challenge.population import (
            TRAINING_POPULATION_SEED,
            build_population,
            clean_images,
        )
        from utils.challenge.scoring import describe, run_detector, score

        clean = clean_images()
        start = time.perf_counter()
        training = build_population(TRAINING_POPULATION_SEED, progress=False)
        build_seconds = time.perf_counter() - start
        print(
            f"training population (20 models) built in {build_seconds:.0f} s: "
            f"{build_seconds / BUILD_BUDGET_SECONDS:.2f} of the {BUILD_BUDGET_SECONDS:.0f} s budget"
        )
        detectors = {name: calibrated_baseline(name, training) for name in SCANS}
        runs = []
        for seed in TEST_SEEDS:
            population = build_population(seed, progress=False)
            for name, detect in detectors.items():
                answers, seconds = run_detector(detect, population, clean)
                scores = score(answers, population, seconds)
                print(f"population {seed}: {name:15s} {describe(scores)}")
                runs.append({"population_seed": seed, "detector": name, **scores._asdict()})
    RESULTS.write_text(
        json.dumps(
            {
                "training_population_build_seconds": round(build_seconds, 1),
                "build_budget_seconds": BUILD_BUDGET_SECONDS,
                "calibrated_on_seed": TRAINING_POPULATION_SEED,
                "usable_cpus": len(os.sched_getaffinity(0)),
                "runs": runs,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
