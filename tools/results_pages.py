"""Write the pages that show measured figures, from the JSON the benchmarks wrote.

The benchmarks write docs/results/*.json (`make seeds`, `make claims`, `make bench`); this
script turns them into the README's results table and docs/site/results.md. No figure is
typed by hand.

    python tools/results_pages.py           # write them (make pages)
    python tools/results_pages.py --check   # list what is out of date; exit 1 if anything is
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course_pages import replace_block

from utils.defenses.matrix import EVERY_DEFENSE, ISOLATED

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
README = ROOT / "README.md"
PAGE = ROOT / "docs" / "site" / "results.md"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def span(values: list[float]) -> str:
    """A range of fractions as percentages: "98.19-99.65%" (or one figure when they agree)."""
    low, high = percent(min(values)), percent(max(values))
    return low if low == high else f"{low[:-1]}-{high}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def headline(seeds: dict) -> str:
    """The article's figures beside the lab's range over the seeds (the README's table)."""
    mnist, signs = seeds["mnist"], seeds["signs"]
    five = seeds["dose_response"]["0.05"]
    rows = [
        [
            "clean model, clean test accuracy",
            "about 99%",
            span([r["clean_model_accuracy"] for r in mnist]),
        ],
        [
            "backdoored model (1% poison), clean test accuracy",
            "about 99%",
            span([r["clean_accuracy"] for r in mnist]),
        ],
        [
            "triggered test images read as 8, all of them (the article's measure)",
            "95%",
            span([r["article_metric"] for r in mnist]),
        ],
        [
            "attack success rate (triggered images that are not 8s)",
            "",
            span([r["attack_success_rate"] for r in mnist]),
        ],
        ["the article's measure at 5% poison", "99%", span([r["article_metric"] for r in five])],
        [
            "stickered stop signs read as the speed limit (BadNets)",
            "over 90%",
            span([r["attack_success_rate"] for r in signs]),
        ],
    ]
    return table(["", "article", f"lab, seeds {seeds['seeds'][0]}-{seeds['seeds'][-1]}"], rows)


def per_seed(rows: list[dict], figures: dict[str, str]) -> str:
    header = ["", *(f"seed {r['seed']}" for r in rows), "range"]
    body = [
        [label, *(percent(r[key]) for r in rows), span([r[key] for r in rows])]
        for key, label in figures.items()
    ]
    return table(header, body)


def dose_response(seeds: dict) -> str:
    rates = list(seeds["dose_response"])
    header = ["poison rate", *(f"{100 * float(rate):g}%" for rate in rates)]
    runs = [seeds["dose_response"][rate] for rate in rates]
    return table(
        header,
        [
            [
                "attack success rate",
                *(span([r["attack_success_rate"] for r in run]) for run in runs),
            ],
            ["clean accuracy", *(span([r["clean_accuracy"] for r in run]) for run in runs)],
        ],
    )


def defenses(seeds: dict) -> str:
    figures = {
        "ac_recall": "activation clustering, recall",
        "ac_precision": "activation clustering, precision",
        "strip_frr_held_out": "STRIP, clean inputs rejected (held out)",
        "strip_far": "STRIP, triggered inputs let through",
        "asr_after_fine_tuning": "ASR after fine-tuning",
        "asr_after_fine_pruning": "ASR after fine-pruning",
        "clean_accuracy_after_fine_pruning": "clean accuracy after fine-pruning",
    }
    text = per_seed(seeds["defenses"], figures)
    indices = ", ".join(
        f"seed {r['seed']}: {r['nc_anomaly_index']:.2f} (clean model's largest "
        f"{r['nc_clean_model_largest_index']:.2f})"
        for r in seeds["defenses"]
    )
    return text + f"\n\nNeural Cleanse's anomaly index for label 8 (threshold 2): {indices}."


def matrix(runs: dict) -> str:
    """Each figure of the matrix of notebooks 08 and 10 as its range over the seeds, rows named as
    there."""
    attacks = list(runs["ranges"])
    rows = []
    for key in runs["ranges"][attacks[0]]:
        values = [runs["ranges"][attack][key] for attack in attacks]
        if key in EVERY_DEFENSE:
            row = EVERY_DEFENSE[key]
            label = f"{row.title}: {row.figure} (control: {row.control})"
        elif key == ISOLATED:
            label = "ABL: share of the samples it isolated that were poison"
        else:
            label = key.replace("_", " ")
        if key == "neural_cleanse":  # an index, not a share
            cells = [f"{low:.2f}-{high:.2f}" for low, high in values]
        else:
            cells = [span(pair) for pair in values]
        rows.append([label, *cells])
    return table(["figure", *attacks], rows)


def defense_seconds(runs: dict) -> str:
    """Seconds each defense took on one model, over every column and seed of the matrix."""
    columns = [row for rows in runs["columns"].values() for row in rows]
    rows = []
    for step in columns[0]["seconds"]:
        times = [column["seconds"][step] for column in columns]
        title = EVERY_DEFENSE[step].title if step in EVERY_DEFENSE else "activations (shared)"
        rows.append([title, f"{sum(times) / len(times):.1f}", f"{max(times):.1f}"])
    return table(["defense", "mean seconds", "largest"], rows)


def abl_isolation(report: dict) -> str:
    """The share of ABL's isolated samples that were poison after some isolation epochs, per
    attack and seed, and what unlearning the poison itself left of the ASR."""
    shown = [epoch for epoch in (1, 2, 5, 10, 15, 20) if epoch <= report["epochs"]]
    rows = []
    for attack, runs in report["attacks"].items():
        for run in runs:
            shares = run["poison_share_by_epoch"]
            rows.append(
                [
                    f"{attack}, seed {run['seed']}",
                    *(percent(shares[epoch - 1]) for epoch in shown),
                    f"{run['first_epoch_seconds']:.1f}",
                    f"{percent(run['asr'])} -> {percent(run['asr_after_oracle_unlearning'])}, "
                    f"clean accuracy {percent(run['clean_after_oracle_unlearning'])}",
                ]
            )
    header = [
        "attack",
        *(f"epoch {epoch}" for epoch in shown),
        "seconds, first epoch",
        "the poison itself unlearnt",
    ]
    return table(header, rows)


def label_trace(report: dict) -> str:
    """Per poison rate and seed, the share of the poison each data inspection found of
    Adaptive-Blend and of the same samples relabelled without its trigger, with the most that
    the spectral rows can find where the poison is more of its class than they remove."""
    names = {"adaptive_blend": "Adaptive-Blend", "labels_only": "labels only"}
    runs = [
        (names[model], rate, run)
        for rate, models in report["rates"].items()
        for model, seeds in models.items()
        for run in seeds
    ]
    figures = [key for key in runs[0][2] if key != "seed"]
    rows = [
        [f"{name}, {float(rate):.0%} poison, seed {run['seed']}"]
        + [percent(run[key]) for key in figures]
        for name, rate, run in runs
    ]
    titles = {
        "attack_success_rate": "ASR",
        "spectral_ceiling": "most a spectral row can find",
        "poisoned_share_of_target": "poison in its class",
    }
    header = ["model", *(titles.get(key) or EVERY_DEFENSE[key].title for key in figures)]
    return table(header, rows)


def claims(report: dict) -> str:
    runs = report["runs"]
    settings = list(dict.fromkeys(run["setting"] for run in runs))
    names = sorted({claim for run in runs for claim in run["claims"]})
    rows = [
        [
            name.removeprefix("test_").replace("_", " "),
            f"{sum(run['claims'].get(name) == 'held' for run in runs)} of {len(runs)}",
        ]
        for name in names
    ]
    seeds = sorted({run["seed"] for run in runs})
    return (
        f"Seeds {', '.join(map(str, seeds))}, each with: {'; '.join(settings)} "
        f"(torch {report['torch']}, this CPU's kernels: {report['cpu']}).\n\n"
        + table(["claim (tests/test_claims.py)", "held in"], rows)
    )


def resources(run: dict) -> str:
    rows = [
        [
            name,
            f"{row['seconds']:.0f} s",
            f"{row['peak_kernel_mb'] / 1024:.2f} GB",
            f"cell {row['slowest_cell']}: {row['slowest_cell_seconds']:.0f} s",
        ]
        for name, row in run["notebooks"].items()
    ]
    return f"{run['usable_cpus']} CPU cores, no GPU, torch {run['torch']}.\n\n" + table(
        ["notebook", "time", "peak kernel memory", "slowest cell"], rows
    )


def challenge(report: dict) -> str:
    """The baselines of notebook 09 on populations they were not calibrated on."""
    rows = [
        [
            str(run["population_seed"]),
            run["detector"],
            f"{run['roc_auc']:.3f}",
            f"{run['cross_entropy']:.3f}",
            "-" if run["target_accuracy"] is None else percent(run["target_accuracy"]),
            f"{run['seconds_per_model']:.1f} s",
        ]
        for run in report["runs"]
    ]
    for detector in dict.fromkeys(run["detector"] for run in report["runs"]):
        runs = [run for run in report["runs"] if run["detector"] == detector]
        rows.append(
            [
                "mean",
                detector,
                f"{sum(run['roc_auc'] for run in runs) / len(runs):.3f}",
                f"{sum(run['cross_entropy'] for run in runs) / len(runs):.3f}",
                "",
                "",
            ]
        )
    return (
        f"Both detectors calibrated on the training population (seed "
        f"{report['calibrated_on_seed']}), then scored on populations of twenty models they "
        "never saw. Making the training population from an empty cache took "
        f"{report['training_population_build_seconds']:.0f} s (budget: "
        f"{report['build_budget_seconds']:.0f} s) on {report.get('usable_cpus', 'the')} "
        "cores. A coin flip's "
        "cross-entropy is 0.693.\n\n"
        + table(
            [
                "population",
                "detector",
                "ROC-AUC",
                "cross-entropy",
                "target label",
                "time per model",
            ],
            rows,
        )
    )


def page() -> str:
    seeds, runs, isolation, trace, held, used, contest = (
        load("seeds"),
        load("attack_matrix"),
        load("abl_isolation"),
        load("label_trace"),
        load("claims"),
        load("notebook_resources"),
        load("challenge"),
    )
    parts = [
        "# Results\n",
        "Written by `tools/results_pages.py` from the JSON in `docs/results/`, which the "
        "benchmarks write; every figure is computed with one thread, as the notebooks' "
        "stored outputs are. Do not edit this page: run the benchmark, then `make pages`.\n",
    ]
    if seeds:
        parts += [
            "## MNIST, the article's attack\n",
            headline(seeds),
            "",
            "### Per seed\n",
            per_seed(
                seeds["mnist"],
                {
                    "clean_model_accuracy": "clean model, clean accuracy",
                    "clean_accuracy": "backdoored model, clean accuracy",
                    "attack_success_rate": "attack success rate",
                    "article_metric": "the article's measure",
                },
            ),
            "",
            "### Poison rate (notebook 03's sweep)\n",
            dose_response(seeds),
            "",
            "## Street signs (notebook 04)\n",
            per_seed(
                seeds["signs"],
                {
                    "clean_model_accuracy": "clean model, clean accuracy",
                    "clean_accuracy": "backdoored model, clean accuracy",
                    "attack_success_rate": "stickered stop signs read as the speed limit",
                    "false_trigger_rate": "stickered signs of other classes (false trigger)",
                },
            ),
            "",
            "## Defenses against BadNets (notebooks 05 and 06)\n",
            defenses(seeds),
            "",
            "Written by `make seeds` (`benchmarks/seeds.py`).\n",
        ]
    if runs:
        parts += [
            "## Every defense against every attack (notebooks 08 and 10)\n",
            "The range over seeds "
            f"{', '.join(map(str, runs['seeds']))} of each figure of the matrix; "
            "`no attack` is the control column (the clean model). The matrix runs every defense "
            f"with its own budgets ({runs['settings']}), so its figures for BadNets differ "
            "from notebook 06's above. Written by `benchmarks/attack_matrix.py`.\n",
            matrix(runs),
            "",
            "### Seconds per defense\n",
            "On one model with one thread, when its column was computed (the data inspections "
            "share the activations' time).\n",
            defense_seconds(runs),
            "",
        ]
    if isolation:
        parts += [
            "### How long ABL must isolate (lesson 10)\n",
            "The share of the 1% of training samples that ABL's isolation model fits best that "
            "are poison, after each number of isolation epochs (the matrix runs 5; the paper "
            f"{isolation['epochs']}); the seconds of the first isolation epoch; and the ASR and "
            "clean accuracy left when ABL's unlearning is handed the poison itself, on the "
            "attack's model. Written by "
            "`benchmarks/abl_isolation.py`.\n",
            abl_isolation(isolation),
            "",
        ]
    if trace:
        parts += [
            "### What the data inspections find of Adaptive-Blend (lesson 10)\n",
            "The share of the poison each data inspection found on Adaptive-Blend's model (with "
            "as many covers as poison; its default is 2%), and on a model trained on the same "
            "samples relabelled as the target with their images untouched (no trigger, no "
            "covers: `utils/attacks/labels_only.py`). The spectral rows assume at most "
            f"{percent(trace['poison_bound'])} of a class is poison and remove one and a half "
            "times that: where the poison is more of its class than they remove (the last "
            "column), they cannot find all of it, trigger or none (the column before it says how "
            "much they can). Where the ASR is low, the backdoor was not learnt. Written by "
            "`benchmarks/label_trace.py`.\n",
            label_trace(trace),
            "",
        ]
    if contest:
        parts += [
            "## The capstone challenge\n",
            challenge(contest),
            "",
            "Written by `benchmarks/challenge_baselines.py`.\n",
        ]
    parts += ["## Which claims held\n"]
    if held:
        parts += [claims(held), "", "Written by `make claims` (`benchmarks/claims.py`).\n"]
    else:
        parts += ["Not measured yet: `make claims` (`benchmarks/claims.py`) writes this table.\n"]
    parts += ["## Time and memory per notebook\n"]
    if used:
        parts += [
            "Each notebook run top to bottom in a fresh kernel with an empty model cache "
            "(`benchmarks/notebook_resources.py`).\n",
            resources(used),
            "",
        ]
    else:
        parts += ["Not measured yet: `benchmarks/notebook_resources.py` writes this table.\n"]
    return "\n".join(parts).rstrip() + "\n"


def readme() -> str:
    seeds = load("seeds")
    content = headline(seeds) if seeds else "(run `make seeds`)"
    return replace_block(README.read_text(), "results", content, "README.md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; list the files that are out of date"
    )
    args = parser.parse_args()
    wanted = {README: readme(), PAGE: page()}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    for path in stale:
        if args.check:
            print(f"out of date: {path.relative_to(ROOT)} (run `make pages`)")
        else:
            path.write_text(wanted[path])
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
