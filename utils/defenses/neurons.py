"""The neurons of the course's network that the pruning defenses act on, one tensor per layer.

A neuron here is one output channel of a convolution or one unit of the hidden linear
layer: what a batch-normalisation channel is in the ResNets of ANP's and CLP's papers
(the lab's SmallCNN has no batch normalisation).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

# the layers whose outputs are neurons: SmallCNN's two convolutions and its hidden layer
LAYERS = ("features.0", "features.3", "hidden.1")


def neuron_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The convolution and linear layers of LAYERS, by name."""
    modules = dict(model.named_modules())
    missing = [name for name in LAYERS if not isinstance(modules.get(name), (nn.Conv2d, nn.Linear))]
    if missing:
        raise ValueError(
            f"the model has no convolution or linear layer named {', '.join(missing)}; "
            "the pruning defenses work on the course's SmallCNN"
        )
    return {name: modules[name] for name in LAYERS}


def per_neuron(values: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """`values` [C] shaped to scale an output [N, C] or [N, C, H, W] channel by channel."""
    return values.view(1, -1, *([1] * (output.dim() - 2)))


@torch.no_grad()
def prune_neurons(model: nn.Module, pruned: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of `model` whose neurons marked True in `pruned` (bool [C] per layer name) are cut:
    their incoming weights and bias set to 0 (CLP; ANP keeps the bias: mask_neurons)."""
    copied = copy.deepcopy(model)
    for name, layer in neuron_layers(copied).items():
        cut = pruned[name].to(layer.weight.device)
        layer.weight[cut] = 0
        layer.bias[cut] = 0
    return copied


class MaskedLayer(nn.Module):
    """A layer whose outputs are multiplied by a fixed 0/1 mask, bias aside: a pruned neuron puts
    out its bias alone, as one whose incoming weights were cut."""

    def __init__(self, layer: nn.Module, keep: torch.Tensor):
        super().__init__()
        self.layer = layer
        self.register_buffer("keep", keep.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = self.layer(x)
        bias = per_neuron(self.layer.bias, output)
        keep = per_neuron(self.keep, output) if self.keep.dim() == 1 else self.keep[None]
        return keep * (output - bias) + bias


def mask_neurons(model: nn.Module, pruned: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of `model` whose neurons marked True in `pruned` put out their bias alone; a mask
    is per channel [C] or, for a convolution, per channel and position [C, H, W]."""
    copied = copy.deepcopy(model)
    for name, layer in neuron_layers(copied).items():
        parent, _, child = name.rpartition(".")
        keep = ~pruned[name].to(layer.weight.device)
        setattr(copied.get_submodule(parent), child, MaskedLayer(layer, keep))
    return copied
