"""Implicit backdoor adversarial unlearning, I-BAU (Zeng et al., 2022): find the universal
perturbation that the model is most sensitive to, and unlearn it, in turns.

A backdoor is a universal perturbation: one change that sends every input to the target.
I-BAU poses the repair as a game on clean data D:

    min over theta  of  (1/|D|) sum over (x, y) in D of  L(f_theta(x + delta*(theta)), y)
    where  delta*(theta) = argmax over delta of  (1/|D|) sum L(f_theta(x + delta), y) - c |delta|^2

The inner problem finds the perturbation (the trigger, if there is one); the outer one
trains the network to ignore it. Because delta* depends on theta, the outer gradient has an
implicit part, d delta* / d theta, which I-BAU gets from the fixed point of the inner gradient
step by K steps of a Neumann series instead of differentiating through the inner loop.

As the authors' code (defense.py, hypergrad.py): the perturbation starts at 0 for each
round and takes one SGD step (lr 10) per batch on -CE(f(x + delta), f's own answer) + c
|delta|^2 with c = 0.001 and no other bound; the outer step perturbs one sample in a hundred
of each batch of 100 and updates every weight with Adam (lr 0.001); the fixed-point map is
one gradient step of 0.1 on the inner loss of the first batch; K = 5; 5 rounds. Deviations:
images in [0, 1] are MNIST's, and the unlearning data are 5,000 images of the defender's
clean reserve (the authors use 5,000 clean test images).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data import ImageSet
from ..runtime import configure_threads
from ..training import to_model_input


@dataclass(frozen=True)
class IbauSettings:
    rounds: int = 5
    images: int = 5000  # of the clean reserve
    batch_size: int = 100
    fixed_point_steps: int = 5  # K
    perturbation_lr: float = 10.0
    penalty: float = 0.001  # c, on the perturbation's squared L2 norm
    fixed_point_lr: float = 0.1
    learning_rate: float = 0.001  # Adam, on the model's weights
    perturbed_share: float = 0.01  # of each batch in the outer loss

    def __post_init__(self):
        for name in ("rounds", "images", "batch_size", "fixed_point_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for name in ("perturbation_lr", "fixed_point_lr", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.perturbed_share <= 1:
            raise ValueError(f"perturbed_share must be in (0, 1], got {self.perturbed_share!r}")
        if not self.penalty >= 0:
            raise ValueError(f"penalty must be >= 0, got {self.penalty!r}")


def inner_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta, penalty: float):
    """The perturbation's objective as a loss to minimise: -CE(f(x + delta), y) + c |delta|^2."""
    return -F.cross_entropy(model(x + delta), y) + penalty * delta.pow(2).sum()


def implicit_hypergradient(
    model: nn.Module, delta: torch.Tensor, outer_loss, fixed_point_map, steps: int
) -> list[torch.Tensor]:
    """d outer_loss(delta*(theta), theta) / d theta for every weight, delta* being the fixed point
    of fixed_point_map: the direct part plus the implicit one, by `steps` terms of the Neumann
    series v <- (d map / d delta)^T v + d outer / d delta."""
    weights = list(model.parameters())
    delta = delta.detach().requires_grad_(True)
    outer = outer_loss(delta)
    outer_delta, *outer_weights = torch.autograd.grad(outer, [delta, *weights], allow_unused=True)
    mapped = fixed_point_map(delta)
    v = torch.zeros_like(delta)
    for _ in range(steps):
        (jvp,) = torch.autograd.grad(mapped, delta, grad_outputs=v, retain_graph=True)
        v = jvp + outer_delta
    implicit = torch.autograd.grad(mapped, weights, grad_outputs=v, allow_unused=True)
    return [
        sum((g for g in (direct, part) if g is not None), torch.zeros_like(weight))
        for weight, direct, part in zip(weights, outer_weights, implicit)
    ]


def ibau(
    model: nn.Module, clean: ImageSet, settings: IbauSettings = IbauSettings(), seed: int = 0
) -> nn.Module:
    """A copy of `model` unlearnt by I-BAU on the first settings.images of `clean`."""
    if len(clean.labels) < settings.images:
        raise ValueError(
            f"I-BAU needs {settings.images} clean images (settings.images), got {len(clean.labels)}"
        )
    repaired = copy.deepcopy(model).eval()
    generator = torch.Generator().manual_seed(seed)
    batches = list(
        zip(
            to_model_input(clean.images[: settings.images]).split(settings.batch_size),
            clean.labels[: settings.images].split(settings.batch_size),
        )
    )
    optimizer = torch.optim.Adam(repaired.parameters(), lr=settings.learning_rate)
    first_x, first_y = batches[0]

    def fixed_point_map(delta):
        loss = inner_loss(repaired, first_x, first_y, delta, settings.penalty)
        (step,) = torch.autograd.grad(loss, delta, create_graph=True)
        return delta - settings.fixed_point_lr * step

    for _ in range(settings.rounds):
        delta = torch.zeros_like(first_x[:1], requires_grad=True)
        perturbation_optimizer = torch.optim.SGD([delta], lr=settings.perturbation_lr)
        for x, _ in batches:
            configure_threads()
            with torch.no_grad():
                answers = repaired(x).argmax(1)
            perturbation_optimizer.zero_grad()
            inner_loss(repaired, x, answers, delta, settings.penalty).backward()
            perturbation_optimizer.step()
        for x, y in batches:
            configure_threads()
            chosen = torch.randperm(len(x), generator=generator)[
                : max(1, int(settings.perturbed_share * len(x)))
            ]

            def outer_loss(perturbation, x=x, y=y, chosen=chosen):
                perturbed = x.clone()
                perturbed[chosen] = perturbed[chosen] + perturbation
                return F.cross_entropy(repaired(perturbed), y)

            gradients = implicit_hypergradient(
                repaired, delta, outer_loss, fixed_point_map, settings.fixed_point_steps
            )
            optimizer.zero_grad()
            for weight, gradient in zip(repaired.parameters(), gradients):
                weight.grad = gradient
            optimizer.step()
    return repaired.eval()
