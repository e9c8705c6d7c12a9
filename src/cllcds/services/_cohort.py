"""Virtual-cohort use cases: simulate a scenario and compare its arms.

Returns plain JSON-ready data (see :func:`cllcds.cohort.report`), so every adapter shows the
same thing; every output lists the assumptions with their sources and the model's limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cllcds import cohort
from cllcds.cohort import Progress

BUILTIN = "builtin:"
"""Prefix naming a built-in example scenario instead of a file (``builtin:iv_vs_sc``)."""


def cohort_scenario(scenario: str | Path) -> cohort.Scenario:
    """A scenario from a YAML file, or a built-in example (``builtin:NAME``)."""
    text = str(scenario)
    if text.startswith(BUILTIN):
        return cohort.load_example(text.removeprefix(BUILTIN))
    return cohort.load_scenario(Path(text))


def cohort_simulate(
    scenario: str | Path,
    *,
    n: int,
    seed: int,
    scheduler: Any = None,
    workers: int | None = None,
    plot: Path | None = None,
    curves: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Simulate ``n`` virtual patients under every arm of a scenario and compare the arms.

    Parameters
    ----------
    scenario
        A scenario YAML file or ``builtin:NAME``.
    n, seed
        Virtual patients (each simulated under every arm) and the seed.
    scheduler
        A Dask scheduler address (or ``distributed.Client``); default: a local process pool.
    workers
        Local worker processes (default: one per CPU).
    plot
        Write the comparison plot (``.svg``/``.png``).
    curves
        Include the Kaplan–Meier curves in the result (large); summaries are always there.
    progress
        Called with (replicates done, replicates in all).
    """
    sc = cohort_scenario(scenario)
    run = cohort.run_cohort(sc, n, seed, workers=workers, scheduler=scheduler, progress=progress)
    doc = cohort.report(run, curves=curves or plot is not None)
    if plot is not None:
        cohort.cohort_plot(doc, plot)
        doc["plot"] = str(plot)
    if not curves:
        for arm in doc["arms"]:
            arm["overall_survival"].pop("curve", None)
            arm["treatment_free_survival"].pop("curve", None)
    return doc


def cohort_examples() -> list[dict[str, Any]]:
    """The built-in example scenarios: name, title and arms."""
    return [
        {
            "name": f"{BUILTIN}{key}",
            "title": data["name"],
            "arms": [a["id"] for a in data["arms"]],
        }
        for key, data in sorted(cohort.EXAMPLES.items())
    ]
