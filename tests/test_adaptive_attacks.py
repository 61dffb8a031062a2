"""The attacks added with lesson 10: WaNet, Adaptive-Blend and all-to-all BadNets, and the
labels-only control, small cases."""

import pytest
import torch

from utils import attacks
from utils.attacks import AdaptiveBlend, AllToAll, WaNet, evaluate_attack
from utils.attacks.adaptive_blend import partial_blend, piece_masks
from utils.attacks.labels_only import LabelsOnly
from utils.attacks.wanet import warp, warping_field
from utils.data import ImageSet
from utils.metrics import attack_success_rate, robust_accuracy
from utils.training import TrainingConfig


def small_set(count=400, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 200, (count, 1, 28, 28), generator=generator, dtype=torch.uint8)
    return ImageSet(images, torch.arange(count) % 10)


def test_the_identity_field_leaves_an_image_as_it_is():
    images = small_set(5).images
    identity = warping_field(28, 4, strength=1e-9, seed=0)
    assert torch.equal(warp(images, identity), images)


def test_the_warping_field_is_smooth_fixed_by_its_seed_and_moves_pixels_by_about_s_over_two():
    field, again = warping_field(28, 4, 4.0, seed=3), warping_field(28, 4, 4.0, seed=3)
    assert torch.equal(field, again) and not torch.equal(field, warping_field(28, 4, 4.0, seed=4))
    identity = warping_field(28, 4, 1e-9, seed=3)
    offsets = field - identity
    pixels = offsets.abs() * 27 / 2  # grid units to pixels
    assert 0.5 < pixels.mean() < 4.0 / 2 * 1.5
    # neighbours move alike: the field comes from a 4 x 4 grid
    assert (offsets[:, 1:] - offsets[:, :-1]).abs().max() < offsets.abs().max() / 3


def test_wanet_relabels_its_share_warps_the_noise_mode_share_and_keeps_their_labels():
    train = small_set(400)
    attack = WaNet(poison_rate=0.1, cross_ratio=2.0, strength=4.0)
    data = attack.poison(train, seed=0)
    assert len(data.indices) == 40
    assert (data.labels[data.indices] == 8).all()
    assert torch.equal(data.images[data.indices], attack.stamp(train.images[data.indices]))
    changed = (data.images != train.images).flatten(1).any(1)
    relabelled = data.labels != train.labels
    kept = changed.clone()
    kept[data.indices] = False
    assert 70 <= kept.sum() <= 80  # 80 noise-mode samples (a few may round back to the original)
    assert not relabelled[kept].any()
    # the noise mode: warped with jitter, not with the trigger's own field
    plain = attack.stamp(train.images[kept])
    assert (data.images[kept] != plain).flatten(1).any(1).float().mean() > 0.9
    assert torch.equal(attack.poison(train, seed=0).images, data.images)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"poison_rate": 0}, "poison rate"),
        ({"poison_rate": 0.5, "cross_ratio": 2}, "cross_ratio"),
        ({"grid": 1}, "grid"),
        ({"strength": 0}, "strength"),
        ({"target_label": 10}, "target label"),
    ],
)
def test_wanet_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        WaNet(**settings)


def test_piece_masks_keep_the_asked_number_of_pieces_each():
    masks = piece_masks(50, 28, 16, 8, torch.Generator().manual_seed(0))
    assert masks.shape == (50, 1, 28, 28)
    assert torch.equal(masks.sum((1, 2, 3)), torch.full((50,), 8 * 49.0))
    assert len({tuple(m.flatten().tolist()) for m in masks}) > 40  # a fresh draw per image
    with pytest.raises(ValueError, match="square number whose side divides"):
        piece_masks(1, 28, 9, 4, torch.Generator())


def test_partial_blend_changes_only_the_masked_pieces():
    images = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    pattern = torch.full((1, 28, 28), 200, dtype=torch.uint8)
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., :7, :7] = 1
    blended = partial_blend(images, pattern, 0.2, mask)
    assert (blended[..., :7, :7] == 40).all() and blended.sum() == 40 * 49


def test_adaptive_blend_relabels_its_poison_keeps_the_covers_labels_and_tests_the_whole_pattern():
    train = small_set(1000)
    attack = AdaptiveBlend(poison_rate=0.02, cover_rate=0.03)
    data = attack.poison(train, seed=1)
    assert len(data.indices) == 20 and (data.labels[data.indices] == 8).all()
    changed = (data.images != train.images).flatten(1).any(1)
    assert changed.sum() == 50  # 20 poisoned, 30 covers
    assert (data.labels != train.labels).sum() <= 20  # covers keep their labels
    # half of the 16 pieces of 7 x 7 pixels carry the pattern in each changed image
    pieces = (data.images != train.images)[changed].view(50, 4, 7, 4, 7).any(4).any(2)
    assert (pieces.sum((1, 2)) <= 8).all() and pieces.sum((1, 2)).float().mean() > 7
    stamped = attack.stamp(train.images[:3])
    assert (stamped != train.images[:3]).flatten(1).float().mean(1).min() > 0.5  # the whole image


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"poison_rate": 0}, "poison rate"),
        ({"cover_rate": 0.999}, "cover rate"),
        ({"test_alpha": 0}, "test_alpha"),
        ({"pieces": 0}, "pieces"),
        ({"pieces": 10}, "square number"),
        ({"kept_share": 0.01}, "at least one piece"),
    ],
)
def test_adaptive_blend_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveBlend(**settings)


