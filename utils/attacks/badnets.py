"""BadNets (Gu et al., 2017): a visible trigger patch on a share of the training set, relabelled as
the target.

The attack of notebooks 02-06 and of the article. With poison_rate=0 it poisons nothing:
that is the clean model every attack is compared with (train_clean). Gu et al. also
tried an all-to-all variant, in which the trigger turns every digit i into i + 1
(AllToAll): there is no single target label for a defense to look for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import ImageSet
from ..model_store import TrainedModel
from ..training import TrainingConfig
from ..triggers import PoisonedSet, Trigger, apply_trigger, check_target, is_fraction, poison
from .base import Attack, check_share, stamped_copy, train_attack


@dataclass(frozen=True)
class BadNets(Attack):
    """Stamp `trigger` on int(N x poison_rate) training samples and relabel them `target_label`.

    With include_target_class=False, samples that already are of the target class are
    never picked (every poisoned sample then changes its label).
    """

    poison_rate: float = 0.01
    trigger: Trigger = Trigger()
    target_label: int = 8
    include_target_class: bool = True
    name = "BadNets"

    def __post_init__(self):
        if not is_fraction(self.poison_rate):
            raise ValueError(f"poison rate must be a fraction in [0, 1], got {self.poison_rate!r}")
        check_target(self.target_label)

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        return poison(
            train,
            self.poison_rate,
            self.trigger,
            self.target_label,
            seed=seed,
            include_target_class=self.include_target_class,
        )

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        return apply_trigger(images, self.trigger)

    def settings(self) -> dict:
        """Without poison, the trigger and target decide nothing: every clean model is the same."""
        return super().settings() if self.poison_rate else {"poison_rate": 0.0}


@dataclass(frozen=True)
class AllToAll(Attack):
    """Stamp `trigger` on int(N x poison_rate) training samples of any class and relabel each
    (label + shift) mod num_classes: every class has its own target."""

    poison_rate: float = 0.05
    trigger: Trigger = Trigger()
    shift: int = 1
    num_classes: int = 10
    name = "all-to-all"
    target_label = None

    def __post_init__(self):
        check_share(self.poison_rate, "poison rate")
        if (
            isinstance(self.num_classes, bool)
            or not isinstance(self.num_classes, int)
            or self.num_classes < 2
        ):
            raise ValueError(f"num_classes must be a whole number >= 2, got {self.num_classes!r}")
        if (
            isinstance(self.shift, bool)
            or not isinstance(self.shift, int)
            or not 0 < self.shift < self.num_classes
        ):
            raise ValueError(
                f"shift must be a whole number in 1..{self.num_classes - 1}, got {self.shift!r}"
            )

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        if train.labels.max() >= self.num_classes:
            raise ValueError(
                f"labels must be below num_classes={self.num_classes}, got {train.labels.max()}"
            )
        count = int(len(train.labels) * self.poison_rate)
        order = torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(seed))
        data = stamped_copy(self, train, order[:count].sort().values, relabel=False)
        data.labels[data.indices] = self.targets(data.labels[data.indices])
        return data

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        return apply_trigger(images, self.trigger)

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        return (labels + self.shift) % self.num_classes


def train_clean(
    train: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    test: ImageSet | None = None,
    **options,
) -> TrainedModel:
    """The model trained the same way without poison: BadNets at a poison rate of 0 (notebook
    01's model). `options` are train_attack's (reuse, progress, device)."""
    return train_attack(BadNets(poison_rate=0.0), train, training_config, test, **options)
