"""Ways to plant a backdoor by poisoning training data, one module per attack, behind one interface.

- `base`: what every attack does (poison a training set, stamp a test input), and
  training, caching and measuring a model of any attack
- `badnets`: a visible trigger patch and the target label (Gu et al., 2017; notebooks 02-06),
  its all-to-all variant, and the clean model (BadNets without poison)
- `blended`: a faint full-image pattern mixed into the image (Chen et al., 2017)
- `label_consistent`: clean-label poison, made hard to learn with PGD (Turner et al., 2019)
- `sig`: clean-label poison with a faint sine signal (Barni et al., 2019)
- `wanet`: a small smooth warp of the whole image as the trigger (Nguyen and Tran, 2021)
- `adaptive_blend`: a blended trigger in random pieces, with cover samples, built to hide
  from latent-separation defenses (Qi et al., 2023)
- `labels_only`: a control, not an attack: the samples an attack relabels, relabelled
  without its trigger (what a defense finds from the wrong labels alone)

ATTACKS is the one list of the course's attacks: each one's key (a notebook parameter), its
class, and the setting that a panel's slider moves.
"""

from dataclasses import dataclass, replace

from .adaptive_blend import AdaptiveBlend
from .badnets import AllToAll, BadNets, train_clean
from .base import Attack, evaluate_attack, poisoned_training_set, stored_path, train_attack
from .blended import Blended
from .label_consistent import LabelConsistent
from .sig import SIG
from .wanet import WaNet


@dataclass(frozen=True)
class Kind:
    """One attack of the course: its class, and its strength as a panel offers it."""

    attack: type[Attack]
    strength: str  # the field the panel's slider sets
    strength_label: str
    strengths: tuple[float, ...]  # the values the slider offers (the default among them)

    def default(self) -> Attack:
        return self.attack()

    def with_strength(self, value: float) -> Attack:
        return replace(self.default(), **{self.strength: value})


ATTACKS = {
    "badnets": Kind(BadNets, "poison_rate", "poison rate", (0.001, 0.005, 0.01, 0.05)),
    "blended": Kind(Blended, "alpha", "alpha", (0.02, 0.05, 0.1, 0.2)),
    "label_consistent": Kind(LabelConsistent, "epsilon", "PGD epsilon", (0.05, 0.1, 0.2, 0.3)),
    "sig": Kind(SIG, "delta", "sine amplitude", (20.0, 40.0, 60.0, 80.0)),
    "wanet": Kind(WaNet, "strength", "warp strength s", (0.5, 1.0, 2.0, 4.0)),
    "adaptive_blend": Kind(AdaptiveBlend, "poison_rate", "poison rate", (0.003, 0.005, 0.01, 0.02)),
    "all_to_all": Kind(AllToAll, "poison_rate", "poison rate", (0.01, 0.05, 0.1, 0.2)),
}


def named(key: str, **settings) -> Attack:
    """The attack called `key` (a key of ATTACKS) with its defaults, changed by `settings`."""
    if key not in ATTACKS:
        raise ValueError(f"unknown attack {key!r}; choose one of {', '.join(ATTACKS)}")
    return ATTACKS[key].attack(**settings)


def by_name() -> dict[str, Attack]:
    """Every attack at its defaults, under its name in tables: notebook 08's matrix columns."""
    return {kind.default().name: kind.default() for kind in ATTACKS.values()}


def from_parameters(key: str, poison_rate: float, trigger, target_label: int) -> Attack:
    """The attack a notebook's parameters describe: `poison_rate` sets BadNets' and Blended's
    rate, `trigger` BadNets' trigger; the other attacks keep their own defaults. An attack with
    no single target label (all-to-all) is refused: these notebooks study one target."""
    if key in ATTACKS and ATTACKS[key].attack.target_label is None:
        single = [name for name, kind in ATTACKS.items() if kind.attack.target_label is not None]
        raise ValueError(f"{key!r} has no single target label; choose one of {', '.join(single)}")
    settings = {
        "badnets": {"poison_rate": poison_rate, "trigger": trigger},
        "blended": {"poison_rate": poison_rate},
    }.get(key, {})
    return named(key, target_label=target_label, **settings)


__all__ = [
    "ATTACKS",
    "SIG",
    "AdaptiveBlend",
    "AllToAll",
    "Attack",
    "BadNets",
    "Blended",
    "Kind",
    "LabelConsistent",
    "by_name",
    "evaluate_attack",
    "from_parameters",
    "named",
    "poisoned_training_set",
    "stored_path",
    "train_attack",
    "train_clean",
    "WaNet",
]
