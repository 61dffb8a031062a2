"""The defenses: each on a small case with a known answer, then all on the lab's real backdoor."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from utils.attacks import BadNets, evaluate_attack
from utils.data import ImageSet
from utils.defenses.activations import (
    activation_clustering,
    penultimate_activations,
    spectral_signatures,
    two_means,
)
from utils.defenses.fine_pruning import (
    fine_prune,
    fine_tune,
    last_conv_activations,
    prune_dormant,
    pruning_curves,
)
from utils.defenses.matrix import false_alarm, near_threshold, verdict
from utils.defenses.neural_cleanse import _steer_cost, anomaly_index, reverse_engineer_triggers
from utils.defenses.reserve import clean_reserve
from utils.defenses.spectre import robust_covariance, spectre
from utils.defenses.strip import (
    average,
    false_acceptance,
    rejection_threshold,
    strip_entropy,
    superimpose,
)
from utils.defenses.whitened_spectral import whitened_spectral_signatures
from utils.metrics import detection_scores
from utils.models import SmallCNN
from utils.training import TrainingConfig
from utils.triggers import apply_trigger
from utils.widgets import PruningPanel, StripPanel


def blobs(sizes, centres, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.cat(
        [
            torch.randn(n, len(c), generator=generator) + torch.tensor(c)
            for n, c in zip(sizes, centres)
        ]
    )


def test_detection_scores_count_precision_and_recall():
    flagged = torch.tensor([True, True, False, True, False])
    scores = detection_scores(flagged, torch.tensor([0, 2, 3]))
    assert scores == {"flagged": 3, "found": 2, "precision": 2 / 3, "recall": 2 / 3}


def test_clean_reserve_never_holds_a_poisoned_sample_and_is_seeded():
    # image i holds i
    numbered = ImageSet(torch.arange(1000).view(-1, 1, 1, 1), torch.zeros(1000, dtype=torch.long))
    poisoned = torch.arange(0, 1000, 2)
    reserve = clean_reserve(numbered, poisoned, 300, seed=1)
    drawn = reserve.images.flatten()
    assert len(drawn) == 300 == len(drawn.unique())
    assert (drawn % 2 == 1).all()
    assert torch.equal(drawn, clean_reserve(numbered, poisoned, 300, seed=1).images.flatten())
    assert not torch.equal(drawn, clean_reserve(numbered, poisoned, 300, seed=2).images.flatten())
    with pytest.raises(ValueError, match="reserve size must be a whole number in 1..500"):
        clean_reserve(numbered, poisoned, 501)


def test_two_means_separates_a_small_distant_group():
    points = blobs([950, 50], [[0.0] * 5, [8.0] * 5])
    assignment = two_means(points)
    small = int((assignment == 1).sum() < (assignment == 0).sum())
    assert torch.equal((assignment == small).nonzero().squeeze(1), torch.arange(950, 1000))


def test_activation_clustering_flags_only_the_class_with_a_small_cluster(empty_model_cache):
    clean_class = blobs([500, 500], [[0.0] * 12, [3.0] * 12], seed=1)
    poisoned_class = blobs([900, 60], [[0.0] * 12, [6.0] * 12], seed=2)
    activations = torch.cat([clean_class, poisoned_class])
    labels = torch.cat([torch.zeros(1000, dtype=torch.long), torch.ones(960, dtype=torch.long)])
    result = activation_clustering(activations, labels)
    assert [c.suspicious for c in result.classes] == [False, True]
    assert detection_scores(result.flagged, torch.arange(1900, 1960))["recall"] == 1.0
    with pytest.raises(ValueError, match=r"max_share must be a fraction in \(0, 0.5\)"):
        activation_clustering(activations, labels, max_share=0.6)


def test_activation_clustering_judges_the_same_clusters_by_another_share_without_clustering_again(
    empty_model_cache,
):
    # smaller cluster: 35% of the class
    clean_class = blobs([650, 350], [[0.0] * 12, [6.0] * 12], seed=1)
    poisoned_class = blobs([900, 60], [[0.0] * 12, [6.0] * 12], seed=2)  # 6%
    activations = torch.cat([clean_class, poisoned_class])
    labels = torch.cat([torch.zeros(1000, dtype=torch.long), torch.ones(960, dtype=torch.long)])
    strict = activation_clustering(activations, labels, max_share=0.15)
    loose = strict.with_max_share(0.4)
    assert [c.suspicious for c in strict.classes] == [False, True] and int(
        strict.flagged.sum()
    ) == 60
    assert [c.suspicious for c in loose.classes] == [True, True] and int(
        loose.flagged.sum()
    ) == 350 + 60
    again = activation_clustering(activations, labels, max_share=0.4)
    assert torch.equal(again.flagged, loose.flagged) and again.classes == loose.classes
    # read back from the store, whole
    stored = activation_clustering(activations, labels, max_share=0.15)
    assert stored.classes == strict.classes
    assert torch.equal(stored.flagged, strict.flagged) and torch.equal(
        stored.smaller, strict.smaller
    )
    assert len(list(empty_model_cache.glob("activation_clustering-*.pt"))) == 2
    with pytest.raises(ValueError, match="max_share"):
        strict.with_max_share(0.5)


def test_spectral_signatures_remove_outliers_along_the_top_direction():
    activations = blobs([950, 50], [[0.0] * 8, [0.0] * 7 + [12.0]])
    labels = torch.zeros(1000, dtype=torch.long)
    result = spectral_signatures(activations, labels, poison_bound=0.05)
    assert int(result.flagged.sum()) == 75  # 1.5 x 5% of 1000
    assert detection_scores(result.flagged, torch.arange(950, 1000))["recall"] == 1.0
    with pytest.raises(ValueError, match="poison_bound"):
        spectral_signatures(activations, labels, poison_bound=0)


def test_anomaly_index_measures_distance_below_the_median_in_robust_deviations():
    norms = torch.tensor([10.0, 11.0, 12.0, 9.0, 10.0, 11.0, 1.0])
    index = anomaly_index(norms)
    assert index[-1] > 2 > index[:-1].max()
    assert index[1] < 0  # larger than the median: negative, never flagged


def reference_anomaly_index(norms):
    """Wang et al.'s mad_outlier_detection.py, written out with numpy's median."""
    norms = np.asarray(norms, dtype=float)
    median = np.median(norms)
    mad = 1.4826 * np.median(np.abs(norms - median))
    return (median - norms) / mad


@pytest.mark.parametrize("count", [7, 10, 43])
def test_anomaly_index_matches_the_reference_formula_for_odd_and_even_counts(count):
    norms = torch.rand(count, generator=torch.Generator().manual_seed(count)) * 80 + 5
    assert np.allclose(
        anomaly_index(norms).numpy(), reference_anomaly_index(norms.numpy()), atol=1e-5
    )


def test_anomaly_index_uses_the_mean_of_the_two_middle_values_for_ten_labels():
    norms = torch.tensor([1.0, 40, 42, 44, 46, 60, 62, 64, 80, 100])
    # true median 53 and MAD 1.4826 x 11; torch.median would take 46 and 1.4826 x 14
    assert anomaly_index(norms)[0].item() == pytest.approx((53 - 1) / (1.4826 * 11), rel=1e-6)


BANDS = {0: slice(0, 2), 1: slice(2, 4), 2: slice(8, 10), 4: slice(10, 12)}  # label -> its columns


class PixelBackdoor(nn.Module):
    """A linear classifier on 12 x 12 images: labels 0, 1, 2, 4 read a band of columns
    each; label 3 answers to pixel (5, 7) alone, a planted one-pixel backdoor."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(144, 5)
        with torch.no_grad():
            weight = torch.zeros(5, 12, 12)
            for label, columns in BANDS.items():
                weight[label, :, columns] = 1
            weight[3, 5, 7] = 40
            self.linear.weight.copy_(weight.flatten(1))
            self.linear.bias.copy_(torch.tensor([0.0, 0.0, 0.0, -15.0, 0.0]))

    def forward(self, x):
        return self.linear(x.flatten(1))


