import json

import torch

from utils.experiments import AttackConfig, cached_path, save_results, train_model
from utils.training import TrainingConfig


def test_a_trained_model_is_stored_and_reused(small_train, empty_model_cache):
    config = AttackConfig(poison_rate=0.02, training=TrainingConfig(epochs=1, seed=4))
    first = train_model(config, small_train, progress=False)
    assert cached_path(config).exists()
    again = train_model(config, small_train, progress=False)
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    assert again.history.loss == first.history.loss
    assert torch.equal(again.poisoned_indices, first.poisoned_indices)


def test_training_anew_never_replaces_the_stored_model(small_train, empty_model_cache):
    config = AttackConfig(poison_rate=0.0, training=TrainingConfig(epochs=1, batch_size=512, seed=4))
    train_model(config, small_train, reuse=False, progress=False)       # nothing stored yet: this one is
    stored = cached_path(config).read_bytes()
    train_model(config, small_train, reuse=False, progress=False)
    assert cached_path(config).read_bytes() == stored


def test_different_configurations_are_stored_apart_but_clean_ones_ignore_the_trigger():
    base = AttackConfig()
    assert cached_path(base) != cached_path(AttackConfig(poison_rate=0.05))
    assert cached_path(base) != cached_path(AttackConfig(training=TrainingConfig(seed=1)))
    assert cached_path(base.clean()) == cached_path(AttackConfig(poison_rate=0.0, target_label=3))


def test_save_results_writes_json(tmp_path):
    path = save_results(tmp_path / "deep" / "results.json", {"clean_accuracy": 0.99})
    assert json.loads(path.read_text()) == {"clean_accuracy": 0.99}
