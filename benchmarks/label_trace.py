"""What the data inspections find of Adaptive-Blend: its trigger, or its wrong labels?

For every seed, two models: Adaptive-Blend's at its defaults, and one trained on the same
samples relabelled as the target with their images untouched (LabelsOnly: no trigger, no
covers). Prints, per seed, the share of the poison each data inspection of the matrix found
on each, with the ASR and the poison's share of the target class (the spectral rows assume
at most DefenseSettings.poison_bound of a class is poison, and remove 1.5 times that).
What an inspection finds of the labels-only poison, it finds from the wrong labels alone.
About a tenth of the poison is drawn from the target class itself and keeps its label; in
the labels-only set those are clean images, so the share found there is, if anything, low.
Ends with the figures as JSON, also written to docs/results/label_trace.json. About four
minutes per seed with one thread (the labels-only column's defenses are computed anew each
time, its model is stored; Adaptive-Blend's column comes from the store when the matrix
benchmark or lesson 10 made it).

    .venv/bin/python benchmarks/label_trace.py            # seeds 0, 1, 2
"""

from __future__ import annotations

from seed_runs import seed_benchmark

from utils.attacks import AdaptiveBlend
from utils.attacks.labels_only import LabelsOnly
from utils.data import load_mnist
from utils.defenses.matrix import DEFENSES, DefenseSettings, defense_column
from utils.seeds import over_seeds, seed_table
from utils.training import TrainingConfig

INSPECTIONS = {key: row.short for key, row in DEFENSES.items() if row.figure == "poison found"}
FIGURES = {"attack_success_rate": "ASR", **INSPECTIONS, "poisoned_share_of_target": "of class"}


def measure(seed: int, train, test) -> dict:
    config, attack = TrainingConfig(seed=seed), AdaptiveBlend()
    columns = {
        "adaptive_blend": defense_column(attack, train, test, config, DefenseSettings()),
        # computed anew: the store keys a column by the matrix's code, not LabelsOnly's
        "labels_only": defense_column(
            LabelsOnly(attack), train, test, config, DefenseSettings(), store=False
        ),
    }
    return {name: {key: column[key] for key in FIGURES} for name, column in columns.items()}


def main(seeds: list[int]) -> dict:
    train, test = load_mnist("train"), load_mnist("test")
    rows = over_seeds(lambda seed: measure(seed, train, test), seeds)
    tables = {}
    for name, title in (
        ("adaptive_blend", "Adaptive-Blend"),
        ("labels_only", "the same samples relabelled, no trigger"),
    ):
        tables[name] = [{"seed": row["seed"], **row[name]} for row in rows]
        print(f"\n{title}: ASR, share of the poison each inspection found, poison in its class")
        print(seed_table(tables[name], FIGURES, width=10))
    return {"poison_bound": DefenseSettings().poison_bound, **tables}


if __name__ == "__main__":
    seed_benchmark(main, "label_trace")