def band_images(count):
    """Clean images of the four normal labels: their band bright, faint noise elsewhere."""
    generator = torch.Generator().manual_seed(0)
    images = (torch.rand(count, 1, 12, 12, generator=generator) * 40).to(torch.uint8)
    for i in range(count):
        images[i, :, :, list(BANDS.values())[i % 4]] = 200
    images[:, :, 5, 7] = 0
    return images


def test_neural_cleanse_recovers_a_planted_one_pixel_trigger():
    model = PixelBackdoor()
    before = [p.clone() for p in model.parameters()]
    found = reverse_engineer_triggers(
        model,
        band_images(200),
        num_classes=5,
        steps=300,
        batch_size=32,
        progress=False,
        store=False,
    )
    assert found.flagged() == [3]
    assert divmod(found.masks[3].argmax().item(), 12) == (5, 7)
    assert found.norms[3] < 2 < 10 < found.norms[[0, 1, 2, 4]].min()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.requires_grad for p in model.parameters())


def test_a_neural_cleanse_search_is_stored_and_the_same_search_returns_it(empty_model_cache):
    model, images = PixelBackdoor(), band_images(64)
    first = reverse_engineer_triggers(
        model, images, num_classes=5, steps=20, batch_size=16, progress=False
    )
    assert len(list(empty_model_cache.glob("reverse_engineer_triggers-*.pt"))) == 1
    again = reverse_engineer_triggers(
        model, images, num_classes=5, steps=20, batch_size=16, progress=True
    )
    assert type(again) is type(first) and all(torch.equal(a, b) for a, b in zip(first, again))
    reverse_engineer_triggers(model, images, num_classes=5, steps=21, batch_size=16, progress=False)
    assert len(list(empty_model_cache.glob("reverse_engineer_triggers-*.pt"))) == 2


