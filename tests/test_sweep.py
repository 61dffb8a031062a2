"""The papermill sweep: the grid is checked first, failures are kept apart, finished runs are not repeated."""

import csv
import os
from pathlib import Path

import pytest

from utils.sweep import SweepError, check_grid, main, notebook_parameters, plan, sweep

POISONING = Path(__file__).resolve().parent.parent / "notebooks" / "02_poisoning.ipynb"


def test_the_notebooks_parameters_are_read_with_their_defaults():
    defaults = notebook_parameters(POISONING)
    assert defaults["poison_rate"] == 0.01 and defaults["seed"] == 0 and defaults["results_path"] is None


@pytest.mark.parametrize("grid, message", [
    ({"poison_rat": [0.01]}, r"no parameter 'poison_rat'; its parameters are: poison_rate=0.01, .*seed=0"),
    ({"seed": [0.5]}, r"seed=0.5 is a float, but the notebook's default 0 is a int"),
    ({"poison_rate": ["high"]}, r"poison_rate='high' is a str"),
    ({"results_path": ["x.json"]}, "set by the sweep itself"),
    ({"seed": []}, "needs at least one value"),
])
def test_a_grid_that_does_not_fit_the_notebook_is_refused(grid, message):
    with pytest.raises(SweepError, match=message):
        check_grid(grid, notebook_parameters(POISONING))


def test_whole_numbers_are_accepted_where_the_default_is_a_float():
    check_grid({"poison_rate": [0, 0.5, 1]}, notebook_parameters(POISONING))


def test_the_command_refuses_a_bad_grid_before_running_anything(tmp_path, capsys):
    assert main([str(POISONING), "-p", "rate", "0.01", "-o", str(tmp_path / "out")]) == 2
    assert "no parameter 'rate'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_one_run_per_combination_each_in_its_own_folder(tmp_path):
    runs = plan({"poison_rate": [0.01, 0.02], "seed": [0, 1, 2]}, tmp_path)
    assert len(runs) == 6 and len({run.folder for run in runs}) == 6
    assert runs[0].folder.name == "poison_rate=0.01,seed=0"


def test_a_small_real_sweep_keeps_the_good_runs_and_reports_the_failed_one(tmp_path):
    out, working_directory = tmp_path / "sweep", os.getcwd()
    report = sweep(POISONING, {"poison_rate": [0.01, 1.5]}, out, jobs=2, progress=False)
    assert [run.parameters for run in report["done"]] == [{"poison_rate": 0.01}]
    (failed, reason), = report["failed"]
    assert failed.parameters == {"poison_rate": 1.5} and "poison rate must be a fraction in [0, 1]" in reason
    assert failed.notebook.exists() and not failed.results.exists()
    with open(report["csv"]) as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 1 and table[0]["poison_rate"] == "0.01"
    assert 0.9 < float(table[0]["backdoor_attack_success_rate"]) <= 1
    assert report["plot"].exists() and report["plot"].stat().st_size > 10_000
    assert os.getcwd() == working_directory   # parallel runs never move the test process

    again = sweep(POISONING, {"poison_rate": [0.01, 1.5]}, out, jobs=1, progress=False)
    assert [run.parameters for run in again["skipped"]] == [{"poison_rate": 0.01}]
    assert not again["done"] and len(again["failed"]) == 1
