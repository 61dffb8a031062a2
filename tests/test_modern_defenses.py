"""The repairs of lesson 10 (ANP, CLP, I-BAU) and ABL: small cases with a known answer, then the
lab's backdoor; and how the matrix judges them."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.attacks import AllToAll, BadNets, evaluate_attack
from utils.data import ImageSet
from utils.defenses.abl import AblResult, AblSettings, abl, lga_loss, lowest_loss, unlearn
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
from utils.defenses.neurons import LAYERS, mask_neurons, neuron_layers, prune_neurons
from utils.models import SmallCNN
from utils.training import TrainingConfig, predict_logits
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
    conv = prune_neurons(model, pruned).features[3]
    assert (conv.weight[[2, 5]] == 0).all() and (conv.bias[[2, 5]] == 0).all()
    assert (model.features[3].weight[[2, 5]] != 0).any()
    # ANP's pruning keeps the bias: a pruned channel puts out its bias alone
    x = torch.rand(2, 1, 28, 28)
    masked = mask_neurons(model, pruned)
    outputs = masked.features[:4](masked.standardize(x))
    assert torch.allclose(outputs[:, [2, 5]], model.features[3].bias[[2, 5]].view(1, 2, 1, 1))


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
    model = SmallCNN().train()
    before = [p.clone() for p in model.parameters()]
    masks = anp_masks(model, small_train, AnpSettings(iterations=5), store=False)
    assert {name: mask.shape[0] for name, mask in masks.items()} == dict(zip(LAYERS, (8, 16, 256)))
    assert all(((0 <= m) & (m <= 1)).all() for m in masks.values())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.requires_grad for p in model.parameters()) and model.training
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(model(x), SmallCNN()(x))  # no hook left behind
    with pytest.raises(ValueError, match="at least one batch of 128 clean images, got 10"):
        anp_masks(model, ImageSet(small_train.images[:10], small_train.labels[:10]), store=False)


def test_the_implicit_hypergradient_is_the_direct_part_plus_k_terms_of_the_series():
    # map: delta - eta (A delta - W c), whose fixed point is A^-1 W c; outer: |delta|^2 + sum(W)
    # d outer / d W = 1 + eta v c^T with v = sum over j < K of ((I - eta A)^T)^j 2 delta
    model = nn.Linear(2, 2, bias=False)
    a, c, eta = torch.tensor([[2.0, 1.0], [0.0, 1.5]]), torch.tensor([1.0, -2.0]), 0.3
    delta = torch.tensor([0.5, -1.0])

    def fixed_point_map(d):
        return d - eta * (a @ d - model.weight @ c)

    def outer(d):
        return d.pow(2).sum() + model.weight.sum()

    for steps in (1, 3):
        (gradient,) = implicit_hypergradient(model, delta, outer, fixed_point_map, steps)
        step = torch.eye(2) - eta * a
        v = sum(torch.linalg.matrix_power(step.T, j) @ (2 * delta) for j in range(steps))
        expected = torch.ones(2, 2) + eta * torch.outer(v, c)
        assert torch.allclose(gradient, expected, atol=1e-6), steps


def test_ibau_settings_and_data_are_checked(small_train):
    with pytest.raises(ValueError, match="rounds must be a whole number"):
        IbauSettings(rounds=0)
    with pytest.raises(ValueError, match=r"perturbed_share must be in \(0, 1\]"):
        IbauSettings(perturbed_share=5.0)
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


def test_a_matrix_column_joins_the_classic_figures_and_the_repairs(monkeypatch):
    from utils.defenses import matrix

    classic = {"strip": 0.9, "clean_accuracy_after_repair": {"fine_pruning": 0.98}}
    classic |= {"der": {"fine_pruning": 0.9}, "seconds": {"strip": 1.0}}
    repairs = {name: 0.01 for name in (*MODERN_DEFENSES, matrix.ISOLATED)}
    repairs |= {key: {name: 0.5 for name in MODERN_DEFENSES} for key in classic if key != "strip"}
    monkeypatch.setattr(matrix, "control_column", lambda *args: classic)
    monkeypatch.setattr(matrix, "repair_column", lambda *args: repairs)
    joined = matrix.matrix_column(None, None, None)
    assert joined["strip"] == 0.9 and joined["anp"] == 0.01
    for key in ("clean_accuracy_after_repair", "der", "seconds"):
        assert set(joined[key]) >= set(MODERN_DEFENSES), key
    assert joined["clean_accuracy_after_repair"]["fine_pruning"] == 0.98
    assert joined[matrix.ISOLATED] == 0.01


class Lookup(nn.Module):
    """Scores each class by the image's first ten pixels of row 0: a model whose fit we set."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return 20 * x[:, 0, 0, :10]


