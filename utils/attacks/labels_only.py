"""An attack with its trigger taken out: the control that tells what a defense learns from the
labels alone.

LabelsOnly(attack) relabels the very samples `attack` relabels, but leaves every image as it
was: no trigger, no covers. What a data inspection finds of its "poison", it finds from
the wrong labels alone. Not one of ATTACKS (it plants no backdoor);
benchmarks/label_trace.py sets it beside Adaptive-Blend. For a clean-label attack, which
relabels nothing, it is the clean training set (and a costly attack's PGD runs anew for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import cache
from ..data import ImageSet
from ..training import TrainingConfig
from ..triggers import PoisonedSet
from .base import Attack


@dataclass(frozen=True)
class LabelsOnly(Attack):
    """The samples `attack` relabels, relabelled the same way, with their images untouched."""

    attack: Attack

    def __post_init__(self):
        if not isinstance(self.attack, Attack):
            raise ValueError(f"LabelsOnly takes an attack, got {type(self.attack).__name__}")

    @property
    def name(self) -> str:
        return f"{self.attack.name}, labels only"

    @property
    def target_label(self) -> int | None:
        return self.attack.target_label

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        poisoned = self.attack.poison(train, seed)
        labels = train.labels.clone()
        labels[poisoned.indices] = poisoned.labels[poisoned.indices]
        return PoisonedSet(train.images.clone(), labels, poisoned.indices)

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        return self.attack.stamp(images)

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        return self.attack.targets(labels)

    def cache_key(self, training_config: TrainingConfig) -> str:
        # the wrapped attack's key covers its settings and code
        return cache.fingerprint(
            "labels only", self.attack.cache_key(training_config), cache.code_of(__name__)
        )