def test_the_cost_follows_the_reference_schedule():
    """0 until `patience` successes, then the initial cost; x2 after successes, / 2**1.5 after
    failures."""
    cost = torch.tensor([0.0, 0.0, 1e-3, 1e-3, 1e-3])
    streak = torch.tensor([5.0, -5.0, 5.0, -5.0, 2.0])
    steered = _steer_cost(cost, streak, initial=1e-3, patience=5, multiplier=2.0)
    assert torch.allclose(steered, torch.tensor([1e-3, 0.0, 2e-3, 1e-3 / 2**1.5, 1e-3]))


def test_superimpose_adds_pixels_and_saturates_at_white_and_average_takes_the_mean():
    a = torch.tensor([[10, 200]], dtype=torch.uint8)
    b = torch.tensor([[20, 100]], dtype=torch.uint8)
    assert superimpose(a, b).tolist() == [[30, 255]]
    assert average(a, b).tolist() == [[15, 150]]


def test_strip_entropy_is_zero_for_a_model_that_ignores_its_input():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([50.0, 0.0, 0.0]))
    images = torch.zeros(5, 1, 2, 2, dtype=torch.uint8)
    assert strip_entropy(model, images, images, blends=4).abs().max() < 1e-6


def test_threshold_and_false_acceptance():
    clean = torch.linspace(0, 1, 101)
    threshold = rejection_threshold(clean, 0.1)
    assert threshold == pytest.approx(0.1)
    assert false_acceptance(torch.tensor([0.05, 0.2, 0.5, 0.01]), threshold) == 0.5
    with pytest.raises(ValueError, match=r"false_rejection must be a fraction in \[0, 1\]"):
        rejection_threshold(clean, 1.5)


