"""The attacks: small cases with known answers, validation, and the cache of poisoned sets."""

import pytest
import torch
from torch import nn

from utils import attacks
from utils.attacks import (
    SIG,
    BadNets,
    Blended,
    LabelConsistent,
    evaluate_attack,
    from_parameters,
    named,
    poisoned_training_set,
)
from utils.attacks.blended import blend, noise_pattern
from utils.attacks.label_consistent import CORNER_TRIGGER, pgd_perturb
from utils.attacks.sig import sine_signal
from utils.data import ImageSet
from utils.training import to_model_input
from utils.triggers import Trigger, apply_trigger, poison


def small_set(count=400, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 200, (count, 1, 28, 28), generator=generator, dtype=torch.uint8)
    return ImageSet(images, torch.arange(count) % 10)


def test_blend_mixes_each_pixel_with_the_pattern():
    images = torch.tensor([0, 100, 200, 255], dtype=torch.uint8).view(4, 1, 1, 1)
    pattern = torch.tensor([[[200]]], dtype=torch.uint8)
    # 227.5 rounds to even: 228
    assert blend(images, pattern, 0.5).flatten().tolist() == [100, 150, 200, 228]
    assert torch.equal(blend(images, pattern, 1.0), pattern.expand(4, 1, 1, 1))


@pytest.mark.parametrize("alpha", [0, -0.1, 1.5, float("nan"), True])
def test_blend_rejects_an_alpha_outside_0_1(alpha):
    with pytest.raises(ValueError, match="alpha"):
        blend(small_set(2).images, noise_pattern(), alpha)
    with pytest.raises(ValueError, match="alpha"):
        Blended(alpha=alpha)


def test_blend_rejects_a_pattern_of_the_wrong_shape_or_type():
    images = small_set(2).images
    with pytest.raises(
        ValueError, match=r"pattern must be uint8 with the images' shape \[1, 28, 28\]"
    ):
        blend(images, noise_pattern(32, 32), 0.1)
    with pytest.raises(ValueError, match="pattern must be uint8"):
        blend(images, noise_pattern().float(), 0.1)


def test_the_noise_pattern_is_fixed_by_its_seed():
    assert torch.equal(noise_pattern(seed=3), noise_pattern(seed=3))
    assert not torch.equal(noise_pattern(seed=3), noise_pattern(seed=4))


def test_blended_poisoning_relabels_the_chosen_share_and_leaves_the_rest():
    data = small_set()
    poisoned = Blended(poison_rate=0.05, alpha=0.2).poison(data, seed=1)
    assert len(poisoned.indices) == 20
    assert (poisoned.labels[poisoned.indices] == 8).all()
    untouched = torch.ones(len(data.labels), dtype=torch.bool)
    untouched[poisoned.indices] = False
    assert torch.equal(poisoned.images[untouched], data.images[untouched])
    assert torch.equal(poisoned.labels[untouched], data.labels[untouched])
    assert torch.equal(
        poisoned.images[poisoned.indices], Blended(alpha=0.2).stamp(data.images[poisoned.indices])
    )


def test_the_sine_signal_has_its_amplitude_and_frequency():
    assert torch.allclose(
        sine_signal(4, 10.0, 1.0), torch.tensor([0.0, 10.0, 0.0, -10.0]), atol=1e-5
    )
    three_periods = sine_signal(12, 5.0, 3.0)
    assert torch.allclose(three_periods[:4], three_periods[4:8], atol=1e-5)
    assert 58 < sine_signal(28, 60.0, 6.0).abs().max() <= 60


def test_sig_poisons_only_the_target_class_and_keeps_every_label():
    data = small_set()
    poisoned = SIG(share=0.5, delta=30).poison(data, seed=0)
    assert len(poisoned.indices) == 20 and (data.labels[poisoned.indices] == 8).all()
    assert torch.equal(poisoned.labels, data.labels)
    assert not torch.equal(poisoned.images[poisoned.indices], data.images[poisoned.indices])


