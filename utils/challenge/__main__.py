"""Score a detector on a population of the challenge, from the command line.

    python -m utils.challenge score my_detector.py --population train
    python -m utils.challenge score my_detector.py --population test --seed SECRET
    python -m utils.challenge score --baseline neural-cleanse --population test --seed SECRET
    python -m utils.challenge build --population test --seed SECRET

`score` loads detect() from the file, runs it on every model of the population, prints
ROC-AUC, cross-entropy and target-label accuracy, and appends a row to the leaderboard
(runs/challenge/leaderboard.csv unless --leaderboard says otherwise). The training
population is public (seed 0). The test population is made from a seed that the instructor
keeps: it is never written anywhere, not even on the leaderboard, and it is taken out of
the environment and the command line before a detector is loaded. `--baseline` scores one
of lesson 09's two detectors, calibrated on the training population. `build`
trains a population ahead of time (the models are stored), so that scoring takes only the
detectors' time.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from .baselines import SCANS, calibrated_baseline
from .population import POPULATION_SIZE, TRAINING_POPULATION_SEED, build_population, clean_images
from .scoring import describe, load_detector, run_detector, score

LEADERBOARD = Path(__file__).resolve().parents[2] / "runs" / "challenge" / "leaderboard.csv"
SEED_VARIABLE = "BACKDOOR_LAB_CHALLENGE_SEED"


def population_seed(population: str, seed: int | None) -> int:
    """The seed of the population asked for: the public one for train, the instructor's for test."""
    if population == "train":
        if seed not in (None, TRAINING_POPULATION_SEED):
            raise SystemExit(
                f"error: the training population has seed {TRAINING_POPULATION_SEED}; "
                "use --population test for another seed"
            )
        return TRAINING_POPULATION_SEED
    seed = seed if seed is not None else os.environ.get(SEED_VARIABLE)
    if seed is None:
        raise SystemExit(
            "error: the test population is made from a seed that only the instructor holds: "
            f"pass --seed N or set {SEED_VARIABLE}"
        )
    if not str(seed).isdigit() or int(seed) == TRAINING_POPULATION_SEED:
        raise SystemExit(
            f"error: the test seed must be a whole number other than {TRAINING_POPULATION_SEED} "
            f"(the training population's), got {seed!r}"
        )
    return int(seed)


def append_row(leaderboard: Path, row: dict) -> None:
    leaderboard.parent.mkdir(parents=True, exist_ok=True)
    new = not leaderboard.exists()
    with leaderboard.open("a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m utils.challenge", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    score_parser = commands.add_parser("score", help="score a detector on a population")
    score_parser.add_argument(
        "detector", type=Path, nargs="?", help="a .py file that defines detect()"
    )
    score_parser.add_argument(
        "--baseline",
        choices=list(SCANS),
        help="score a baseline of lesson 09, calibrated on the training population, instead",
    )
    build_parser = commands.add_parser("build", help="train a population ahead of time")
    for sub in (score_parser, build_parser):
        sub.add_argument("--population", choices=("train", "test"), default="train")
        sub.add_argument(
            "--seed", type=int, help=f"the test population's seed (or ${SEED_VARIABLE})"
        )
        sub.add_argument(
            "--size", type=int, default=POPULATION_SIZE, help="models in the population"
        )
    score_parser.add_argument("--leaderboard", type=Path, default=LEADERBOARD)
    score_parser.add_argument("--name", help="the name on the leaderboard (the file's name)")
    args = parser.parse_args(argv)
    seed = population_seed(args.population, args.seed)
    # what a detector could read to learn the test seed: gone before any detector is loaded
    os.environ.pop(SEED_VARIABLE, None)
    sys.argv[1:] = []
    if args.command == "score" and (args.detector is None) == (args.baseline is None):
        raise SystemExit("error: score needs a detector file or --baseline NAME (one of them)")
    if args.size < 2:
        raise SystemExit(
            f"error: --size must be at least 2 (a clean and a backdoored model), got {args.size}"
        )
    try:
        detect = load_detector(args.detector) if args.detector is not None else None
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    population = build_population(seed, args.size, progress=sys.stderr.isatty())
    if args.baseline is not None:
        same = seed == TRAINING_POPULATION_SEED and args.size == POPULATION_SIZE
        training = population if same else build_population(progress=sys.stderr.isatty())
        detect = calibrated_baseline(args.baseline, training)
    if detect is None:
        print(f"built the {args.population} population: {len(population)} models")
        return
    answers, seconds = run_detector(detect, population, clean_images())
    scores = score(answers, population, seconds)
    name = args.name or (args.baseline or args.detector.stem)
    print(
        f"{name} on the {args.population} population ({len(population)} models): {describe(scores)}"
    )
    append_row(
        args.leaderboard,
        {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "name": name,
            "population": args.population,
            "models": len(population),
            "roc_auc": f"{scores.roc_auc:.4f}",
            "cross_entropy": f"{scores.cross_entropy:.4f}",
            "target_accuracy": ""
            if scores.target_accuracy is None
            else f"{scores.target_accuracy:.4f}",
            "seconds_per_model": f"{scores.seconds_per_model:.2f}",
        },
    )
    print(f"added to {args.leaderboard}")


if __name__ == "__main__":
    main()
