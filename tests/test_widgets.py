import pytest

from utils.attacks import BadNets, LabelConsistent
from utils.data import ImageSet
from utils.defenses.matrix import DEFENSES, DefenseSettings
from utils.training import TrainingConfig
from utils.widgets import AttackPanel, MatrixPanel


@pytest.fixture
def panel(mnist_train, mnist_test, empty_model_cache):
    small_train = ImageSet(mnist_train.images[:12000], mnist_train.labels[:12000])
    small_test = ImageSet(mnist_test.images[:2000], mnist_test.labels[:2000])
    return AttackPanel(small_train, small_test, training=TrainingConfig(epochs=1))


def test_moving_the_sliders_updates_the_preview_at_once(panel):
    before = panel.preview.value
    panel.row.value, panel.col.value = 20, 10
    assert panel.preview.value != before
    assert panel.trainings_started == 0


def test_a_larger_trigger_cannot_leave_the_image(panel):
    panel.size.value = 5
    assert panel.row.max == panel.col.max == 23
    panel.row.value = 27
    assert panel.row.value == 23
    panel.config().trigger.check_fits(28, 28)


def test_clicking_train_shows_clean_accuracy_and_attack_success(panel):
    panel.poison_rate.value = 0.05
    panel.train_button.click()
    results = panel.results[panel.config()]
    assert panel.trainings_started == 1
    assert f"{results['clean_accuracy']:.2%}" in panel.result.value
    assert f"{results['attack_success_rate']:.2%}" in panel.result.value
    assert "poison rate 5.00%" in panel.result.value
    assert results["poisoned_samples"] == 600
    assert len(panel.example_answers) == 8
    assert all(true != 8 for true, _answer in panel.example_answers)


def test_a_configuration_trained_before_comes_back_without_training(panel):
    panel.train_button.click()
    panel.poison_rate.value = 0.02
    panel.train_button.click()
    panel.poison_rate.value = 0.01
    panel.train_button.click()
    assert panel.trainings_started == 2
    assert "poison rate 1.00%" in panel.result.value


def test_a_click_while_training_runs_starts_nothing(panel):
    panel.busy = True
    panel.train_button.click()
    assert panel.trainings_started == 0
    assert "ignored" in panel.status.value
    assert not panel.results


def test_the_matrix_panel_offers_each_attacks_own_strength(mnist_train, mnist_test):
    panel = MatrixPanel(mnist_train, mnist_test)
    panel.attack.value = "label_consistent"
    assert panel.strength.description == "PGD epsilon" and panel.config() == LabelConsistent(
        epsilon=0.2
    )
    panel.attack.value = "badnets"
    panel.strength.value = 0.005
    assert panel.config() == BadNets(poison_rate=0.005)
    assert panel.trainings_started == 0


def test_the_matrix_panel_trains_and_fills_in_its_column(
    mnist_train, mnist_test, empty_model_cache
):
    small_train = ImageSet(mnist_train.images[:12000], mnist_train.labels[:12000])
    small_test = ImageSet(mnist_test.images[:1000], mnist_test.labels[:1000])
    quick = DefenseSettings(
        reserve_size=2000, cleanse_images=200, cleanse_steps=20, strip_inputs=200, strip_blends=4
    )
    panel = MatrixPanel(small_train, small_test, TrainingConfig(epochs=1), quick)
    panel.attack.value = "sig"
    panel.train_button.click()
    column = panel.results[panel.config()]
    assert panel.trainings_started == 1
    assert set(DEFENSES) <= set(column)
    assert (
        f"{column['attack_success_rate']:.2%}" in panel.result.value
        and "sine amplitude 60" in panel.result.value
    )
    panel.train_button.click()
    assert panel.trainings_started == 1
