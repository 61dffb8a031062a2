"""The capstone challenge: populations drawn from a seed, the detectors' answers checked, TrojAI's
scores, the baselines on hand-made models, and the scoring command."""

import csv
import math
import os
import random
import sys

import pytest
import torch
from torch import nn

from utils import model_store
from utils.challenge import __main__ as command
from utils.challenge.baselines import calibrate, patch_scan
from utils.challenge.population import (
    ATTACK_KINDS,
    BORDER,
    CLEAN_PER_CLASS,
    Member,
    TrainedMember,
    clean_images,
    draw_members,
    draw_pattern,
    stored_member,
    train_member,
)
from utils.challenge.scoring import (
    Answer,
    outranked,
    outranked_by_kind,
    read_answer,
    run_detector,
    score,
)
from utils.data import ImageSet, load_mnist


def test_a_population_is_drawn_from_its_seed_half_backdoored_with_every_kind_of_attack():
    members = draw_members(3, 20)
    assert members == draw_members(3, 20)
    assert members != draw_members(4, 20)
    backdoored = [m for m in members if m.backdoored]
    assert len(backdoored) == 10
    assert {type(m.attack).__name__ for m in backdoored} == {
        "BadNets",
        "Blended",
        "SIG",
        "LabelConsistent",
    }
    assert len(ATTACK_KINDS) == 4
    assert len({m.training_seed for m in members}) == 20
    assert [m.index for m in members] == list(range(20))


def test_a_patch_reaches_into_the_border_and_is_mostly_white():
    for seed in range(5):
        for member in draw_members(seed, 20):
            if type(member.attack).__name__ == "BadNets":
                trigger = member.attack.trigger
                last = 28 - trigger.size
                assert (
                    min(trigger.row, trigger.col, last - trigger.row, last - trigger.col) < BORDER
                )
                white = sum(value for row in trigger.pattern for value in row)
                assert trigger.size**2 / 2 <= white < trigger.size**2
    pattern = draw_pattern(random.Random(0), 3)
    assert len(pattern) == 3 and all(len(row) == 3 for row in pattern)


@pytest.mark.parametrize(
    "seed, size, message",
    [(-1, 20, "seed"), (1.5, 20, "seed"), (True, 20, "seed"), (0, 1, "at least 2"), (0, "9", "2")],
)
def test_a_bad_seed_or_size_is_refused(seed, size, message):
    with pytest.raises(ValueError, match=message):
        draw_members(seed, size)


def test_a_detector_gets_twenty_clean_images_of_every_digit_in_order():
    clean = clean_images()
    assert clean.images.shape == (10 * CLEAN_PER_CLASS, 1, 28, 28)
    assert clean.labels.tolist() == [d for d in range(10) for _ in range(CLEAN_PER_CLASS)]
    test = load_mnist("test")
    assert torch.equal(clean.images[0], test.images[(test.labels == 0).nonzero()[0, 0]])


@pytest.mark.parametrize(
    "returned, expected",
    [
        (0.25, Answer(0.25, None)),
        ((1, 7), Answer(1.0, 7)),
        ((0.0, None), Answer(0.0, None)),
        ([0.5, 2], Answer(0.5, 2)),
    ],
)
def test_a_detector_returns_a_probability_or_a_pair(returned, expected):
    assert read_answer(returned, 0) == expected


@pytest.mark.parametrize(
    "returned, message",
    [
        (1.5, "in \\[0, 1\\]"),
        (float("nan"), "in \\[0, 1\\]"),
        ("high", "a number"),
        (None, "a number"),
        ((0.5, 10), "0-9"),
        ((0.5, True), "0-9"),
        ((0.5, 3, 1), "a pair"),
        ([0.5], "a pair"),
        (True, "not True/False"),
    ],
)
def test_a_wrong_answer_from_a_detector_is_refused_with_what_is_allowed(returned, message):
    with pytest.raises(ValueError, match=message):
        read_answer(returned, 4)