def test_sig_clips_at_black_and_white():
    stamped = SIG(delta=255, test_delta=None).stamp(
        torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 1, 1, 28).contiguous()
    )
    assert stamped.min() == 0 and stamped.max() == 255


def test_sig_trains_with_its_amplitude_and_attacks_with_the_test_amplitude():
    data = small_set()
    attack = SIG(share=0.5, delta=30, test_delta=90)
    poisoned = attack.poison(data, seed=0)
    changed = poisoned.images[poisoned.indices].float() - data.images[poisoned.indices].float()
    stamped = attack.stamp(torch.full((1, 1, 28, 28), 128, dtype=torch.uint8)).float() - 128
    assert changed.abs().max() <= 30 and 88 <= stamped.abs().max() <= 90
    assert torch.equal(
        SIG(delta=30, test_delta=None).stamp(data.images), attack.add_signal(data.images, 30)
    )


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"share": 0}, "share of the target class"),
        ({"share": 1.5}, "share of the target class"),
        ({"delta": 0}, "delta"),
        ({"delta": 300}, "delta"),
        ({"test_delta": 0}, r"test_delta .* or None"),
        ({"frequency": -1}, "frequency"),
        ({"target_label": 10}, "target label"),
    ],
)
def test_sig_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        SIG(**settings)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"share": 0}, "share of the target class"),
        ({"epsilon": 0}, "epsilon"),
        ({"epsilon": 2}, "epsilon"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"adversarial": "yes"}, "adversarial"),
        ({"surrogate_seed": 1.5}, "surrogate_seed"),
        ({"target_label": -1}, "target label"),
    ],
)
def test_label_consistent_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        LabelConsistent(**settings)


def test_a_trigger_pattern_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="3 x 3"):
        LabelConsistent(trigger=Trigger(25, 25, 3, pattern=((1.0, 0.0), (0.0, 1.0))))


