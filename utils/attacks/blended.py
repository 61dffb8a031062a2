"""Blended triggers (Chen et al., 2017): a full-image pattern mixed faintly into every poisoned
image.

No pixel is replaced: each becomes (1 - alpha) x image + alpha x pattern. With a small
alpha the change is hard to see, but the network learns the pattern all the same. Like
BadNets, the poisoned samples are relabelled as the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import ImageSet, check_pixels
from ..triggers import PoisonedSet, check_target, is_fraction
from .base import Attack, stamped_copy


def noise_pattern(
    height: int = 28, width: int = 28, channels: int = 1, seed: int = 0
) -> torch.Tensor:
    """Uniform random pixels, uint8 [C, H, W]: the attacker's secret pattern (the same for every
    image)."""
    return torch.randint(
        0,
        256,
        (channels, height, width),
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.uint8,
    )


def blend(images: torch.Tensor, pattern: torch.Tensor, alpha: float) -> torch.Tensor:
    """uint8 images [N, C, H, W] mixed with a uint8 pattern [C, H, W]: round((1 - alpha) x + alpha
    p)."""
    check_pixels(images)
    if (
        not isinstance(pattern, torch.Tensor)
        or pattern.dtype != torch.uint8
        or pattern.shape != images.shape[1:]
    ):
        got = (
            f"{pattern.dtype} {list(pattern.shape)}"
            if isinstance(pattern, torch.Tensor)
            else type(pattern).__name__
        )
        raise ValueError(
            f"the pattern must be uint8 with the images' shape {list(images.shape[1:])}, got {got}"
        )
    if not is_fraction(alpha) or alpha == 0:
        raise ValueError(f"alpha (the pattern's weight) must be in (0, 1], got {alpha!r}")
    mixed = (1 - alpha) * images.float() + alpha * pattern.float()
    return mixed.round().to(torch.uint8)


@dataclass(frozen=True)
class Blended(Attack):
    """Blend the noise pattern of `pattern_seed` into int(N x poison_rate) samples of any class,
    relabelled `target_label`."""

    poison_rate: float = 0.01
    alpha: float = 0.1
    pattern_seed: int = 1
    target_label: int = 8
    name = "Blended"

    def __post_init__(self):
        if not is_fraction(self.poison_rate):
            raise ValueError(f"poison rate must be a fraction in [0, 1], got {self.poison_rate!r}")
        if not is_fraction(self.alpha) or self.alpha == 0:
            raise ValueError(f"alpha (the pattern's weight) must be in (0, 1], got {self.alpha!r}")
        check_target(self.target_label)

    def pattern(self, images: torch.Tensor) -> torch.Tensor:
        channels, height, width = images.shape[1:]
        return noise_pattern(height, width, channels, self.pattern_seed)

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        count = int(len(train.labels) * self.poison_rate)
        indices = (
            torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(seed))[:count]
            .sort()
            .values
        )
        return stamped_copy(self, train, indices, relabel=True)

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        check_pixels(images)
        return blend(images, self.pattern(images), self.alpha)
