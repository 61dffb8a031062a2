"""Notebook 06's attack-by-defense matrix over several seeds.

For every seed: the four attacks at notebook 06's defaults, each model trained (or read
from the cache), every defense run on it. Prints, per attack, a seed table of clean
accuracy, ASR, robust accuracy and each defense's figure; then how often each cell's
verdict came out the same; then the PGD/no-PGD comparison. Ends with the figures as
JSON (also written to benchmarks/results/attack_matrix.json). Computes with one thread,
like the committed notebooks: about 3 minutes per seed whose models and results are not
stored yet, on an idle machine.

    .venv/bin/python benchmarks/attack_matrix.py            # seeds 0, 1, 2
    .venv/bin/python benchmarks/attack_matrix.py 0 1 2 3
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from utils.attacks import BadNets, Blended, LabelConsistent, SIG, evaluate_attack, train_attack
from utils.data import load_mnist
from utils.defenses.matrix import DEFENSES, defense_column, verdict
from utils.seeds import over_seeds, seed_benchmark, seed_table
from utils.training import TrainingConfig

ATTACKS = {"BadNets": BadNets(), "Blended": Blended(), "label-consistent": LabelConsistent(), "SIG": SIG()}
FIGURES = {"clean_accuracy": "clean acc.", "attack_success_rate": "ASR", "robust_accuracy": "robust acc.",
           "activation_clustering": "AC found", "spectral_signatures": "SS found", "whitened_spectral": "white. SS",
           "strip": "STRIP rej.", "fine_pruning": "ASR pruned"}


def main(seeds: list[int]) -> dict:
    train, test = load_mnist("train"), load_mnist("test")
    results = {"seeds": seeds, "matrix": {}, "verdicts": {}}
    for name, attack in ATTACKS.items():
        rows = over_seeds(lambda seed: defense_column(attack, train, test, TrainingConfig(seed=seed)), seeds)
        results["matrix"][name] = rows
        print(f"{name}")
        print(seed_table(rows, FIGURES, width=11))
        print("       Neural Cleanse, anomaly index of the target: "
              + ", ".join(f"seed {row['seed']} {row['neural_cleanse']:.2f}" for row in rows), "\n")
        results["verdicts"][name] = {defense: [verdict(defense, row[defense]) for row in rows] for defense in DEFENSES}

    print("Verdicts over the seeds (caught / partly / missed)")
    print(f"{'':36s}" + "".join(f"{name:>20s}" for name in ATTACKS))
    for defense, (title, _, _) in DEFENSES.items():
        cells = []
        for name in ATTACKS:
            counts = Counter(results["verdicts"][name][defense])
            cells.append(" / ".join(str(counts[v]) for v in ("caught", "partly", "missed")))
        print(f"{title:36s}" + "".join(f"{cell:>20s}" for cell in cells))

    without = LabelConsistent(adversarial=False)
    results["no_pgd"] = over_seeds(lambda seed: evaluate_attack(
        train_attack(without, train, TrainingConfig(seed=seed), progress=False).model, test, without), seeds)
    print("\nLabel-consistent ASR: " + ", ".join(
        f"seed {row['seed']} {pgd['attack_success_rate']:.1%} with PGD, {row['attack_success_rate']:.1%} without"
        for row, pgd in zip(results["no_pgd"], results["matrix"]["label-consistent"])))
    return results


if __name__ == "__main__":
    seed_benchmark(main, "attack_matrix", Path(__file__).resolve().parent / "results")
