"""One call that poisons, trains (or reuses a model trained before) and measures an attack, as a
plain dict of figures; and where a notebook writes its key figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .attacks import Attack, evaluate_attack, train_attack, train_clean
from .data import ImageSet
from .model_store import TrainedModel
from .training import TrainingConfig


def run_attack(
    attack: Attack,
    train: ImageSet,
    test: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    *,
    reuse: bool = True,
    progress: bool = False,
) -> dict:
    """Train (or reuse) the model of `attack` and return its figures as a plain dict."""
    return attack_results(
        train_attack(attack, train, training_config, reuse=reuse, progress=progress), attack, test
    )


def attack_with_baseline(
    attack: Attack,
    train: ImageSet,
    test: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
) -> dict:
    """run_attack's figures, plus the clean test accuracy of the same training without poison."""
    clean = train_clean(train, training_config, progress=False).model
    return {
        **run_attack(attack, train, test, training_config),
        "clean_model_accuracy": evaluate_attack(clean, test, attack)["clean_accuracy"],
    }


def attack_results(trained: TrainedModel, attack: Attack, test: ImageSet) -> dict:
    """The figures of a trained model of `attack`, with the attack's plain settings (JSON-ready)."""
    settings = {
        key: value
        for key, value in attack.settings().items()
        if isinstance(value, (int, float, str))
    }
    return {
        "attack": attack.name,
        **settings,
        "poisoned_samples": len(trained.poisoned_indices),
        **evaluate_attack(trained.model, test, attack),
        "train_seconds": trained.history.train_seconds,
    }


RESULTS_DIR_VARIABLE = "BACKDOOR_LAB_RESULTS_DIR"


def save_results(path: str | Path | None, results: dict, name: str | None = None) -> Path | None:
    """Write a notebook's key figures as JSON to `path` and return the path.

    With no path, they go to $BACKDOOR_LAB_RESULTS_DIR/<name>.json when that variable is
    set (the tests set it, to check the text's claims), else nowhere.
    """
    if path is None:
        folder = os.environ.get(RESULTS_DIR_VARIABLE)
        if not folder or name is None:
            return None
        path = Path(folder) / f"{name}.json"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    return path
