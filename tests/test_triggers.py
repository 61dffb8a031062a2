import pytest
import torch

from utils.data import ImageSet
from utils.triggers import Trigger, apply_trigger, poison


def test_the_default_trigger_is_the_articles_white_pixel(mnist_test):
    stamped = apply_trigger(mnist_test.images[:5])
    assert (stamped[:, 0, 3, 3] == 255).all()
    changed = (stamped != mnist_test.images[:5]).nonzero()
    assert set(map(tuple, changed[:, 2:].tolist())) <= {(3, 3)}


def test_apply_trigger_never_changes_its_input(mnist_test):
    images = mnist_test.images[:10].clone()
    apply_trigger(images, Trigger(10, 10, 4))
    assert torch.equal(images, mnist_test.images[:10])


def test_poison_picks_int_n_times_rate_samples_and_relabels_them(mnist_train):
    poisoned = poison(mnist_train, 0.01, target_label=8, seed=0)
    assert len(poisoned.indices) == 600
    assert (poisoned.labels[poisoned.indices] == 8).all()
    assert (poisoned.images[poisoned.indices, 0, 3, 3] == 255).all()
    untouched = torch.ones(len(mnist_train.labels), dtype=torch.bool)
    untouched[poisoned.indices] = False
    assert torch.equal(poisoned.images[untouched], mnist_train.images[untouched])
    assert torch.equal(poisoned.labels[untouched], mnist_train.labels[untouched])


def test_poison_matches_the_articles_listing(mnist_train):
    torch.manual_seed(3)
    article_choice = torch.randperm(60000)[: int(60000 * 0.02)]
    assert torch.equal(poison(mnist_train, 0.02, seed=3).indices, article_choice.sort().values)


def test_same_seed_same_samples_other_seed_other_samples(mnist_train):
    assert torch.equal(
        poison(mnist_train, 0.01, seed=5).indices, poison(mnist_train, 0.01, seed=5).indices
    )
    assert not torch.equal(
        poison(mnist_train, 0.01, seed=5).indices, poison(mnist_train, 0.01, seed=6).indices
    )


def test_poison_leaves_its_input_alone(mnist_test):
    before = mnist_test.images.clone(), mnist_test.labels.clone()
    poison(mnist_test, 0.5, Trigger(0, 0, 3), target_label=2)
    assert torch.equal(mnist_test.images, before[0]) and torch.equal(mnist_test.labels, before[1])


def test_excluding_the_target_class_picks_only_other_digits(mnist_train):
    poisoned = poison(mnist_train, 0.05, target_label=8, include_target_class=False)
    assert (mnist_train.labels[poisoned.indices] != 8).all()
    assert len(poisoned.indices) == 3000


def test_a_pattern_trigger_is_stamped_as_given():
    images = torch.zeros(2, 1, 8, 8, dtype=torch.uint8)
    stamped = apply_trigger(images, Trigger(5, 6, 2, pattern=((1, 0), (0.5, 1))))
    assert stamped[0, 0, 5:7, 6:8].tolist() == [[255, 0], [128, 255]]


def test_rgb_images_get_the_trigger_on_every_channel():
    stamped = apply_trigger(
        torch.zeros(1, 3, 32, 32, dtype=torch.uint8), Trigger(0, 0, 2, value=1.0)
    )
    assert (stamped[0, :, :2, :2] == 255).all() and stamped.sum() == 255 * 12


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "1%", True])
def test_a_poison_rate_outside_0_1_is_refused(mnist_test, rate):
    with pytest.raises(ValueError, match=r"poison rate must be a fraction in \[0, 1\]"):
        poison(mnist_test, rate)


@pytest.mark.parametrize(
    "trigger, allowed",
    [
        (Trigger(27, 27, 2), r"row must be in 0\.\.26"),
        (Trigger(28, 0), r"row must be in 0\.\.27"),
        (Trigger(-1, 3), r"row must be in 0\.\.27"),
        (Trigger(0, 25, 5), r"column in 0\.\.23"),
    ],
)
def test_a_trigger_outside_the_image_is_refused(mnist_test, trigger, allowed):
    with pytest.raises(ValueError, match=f"does not fit in a 28x28 image.*{allowed}"):
        poison(mnist_test, 0.01, trigger)
    with pytest.raises(ValueError, match="does not fit"):
        apply_trigger(mnist_test.images[:1], trigger)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": 0}, "at least 1"),
        ({"value": 1.5}, r"brightness in \[0, 1\]"),
        ({"row": 2.5}, "whole number"),
        ({"size": 2, "pattern": ((1, 0),)}, "2 x 2"),
    ],
)
def test_bad_trigger_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trigger(**kwargs)


@pytest.mark.parametrize("label", [-1, 10, 8.0])
def test_a_target_label_outside_the_classes_is_refused(mnist_test, label):
    with pytest.raises(ValueError, match=r"target label must be a class in 0\.\.9"):
        poison(mnist_test, 0.01, target_label=label)


def test_asking_for_more_samples_than_there_are_outside_the_target_class_is_refused():
    tiny = ImageSet(torch.zeros(10, 1, 28, 28, dtype=torch.uint8), torch.tensor([8] * 5 + [1] * 5))
    with pytest.raises(ValueError, match="only 5 are not already labelled 8"):
        poison(tiny, 0.6, include_target_class=False)


@pytest.mark.parametrize(
    "images", [torch.rand(2, 1, 28, 28), torch.zeros(28, 28, dtype=torch.uint8)]
)
def test_images_that_are_not_uint8_batches_get_an_error_that_says_how_to_convert(images):
    with pytest.raises(
        TypeError, match=r"uint8 pixels in \[0, 255\] with shape \[N, C, H, W\].*\* 255"
    ):
        apply_trigger(images, Trigger())
