"""Virtual cohorts: outcomes of alemtuzumab scenarios from the evidence base.

Virtual patients get characteristics (p53 status, lymph-node size) and outcome probabilities
(response by regimen, route and subgroup; MRD negativity; survival by response and MRD status;
CMV reactivation by management strategy; grade 3–4 infection) from the studies of
``cllcds.knowledge``, each assumption cited and overridable in a scenario file. Scenarios are
compared with rate intervals, Kaplan–Meier curves (lifelines) and CMV event and hold counts.
Runs are seeded and split into replicates that run on a local process pool or a Dask cluster;
the result does not depend on the number of workers.

Example
-------
>>> from cllcds.cohort import load_example, report, run_cohort
>>> doc = report(run_cohort(load_example("cmv_strategy"), 2000, seed=1, workers=1))
>>> [a["id"] for a in doc["arms"]]
['none', 'pre-emptive', 'prophylaxis']
"""

from ._assumptions import Assumption, base_assumptions, response_assumptions
from ._examples import EXAMPLES, load_example
from ._plot import cohort_plot
from ._report import LIMITS, kaplan_meier, report
from ._run import CHUNK_SIZE, CohortRun, Progress, plan_chunks, run_cohort
from ._scenario import Arm, CmvStrategy, Scenario, load_scenario, scenario_from_mapping
from ._simulate import COUNTS, simulate_chunk

__all__ = [
    "CHUNK_SIZE",
    "COUNTS",
    "EXAMPLES",
    "LIMITS",
    "Arm",
    "Assumption",
    "CmvStrategy",
    "CohortRun",
    "Progress",
    "Scenario",
    "base_assumptions",
    "cohort_plot",
    "kaplan_meier",
    "load_example",
    "load_scenario",
    "plan_chunks",
    "report",
    "response_assumptions",
    "run_cohort",
    "scenario_from_mapping",
    "simulate_chunk",
]
