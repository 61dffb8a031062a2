"""Label-consistent poisoning (Turner et al., 2019): the target class's own images, made hard, plus
a trigger.

Clean-label poison cannot relabel anything, so the poisoned images must already be of
the target class. A network learns such an image from its digit and has no reason to
look at the trigger. Turner et al. first perturb the image with PGD, within an L-inf
budget, so that a model no longer recognises its digit; the trigger is then the
easiest way to get that image right, and the network learns it. Labels stay correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import ImageSet, check_pixels
from ..runtime import configure_threads
from ..training import TrainingConfig, to_model_input
from ..triggers import PoisonedSet, Trigger, apply_trigger, check_target, is_fraction
from .badnets import train_clean
from .base import Attack, check_share, pick_from_class

CHECKERBOARD = ((1.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 1.0))
# bottom-right corner, as in Turner et al.'s code
CORNER_TRIGGER = Trigger(25, 25, 3, pattern=CHECKERBOARD)


def pgd_perturb(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float,
    steps: int,
    step_size: float,
    batch_size: int = 512,
) -> torch.Tensor:
    """uint8 images moved by projected gradient ascent on the loss of their true labels.

    Each pixel moves at most `epsilon` (in [0, 1] units, rounded down to whole pixel
    values) from where it was; the model's weights are not changed.
    """
    check_pixels(images)
    device = next(model.parameters()).device
    budget = int(epsilon * 255) / 255
    was_trainable = [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)
    try:
        moved = [
            _pgd_batch(model, x.to(device), y.to(device), budget, steps, step_size).cpu()
            for x, y in zip(images.split(batch_size), labels.split(batch_size))
        ]
    finally:
        for parameter, trainable in zip(model.parameters(), was_trainable):
            parameter.requires_grad_(trainable)
    perturbed = (torch.cat(moved) * 255).round()
    limit = round(budget * 255)
    return torch.minimum(
        torch.maximum(perturbed, images.float() - limit), images.float() + limit
    ).to(torch.uint8)


def _pgd_batch(model, images, labels, budget, steps, step_size):
    original = to_model_input(images)
    x = original.clone()
    for _ in range(steps):
        if x.device.type == "cpu":
            configure_threads()  # follows the machine's load, as training does
        x.requires_grad_(True)
        loss = F.cross_entropy(model(x), labels)
        (gradient,) = torch.autograd.grad(loss, x)
        x = x.detach() + step_size * gradient.sign()
        x = (original + (x - original).clamp(-budget, budget)).clamp(0, 1)
    return x.detach()


@dataclass(frozen=True)
class LabelConsistent(Attack):
    """PGD-perturb `share` of the target class's images against the attacker's own model, then
    stamp `trigger`.

    The attacker's model is a clean SmallCNN trained with `surrogate_seed`; None means
    the victim's own seed, an attacker who knows the whole training recipe (a public
    script run with its defaults), the strongest case. With adversarial=False the trigger
    is stamped on the unperturbed images: the comparison that shows what PGD is for.
    """

    share: float = 0.1
    epsilon: float = 0.2
    steps: int = 20
    trigger: Trigger = CORNER_TRIGGER
    adversarial: bool = True
    surrogate_seed: int | None = None
    target_label: int = 8
    costly = True

    @property
    def name(self) -> str:
        return "label-consistent" + ("" if self.adversarial else ", no PGD")

    def __post_init__(self):
        check_share(self.share, "the poisoned share of the target class")
        if not is_fraction(self.epsilon) or self.epsilon == 0:
            raise ValueError(
                "epsilon (the L-inf budget, in [0, 1] pixel units) must be in (0, 1], got "
                f"{self.epsilon!r}"
            )
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps (of PGD) must be a whole number >= 1, got {self.steps!r}")
        if not isinstance(self.adversarial, bool):
            raise ValueError(f"adversarial must be True or False, got {self.adversarial!r}")
        if self.surrogate_seed is not None and (
            isinstance(self.surrogate_seed, bool) or not isinstance(self.surrogate_seed, int)
        ):
            raise ValueError(
                "surrogate_seed must be a whole number or None (the victim's seed), got "
                f"{self.surrogate_seed!r}"
            )
        check_target(self.target_label)

    def surrogate(self, train: ImageSet, seed: int) -> torch.nn.Module:
        """The attacker's own model: a clean SmallCNN trained with surrogate_seed (or the victim's
        `seed`)."""
        return train_clean(
            train,
            TrainingConfig(seed=seed if self.surrogate_seed is None else self.surrogate_seed),
            progress=False,
        ).model

    def poison(self, train: ImageSet, seed: int) -> PoisonedSet:
        return self.poison_against(
            train, seed, self.surrogate(train, seed) if self.adversarial else None
        )

    def poison_against(
        self, train: ImageSet, seed: int, surrogate: torch.nn.Module | None
    ) -> PoisonedSet:
        """poison(), with PGD run against the given `surrogate` model (None without PGD)."""
        self.trigger.check_fits(*train.images.shape[-2:])
        if self.adversarial and surrogate is None:
            raise ValueError("an adversarial label-consistent attack needs a surrogate model")
        indices = pick_from_class(train.labels, self.target_label, self.share, seed)
        chosen = train.images[indices]
        if self.adversarial:
            chosen = pgd_perturb(
                surrogate,
                chosen,
                train.labels[indices],
                self.epsilon,
                self.steps,
                step_size=2.5 * self.epsilon / self.steps,
            )
        images = train.images.clone()
        images[indices] = apply_trigger(chosen, self.trigger)
        return PoisonedSet(images, train.labels.clone(), indices)

    def stamp(self, images: torch.Tensor) -> torch.Tensor:
        return apply_trigger(images, self.trigger)
