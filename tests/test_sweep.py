"""The papermill sweep: the grid is checked first, failures are kept apart, finished runs are not
repeated; a real local Dask cluster gives the probe notebook's figures, and shards the same table
as one local run; results aggregate over seeds; notebooks 05 and 06 run against another attack,
as a sweep over attacks runs them."""

import csv
import importlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from notebook_runs import run_papermill
from utils.sweep import (
    SweepError,
    check_grid,
    main,
    notebook_parameters,
    plan,
    run_notebook,
    shard,
    sweep,
)
from utils.sweep.local import collect

pytestmark = pytest.mark.reuses_models

POISONING = Path(__file__).resolve().parent.parent / "notebooks" / "02_poisoning.ipynb"
PROBE = Path(__file__).resolve().parent / "sweep_probe" / "probe.ipynb"  # answers in a moment
execute_module = importlib.import_module("utils.sweep.execute")


def test_the_notebooks_parameters_are_read_with_their_defaults():
    defaults = notebook_parameters(POISONING)
    assert (
        defaults["poison_rate"] == 0.01
        and defaults["seed"] == 0
        and defaults["results_path"] is None
    )


@pytest.mark.parametrize(
    "grid, message",
    [
        (
            {"poison_rat": [0.01]},
            r"no parameter 'poison_rat'; its parameters are: poison_rate=0.01, .*seed=0",
        ),
        ({"seed": [0.5]}, r"seed=0.5 is a float, but the notebook's default 0 is a int"),
        ({"poison_rate": ["high"]}, r"poison_rate='high' is a str"),
        ({"results_path": ["x.json"]}, "set by the sweep itself"),
        ({"seed": []}, "needs at least one value"),
    ],
)
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


GRID = {"poison_rate": [0.01, 1.5]}  # 1.5 fails on purpose


