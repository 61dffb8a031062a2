"""What the notebooks' text says, checked against the figures of a fresh run.

Each notebook writes its key figures as JSON when it runs (see conftest.py). In the full
test command nbval has just executed every notebook, so these tests read its figures; run
alone, a test executes its notebook with papermill first. The claims are seed 0's, as the
text says; the seed-dependent ones are checked over seeds by benchmarks/seeds.py.
"""

import json
import math
import os
from pathlib import Path

from notebook_runs import run_papermill
from utils.experiments import RESULTS_DIR_VARIABLE

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def figures(name: str) -> dict:
    folder = Path(os.environ[RESULTS_DIR_VARIABLE])
    path = folder / f"{name}.json"
    if not path.exists():
        executed = folder / f"{name}.ipynb"
        run_papermill(NOTEBOOKS / f"{name}.ipynb", executed, "-p", "results_path", str(path))
    return json.loads(path.read_text())


def test_01_the_clean_model_is_right_about_99_times_in_100():
    assert figures("01_clean_training")["clean_accuracy"] >= 0.985


def test_02_the_backdoored_model_is_within_a_few_tenths_of_the_clean_one():
    result = figures("02_poisoning")
    assert result["poisoned_samples"] == 600
    assert abs(result["clean_accuracy"] - result["backdoor_clean_accuracy"]) < 0.005
    assert result["backdoor_attack_success_rate"] > 0.9


def test_03_for_every_seed_clean_accuracy_holds_and_the_trigger_wins():
    rows = figures("03_triggered_evaluation")["seeds"]
    assert len(rows) >= 3
    for row in rows:   # the sign of the difference depends on the machine and thread count, the size does not
        assert abs(row["clean_model_accuracy"] - row["clean_accuracy"]) < 0.005, row
        assert row["attack_success_rate"] > 0.9, row
        assert row["article_metric"] > row["attack_success_rate"], row   # the real 8s inflate it


def test_03_the_backdoor_switches_on_between_a_quarter_and_one_percent():
    sweep = {row["poison_rate"]: row for row in figures("03_triggered_evaluation")["sweep"]}
    assert sweep[0.001]["attack_success_rate"] < 0.05              # does nothing
    assert sweep[0.0025]["attack_success_rate"] < 0.5              # barely works
    assert sweep[0.01]["attack_success_rate"] > 0.9                # works
    switch = min(rate for rate, row in sweep.items() if row["attack_success_rate"] > 0.9)
    assert 0.0025 < switch <= 0.01
    assert sweep[0.05]["attack_success_rate"] < sweep[0.02]["attack_success_rate"]       # the dip
    assert sweep[0.02]["clean_accuracy"] - sweep[0.05]["clean_accuracy"] > 0.01          # more than a point


def test_04_the_sticker_works_on_stop_signs_and_rarely_elsewhere():
    result = figures("04_street_signs")
    assert result["attack_success_rate"] > 0.9
    assert result["false_trigger_rate"] < 0.1
    assert abs(result["clean_accuracy"] - result["backdoor_clean_accuracy"]) < 0.002
    variants = result["variants"]
    source_specific = variants["sticker on the sign, stop signs only (above)"]
    all_to_one = variants["sticker on the sign, all signs (all-to-one)"]
    corner = variants["patch in the image corner, stop signs only"]
    assert all_to_one["attack_success_rate"] < source_specific["attack_success_rate"]
    assert all_to_one["false_trigger_rate"] > 0.5                 # on other signs it works as intended
    assert corner["false_trigger_rate"] > source_specific["false_trigger_rate"]
    sizes = result["success_by_size"]
    assert sizes["0.1"] < 0.5 < sizes["0.2"]                     # half the size: the sticker fails


