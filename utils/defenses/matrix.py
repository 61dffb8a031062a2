"""Which defense catches which attack: every defense of notebook 05 run on the model and data of one attack.

One column of the matrix is one attack; each cell is the figure that says how well a
defense did, and a verdict (caught, partly, missed) read from it by a fixed rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import metrics, models, training, triggers
from ..attacks import Attack, badnets, base, blended, evaluate_attack, label_consistent, poisoned_training_set, sig, train_attack
from ..cache import stored
from ..data import ImageSet
from ..metrics import detection_scores
from ..training import TrainingConfig
from . import activations, fine_pruning, neural_cleanse, reserve, spectre, strip
from .activations import activation_clustering, penultimate_activations, spectral_signatures
from .fine_pruning import fine_prune
from .neural_cleanse import reverse_engineer_triggers
from .reserve import clean_reserve
from .spectre import whitened_spectral_signatures
from .strip import held_out_rates

# defense key: (name in tables, what the figure is, whether a higher figure is better for the defender)
DEFENSES = {
    "activation_clustering": ("activation clustering", "poison found", True),
    "spectral_signatures": ("spectral signatures", "poison found", True),
    "whitened_spectral": ("whitened spectral (SPECTRE-style)", "poison found", True),
    "strip": ("STRIP, 1% false rejection", "triggered inputs rejected", True),
    "neural_cleanse": ("Neural Cleanse", "anomaly index of the target", True),
    "fine_pruning": ("fine-pruning", "ASR left", False),
}
NC_THRESHOLD = 2.0


@dataclass(frozen=True)
class DefenseSettings:
    """The defender's budget, as in notebook 05."""

    reserve_size: int = 6000      # clean training images the defender trusts
    poison_bound: float = 0.1     # spectral methods: the largest share of a class thought poisoned
    cleanse_images: int = 2000
    cleanse_steps: int = 400
    strip_inputs: int = 2000
    strip_blends: int = 32
    prune_fraction: float = 0.3


def verdict(defense: str, value: float) -> str:
    """'caught', 'partly' or 'missed': the fixed rule that colours a cell of the matrix.

    Detectors catch at 90% found (or rejected), partly at 50%; Neural Cleanse catches
    when the target's anomaly index is above 2 (Wang et al.'s rule); fine-pruning
    catches when at most 10% ASR is left, partly at 50%.
    """
    if defense == "neural_cleanse":
        return "caught" if value > NC_THRESHOLD else "missed"
    if defense == "fine_pruning":
        return "caught" if value <= 0.1 else "partly" if value <= 0.5 else "missed"
    return "caught" if value >= 0.9 else "partly" if value >= 0.5 else "missed"


@stored(base, badnets, blended, label_consistent, sig, metrics, models, training, triggers,
        activations, fine_pruning, neural_cleanse, reserve, spectre, strip)
def defense_column(attack: Attack, train: ImageSet, test: ImageSet, training_config: TrainingConfig = TrainingConfig(),
                   settings: DefenseSettings = DefenseSettings(), progress: bool = False) -> dict:
    """The attack's clean accuracy, ASR and robust accuracy, and every defense's figure against it.

    Stored like a trained model: asked again for the same attack, data and settings, it
    returns at once (`store=False` runs every defense anew).
    """
    seed = training_config.seed
    poisoned = poisoned_training_set(attack, train, training_config)
    model = train_attack(attack, train, training_config, progress=progress).model
    trusted = clean_reserve(train, poisoned.indices, settings.reserve_size, seed=seed)
    features = penultimate_activations(model, poisoned.images)

    def found(flagged) -> float:
        return detection_scores(flagged, poisoned.indices)["recall"]

    whitened = whitened_spectral_signatures(features, poisoned.labels, penultimate_activations(model, trusted.images),
                                            trusted.labels, settings.poison_bound)
    strip_rates = held_out_rates(model, test, trusted.images, attack.stamp, attack.target_label, settings.strip_inputs,
                                 settings.strip_blends, seed=seed)
    cleansed = reverse_engineer_triggers(model, trusted.images[:settings.cleanse_images], steps=settings.cleanse_steps,
                                         seed=seed, progress=progress)
    repaired = fine_prune(model, trusted, settings.prune_fraction)
    return {
        **evaluate_attack(model, test, attack),
        "poisoned_samples": len(poisoned.indices),
        "activation_clustering": found(activation_clustering(features, poisoned.labels, seed=seed).flagged),
        "spectral_signatures": found(spectral_signatures(features, poisoned.labels, settings.poison_bound).flagged),
        "whitened_spectral": found(whitened.flagged),
        "strip": 1 - strip_rates["false_acceptance"],
        "strip_false_rejection": strip_rates["false_rejection"],
        "neural_cleanse": cleansed.anomaly_index()[attack.target_label].item(),
        "neural_cleanse_flagged": cleansed.flagged(NC_THRESHOLD),
        "fine_pruning": evaluate_attack(repaired, test, attack)["attack_success_rate"],
    }
