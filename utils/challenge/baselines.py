"""Two detectors built from the course, for the challenge's notebook to beat: each returns a raw
score (larger: more likely backdoored) and the label it suspects; `calibrate` turns a score into
a probability, fitted on a population whose answers are known.

- `patch_scan`: stamp a white square at every place on the clean images and look for one
  place that sends many of them to one label (cheap: forward passes only)
- `neural_cleanse_scan`: Neural Cleanse's largest anomaly index (lesson 06), with a shorter
  search than the lesson's
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..data import ImageSet
from ..defenses.neural_cleanse import reverse_engineer_triggers
from ..training import predict
from ..triggers import Trigger, apply_trigger

NEURAL_CLEANSE_STEPS = 100  # the lesson's search takes 400 steps of 64 images: an eighth of it
NEURAL_CLEANSE_BATCH = 32


def patch_scan(
    model: torch.nn.Module, clean: ImageSet, size: int = 3, stride: int = 2
) -> tuple[float, int]:
    """The largest share of the clean images that one white size x size square (at any place on a
    grid of `stride` pixels, and along the last rows and columns) sends to one label other than
    their own, and that label."""
    height, width = clean.images.shape[-2:]
    best_share, best_label = 0.0, 0
    for row in places(height - size, stride):
        for col in places(width - size, stride):
            predicted = predict(model, apply_trigger(clean.images, Trigger(row, col, size)))
            moved = predicted[predicted != clean.labels]
            shares = torch.bincount(moved, minlength=10).float() / len(predicted)
            if shares.max().item() > best_share:
                best_share, best_label = shares.max().item(), shares.argmax().item()
    return best_share, best_label


def places(last: int, stride: int) -> list[int]:
    """0, stride, 2 x stride, ... up to `last`, and `last` itself: every pixel gets covered."""
    return sorted({*range(0, last + 1, stride), last})


def neural_cleanse_scan(model: torch.nn.Module, clean: ImageSet) -> tuple[float, int]:
    """The largest anomaly index of Neural Cleanse's reversed triggers, and its label."""
    reversed_triggers = reverse_engineer_triggers(
        model,
        clean.images,
        steps=NEURAL_CLEANSE_STEPS,
        batch_size=NEURAL_CLEANSE_BATCH,
        progress=False,
    )
    index = reversed_triggers.anomaly_index()
    return index.max().item(), index.argmax().item()


def calibrate(scores: list[float], backdoored: list[bool]) -> Callable[[float], float]:
    """A logistic curve p(score) = 1 / (1 + exp(-(a z + b))) fitted to scores whose answers are
    known, where z is the score standardised over them (so that a share and an anomaly index
    are treated alike): what turns a detector's ranking into probabilities that cross-entropy
    rewards. The fit carries scikit-learn's default L2 penalty on a, which keeps a population
    that the score separates perfectly from getting probabilities of exactly 0 and 1."""
    if len(scores) != len(backdoored) or len(set(backdoored)) != 2:
        raise ValueError(
            "calibration needs one answer per score and both clean and backdoored models, got "
            f"{len(scores)} scores and answers {sorted(set(backdoored))}"
        )
    fit = make_pipeline(StandardScaler(), LogisticRegression())
    fit.fit(np.array(scores, dtype=float).reshape(-1, 1), np.array(backdoored))
    if fit[-1].coef_[0, 0] <= 0:
        raise ValueError(
            "these scores are not larger for the backdoored models than for the clean ones; "
            "a detector's score must grow with its suspicion (negate it if it falls)"
        )
    return lambda score: float(fit.predict_proba(np.array([[float(score)]]))[0, 1])


SCANS = {"patch-scan": patch_scan, "neural-cleanse": neural_cleanse_scan}


def calibrated_baseline(name: str, training: list) -> Callable:
    """The baseline `name` (a key of SCANS) as a detector: its scan, with the probability curve
    fitted on `training` (a population with its answers, trained members)."""
    if name not in SCANS:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(SCANS)}")
    from .population import clean_images

    scan, clean = SCANS[name], clean_images()
    found = [scan(trained.model, clean)[0] for trained in training]
    to_probability = calibrate(found, [trained.member.backdoored for trained in training])

    def detect(model, clean_images):
        score, label = scan(model, clean_images)
        return to_probability(score), label

    return detect
