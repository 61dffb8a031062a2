"""The command line of the sweep: python -m utils.sweep NOTEBOOK -p NAME VALUE ... [-j N]
[--scheduler ADDRESS] [--shard I/N]."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .grid import SweepError, literal, parse_shard
from .local import collect, sweep

EPILOG = """examples:
  python -m utils.sweep notebooks/03_triggered_evaluation.ipynb -p poison_rate 0.005 0.01 \
      -p seed 0 1 2 --aggregate seed
  python -m utils.sweep NOTEBOOK -p ... --scheduler local -j 4    # a Dask LocalCluster of 4 workers
  python -m utils.sweep NOTEBOOK -p ... --scheduler tcp://host:8786 -o /shared/sweep
  python -m utils.sweep NOTEBOOK -p ... -o /shared/sweep \
      --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
  python -m utils.sweep --collect -o /shared/sweep --aggregate seed"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.sweep",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a notebook over a grid of parameters with papermill and collect the "
        "results.",
    )
    parser.add_argument(
        "notebook",
        nargs="?",
        help="the notebook to run, e.g. notebooks/03_triggered_evaluation.ipynb",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs="+",
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter and the values to try (Python literals); repeat for a grid",
    )
    parser.add_argument("-o", "--out", help="output folder (default: runs/sweep-NOTEBOOK)")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        help="runs at a time, or workers of --scheduler local "
        "(default: half the usable CPUs, at least 1)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster: 'local' starts a LocalCluster, "
        "or the address of a running scheduler (needs pip install -e '.[cluster]')",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="run only the I-th of N slices of the grid (for job arrays); "
        "collect afterwards with --collect",
    )
    parser.add_argument(
        "--collect",
        action="store_true",
        help="run nothing: merge the finished runs of -o into the "
        "CSV and plot and list the missing ones",
    )
    parser.add_argument(
        "--aggregate",
        metavar="PARAMETER",
        help="also aggregate the results over this parameter "
        "(such as seed): mean, std, min, max and count, plotted as a line with a band",
    )
    args = parser.parse_args(argv)
    if args.notebook is None and not (args.collect and args.out):
        parser.error("give the notebook to run, or --collect with -o FOLDER")
    out = Path(args.out or Path("runs") / f"sweep-{Path(args.notebook).stem}")
    try:
        if args.collect:
            return _report_collection(collect(out, over=args.aggregate))
        grid = {}
        for name, *values in args.parameter:
            if not values:
                parser.error(f"-p {name} needs at least one value")
            grid[name] = [literal(v) for v in values]
        shard_of = parse_shard(args.shard) if args.shard else None
        report = sweep(
            args.notebook,
            grid,
            out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            shard_of=shard_of,
            over=args.aggregate,
        )
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"{len(report['done'])} runs done, {len(report['skipped'])} skipped (done before), "
        f"{len(report['failed'])} failed"
    )
    for run, reason in report["failed"]:
        print(f"  failed: {run.parameters}: {reason} (executed notebook: {run.notebook})")
    if shard_of:
        print(
            f"shard {shard_of[0]}/{shard_of[1]} finished; when every shard has, collect with: "
            f"python -m utils.sweep --collect -o {out}"
        )
    else:
        _print_files(report)
    return 1 if report["failed"] else 0


def _report_collection(report: dict) -> int:
    print(f"{len(report['finished'])} runs finished, {len(report['missing'])} missing")
    for run in report["missing"]:
        state = (
            "failed, executed notebook kept" if run in report["failed_before"] else "not run yet"
        )
        print(f"  missing: {run.parameters} ({state}: {run.folder})")
    _print_files(report)
    return 1 if report["missing"] else 0


def _print_files(report: dict) -> None:
    files = [
        report[key] for key in ("csv", "plot", "aggregate_csv", "aggregate_plot") if report.get(key)
    ]
    print("results: " + ", ".join(str(path) for path in files))
