"""How long ABL must train before its isolated 1% is poison, over seeds 0, 1 and 2.

ABL isolates the training samples its LGA-trained model fits best; that works once the
backdoor is learnt faster than the clean task. For BadNets at its defaults (lesson 10's
attack), this follows the isolation epoch by epoch up to the paper's 20, with ABL's
settings otherwise: the share of the isolated samples that are poison, and the seconds of
the first epoch. Then it hands the poison itself (BadNets poisons 1%, as many samples as ABL
isolates) to ABL's unlearning, with ABL's settings, on the model the attack trained: the ASR
and clean accuracy left say what the unlearning step does with a perfect isolation. The matrix
(benchmarks/attack_matrix.py) runs ABL with 5 epochs, what fits in a minute. About ten
minutes with one thread; add attacks of utils.attacks.by_name() to ATTACKS to follow theirs.

    .venv/bin/python benchmarks/abl_isolation.py            # seeds 0, 1, 2
"""

from __future__ import annotations

import copy
import time

import torch
from seed_runs import seed_benchmark

from utils.attacks import by_name, evaluate_attack, poisoned_training_set, train_attack
from utils.data import ImageSet, load_mnist
from utils.defenses.abl import AblSettings, isolate, lowest_loss, unlearn
from utils.seeds import over_seeds
from utils.training import TrainingConfig

ATTACKS = ("BadNets",)
EPOCHS = 20  # the paper's isolation epochs (the authors' code: 10)


def follow(attack_name: str, seed: int, train: ImageSet, test: ImageSet) -> dict:
    attack, config = by_name()[attack_name], TrainingConfig(seed=seed)
    poisoned = poisoned_training_set(attack, train, config)
    settings = AblSettings(isolation_epochs=EPOCHS)
    shares, clock = [], [time.perf_counter()]

    def measure(epoch, model):
        clock.append(time.perf_counter())
        isolated = lowest_loss(model, poisoned, settings.isolated_share)
        shares.append(torch.isin(isolated, poisoned.indices).float().mean().item())

    isolate(poisoned, config, settings, after_epoch=measure)
    model = copy.deepcopy(train_attack(attack, train, config, progress=False).model)
    poison = ImageSet(poisoned.images[poisoned.indices], poisoned.labels[poisoned.indices])
    before = evaluate_attack(model, test, attack)
    unlearn(model, poison, settings, seed)
    after = evaluate_attack(model, test, attack)
    return {
        "poison_share_by_epoch": shares,
        "first_epoch_seconds": clock[1] - clock[0],  # before any measuring
        "asr": before["attack_success_rate"],
        "asr_after_oracle_unlearning": after["attack_success_rate"],
        "clean_after_oracle_unlearning": after["clean_accuracy"],
    }


def main(seeds: list[int]) -> dict:
    train, test = load_mnist("train"), load_mnist("test")
    figures = {}
    for name in ATTACKS:
        rows = over_seeds(lambda seed: follow(name, seed, train, test), seeds)
        print(f"\n{name}: share of ABL's isolated 1% that is poison, after each isolation epoch")
        print("epoch " + "".join(f"{'seed ' + str(row['seed']):>9s}" for row in rows))
        for epoch in range(EPOCHS):
            shares = "".join(f"{row['poison_share_by_epoch'][epoch]:9.1%}" for row in rows)
            print(f"{epoch + 1:5d} {shares}")
        for row in rows:
            print(
                f"seed {row['seed']}: {row['first_epoch_seconds']:.1f} s for the first epoch; the "
                f"poison itself unlearnt (oracle): ASR {row['asr']:.1%} -> "
                f"{row['asr_after_oracle_unlearning']:.1%}, clean accuracy "
                f"{row['clean_after_oracle_unlearning']:.2%}"
            )
        figures[name] = rows
    return {"epochs": EPOCHS, "attacks": figures}


if __name__ == "__main__":
    seed_benchmark(main, "abl_isolation")