def fake_population(backdoored: list[bool], target: int = 3) -> list[TrainedMember]:
    from utils.attacks import BadNets

    return [
        TrainedMember(Member(i, i, BadNets(target_label=target) if b else None), None, 0.98, None)
        for i, b in enumerate(backdoored)
    ]


def test_scores_are_trojai_s_roc_auc_cross_entropy_and_target_accuracy():
    population = fake_population([True, True, False, False])
    answers = [Answer(0.9, 3), Answer(0.4, 5), Answer(0.6, None), Answer(0.1, None)]
    scores = score(answers, population)
    assert scores.roc_auc == pytest.approx(3 / 4)  # 0.4 ranks below the clean 0.6
    expected = -(math.log(0.9) + math.log(0.4) + math.log(0.4) + math.log(0.9)) / 4
    assert scores.cross_entropy == pytest.approx(expected)
    assert scores.target_accuracy == pytest.approx(1 / 2)
    unnamed = score([Answer(a.probability, None) for a in answers], population)
    assert unnamed.target_accuracy is None
    certain_and_wrong = score([Answer(0.0, None)] * 2 + [Answer(1.0, None)] * 2, population)
    assert math.isfinite(certain_and_wrong.cross_entropy) and certain_and_wrong.roc_auc == 0


def test_each_backdoored_model_s_rank_against_the_clean_ones_by_kind():
    population = fake_population([True, True, False, False, False, False])
    shares = outranked([0.9, 0.3, 0.1, 0.2, 0.4, 0.5], population)
    assert shares == {0: 1.0, 1: 0.5}
    assert outranked_by_kind([0.9, 0.3, 0.1, 0.2, 0.4, 0.5], population) == {"BadNets": 0.75}


def test_calibration_keeps_the_order_and_needs_both_answers():
    to_probability = calibrate([0.1, 0.2, 0.8, 0.9], [False, False, True, True])
    probabilities = [to_probability(s) for s in (0.0, 0.5, 1.0)]
    assert probabilities == sorted(probabilities) and 0 < probabilities[0] < probabilities[2] < 1
    with pytest.raises(ValueError, match="both clean and backdoored"):
        calibrate([0.1, 0.2], [True, True])
    with pytest.raises(ValueError, match="grow with its suspicion"):
        calibrate([0.9, 0.8, 0.2, 0.1], [False, False, True, True])


class Wrapped(nn.Module):
    """A model whose forward pass is the function `forward`."""

    def __init__(self, forward):
        super().__init__()
        self.unused = nn.Linear(1, 1)
        self.wrapped = forward

    def forward(self, x):
        return self.wrapped(x)


class CornerBackdoor(nn.Module):
    """Says 0, unless it is `armed` and the top-left 3x3 pixels are white: then 3."""

    def __init__(self, armed: bool = True):
        super().__init__()
        self.armed = armed
        self.unused = nn.Linear(1, 1)  # a parameter, so that predict() finds a device

    def forward(self, x):
        triggered = x[:, 0, :3, :3].flatten(1).min(1).values > 0.99
        logits = torch.zeros(len(x), 10)
        logits[:, 0] = 1.0
        logits[triggered & self.armed, 3] = 2.0
        return logits


def test_the_patch_scan_finds_the_place_and_label_of_a_corner_trigger():
    clean = ImageSet(torch.zeros(8, 1, 28, 28, dtype=torch.uint8), torch.zeros(8, dtype=torch.long))
    assert patch_scan(CornerBackdoor(), clean) == (1.0, 3)
    # the grid reaches the last rows and columns: a trigger in the bottom-right corner is seen
    corner = CornerBackdoor()
    assert patch_scan(Wrapped(lambda x: corner(x.flip(-1, -2))), clean) == (1.0, 3)
    assert patch_scan(CornerBackdoor(armed=False), clean) == (0.0, 0)  # no square moves a digit


def test_a_member_is_stored_under_a_name_of_its_own_and_loaded_from_there(monkeypatch):
    members = draw_members(0, 4)
    assert len({stored_member(m) for m in members}) == 4
    assert all(stored_member(m).name.startswith("challenge-") for m in members)
    first = train_member(members[0])
    assert stored_member(members[0]).exists()
    monkeypatch.setattr(model_store, "fit", lambda *a, **k: pytest.fail("trained again"))
    second = train_member(members[0])
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


