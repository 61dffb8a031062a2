"""Which defense catches which attack: every defense run on one attack's model and data, and on a
clean model as the control.

DEFENSES are the classic rows of notebook 08 (2017-2020), computed by defense_column;
MODERN_DEFENSES the repairs and the training defense of lesson 10 (2021-2022), computed by
repair_column; a matrix shows the rows its columns hold (rows_of).

One column of the matrix is one attack; the control column runs every defense on the
clean model of the same seed, so that a false alarm shows. Each attack cell holds the
figure that says how well a defense did, and a verdict read from it by the fixed rule of
`verdict`; `near_threshold` marks the cells whose figure lies so close to a threshold
that another machine or seed can turn the verdict.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..attacks import (
    Attack,
    BadNets,
    evaluate_attack,
    poisoned_training_set,
    train_attack,
    train_clean,
)
from ..cache import stored
from ..data import ImageSet
from ..metrics import defense_effectiveness_rate, detection_scores
from ..training import TrainingConfig
from ..triggers import PoisonedSet
from .abl import AblSettings, abl
from .activations import activation_clustering, penultimate_activations, spectral_signatures
from .anp import AnpSettings, anp
from .clp import clp
from .fine_pruning import fine_prune
from .ibau import IbauSettings, ibau
from .neural_cleanse import reverse_engineer_triggers
from .reserve import clean_reserve
from .spectre import spectre as spectre_filter
from .strip import held_out_rates
from .whitened_spectral import whitened_spectral_signatures


@dataclass(frozen=True)
class Row:
    """One defense of the matrix: its name in tables, what its figure is on an attack and on the
    control, a short name for narrow tables, and the assumption about the attack it rests on."""

    title: str
    figure: str
    control: str
    short: str
    assumption: str


DEFENSES = {
    "activation_clustering": Row(
        "activation clustering",
        "poison found",
        "samples flagged",
        "AC",
        "the poison forms a small cluster of its own",
    ),
    "spectral_signatures": Row(
        "spectral signatures",
        "poison found",
        "samples flagged",
        "SS",
        "the poison is the largest spread of its class",
    ),
    "spectre": Row(
        "SPECTRE",
        "poison found",
        "samples flagged",
        "SPECTRE",
        "the poison stands out once the clean spread is divided out, without clean data",
    ),
    "whitened_spectral": Row(
        "spectral, whitened with clean data",
        "poison found",
        "samples flagged",
        "whitened",
        "the poison stands out once the spread of trusted clean data is divided out",
    ),
    "strip": Row(
        "STRIP, 1% false rejection",
        "triggered inputs rejected",
        "clean inputs rejected",
        "STRIP",
        "the trigger survives blending and decides the answer",
    ),
    "neural_cleanse": Row(
        "Neural Cleanse",
        "anomaly index of the target",
        "largest anomaly index",
        "NC index",
        "the trigger is small and works on every image",
    ),
    "fine_pruning": Row(
        "fine-pruning, half the neurons",
        "ASR left",
        "clean accuracy lost",
        "pruning",
        "the trigger lives in neurons that clean data leaves dormant",
    ),
}
MODERN_DEFENSES = {
    "anp": Row(
        "ANP, adversarial neuron pruning",
        "ASR left",
        "clean accuracy lost",
        "ANP",
        "the backdoor's neurons are those a small perturbation of the weights turns on",
    ),
    "clp": Row(
        "CLP, channel Lipschitzness (no data)",
        "ASR left",
        "clean accuracy lost",
        "CLP",
        "the trigger's channels stretch their input far more than their layer's others",
    ),
    "ibau": Row(
        "I-BAU, adversarial unlearning",
        "ASR left",
        "clean accuracy lost",
        "I-BAU",
        "the trigger is a universal perturbation that a search on clean data can find",
    ),
    "abl": Row(
        "ABL, anti-backdoor learning (retrains)",
        "ASR left",
        "clean accuracy lost",
        "ABL",
        "the poison is learnt faster than the clean task, so it fits best early on",
    ),
}
EVERY_DEFENSE = {**DEFENSES, **MODERN_DEFENSES}
# the rows whose figure is the ASR left after a repair, judged with the clean accuracy it cost
REPAIRS = ("fine_pruning", *MODERN_DEFENSES)
CONTROL = "no attack"
NC_THRESHOLD = 2.0  # Wang et al.: a label whose anomaly index is above 2 is flagged
# a repair that costs more clean accuracy than this does not count as caught
MAX_REPAIR_COST = 0.02
ISOLATED = "abl_isolated_poison"  # the share of the samples ABL isolated that were poison
MARGINS = {"rate": 0.05, "index": 0.3, "cost": 0.005}  # how close to a threshold counts as near it


@dataclass(frozen=True)
class DefenseSettings:
    """The defender's budget, as in notebook 06."""

    reserve_size: int = 6000  # clean training images the defender trusts
    poison_bound: float = 0.1  # spectral methods: the largest share of a class thought poisoned
    cleanse_images: int = 2000
    cleanse_steps: int = 400
    strip_inputs: int = 2000
    strip_blends: int = 32
    prune_fraction: float = 0.5
    anp: AnpSettings = AnpSettings()
    clp_u: float = 3.0
    ibau: IbauSettings = IbauSettings()
    abl: AblSettings = AblSettings()


