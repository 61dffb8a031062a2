"""Adversarial neuron pruning, ANP (Wu and Wang, 2021): prune the neurons that make the model
fragile.

A backdoored network is sensitive: a small perturbation of a few neurons' weights is
enough to make it predict the target on clean inputs, because the backdoor neurons sit
ready to fire. ANP learns a mask m in [0, 1] for every neuron that keeps clean accuracy
under the worst perturbation of the neurons within eps, and prunes the neurons whose mask
falls below a threshold:

    min over m of  alpha L(m, 0) + (1 - alpha) max over |delta|, |xi| <= eps of L(m + delta, xi)

where a neuron's output z = w x + b becomes (m + delta) w x + (1 + xi) b and L is the
cross-entropy on a little clean data. The inner maximum is approximated as in the authors'
code: a random start in [-eps, eps], then one signed gradient step of eps (so a
perturbation can reach 2 eps).

As the authors' code (optimize_mask_cifar.py, prune_neuron_cifar.py): masks start at 1
and are trained by SGD (lr 0.2, momentum 0.9) and clipped to [0, 1]; the perturbation
starts uniform in [-eps, eps] and takes one signed gradient step of eps per batch; eps 0.4,
alpha 0.2, batches of 128; a pruned neuron keeps its bias alone (the authors zero a
batch-norm weight). Deviations, each measured on BadNets with seeds 0-2:
- the neurons are SmallCNN's convolution outputs, channel by channel at every position (as
  fine-pruning's neurons in notebook 06), and its hidden units: there is no batch
  normalisation, and whole channels proved too coarse (8 and 16 of them; pruning by
  channel left about 50% ASR on two seeds of three, with two threads);
- 1,000 iterations instead of 2,000, to stay within a minute on two cores, each on a batch
  drawn at random from the clean data (the authors go through it in shuffled epochs);
- neurons are pruned below a mask of 0.5 instead of 0.2: within 1,000 iterations the
  backdoor's masks often stop between the two (with two threads, pruning below 0.2 left
  76-93% ASR on two seeds of three, below 0.5 at most 4%; with one thread, 0.7-19% against
  at most 0.5%: lesson 10's first exercise).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..cache import stored
from ..data import ImageSet
from ..runtime import configure_threads
from ..training import to_model_input
from .neurons import mask_neurons, neuron_layers, per_neuron

GRAINS = ("position", "channel")


@dataclass(frozen=True)
class AnpSettings:
    eps: float = 0.4  # the largest relative change of a neuron's weight and bias
    alpha: float = 0.2  # weight of the clean loss against the perturbed one
    iterations: int = 1000
    batch_size: int = 128
    mask_lr: float = 0.2
    threshold: float = 0.5  # neurons whose mask ends below this are pruned
    grain: str = "position"  # a neuron is a channel at one position, or a whole channel

    def __post_init__(self):
        for name in ("eps", "mask_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("alpha", "threshold"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.grain not in GRAINS:
            raise ValueError(f"grain must be one of {GRAINS}, got {self.grain!r}")
        for name in ("iterations", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


class PerturbedNeurons:
    """Masks and perturbations of every neuron of `model`, applied by forward hooks (for good:
    give it a copy)."""

    def __init__(
        self,
        model: nn.Module,
        image_shape: torch.Size,
        eps: float,
        generator: torch.Generator,
        grain: str,
    ):
        self.layers = neuron_layers(model)
        self.eps, self.generator, self.noisy = eps, generator, False
        shapes = neuron_shapes(model, image_shape, grain)
        self.masks = {name: torch.ones(shape, requires_grad=True) for name, shape in shapes.items()}
        self.delta = {
            name: torch.zeros(shape, requires_grad=True) for name, shape in shapes.items()
        }
        self.xi = {name: torch.zeros(shape, requires_grad=True) for name, shape in shapes.items()}
        for name, layer in self.layers.items():  # on the copy anp_masks works on
            layer.register_forward_hook(self.hook(name))

    def hook(self, name: str):
        def perturb(layer: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
            bias = per_neuron(layer.bias, output)
            scale, shift = self.masks[name], torch.ones_like(self.masks[name])
            if self.noisy:
                scale, shift = scale + self.delta[name], shift + self.xi[name]
            return as_output(scale, output) * (output - bias) + as_output(shift, output) * bias

        return perturb

    def noise(self) -> list[torch.Tensor]:
        return [*self.delta.values(), *self.xi.values()]

    def restart_noise(self) -> None:
        """The perturbation drawn uniformly in [-eps, eps] (the authors' random start)."""
        with torch.no_grad():
            for values in self.noise():
                values.copy_(
                    (torch.rand(values.shape, generator=self.generator) * 2 - 1) * self.eps
                )


def neuron_shapes(
    model: nn.Module, image_shape: torch.Size, grain: str
) -> dict[str, tuple[int, ...]]:
    """The shape of one input's outputs of every neuron layer ("position") or its channel count
    ("channel"), for images of `image_shape` [C, H, W]."""
    shapes = {}
    hooks = [
        layer.register_forward_hook(lambda _, __, out, name=name: shapes.update({name: out.shape}))
        for name, layer in neuron_layers(model).items()
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *image_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return {
        name: tuple(shape[1:] if grain == "position" else shape[1:2])
        for name, shape in shapes.items()
    }


def as_output(values: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Per-channel values [C] or per-position ones [C, H, W] shaped to scale `output`."""
    return per_neuron(values, output) if values.dim() == 1 else values[None]


@stored()
def anp_masks(
    model: nn.Module, clean: ImageSet, settings: AnpSettings = AnpSettings(), seed: int = 0
) -> dict[str, torch.Tensor]:
    """The mask value ANP learns for every neuron, by layer name (float in [0, 1], [C, H, W] per
    position or [C] per channel).

    Works on a copy: `model` is left as it was. Stored like a trained model: asked again for
    the same model, data and settings, it returns at once.
    """
    if len(clean.labels) < settings.batch_size:
        raise ValueError(
            f"ANP needs at least one batch of {settings.batch_size} clean images, "
            f"got {len(clean.labels)}"
        )
    generator = torch.Generator().manual_seed(seed)
    model = copy.deepcopy(model).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    neurons = PerturbedNeurons(
        model, clean.images.shape[1:], settings.eps, generator, settings.grain
    )
    masks = list(neurons.masks.values())
    mask_optimizer = torch.optim.SGD(masks, lr=settings.mask_lr, momentum=0.9)
    for _ in range(settings.iterations):
        configure_threads()
        batch = torch.randint(len(clean.labels), (settings.batch_size,), generator=generator)
        x, y = to_model_input(clean.images[batch]), clean.labels[batch]
        # the worst perturbation: one signed step up the loss from a random start
        neurons.restart_noise()
        neurons.noisy = True
        steps = torch.autograd.grad(F.cross_entropy(model(x), y), neurons.noise())
        with torch.no_grad():
            for values, step in zip(neurons.noise(), steps):
                values.add_(settings.eps * step.sign())
        # the masks: good on clean inputs, with and without the perturbation
        perturbed_loss = F.cross_entropy(model(x), y)
        neurons.noisy = False
        clean_loss = F.cross_entropy(model(x), y)
        loss = settings.alpha * clean_loss + (1 - settings.alpha) * perturbed_loss
        mask_optimizer.zero_grad()
        loss.backward()
        mask_optimizer.step()
        with torch.no_grad():
            for mask in masks:
                mask.clamp_(0, 1)
    return {name: mask.detach() for name, mask in neurons.masks.items()}


def anp(
    model: nn.Module, clean: ImageSet, settings: AnpSettings = AnpSettings(), seed: int = 0
) -> nn.Module:
    """A copy of `model` with the neurons whose ANP mask ends below settings.threshold pruned."""
    masks = anp_masks(model, clean, settings, seed)
    return mask_neurons(model, {name: mask < settings.threshold for name, mask in masks.items()})
