"""A solution cell records its figures for the seed benchmark and prints their range."""

import json

import pytest

from utils import seeds, solutions
from utils.experiments import RESULTS_DIR_VARIABLE


def test_a_solution_records_its_figures_and_prints_their_range(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(RESULTS_DIR_VARIABLE, str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    measured = {
        "seeds": [0, 1, 2],
        "notebooks": {"07_x": {"1": {"ASR": {"0": 0.25, "1": 0.31, "2": 0.2}}}},
    }
    (tmp_path / "solutions.json").write_text(json.dumps(measured))
    monkeypatch.setattr(seeds, "RESULTS_DIR", tmp_path)

    solutions.solution_figures("07_x", 1, {"ASR": 0.25, "new": 3.0}, "{:.1%}")
    solutions.solution_figures("07_x", 2, {"count": 12}, "{:.0f}")
    solutions.solution_figures("07_x", 2, {"points": -0.5}, "{:+.1f}")  # a second call adds

    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "ASR: 25.0% in this run (seeds 0-2 at the default settings: 20.0% to 31.0%)",
        "new: 300.0% in this run (its range over seeds is not measured yet)",
        "count: 12 in this run (its range over seeds is not measured yet)",
        "points: -0.5 in this run (its range over seeds is not measured yet)",
    ]
    recorded = json.loads((tmp_path / "run" / "07_x.solutions.json").read_text())
    assert recorded == {"1": {"ASR": 0.25, "new": 3.0}, "2": {"count": 12.0, "points": -0.5}}


def test_a_solution_without_figures_is_refused():
    with pytest.raises(ValueError, match="at least one figure"):
        solutions.solution_figures("07_x", 1, {})
