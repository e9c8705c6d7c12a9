"""Built-in example scenarios (the same as ``examples/cohort/*.yaml`` in the repository).

They are kept here as data so that they exist wherever cllcds is installed; a test checks that
the YAML files say the same.
"""

from __future__ import annotations

from typing import Any

from cllcds.domain import NotFoundError

from ._scenario import Scenario, scenario_from_mapping

EXAMPLES: dict[str, dict[str, Any]] = {
    "iv_vs_sc": {
        "name": "IV vs SC alemtuzumab monotherapy (fludarabine-refractory CLL)",
        "description": (
            "Keating 2002b (CAM211, IV 30 mg TIW up to 12 weeks) against CLL2H (IV escalation, "
            "then SC 30 mg TIW up to 12 weeks; Stilgenbauer 2004 interim). Both with CMV "
            "surveillance and pre-emptive therapy."
        ),
        "follow_up_months": 60,
        "arms": [
            {
                "id": "iv",
                "label": "IV 30 mg TIW (Keating 2002b, CAM211)",
                "response_study": "keating2002b",
                "cmv": "pre-emptive",
            },
            {
                "id": "sc",
                "label": "IV escalation then SC 30 mg TIW (CLL2H, Stilgenbauer 2004)",
                "response_study": "stilgenbauer2004",
                "cmv": "pre-emptive",
            },
        ],
    },
    "cmv_strategy": {
        "name": "CMV strategy during IV alemtuzumab (previously treated CLL)",
        "follow_up_months": 24,
        "arms": [
            {
                "id": "none",
                "label": "No surveillance, no prophylaxis",
                "response_study": "keating2002b",
                "cmv": "none",
            },
            {
                "id": "pre-emptive",
                "label": "Surveillance and pre-emptive therapy (O'Brien 2006)",
                "response_study": "keating2002b",
                "cmv": "pre-emptive",
            },
            {
                "id": "prophylaxis",
                "label": "Valganciclovir prophylaxis (O'Brien 2008)",
                "response_study": "keating2002b",
                "cmv": "prophylaxis",
            },
        ],
    },
    "mono_vs_combination": {
        "name": "Monotherapy vs FluCam combination (relapsed/refractory CLL)",
        "follow_up_months": 60,
        "population": {"p53_abnormal": 0.25},
        "arms": [
            {
                "id": "mono",
                "label": "Alemtuzumab IV monotherapy (Keating 2002b)",
                "response_study": "keating2002b",
                "cmv": "pre-emptive",
            },
            {
                "id": "flucam",
                "label": "Fludarabine + alemtuzumab (FluCam, Elter 2005)",
                "response_study": "elter2005",
                "cmv": "pre-emptive",
                "treatment_weeks": 24,
            },
        ],
    },
}


def load_example(name: str) -> Scenario:
    """One of the built-in example scenarios (``iv_vs_sc``, ``cmv_strategy``,
    ``mono_vs_combination``)."""
    if name not in EXAMPLES:
        raise NotFoundError("scenario", name, f"use one of {', '.join(sorted(EXAMPLES))}")
    return scenario_from_mapping(EXAMPLES[name], source=f"builtin:{name}")