def test_05_which_defense_finds_what():
    result = figures("05_defenses")
    assert result["ac_recall"] > 0.95 and 8 in result["ac_suspicious_labels"]
    assert result["ss_recall"] < 0.5                              # spectral signatures fail here
    assert result["nc_flagged_labels"] == [8] and result["nc_flagged_label"] == 8
    assert result["nc_clean_model_flagged"] == []                 # seed 0; not so for every seed
    row, col = result["nc_mask_peak"]
    assert max(abs(row - 3), abs(col - 3)) <= 2                   # near the trigger, as for every seed
    assert result["strip_far"] < 0.1 and result["strip_frr_held_out"] < 0.05
    assert result["asr_after_fine_tuning"] > 0.5                  # fine-tuning alone fails
    assert result["asr_after_fine_pruning"] < 0.1                 # fine-pruning works
    assert result["clean_accuracy_before"] - result["clean_accuracy_after_fine_pruning"] < 0.005
    assert not math.isnan(result["asr_before"])


def test_06_the_clean_label_attacks_relabel_nothing_and_the_others_almost_everything():
    result = figures("06_stealthier_backdoors")
    for name in ("label-consistent", "SIG"):
        assert result["relabelled"][name] == 0 and result["poisoned_samples"][name] > 1000
    for name in ("BadNets", "Blended"):
        assert result["relabelled"][name] >= 0.85 * result["poisoned_samples"][name]


def test_06_blended_and_label_consistent_work_and_sig_barely_does():
    result = figures("06_stealthier_backdoors")
    matrix, clean = result["matrix"], result["clean_model_accuracy"]
    assert matrix["Blended"]["attack_success_rate"] >= 0.9
    assert clean - matrix["Blended"]["clean_accuracy"] < 0.005
    assert abs(matrix["Blended"]["clean_accuracy"] - matrix["BadNets"]["clean_accuracy"]) < 0.005
    assert matrix["label-consistent"]["attack_success_rate"] >= 0.8
    assert matrix["SIG"]["attack_success_rate"] < 0.5


def test_06_pgd_makes_the_poisoned_eights_hard_and_the_backdoor_take():
    result = figures("06_stealthier_backdoors")
    assert result["still_eight_without_pgd"] >= 0.95 and result["still_eight_with_pgd"] <= 0.1
    assert result["no_pgd_asr"] < 0.5 and result["pgd_asr"] - result["no_pgd_asr"] > 0.3


def test_06_the_matrix_reads_as_the_text_says():
    result = figures("06_stealthier_backdoors")
    verdicts, matrix = result["verdicts"], result["matrix"]
    for attack in verdicts:                                   # no column all red
        assert "caught" in verdicts[attack].values(), attack
    for defense in verdicts["BadNets"]:                       # every row but Neural Cleanse's has a miss
        missed = any(verdicts[attack][defense] != "caught" for attack in verdicts)
        assert missed == (defense != "neural_cleanse"), defense
    assert verdicts["BadNets"]["activation_clustering"] == "caught"
    assert all(verdicts[name]["activation_clustering"] == "missed" for name in ("Blended", "label-consistent", "SIG"))
    assert verdicts["BadNets"]["spectral_signatures"] == "missed"
    assert matrix["BadNets"]["whitened_spectral"] >= 0.9 and verdicts["Blended"]["whitened_spectral"] == "caught"
    cap = 1.5 * 0.1 * 5851 / result["poisoned_samples"]["label-consistent"]   # 15% of the 8s, over the poisoned 8s
    assert matrix["label-consistent"]["whitened_spectral"] <= cap + 1e-6
    assert verdicts["BadNets"]["strip"] == "caught" and verdicts["SIG"]["strip"] == "missed"
    assert verdicts["Blended"]["strip"] == "missed" and matrix["Blended"]["strip"] < 0.5    # "two thirds passed"
    assert all(2 < matrix[name]["neural_cleanse"] < 2.5 for name in ("Blended", "SIG"))     # "just above 2"
    assert matrix["Blended"]["fine_pruning"] > matrix["BadNets"]["fine_pruning"]
