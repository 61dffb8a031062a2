"""A population of small MNIST models drawn from a seed: about half carry a backdoor, the rest are
clean, in the manner of NIST's TrojAI rounds.

Every member is a SmallCNN trained on its own random fifth of the MNIST training set for
three epochs, with its own training seed. A backdoored member's attack is drawn from the
course's four: a patch (random size, black-and-white pattern and place near the border),
Blended, SIG, or label-consistent (Turner et al.'s checkerboard in a random corner), each
with a random target label. The draw depends only on the population's seed, so an
instructor who keeps a seed keeps a test population that no student file describes.
Trained members are stored like every other model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch

from .. import cache
from ..attacks import SIG, Attack, BadNets, Blended, LabelConsistent, evaluate_attack
from ..attacks.label_consistent import CORNER_TRIGGER
from ..data import ImageSet, load_mnist
from ..metrics import accuracy
from ..model_store import train_cached
from ..models import SmallCNN
from ..training import TrainingConfig, predict
from ..triggers import Trigger

ATTACK_KINDS = ("patch", "blended", "sig", "label_consistent")
TRAINING_SHARE = 0.2  # of the 60,000 MNIST training images, drawn anew for every member
EPOCHS = 3
IMAGE_SIZE = 28
BORDER = 3  # a patch reaches into the outer BORDER rows or columns, where digits rarely are
CLEAN_PER_CLASS = 20  # the clean images a detector receives: this many of every digit
POPULATION_SIZE = 20
TRAINING_POPULATION_SEED = 0  # the public population, with its answers


@dataclass(frozen=True)
class Member:
    """One model of a population: how it is made. `attack` is None for a clean model."""

    index: int
    training_seed: int
    attack: Attack | None

    @property
    def backdoored(self) -> bool:
        return self.attack is not None

    @property
    def kind(self) -> str:
        return "clean" if self.attack is None else self.attack.name

    def training_config(self) -> TrainingConfig:
        return TrainingConfig(epochs=EPOCHS, seed=self.training_seed)


class TrainedMember(NamedTuple):
    """A member with its trained model and what the model does (the population's answers)."""

    member: Member
    model: torch.nn.Module
    clean_accuracy: float
    attack_success_rate: float | None  # None for a clean model


def draw_members(seed: int, size: int = POPULATION_SIZE) -> list[Member]:
    """`size` members drawn from `seed`: size // 2 backdoored (the four kinds of attack in turn,
    then shuffled with the clean ones), every member with a training seed of its own."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"a population seed must be a whole number >= 0, got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise ValueError(f"a population needs a whole number of at least 2 models, got {size!r}")
    draw = random.Random(f"backdoor-lab-population-{seed}")
    kinds = [ATTACK_KINDS[i % len(ATTACK_KINDS)] for i in range(size // 2)]
    kinds += [None] * (size - len(kinds))
    draw.shuffle(kinds)
    training_seeds = draw.sample(range(1_000, 1_000_000), size)
    return [
        Member(index, training_seed, None if kind is None else draw_attack(kind, draw))
        for index, (kind, training_seed) in enumerate(zip(kinds, training_seeds))
    ]


def draw_attack(kind: str, draw: random.Random) -> Attack:
    """An attack of `kind` with a random target label and random settings that plant a backdoor
    in a member's training."""
    target = draw.randrange(10)
    if kind == "patch":
        return BadNets(poison_rate=0.03, trigger=draw_patch(draw), target_label=target)
    if kind == "blended":
        alpha = draw.choice((0.15, 0.2))
        pattern_seed = draw.randrange(10_000)
        return Blended(
            poison_rate=0.05, alpha=alpha, pattern_seed=pattern_seed, target_label=target
        )
    if kind == "sig":
        return SIG(share=0.5, frequency=draw.choice((4.0, 6.0)), target_label=target)
    if kind == "label_consistent":  # Turner et al.'s checkerboard, in a random corner
        size, last = CORNER_TRIGGER.size, IMAGE_SIZE - CORNER_TRIGGER.size
        row, col = draw.choice(((0, 0), (0, last), (last, 0), (last, last)))
        trigger = Trigger(row, col, size, pattern=CORNER_TRIGGER.pattern)
        return LabelConsistent(share=0.5, epsilon=0.3, trigger=trigger, target_label=target)
    raise ValueError(f"unknown kind of attack {kind!r}; choose one of {', '.join(ATTACK_KINDS)}")


def draw_patch(draw: random.Random) -> Trigger:
    """A 2x2, 3x3 or 4x4 square of black and white pixels that reaches into the image's border."""
    size = draw.choice((2, 3, 4))
    last = IMAGE_SIZE - size
    while True:
        row, col = draw.randint(0, last), draw.randint(0, last)
        if min(row, col, last - row, last - col) < BORDER:
            return Trigger(row, col, size, pattern=draw_pattern(draw, size))


def draw_pattern(draw: random.Random, size: int) -> tuple[tuple[float, ...], ...]:
    """A size x size grid of black (0) and white (1), at least half of it white (black pixels
    vanish on MNIST's black border) and not all of it."""
    while True:
        cells = [float(draw.random() < 0.5) for _ in range(size * size)]
        if len(cells) / 2 <= sum(cells) < len(cells):
            return tuple(tuple(cells[r * size : (r + 1) * size]) for r in range(size))


def training_share(train: ImageSet, seed: int) -> ImageSet:
    """The random TRAINING_SHARE of `train` that the member of training seed `seed` learns from."""
    count = int(TRAINING_SHARE * len(train.labels))
    chosen = torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(seed))
    chosen = chosen[:count].sort().values
    return ImageSet(train.images[chosen], train.labels[chosen])


