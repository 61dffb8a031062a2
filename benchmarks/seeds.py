"""The course's key claims over several seeds: MNIST attack, dose-response, street signs, defenses.

Each seed fixes which samples are poisoned, the initial weights and the batch order.
Computes with one thread, like the committed notebooks (utils.seeds.seed_benchmark).
Trains what the model cache lacks (about 10 s per MNIST model with one thread),
prints one table per claim with every seed, the mean and the range, and ends with the
figures as JSON (also written to benchmarks/results/seeds.json).

    .venv/bin/python benchmarks/seeds.py            # seeds 0, 1, 2
    .venv/bin/python benchmarks/seeds.py 0 1 2 3 4
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from utils.data import load_mnist
from utils.defenses.report import defense_report
from utils.experiments import AttackConfig, attack_with_baseline, run_attack
from utils.metrics import accuracy
from utils.seeds import over_seeds, seed_benchmark, seed_table, spread
from utils.signs.attack import SIGN_TRAINING, SignAttackConfig, evaluate_signs, train_sign_model
from utils.signs.dataset import load_signs
from utils.training import TrainingConfig, predict

DOSES = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05]   # notebook 03's sweep, without the clean model


def mnist_config(seed: int, poison_rate: float = 0.01) -> AttackConfig:
    return AttackConfig(poison_rate, training=TrainingConfig(seed=seed))


def sign_figures(seed: int, train, test) -> dict:
    config = SignAttackConfig(training=replace(SIGN_TRAINING, seed=seed))
    clean = train_sign_model(config.clean(), train, progress=False).model
    backdoored = train_sign_model(config, train, progress=False).model
    return {"clean_model_accuracy": accuracy(predict(clean, test.images), test.labels),
            **evaluate_signs(backdoored, test, config.sticker, config.target_label, config.source_label)}


def main(seeds: list[int]) -> dict:
    train, test = load_mnist("train"), load_mnist("test")
    results = {"seeds": seeds}

    print("MNIST, the default attack (1% poison, pixel (3, 3), target 8)")
    results["mnist"] = over_seeds(lambda seed: attack_with_baseline(mnist_config(seed), train, test), seeds)
    print(seed_table(results["mnist"], {"clean_model_accuracy": "clean model", "clean_accuracy": "backdoored",
                                        "attack_success_rate": "ASR", "article_metric": "article"}), "\n")

    print("Dose-response: attack success rate by poison rate")
    results["dose_response"] = {str(rate): over_seeds(lambda seed: run_attack(mnist_config(seed, rate), train, test), seeds)
                                for rate in DOSES}
    for rate, rows in results["dose_response"].items():
        asr, clean = spread(rows, "attack_success_rate"), spread(rows, "clean_accuracy")
        print(f"{float(rate):7.2%} poison: ASR {asr['min']:7.2%} to {asr['max']:7.2%} (mean {asr['mean']:7.2%}), "
              f"clean accuracy {clean['min']:.2%} to {clean['max']:.2%}")
    print()

    print("Street signs (synthetic), sticker on 1% = 200 stop signs, target speed limit 50")
    sign_train, sign_test = load_signs("train"), load_signs("test")
    results["signs"] = over_seeds(lambda seed: sign_figures(seed, sign_train, sign_test), seeds)
    print(seed_table(results["signs"], {"clean_model_accuracy": "clean model", "clean_accuracy": "backdoored",
                                        "attack_success_rate": "ASR", "false_trigger_rate": "false trig."}), "\n")

    print("Defenses on the default MNIST backdoor")
    results["defenses"] = over_seeds(lambda seed: defense_report(mnist_config(seed), train, test), seeds)
    print(seed_table(results["defenses"], {"ac_recall": "AC recall", "ac_precision": "AC precis.",
                                           "strip_frr_held_out": "STRIP FRR", "strip_far": "STRIP FAR",
                                           "asr_after_fine_tuning": "ASR tuned", "asr_after_fine_pruning": "ASR pruned",
                                           "clean_accuracy_after_fine_pruning": "acc. pruned"}))
    for row in results["defenses"]:
        print(f"seed {row['seed']}: Neural Cleanse flags {row['nc_flagged_labels']} on the backdoored model "
              f"(label 8: index {row['nc_anomaly_index']:.2f}, mask peak {tuple(row['nc_mask_peak'])}), "
              f"{row['nc_clean_model_flagged']} on the clean model (largest index {row['nc_clean_model_largest_index']:.2f}); "
              f"activation clustering calls labels {row['ac_suspicious_labels']} suspicious")
    return results


if __name__ == "__main__":
    seed_benchmark(main, "seeds", Path(__file__).resolve().parent.parent / "docs" / "results")