def verdict(defense: str, column: dict, control: dict) -> str:
    """'caught', 'partly', 'missed', or for Neural Cleanse also 'like clean': the fixed rule of
    the matrix.

    - detectors (the data inspections and STRIP): caught when at least 90% of the poison is
      found (or of the triggered inputs rejected), partly from 50%;
    - Neural Cleanse: caught when the target's anomaly index is above 2 (Wang et al.'s rule)
      *and* above the largest index of the clean model of the same seed; 'like clean' when
      it is above 2 but not above that (not distinguishable from a clean model);
    - the repairs (fine-pruning and the modern ones): caught when at most 10% ASR is left
      and clean accuracy fell by at most 2 points; partly when at most 50% is left (or 10%
      at a higher cost).
    """
    value = column[defense]
    if defense == "neural_cleanse":
        if value <= NC_THRESHOLD:
            return "missed"
        return "caught" if value > control["neural_cleanse"] else "like clean"
    if defense in REPAIRS:
        cheap = repair_cost(column, defense) <= MAX_REPAIR_COST
        return "caught" if value <= 0.1 and cheap else "partly" if value <= 0.5 else "missed"
    return "caught" if value >= 0.9 else "partly" if value >= 0.5 else "missed"


def near_threshold(defense: str, column: dict, control: dict) -> bool:
    """Whether the cell's figure lies within MARGINS of a threshold of its verdict."""
    value = column[defense]
    if defense == "neural_cleanse":
        # where the verdict changes
        edges = {NC_THRESHOLD, max(NC_THRESHOLD, control["neural_cleanse"])}
        return any(abs(value - edge) < MARGINS["index"] for edge in edges)
    if defense in REPAIRS:
        return (
            any(abs(value - edge) < MARGINS["rate"] for edge in (0.1, 0.5))
            or abs(repair_cost(column, defense) - MAX_REPAIR_COST) < MARGINS["cost"]
        )
    return any(abs(value - edge) < MARGINS["rate"] for edge in (0.9, 0.5))


def false_alarm(defense: str, control: dict) -> bool:
    """Whether a defense raised an alarm on the clean model: activation clustering called a
    class suspicious, Neural Cleanse flagged a label, or a repair cost over 2 points."""
    if defense == "activation_clustering":
        return control[defense] > 0
    if defense == "neural_cleanse":
        return control[defense] > NC_THRESHOLD
    if defense in REPAIRS:
        return repair_cost(control, defense) > MAX_REPAIR_COST
    return False


def cell_verdict(defense: str, column: dict, control: dict, is_control: bool = False) -> str:
    """The word a cell of the matrix shows: verdict() for an attack, 'false alarm' or 'quiet' for
    the control."""
    if is_control:
        return "false alarm" if false_alarm(defense, control) else "quiet"
    return verdict(defense, column, control)


def cell_figure(defense: str, column: dict, is_control: bool = False) -> str:
    """A cell's figure as the notebooks print it: shares to a tenth of a percent, indices to two
    decimals; a repair's change of clean accuracy with its sign (-0.20 points: lost)."""
    value = column[defense]
    if defense == "neural_cleanse":
        return f"{value:.2f}" + (
            f" (label {column['neural_cleanse_largest']['label']})" if is_control else ""
        )
    if defense in REPAIRS:
        cost = 100 * repair_cost(column, defense)
        return f"{cost:.2f} points" if is_control else f"{value:.1%}, clean {-cost:+.2f} points"
    return f"{value:.1%}"


