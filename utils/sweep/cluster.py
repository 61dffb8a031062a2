"""The runs of a sweep as tasks of a Dask cluster: a LocalCluster on this machine, or a scheduler's
address.

Each task is one papermill process on a worker (utils.sweep.execute.run_notebook), which writes its
executed notebook and results into the run's folder: the folder must be one that every
worker sees (a shared filesystem), and every worker needs the project installed. When a
worker dies, Dask gives its task to another worker; a task whose workers keep dying
is reported as failed, and running the sweep again runs what is missing.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Callable

from .execute import run_notebook
from .grid import Run, SweepError


def run_on_worker(notebook: Path, run: Run, extra_env: dict) -> str | None:
    """run_notebook on a Dask worker, without the settings Dask's nanny gives its own worker
    process.

    The nanny sets MALLOC_TRIM_THRESHOLD_ (which made a PyTorch kernel a third slower,
    from returning memory to the system at every step) and one thread for OpenMP and
    BLAS; the kernel chooses its own threads, as it does outside Dask.
    """
    import dask

    # registers distributed's defaults, the nanny's settings among them
    importlib.import_module("distributed")
    nanny_settings = tuple(dask.config.get("distributed.nanny.pre-spawn-environ", default={}))
    return run_notebook(notebook, run, extra_env, dropped_env=nanny_settings)


def run_on_dask(
    notebook: Path,
    runs: list[Run],
    scheduler: str,
    workers: int,
    extra_env: dict,
    finished: Callable[[Run, str | None], None],
) -> None:
    """Run every run as a Dask task; call finished(run, error or None) as each one ends.

    scheduler="local" starts a LocalCluster of `workers` single-threaded worker processes;
    anything else is the address of a running scheduler (tcp://host:8786).
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SweepError(
            "--scheduler needs Dask's distributed package: pip install -e '.[cluster]'"
        ) from None
    # a LocalCluster writes its nanny's settings into this process's environment
    environment = dict(os.environ)
    cluster = (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
        if scheduler == "local"
        else None
    )
    try:
        with Client(cluster or scheduler, timeout="30s") as client:
            futures = {
                client.submit(run_on_worker, notebook, run, extra_env, pure=False): run
                for run in runs
            }
            for future in as_completed(futures):
                try:
                    error = future.result()
                # the task itself failed: its workers died (KilledWorker), ...
                except Exception as failure:
                    error = f"{type(failure).__name__}: {failure}"[:300]
                finished(futures[future], error)
    except OSError as failure:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {failure}") from None
    finally:
        if cluster is not None:
            cluster.close()
        # kernels started later by this process must not inherit them (MALLOC_TRIM_THRESHOLD_)
        os.environ.clear()
        os.environ.update(environment)