def test_abls_lga_loss_climbs_below_gamma_and_descends_above():
    for value, sign in ((0.3, 1.0), (0.05, -1.0)):
        loss = torch.tensor(value, requires_grad=True)
        lga_loss(loss, 0.1).backward()
        assert loss.grad == sign


def test_abl_isolates_the_samples_a_model_fits_best():
    labels = torch.arange(40) % 10
    images = torch.zeros(40, 1, 28, 28, dtype=torch.uint8)
    fitted = torch.tensor([3, 11, 17, 30])
    answers = (labels + 1) % 10  # the others: the model gives the next label
    answers[fitted] = labels[fitted]
    images[torch.arange(40), 0, 0, answers] = 255
    assert set(lowest_loss(Lookup(), ImageSet(images, labels), 0.1).tolist()) == set(
        fitted.tolist()
    )
    with pytest.raises(ValueError, match=r"share must be in \(0, 1\)"):
        lowest_loss(Lookup(), ImageSet(images, labels), 1.0)


def test_abls_unlearning_raises_the_loss_of_the_suspects(lab_backdoor):
    poisoned = lab_backdoor["poisoned"]
    chosen = poisoned.indices[:256]
    suspects = ImageSet(poisoned.images[chosen], poisoned.labels[chosen])
    model = copy.deepcopy(lab_backdoor["backdoored"])

    def loss():
        return F.cross_entropy(predict_logits(model, suspects.images), suspects.labels).item()

    before = loss()
    unlearn(model, suspects, AblSettings(), seed=0)
    assert loss() > 1.5 * before


def test_abl_trains_a_model_and_sets_aside_its_share_of_the_data(small_train):
    images = small_train.images.clone()
    result = abl(
        small_train, TrainingConfig(batch_size=64), AblSettings(isolation_epochs=1), store=False
    )
    assert torch.equal(small_train.images, images)
    assert len(result.isolated) == 20 and len(result.isolated.unique()) == 20
    accuracy = predict_logits(result.model, small_train.images).argmax(1) == small_train.labels
    assert accuracy.float().mean() > 0.8


def test_abl_trains_on_all_but_the_isolated_samples_then_unlearns_exactly_those(
    small_train, monkeypatch
):
    from utils.defenses import abl as module

    seen = {}
    monkeypatch.setattr(module, "fit", lambda model, data, *args, **kw: seen.update(rest=data))
    monkeypatch.setattr(
        module, "unlearn", lambda model, suspects, *args: seen.update(suspects=suspects)
    )
    result = abl(small_train, TrainingConfig(), AblSettings(isolation_epochs=1), store=False)
    isolated = result.isolated
    assert torch.equal(seen["suspects"].images, small_train.images[isolated])
    assert torch.equal(seen["suspects"].labels, small_train.labels[isolated])
    kept = torch.ones(len(small_train.labels), dtype=torch.bool)
    kept[isolated] = False
    assert torch.equal(seen["rest"].images, small_train.images[kept])


def test_in_the_matrix_abl_trains_on_the_data_the_model_learnt_from(small_train, monkeypatch):
    from utils.defenses import matrix

    assert matrix.trained_on(None, small_train) is small_train
    poisoned = matrix.trained_on(BadNets(), small_train)
    assert len(poisoned.indices) == 20 and (poisoned.labels[poisoned.indices] == 8).all()
    given = {}

    def fake_abl(data, config, settings):
        given["data"] = data
        return AblResult(SmallCNN(), poisoned.indices[:10])

    monkeypatch.setattr(matrix, "anp", lambda model, *args, **kwargs: model)
    monkeypatch.setattr(matrix, "ibau", lambda model, *args, **kwargs: model)
    monkeypatch.setattr(matrix, "clp", lambda model, u: model)
    monkeypatch.setattr(matrix, "abl", fake_abl)
    figures = {"clean_accuracy": 0.99, "attack_success_rate": 0.5}
    monkeypatch.setattr(matrix, "evaluate_attack", lambda *args: figures)
    column = matrix.run_repairs(
        SmallCNN(),
        small_train,
        poisoned,
        small_train,
        BadNets(),
        matrix.DefenseSettings(),
        TrainingConfig(),
    )
    assert given["data"] is poisoned
    assert column[matrix.ISOLATED] == 1.0  # the ten isolated were all poison


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"isolation_epochs": 0}, "isolation_epochs must be a whole number >= 1"),
        ({"gamma": 0.0}, "gamma must be > 0"),
        ({"isolated_share": 1.0}, r"isolated_share must be in \(0, 1\)"),
    ],
)
def test_abl_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        AblSettings(**settings)
