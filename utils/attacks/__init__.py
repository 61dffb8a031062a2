"""Ways to plant a backdoor by poisoning training data, one module per attack, behind one interface.

- `base`: what every attack does (poison a training set, stamp a test input), and
  training, caching and measuring a model of any attack
- `badnets`: a visible trigger patch and the target label (Gu et al., 2017; notebooks 02-05)
- `blended`: a faint full-image pattern mixed into the image (Chen et al., 2017)
- `label_consistent`: clean-label poison, made hard to learn with PGD (Turner et al., 2019)
- `sig`: clean-label poison with a faint sine signal (Barni et al., 2019)
"""

from .badnets import BadNets
from .base import Attack, evaluate_attack, poisoned_training_set, train_attack, train_clean
from .blended import Blended
from .label_consistent import LabelConsistent
from .sig import SIG

ATTACKS = {"badnets": BadNets, "blended": Blended, "label_consistent": LabelConsistent, "sig": SIG}


def named(name: str, **settings) -> Attack:
    """The attack called `name` (a key of ATTACKS) with its defaults, changed by `settings`."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    return ATTACKS[name](**settings)


def from_parameters(name: str, poison_rate: float, trigger, target_label: int) -> Attack:
    """The attack a notebook's parameters describe: `poison_rate` sets BadNets' and Blended's
    rate, `trigger` BadNets' trigger; the clean-label attacks keep their own defaults."""
    settings = {"badnets": {"rate": poison_rate, "trigger": trigger}, "blended": {"rate": poison_rate}}.get(name, {})
    return named(name, target_label=target_label, **settings)


__all__ = ["from_parameters", "ATTACKS", "Attack", "BadNets", "Blended", "LabelConsistent", "SIG", "evaluate_attack", "named",
           "poisoned_training_set", "train_attack", "train_clean"]