def table_of(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_a_small_real_sweep_keeps_the_good_runs_and_reports_the_failed_one(tmp_path):
    out, working_directory = tmp_path / "sweep", os.getcwd()
    report = sweep(POISONING, GRID, out, jobs=2, progress=False)
    assert os.getcwd() == working_directory  # parallel runs never move the test process
    assert [run.parameters for run in report["done"]] == [{"poison_rate": 0.01}]
    ((failed, reason),) = report["failed"]
    assert (
        failed.parameters == {"poison_rate": 1.5}
        and "poison rate must be a fraction in [0, 1]" in reason
    )
    assert failed.notebook.exists() and not failed.results.exists()
    with open(report["csv"]) as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 1 and table[0]["poison_rate"] == "0.01"
    assert 0.9 < float(table[0]["backdoor_attack_success_rate"]) <= 1
    assert report["plot"].exists() and report["plot"].stat().st_size > 10_000

    again = sweep(POISONING, GRID, out, jobs=1, progress=False)
    assert [run.parameters for run in again["skipped"]] == [{"poison_rate": 0.01}]
    assert not again["done"] and len(again["failed"]) == 1


def test_shards_split_the_grid_into_disjoint_slices_that_cover_it(tmp_path):
    runs = plan({"poison_rate": [0.01, 0.02, 0.05], "seed": [0, 1, 2]}, tmp_path)
    slices = [shard(runs, index, 4) for index in (1, 2, 3, 4)]
    assert sorted(run.folder for part in slices for run in part) == sorted(
        run.folder for run in runs
    )
    assert [len(part) for part in slices] == [3, 2, 2, 2]
    assert shard(runs, 2, 4) == shard(
        plan({"poison_rate": [0.01, 0.02, 0.05], "seed": [0, 1, 2]}, tmp_path), 2, 4
    )
    for index, count in ((0, 2), (3, 2), (1, 0)):
        with pytest.raises(SweepError, match="a shard is I/N"):
            shard(runs, index, count)
    assert (
        main([str(POISONING), "-p", "seed", "0", "--shard", "two/4", "-o", str(tmp_path / "x")])
        == 2
    )


def test_shards_then_collect_give_the_same_table_as_one_local_run(tmp_path, capsys):
    grid = ["-p", "x", "1.0", "-1.0", "-p", "seed", "0", "1", "-j", "2"]
    # x = -1 fails, on purpose
    assert main([str(PROBE), *grid, "-o", str(tmp_path / "local")]) == 1
    out = tmp_path / "sharded"
    assert main([str(PROBE), *grid, "-o", str(out), "--shard", "1/2"]) == 1
    # the second shard has not run
    assert main(["--collect", "-o", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "missing: {'x': 1.0, 'seed': 1} (not run yet" in printed
    assert "missing: {'x': -1.0, 'seed': 0} (failed, executed notebook kept" in printed
    assert main([str(PROBE), *grid, "-o", str(out), "--shard", "2/2"]) == 1
    # only the failed runs missing
    assert main(["--collect", "-o", str(out)]) == 1
    assert capsys.readouterr().out.count("missing: {'x': -1.0") == 2
    assert table_of(out / "results.csv") == table_of(tmp_path / "local" / "results.csv")
    assert len(table_of(out / "results.csv")) == 2


def test_a_real_local_dask_cluster_gives_the_probes_results_and_keeps_the_failed_notebook(tmp_path):
    grid = {"x": [1.0, -1.0], "seed": [0, 1]}  # x = -1 fails, on purpose
    environment = dict(os.environ)
    report = sweep(PROBE, grid, tmp_path / "dask", jobs=2, scheduler="local", progress=False)
    # the cluster's nanny settings do not leak into later kernels
    assert dict(os.environ) == environment
    assert sorted(run.parameters["seed"] for run in report["done"]) == [0, 1]
    assert all(run.parameters["x"] == 1.0 for run in report["done"])
    assert len(report["failed"]) == 2
    for failed, reason in report["failed"]:
        assert "x must be >= 0, got -1.0" in reason and failed.notebook.exists()
    # 0.1 x + 0.01 seed
    assert table_of(report["csv"]) == [
        {"x": "1.0", "seed": "0", "value": "0.1", "half": "0.05"},
        {"x": "1.0", "seed": "1", "value": "0.11", "half": "0.055"},
    ]


def test_a_worker_killed_mid_run_loses_no_other_result_and_a_second_call_completes_the_grid(
    tmp_path,
):
    out, grid = tmp_path / "killed", {"x": [1.0, 2.0, 3.0, 4.0], "seconds": [2.0]}
    killed = []

    def kill_a_worker_once_a_notebook_runs():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for child in psutil.Process().children(recursive=True):
                try:
                    if "papermill" in " ".join(child.cmdline()):
                        # the Dask worker process that runs this task
                        worker = child.parent()
                        time.sleep(2)
                        worker.send_signal(signal.SIGKILL)
                        killed.append(worker.pid)
                        return
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_worker_once_a_notebook_runs)
    killer.start()
    first = sweep(PROBE, grid, out, jobs=2, scheduler="local", progress=False)
    killer.join()
    assert killed
    # every run is accounted for
    assert len(first["done"]) + len(first["failed"]) == 4
    # the other worker's runs are kept
    assert len(first["done"]) >= 2
    second = sweep(PROBE, grid, out, jobs=2, scheduler="local", progress=False)
    assert not second["failed"] and len(second["skipped"]) == len(first["done"])
    assert len(table_of(second["csv"])) == 4


def test_results_aggregate_over_seeds_with_mean_spread_and_count(tmp_path):
    grid = {"poison_rate": [0.01, 0.02], "seed": [0, 1, 2]}
    out = tmp_path / "seeds"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"notebook": "n.ipynb", "grid": grid}))
    # (0.02, 2) never finished
    asr = {(0.01, 0): 0.9, (0.01, 1): 0.95, (0.01, 2): 1.0, (0.02, 0): 0.5, (0.02, 1): 0.7}
    for run in plan(grid, out):
        key = (run.parameters["poison_rate"], run.parameters["seed"])
        if key in asr:
            run.folder.mkdir(parents=True)
            run.results.write_text(
                json.dumps({"attack_success_rate": asr[key], "poisoned_samples": 600, "note": "x"})
            )
    report = collect(out, over="seed")
    rows = {row["poison_rate"]: row for row in table_of(report["aggregate_csv"])}
    assert float(rows["0.01"]["attack_success_rate_mean"]) == pytest.approx(0.95)
    assert float(rows["0.01"]["attack_success_rate_std"]) == pytest.approx(0.05)
    assert (rows["0.01"]["attack_success_rate_min"], rows["0.01"]["attack_success_rate_max"]) == (
        "0.9",
        "1.0",
    )
    assert (
        rows["0.02"]["attack_success_rate_count"] == "2"
        and float(rows["0.02"]["attack_success_rate_mean"]) == 0.6
    )
    assert "note_mean" not in rows["0.01"] and "seed" not in rows["0.01"]
    assert [run.parameters for run in report["missing"]] == [{"poison_rate": 0.02, "seed": 2}]
    assert report["aggregate_plot"].stat().st_size > 10_000
    with pytest.raises(SweepError, match="cannot aggregate over 'rate'"):
        sweep(PROBE, {"seed": [0]}, tmp_path / "x", over="rate")


