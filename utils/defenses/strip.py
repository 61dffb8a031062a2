"""STRIP (Gao et al., 2019): catch triggered inputs at run time by how sure the model stays.

Superimpose an input on clean images and classify the blends. A clean input's digit gets
mixed up with the others, so the predictions scatter (high entropy); a triggered input
keeps its trigger in every blend, so the model keeps answering the target (low entropy).
"""

from __future__ import annotations

import torch

from ..data import ImageSet
from ..training import predict_logits


def superimpose(images: torch.Tensor, overlays: torch.Tensor) -> torch.Tensor:
    """Add uint8 images pixel by pixel, saturating at 255 (as the paper's blending does)."""
    return (images.int() + overlays.int()).clamp(max=255).to(torch.uint8)


def average(images: torch.Tensor, overlays: torch.Tensor) -> torch.Tensor:
    """Blend uint8 images by their pixel-wise mean (the other common way to blend)."""
    return ((images.int() + overlays.int()) // 2).to(torch.uint8)


def strip_entropy(
    model: torch.nn.Module,
    images: torch.Tensor,
    overlays: torch.Tensor,
    blends: int = 32,
    seed: int = 0,
    batch_size: int = 64,
    blend=superimpose,
) -> torch.Tensor:
    """Mean prediction entropy (nats) of each image blended with `blends` random overlays: float
    [N].

    `blend(images, overlays)` makes the blends: `superimpose` (the default) or `average`.
    """
    generator = torch.Generator().manual_seed(seed)
    entropies = []
    for chunk in images.split(batch_size):
        picked = overlays[torch.randint(len(overlays), (len(chunk), blends), generator=generator)]
        blended = blend(chunk[:, None], picked).flatten(0, 1)
        probabilities = predict_logits(model, blended).softmax(1).view(len(chunk), blends, -1)
        entropies.append(-(probabilities * probabilities.clamp_min(1e-12).log()).sum(2).mean(1))
    return torch.cat(entropies)


def rejection_threshold(clean_entropy: torch.Tensor, false_rejection: float = 0.01) -> float:
    """The entropy below which an input is rejected: `false_rejection` of clean inputs are."""
    if not 0 <= false_rejection <= 1:
        raise ValueError(f"false_rejection must be a fraction in [0, 1], got {false_rejection!r}")
    return torch.quantile(clean_entropy, false_rejection).item()


def false_rejection(clean_entropy: torch.Tensor, threshold: float) -> float:
    """Share of clean inputs turned away: entropy below the threshold."""
    return (clean_entropy < threshold).float().mean().item()


def false_acceptance(triggered_entropy: torch.Tensor, threshold: float) -> float:
    """Share of triggered inputs that pass as clean: entropy at or above the threshold."""
    return (triggered_entropy >= threshold).float().mean().item()


def held_out_rates(
    model: torch.nn.Module,
    test: ImageSet,
    overlays: torch.Tensor,
    stamp,
    targets: torch.Tensor,
    inputs: int = 2000,
    blends: int = 32,
    false_rejection_goal: float = 0.01,
    seed: int = 0,
) -> dict:
    """STRIP as a defender would run it: set the threshold on one half of `inputs` clean test
    images, then measure the other half, clean and with stamp() applied (those not of their
    target: `targets` holds the target label of every test image).

    Returns the threshold, the false rejection on the held-out clean inputs and the
    false acceptance of the triggered ones.
    """
    if not isinstance(targets, torch.Tensor) or targets.shape != test.labels.shape:
        raise ValueError(
            f"targets must hold one label per test image ({len(test.labels)}), got "
            f"{targets.shape if isinstance(targets, torch.Tensor) else type(targets).__name__}"
        )
    half = inputs // 2
    threshold = rejection_threshold(
        strip_entropy(model, test.images[:half], overlays, blends, seed=seed), false_rejection_goal
    )
    held_out, labels = test.images[half:inputs], test.labels[half:inputs]
    clean_entropy = strip_entropy(model, held_out, overlays, blends, seed=seed)
    triggered_entropy = strip_entropy(
        model, stamp(held_out[labels != targets[half:inputs]]), overlays, blends, seed=seed
    )
    return {
        "threshold": threshold,
        "false_rejection": false_rejection(clean_entropy, threshold),
        "false_acceptance": false_acceptance(triggered_entropy, threshold),
    }
