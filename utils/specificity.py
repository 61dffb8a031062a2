"""How specific a backdoor is to its trigger: success when the trigger moves or dims."""

from __future__ import annotations

import numpy as np
import torch

from .cache import stored
from .data import ImageSet
from .metrics import attack_success_rate
from .training import predict
from .triggers import Trigger, apply_trigger


@stored(
    record=lambda rates: {"rates": torch.from_numpy(rates)},
    restore=lambda record: record["rates"].numpy(),
)
def success_by_position(
    model: torch.nn.Module, test: ImageSet, trigger: Trigger = Trigger(), target_label: int = 8
) -> np.ndarray:
    """Attack success rate with the trigger moved to every position it fits, as an [H, W] map.

    Positions where a trigger of this size does not fit are NaN. Only the model is
    evaluated; nothing is retrained. The map is stored: asked again for the same model
    and images, it returns at once.
    """
    height, width = test.images.shape[-2:]
    rates = np.full((height, width), np.nan)
    for row in range(height - trigger.size + 1):
        for col in range(width - trigger.size + 1):
            moved = Trigger(row, col, trigger.size, trigger.value, trigger.pattern)
            rates[row, col] = attack_success_rate(
                predict(model, apply_trigger(test.images, moved)), test.labels, target_label
            )
    return rates


def success_by_brightness(
    model: torch.nn.Module,
    test: ImageSet,
    brightness: list[float],
    trigger: Trigger = Trigger(),
    target_label: int = 8,
) -> list[float]:
    """Attack success rate for a trigger of each brightness (0 = black, 1 = white) at the same
    place."""
    return [
        attack_success_rate(
            predict(
                model,
                apply_trigger(test.images, Trigger(trigger.row, trigger.col, trigger.size, value)),
            ),
            test.labels,
            target_label,
        )
        for value in brightness
    ]