def rows_of(columns: dict[str, dict]) -> dict[str, Row]:
    """The defenses of EVERY_DEFENSE whose figures every column holds, in the matrix's order."""
    return {
        key: row
        for key, row in EVERY_DEFENSE.items()
        if all(key in column for column in columns.values())
    }


def verdict_summary(columns: dict[str, dict]) -> list[str]:
    """One line per defense: the attacks it caught, caught partly and missed (marked when near a
    threshold), and what it did on the clean model; `columns` holds the control and the attacks."""
    control, lines = columns[CONTROL], []
    for defense, row in rows_of(columns).items():
        calls: dict[str, list[str]] = {}
        for name, column in columns.items():
            if name != CONTROL:
                near = " (near a threshold)" if near_threshold(defense, column, control) else ""
                calls.setdefault(verdict(defense, column, control), []).append(name + near)
        said = "; ".join(f"{call}: {', '.join(names)}" for call, names in calls.items())
        alarm = ", a false alarm" if false_alarm(defense, control) else ""
        lines.append(
            f"{row.title} - {said}; on the clean model: {row.control} "
            f"{cell_figure(defense, control, True)}{alarm}"
        )
    return lines


def split_summary(columns: dict[str, dict]) -> list[str]:
    """How activation clustering split the target class, column by column."""
    lines = []
    for name, column in columns.items():
        split = column["target_split"]
        held = (
            ""
            if split["poison_in_smaller"] is None
            else f", holding {split['poison_in_smaller']:.1%} of the poison"
        )
        lines.append(
            f"{name:17s} smaller cluster {split['smaller_share']:6.1%} of the class, silhouette "
            f"{split['silhouette']:.2f}{held}"
        )
    return lines


def repair_cost(column: dict, defense: str = "fine_pruning") -> float:
    """Clean accuracy lost by a repair (a name of REPAIRS)."""
    return column["clean_accuracy"] - column["clean_accuracy_after_repair"][defense]


def main_target(attack: Attack, data: PoisonedSet) -> int:
    """The attack's target label; for an all-to-all attack, the label most poisoned samples carry
    (where a defense that inspects one class should look)."""
    if attack.target_label is not None:
        return attack.target_label
    return int(data.labels[data.indices].mode().values)


def run_defenses(
    model: torch.nn.Module,
    data: PoisonedSet,
    train: ImageSet,
    test: ImageSet,
    attack: Attack,
    settings: DefenseSettings,
    seed: int,
    progress: bool = False,
) -> dict:
    """Every defense against one model trained on `data`, scored against data.indices and attack.

    Each data inspection reports the share of the poison it found and the share of all
    training samples it flagged; STRIP meets attack.stamp; fine-pruning is scored by
    evaluate_attack before and after.
    """
    trusted = clean_reserve(train, data.indices, settings.reserve_size, seed=seed)
    clock = Stopwatch()
    with clock.timing("activations"):  # shared by the four data inspections
        features = penultimate_activations(model, data.images)
    with clock.timing("activation_clustering"):
        clustering = activation_clustering(features, data.labels, seed=seed)
    flags = {"activation_clustering": clustering.flagged}
    with clock.timing("spectral_signatures"):
        flags["spectral_signatures"] = spectral_signatures(
            features, data.labels, settings.poison_bound
        ).flagged
    with clock.timing("spectre"):
        flags["spectre"] = spectre_filter(features, data.labels, settings.poison_bound).flagged
    with clock.timing("whitened_spectral"):
        flags["whitened_spectral"] = whitened_spectral_signatures(
            features,
            data.labels,
            penultimate_activations(model, trusted.images),
            trusted.labels,
            settings.poison_bound,
        ).flagged
    found = {
        name: detection_scores(flagged, data.indices)["recall"] for name, flagged in flags.items()
    }
    with clock.timing("strip"):
        strip_rates = held_out_rates(
            model,
            test,
            trusted.images,
            attack.stamp,
            attack.targets(test.labels),
            settings.strip_inputs,
            settings.strip_blends,
            seed=seed,
        )
    with clock.timing("neural_cleanse"):
        cleansed = reverse_engineer_triggers(
            model,
            trusted.images[: settings.cleanse_images],
            steps=settings.cleanse_steps,
            seed=seed,
            progress=progress,
        )
    anomaly = cleansed.anomaly_index()
    before = evaluate_attack(model, test, attack)
    with clock.timing("fine_pruning"):
        repaired = fine_prune(model, trusted, settings.prune_fraction)
    after = evaluate_attack(repaired, test, attack)
    target = main_target(attack, data)
    split = clustering.classes[target]
    in_split = clustering.smaller & (data.labels == target)
    return {
        **before,
        **found,
        "flagged": {name: flagged.float().mean().item() for name, flagged in flags.items()},
        "target_split": {
            "smaller_share": split.smaller_share,
            "silhouette": split.silhouette,
            "poison_in_smaller": detection_scores(in_split, data.indices)["recall"],
        },
        "suspicious_labels": [c.label for c in clustering.classes if c.suspicious],
        "strip": 1 - strip_rates["false_acceptance"],
        "strip_false_rejection": strip_rates["false_rejection"],
        # an all-to-all attack has no one target: the largest index stands for it
        "neural_cleanse": (
            anomaly[target].item() if attack.target_label is not None else anomaly.max().item()
        ),
        "neural_cleanse_largest": {"label": int(anomaly.argmax()), "index": anomaly.max().item()},
        "neural_cleanse_flagged": cleansed.flagged(NC_THRESHOLD),
        "fine_pruning": after["attack_success_rate"],
        "clean_accuracy_after_repair": {"fine_pruning": after["clean_accuracy"]},
        "der": {"fine_pruning": defense_effectiveness_rate(before, after)},
        "seconds": dict(clock),
    }


