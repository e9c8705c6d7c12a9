"""The grade of every count of a course, for the pages: each value with its CTCAE v5.0 grade
(and its iwCLL 2008 Table 5 grade when the course's toxicity scale is iwCLL), and the worst
grade of the course per lab. The grading itself is :func:`cllcds.rules.grading.grade`."""

from __future__ import annotations

from typing import Any

from cllcds.domain import LabCode, LabEvent, ToxicityScale
from cllcds.rules.grading import grade

from ._course import load_course

#: Labs graded on the pages (CD4 and WBC are shown but not graded here).
GRADED = (LabCode.ANC, LabCode.PLT, LabCode.HGB, LabCode.ALC)


def lab_grades(doc: Any) -> dict[str, Any]:
    """``{"results": [...], "worst": {code: {...}}, "scales": [...]}`` for a course document.

    Each result: code, date, value (canonical unit), unit, ``ctcae`` (grade or ``None``) and,
    when the course is graded by iwCLL 2008, ``iwcll``; ``worst`` holds, per lab, the highest
    grade of the course on each scale with the date it was reached.
    """
    course = load_course(dict(doc))
    scales = [ToxicityScale.CTCAE_5]
    if course.rule_sets.toxicity is not ToxicityScale.CTCAE_5:
        scales.append(course.rule_sets.toxicity)
    rows: list[dict[str, Any]] = []
    labs = []
    if course.baseline is not None:
        labs += [(lab.date or course.baseline.date, lab, True) for lab in course.baseline.labs]
    labs += [
        (ev.date, ev.result, False) for ev in course.effective_events() if isinstance(ev, LabEvent)
    ]
    worst: dict[str, dict[str, Any]] = {}
    for day, lab, is_baseline in labs:
        base = course.baseline.lab(lab.code) if course.baseline is not None else None
        row: dict[str, Any] = {
            "code": lab.code.value,
            "date": day.isoformat(),
            "value": lab.value,
            "unit": lab.code.canonical_unit.value,
            "baseline": is_baseline,
        }
        for scale in scales:
            key = "ctcae" if scale is ToxicityScale.CTCAE_5 else "iwcll"
            if lab.code not in GRADED:
                row[key] = None
                continue
            result = grade(lab, scale, baseline=None if is_baseline else base)
            g = None if result.grade is None else int(result.grade)
            row[key] = g
            row[f"{key}_source"] = result.citation.short()
            if g is not None and not is_baseline:
                w = worst.setdefault(lab.code.value, {})
                if key not in w or g > w[key]:
                    w[key] = g
                    w[f"{key}_date"] = day.isoformat()
                    w[f"{key}_value"] = lab.value
        rows.append(row)
    rows.sort(key=lambda r: (r["date"], r["code"]))
    return {"results": rows, "worst": worst, "scales": [s.value for s in scales]}
