import pytest
import torch

from utils import runtime
from utils.attacks import train_clean
from utils.attacks.label_consistent import pgd_perturb
from utils.data import ImageSet
from utils.models import SmallCNN
from utils.signs.synthetic import draw_scenes, render
from utils.training import History, TrainingConfig, fit, predict


# one thread, set for the session
def test_same_seed_gives_the_same_weights_and_history(small_train):
    config, runs = TrainingConfig(epochs=1, seed=7), []
    for _ in range(2):
        model = SmallCNN(seed=7)
        runs.append((model, fit(model, small_train, config, progress=False)))
    (first, history_a), (second, history_b) = runs
    assert history_a.loss == history_b.loss
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_another_seed_gives_other_weights(small_train):
    a, b = SmallCNN(seed=1), SmallCNN(seed=2)
    fit(a, small_train, TrainingConfig(epochs=1, seed=1), progress=False)
    fit(b, small_train, TrainingConfig(epochs=1, seed=2), progress=False)
    assert not torch.equal(a.output.weight, b.output.weight)


def test_history_records_every_epoch_and_batch(small_train, mnist_test):
    history = fit(
        SmallCNN(),
        small_train,
        TrainingConfig(epochs=3, batch_size=500),
        test=ImageSet(mnist_test.images[:500], mnist_test.labels[:500]),
        progress=False,
    )
    assert isinstance(history, History)
    assert len(history.loss) == len(history.train_accuracy) == len(history.test_accuracy) == 3
    assert len(history.batch_loss) == 3 * 4
    assert history.loss[-1] < history.loss[0]
    assert history.train_seconds > 0


def test_the_default_recipe_is_right_about_99_times_in_100(mnist_train, mnist_test):
    # the clean model of notebook 01, trained by this recipe with this code (stored when an
    # earlier test trained it)
    model = train_clean(mnist_train, progress=False).model
    # 99.15% with two threads, 98.98% with one: the last digits follow the thread count
    assert (predict(model, mnist_test.images) == mnist_test.labels).float().mean().item() >= 0.985


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", -1),
        ("epochs", 0),
        ("epochs", 1.5),
        ("batch_size", 0),
        ("batch_size", -32),
        ("learning_rate", 0),
        ("learning_rate", -0.1),
        ("seed", "zero"),
    ],
)
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
    monkeypatch.delenv(runtime.THREADS_VARIABLE, raising=False)  # the test session sets one thread
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: 2)
    assert runtime.usable_cpus() == 2
    monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: None)
    assert runtime.usable_cpus() == 64


def test_the_device_is_the_cpu_without_a_gpu_and_can_be_chosen():
    if not torch.cuda.is_available():
        assert runtime.pick_device().type in ("cpu", "mps")
    assert runtime.pick_device("cpu") == torch.device("cpu")


def test_threads_follow_the_cores_that_other_processes_leave_free(monkeypatch):
    # whatever the environment sets
    monkeypatch.delenv(runtime.FOLLOW_LOAD_VARIABLE, raising=False)
    monkeypatch.setattr(runtime, "usable_cpus", lambda: 4)
    for busy, threads in [(None, 4), (0.2, 4), (1.0, 3), (2.6, 1), (7.0, 1)]:
        monkeypatch.setattr(runtime, "cores_busy_elsewhere", lambda: busy)
        assert runtime.configure_threads() == threads == torch.get_num_threads()
    monkeypatch.setenv(runtime.FOLLOW_LOAD_VARIABLE, "0")
    assert runtime.configure_threads() == 4  # fixed, whatever else runs
    monkeypatch.undo()
    runtime.configure_threads()


def _pgd_on_a_small_model():
    pgd_perturb(
        SmallCNN(),
        torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
        torch.zeros(4, dtype=torch.long),
        0.1,
        2,
        0.05,
    )


def _synthetic_signs_rendered():
    render(draw_scenes(4, seed=0))


@pytest.mark.parametrize("computation", [_pgd_on_a_small_model, _synthetic_signs_rendered])
def test_pgd_and_sign_rendering_take_the_labs_thread_count_as_training_does(
    computation, monkeypatch
):
    # what BACKDOOR_LAB_THREADS=1 or a one-core quota gives
    monkeypatch.setattr(runtime, "usable_cpus", lambda: 1)
    torch.set_num_threads(2)
    computation()
    assert torch.get_num_threads() == 1
    monkeypatch.undo()
    runtime.configure_threads()


def test_the_load_is_measured_over_recent_windows_only(monkeypatch):
    samples = iter(
        [(0.0, 0.0, 0.0), (0.1, 0.1, 0.1), (0.3, 0.5, 0.2), (5.0, 9.0, 0.3), (5.3, 9.3, 0.6)]
    )
    monkeypatch.setattr(runtime, "_cpu_sample", lambda: next(samples))
    load = runtime._OtherLoad(window=0.2, stale=2.0)
    assert load.read() is None  # the first sample starts a window
    assert load.read() is None  # 0.1 s: too short to say
    # in 0.3 s: the machine 0.5 s of CPU, this process 0.2 s
    assert load.read() == pytest.approx(1.0)
    assert load.read() is None  # after a 4.7 s pause the old figure is stale
    assert load.read() == pytest.approx(0.0)  # only this process computed
