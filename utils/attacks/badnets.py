"""BadNets (Gu et al., 2017): a visible trigger patch on a share of the training set, relabelled as the target.

The attack of notebooks 02-05, behind the interface every attack shares; its models are
the same ones, in the same cache entries, as utils.experiments trains.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import ImageSet
from ..experiments import AttackConfig, TrainedModel, cache_key, poison_for, train_model
from ..training import TrainingConfig
from ..triggers import PoisonedSet, Trigger, apply_trigger, is_fraction
from .base import Attack, check_target


@dataclass(frozen=True)
class BadNets(Attack):
    """Stamp `trigger` on int(N x rate) training samples of any class and relabel them `target_label`."""

    rate: float = 0.01
    trigger: Trigger = Trigger()
    target_label: int = 8
    name = "BadNets"

    def __post_init__(self):
        if not is_fraction(self.rate):
            raise ValueError(f"poison rate must be a fraction in [0, 1], got {self.rate!r}")
        check_target(self.target_label)

    def config(self, training_config: TrainingConfig) -> AttackConfig:
        """The same attack as utils.experiments describes it."""
        return AttackConfig(self.rate, self.trigger, self.target_label, training=training_config)

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        return poison_for(self.config(TrainingConfig(seed=seed)), train)

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        return apply_trigger(images, self.trigger)

    def trained(self, train: ImageSet, training_config: TrainingConfig, test: ImageSet | None = None, *,
                reuse: bool = True, progress: bool = True) -> TrainedModel:
        return train_model(self.config(training_config), train, test, reuse=reuse, progress=progress)

    def cache_key(self, training_config: TrainingConfig) -> str:
        return cache_key(self.config(training_config))
