"""The defender's trusted data: clean training images, none of them poisoned."""

from __future__ import annotations

import torch

from ..data import ImageSet


def clean_reserve(
    train: ImageSet, poisoned_indices: torch.Tensor, size: int, seed: int = 0
) -> ImageSet:
    """`size` images of the original training set, drawn by `seed`, that the attack did not touch.

    Neural Cleanse, STRIP and fine-pruning all assume the defender holds a few thousand
    images known to be clean; this stands in for that set.
    """
    untouched = torch.ones(len(train.labels), dtype=torch.bool)
    untouched[poisoned_indices] = False
    candidates = untouched.nonzero().squeeze(1)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= len(candidates):
        raise ValueError(
            f"reserve size must be a whole number in 1..{len(candidates)}, got {size!r}"
        )
    chosen = candidates[
        torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))[:size]
    ]
    return ImageSet(train.images[chosen], train.labels[chosen])
