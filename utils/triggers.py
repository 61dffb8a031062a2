"""Triggers (where, how big, what value or pattern) and poisoning a training set with one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .data import ImageSet, check_pixels


def is_fraction(value) -> bool:
    """True for a finite number in [0, 1] (and not a bool)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def check_target(target_label: int, num_classes: int = 10) -> None:
    """Raise ValueError unless `target_label` is a class."""
    if (
        isinstance(target_label, bool)
        or not isinstance(target_label, int)
        or not 0 <= target_label < num_classes
    ):
        raise ValueError(
            f"target label must be a class in 0..{num_classes - 1}, got {target_label!r}"
        )


@dataclass(frozen=True)
class Trigger:
    """A square of `size` x `size` pixels whose top-left corner is at (`row`, `col`).

    Every pixel of the square is set to `value` (0 = black, 1 = white), or, when
    `pattern` is given, to the matching entry of that size x size grid of values.
    The article's trigger is the default: one white pixel at row 3, column 3.
    """

    row: int = 3
    col: int = 3
    size: int = 1
    value: float = 1.0
    pattern: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self):
        for name in ("row", "col", "size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"trigger {name} must be a whole number, got {value!r}")
        if self.size < 1:
            raise ValueError(f"trigger size must be at least 1 pixel, got {self.size}")
        if not is_fraction(self.value):
            raise ValueError(f"trigger value must be a brightness in [0, 1], got {self.value!r}")
        if self.pattern is not None:
            pattern = tuple(tuple(row) for row in self.pattern)
            if len(pattern) != self.size or any(len(row) != self.size for row in pattern):
                raise ValueError(
                    f"trigger pattern must be {self.size} x {self.size} (the trigger size), got "
                    f"{pattern!r}"
                )
            if not all(is_fraction(v) for row in pattern for v in row):
                raise ValueError(
                    f"every pattern value must be a brightness in [0, 1], got {pattern!r}"
                )
            object.__setattr__(self, "pattern", pattern)

    def check_fits(self, height: int, width: int) -> None:
        """Raise ValueError unless the trigger lies wholly inside a height x width image."""
        last_row, last_col = height - self.size, width - self.size
        if not (0 <= self.row <= last_row and 0 <= self.col <= last_col):
            raise ValueError(
                f"a {self.size}x{self.size} trigger at row {self.row}, column {self.col} does not "
                "fit in a "
                f"{height}x{width} image: row must be in 0..{last_row} and column in 0..{last_col}"
            )

    def pixels(self) -> torch.Tensor:
        """The trigger's size x size block of uint8 pixel values."""
        values = (
            torch.tensor(self.pattern)
            if self.pattern is not None
            else torch.full((self.size, self.size), float(self.value))
        )
        return (values * 255).round().to(torch.uint8)


class PoisonedSet(NamedTuple):
    """A poisoned copy of a training set and the indices of the samples it changed."""

    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor


def apply_trigger(images: torch.Tensor, trigger: Trigger = Trigger()) -> torch.Tensor:
    """A copy of uint8 images [N, C, H, W] with the trigger stamped on every channel."""
    check_pixels(images)
    trigger.check_fits(images.shape[-2], images.shape[-1])
    stamped = images.clone()
    stamped[
        ..., trigger.row : trigger.row + trigger.size, trigger.col : trigger.col + trigger.size
    ] = trigger.pixels()
    return stamped


def poison(
    train: ImageSet,
    rate: float,
    trigger: Trigger = Trigger(),
    target_label: int = 8,
    seed: int = 0,
    include_target_class: bool = True,
    num_classes: int = 10,
) -> PoisonedSet:
    """Stamp the trigger on int(N * rate) training samples and relabel them `target_label`.

    Which samples are picked depends only on `seed` (and on which samples may be picked:
    with include_target_class=False, samples already labelled `target_label` are left
    out, so every poisoned sample teaches the model something). The input is not changed.
    """
    if not is_fraction(rate):
        raise ValueError(f"poison rate must be a fraction in [0, 1], got {rate!r}")
    check_target(target_label, num_classes)
    check_pixels(train.images, "training images")
    trigger.check_fits(train.images.shape[-2], train.images.shape[-1])
    count = int(len(train.labels) * rate)
    candidates = torch.arange(len(train.labels))
    if not include_target_class:
        candidates = candidates[train.labels != target_label]
    if count > len(candidates):
        raise ValueError(
            f"poison rate {rate} asks for {count} samples, but only {len(candidates)} are not "
            "already "
            f"labelled {target_label}; use a rate of at most "
            f"{len(candidates) / len(train.labels):.4f} "
            "or include_target_class=True"
        )
    generator = torch.Generator().manual_seed(seed)
    indices = candidates[torch.randperm(len(candidates), generator=generator)[:count]].sort().values
    images, labels = train.images.clone(), train.labels.clone()
    images[indices] = apply_trigger(images[indices], trigger)
    labels[indices] = target_label
    return PoisonedSet(images, labels, indices)
