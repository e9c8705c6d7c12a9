"""Running a cohort: split into chunks, simulate them on a process pool or a Dask cluster,
aggregate.

Reproducibility: the chunks depend only on ``n`` (never on the number of workers), chunk ``i``
is seeded with ``SeedSequence(seed).spawn(n_chunks)[i]``, and the aggregation sums integer
counts and keeps per-chunk rows in chunk order, so the result is the same on 1 worker, a
process pool or a Dask cluster.

Memory: a chunk holds at most :data:`CHUNK_SIZE` patients; the aggregate holds binned survival
counts and one row of counts per chunk, so memory does not grow with ``n`` beyond the number of
chunks.
"""

from __future__ import annotations

import importlib
import math
import os
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np

from cllcds.domain import InputError

from ._scenario import Scenario
from ._simulate import BIN_MONTHS, COUNTS, ChunkResult, ChunkSpec, IntArray, simulate_chunk

CHUNK_SIZE = 10_000
"""Largest chunk (patients); a chunk is also one replicate of the uncertain inputs."""
MIN_CHUNKS = 20
"""At least this many replicates, so that intervals across them mean something."""
MAX_PATIENTS = 10_000_000

Progress = Callable[[int, int], None]
"""Called with (chunks done, chunks in all) as chunks finish."""


def plan_chunks(scenario: Scenario, n: int, seed: int) -> list[ChunkSpec]:
    """The chunks for ``n`` patients: their number and sizes depend on ``n`` only."""
    if not 1 <= n <= MAX_PATIENTS:
        raise InputError("--n", n, f"simulate 1 to {MAX_PATIENTS:,} virtual patients")
    if seed < 0:
        raise InputError("--seed", seed, "give a seed of 0 or more")
    k = min(n, max(MIN_CHUNKS, math.ceil(n / CHUNK_SIZE)))
    base, extra = divmod(n, k)
    seeds = np.random.SeedSequence(seed).spawn(k)
    return [ChunkSpec(scenario, i, base + (1 if i < extra else 0), seeds[i]) for i in range(k)]


@dataclass
class ArmTotals:
    """An arm's aggregate over all chunks."""

    counts: IntArray
    os_hist: IntArray
    tfs_hist: IntArray
    per_chunk: IntArray
    """Counts of every chunk (chunks × :data:`COUNTS`), in chunk order."""


@dataclass
class CohortRun:
    """Aggregated results of a cohort simulation (see :func:`run_cohort`)."""

    scenario: Scenario
    n: int
    seed: int
    chunks: int
    backend: str
    arms: dict[str, ArmTotals]


def _aggregate(
    scenario: Scenario, results: list[ChunkResult], n: int, seed: int, backend: str
) -> CohortRun:
    results = sorted(results, key=lambda r: r.index)
    arms: dict[str, ArmTotals] = {}
    for arm in scenario.arms:
        per = np.array([r.arms[arm.id].counts for r in results], dtype=np.int64)
        arms[arm.id] = ArmTotals(
            counts=per.sum(axis=0),
            os_hist=np.sum([r.arms[arm.id].os_hist for r in results], axis=0),
            tfs_hist=np.sum([r.arms[arm.id].tfs_hist for r in results], axis=0),
            per_chunk=per,
        )
    return CohortRun(scenario, n, seed, len(results), backend, arms)


def _local(specs: list[ChunkSpec], workers: int) -> Iterator[ChunkResult]:
    if workers <= 1:
        for spec in specs:
            yield simulate_chunk(spec)
        return
    # "spawn": workers start clean (no inherited threads or locks), on every platform.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(simulate_chunk, s) for s in specs]
        for fut in as_completed(futures):
            yield fut.result()


def _dask(specs: list[ChunkSpec], scheduler: Any) -> Iterator[ChunkResult]:
    try:
        # Optional and untyped: imported when a scheduler is given.
        distributed: Any = importlib.import_module("distributed")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise InputError(
            "--scheduler", scheduler, "needs Dask: pip install 'cllcds[cohort]'"
        ) from exc
    client_type, dask_completed = distributed.Client, distributed.as_completed
    own = not isinstance(scheduler, client_type)
    if own:
        _reachable(str(scheduler))
    try:
        client = client_type(scheduler, timeout=30) if own else scheduler
    except OSError as exc:
        raise InputError(
            "--scheduler", scheduler, f"no Dask scheduler answers there ({exc})"
        ) from None
    try:
        futures = client.map(simulate_chunk, specs, pure=False)
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        if own:
            client.close()


def _reachable(address: str) -> None:
    """Fail fast, as a user error, when nothing listens at a ``tcp://host:port`` address
    (other schemes, such as an in-process cluster's ``inproc://``, are left to Dask)."""
    scheme, sep, hostport = address.partition("://")
    if sep and scheme not in ("tcp", "tls"):
        return
    hostport = hostport if sep else address
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InputError("--scheduler", address, "give an address such as tcp://10.0.0.5:8786")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
            pass
    except OSError as exc:
        raise InputError(
            "--scheduler", address, f"no Dask scheduler answers there ({exc.strerror or exc})"
        ) from None


def run_cohort(
    scenario: Scenario,
    n: int,
    seed: int,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: Progress | None = None,
) -> CohortRun:
    """Simulate ``n`` virtual patients under every arm of ``scenario``.

    Parameters
    ----------
    scenario
        From :func:`load_scenario`.
    n, seed
        Number of virtual patients (each is simulated under every arm) and the seed.
    workers
        Local processes (default: the number of CPUs; 1 runs in this process).
    scheduler
        A Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; when
        given, the chunks run on that cluster instead of the local pool.
    progress
        Called as chunks finish.

    Examples
    --------
    >>> from cllcds.cohort import load_example
    >>> run = run_cohort(load_example("iv_vs_sc"), 2000, 1, workers=1)
    >>> run.arms["iv"].counts[0]
    2000
    """
    specs = plan_chunks(scenario, n, seed)
    if scheduler is not None:
        stream = _dask(specs, scheduler)
        backend = "dask"
    else:
        w = workers if workers is not None else (os.cpu_count() or 1)
        w = max(1, min(w, len(specs)))
        stream = _local(specs, w)
        backend = "local" if w == 1 else f"process pool ({w} workers)"
    results: list[ChunkResult] = []
    for res in stream:
        results.append(res)
        if progress is not None:
            progress(len(results), len(specs))
    return _aggregate(scenario, results, n, seed, backend)


__all__ = ["BIN_MONTHS", "COUNTS", "CohortRun", "plan_chunks", "run_cohort"]