def test_all_to_all_sends_each_class_to_the_next():
    train = small_set(200)
    attack = AllToAll(poison_rate=0.1)
    data = attack.poison(train, seed=0)
    assert len(data.indices) == 20
    assert torch.equal(data.labels[data.indices], (train.labels[data.indices] + 1) % 10)
    assert attack.target_label is None
    assert torch.equal(attack.targets(torch.tensor([0, 8, 9])), torch.tensor([1, 9, 0]))
    with pytest.raises(ValueError, match="shift must be a whole number in 1..9"):
        AllToAll(shift=10)


def test_the_image_wide_triggers_refuse_images_that_are_not_square():
    images = torch.zeros(2, 1, 28, 20, dtype=torch.uint8)
    with pytest.raises(ValueError, match="square images, got \\[28, 20\\]"):
        WaNet().stamp(images)
    with pytest.raises(ValueError, match="square images"):
        AdaptiveBlend().poison(ImageSet(images, torch.zeros(2, dtype=torch.long)), seed=0)


def test_attack_success_with_a_target_per_input():
    predictions, labels = torch.tensor([1, 2, 0, 5]), torch.tensor([0, 1, 9, 5])
    targets = (labels + 1) % 10
    assert attack_success_rate(predictions, labels, targets) == 0.75
    assert robust_accuracy(predictions, labels, targets) == 0.25
    assert attack_success_rate(predictions, labels, 5) == 0.0  # one target, as before
    with pytest.raises(ValueError, match="got 2 target labels for 4 inputs"):
        attack_success_rate(predictions, labels, targets[:2])
    with pytest.raises(ValueError, match="one label .* or a 1-D tensor"):
        attack_success_rate(predictions, labels, None)


def test_an_all_to_all_model_is_scored_against_each_inputs_own_target():
    class NextDigit(torch.nn.Module):  # answers label + 1 when the trigger pixel is white
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            scores = torch.zeros(len(x), 10)
            digit = (x[:, 0, 0, 1] * 255).round().long() % 10
            scores[
                torch.arange(len(x)), torch.where(x[:, 0, 3, 3] > 0.99, digit + 1, digit) % 10
            ] = 1
            return scores

    images = torch.zeros((4, 1, 28, 28), dtype=torch.uint8)
    images[:, 0, 0, 1] = torch.tensor([1, 2, 3, 9], dtype=torch.uint8)
    figures = evaluate_attack(NextDigit(), ImageSet(images, torch.tensor([1, 2, 3, 9])), AllToAll())
    assert figures["clean_accuracy"] == 1.0 and figures["attack_success_rate"] == 1.0


def test_the_new_attacks_are_in_the_one_list_of_attacks():
    assert {"wanet", "adaptive_blend", "all_to_all"} <= set(attacks.ATTACKS)
    assert attacks.named("wanet", strength=2.0) == WaNet(strength=2.0)


def test_labels_only_relabels_the_attacks_samples_and_leaves_every_image_untouched():
    train = small_set(400)
    attack = AdaptiveBlend(poison_rate=0.05, cover_rate=0.05)
    poisoned, control = attack.poison(train, seed=2), LabelsOnly(attack).poison(train, seed=2)
    assert torch.equal(control.indices, poisoned.indices)
    assert torch.equal(control.labels, poisoned.labels)  # the covers keep theirs in both
    assert torch.equal(control.images, train.images)
    assert not torch.equal(poisoned.images, train.images)
    assert LabelsOnly(attack).target_label == 8
    every_class = LabelsOnly(AllToAll(poison_rate=0.1)).poison(train, seed=0)
    moved = every_class.indices
    assert torch.equal(every_class.labels[moved], (train.labels[moved] + 1) % 10)
    assert torch.equal(every_class.images, train.images)
    assert torch.equal(LabelsOnly(AllToAll()).targets(train.labels), (train.labels + 1) % 10)


def test_labels_only_is_stored_apart_from_its_attack_and_per_setting():
    config = TrainingConfig()
    attack = AdaptiveBlend()
    keys = {
        attack.cache_key(config),
        LabelsOnly(attack).cache_key(config),
        LabelsOnly(AdaptiveBlend(poison_rate=0.01)).cache_key(config),
        LabelsOnly(attack).cache_key(TrainingConfig(seed=1)),
    }
    assert len(keys) == 4
    assert LabelsOnly(attack).cache_key(config) == LabelsOnly(AdaptiveBlend()).cache_key(config)


def test_labels_only_takes_an_attack():
    with pytest.raises(ValueError, match="takes an attack, got str"):
        LabelsOnly("BadNets")
