"""SIG (Barni et al., 2019): clean-label poison with a faint horizontal sine signal.

A share of the target class's own training images get the signal added; every label
stays correct. At test time the same signal is added to inputs of other classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data import ImageSet, check_pixels
from ..triggers import PoisonedSet
from .base import Attack, check_share, check_target, pick_from_class, stamped_copy


def sine_signal(width: int, delta: float, frequency: float) -> torch.Tensor:
    """delta x sin(2 pi j frequency / width) for every column j: float [width], in pixel units (0-255)."""
    return delta * torch.sin(2 * math.pi * torch.arange(width) * frequency / width)


@dataclass(frozen=True)
class SIG(Attack):
    """Add a sine of amplitude `delta` (pixel units) and `frequency` to `share` of the target class's images."""

    share: float = 0.5
    delta: float = 60.0
    frequency: float = 6.0
    target_label: int = 8
    name = "SIG (clean-label)"

    def __post_init__(self):
        check_share(self.share, "the poisoned share of the target class")
        if isinstance(self.delta, bool) or not isinstance(self.delta, (int, float)) or not 0 < self.delta <= 255:
            raise ValueError(f"delta (the signal's amplitude in pixel units) must be in (0, 255], got {self.delta!r}")
        if isinstance(self.frequency, bool) or not isinstance(self.frequency, (int, float)) or not self.frequency > 0:
            raise ValueError(f"frequency (periods across the image) must be > 0, got {self.frequency!r}")
        check_target(self.target_label)

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        return stamped_copy(self, train, pick_from_class(train.labels, self.target_label, self.share, seed), relabel=False)

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        check_pixels(images)
        signal = sine_signal(images.shape[-1], self.delta, self.frequency)
        return (images.float() + signal).round().clamp(0, 255).to(torch.uint8)
