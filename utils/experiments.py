"""One call that poisons, trains (or reuses a model trained before) and evaluates a configuration."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, NamedTuple

import torch

from . import models, training, triggers
from . import cache
from .cache import exclusive, load_record, save_atomically
from .data import ImageSet
from .metrics import accuracy, article_metric, attack_success_rate
from .models import SmallCNN
from .runtime import pick_device
from .training import History, TrainingConfig, fit, predict
from .triggers import PoisonedSet, Trigger, apply_trigger, poison



@dataclass(frozen=True)
class AttackConfig:
    """Everything that decides a trained model. poison_rate=0 gives the clean model.

    training.seed fixes both which samples are poisoned and how training runs.
    """

    poison_rate: float = 0.01
    trigger: Trigger = Trigger()
    target_label: int = 8
    include_target_class: bool = True
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def clean(self) -> AttackConfig:
        """The same training without poison: the model to compare against."""
        return replace(self, poison_rate=0.0)


class TrainedModel(NamedTuple):
    model: SmallCNN
    history: History
    poisoned_indices: torch.Tensor


def train_model(config: AttackConfig, train: ImageSet, test: ImageSet | None = None, *, reuse: bool = True,
                progress: bool = True, device: str | None = None) -> TrainedModel:
    """Poison `train` as `config` says and train a SmallCNN on it.

    With reuse=True, a model trained before with the same configuration (and the same
    code and torch version) is loaded from .cache/models instead of trained again, and a
    newly trained model is stored there. reuse=False trains anew (to show the training)
    but never replaces a stored model: the one later notebooks read stays the same,
    whatever thread count a rerun on a busy machine computes with.
    """
    return train_cached(cached_path(config), lambda seed: SmallCNN(seed=seed), lambda: poison_for(config, train),
                        config.training, test, reuse=reuse, progress=progress, device=device)


def train_cached(path: Path, build: Callable[[int | None], torch.nn.Module], poisoned: Callable[[], PoisonedSet],
                 training: TrainingConfig, test: ImageSet | None = None, *, reuse: bool = True, progress: bool = True,
                 device: str | None = None) -> TrainedModel:
    """Load the model stored at `path`, or build(seed) one, train it on poisoned() and store it there if none is.

    A process that needs the model while another one trains it waits, then loads it (cache.exclusive).
    """
    with exclusive(path):
        if reuse:
            model = build(None)
            saved = load_record(path, check=lambda record: model.load_state_dict(record["state"]))
            if saved is not None:
                model.to(pick_device(device), memory_format=torch.channels_last).eval()
                return TrainedModel(model, History(**saved["history"]), saved["poisoned_indices"])
        data = poisoned()
        model = build(training.seed)
        history = fit(model, data, training, test=test, device=device, progress=progress)
        if reuse or not path.exists():
            state = {k: v.cpu() for k, v in model.state_dict().items()}
            save_atomically({"state": state, "history": history.as_dict(), "poisoned_indices": data.indices}, path)
        return TrainedModel(model, history, data.indices)


def poison_for(config: AttackConfig, train: ImageSet) -> PoisonedSet:
    """The training set as `config` poisons it (unchanged when the poison rate is 0)."""
    return poison(train, config.poison_rate, config.trigger, config.target_label,
                  seed=config.training.seed, include_target_class=config.include_target_class)


def evaluate(model: torch.nn.Module, test: ImageSet, trigger: Trigger = Trigger(), target_label: int = 8) -> dict:
    """Clean accuracy, attack success rate and the article's metric of a model, as fractions."""
    triggered = predict(model, apply_trigger(test.images, trigger))
    return {
        "clean_accuracy": accuracy(predict(model, test.images), test.labels),
        "attack_success_rate": attack_success_rate(triggered, test.labels, target_label),
        "article_metric": article_metric(triggered, target_label),
    }


def run_attack(config: AttackConfig, train: ImageSet, test: ImageSet, *, reuse: bool = True,
               progress: bool = False) -> dict:
    """Train (or reuse) the model of `config` and return its figures as a plain dict."""
    return attack_results(train_model(config, train, reuse=reuse, progress=progress), config, test)


def attack_with_baseline(config: AttackConfig, train: ImageSet, test: ImageSet) -> dict:
    """run_attack's figures, plus the clean test accuracy of the same training without poison."""
    return {**run_attack(config, train, test), "clean_model_accuracy": run_attack(config.clean(), train, test)["clean_accuracy"]}


def attack_results(trained: TrainedModel, config: AttackConfig, test: ImageSet) -> dict:
    """The figures of a trained model of `config`, as a plain dict (JSON-ready)."""
    return {
        "poison_rate": config.poison_rate,
        "poisoned_samples": len(trained.poisoned_indices),
        **evaluate(trained.model, test, config.trigger, config.target_label),
        "train_seconds": trained.history.train_seconds,
    }


def cached_path(config: AttackConfig) -> Path:
    """Where the trained model of `config` is (or will be) stored."""
    return cache.CACHE_DIR / f"{cache_key(config)}.pt"


def cache_key(config: AttackConfig) -> str:
    """A name for a trained model: its configuration, the code that trains it, torch's version."""
    if config.poison_rate == 0:  # trigger and target do not matter without poison
        config = replace(config, trigger=Trigger(), target_label=8, include_target_class=True)
    return cache.fingerprint(asdict(config), models, training, triggers)


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
