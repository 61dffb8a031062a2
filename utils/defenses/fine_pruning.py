"""Fine-pruning (Liu et al., 2018): cut what clean data never uses, then fine-tune on clean data.

A backdoor needs neurons that fire for the trigger; neurons that stay dormant on clean
inputs are the prime suspects. Liu et al. prune whole channels of the last convolution.
Our network's last convolution has only 16 channels, each also used by clean digits, so
the lab can prune at a finer grain too: one neuron is one channel at one position.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..attacks import Attack, evaluate_attack
from ..cache import stored
from ..data import ImageSet
from ..runtime import configure_threads
from ..training import TrainingConfig, fit, to_model_input

UNITS = ("neuron", "channel")


class NeuronMask(nn.Module):
    """Multiplies the activations by a fixed 0/1 mask [1, C, H, W]: pruned neurons stay at 0."""

    def __init__(self, keep: torch.Tensor):
        super().__init__()
        self.register_buffer("keep", keep.float()[None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.keep


@torch.no_grad()
def last_conv_activations(
    model: nn.Module, images: torch.Tensor, batch_size: int = 1024
) -> torch.Tensor:
    """Mean activation of every neuron of the last convolution block over uint8 images: float [C, H,
    W]."""
    model.eval()
    device = next(model.parameters()).device
    total = 0
    for chunk in images.split(batch_size):
        configure_threads()  # on a busy machine, fewer threads (see utils.runtime)
        total = (
            total
            + model.features(model.standardize(to_model_input(chunk.to(device))))
            .float()
            .sum(0)
            .cpu()
        )
    return total / len(images)


def prune_dormant(
    model: nn.Module, activations: torch.Tensor, fraction: float, unit: str = "neuron"
) -> nn.Module:
    """A copy of `model` with the `fraction` least active neurons (or whole channels) set to zero.

    `activations` are the mean activations of last_conv_activations on clean data.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"pruning fraction must be in [0, 1], got {fraction!r}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    keep = torch.ones_like(activations)
    if unit == "neuron":
        order = activations.flatten().argsort()
        keep.view(-1)[order[: round(fraction * order.numel())]] = 0
    else:
        order = activations.mean((1, 2)).argsort()
        keep[order[: round(fraction * len(order))]] = 0
    pruned = copy.deepcopy(model)
    pruned.features.append(NeuronMask(keep.to(next(model.parameters()).device)))
    return pruned


def fine_tune(
    model: nn.Module,
    clean: ImageSet,
    config: TrainingConfig = TrainingConfig(epochs=2, batch_size=128, learning_rate=0.003),
    progress: bool = False,
) -> nn.Module:
    """A copy of `model` trained further on clean images only (pruned neurons stay pruned)."""
    tuned = copy.deepcopy(model)
    fit(tuned, clean, config, progress=progress)
    return tuned


def fine_prune(
    model: nn.Module, clean: ImageSet, fraction: float = 0.5, unit: str = "neuron"
) -> nn.Module:
    """Liu et al.'s repair in one call: prune the `fraction` most dormant units on `clean`, then
    fine-tune on it."""
    return fine_tune(
        prune_dormant(model, last_conv_activations(model, clean.images), fraction, unit), clean
    )


@stored()
def pruning_curves(
    model: nn.Module,
    activations: torch.Tensor,
    test: ImageSet,
    attack: Attack,
    fractions: tuple[float, ...],
) -> dict[str, list[dict]]:
    """evaluate_attack of the model pruned by each fraction, neuron by neuron and channel by
    channel.

    Stored like a trained model: asked again for the same model and settings, it returns at once.
    """
    return {
        unit: [
            evaluate_attack(prune_dormant(model, activations, fraction, unit), test, attack)
            for fraction in fractions
        ]
        for unit in UNITS
    }
