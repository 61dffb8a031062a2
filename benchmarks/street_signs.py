"""Street signs: how long the synthetic data and one widget retrain take, against their budgets.

Generates the 20,000 training photos with an empty cache, loads them again from the
cache, and runs what the Train button of notebook 04 runs (poison, train, evaluate).
Prints each figure and its ratio to the budget (below 1 is within it), then JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

BUDGETS = {"generate_20000_seconds": 15.0, "widget_retrain_seconds": 30.0}


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["BACKDOOR_LAB_SIGNS_CACHE"] = os.path.join(cache, "signs")
        os.environ["BACKDOOR_LAB_CACHE"] = os.path.join(cache, "models")
        from utils.signs import dataset
        from utils.signs.attack import SignAttackConfig, evaluate_signs, train_sign_model

        start = time.perf_counter()
        train = dataset.load_signs("train")
        generate = time.perf_counter() - start
        # as a new kernel would: read back from the cache file
        dataset._synthetic_signs.cache_clear()
        start = time.perf_counter()
        dataset.load_signs("train")
        reload = time.perf_counter() - start
        test = dataset.load_signs("test")
        config = SignAttackConfig(poison_rate=0.02)
        start = time.perf_counter()
        model = train_sign_model(config, train, progress=False).model
        figures = evaluate_signs(model, test, config.sticker, config.target_label)
        retrain = time.perf_counter() - start
    results = {
        "generate_20000_seconds": round(generate, 2),
        "reload_from_cache_seconds": round(reload, 3),
        "cache_speedup": round(generate / reload, 1),
        "widget_retrain_seconds": round(retrain, 2),
        "retrain_attack_success_rate": round(figures["attack_success_rate"], 4),
    }
    for key, budget in BUDGETS.items():
        print(
            f"{key:28s} {results[key]:7.2f} s   {results[key] / budget:.2f} of the {budget:.0f} s "
            "budget"
        )
    print(
        f"{'reload_from_cache_seconds':28s} {reload:7.3f} s   {results['cache_speedup']}x faster "
        "than generating"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
