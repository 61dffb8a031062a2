"""What every attack does, and training, caching and measuring a model of any attack.

An attack poisons a training set (which samples it changes, and how) and stamps its
trigger on test inputs. Poisoned sets and trained models are cached under
.cache/models, keyed by the attack's settings and the code that makes them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path

import torch

from .. import cache
from ..cache import exclusive, load_record, save_atomically
from ..data import ImageSet, check_pixels
from ..metrics import accuracy, article_metric, attack_success_rate, robust_accuracy
from ..model_store import TrainedModel, train_cached
from ..models import SmallCNN
from ..training import TrainingConfig, predict
from ..triggers import PoisonedSet, is_fraction


class Attack(ABC):
    """A backdoor attack: subclasses are frozen dataclasses whose fields are its settings."""

    name: str  # a short name for tables
    # the label the trigger should produce; None when it depends on the input (see targets)
    target_label: int | None
    costly = False  # poisoning takes long (PGD): the poisoned set is stored, made once

    @abstractmethod
    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        """A poisoned copy of `train`; `seed` fixes which samples are changed."""

    @abstractmethod
    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        """Test inputs (uint8 [N, C, H, W]) with the trigger on them, as the attacker shows them."""

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """The label the trigger should turn each input of true label `labels` into."""
        return torch.full_like(labels, self.target_label)

    def settings(self) -> dict:
        """What decides the poisoned set: the attack's fields."""
        return asdict(self)

    def cache_key(self, training_config: TrainingConfig) -> str:
        """A name for the model this attack and training make (and for its poisoned set)."""
        description = {
            "attack": type(self).__name__,
            **self.settings(),
            "training": asdict(training_config),
        }
        return cache.fingerprint(description, cache.code_of(type(self).__module__))


def check_share(value, what: str) -> None:
    """Raise ValueError unless `value` is a fraction in (0, 1]."""
    if not is_fraction(value) or value == 0:
        raise ValueError(f"{what} must be a fraction in (0, 1], got {value!r}")


def check_square(images: torch.Tensor) -> None:
    """Raise ValueError unless `images` are uint8 pixels [N, C, H, W] with H = W (what the
    image-wide triggers are drawn for)."""
    check_pixels(images)
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"this trigger needs square images, got {list(images.shape[-2:])}")


def stamped_copy(
    attack: Attack, train: ImageSet, indices: torch.Tensor, relabel: bool
) -> PoisonedSet:
    """A copy of `train` whose samples at `indices` carry attack.stamp, relabelled as the target
    when `relabel`."""
    images, labels = train.images.clone(), train.labels.clone()
    images[indices] = attack.stamp(images[indices])
    if relabel:
        labels[indices] = attack.target_label
    return PoisonedSet(images, labels, indices)


def pick_from_class(labels: torch.Tensor, label: int, share: float, seed: int) -> torch.Tensor:
    """Sorted indices of int(share x count) samples of class `label`, drawn by `seed`."""
    members = (labels == label).nonzero().squeeze(1)
    chosen = torch.randperm(len(members), generator=torch.Generator().manual_seed(seed))[
        : int(share * len(members))
    ]
    return members[chosen].sort().values


def stored_path(attack: Attack, training_config: TrainingConfig, suffix: str = ".pt") -> Path:
    """Where the model of `attack` and `training_config` (or, with suffix ".poison.pt", its poisoned
    set) is stored."""
    return cache.CACHE_DIR / f"{attack.cache_key(training_config)}{suffix}"


def poisoned_training_set(
    attack: Attack, train: ImageSet, training_config: TrainingConfig = TrainingConfig()
) -> PoisonedSet:
    """attack.poison(train, seed); a costly attack's is stored the first time, so that PGD runs
    once."""
    if not attack.costly:
        return attack.poison(train, training_config.seed)
    path = stored_path(attack, training_config, ".poison.pt")
    with exclusive(path):
        saved = load_record(path, check=lambda record: None)
        if saved is None:
            data = attack.poison(train, training_config.seed)
            save_atomically(
                {
                    "indices": data.indices,
                    "images": data.images[data.indices],
                    "labels": data.labels[data.indices],
                },
                path,
            )
            return data
    images, labels = train.images.clone(), train.labels.clone()
    images[saved["indices"]], labels[saved["indices"]] = saved["images"], saved["labels"]
    return PoisonedSet(images, labels, saved["indices"])


def train_attack(
    attack: Attack,
    train: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    test: ImageSet | None = None,
    *,
    reuse: bool = True,
    progress: bool = True,
    device: str | None = None,
) -> TrainedModel:
    """Poison `train` with `attack` and train a SmallCNN on it, or load the model stored before.

    `test`, when given, is measured after every epoch (the training curves). reuse=False
    trains anew without replacing the stored model (see utils.model_store).
    """
    return train_cached(
        stored_path(attack, training_config),
        lambda seed: SmallCNN(seed=seed),
        lambda: poisoned_training_set(attack, train, training_config),
        training_config,
        test,
        reuse=reuse,
        progress=progress,
        device=device,
    )


def evaluate_attack(model: torch.nn.Module, test: ImageSet, attack: Attack) -> dict:
    """Clean accuracy, attack success rate, robust accuracy and the article's measure."""
    triggered = predict(model, attack.stamp(test.images))
    targets = attack.targets(test.labels)
    return {
        "clean_accuracy": accuracy(predict(model, test.images), test.labels),
        "attack_success_rate": attack_success_rate(triggered, test.labels, targets),
        "robust_accuracy": robust_accuracy(triggered, test.labels, targets),
        "article_metric": article_metric(triggered, targets),
    }