def test_pruning_zeroes_the_least_active_neurons_of_a_copy(mnist_test):
    model = SmallCNN(seed=0)
    activity = last_conv_activations(model, mnist_test.images[:200])
    assert activity.shape == (16, 7, 7)
    pruned = prune_dormant(model, activity, 0.25)
    after = last_conv_activations(pruned, mnist_test.images[:200])
    silenced = activity.flatten().argsort()[:196]
    assert after.flatten()[silenced].abs().max() == 0
    assert len(model.features) == 6  # the original is left as it was
    channels = last_conv_activations(
        prune_dormant(model, activity, 0.25, "channel"), mnist_test.images[:200]
    )
    assert (channels.flatten(1).abs().amax(1) == 0).sum() == 4
    with pytest.raises(ValueError, match=r"pruning fraction must be in \[0, 1\]"):
        prune_dormant(model, activity, 1.2)
    with pytest.raises(ValueError, match="unit must be one of"):
        prune_dormant(model, activity, 0.2, "layer")


def test_pruning_curves_evaluate_each_fraction_and_unit_and_are_stored(
    mnist_test, empty_model_cache
):
    model, few = SmallCNN(seed=0), ImageSet(mnist_test.images[:300], mnist_test.labels[:300])
    activity = last_conv_activations(model, few.images)
    curves = pruning_curves(model, activity, few, BadNets(), (0.0, 0.5))
    assert curves["channel"][1] == evaluate_attack(
        prune_dormant(model, activity, 0.5, "channel"), few, BadNets()
    )
    assert curves["neuron"][0] == evaluate_attack(model, few, BadNets())
    assert pruning_curves(model, activity, few, BadNets(), (0.0, 0.5)) == curves
    assert len(list(empty_model_cache.glob("pruning_curves-*.pt"))) == 1


def test_fine_tuning_keeps_pruned_neurons_silent(small_train):
    model = SmallCNN(seed=0)
    pruned = prune_dormant(model, last_conv_activations(model, small_train.images), 0.5)
    tuned = fine_tune(
        pruned, small_train, TrainingConfig(epochs=1, batch_size=128, learning_rate=0.003)
    )
    silenced = pruned.features[-1].keep[0] == 0
    assert last_conv_activations(tuned, small_train.images)[silenced].abs().max() == 0
    assert not torch.equal(tuned.output.weight, pruned.output.weight)


def test_on_the_lab_backdoor_activation_clustering_finds_the_poison(lab_backdoor):
    poisoned = lab_backdoor["poisoned"]
    result = activation_clustering(
        penultimate_activations(lab_backdoor["backdoored"], poisoned.images), poisoned.labels
    )
    assert detection_scores(result.flagged, poisoned.indices)["recall"] >= 0.9


def test_on_the_lab_backdoor_fine_pruning_removes_it_at_little_cost(lab_backdoor, mnist_test):
    model, reserve = lab_backdoor["backdoored"], lab_backdoor["reserve"]
    before = evaluate_attack(model, mnist_test, lab_backdoor["attack"])
    # half, then tuned
    repaired = evaluate_attack(fine_prune(model, reserve), mnist_test, lab_backdoor["attack"])
    assert repaired["attack_success_rate"] < 0.1
    assert repaired["clean_accuracy"] >= before["clean_accuracy"] - 0.01


def test_on_the_lab_backdoor_strip_separates_triggered_inputs(lab_backdoor, mnist_test):
    model, overlays = lab_backdoor["backdoored"], lab_backdoor["reserve"].images
    inputs = mnist_test.images[:1000]
    clean = strip_entropy(model, inputs, overlays)
    triggered = strip_entropy(model, apply_trigger(inputs[mnist_test.labels[:1000] != 8]), overlays)
    assert false_acceptance(triggered, rejection_threshold(clean, 0.01)) < 0.2


def test_strip_panel_sets_the_threshold_on_calibration_and_measures_held_out_inputs():
    calibration, held_out = torch.linspace(0.5, 1.5, 100), torch.linspace(0.45, 1.45, 100)
    panel = StripPanel(calibration, held_out, torch.linspace(0.0, 0.6, 100))
    strict, figure = panel.false_acceptance, panel.figure.value
    # drawn into the panel, no figure left open
    assert bytes(figure).startswith(b"\x89PNG") and not plt.get_fignums()
    panel.goal.value = 0.2
    assert panel.figure.value != figure  # the threshold moved
    assert panel.threshold == pytest.approx(0.7, abs=0.01) and panel.false_acceptance == 0 < strict
    # held out: 25 of 100 below 0.7, not the 20% aimed at
    assert panel.false_rejection == pytest.approx(0.25)
    assert "rejects <b>25.0%</b> of the clean ones" in panel.result.value


