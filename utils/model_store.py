"""Trained models, stored and reused: a model is trained once per configuration and code.

A model is stored in .cache/models under a name that a caller derives from what decides
it (utils.cache.fingerprint of its configuration and code). A process that needs a model
while another one trains it waits, then loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import torch

from .cache import exclusive, load_record, save_atomically
from .data import ImageSet
from .runtime import pick_device
from .training import History, TrainingConfig, fit
from .triggers import PoisonedSet


class TrainedModel(NamedTuple):
    model: torch.nn.Module
    history: History
    poisoned_indices: torch.Tensor


def train_cached(
    path: Path,
    build: Callable[[int | None], torch.nn.Module],
    poisoned: Callable[[], PoisonedSet],
    training: TrainingConfig,
    test: ImageSet | None = None,
    *,
    reuse: bool = True,
    progress: bool = True,
    device: str | None = None,
) -> TrainedModel:
    """Load the model stored at `path`, or build(seed) one, train it on poisoned() and store it
    there.

    With reuse=True, a model stored before is loaded instead of trained again. reuse=False
    trains anew (to show the training) but never replaces a stored model: the one later
    notebooks read stays the same, whatever thread count a rerun on a busy machine uses.
    """
    with exclusive(path):
        if reuse:
            model = build(None)
            saved = load_record(path, check=lambda record: model.load_state_dict(record["state"]))
            if saved is not None:
                model.to(pick_device(device), memory_format=torch.channels_last).eval()
                return TrainedModel(model, History(**saved["history"]), saved["poisoned_indices"])
        data = poisoned()
        model = build(training.seed)
        history = fit(model, data, training, test=test, device=device, progress=progress)
        if reuse or not path.exists():
            state = {k: v.cpu() for k, v in model.state_dict().items()}
            save_atomically(
                {"state": state, "history": history.as_dict(), "poisoned_indices": data.indices},
                path,
            )
        return TrainedModel(model, history, data.indices)
