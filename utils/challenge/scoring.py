"""Running a detector over a population and scoring its answers as TrojAI does: ROC-AUC,
cross-entropy, and (for the extra credit) how often it names the target label.

A detector is a function detect(model, clean_images) that returns the probability that the
model is backdoored, or a pair (probability, target label). `clean_images` is an ImageSet of
CLEAN_PER_CLASS test images of every digit, with their labels. It runs in the scorer's
process, with the scorer's permissions: an instructor reads a submission before running it.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from ..data import ImageSet
from .population import TrainedMember

# TrojAI clips probabilities before the cross-entropy, so one confident miss costs a finite amount
CLIP = 1e-12


class Answer(NamedTuple):
    probability: float
    target_label: int | None  # None: the detector does not name one


class Scores(NamedTuple):
    roc_auc: float
    cross_entropy: float
    target_accuracy: float | None  # over the backdoored models; None when no label was named
    seconds_per_model: float


def load_detector(path: str | Path) -> Callable:
    """The function detect() of the Python file at `path`, read anew at every call (an edited
    file counts at once)."""
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise ValueError(f"{path} is not a Python file (.py) holding a function detect()")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.append(folder)  # the detector may import files beside it
    spec.loader.exec_module(module)
    detect = getattr(module, "detect", None)
    if not callable(detect):
        raise ValueError(
            f"{path} defines no function detect(model, clean_images); it must return the "
            "probability that the model is backdoored, or a pair (probability, target label)"
        )
    return detect


def read_answer(returned, index: int) -> Answer:
    """A detector's return value as an Answer, or ValueError saying what was wrong."""
    where = f"detect() on model {index} returned {returned!r}"
    if isinstance(returned, (list, tuple)) and len(returned) != 2:
        raise ValueError(f"{where}: return a probability or a pair (probability, target label)")
    probability, label = returned if isinstance(returned, (list, tuple)) else (returned, None)
    if isinstance(probability, bool):
        raise ValueError(f"{where}: the probability must be a number in [0, 1], not True/False")
    try:
        probability = float(probability)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: the probability must be a number in [0, 1]") from None
    if not 0 <= probability <= 1:  # also false for NaN
        raise ValueError(f"{where}: the probability must be a number in [0, 1]")
    if label is not None and (isinstance(label, bool) or label not in range(10)):
        raise ValueError(f"{where}: the target label must be a whole number 0-9 or None")
    return Answer(probability, None if label is None else int(label))


def run_detector(
    detect: Callable, population: list[TrainedMember], clean: ImageSet
) -> tuple[list[Answer], float]:
    """detect's answer for every member, and the mean seconds it took per model. Each call gets
    its own copy of the model and of the clean images: a detector that changes them (prunes,
    stamps in place) changes nothing for the next model."""
    answers, seconds = [], 0.0
    for trained in population:
        model, images = copy.deepcopy(trained.model), ImageSet(*(t.clone() for t in clean))
        start = time.perf_counter()
        try:
            returned = detect(model, images)
        except Exception as error:
            raise RuntimeError(f"detect() failed on model {trained.member.index}") from error
        seconds += time.perf_counter() - start
        answers.append(read_answer(returned, trained.member.index))
    return answers, seconds / len(population)


def score(answers: list[Answer], population: list[TrainedMember], seconds: float = 0.0) -> Scores:
    """ROC-AUC and cross-entropy of the probabilities against the answers, and the share of
    backdoored models whose target label the detector named right."""
    backdoored = [trained.member.backdoored for trained in population]
    probabilities = np.clip([answer.probability for answer in answers], CLIP, 1 - CLIP)
    named = [
        answer.target_label == trained.member.attack.target_label
        for answer, trained in zip(answers, population)
        if trained.member.backdoored
    ]
    any_named = any(answer.target_label is not None for answer in answers)
    return Scores(
        roc_auc=float(roc_auc_score(backdoored, probabilities)),
        cross_entropy=float(log_loss(backdoored, probabilities, labels=[False, True])),
        target_accuracy=sum(named) / len(named) if any_named and named else None,
        seconds_per_model=seconds,
    )


def outranked(scores: list[float], population: list[TrainedMember]) -> dict[int, float]:
    """For every backdoored member (by index), the share of the clean members whose score its own
    exceeds: 1 when one threshold would tell it from every clean model."""
    clean = [value for value, trained in zip(scores, population) if not trained.member.backdoored]
    return {
        trained.member.index: sum(value > other for other in clean) / len(clean)
        for value, trained in zip(scores, population)
        if trained.member.backdoored
    }


def outranked_by_kind(scores: list[float], population: list[TrainedMember]) -> dict[str, float]:
    """outranked's shares averaged over the members of each kind of attack."""
    shares, by_kind = outranked(scores, population), {}
    for trained in population:
        if trained.member.backdoored:
            by_kind.setdefault(trained.member.kind, []).append(shares[trained.member.index])
    return {kind: sum(values) / len(values) for kind, values in by_kind.items()}


def describe(scores: Scores) -> str:
    """The scores on one line."""
    target = "-" if scores.target_accuracy is None else f"{scores.target_accuracy:.0%}"
    return (
        f"ROC-AUC {scores.roc_auc:.3f}  cross-entropy {scores.cross_entropy:.3f}  "
        f"target label {target}  ({scores.seconds_per_model:.1f} s per model)"
    )
