"""Neural Cleanse (Wang et al., 2019): look for the smallest trigger that sends clean inputs to each
label.

For a backdoored label such a trigger is tiny, because the network has learnt one; for a
normal label it has to paint a good part of another digit. The anomaly index tells how
far one label's smallest trigger lies below the others'.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..cache import stored
from ..runtime import configure_threads
from ..training import to_model_input

MAD_TO_STD = 1.4826  # makes the median absolute deviation estimate a normal distribution's sigma


class ReversedTriggers(NamedTuple):
    masks: torch.Tensor  # float [K, H, W] in [0, 1]: where each label's trigger is painted
    patterns: torch.Tensor  # float [K, C, H, W] in [0, 1]: what is painted there
    norms: torch.Tensor  # float [K]: the L1 norm of each mask (pixels covered)

    def anomaly_index(self) -> torch.Tensor:
        return anomaly_index(self.norms)

    def flagged(self, threshold: float = 2.0) -> list[int]:
        """Labels whose trigger is anomalously small: anomaly index above `threshold`."""
        return [
            label for label, index in enumerate(self.anomaly_index().tolist()) if index > threshold
        ]


def true_median(values: torch.Tensor) -> float:
    """The median as statistics defines it: for an even count, the mean of the two middle values.

    (torch.median returns the lower of the two, which shifts the anomaly index.)
    """
    return values.double().quantile(0.5).item()


def anomaly_index(norms: torch.Tensor) -> torch.Tensor:
    """How far each norm lies below the median, in robust standard deviations (1.4826 x MAD).

    Positive for norms smaller than the median; Wang et al. flag a label above 2. The
    formula is that of the authors' mad_outlier_detection.py, with the true median.
    """
    median = true_median(norms)
    spread = MAD_TO_STD * true_median((norms.double() - median).abs())
    return ((median - norms.double()) / max(spread, 1e-12)).float()


@stored(record=ReversedTriggers._asdict, restore=lambda record: ReversedTriggers(**record))
def reverse_engineer_triggers(
    model: torch.nn.Module,
    clean_images: torch.Tensor,
    num_classes: int = 10,
    steps: int = 400,
    batch_size: int = 64,
    learning_rate: float = 0.1,
    initial_cost: float = 1e-3,
    target_success: float = 0.99,
    patience: int = 5,
    cost_multiplier: float = 2.0,
    mask_start: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> ReversedTriggers:
    """For every label at once, optimise a mask m and pattern p so that (1 - m) x + m p is
    classified as that label.

    The loss is cross-entropy plus cost x |m|_1, and the cost is steered as in the
    authors' reference code: it stays 0 until the trigger succeeds on `target_success` of
    a batch for `patience` steps in a row, then starts at `initial_cost`, is multiplied by
    `cost_multiplier` after `patience` successful steps and divided by cost_multiplier ** 1.5
    after `patience` failed ones; the smallest successful mask is kept. Masks and patterns
    start at random, like the reference's (or, with `mask_start`, every mask pixel at that
    value). Two differences, for speed: a step is one batch of `batch_size` images per label
    (the reference averages about 1,000 images per step), and all labels run in one batch.
    The model's weights are not changed. The result is stored: the same search on the same
    model and images returns it at once (`store=False` searches anew).
    """
    if mask_start is not None and not 0 < mask_start < 1:
        raise ValueError(f"mask_start must be in (0, 1) or None (random), got {mask_start!r}")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    images = to_model_input(clean_images).to(device)
    channels, height, width = images.shape[1:]
    start = (
        torch.rand((num_classes, 1, height, width), generator=generator)
        if mask_start is None
        else torch.full((num_classes, 1, height, width), mask_start)
    )
    mask_logit = torch.logit(start, eps=1e-4).to(device).requires_grad_()
    pattern_logit = torch.logit(
        torch.rand((num_classes, channels, height, width), generator=generator), eps=1e-4
    )
    pattern_logit = pattern_logit.to(device).requires_grad_()
    optimizer = torch.optim.Adam([mask_logit, pattern_logit], lr=learning_rate, betas=(0.5, 0.9))
    targets = torch.arange(num_classes, device=device).repeat_interleave(batch_size)
    cost = torch.zeros(num_classes, device=device)
    # > 0: successes in a row, < 0: failures in a row
    streak = torch.zeros(num_classes, device=device)
    best_norms = torch.full((num_classes,), float("inf"))
    best_masks, best_patterns = (
        torch.zeros(num_classes, height, width),
        torch.zeros(num_classes, channels, height, width),
    )
    was_trainable = [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)
    try:
        for _ in tqdm(
            range(steps), disable=not progress, desc="Neural Cleanse", unit="step", mininterval=0.5
        ):
            if device.type == "cpu":
                configure_threads()
            batch = images[
                torch.randint(len(images), (batch_size,), generator=generator).to(device)
            ]
            mask, pattern = torch.sigmoid(mask_logit), torch.sigmoid(pattern_logit)
            losses, logits = objective(model, batch, mask, pattern, cost)
            norms = mask.flatten(1).sum(1)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            with torch.no_grad():
                success = (logits.argmax(1) == targets).float().view(num_classes, batch_size).mean(
                    1
                ) >= target_success
                better = (success & (norms < best_norms.to(device))).cpu()
                best_norms[better] = norms.cpu()[better]
                best_masks[better] = mask[better.to(device), 0].cpu()
                best_patterns[better] = pattern[better.to(device)].cpu()
                streak = torch.where(success, streak.clamp_min(0) + 1, streak.clamp_max(0) - 1)
                cost = _steer_cost(cost, streak, initial_cost, patience, cost_multiplier)
                streak[streak.abs() >= patience] = 0
    finally:
        for parameter, trainable in zip(model.parameters(), was_trainable):
            parameter.requires_grad_(trainable)
    return ReversedTriggers(best_masks, best_patterns, best_norms)


def objective(
    model: torch.nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    patterns: torch.Tensor,
    costs: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Neural Cleanse's loss for every label t at once: the mean cross-entropy toward t of the
    images stamped with label t's trigger, plus costs[t] x |m_t|_1.

    `images` are model inputs [B, C, H, W] in [0, 1], `masks` [K, 1, H, W], `patterns`
    [K, C, H, W], `costs` [K]. Returns the losses [K] and the logits of the K x B stamped images.
    """
    num_classes, batch_size = len(masks), len(images)
    stamped = (1 - masks[:, None]) * images[None] + (masks * patterns)[:, None]
    logits = model(stamped.flatten(0, 1).contiguous(memory_format=torch.channels_last))
    targets = torch.arange(num_classes, device=logits.device).repeat_interleave(batch_size)
    cross_entropy = (
        F.cross_entropy(logits, targets, reduction="none").view(num_classes, batch_size).mean(1)
    )
    return cross_entropy + costs * masks.flatten(1).sum(1), logits


def _steer_cost(
    cost: torch.Tensor, streak: torch.Tensor, initial: float, patience: int, multiplier: float
) -> torch.Tensor:
    """The reference code's schedule for the weight of the mask's size, one label per entry."""
    succeeded, failed = streak >= patience, streak <= -patience
    started = torch.where(succeeded & (cost == 0), torch.full_like(cost, initial), cost)
    raised = torch.where(succeeded & (cost > 0), cost * multiplier, started)
    return torch.where(failed & (cost > 0), raised / multiplier**1.5, raised)
