"""Training on a shared machine: alone, beside a busy process, and two trainings at once.

Each case trains the default clean MNIST model (2 epochs) in its own process, first with
the thread count fixed at the usable CPUs (BACKDOOR_LAB_FOLLOW_LOAD=0, what the lab did
before), then with the lab's default, which gives up the cores other processes use.
The busy process is a Python loop that keeps one core busy, like a second program.
Prints every time and its ratio to the same mode's training alone; the last line is JSON.

    .venv/bin/python benchmarks/contention.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN_ONCE = """
import time
from utils.data import load_mnist
from utils.models import SmallCNN
from utils.training import TrainingConfig, fit
train = load_mnist("train")
start = time.perf_counter()
fit(SmallCNN(seed=0), train, TrainingConfig(), progress=False)
print(time.perf_counter() - start)
"""


def start_training(follow_load: bool) -> subprocess.Popen:
    env = dict(os.environ, BACKDOOR_LAB_FOLLOW_LOAD="1" if follow_load else "0")
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN_ONCE], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


def seconds(process: subprocess.Popen) -> float:
    out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"a training process failed with exit code {process.returncode}")
    return float(out.strip().splitlines()[-1])


def measure(follow_load: bool) -> dict:
    solo = seconds(start_training(follow_load))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        beside_busy = seconds(start_training(follow_load))
    finally:
        busy.kill()
        busy.wait()
    pair = [start_training(follow_load), start_training(follow_load)]
    two_at_once = max(seconds(process) for process in pair)
    return {"solo": solo, "beside_busy": beside_busy, "two_at_once": two_at_once}


def main() -> None:
    default, lab = measure(follow_load=False), measure(follow_load=True)
    print(f"{'case':28s} {'fixed threads':>14s} {'lab default':>12s}")
    for case in ("solo", "beside_busy", "two_at_once"):
        print(
            f"{case:28s} {default[case]:8.1f} s {default[case] / default['solo']:4.1f}x "
            f"{lab[case]:6.1f} s {lab[case] / lab['solo']:4.1f}x"
        )
    print(f"lab alone against fixed threads alone: {lab['solo'] / default['solo']:.2f}x")
    print(
        json.dumps(
            {
                "solo_seconds": round(lab["solo"], 2),
                "beside_busy_seconds": round(lab["beside_busy"], 2),
                "two_at_once_seconds": round(lab["two_at_once"], 2),
                "default_solo_seconds": round(default["solo"], 2),
                "default_beside_busy_seconds": round(default["beside_busy"], 2),
                "default_two_at_once_seconds": round(default["two_at_once"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
