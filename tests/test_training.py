import pytest
import torch

from utils import runtime
from utils.data import ImageSet
from utils.models import SmallCNN
from utils.training import History, TrainingConfig, fit, predict


def _small_set(mnist_train, n=2000):
    return ImageSet(mnist_train.images[:n], mnist_train.labels[:n])


def test_same_seed_gives_the_same_weights_and_history(mnist_train):
    subset, config = _small_set(mnist_train), TrainingConfig(epochs=1, seed=7)
    runs = []
    for _ in range(2):
        model = SmallCNN(seed=7)
        runs.append((model, fit(model, subset, config, progress=False)))
    (first, history_a), (second, history_b) = runs
    assert history_a.loss == history_b.loss
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_another_seed_gives_other_weights(mnist_train):
    subset = _small_set(mnist_train)
    a, b = SmallCNN(seed=1), SmallCNN(seed=2)
    fit(a, subset, TrainingConfig(epochs=1, seed=1), progress=False)
    fit(b, subset, TrainingConfig(epochs=1, seed=2), progress=False)
    assert not torch.equal(a.classifier[-1].weight, b.classifier[-1].weight)


def test_history_records_every_epoch_and_batch(mnist_train, mnist_test):
    history = fit(SmallCNN(), _small_set(mnist_train), TrainingConfig(epochs=3, batch_size=500), test=_small_set(mnist_test, 500),
                  progress=False)
    assert isinstance(history, History)
    assert len(history.loss) == len(history.train_accuracy) == len(history.test_accuracy) == 3
    assert len(history.batch_loss) == 3 * 4
    assert history.loss[-1] < history.loss[0]
    assert history.train_seconds > 0


def test_the_default_recipe_reaches_99_percent(mnist_train, mnist_test):
    model = SmallCNN(seed=0)
    fit(model, mnist_train, TrainingConfig(seed=0), progress=False)
    assert (predict(model, mnist_test.images) == mnist_test.labels).float().mean().item() >= 0.99


@pytest.mark.parametrize("field, value", [("epochs", -1), ("epochs", 0), ("epochs", 1.5), ("batch_size", 0),
                                          ("batch_size", -32), ("learning_rate", 0), ("learning_rate", -0.1),
                                          ("seed", "zero")])
def test_bad_training_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        TrainingConfig(**{field: value})


def test_mismatched_images_and_labels_are_refused(mnist_train):
    with pytest.raises(ValueError, match="labels"):
        fit(SmallCNN(), ImageSet(mnist_train.images[:10], mnist_train.labels[:9]), progress=False)


def test_predict_returns_one_class_per_image(mnist_test):
    predictions = predict(SmallCNN(), mnist_test.images[:300], batch_size=128)
    assert predictions.shape == (300,) and predictions.dtype == torch.int64
    assert predictions.min() >= 0 and predictions.max() <= 9


def test_thread_count_follows_a_container_quota(monkeypatch):
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: 2)
    assert runtime.usable_cpus() == 2
    monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: None)
    assert runtime.usable_cpus() == 64


def test_the_device_is_the_cpu_without_a_gpu_and_can_be_chosen():
    if not torch.cuda.is_available():
        assert runtime.pick_device().type in ("cpu", "mps")
    assert runtime.pick_device("cpu") == torch.device("cpu")
