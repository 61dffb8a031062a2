"""The attack-by-defense matrix of notebooks 08 and 10 over several seeds, with its control column.

For every seed: every defense, the classic ones and the modern repairs, on the clean model
(the control) and on the model of each attack of the course at its defaults. Prints, per
column, a seed table of the figures; then how often each cell's verdict came out, and how
often it lay near a threshold; then the seconds each defense took on one model. Ends with
the figures as JSON, also written to docs/results/attack_matrix.json, where notebooks 08
and 10 read the range of every cell over the seeds. Computes with one thread, like the
committed notebooks: about half an hour per seed whose models and results are not
stored yet, on an idle machine. A defense's seconds are those of the run that computed its
column, and a part stored before (ANP's masks, ABL's model, Neural Cleanse's triggers) takes
none: for run times, give it a store of its own with the trained models only
(BACKDOOR_LAB_CACHE).

    .venv/bin/python benchmarks/attack_matrix.py            # seeds 0, 1, 2
    .venv/bin/python benchmarks/attack_matrix.py 0 1 2 3
"""

from __future__ import annotations

from collections import Counter

from seed_runs import seed_benchmark

from utils.attacks import LabelConsistent, by_name, evaluate_attack, train_attack
from utils.data import load_mnist
from utils.defenses.matrix import (
    CONTROL,
    EVERY_DEFENSE,
    ISOLATED,
    DefenseSettings,
    matrix_column,
    near_threshold,
    verdict,
)
from utils.seeds import over_seeds, seed_table
from utils.training import TrainingConfig

ATTACKS = by_name()
# the figures printed as shares (Neural Cleanse's index is printed on its own line)
FIGURES = {
    "clean_accuracy": "clean acc.",
    "attack_success_rate": "ASR",
    **{key: row.short for key, row in EVERY_DEFENSE.items() if key != "neural_cleanse"},
    ISOLATED: "ABL's 1%",  # the share of the samples ABL isolated that were poison
}
VERDICTS = ("caught", "partly", "missed", "like clean")


def main(seeds: list[int]) -> dict:
    train, test = load_mnist("train"), load_mnist("test")
    settings = DefenseSettings()
    columns = {
        name: over_seeds(
            lambda seed: matrix_column(attack, train, test, TrainingConfig(seed=seed), settings),
            seeds,
        )
        for name, attack in {CONTROL: None, **ATTACKS}.items()
    }
    for name, rows in columns.items():
        print(
            f"{name} (for the control: share flagged, STRIP's clean inputs rejected, clean "
            "accuracy "
            "lost by pruning)"
            if name == CONTROL
            else name
        )
        print(seed_table(rows, FIGURES, width=10))
        print(
            "       Neural Cleanse, anomaly index of the target (control: the largest): "
            + ", ".join(f"seed {row['seed']} {row['neural_cleanse']:.2f}" for row in rows),
            "\n",
        )

    print(
        "Verdicts over the seeds: caught / partly / missed / like clean, and [how many near a "
        "threshold]"
    )
    width = max(len(row.title) for row in EVERY_DEFENSE.values())
    print(" " * width + "".join(f"{name:>22s}" for name in ATTACKS))
    for defense, row in EVERY_DEFENSE.items():
        cells = []
        for name in ATTACKS:
            pairs = list(zip(columns[name], columns[CONTROL]))
            counts = Counter(verdict(defense, column, control) for column, control in pairs)
            near = sum(near_threshold(defense, column, control) for column, control in pairs)
            cells.append(" / ".join(str(counts[v]) for v in VERDICTS) + f" [{near}]")
        print(row.title.ljust(width) + "".join(f"{cell:>22s}" for cell in cells))

    without = LabelConsistent(adversarial=False)
    no_pgd = over_seeds(
        lambda seed: evaluate_attack(
            train_attack(without, train, TrainingConfig(seed=seed), progress=False).model,
            test,
            without,
        ),
        seeds,
    )
    print(
        "\nLabel-consistent ASR: "
        + ", ".join(
            f"seed {row['seed']} {pgd['attack_success_rate']:.1%} with PGD, "
            f"{row['attack_success_rate']:.1%} without"
            for row, pgd in zip(no_pgd, columns["label-consistent"])
        )
    )
    print("\nSeconds per defense on one model, one thread (mean, largest over columns and seeds)")
    for step in columns[CONTROL][0]["seconds"]:
        times = [row["seconds"][step] for rows in columns.values() for row in rows]
        print(f"{step:24s} {sum(times) / len(times):6.1f} {max(times):6.1f}")
    ranges = {
        name: {
            key: [min(row[key] for row in rows), max(row[key] for row in rows)]
            for key in [*FIGURES, "neural_cleanse"]
        }
        for name, rows in columns.items()
    }
    return {
        "seeds": seeds,
        "attacks": {name: repr(attack) for name, attack in ATTACKS.items()},
        "settings": repr(settings),
        "columns": columns,
        "ranges": ranges,
        "no_pgd": no_pgd,
    }


if __name__ == "__main__":
    seed_benchmark(main, "attack_matrix")