class Stopwatch(dict):
    """Seconds spent in each named step."""

    @contextmanager
    def timing(self, name: str):
        start = time.perf_counter()
        yield
        self[name] = self.get(name, 0.0) + time.perf_counter() - start


@stored()
def defense_column(
    attack: Attack,
    train: ImageSet,
    test: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    settings: DefenseSettings = DefenseSettings(),
    progress: bool = False,
) -> dict:
    """The attack's clean accuracy, ASR and robust accuracy, its budget, and every defense's figure.

    Stored like a trained model: asked again for the same attack, data and settings, it
    returns at once (`store=False` runs every defense anew).
    """
    poisoned = poisoned_training_set(attack, train, training_config)
    model = train_attack(attack, train, training_config, progress=progress).model
    in_target = poisoned.labels == main_target(attack, poisoned)
    budget = {
        "poisoned_samples": len(poisoned.indices),
        "poisoned_share_of_target": in_target[poisoned.indices].sum().item()
        / in_target.sum().item(),
    }
    return {
        **budget,
        **run_defenses(
            model, poisoned, train, test, attack, settings, training_config.seed, progress
        ),
    }


@stored()
def control_column(
    train: ImageSet,
    test: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    settings: DefenseSettings = DefenseSettings(),
    probe: Attack = BadNets(),
    progress: bool = False,
) -> dict:
    """Every defense on the clean model of the same seed: what each one reports when there is no
    attack.

    The data inspections' figures are the share of samples flagged; STRIP's is the share of
    clean inputs rejected; Neural Cleanse's the largest anomaly index of any label; the
    repair's the clean accuracy it costs. Where a figure needs a trigger (STRIP's
    triggered inputs, the ASR before and after repair), the clean model meets `probe`'s.
    """
    model = train_clean(train, training_config, progress=progress).model
    unpoisoned = PoisonedSet(train.images, train.labels, torch.zeros(0, dtype=torch.long))
    column = run_defenses(
        model, unpoisoned, train, test, probe, settings, training_config.seed, progress
    )
    return {
        **column,
        **column["flagged"],
        "strip": column["strip_false_rejection"],
        "target_split": {**column["target_split"], "poison_in_smaller": None},
        "neural_cleanse": column["neural_cleanse_largest"]["index"],
        "fine_pruning": column["clean_accuracy"]
        - column["clean_accuracy_after_repair"]["fine_pruning"],
        "poisoned_samples": 0,
        "poisoned_share_of_target": 0.0,
    }


