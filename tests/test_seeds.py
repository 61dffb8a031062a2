"""Results over seeds, and where a notebook's figures are written."""

import json
import sys
from pathlib import Path

import pytest
import torch

from utils import experiments, runtime
from utils.attacks import BadNets
from utils.data import ImageSet
from utils.experiments import attack_with_baseline, save_results
from utils.seeds import over_seeds, seed_table, spread
from utils.tables import rate_table
from utils.training import TrainingConfig

# the benchmarks' own helpers
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from seed_runs import seed_benchmark  # noqa: E402


def test_over_seeds_adds_the_seed_and_spread_gives_mean_and_range():
    rows = over_seeds(lambda seed: {"asr": 0.9 + seed / 100}, [0, 1, 2])
    assert [row["seed"] for row in rows] == [0, 1, 2]
    assert spread(rows, "asr") == {"mean": 0.91, "min": 0.9, "max": 0.92}


def test_seed_table_shows_every_seed_then_mean_and_range():
    rows = [{"seed": 0, "asr": 0.9, "acc": 0.99}, {"seed": 1, "asr": 0.8, "acc": float("nan")}]
    lines = seed_table(rows, {"asr": "ASR", "acc": "accuracy"}).splitlines()
    assert lines[0].split() == ["seed", "ASR", "accuracy"]
    assert lines[1].split() == ["0", "90.00%", "99.00%"]
    assert lines[2].split() == ["1", "80.00%", "n/a"]
    assert lines[3].split()[:2] == ["mean", "85.00%"]
    assert lines[4].split()[:2] == ["range", "80.00-90.00"]


def test_attack_with_baseline_adds_the_clean_model_of_the_same_seed(
    mnist_train, mnist_test, empty_model_cache
):
    small_train = ImageSet(mnist_train.images[:3000], mnist_train.labels[:3000])
    figures = attack_with_baseline(
        BadNets(0.05), small_train, mnist_test, TrainingConfig(epochs=1, seed=3)
    )
    assert {"clean_accuracy", "attack_success_rate", "clean_model_accuracy"} <= set(figures)
    models = [
        path for path in empty_model_cache.glob("*.pt") if not path.name.endswith(".poison.pt")
    ]
    assert len(models) == 2  # the poisoned and the clean model


def test_save_results_writes_to_the_tests_folder_only_when_no_path_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv(experiments.RESULTS_DIR_VARIABLE, str(tmp_path / "collected"))
    assert save_results(None, {"a": 1}, name="03_x") == tmp_path / "collected" / "03_x.json"
    assert json.loads((tmp_path / "collected" / "03_x.json").read_text()) == {"a": 1}
    assert save_results(tmp_path / "chosen.json", {"b": 2}, name="03_x") == tmp_path / "chosen.json"
    assert save_results(None, {"c": 3}) is None
    monkeypatch.delenv(experiments.RESULTS_DIR_VARIABLE)
    assert save_results(None, {"d": 4}, name="03_x") is None


def test_a_seed_benchmark_takes_its_seeds_from_the_command_line_and_writes_its_figures(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(sys, "argv", ["benchmark.py", "3", "5"])
    monkeypatch.setenv(runtime.THREADS_VARIABLE, "4")
    seed_benchmark(
        lambda seeds: {"seeds": seeds, "threads_used": torch.get_num_threads()},
        "example",
        tmp_path / "results",
    )
    # the committed notebooks' thread count, whatever was set
    expected = {"seeds": [3, 5], "threads_used": 1, "threads": 1}
    assert json.loads((tmp_path / "results" / "example.json").read_text()) == expected
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == expected
    monkeypatch.setattr(sys, "argv", ["benchmark.py"])
    seed_benchmark(lambda seeds: {"seeds": seeds}, "example", tmp_path / "results")
    assert json.loads((tmp_path / "results" / "example.json").read_text()) == {
        "seeds": [0, 1, 2],
        "threads": 1,
    }


def test_a_rate_table_prints_rates_as_percentages_counts_as_numbers_and_leaves_gaps_blank():
    rows = {"clean": {"acc": 0.99}, "backdoored": {"acc": 0.985, "asr": 0.9734, "n": 600}}
    lines = rate_table(rows, {"acc": "accuracy", "asr": "ASR", "n": "poisoned"}, "model")
    assert lines.splitlines() == [
        "model      accuracy      ASR poisoned",
        "clean        99.00%",
        "backdoored   98.50%   97.34%      600",
    ]
    with pytest.raises(ValueError, match="at least one row"):
        rate_table({}, {"acc": "accuracy"})
