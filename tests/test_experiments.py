import json

import torch

from utils.attacks import BadNets, stored_path, train_attack, train_clean
from utils.experiments import attack_results, save_results
from utils.training import TrainingConfig
from utils.triggers import Trigger


def test_a_trained_model_is_stored_and_reused(small_train, empty_model_cache):
    attack, training = BadNets(poison_rate=0.02), TrainingConfig(epochs=1, seed=4)
    first = train_attack(attack, small_train, training, progress=False)
    assert stored_path(attack, training).exists()
    again = train_attack(attack, small_train, training, progress=False)
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    assert again.history.loss == first.history.loss
    assert torch.equal(again.poisoned_indices, first.poisoned_indices)


def test_training_anew_never_replaces_the_stored_model(small_train, empty_model_cache):
    training = TrainingConfig(epochs=1, batch_size=512, seed=4)
    # nothing stored yet: this one is
    train_clean(small_train, training, reuse=False, progress=False)
    stored = stored_path(BadNets(poison_rate=0.0), training).read_bytes()
    train_clean(small_train, training, reuse=False, progress=False)
    assert stored_path(BadNets(poison_rate=0.0), training).read_bytes() == stored


def test_different_attacks_are_stored_apart_but_clean_models_ignore_the_trigger():
    base, training = BadNets(), TrainingConfig()
    assert stored_path(base, training) != stored_path(BadNets(poison_rate=0.05), training)
    assert stored_path(base, training) != stored_path(base, TrainingConfig(seed=1))
    clean = stored_path(BadNets(poison_rate=0.0), training)
    assert clean == stored_path(BadNets(0.0, Trigger(5, 5), target_label=3), training)


def test_attack_results_are_plain_figures_with_the_attacks_settings(
    small_train, mnist_test, empty_model_cache
):
    attack = BadNets(poison_rate=0.05)
    results = attack_results(
        train_attack(attack, small_train, TrainingConfig(epochs=1), progress=False),
        attack,
        mnist_test,
    )
    assert (
        results["attack"] == "BadNets"
        and results["poison_rate"] == 0.05
        and results["poisoned_samples"] == 100
    )
    assert {"clean_accuracy", "attack_success_rate", "robust_accuracy", "article_metric"} <= set(
        results
    )
    json.dumps(results)


def test_save_results_writes_json(tmp_path):
    path = save_results(tmp_path / "deep" / "results.json", {"clean_accuracy": 0.99})
    assert json.loads(path.read_text()) == {"clean_accuracy": 0.99}
