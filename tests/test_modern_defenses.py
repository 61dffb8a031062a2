"""The repairs of lesson 10 (ANP, CLP, I-BAU): small cases with a known answer, then the lab's
backdoor; and how the matrix judges them."""

import pytest
import torch
from torch import nn

from utils.attacks import AllToAll, BadNets, evaluate_attack
from utils.data import ImageSet
from utils.defenses.anp import AnpSettings, anp, anp_masks
from utils.defenses.clp import channel_lipschitz_bounds, clp, clp_pruned
from utils.defenses.ibau import IbauSettings, ibau, implicit_hypergradient
from utils.defenses.matrix import (
    CONTROL,
    DEFENSES,
    MODERN_DEFENSES,
    false_alarm,
    main_target,
    near_threshold,
    rows_of,
    verdict,
)
from utils.defenses.neurons import LAYERS, neuron_layers, prune_neurons
from utils.models import SmallCNN
from utils.triggers import PoisonedSet


def test_the_neurons_are_smallcnns_convolution_channels_and_hidden_units():
    layers = neuron_layers(SmallCNN())
    assert [layer.weight.shape[0] for layer in layers.values()] == [8, 16, 256]
    with pytest.raises(ValueError, match="no convolution or linear layer named features.0"):
        neuron_layers(nn.Sequential(nn.Linear(2, 2)))


def test_pruning_a_neuron_zeroes_its_weights_and_leaves_the_model_given_untouched():
    model = SmallCNN()
    pruned = {
        name: torch.zeros(layer.weight.shape[0], dtype=torch.bool)
        for name, layer in neuron_layers(model).items()
    }
    pruned["features.3"][[2, 5]] = True
    cut = prune_neurons(model, pruned, keep_bias=True)
    conv = cut.features[3]
    assert (conv.weight[[2, 5]] == 0).all() and (conv.bias[[2, 5]] != 0).all()
    assert (model.features[3].weight[[2, 5]] != 0).any()
    assert (prune_neurons(model, pruned).features[3].bias[[2, 5]] == 0).all()


def test_a_channels_lipschitz_bound_is_its_kernels_largest_singular_value():
    weight = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    expected = torch.stack([torch.linalg.svdvals(w.reshape(3, 25))[0] for w in weight])
    assert torch.allclose(channel_lipschitz_bounds(weight), expected)
    rows = torch.randn(6, 10)
    assert torch.allclose(channel_lipschitz_bounds(rows), rows.norm(dim=1))
    with pytest.raises(ValueError, match="expected a convolution"):
        channel_lipschitz_bounds(torch.randn(3))


def test_clp_prunes_the_unit_that_stretches_its_input_far_more_than_its_layer():
    model = SmallCNN()
    with torch.no_grad():
        model.hidden[1].weight[17] *= 20
    pruned = clp_pruned(model, u=3.0)
    assert pruned["hidden.1"].nonzero().flatten().tolist() == [17]
    assert not pruned["features.0"].any()  # 8 channels: none can lie 3 deviations out
    repaired = clp(model)
    assert (repaired.hidden[1].weight[17] == 0).all() and repaired.hidden[1].bias[17] == 0
    with pytest.raises(ValueError, match="u .* must be >= 0"):
        clp_pruned(model, u=-1)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"eps": 0}, "eps must be > 0"),
        ({"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        ({"iterations": 0}, "iterations must be a whole number"),
    ],
)
def test_anp_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        AnpSettings(**settings)


def test_anp_masks_lie_in_0_1_and_leave_the_model_as_it_was(small_train):
    model = SmallCNN()
    before = [p.clone() for p in model.parameters()]
    masks = anp_masks(model, small_train, AnpSettings(iterations=5))
    assert {name: mask.shape[0] for name, mask in masks.items()} == dict(zip(LAYERS, (8, 16, 256)))
    assert all(((0 <= m) & (m <= 1)).all() for m in masks.values())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.requires_grad for p in model.parameters())
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(model(x), SmallCNN()(x))  # no hook left behind
    with pytest.raises(ValueError, match="at least one batch of 128 clean images, got 10"):
        anp_masks(model, ImageSet(small_train.images[:10], small_train.labels[:10]))


def test_the_implicit_hypergradient_of_a_known_fixed_point():
    # inner problem: delta* = theta (fixed point of delta - 0.5 (delta - theta)); outer: delta^2,
    # so d outer / d theta = 2 theta; K steps of the series give 2 theta (1 - 0.5^K)
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(3.0)
    theta = model.weight

    def fixed_point_map(delta):
        return delta - 0.5 * (delta - theta.squeeze())

    (gradient,) = implicit_hypergradient(
        model, torch.tensor(3.0), lambda delta: delta**2, fixed_point_map, steps=20
    )
    assert gradient.item() == pytest.approx(6.0 * (1 - 0.5**20))


def test_ibau_settings_and_data_are_checked(small_train):
    with pytest.raises(ValueError, match="rounds must be a whole number"):
        IbauSettings(rounds=0)
    with pytest.raises(ValueError, match="I-BAU needs 5000 clean images"):
        ibau(SmallCNN(), small_train)


def test_on_the_lab_backdoor_anp_removes_it_at_little_cost(lab_backdoor, mnist_test):
    model, attack = lab_backdoor["backdoored"], lab_backdoor["attack"]
    before = evaluate_attack(model, mnist_test, attack)
    after = evaluate_attack(anp(model, lab_backdoor["reserve"]), mnist_test, attack)
    assert after["attack_success_rate"] < 0.1
    assert after["clean_accuracy"] >= before["clean_accuracy"] - 0.02


def test_on_the_lab_backdoor_ibau_lowers_the_asr(lab_backdoor, mnist_test):
    model, attack = lab_backdoor["backdoored"], lab_backdoor["attack"]
    before = evaluate_attack(model, mnist_test, attack)
    after = evaluate_attack(ibau(model, lab_backdoor["reserve"]), mnist_test, attack)
    assert after["attack_success_rate"] < before["attack_success_rate"] - 0.2


def repaired(defense, asr, after=0.985):
    return {defense: asr, "clean_accuracy": 0.99, "clean_accuracy_after_repair": {defense: after}}


@pytest.mark.parametrize("defense", list(MODERN_DEFENSES))
def test_the_modern_repairs_are_judged_like_fine_pruning(defense):
    control = {defense: 0.001}
    assert verdict(defense, repaired(defense, 0.05), control) == "caught"
    assert verdict(defense, repaired(defense, 0.05, after=0.96), control) == "partly"
    assert verdict(defense, repaired(defense, 0.9), control) == "missed"
    assert near_threshold(defense, repaired(defense, 0.12), control)
    assert false_alarm(defense, repaired(defense, 0.0, after=0.96))


def test_a_matrix_shows_the_rows_all_its_columns_hold():
    classic = {name: 0.0 for name in DEFENSES}
    both = {**classic, **{name: 0.0 for name in MODERN_DEFENSES}}
    assert list(rows_of({CONTROL: classic, "BadNets": both})) == list(DEFENSES)
    assert list(rows_of({CONTROL: both})) == [*DEFENSES, *MODERN_DEFENSES]


def test_an_all_to_all_attacks_main_target_is_the_label_most_of_its_poison_carries():
    labels = torch.tensor([1, 1, 2, 3, 3, 3])
    data = PoisonedSet(
        torch.zeros(6, 1, 28, 28, dtype=torch.uint8), labels, torch.tensor([3, 4, 0])
    )
    assert main_target(AllToAll(), data) == 3
    assert main_target(BadNets(target_label=5), data) == 5
