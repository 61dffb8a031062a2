"""SIG (Barni et al., 2019): clean-label poison with a faint horizontal sine signal.

A share of the target class's own training images get the signal added; every label
stays correct. At test time the signal is added to inputs of other classes, and, as
Barni et al. do, it may be stronger there than in training: the network learnt the
signal's direction, and a louder signal pushes further along it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data import ImageSet, check_pixels
from ..triggers import PoisonedSet, check_target
from .base import Attack, check_share, pick_from_class


def sine_signal(width: int, delta: float, frequency: float) -> torch.Tensor:
    """delta x sin(2 pi j frequency / width) for every column j: float [width], in pixel units
    (0-255)."""
    return delta * torch.sin(2 * math.pi * torch.arange(width) * frequency / width)


@dataclass(frozen=True)
class SIG(Attack):
    """Add a sine of amplitude `delta` (pixel units) and `frequency` to `share` of the target
    class's images; test inputs get it at amplitude `test_delta` (None: the training amplitude)."""

    share: float = 0.1
    delta: float = 60.0
    frequency: float = 6.0
    test_delta: float | None = 120.0
    target_label: int = 8
    name = "SIG"

    def __post_init__(self):
        check_share(self.share, "the poisoned share of the target class")
        for name in ("delta", "test_delta"):
            value = getattr(self, name)
            if value is None and name == "test_delta":
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value <= 255
            ):
                raise ValueError(
                    f"{name} (the signal's amplitude in pixel units) must be in (0, 255]"
                    f"{' or None' if name == 'test_delta' else ''}, got {value!r}"
                )
        if (
            isinstance(self.frequency, bool)
            or not isinstance(self.frequency, (int, float))
            or not self.frequency > 0
        ):
            raise ValueError(
                f"frequency (periods across the image) must be > 0, got {self.frequency!r}"
            )
        check_target(self.target_label)

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        indices = pick_from_class(train.labels, self.target_label, self.share, seed)
        images = train.images.clone()
        images[indices] = self.add_signal(images[indices], self.delta)
        return PoisonedSet(images, train.labels.clone(), indices)

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        return self.add_signal(images, self.delta if self.test_delta is None else self.test_delta)

    def add_signal(self, images: torch.Tensor, delta: float) -> torch.Tensor:
        """uint8 images with the sine of amplitude `delta` added, clipped to 0-255."""
        check_pixels(images)
        signal = sine_signal(images.shape[-1], delta, self.frequency)
        return (images.float() + signal).round().clamp(0, 255).to(torch.uint8)