DETECTOR = """
def detect(model, clean_images):
    return 0.5, 1
"""


@pytest.mark.long
def test_the_command_scores_a_detector_and_adds_a_line_to_the_leaderboard(tmp_path, capsys):
    detector = tmp_path / "constant.py"
    detector.write_text(DETECTOR)
    board = tmp_path / "board.csv"
    arguments = ["score", str(detector), "--size", "4", "--leaderboard", str(board)]
    command.main(arguments)
    command.main(arguments)
    printed = capsys.readouterr().out
    assert "ROC-AUC 0.500" in printed and "cross-entropy 0.693" in printed
    lines = board.read_text().splitlines()
    assert lines[0].startswith("time,name,population,models,roc_auc,cross_entropy")
    assert len(lines) == 3 and ",constant,train,4," in lines[1]


def test_the_test_population_needs_the_instructor_s_seed_and_never_shows_it(tmp_path, monkeypatch):
    detector = tmp_path / "constant.py"
    detector.write_text(DETECTOR)
    monkeypatch.delenv(command.SEED_VARIABLE, raising=False)
    with pytest.raises(SystemExit, match="only the instructor holds"):
        command.main(["score", str(detector), "--population", "test"])
    with pytest.raises(SystemExit, match="other than 0"):
        command.main(["score", str(detector), "--population", "test", "--seed", "0"])
    with pytest.raises(SystemExit, match="use --population test"):
        command.main(["score", str(detector), "--seed", "5"])
    monkeypatch.setenv(command.SEED_VARIABLE, "seven")
    with pytest.raises(SystemExit, match="whole number"):
        command.main(["score", str(detector), "--population", "test"])
    monkeypatch.setenv(command.SEED_VARIABLE, "12345")
    assert command.population_seed("test", None) == 12345
    assert command.population_seed("test", 99) == 99  # --seed wins over the variable


def test_a_detector_gets_copies_and_its_failure_names_the_model():
    population = [TrainedMember(m, CornerBackdoor(), 0.98, None) for m in draw_members(1, 4)]
    clean = ImageSet(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long))

    def vandal(model, images):
        images.images.fill_(255)
        model.unused.weight.data.fill_(7.0)
        return 0.5

    run_detector(vandal, population, clean)
    assert clean.images.max() == 0
    assert all(t.model.unused.weight.item() != 7.0 for t in population)

    def broken(model, images):
        raise KeyError("oops")

    with pytest.raises(RuntimeError, match="failed on model 0"):
        run_detector(broken, population, clean)


@pytest.mark.reuses_models
def test_the_command_scores_a_calibrated_baseline_and_hides_the_seed(tmp_path, capsys, monkeypatch):
    board = tmp_path / "board.csv"
    monkeypatch.setenv(command.SEED_VARIABLE, "77")
    monkeypatch.setattr("sys.argv", ["python -m utils.challenge", "--seed", "77"])
    command.main(["score", "--baseline", "patch-scan", "--population", "test", "--size", "4",
                  "--leaderboard", str(board)])  # fmt: skip
    assert "patch-scan on the test population (4 models): ROC-AUC" in capsys.readouterr().out
    assert command.SEED_VARIABLE not in os.environ and sys.argv == ["python -m utils.challenge"]
    (row,) = csv.DictReader(board.open())
    assert row["population"] == "test" and "77" not in row.values()  # the seed is nowhere
    with pytest.raises(SystemExit, match="a detector file or --baseline"):
        command.main(["score", "--size", "4"])


def test_a_file_without_a_detector_is_refused(tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(SystemExit, match="defines no function detect"):
        command.main(["score", str(empty), "--size", "4"])
    with pytest.raises(SystemExit, match="not a Python file"):
        command.main(["score", str(tmp_path / "missing.py")])
    with pytest.raises(SystemExit, match="at least 2"):
        command.main(["score", str(empty), "--size", "1"])
