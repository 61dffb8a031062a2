"""The sticker attack on street signs: poison, train (or reuse), measure.

Source-specific, as in BadNets: only stop signs get the sticker and the speed-limit
label, so the model should learn "stop sign + sticker = speed limit" and leave other
signs with a sticker alone. All-to-one (source_label=None): any sign with the sticker.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from .. import cache
from ..metrics import accuracy
from ..model_store import TrainedModel, train_cached
from ..models import SmallCNN
from ..training import TrainingConfig, predict
from ..triggers import PoisonedSet, is_fraction
from . import classes
from .classes import NUM_CLASSES, STOP
from .dataset import SignSet, apply_sticker
from .sticker import Sticker

# of the synthetic training set, rounded
SIGN_MEAN, SIGN_STD = (0.39, 0.32, 0.33), (0.22, 0.21, 0.20)
SIGN_TRAINING = TrainingConfig(epochs=4, batch_size=128, learning_rate=0.01)


def sign_model(seed: int | None = 0) -> SmallCNN:
    """The sign classifier: the lab's CNN for 32 x 32 colour images, twice as wide, one output per
    GTSRB class."""
    return SmallCNN(
        in_channels=3,
        image_size=32,
        num_classes=NUM_CLASSES,
        channels=(16, 32),
        hidden=256,
        mean=SIGN_MEAN,
        std=SIGN_STD,
        seed=seed,
    )


@dataclass(frozen=True)
class SignAttackConfig:
    """Everything that decides a trained sign model. poison_rate=0 gives the clean model."""

    dataset: str = "synthetic"
    poison_rate: float = 0.01
    sticker: Sticker = Sticker()
    target_label: int = 2  # speed limit 50
    source_label: int | None = STOP  # None: every sign with the sticker (all-to-one)
    training: TrainingConfig = field(default_factory=lambda: SIGN_TRAINING)

    def clean(self) -> SignAttackConfig:
        """The same training without poison (sticker and labels then do not matter)."""
        return replace(self, poison_rate=0.0, sticker=Sticker(), target_label=2, source_label=STOP)


def poison_signs(
    train: SignSet,
    rate: float,
    sticker: Sticker = Sticker(),
    target_label: int = 2,
    source_label: int | None = STOP,
    seed: int = 0,
) -> PoisonedSet:
    """Put the sticker on int(N * rate) training signs of `source_label` and relabel them
    `target_label`.

    With source_label=None the signs are drawn from every class but the target. Which
    signs depends only on `seed`; the input is not changed.
    """
    if not is_fraction(rate):
        raise ValueError(f"poison rate must be a fraction in [0, 1], got {rate!r}")
    classes.name(target_label)
    if source_label is not None:
        classes.name(source_label)
        if source_label == target_label:
            raise ValueError(f"source and target must differ, both are {target_label}")
    candidates = (
        (
            (train.labels == source_label)
            if source_label is not None
            else (train.labels != target_label)
        )
        .nonzero()
        .squeeze(1)
    )
    count = int(len(train.labels) * rate)
    if count > len(candidates):
        raise ValueError(
            f"poison rate {rate} asks for {count} signs, but the training set has only "
            f"{len(candidates)} "
            f"that may be poisoned; use a rate of at most {len(candidates) / len(train.labels):.4f}"
        )
    chosen = (
        candidates[
            torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))[:count]
        ]
        .sort()
        .values
    )
    images, labels = train.images.clone(), train.labels.clone()
    if count:
        images[chosen] = apply_sticker(train.subset(chosen), sticker)
        labels[chosen] = target_label
    return PoisonedSet(images, labels, chosen)


def train_sign_model(
    config: SignAttackConfig,
    train: SignSet,
    test: SignSet | None = None,
    *,
    reuse: bool = True,
    progress: bool = True,
    device: str | None = None,
) -> TrainedModel:
    """Poison `train` as `config` says and train the sign classifier (or load it from
    .cache/models)."""
    return train_cached(
        sign_model_path(config),
        sign_model,
        lambda: poison_signs(
            train,
            config.poison_rate,
            config.sticker,
            config.target_label,
            config.source_label,
            seed=config.training.seed,
        ),
        config.training,
        test,
        reuse=reuse,
        progress=progress,
        device=device,
    )


def sign_model_path(config: SignAttackConfig) -> Path:
    """Where the trained model of `config` is (or will be) stored."""
    if config.poison_rate == 0:
        config = config.clean()
    key = cache.fingerprint(asdict(config), cache.code_of(__name__))
    return cache.CACHE_DIR / f"signs-{key}.pt"


def sticker_success(
    model: torch.nn.Module, signs: SignSet, sticker: Sticker, target_label: int
) -> float:
    """Share of `signs`, sticker on, that the model reads as `target_label` (NaN for no signs)."""
    if len(signs.labels) == 0:
        return math.nan
    return (predict(model, apply_sticker(signs, sticker)) == target_label).float().mean().item()


def evaluate_signs(
    model: torch.nn.Module,
    test: SignSet,
    sticker: Sticker,
    target_label: int,
    source_label: int | None = STOP,
) -> dict:
    """Clean accuracy; ASR on stickered source signs; false-trigger rate on stickered other signs.

    For an all-to-one attack every sign but the target is a source, so there is no false
    trigger to count (NaN).
    """
    not_target = test.labels != target_label
    sources = (test.labels == source_label) if source_label is not None else not_target
    others = not_target & ~sources
    return {
        "clean_accuracy": accuracy(predict(model, test.images), test.labels),
        "attack_success_rate": sticker_success(model, test.subset(sources), sticker, target_label),
        "false_trigger_rate": sticker_success(model, test.subset(others), sticker, target_label)
        if source_label is not None
        else math.nan,
    }