def test_pruning_panel_evaluates_each_setting_once(mnist_test):
    small = ImageSet(mnist_test.images[:500], mnist_test.labels[:500])
    model = SmallCNN(seed=0)
    panel = PruningPanel(model, last_conv_activations(model, small.images), small)
    panel.fraction.value = 0.3
    panel.unit.value = "channel"
    panel.fraction.value = 0.3
    assert set(panel.results) == {("neuron", 0.5), ("neuron", 0.3), ("channel", 0.3)}
    assert "30% of the channels pruned" in panel.result.value


def test_whitening_with_clean_data_finds_poison_that_hides_behind_natural_spread():
    generator = torch.Generator().manual_seed(0)
    spread = torch.ones(40)
    # clean samples vary most along axis 0
    spread[0] = 10
    clean = torch.randn(1000, 40, generator=generator) * spread
    # poison sits apart along axis 1
    poison = torch.randn(50, 40, generator=generator) * spread + torch.eye(40)[1] * 5
    activations, labels = torch.cat([clean, poison]), torch.zeros(1050, dtype=torch.long)
    reserve = torch.randn(500, 40, generator=generator) * spread
    poisoned = torch.arange(1000, 1050)
    plain = detection_scores(spectral_signatures(activations, labels).flagged, poisoned)
    whitened = whitened_spectral_signatures(
        activations, labels, reserve, torch.zeros(500, dtype=torch.long)
    )
    assert plain["recall"] < 0.5
    assert detection_scores(whitened.flagged, poisoned)["recall"] == 1.0
    assert whitened.flagged.sum() == int(1.5 * 0.1 * 1050)


def test_whitening_needs_more_reserve_samples_than_dimensions():
    activations, labels = torch.randn(100, 40), torch.zeros(100, dtype=torch.long)
    with pytest.raises(
        ValueError,
        match="reserve holds 20 samples of label 0; whitening 32 dimensions needs more than 32",
    ):
        whitened_spectral_signatures(
            activations, labels, torch.randn(20, 40), torch.zeros(20, dtype=torch.long)
        )


def shifted_cloud(count, poisoned, shift, dims=16, seed=0):
    """A Gaussian cloud with unequal spreads (0.5 to 2), whose first `poisoned` points are moved
    `shift` standard deviations along the first axis."""
    generator = torch.Generator().manual_seed(seed)
    cloud = torch.randn(count, dims, generator=generator) * torch.linspace(0.5, 2, dims)
    cloud[:poisoned, 0] += shift * 0.5
    return cloud


def test_the_robust_filter_removes_the_outliers_and_recovers_the_clean_covariance():
    cloud = shifted_cloud(4000, 200, shift=8).double()
    centred = cloud - cloud.mean(0)
    keep = robust_covariance(centred, poison_share=0.05, budget=400)
    # outliers gone, clean kept
    assert (~keep[:200]).float().mean() > 0.9 and keep[200:].float().mean() > 0.99
    truth = torch.diag(torch.linspace(0.5, 2, 16).double() ** 2)
    robust, empirical = torch.cov(centred[keep].T), torch.cov(centred.T)

    def error(estimate):
        return torch.linalg.matrix_norm(estimate - truth, ord=2) / torch.linalg.matrix_norm(
            truth, ord=2
        )

    assert error(robust) < 0.1 < error(empirical)


def test_the_robust_filter_leaves_a_clean_cloud_alone():
    cloud = shifted_cloud(4000, 0, shift=0).double()
    assert robust_covariance(cloud - cloud.mean(0), poison_share=0.05, budget=400).all()


