"""Hypothesis strategies for valid course documents (``cllcds.course/1``) with every event type
and every optional field, for the FHIR round-trip and conformance tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from cllcds.fhir._mapping import EVENT_MAPS

REGIMENS = ["alemtuzumab-iv-label", "alemtuzumab-sc-30-tiw", "alemtuzumab-iv-12w"]
START = dt.date(2020, 3, 2)
text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
LABS = {
    "WBC": (st.floats(0.5, 300), ["10*9/L", "10*3/uL"]),
    "ALC": (st.floats(0.1, 250), ["10*9/L", "10*3/uL"]),
    "ANC": (st.floats(0.0, 30), ["10*9/L", "10*3/uL"]),
    "PLT": (st.floats(1.0, 900), ["10*9/L"]),
    "HGB": (st.floats(4.0, 18.0), ["g/dL"]),
    "CD4": (st.integers(100, 3000), ["/uL", "{cells}/uL"]),
    "CREAT": (st.floats(0.5, 4.0), ["mg/dL"]),
}


def day(offset: int, time: str | None = None) -> str:
    d = (START + dt.timedelta(days=offset)).isoformat()
    return f"{d}T{time}" if time else d


times = st.one_of(st.none(), st.sampled_from(["08:00", "13:45", "23:59:30"]))
AUTOIMMUNE_KINDS = [
    "haemolytic anaemia",
    "ITP",
    "thrombocytopenia",
    "Evans syndrome",
    "pure red cell aplasia",
    "autoimmune neutropenia",
    "other",
    "13601005",
]


@st.composite
def lab(draw: st.DrawFn, code: str | None = None) -> dict[str, Any]:
    code = code or draw(st.sampled_from(sorted(LABS)))
    values, units = LABS[code]
    value = draw(values)
    if isinstance(value, float):
        value = round(value, 2)
    return {
        "code": draw(st.sampled_from([code, code.lower()])),
        "value": value,
        "unit": draw(st.sampled_from(units)),
    }


def optional(draw: st.DrawFn, out: dict[str, Any], key: str, strategy: Any) -> None:
    if draw(st.booleans()):
        out[key] = draw(strategy)


@st.composite
def assessment(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = st.fixed_dictionaries(
        {"long_mm": st.integers(5, 80), "short_mm": st.integers(3, 5)},
        optional={"site": text},
    )
    optional(draw, out, "lymph_nodes", st.lists(node, max_size=3))
    for k in ("liver_cm", "spleen_cm", "spleen_length_cm"):
        optional(draw, out, k, st.integers(0, 20))
    marrow = st.fixed_dictionaries(
        {"lymphocytes_pct": st.integers(0, 100)},
        optional={
            "nodules": st.booleans(),
            "cellularity": st.sampled_from(
                ["hypocellular", "normal", "normocellular", "hypercellular"]
            ),
            "cll_cells_pct": st.integers(0, 100),
        },
    )
    optional(draw, out, "marrow", marrow)
    optional(draw, out, "constitutional_symptoms", st.booleans())
    optional(draw, out, "cytopenia_due_to_cll", st.booleans())
    optional(
        draw,
        out,
        "mrd",
        st.fixed_dictionaries(
            {
                "sample": st.sampled_from(["blood", "marrow"]),
                "level": st.sampled_from([0.0, 5e-05, 0.01, 0.2]),
            }
        ),
    )
    optional(draw, out, "transformation", st.sampled_from(["richter", "prolymphocytic"]))
    return out


@st.composite
def event(draw: st.DrawFn, offset: int) -> dict[str, Any]:
    t = draw(st.sampled_from(sorted(EVENT_MAPS)))
    ev: dict[str, Any] = {"date": day(offset, draw(times)), "type": t}
    if "T" not in ev["date"]:
        optional(draw, ev, "time", st.sampled_from(["07:30", "18:05:09"]))
    later = st.builds(lambda k: day(offset + k), st.integers(0, 20))
    if t == "dose":
        ev |= {
            "drug": draw(st.sampled_from(["alemtuzumab", "rituximab", "Campath"])),
            "dose_mg": draw(st.sampled_from([3, 10, 30, 12.5])),
            "route": draw(st.sampled_from(["iv", "sc", "po", "civ"])),
        }
    elif t == "dose_held":
        optional(draw, ev, "reason", text)
    elif t == "lab":
        ev |= draw(lab())
    elif t == "cmv_pcr":
        if draw(st.booleans()):
            ev["result"] = "not detected"
        else:
            ev["value"] = draw(st.integers(1, 10**6))
            ev["unit"] = draw(st.sampled_from(["[IU]/mL", "{copies}/mL"]))
    elif t == "cmv_antigenemia":
        ev[draw(st.sampled_from(["value", "positive_cells"]))] = draw(st.integers(0, 50))
    elif t in ("infusion_reaction", "infection", "adverse_event"):
        ev["grade"] = draw(st.integers(1, 5))
        if t != "infection":
            optional(draw, ev, "resolved", later)
        if t == "adverse_event":
            ev["term"] = draw(st.one_of(st.sampled_from(["diarrhoea", "rash"]), text))
            optional(draw, ev, "serious", st.booleans())
        if t == "infection":
            optional(draw, ev, "description", text)
            optional(draw, ev, "serious", st.booleans())
            optional(draw, ev, "resolved", st.just(day(offset + draw(st.integers(0, 20)))))
    elif t == "fever":
        ev["temperature_c"] = draw(st.sampled_from([37.4, 38.0, 38.6, 40.1]))
        optional(draw, ev, "duration_h", st.sampled_from([0, 2, 36.5]))
        optional(draw, ev, "resolved", later)
    elif t == "autoimmune_cytopenia":
        ev["kind"] = draw(st.one_of(st.sampled_from(AUTOIMMUNE_KINDS), text))
    elif t == "resolved":
        ev["event_id"] = draw(st.sampled_from(["e0", "e1", "e2"]))
    elif t == "progression":
        ev["kind"] = draw(st.sampled_from(["progressive disease", "richter", "prolymphocytic"]))
        optional(draw, ev, "description", text)
    elif t == "esa":
        ev["drug"] = draw(st.sampled_from(["epoetin alfa", "darbepoetin alfa"]))
        if draw(st.booleans()):
            ev["dose"], ev["dose_unit"] = draw(
                st.sampled_from([(40000, "[IU]"), (500, "ug"), (150, "ug")])
            )
        optional(draw, ev, "start", st.just(day(offset)))
        if "start" in ev:
            optional(draw, ev, "stop", later)
    elif t == "prophylaxis":
        ev["agent"], ev["drug"] = draw(
            st.sampled_from(
                [("pcp", "co-trimoxazole"), ("herpes", "aciclovir"), ("cmv", "valganciclovir")]
            )
        )
        ev["action"] = draw(st.sampled_from(["start", "stop", "not_tolerated"]))
        optional(draw, ev, "dose_mg", st.sampled_from([480, 400, 450]))
        optional(draw, ev, "frequency", st.sampled_from(["twice daily", "three times a week"]))
    elif t == "antiviral":
        ev["drug"] = draw(st.sampled_from(["valganciclovir", "ganciclovir", "foscarnet"]))
        optional(draw, ev, "dose_mg", st.sampled_from([450, 900, 5]))
        optional(draw, ev, "start", st.just(day(offset)))
        if "start" in ev:
            optional(draw, ev, "stop", st.just(day(offset + draw(st.integers(0, 30)))))
        optional(draw, ev, "intent", st.sampled_from(["prophylaxis", "preemptive", "treatment"]))
        optional(draw, ev, "frequency", st.sampled_from(["twice daily", "once daily"]))
    elif t in ("growth_factor", "transfusion"):
        optional(draw, ev, "drug" if t == "growth_factor" else "product", text)
    elif t == "assessment":
        ev |= draw(assessment())
    elif t == "note":
        optional(draw, ev, "text", text)
    elif t == "treatment_stopped":
        ev["reason"] = draw(
            st.sampled_from(["completed", "toxicity", "progression", "no_response",
                             "patient_choice", "death", "other"])
        )  # fmt: skip
        if ev["reason"] == "other":
            ev["text"] = draw(text)
        else:
            optional(draw, ev, "text", text)
    return ev


@st.composite
def courses(draw: st.DrawFn) -> dict[str, Any]:
    patient: dict[str, Any] = {"id": draw(text)}
    optional(draw, patient, "name", text)
    optional(draw, patient, "sex", st.sampled_from(["female", "male", "other", "unknown"]))
    optional(draw, patient, "birth_date", st.sampled_from(["1944-03-12", "1950-12-31"]))
    optional(draw, patient, "height_cm", st.sampled_from([150, 172.5, 190]))
    optional(draw, patient, "weight_kg", st.sampled_from([48, 70.2, 110]))
    optional(draw, patient, "diagnosis", text)
    optional(draw, patient, "cmv_igg", st.sampled_from(["positive", "negative", "unknown"]))
    optional(draw, patient, "prior_cmv_reactivation", st.booleans())
    optional(draw, patient, "cmv_surveillance_available", st.booleans())
    optional(
        draw,
        patient,
        "cytogenetics",
        st.fixed_dictionaries(
            {},
            optional=dict.fromkeys(
                ("del17p", "tp53_mutation", "del11q", "ighv_unmutated"), st.booleans()
            ),
        ),
    )
    therapy = st.fixed_dictionaries(
        {"regimen": st.sampled_from(["fludarabine", "FCR", "chlorambucil"])},
        optional={
            "start": st.just("2018-01-01"),
            "end": st.just("2018-06-01"),
            "best_response": st.sampled_from(["CR", "nPR", "PR", "SD", "PD", "NR"]),
            "progression": st.just("2019-02-01"),
        },
    )
    optional(draw, patient, "prior_therapies", st.lists(therapy, max_size=2))
    doc: dict[str, Any] = {
        "format": "cllcds.course/1",
        "patient": patient,
        "regimen": draw(st.sampled_from(REGIMENS)),
        "start_date": day(0),
    }
    if draw(st.booleans()):
        doc["rule_sets"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "label": st.sampled_from(["us-2007"]),
                    "toxicity": st.sampled_from(["ctcae-5", "iwcll-2008-haem"]),
                    "cmv": st.sampled_from(["preemptive", "prophylaxis"]),
                },
            )
        )
    if draw(st.booleans()):
        baseline: dict[str, Any] = {"date": day(-3)}
        codes = draw(st.lists(st.sampled_from(sorted(LABS)), unique=True, max_size=4))
        if codes or draw(st.booleans()):
            baseline["labs"] = [draw(lab(c)) for c in codes]
        optional(draw, baseline, "assessment", assessment())
        doc["baseline"] = baseline
    offsets = sorted(draw(st.lists(st.integers(0, 90), max_size=10)))
    if offsets or draw(st.booleans()):
        events = []
        ids: list[str] = []
        for k, off in enumerate(offsets):
            ev = draw(event(off))
            if ev["type"] == "resolved":
                # resolve an earlier (or same-day) event with an id, giving one if needed
                earlier = [e for e in events if e["type"] != "resolved"]
                if earlier:
                    target = draw(st.sampled_from(earlier))
                    target.setdefault("id", f"r{k}")
                    ev["event_id"] = target["id"]
            if draw(st.integers(0, 4)) == 0:
                ev["id"] = f"e{k}"
                if ids and draw(st.booleans()):
                    ev["supersedes"] = draw(st.sampled_from(ids))
                ids.append(ev["id"])
            events.append(ev)
        doc["events"] = events
    if draw(st.booleans()):
        doc["as_of"] = day(draw(st.integers(0, 120)))
    return doc