class Brightness(nn.Module):
    """Scores class 0 by the mean brightness and class 1 by its negative."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        brightness = x.mean((1, 2, 3)) * self.scale
        return torch.stack([brightness, -brightness], 1)


def test_pgd_moves_each_pixel_within_the_budget_towards_a_higher_loss():
    images = torch.full((3, 1, 28, 28), 128, dtype=torch.uint8)
    labels = torch.zeros(3, dtype=torch.long)  # class 0 wants bright images: PGD darkens them
    perturbed = pgd_perturb(Brightness(), images, labels, epsilon=0.1, steps=5, step_size=0.05)
    change = perturbed.int() - images.int()
    assert change.abs().max() <= 0.1 * 255
    # every pixel moved to the edge of the budget, downwards
    assert (change == -25).all()
    model = Brightness()
    assert model(to_model_input(perturbed))[:, 0].sum() < model(to_model_input(images))[:, 0].sum()
    assert model.scale.requires_grad  # the model is left as it was


def test_pgd_stays_inside_black_and_white():
    images = torch.zeros((2, 1, 28, 28), dtype=torch.uint8)
    perturbed = pgd_perturb(
        Brightness(), images, torch.zeros(2, dtype=torch.long), epsilon=0.3, steps=3, step_size=0.1
    )
    assert perturbed.max() == 0


def test_label_consistent_poison_changes_target_images_only_and_keeps_labels(
    mnist_train, empty_model_cache
):
    small = ImageSet(mnist_train.images[:3000], mnist_train.labels[:3000])
    attack = LabelConsistent(share=0.2, epsilon=0.1, steps=3)
    poisoned = attack.poison(small, seed=0)
    assert torch.equal(poisoned.labels, small.labels)
    assert (small.labels[poisoned.indices] == 8).all() and len(poisoned.indices) == int(
        0.2 * (small.labels == 8).sum()
    )
    assert torch.equal(
        apply_trigger(poisoned.images[poisoned.indices], CORNER_TRIGGER),
        poisoned.images[poisoned.indices],
    )
    body = (
        poisoned.images[poisoned.indices, :, :25].int()
        - small.images[poisoned.indices, :, :25].int()
    )
    assert 0 < body.abs().max() <= 25  # PGD moved pixels, within 0.1 x 255
    plain = LabelConsistent(share=0.2, adversarial=False).poison(small, seed=0)
    assert torch.equal(
        plain.images[plain.indices], apply_trigger(small.images[plain.indices], CORNER_TRIGGER)
    )


def test_badnets_is_the_articles_attack(mnist_train):
    attack = BadNets(0.01, Trigger(3, 3), 8)
    poisoned = attack.poison(mnist_train, seed=0)
    assert len(poisoned.indices) == 600 and (poisoned.labels[poisoned.indices] == 8).all()
    assert (poisoned.images[poisoned.indices, 0, 3, 3] == 255).all()
    assert torch.equal(
        poisoned.indices, poison(mnist_train, 0.01, Trigger(3, 3), 8, seed=0).indices
    )
    with pytest.raises(ValueError, match="poison rate"):
        BadNets(poison_rate=1.5)


def test_a_costly_poisoned_set_is_made_once_and_then_read_back(empty_model_cache, monkeypatch):
    data = small_set()
    attack = LabelConsistent(share=0.5, adversarial=False)
    first = poisoned_training_set(attack, data)
    monkeypatch.setattr(
        LabelConsistent, "poison", lambda *args: pytest.fail("the stored poisoned set was not used")
    )
    again = poisoned_training_set(attack, data)
    assert torch.equal(first.images, again.images) and torch.equal(first.indices, again.indices)
    assert not poisoned_training_set(SIG(share=0.5), data).indices.numel() == 0
    # SIG's: not stored
    assert [path.name.endswith(".poison.pt") for path in empty_model_cache.glob("*.pt")] == [True]


def test_attacks_are_found_by_name_and_notebook_parameters_apply_where_they_mean_something():
    assert named("sig", delta=20.0) == SIG(delta=20.0)
    with pytest.raises(ValueError, match="unknown attack 'trojan'; choose one of badnets, blended"):
        named("trojan")
    assert from_parameters("badnets", 0.02, Trigger(5, 5), 8) == BadNets(0.02, Trigger(5, 5), 8)
    assert from_parameters("blended", 0.02, Trigger(5, 5), 3) == Blended(
        poison_rate=0.02, target_label=3
    )
    assert from_parameters("label_consistent", 0.02, Trigger(5, 5), 8) == LabelConsistent()
    assert set(attacks.ATTACKS) == {
        "badnets",
        "blended",
        "label_consistent",
        "sig",
        "wanet",
        "adaptive_blend",
        "all_to_all",
    }


def test_evaluate_attack_gives_clean_accuracy_asr_robust_accuracy_and_the_articles_measure():
    # answers 8 when the top-left pixel is white, else the value of the pixel beside it
    class Answers(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            scores = torch.zeros(len(x), 10)
            scores[torch.arange(len(x)), (x[:, 0, 0, 1] * 255).round().long() % 10] = 1
            scores[x[:, 0, 0, 0] > 0.99, 8] = 2
            return scores

    images = torch.zeros((4, 1, 28, 28), dtype=torch.uint8)
    images[:, 0, 0, 1] = torch.tensor([1, 2, 3, 8], dtype=torch.uint8)
    test = ImageSet(images, torch.tensor([1, 2, 5, 8]))
    figures = evaluate_attack(Answers(), test, BadNets(trigger=Trigger(0, 0)))
    assert figures == {
        "clean_accuracy": 0.75,
        "attack_success_rate": 1.0,
        "robust_accuracy": 0.0,
        "article_metric": 1.0,
    }  # the real 8 counts too