def test_spectre_finds_poison_that_plain_spectral_signatures_miss():
    """The poison sits apart along a direction of small clean spread: the top singular vector
    follows the clean spread (the last axis, sd 2) and misses it; robust whitening does not."""
    poisoned = torch.arange(150)
    activations = torch.cat(
        [shifted_cloud(3000, 150, shift=8), shifted_cloud(3000, 0, shift=0, seed=1)]
    )
    labels = torch.cat([torch.zeros(3000, dtype=torch.long), torch.ones(3000, dtype=torch.long)])
    plain = detection_scores(
        spectral_signatures(activations, labels, poison_bound=0.05).flagged, poisoned
    )
    result = spectre(activations, labels, poison_bound=0.05, dims=16)
    assert plain["recall"] < 0.5
    assert detection_scores(result.flagged, poisoned)["recall"] == 1.0
    # the same share of every class
    assert result.flagged.sum() == 2 * int(1.5 * 0.05 * 3000)


def test_spectre_refuses_a_class_smaller_than_its_dimensions_and_a_bad_bound():
    with pytest.raises(
        ValueError, match="label 0 has 10 samples; SPECTRE in 16 dimensions needs more than 16"
    ):
        spectre(torch.randn(10, 20), torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"poison_bound must be a fraction in \(0, 0.5\), got 0.5"):
        spectre(torch.randn(100, 20), torch.zeros(100, dtype=torch.long), poison_bound=0.5)


def column(defense, value, clean_accuracy=0.99, after=0.985):
    return {
        defense: value,
        "clean_accuracy": clean_accuracy,
        "clean_accuracy_after_repair": {"fine_pruning": after},
    }


QUIET_CONTROL = {"neural_cleanse": 1.5}
NOISY_CONTROL = {"neural_cleanse": 3.2}  # a clean model with a label above 2, as seed 2's once had


@pytest.mark.parametrize(
    "defense, figures, control, expected",
    [
        ("activation_clustering", column("activation_clustering", 0.95), QUIET_CONTROL, "caught"),
        ("spectre", column("spectre", 0.6), QUIET_CONTROL, "partly"),
        ("strip", column("strip", 0.2), QUIET_CONTROL, "missed"),
        ("neural_cleanse", column("neural_cleanse", 2.1), QUIET_CONTROL, "caught"),
        ("neural_cleanse", column("neural_cleanse", 2.9), NOISY_CONTROL, "like clean"),
        ("neural_cleanse", column("neural_cleanse", 3.5), NOISY_CONTROL, "caught"),
        ("neural_cleanse", column("neural_cleanse", 1.9), QUIET_CONTROL, "missed"),
        ("fine_pruning", column("fine_pruning", 0.05), QUIET_CONTROL, "caught"),
        # 3 points lost
        ("fine_pruning", column("fine_pruning", 0.05, after=0.96), QUIET_CONTROL, "partly"),
        ("fine_pruning", column("fine_pruning", 0.3), QUIET_CONTROL, "partly"),
        ("fine_pruning", column("fine_pruning", 0.9), QUIET_CONTROL, "missed"),
    ],
)
def test_the_matrix_verdicts_follow_their_stated_rule(defense, figures, control, expected):
    assert verdict(defense, figures, control) == expected


@pytest.mark.parametrize(
    "defense, figures, near",
    [
        ("strip", column("strip", 0.52), True),
        ("strip", column("strip", 0.7), False),
        ("neural_cleanse", column("neural_cleanse", 2.2), True),
        ("neural_cleanse", column("neural_cleanse", 0.4), False),
        # 1.8 points lost: near the 2-point bound
        ("fine_pruning", column("fine_pruning", 0.01, after=0.972), True),
        ("fine_pruning", column("fine_pruning", 0.01), False),
    ],
)
def test_cells_near_a_threshold_are_marked(defense, figures, near):
    assert near_threshold(defense, figures, QUIET_CONTROL) is near


def test_the_control_reports_false_alarms():
    assert false_alarm("neural_cleanse", NOISY_CONTROL) and not false_alarm(
        "neural_cleanse", QUIET_CONTROL
    )
    assert false_alarm("activation_clustering", {"activation_clustering": 0.012})
    # flags its quota by design
    assert not false_alarm("spectral_signatures", {"spectral_signatures": 0.15})
