"""The course's key claims over several seeds: MNIST attack, dose-response, street signs, defenses.

Each seed fixes which samples are poisoned, the initial weights and the batch order.
Computes with one thread, like the committed notebooks (seed_runs.seed_benchmark).
Trains what the model cache lacks (about 10 s per MNIST model with one thread),
prints one table per claim with every seed, the mean and the range, and ends with the
figures as JSON (also written to benchmarks/results/seeds.json).

    .venv/bin/python benchmarks/seeds.py            # seeds 0, 1, 2
    .venv/bin/python benchmarks/seeds.py 0 1 2 3 4
"""

from __future__ import annotations

from dataclasses import replace

from seed_runs import seed_benchmark

from utils.attacks import BadNets, evaluate_attack, poisoned_training_set, train_attack, train_clean
from utils.data import ImageSet, load_mnist
from utils.defenses.activations import activation_clustering, penultimate_activations
from utils.defenses.fine_pruning import fine_prune, fine_tune
from utils.defenses.neural_cleanse import reverse_engineer_triggers
from utils.defenses.reserve import clean_reserve
from utils.defenses.strip import held_out_rates
from utils.experiments import attack_with_baseline, run_attack
from utils.metrics import accuracy, detection_scores
from utils.seeds import over_seeds, seed_table, spread
from utils.signs.attack import SIGN_TRAINING, SignAttackConfig, evaluate_signs, train_sign_model
from utils.signs.dataset import load_signs
from utils.training import TrainingConfig, predict

DOSES = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05]  # notebook 03's sweep, without the clean model


def defense_report(attack: BadNets, train: ImageSet, test: ImageSet, seed: int) -> dict:
    """Activation clustering, Neural Cleanse (backdoored and clean model), STRIP, fine-tuning and
    fine-pruning on one BadNets model, with notebook 06's settings."""
    training, target = TrainingConfig(seed=seed), attack.target_label
    poisoned = poisoned_training_set(attack, train, training)
    backdoored = train_attack(attack, train, training, progress=False).model
    clean = train_clean(train, training, progress=False).model
    reserve = clean_reserve(train, poisoned.indices, 6000, seed=seed)
    clustering = activation_clustering(
        penultimate_activations(backdoored, poisoned.images), poisoned.labels, seed=seed
    )
    cleansed = reverse_engineer_triggers(
        backdoored, reserve.images[:2000], seed=seed, progress=False
    )
    control = reverse_engineer_triggers(clean, reserve.images[:2000], seed=seed, progress=False)
    strip = held_out_rates(
        backdoored, test, reserve.images, attack.stamp, attack.targets(test.labels), 2000, seed=seed
    )
    before = evaluate_attack(backdoored, test, attack)
    fine_tuned = evaluate_attack(fine_tune(backdoored, reserve), test, attack)
    fine_pruned = evaluate_attack(fine_prune(backdoored, reserve), test, attack)
    peak = divmod(cleansed.masks[target].argmax().item(), cleansed.masks.shape[-1])
    found = detection_scores(clustering.flagged, poisoned.indices)
    return {
        "ac_recall": found["recall"],
        "ac_precision": found["precision"],
        "ac_suspicious_labels": [c.label for c in clustering.classes if c.suspicious],
        "nc_flagged_labels": cleansed.flagged(),
        "nc_anomaly_index": cleansed.anomaly_index()[target].item(),
        "nc_mask_peak": list(peak),
        "nc_clean_model_flagged": control.flagged(),
        "nc_clean_model_largest_index": control.anomaly_index().max().item(),
        "strip_frr_held_out": strip["false_rejection"],
        "strip_far": strip["false_acceptance"],
        "asr_before": before["attack_success_rate"],
        "asr_after_fine_tuning": fine_tuned["attack_success_rate"],
        "asr_after_fine_pruning": fine_pruned["attack_success_rate"],
        "clean_accuracy_before": before["clean_accuracy"],
        "clean_accuracy_after_fine_pruning": fine_pruned["clean_accuracy"],
    }


def sign_figures(seed: int, train, test) -> dict:
    config = SignAttackConfig(training=replace(SIGN_TRAINING, seed=seed))
    clean = train_sign_model(config.clean(), train, progress=False).model
    backdoored = train_sign_model(config, train, progress=False).model
    return {
        "clean_model_accuracy": accuracy(predict(clean, test.images), test.labels),
        **evaluate_signs(
            backdoored, test, config.sticker, config.target_label, config.source_label
        ),
    }


def main(seeds: list[int]) -> dict:
    train, test = load_mnist("train"), load_mnist("test")
    results = {"seeds": seeds}

    print("MNIST, the default attack (1% poison, pixel (3, 3), target 8)")
    results["mnist"] = over_seeds(
        lambda seed: attack_with_baseline(BadNets(), train, test, TrainingConfig(seed=seed)), seeds
    )
    print(
        seed_table(
            results["mnist"],
            {
                "clean_model_accuracy": "clean model",
                "clean_accuracy": "backdoored",
                "attack_success_rate": "ASR",
                "article_metric": "article",
            },
        ),
        "\n",
    )

    print("Dose-response: attack success rate by poison rate")
    results["dose_response"] = {
        str(rate): over_seeds(
            lambda seed: run_attack(BadNets(rate), train, test, TrainingConfig(seed=seed)), seeds
        )
        for rate in DOSES
    }
    for rate, rows in results["dose_response"].items():
        asr, clean = spread(rows, "attack_success_rate"), spread(rows, "clean_accuracy")
        print(
            f"{float(rate):7.2%} poison: ASR {asr['min']:7.2%} to {asr['max']:7.2%} (mean "
            f"{asr['mean']:7.2%}), "
            f"clean accuracy {clean['min']:.2%} to {clean['max']:.2%}"
        )
    print()

    print("Street signs (synthetic), sticker on 1% = 200 stop signs, target speed limit 50")
    sign_train, sign_test = load_signs("train"), load_signs("test")
    results["signs"] = over_seeds(lambda seed: sign_figures(seed, sign_train, sign_test), seeds)
    print(
        seed_table(
            results["signs"],
            {
                "clean_model_accuracy": "clean model",
                "clean_accuracy": "backdoored",
                "attack_success_rate": "ASR",
                "false_trigger_rate": "false trig.",
            },
        ),
        "\n",
    )

    print("Defenses on the default MNIST backdoor")
    results["defenses"] = over_seeds(
        lambda seed: defense_report(BadNets(), train, test, seed), seeds
    )
    print(
        seed_table(
            results["defenses"],
            {
                "ac_recall": "AC recall",
                "ac_precision": "AC precis.",
                "strip_frr_held_out": "STRIP FRR",
                "strip_far": "STRIP FAR",
                "asr_after_fine_tuning": "ASR tuned",
                "asr_after_fine_pruning": "ASR pruned",
                "clean_accuracy_after_fine_pruning": "acc. pruned",
            },
        )
    )
    for row in results["defenses"]:
        print(
            f"seed {row['seed']}: Neural Cleanse flags {row['nc_flagged_labels']} on the "
            "backdoored model "
            f"(label 8: index {row['nc_anomaly_index']:.2f}, mask peak "
            f"{tuple(row['nc_mask_peak'])}), "
            f"{row['nc_clean_model_flagged']} on the clean model (largest index "
            f"{row['nc_clean_model_largest_index']:.2f}); "
            f"activation clustering calls labels {row['ac_suspicious_labels']} suspicious"
        )
    return results


if __name__ == "__main__":
    seed_benchmark(main, "seeds")
