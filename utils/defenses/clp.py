"""Channel Lipschitzness-based pruning, CLP (Zheng et al., 2022): prune, with no data at all, the
channels that can amplify an input the most.

A trigger is a small input that causes a large change of the output, so the channels
that carry it must be able to stretch their input a lot. How much a channel k can stretch
is bounded by the largest singular value of its weights W_k, reshaped to [inputs,
kernel positions]: its upper bound of the channel's Lipschitz constant (UCLC). Within a
layer, a channel whose bound stands out is pruned:

    prune channel k  if  UCLC_k > mean(UCLC) + u std(UCLC)

As the authors' code (defense.py): the bound per channel from torch's singular values, the
threshold per layer with u = 3 and the sample standard deviation, the pruned channel's
output set to zero, no fine-tuning. Deviations: the authors scale each convolution by the
batch-normalisation layer after it; SmallCNN has none, so the bound is the convolution's
own. They prune convolution channels only; here the hidden layer's units count too (a unit
is a channel of one position, its bound the norm of its weights), because SmallCNN's
convolutions have only 8 and 16 channels: with n channels none can lie more than
(n - 1) / sqrt(n) standard deviations above the mean, 2.47 for 8 (never pruned at u = 3)
and 3.75 for 16 (pruned only when one channel stands far above all others).
"""

from __future__ import annotations

import torch
from torch import nn

from .neurons import neuron_layers, prune_neurons


def channel_lipschitz_bounds(weight: torch.Tensor) -> torch.Tensor:
    """The UCLC of every output channel of a convolution [C_out, C_in, kh, kw] or linear layer
    [C_out, C_in] weight: float [C_out]."""
    if weight.dim() not in (2, 4):
        raise ValueError(
            f"expected a convolution [C_out, C_in, kh, kw] or linear [C_out, C_in] weight, "
            f"got shape {list(weight.shape)}"
        )
    kernels = weight.detach().reshape(weight.shape[0], weight.shape[1], -1)
    return torch.linalg.matrix_norm(kernels, ord=2)


def clp_pruned(model: nn.Module, u: float = 3.0) -> dict[str, torch.Tensor]:
    """Which neurons CLP prunes, by layer name (bool [C]): UCLC above its layer's mean + u std."""
    if isinstance(u, bool) or not isinstance(u, (int, float)) or not u >= 0:
        raise ValueError(f"u (standard deviations above the mean) must be >= 0, got {u!r}")
    pruned = {}
    for name, layer in neuron_layers(model).items():
        bounds = channel_lipschitz_bounds(layer.weight)
        pruned[name] = bounds > bounds.mean() + u * bounds.std()
    return pruned


def clp(model: nn.Module, u: float = 3.0) -> nn.Module:
    """A copy of `model` with the channels of clp_pruned(model, u) set to zero."""
    return prune_neurons(model, clp_pruned(model, u))