def stored_member(member: Member) -> Path:
    """Where the model of `member` is stored: named by the member and by the code that makes it."""
    return cache.CACHE_DIR / f"challenge-{cache.fingerprint(member, cache.code_of(__name__))}.pt"


def train_member(member: Member) -> torch.nn.Module:
    """The member's model: trained on its share of MNIST's training set, or loaded from the
    store."""
    data = training_share(load_mnist("train"), member.training_seed)
    config = member.training_config()

    def poisoned():
        attack = member.attack
        if attack is None:
            return BadNets(poison_rate=0.0).poison(data, config.seed)
        if isinstance(attack, LabelConsistent):  # PGD against the same recipe without poison
            surrogate = Member(member.index, config.seed, None)
            return attack.poison_against(data, config.seed, train_member(surrogate))
        return attack.poison(data, config.seed)

    trained = train_cached(
        stored_member(member), lambda seed: SmallCNN(seed=seed), poisoned, config, progress=False
    )
    return trained.model


def clean_images(test: ImageSet | None = None) -> ImageSet:
    """What a detector receives with a model: the first CLEAN_PER_CLASS test images of each digit,
    in the order 0, 1, ..., 9."""
    test = load_mnist("test") if test is None else test
    chosen = torch.cat(
        [(test.labels == digit).nonzero().squeeze(1)[:CLEAN_PER_CLASS] for digit in range(10)]
    )
    return ImageSet(test.images[chosen], test.labels[chosen])


def build_population(
    seed: int = TRAINING_POPULATION_SEED, size: int = POPULATION_SIZE, progress: bool = True
) -> list[TrainedMember]:
    """Every member of the population of `seed`, trained (or loaded) and measured."""
    return train_members(draw_members(seed, size), progress)


def train_members(members: list[Member], progress: bool = True) -> list[TrainedMember]:
    """Each member trained (or loaded), with its clean accuracy and, if backdoored, its attack
    success rate on the MNIST test set."""
    from tqdm.auto import tqdm

    test = load_mnist("test")
    built = []
    for member in tqdm(members, disable=not progress, desc="population", unit="model"):
        model = train_member(member)
        if member.attack is None:
            figures = {"clean_accuracy": accuracy(predict(model, test.images), test.labels)}
        else:
            figures = evaluate_attack(model, test, member.attack)
        built.append(
            TrainedMember(
                member, model, figures["clean_accuracy"], figures.get("attack_success_rate")
            )
        )
    return built