class FakePapermill:
    """Stands in for papermill's process: each call does what the next outcome says."""

    def __init__(self, outcomes):
        self.outcomes, self.calls = list(outcomes), 0

    def __call__(self, command, **options):
        self.calls += 1
        self.env = options["env"]
        outcome, notebook = self.outcomes.pop(0), Path(command[4])
        results = Path(json.loads(command[-1])["results_path"])
        if outcome == "kernel did not start":
            return subprocess.CompletedProcess(
                command, 1, "", "zmq.error.ZMQError: Address already in use"
            )
        cell = {"cell_type": "code", "execution_count": 1, "outputs": []}
        if outcome == "notebook error":
            cell["outputs"] = [
                {"output_type": "error", "ename": "ValueError", "evalue": "bad rate"}
            ]
        notebook.write_text(json.dumps({"cells": [cell]}))
        if outcome == "ok":
            results.write_text("{}")
        return subprocess.CompletedProcess(command, 0 if outcome == "ok" else 1, "", "")


@pytest.mark.parametrize(
    "outcomes, calls, error",
    [
        (["kernel did not start", "ok"], 2, None),
        (
            ["kernel did not start"] * 3,
            3,
            "the kernel did not start (3 tries): zmq.error.ZMQError: Address already in use",
        ),
        (["notebook error", "ok"], 1, "ValueError: bad rate"),
    ],
)
def test_only_a_run_whose_kernel_never_started_is_retried(
    tmp_path, monkeypatch, outcomes, calls, error
):
    fake = FakePapermill(outcomes)
    monkeypatch.setattr(execute_module.subprocess, "run", fake)
    monkeypatch.setattr(execute_module.time, "sleep", lambda seconds: None)
    (run,) = plan({"seed": [0]}, tmp_path)
    assert run_notebook(PROBE, run) == error
    assert fake.calls == calls


def test_a_notebook_on_a_dask_worker_runs_without_the_nannys_memory_and_thread_settings(
    tmp_path, monkeypatch
):
    from utils.sweep.cluster import run_on_worker

    fake = FakePapermill(["ok"])
    monkeypatch.setattr(execute_module.subprocess, "run", fake)
    # what Dask's nanny sets in its worker processes
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (run,) = plan({"seed": [0]}, tmp_path)
    assert run_on_worker(PROBE, run, {"BACKDOOR_LAB_THREADS": "1"}) is None
    assert "MALLOC_TRIM_THRESHOLD_" not in fake.env and "OMP_NUM_THREADS" not in fake.env
    assert fake.env["BACKDOOR_LAB_THREADS"] == "1" and fake.env["PATH"] == os.environ["PATH"]


def test_notebooks_05_and_06_run_their_defenses_against_another_attack(tmp_path):
    """The sweep over attacks: notebooks 05 and 06 with the blended attack, 06 with a small
    defender's budget."""
    small_budget = {"reserve_size": 2000, "cleanse_steps": 40, "strip_inputs": 400}
    results = {}
    for notebook, budget in (
        ("05_finding_poisoned_samples", {}),
        ("06_trigger_search_and_repair", small_budget),
    ):
        results[notebook] = tmp_path / f"{notebook}.json"
        options = [
            option
            for name, value in {
                "attack": "blended",
                **budget,
                "results_path": results[notebook],
            }.items()
            for option in ("-p", name, str(value))
        ]
        run_papermill(
            POISONING.parent / f"{notebook}.ipynb", tmp_path / f"{notebook}.ipynb", *options
        )
    data = json.loads(results["05_finding_poisoned_samples"].read_text())
    assert data["attack"] == "blended" and data["asr_before"] > 0.9
    # with seed 0, no small cluster among the 8s (other seeds can have one: notebook 08)
    assert 8 not in data["ac_suspicious_labels"]
    repair = json.loads(results["06_trigger_search_and_repair"].read_text())
    assert repair["attack"] == "blended" and repair["asr_before"] > 0.9
    assert repair["asr_after_fine_pruning"] < repair["asr_before"]
