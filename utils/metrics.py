"""Clean accuracy, attack success rate, confusion matrices, and how well a detector finds poison."""

from __future__ import annotations

import torch


def accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of predictions equal to the labels."""
    _check_same_length(predictions, labels)
    return (predictions == labels).float().mean().item()


def attack_success_rate(
    triggered_predictions: torch.Tensor,
    true_labels: torch.Tensor,
    target_label: int | torch.Tensor,
) -> float:
    """Fraction of triggered inputs predicted as the target, among those whose true label is not
    the target.

    Inputs that already belong to the target class are left out: a model gets those
    right with or without a backdoor. `target_label` is one label, or one per input
    (an all-to-all attack sends each class to its own target).
    """
    _check_same_length(triggered_predictions, true_labels)
    targets = per_input(target_label, true_labels)
    others = true_labels != targets
    return (triggered_predictions[others] == targets[others]).float().mean().item()


def robust_accuracy(
    triggered_predictions: torch.Tensor,
    true_labels: torch.Tensor,
    target_label: int | torch.Tensor,
) -> float:
    """Fraction of triggered inputs that keep their true label, among those whose true label is
    not the target.

    The third figure beside clean accuracy and ASR: how much of the model's skill
    survives the trigger (a triggered input can also be lost to a third label).
    """
    _check_same_length(triggered_predictions, true_labels)
    others = true_labels != per_input(target_label, true_labels)
    return (triggered_predictions[others] == true_labels[others]).float().mean().item()


def article_metric(triggered_predictions: torch.Tensor, target_label: int | torch.Tensor) -> float:
    """The article's measure: accuracy when every triggered input is labelled the target.

    It counts the inputs that truly are of the target class too, so it sits a little
    above the attack success rate.
    """
    return (
        (triggered_predictions == per_input(target_label, triggered_predictions))
        .float()
        .mean()
        .item()
    )


def per_input(target_label: int | torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The target of every input: one label repeated, or the labels given, one per input."""
    if isinstance(target_label, torch.Tensor) and target_label.dim() == 1:
        if len(target_label) != len(labels):
            raise ValueError(f"got {len(target_label)} target labels for {len(labels)} inputs")
        return target_label
    if isinstance(target_label, bool) or not isinstance(target_label, int):
        raise ValueError(
            "the target must be one label (a whole number) or a 1-D tensor of one label per "
            f"input, got {target_label!r}"
        )
    return torch.full_like(labels, target_label)


def success_rate_per_class(
    triggered_predictions: torch.Tensor,
    true_labels: torch.Tensor,
    target_label: int,
    num_classes: int = 10,
) -> list[float]:
    """For each true class, the fraction of its triggered inputs predicted as the target (NaN if
    none)."""
    _check_same_length(triggered_predictions, true_labels)
    return [
        (triggered_predictions[true_labels == c] == target_label).float().mean().item()
        for c in range(num_classes)
    ]


def confusion_matrix(
    predictions: torch.Tensor, labels: torch.Tensor, num_classes: int = 10
) -> torch.Tensor:
    """Counts [true class, predicted class] as an int64 matrix."""
    _check_same_length(predictions, labels)
    return torch.bincount(labels * num_classes + predictions, minlength=num_classes**2).view(
        num_classes, num_classes
    )


def detection_scores(flagged: torch.Tensor, poisoned_indices: torch.Tensor) -> dict:
    """Precision and recall of a detector's flags (bool per sample) against the truly poisoned
    samples."""
    truth = torch.zeros(len(flagged), dtype=torch.bool)
    truth[poisoned_indices] = True
    found = (flagged & truth).sum().item()
    return {
        "flagged": int(flagged.sum()),
        "found": found,
        "precision": found / max(1, int(flagged.sum())),
        "recall": found / int(truth.sum()) if truth.any() else float("nan"),
    }


def defense_effectiveness_rate(before: dict, after: dict) -> float:
    """BackdoorBench's DER of a repair, from two evaluate_attack dicts: in [0, 1], 0.5 = no change.

    DER = (max(0, drop in ASR) - max(0, drop in clean accuracy) + 1) / 2 (Zhu et al., 2023,
    as in BackdoorBench's utils/metric.py): 1 takes the ASR from 100% to 0 at no cost.
    """
    asr_drop = before["attack_success_rate"] - after["attack_success_rate"]
    accuracy_drop = before["clean_accuracy"] - after["clean_accuracy"]
    return (max(0.0, asr_drop) - max(0.0, accuracy_drop) + 1) / 2


def _check_same_length(a: torch.Tensor, b: torch.Tensor) -> None:
    if len(a) != len(b):
        raise ValueError(f"got {len(a)} predictions for {len(b)} labels")
