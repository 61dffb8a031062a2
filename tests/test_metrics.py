import math

import pytest
import torch

from utils import metrics


def test_accuracy_and_confusion_matrix():
    labels = torch.tensor([0, 1, 2, 2])
    predictions = torch.tensor([0, 2, 2, 2])
    assert metrics.accuracy(predictions, labels) == 0.75
    assert metrics.confusion_matrix(predictions, labels, 3).tolist() == [
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 2],
    ]


def test_attack_success_rate_leaves_out_the_target_class_and_the_article_metric_does_not():
    true = torch.tensor([8, 8, 1, 2, 3, 4])
    triggered = torch.tensor([8, 8, 8, 8, 3, 4])
    assert metrics.attack_success_rate(triggered, true, 8) == 0.5
    assert metrics.article_metric(triggered, 8) == pytest.approx(4 / 6)


def test_robust_accuracy_counts_triggered_inputs_that_keep_their_true_label():
    true = torch.tensor([8, 1, 2, 3, 4])
    triggered = torch.tensor([8, 1, 8, 5, 4])  # 2 flipped to the target, 3 lost to a third label
    assert metrics.robust_accuracy(triggered, true, 8) == 0.5
    assert (
        metrics.attack_success_rate(triggered, true, 8)
        + metrics.robust_accuracy(triggered, true, 8)
        < 1
    )


def test_success_rate_per_class_is_nan_for_a_class_with_no_samples():
    rates = metrics.success_rate_per_class(
        torch.tensor([8, 1, 8, 8]), torch.tensor([1, 1, 2, 8]), 8, num_classes=9
    )
    assert math.isnan(rates[0]) and rates[1:3] == [0.5, 1.0] and rates[8] == 1.0


def test_lengths_must_match():
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        metrics.accuracy(torch.zeros(3, dtype=torch.long), torch.zeros(2, dtype=torch.long))


def figures(accuracy, asr):
    return {"clean_accuracy": accuracy, "attack_success_rate": asr}


def test_der_matches_backdoorbench_hand_computed_cases():
    # FT-SAM's Table 1 (Zhu et al., 2023): fine-tuning against BadNets, 91.82/93.79 -> 90.29/1.70
    assert metrics.defense_effectiveness_rate(
        figures(0.9182, 0.9379), figures(0.9029, 0.0170)
    ) == pytest.approx((0.9209 - 0.0153 + 1) / 2)
    assert metrics.defense_effectiveness_rate(figures(0.99, 1.0), figures(0.99, 0.0)) == 1.0
    assert metrics.defense_effectiveness_rate(figures(1.0, 0.5), figures(0.0, 0.5)) == 0.0
    # a repair that raises ASR or accuracy is not charged nor credited for it: DER stays 0.5
    assert metrics.defense_effectiveness_rate(figures(0.95, 0.2), figures(0.97, 0.3)) == 0.5
