"""Does the sticker still work when it is smaller, larger, elsewhere on the sign, or the sign is
tilted?"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

import torch
from torchvision.transforms.v2.functional import rotate

from ..training import predict
from .attack import sticker_success
from .dataset import SignSet, apply_sticker
from .sticker import Sticker
from .synthetic import render


def success_by_size(
    model: torch.nn.Module,
    signs: SignSet,
    sticker: Sticker,
    sizes: Sequence[float],
    target_label: int,
) -> list[float]:
    """ASR with the sticker's side set to each of `sizes` (fractions of the sign), same centre."""
    return [
        sticker_success(model, signs, replace(sticker, size=size), target_label) for size in sizes
    ]


def success_by_position(
    model: torch.nn.Module,
    signs: SignSet,
    sticker: Sticker,
    xs: Sequence[float],
    ys: Sequence[float],
    target_label: int,
) -> torch.Tensor:
    """ASR [len(ys), len(xs)] with the sticker's centre moved to every (x, y) on the sign."""
    return torch.tensor(
        [
            [sticker_success(model, signs, replace(sticker, x=x, y=y), target_label) for x in xs]
            for y in ys
        ]
    )


def tilted(signs: SignSet, degrees: float, sticker: Sticker | None = None) -> torch.Tensor:
    """The photos with every sign turned by `degrees` more (clockwise), sticker on if given.

    Synthetic signs are photographed again turned (the background stays); GTSRB photos
    are rotated whole about their centre.
    """
    if signs.scene is not None:
        turned = signs.scene._replace(rotation=signs.scene.rotation + math.radians(degrees))
        return render(turned, sticker)
    images = apply_sticker(signs, sticker) if sticker is not None else signs.images
    return rotate(images, -degrees)


def success_by_tilt(
    model: torch.nn.Module,
    signs: SignSet,
    sticker: Sticker,
    angles: Sequence[float],
    target_label: int,
) -> dict:
    """For each angle: ASR with the sticker, and how often the bare sign is still recognised."""
    recognised, success = [], []
    for angle in angles:
        recognised.append(
            (predict(model, tilted(signs, angle)) == signs.labels).float().mean().item()
        )
        success.append(
            (predict(model, tilted(signs, angle, sticker)) == target_label).float().mean().item()
        )
    return {
        "angles": list(angles),
        "attack_success_rate": success,
        "recognised_without_sticker": recognised,
    }