def run_repairs(
    model: torch.nn.Module,
    trusted: ImageSet,
    data: ImageSet,
    test: ImageSet,
    attack: Attack,
    settings: DefenseSettings,
    training_config: TrainingConfig,
) -> dict:
    """Every defense of MODERN_DEFENSES: the repairs of `model` and ABL's model trained anew on
    `data`, the set `model` learnt from. For each, the ASR it leaves, the clean accuracy after
    it, BackdoorBench's DER and the seconds it took; for ABL also the share of the samples it
    isolated that were poison."""
    seed, retrained = training_config.seed, {}

    def retrain() -> torch.nn.Module:
        retrained["abl"] = abl(data, training_config, settings.abl)
        return retrained["abl"].model

    repairs = {
        "anp": lambda: anp(model, trusted, settings.anp, seed=seed),
        "clp": lambda: clp(model, settings.clp_u),
        "ibau": lambda: ibau(model, trusted, settings.ibau, seed=seed),
        "abl": retrain,
    }
    before, clock = evaluate_attack(model, test, attack), Stopwatch()
    column = {**before, "clean_accuracy_after_repair": {}, "der": {}}
    for name, repair in repairs.items():
        with clock.timing(name):
            repaired = repair()
        after = evaluate_attack(repaired, test, attack)
        column[name] = after["attack_success_rate"]
        column["clean_accuracy_after_repair"][name] = after["clean_accuracy"]
        column["der"][name] = defense_effectiveness_rate(before, after)
    poison = data.indices if isinstance(data, PoisonedSet) else torch.arange(0)
    column[ISOLATED] = torch.isin(retrained["abl"].isolated, poison).float().mean().item()
    return {**column, "seconds": dict(clock)}


def trained_on(
    attack: Attack | None, train: ImageSet, training_config: TrainingConfig = TrainingConfig()
) -> ImageSet:
    """The training set the model of `attack` learns from: its poisoned copy of `train` (a
    PoisonedSet), or `train` itself for None."""
    return train if attack is None else poisoned_training_set(attack, train, training_config)


def defended(
    attack: Attack | None,
    train: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    settings: DefenseSettings = DefenseSettings(),
) -> tuple[torch.nn.Module, ImageSet]:
    """The model a repair meets (trained with `attack`, or the clean one for None) and the
    defender's clean reserve, none of it poisoned."""
    if attack is None:
        model, touched = train_clean(train, training_config, progress=False).model, torch.arange(0)
    else:
        model = train_attack(attack, train, training_config, progress=False).model
        touched = trained_on(attack, train, training_config).indices
    return model, clean_reserve(train, touched, settings.reserve_size, seed=training_config.seed)


@stored()
def repair_column(
    attack: Attack | None,
    train: ImageSet,
    test: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    settings: DefenseSettings = DefenseSettings(),
    probe: Attack = BadNets(),
) -> dict:
    """The modern defenses' figures on the model of `attack`, or with attack=None on the clean
    model of the same seed (the control, whose figure is the clean accuracy a defense costs;
    the ASR is `probe`'s trigger's). Each repair gets the defender's clean reserve of
    notebook 08; ABL trains anew on the data the model learnt from.

    Stored like a trained model: asked again for the same call, it returns at once.
    """
    model, trusted = defended(attack, train, training_config, settings)
    measured = probe if attack is None else attack
    data = trained_on(attack, train, training_config)
    column = run_repairs(model, trusted, data, test, measured, settings, training_config)
    if attack is None:
        for name in MODERN_DEFENSES:
            column[name] = repair_cost(column, name)
    return column


def matrix_column(
    attack: Attack | None,
    train: ImageSet,
    test: ImageSet,
    training_config: TrainingConfig = TrainingConfig(),
    settings: DefenseSettings = DefenseSettings(),
) -> dict:
    """One column with every row of EVERY_DEFENSE: defense_column's figures (control_column's for
    attack=None) joined with repair_column's, and ABL's isolated share that was poison."""
    classic = (
        control_column(train, test, training_config, settings)
        if attack is None
        else defense_column(attack, train, test, training_config, settings)
    )
    repairs = repair_column(attack, train, test, training_config, settings)
    joined = {**classic, **{name: repairs[name] for name in (*MODERN_DEFENSES, ISOLATED)}}
    for key in ("clean_accuracy_after_repair", "der", "seconds"):
        joined[key] = {**classic[key], **repairs[key]}
    return joined
