"""What the data inspections find of Adaptive-Blend: its trigger, or its wrong labels?

For every seed and poison rate in RATES, two models: Adaptive-Blend's with that share of
poison and as many covers (its default is 2%), and one trained on the same samples
relabelled as the target with their images untouched (LabelsOnly: no trigger, no covers).
Prints, per rate, a seed table of the ASR, the share of the poison each data inspection of
the matrix found, the most a spectral row can find ("at most") and the poison's share of the
target class: the spectral rows assume at most DefenseSettings.poison_bound of a class is
poison and flag 1.5 times that, so a larger share caps what they can find. What an
inspection finds of the labels-only poison, it finds from the wrong labels alone. About a
tenth of the poison is drawn from the target class itself and keeps its label; in the
labels-only set those are clean images, so the share found there is, if anything, low. Ends
with the figures as JSON, also written to docs/results/label_trace.json. About three minutes
per seed and rate with one thread (the labels-only columns' defenses are computed anew each
time, their models are stored; Adaptive-Blend's columns come from the store once made, by
this or the matrix benchmark).

    .venv/bin/python benchmarks/label_trace.py            # seeds 0, 1, 2
"""

from __future__ import annotations

import torch
from seed_runs import seed_benchmark

from utils.attacks import AdaptiveBlend, poisoned_training_set
from utils.attacks.labels_only import LabelsOnly
from utils.data import ImageSet, load_mnist
from utils.defenses.activations import flag_highest
from utils.defenses.matrix import DEFENSES, DefenseSettings, defense_column
from utils.metrics import detection_scores
from utils.seeds import over_seeds, seed_table
from utils.training import TrainingConfig

INSPECTIONS = {key: row.short for key, row in DEFENSES.items() if row.figure == "poison found"}
FIGURES = {
    "attack_success_rate": "ASR",
    **INSPECTIONS,
    "spectral_ceiling": "at most",
    "poisoned_share_of_target": "of class",
}
RATES = (0.01, 0.02, 0.03, 0.04)  # poison, and as many covers; 0.02 is Adaptive-Blend's default
MODELS = {
    "adaptive_blend": "Adaptive-Blend",
    "labels_only": "the same samples relabelled, no trigger",
}


def spectral_ceiling(attack: AdaptiveBlend, train: ImageSet, config: TrainingConfig) -> float:
    """The most of the poison a spectral row can find: its share found when every poisoned
    sample scores above every clean one, with the rows' own rule of how many to flag."""
    poisoned = poisoned_training_set(attack, train, config)
    poison_first = torch.zeros(len(poisoned.labels))
    poison_first[poisoned.indices] = 1.0
    flagged = flag_highest(poison_first, poisoned.labels, DefenseSettings().poison_bound).flagged
    return detection_scores(flagged, poisoned.indices)["recall"]


def measure(seed: int, rate: float, train, test) -> dict:
    config, attack = TrainingConfig(seed=seed), AdaptiveBlend(poison_rate=rate, cover_rate=rate)
    ceiling = spectral_ceiling(attack, train, config)
    columns = {
        "adaptive_blend": defense_column(attack, train, test, config, DefenseSettings()),
        # computed anew: the store keys a column by the matrix's code, not LabelsOnly's
        "labels_only": defense_column(
            LabelsOnly(attack), train, test, config, DefenseSettings(), store=False
        ),
    }
    rows = {}
    for name, column in columns.items():
        column = {**column, "spectral_ceiling": ceiling}
        rows[name] = {key: column[key] for key in FIGURES}
    return rows


def main(seeds: list[int]) -> dict:
    train, test = load_mnist("train"), load_mnist("test")
    rates = {}
    for rate in RATES:
        rows = over_seeds(lambda seed: measure(seed, rate, train, test), seeds)
        rates[str(rate)] = {}
        for name, title in MODELS.items():
            rates[str(rate)][name] = [{"seed": row["seed"], **row[name]} for row in rows]
            print(f"\n{title}, {rate:.0%} poison: ASR, share of the poison each inspection found,")
            print("poison in its class")
            print(seed_table(rates[str(rate)][name], FIGURES, width=10))
    return {"poison_bound": DefenseSettings().poison_bound, "rates": rates}


if __name__ == "__main__":
    seed_benchmark(main, "label_trace")
