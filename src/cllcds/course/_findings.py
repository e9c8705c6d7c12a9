"""The parts of a course state decided at the end of a replay: CMV, prophylaxis, grades and
response. Each takes the replay's run and returns frozen values plus decisions recorded on it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from cllcds.domain import (
    Antiviral,
    AntiviralIntent,
    Assessment,
    AssessmentEvent,
    Citation,
    CmvAntigenemia,
    CmvPcr,
    CmvPolicy,
    CmvUnit,
    Decision,
    DecisionStatus,
    LabCode,
    LabResult,
    ProphylaxisAction,
    ProphylaxisEvent,
    ProphylaxisKind,
    ResponseCategory,
    ToxicityScale,
    from_canonical,
)
from cllcds.knowledge import RenalPhase, grading_table, lln_defaults
from cllcds.rules import grading, renal, supportive
from cllcds.rules import response as response_rules

from ._state import (
    Action,
    CmvInfo,
    CmvStatus,
    CourseStatus,
    GradeInfo,
    HoldKind,
    ProphylaxisInfo,
    RenalInfo,
    ResponseInfo,
    Severity,
)

if TYPE_CHECKING:
    from ._replay import _Run

SEED = "seed"

CMV_ANTIVIRALS = (
    "ganciclovir",
    "valganciclovir",
    "foscarnet",
    "cidofovir",
    "maribavir",
    "letermovir",
)
"""Drugs that treat or prevent CMV (aciclovir, valaciclovir and famciclovir are for herpes
simplex / zoster prophylaxis and do not count)."""

CMV_MONTHS_AFTER = 2
"""CMV checks during therapy and for at least 2 months after (EU leaflet, E2)."""

CMV_FEVER_WINDOW_DAYS = 3
"""A fever within this many days of a detectable CMV result counts as symptoms with it
(configurable default; Wendtner 2004 treated rising viral load "combined with fevers")."""

PREEMPTIVE_CITATION = Citation(
    SEED,
    "Cytomegalovirus reactivation, last paragraph",
    quote="considering this last, together with pre-emptive therapy, as the preferable approach "
    "in the majority of patients",
    rule_set="preemptive",
)
PROPHYLAXIS_CITATION = Citation(
    SEED,
    "Cytomegalovirus reactivation, last paragraph",
    quote="up-front prophilaxis should be limited to patients with previous CMV reactivation or "
    "disease and/or in case of inaccessibility of surveillance tests",
    rule_set="prophylaxis",
)
SURVEILLANCE_CITATION = Citation(
    "E2",
    "EU package leaflet",
    note="Patients are checked for CMV during treatment and for at least 2 months afterwards; "
    "the interval is a configurable default (weekly).",
)
PREEMPTIVE_DRUG_CITATION = Citation(
    "D1",
    "Valganciclovir label dosing (induction)",
    note="Valganciclovir 900 mg PO twice daily (induction), or ganciclovir 5 mg/kg IV every 12 h "
    "(D2); CLL use is off-label. The seed: early valganciclovir may be very effective.",
)
VALGANCICLOVIR_PROPHYLAXIS_CITATION = Citation(
    "P6",
    "O'Brien 2008, Blood 111:1816",
    note="Valganciclovir 450 mg PO twice daily prevented CMV reactivation during alemtuzumab "
    "(0/20 vs 7/20 with valaciclovir).",
)
SINGLE_POSITIVE_CITATION = Citation(
    "P9",
    "Peter MacCallum CMV-DNAemia series, ASH 2004",
    note="17 of 19 patients with a single positive DNAemia had no CMV illness; treat "
    "persistent or rising CMV-DNA or CMV disease.",
)
CMV_HOLD_CITATION = Citation(
    SEED,
    "Cytomegalovirus reactivation (Wendtner 2004; Lundin 2002)",
    note="Alemtuzumab was interrupted for CMV reactivation in the German consolidation trial and "
    "restarted on oral ganciclovir in 2 of 4 Swedish patients; withholding during treatment is "
    "the configurable default (engine setting cmv_hold_alemtuzumab_during_treatment).",
)
CD4_CITATION = Citation(
    "L9",
    "Laboratory tests",
    note="CD4+ counts after treatment until recovery to ≥ 200 cells/µL; 4-weekly is a "
    "configurable default.",
)


def _threshold(run: _Run, t: CmvPcr | CmvAntigenemia) -> float:
    s = run.settings
    if isinstance(t, CmvAntigenemia):
        return s.cmv_antigenemia_threshold_cells
    if t.unit is CmvUnit.COPIES_PER_ML:
        return s.cmv_pcr_threshold_copies_per_ml
    return s.cmv_pcr_threshold_iu_per_ml


def _level(t: CmvPcr | CmvAntigenemia) -> float:
    if isinstance(t, CmvAntigenemia):
        return t.positive_cells
    return t.value or 0.0


def _describe(t: CmvPcr | CmvAntigenemia) -> str:
    if isinstance(t, CmvAntigenemia):
        return f"antigenemia {t.positive_cells:g} positive cells"
    if not t.detected:
        return "PCR not detected"
    unit = t.unit.value if t.unit else ""
    return f"PCR {t.value:g} {unit}".strip()


def _treating(run: _Run, a: Antiviral, first_positive: dt.date | None) -> bool:
    drug = a.drug.lower()
    if not any(name in drug for name in CMV_ANTIVIRALS):
        return False
    if a.intent is AntiviralIntent.PROPHYLAXIS:
        return False  # recorded as prophylaxis: never read as treatment
    if a.intent in (AntiviralIntent.PREEMPTIVE, AntiviralIntent.TREATMENT):
        return True
    return first_positive is not None and a.begins >= first_positive - dt.timedelta(days=1)


def _crcl(run: _Run) -> tuple[Decision[float | None], LabResult | None]:
    """Creatinine clearance from the latest creatinine, the patient's age on its day, weight
    and sex (Cockcroft-Gault, the antiviral labels' estimate)."""
    patient = run.course.patient
    creat = run.labs.get(LabCode.CREAT)
    day = (creat.date if creat is not None else None) or run.as_of
    age = None if patient.birth_date is None else float(renal.age_years(patient.birth_date, day))
    dec = renal.cockcroft_gault(
        age, patient.weight_kg, None if creat is None else creat.value, patient.sex
    )
    return dec, creat


def renal_for(run: _Run) -> RenalInfo:
    """The latest creatinine and the Cockcroft-Gault clearance, for the state's ``renal``."""
    dec, creat = _crcl(run)
    run.decisions.append(dec)
    return RenalInfo(
        creatinine_mg_dl=None if creat is None else creat.value,
        creatinine_date=None if creat is None else creat.date,
        crcl_ml_min=dec.outcome,
        decision=dec,
    )


def _antiviral_doses(run: _Run, phase: RenalPhase) -> tuple[str, Citation]:
    """The CMV antiviral doses to name for ``phase``, renally adjusted when CrCl is known."""
    dec, _ = _crcl(run)
    crcl = dec.outcome
    weight = run.course.patient.weight_kg
    if crcl is None:
        if phase is RenalPhase.INDUCTION:
            text = (
                "valganciclovir 900 mg PO twice daily or ganciclovir 5 mg/kg IV every 12 h "
                "(doses for normal renal function)"
            )
        else:
            text = "valganciclovir 900 mg PO once daily (dose for normal renal function)"
        text += (
            "; creatinine clearance is needed to adjust the dose (the labels reduce it below "
            "60 mL/min): record " + ", ".join(m.split(" (")[0] for m in dec.inputs_missing)
        )
        return text, PREEMPTIVE_DRUG_CITATION
    val = renal.renal_dose("valganciclovir", phase, crcl, weight)
    gcv = renal.renal_dose("ganciclovir", phase, crcl, weight)
    text = " or ".join(d.text for d in (val, gcv) if d.recommended)
    text += (
        f" (adjusted to creatinine clearance {crcl:g} mL/min, Cockcroft-Gault, by the "
        "Valcyte and Cytovene-IV renal tables)"
    )
    if not val.recommended:
        text += f"; {val.band_text}"
    return text, val.citation


def _active(a: Antiviral, day: dt.date) -> bool:
    return a.begins <= day and (a.stop is None or a.stop >= day)


CMV_ONE_TEST_A_DAY = True
"""Take the CMV tests in replay order (by date) when no two share a day: the order the sort in
:func:`cmv_findings` gives (``False``: sort them always, as the tests compare)."""


def cmv_findings(run: _Run) -> tuple[CmvInfo, list[Action]]:
    """CMV status, the action to take, the next test, and the alemtuzumab hold during therapy."""
    as_of = run.as_of
    policy = run.course.rule_sets.cmv
    patient = run.course.patient
    cite = PREEMPTIVE_CITATION if policy is CmvPolicy.PREEMPTIVE else PROPHYLAXIS_CITATION
    actions: list[Action] = []
    # By date and time; same-day results times cannot order put the detectable one last: the
    # worse result decides, as for two same-day labs (docs/rules.md, same-day events).
    tests = run.cmv_tests
    if not CMV_ONE_TEST_A_DAY or len({t.date for t in tests}) != len(tests):
        tests = sorted(
            tests,
            key=lambda t: (t.date, t.time if t.time is not None else dt.time.min, t.detected),
        )
    # else: the tests are in replay order, by date, one a day: sorted already.
    last = tests[-1] if tests else None
    # The current positive episode: detectable results since the last negative one.
    episode: list[CmvPcr | CmvAntigenemia] = []
    for t in tests:
        episode = [*episode, t] if t.detected else []
    first_positive = episode[0].date if episode else None
    cmv_drugs = [a for a in run.antivirals if any(n in a.drug.lower() for n in CMV_ANTIVIRALS)]
    treating = [a for a in cmv_drugs if _treating(run, a, first_positive) and _active(a, as_of)]
    # Was a treated episode cleared? A negative test after the treatment started.
    cleared_after_treatment = bool(cmv_drugs) and any(
        not t.detected and any(a.begins <= t.date for a in cmv_drugs if _treating(run, a, t.date))
        for t in tests
    )
    # Policy fit (the review's authors): prophylaxis for prior reactivation or no surveillance.
    needs_prophylaxis = patient.prior_cmv_reactivation or not patient.cmv_surveillance_available
    if policy is CmvPolicy.PREEMPTIVE and needs_prophylaxis:
        why = (
            "prior CMV reactivation"
            if patient.prior_cmv_reactivation
            else "no access to CMV surveillance"
        )
        run.alert(
            Severity.WARNING,
            "cmv-policy",
            f"Pre-emptive CMV policy, but the patient has {why}: the review limits up-front "
            "valganciclovir prophylaxis to exactly such patients.",
            PROPHYLAXIS_CITATION,
            None,
        )
    cmv_recorded = any(e.agent is ProphylaxisKind.CMV for e in run.prophylaxis_events)
    if policy is CmvPolicy.PROPHYLAXIS and not cmv_drugs and not cmv_recorded and run.started:
        run.alert(
            Severity.WARNING,
            "cmv-prophylaxis-missing",
            "CMV prophylaxis policy but no valganciclovir recorded: valganciclovir 450 mg "
            "twice daily (O'Brien 2008).",
            VALGANCICLOVIR_PROPHYLAXIS_CITATION,
            None,
        )

    # Surveillance window: from the start to 2 months after the last dose (or ongoing).
    last_dose = run.doses[-1][0] if run.doses else None
    therapy_over = run.discontinued is not None or (
        last_dose is not None and last_dose + dt.timedelta(days=run.profile.length_days) < as_of
    )
    window_end = supportive.add_months(last_dose, CMV_MONTHS_AFTER) if last_dose else None
    in_window = not therapy_over or (window_end is not None and as_of <= window_end)

    status: CmvStatus
    action: str
    if treating:
        status = CmvStatus.ON_TREATMENT
        doses, _ = _antiviral_doses(run, RenalPhase.INDUCTION)
        action = (
            f"Continue {treating[0].drug}; repeat CMV PCR weekly until it is negative. "
            f"Treatment dose by the labels: {doses}."
        )
        if run.settings.cmv_hold_alemtuzumab_during_treatment:
            run.hold(
                HoldKind.CMV,
                first_positive or as_of,
                "CMV reactivation under treatment",
                "a CMV test is negative on antiviral therapy",
                CMV_HOLD_CITATION,
            )
        actions.append(
            Action(
                as_of if last is None else max(as_of, last.date + dt.timedelta(days=7)),
                "cmv-test",
                "CMV PCR (on treatment, until negative)",
                cite,
            )
        )
        run.decide("cmv.status", status.value, action, cite)
    elif episode:
        status = CmvStatus.POSITIVE
        latest = episode[-1]
        rising = len(episode) >= 2 and _level(episode[-1]) > _level(episode[-2])
        febrile = any(abs((f.date - latest.date).days) <= CMV_FEVER_WINDOW_DAYS for f in run.fevers)
        over = _level(latest) >= _threshold(run, latest)
        if over or rising or febrile:
            why = ", ".join(
                w
                for w, on in (
                    (
                        f"{_describe(latest)} at or above the threshold "
                        f"{_threshold(run, latest):g}",
                        over,
                    ),
                    ("rising on consecutive tests", rising),
                    ("with fever", febrile),
                )
                if on
            )
            doses, dose_cite = _antiviral_doses(run, RenalPhase.INDUCTION)
            action = f"Start pre-emptive antiviral therapy now ({why}): {doses}."
            run.alert(
                Severity.CRITICAL,
                "cmv-preemptive-therapy",
                f"CMV {_describe(latest)} on {latest.date}: {action}",
                PREEMPTIVE_DRUG_CITATION,
                latest.date,
            )
            if run.settings.cmv_hold_alemtuzumab_during_treatment:
                run.hold(
                    HoldKind.CMV,
                    latest.date,
                    "CMV reactivation needing treatment",
                    "a CMV test is negative on antiviral therapy",
                    CMV_HOLD_CITATION,
                )
            actions.append(Action(as_of, "cmv-treat", action, dose_cite))
            run.decide(
                "cmv.preemptive-therapy",
                True,
                action,
                dose_cite,
                used={
                    "latest": _describe(latest),
                    "threshold (configurable)": _threshold(run, latest),
                    "rising": rising,
                    "fever": febrile,
                },
            )
        else:
            action = (
                f"Low-level CMV ({_describe(latest)}) below the threshold "
                f"{_threshold(run, latest):g} without fever: repeat within 7 days and treat "
                "if it persists or rises."
            )
            run.alert(
                Severity.WARNING, "cmv-low-level", action, SINGLE_POSITIVE_CITATION, latest.date
            )
            actions.append(
                Action(
                    min(as_of, latest.date + dt.timedelta(days=7))
                    if latest.date + dt.timedelta(days=7) > as_of
                    else as_of,
                    "cmv-test",
                    "Repeat CMV PCR",
                    SINGLE_POSITIVE_CITATION,
                )
            )
            run.decide(
                "cmv.preemptive-therapy",
                False,
                action,
                SINGLE_POSITIVE_CITATION,
                used={"latest": _describe(latest)},
            )
    elif last is None:
        status = CmvStatus.NOT_TESTED
        action = (
            "Take a baseline CMV PCR and test during therapy and for 2 months after."
            if policy is CmvPolicy.PREEMPTIVE
            else "Valganciclovir prophylaxis; test CMV in every febrile patient."
        )
        run.decide(
            "cmv.status",
            status.value,
            action,
            cite,
            status=DecisionStatus.INDETERMINATE,
            missing=("CMV test",),
        )
    else:
        status = CmvStatus.NEGATIVE
        action = (
            "Continue surveillance."
            if policy is CmvPolicy.PREEMPTIVE
            else "Continue valganciclovir prophylaxis."
        )
        run.decide("cmv.status", status.value, action, cite)
    if cleared_after_treatment and status is CmvStatus.NEGATIVE:
        run.released.setdefault(HoldKind.CMV, last.date if last else as_of)

    # Fever without a test since: test now (seed: without delay in every febrile patient).
    last_test_day = last.date if last else None
    for f in run.fevers:
        if status in (CmvStatus.ON_TREATMENT, CmvStatus.POSITIVE):
            break  # a reactivation is already known and acted on above
        if last_test_day is None or f.date > last_test_day:
            actions.append(
                Action(
                    f.date,
                    "cmv-test-fever",
                    f"CMV PCR or antigenemia now: fever {f.temperature_c:g} °C on {f.date}",
                    FEVER_CMV_TEST,
                )
            )
            run.alert(
                Severity.WARNING,
                "cmv-test-fever",
                f"Fever on {f.date} with no CMV test since: test without delay.",
                FEVER_CMV_TEST,
                f.date,
            )
            break
    next_due: dt.date | None = None
    if policy is CmvPolicy.PREEMPTIVE and in_window and status is not CmvStatus.ON_TREATMENT:
        interval = dt.timedelta(days=run.settings.cmv_pcr_interval_days)
        next_due = run.course.start_date if last is None else last.date + interval
        if window_end is not None and next_due > window_end and therapy_over:
            next_due = None
        if next_due is not None:
            actions.append(
                Action(
                    max(next_due, as_of) if next_due < as_of else next_due,
                    "cmv-surveillance",
                    f"CMV PCR (surveillance every {run.settings.cmv_pcr_interval_days} "
                    "days during therapy and for 2 months after)",
                    SURVEILLANCE_CITATION,
                )
            )
    elif status is CmvStatus.ON_TREATMENT and last is not None:
        next_due = last.date + dt.timedelta(days=7)
    info = CmvInfo(
        status=status,
        policy=policy.value,
        last_test=last.date if last else None,
        last_result=_describe(last) if last else None,
        next_test_due=next_due,
        action=action,
        citation=cite,
    )
    return info, actions


FEVER_CMV_TEST = Citation(
    SEED,
    "Summary",
    quote="CMV quantitative polymerase chain reaction or antigenemia should be performed "
    "routinely or at least without any delay in all febrile patients",
)


def prophylaxis_for(
    run: _Run, status: CourseStatus, last_dose: dt.date | None, end: dt.date | None
) -> tuple[tuple[ProphylaxisInfo, ...], Action | None]:
    """PCP and herpes prophylaxis: running or not, earliest stop, the CD4 condition."""
    rs = run.course.rule_sets.label
    over = status in (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)
    basis = last_dose if over else (end or last_dose)
    if basis is None:
        basis = run.course.start_date + dt.timedelta(days=run.profile.length_days - 1)
    items = supportive.prophylaxis_schedule(
        rs,
        run.doses[0][0] if run.doses else run.course.start_date,
        basis,
        run.settings.prophylaxis_start_day,
    )
    rules = supportive.supportive_rules(rs)
    cd4_after = [
        r
        for r in (run.lab_history if LabCode.CD4 in run.labs else ())  # labs: every code seen
        if r.code is LabCode.CD4
        and r.date is not None
        and last_dose is not None
        and r.date >= last_dose
    ]
    cd4_ok = rules.stop_cd4_per_ul is None or any(
        r.value >= rules.stop_cd4_per_ul for r in cd4_after
    )
    out = []
    for p in items:
        earliest = p.earliest_stop_date
        may_stop = over and (earliest is None or run.as_of >= earliest) and cd4_ok
        active = run.as_of >= p.start_date and not may_stop
        cond = p.stop_condition
        if over and not cd4_ok:
            latest = max(cd4_after, key=lambda r: r.date or run.as_of, default=None)
            cond += (
                f" Latest CD4 after therapy: {latest.value:g}/µL."
                if latest
                else " No CD4 count since the last dose."
            )
        drugs = tuple(d.text() for d in p.drugs)
        recorded = _recorded(run, p.kind)
        start: dt.date | None = p.start_date
        dose = None
        if recorded is not None:
            start = _recorded_start(run, p.kind) or start
            drugs, dose = _recorded_drug(recorded)
            active = recorded.action is ProphylaxisAction.START
            _check_recorded_stop(run, p.kind, recorded, earliest, cd4_ok, over, p.citation)
        out.append(
            ProphylaxisInfo(
                p.kind,
                active,
                drugs,
                start,
                earliest,
                cond,
                p.citation,
                recorded=None if recorded is None else recorded.action.value,
                recorded_date=None if recorded is None else recorded.date,
                dose=dose,
            )
        )
        if recorded is not None:
            outcome = f"recorded {recorded.action.value}"
        elif active:
            outcome = "active"
        else:
            outcome = "not yet started" if run.as_of < p.start_date else "may stop"
        run.decide(
            f"prophylaxis.{p.kind.value}",
            outcome,
            cond,
            p.citation,
            used={
                "earliest_stop": earliest,
                "cd4_condition_met": cd4_ok,
                "recorded": None if recorded is None else recorded.action.value,
            },
        )
    if run.course.rule_sets.cmv is CmvPolicy.PROPHYLAXIS:
        out.append(_cmv_prophylaxis(run, basis, over))
    action = None
    if over and not cd4_ok and rules.stop_cd4_per_ul is not None:
        last_cd4 = max((r.date for r in cd4_after if r.date), default=None)
        due = (
            (last_dose or run.as_of)
            if last_cd4 is None
            else last_cd4 + dt.timedelta(days=run.settings.cd4_interval_days)
        )
        action = Action(
            max(due, run.as_of) if last_cd4 is None else due,
            "cd4",
            f"CD4+ count (until ≥ {rules.stop_cd4_per_ul}/µL, then prophylaxis may stop)",
            CD4_CITATION,
        )
    return tuple(out), action


def _grade_rank(g: grading.GradeResult) -> int:
    return -1 if g.grade is None else int(g.grade)


CMV_PROPHYLAXIS_MONTHS_AFTER = 2
"""CMV prophylaxis runs to at least 2 months after the last alemtuzumab dose (configurable
default: the CMV window of the EU leaflet, E2, and the label's PCP / herpes duration, L1; O'Brien
2008 (P6) gave valganciclovir during alemtuzumab)."""

CMV_PROPHYLAXIS_FULL_DOSE_CRCL = 60.0
"""Below this creatinine clearance (mL/min) the Valcyte label reduces the prevention dose
(renal table: "CrCl >= 60: 900 mg once daily")."""

PROPHYLAXIS_NOT_TOLERATED_CITATION = Citation(
    "P2",
    "Lundin 2002, Blood 100:768",
    note="One PCP occurred in a patient allergic to co-trimoxazole: a prophylaxis the patient "
    "cannot take must be replaced by another agent.",
)


def _recorded(run: _Run, kind: ProphylaxisKind) -> ProphylaxisEvent | None:
    """The latest recorded prophylaxis event of an agent class."""
    events = [e for e in run.prophylaxis_events if e.agent is kind]
    return max(events, key=lambda e: e.date) if events else None


def _recorded_start(run: _Run, kind: ProphylaxisKind) -> dt.date | None:
    starts = [
        e.date
        for e in run.prophylaxis_events
        if e.agent is kind and e.action is ProphylaxisAction.START
    ]
    return max(starts) if starts else None


def _recorded_drug(e: ProphylaxisEvent) -> tuple[tuple[str, ...], str | None]:
    dose = None
    if e.dose_mg is not None:
        dose = f"{e.dose_mg:g} mg" + (f" {e.frequency}" if e.frequency else "")
    elif e.frequency:
        dose = e.frequency
    return (e.drug,), dose


def _check_recorded_stop(
    run: _Run,
    kind: ProphylaxisKind,
    e: ProphylaxisEvent,
    earliest: dt.date | None,
    cd4_ok: bool,
    over: bool,
    cite: Citation,
) -> None:
    """Alert on a prophylaxis stopped (or not tolerated) before the rule allows it to stop."""
    name = {"pcp": "PCP", "herpes": "Herpes", "cmv": "CMV"}[kind.value]
    if e.action is ProphylaxisAction.NOT_TOLERATED:
        run.alert(
            Severity.WARNING,
            f"prophylaxis-{kind.value}-not-tolerated",
            f"{name} prophylaxis with {e.drug} not tolerated on {e.date}: start another "
            f"{name} prophylaxis agent (it must continue to its earliest stop"
            + (f", {earliest}" if earliest else "")
            + ").",
            PROPHYLAXIS_NOT_TOLERATED_CITATION,
            e.date,
        )
        return
    if e.action is not ProphylaxisAction.STOP:
        return
    before_earliest = earliest is not None and e.date < earliest
    cd4_pending = not cd4_ok and kind is not ProphylaxisKind.CMV  # CD4 rule: PCP / herpes
    if not over or before_earliest or cd4_pending:
        why = (
            "during therapy"
            if not over
            else (
                f"before its earliest stop {earliest}"
                if earliest is not None and e.date < earliest
                else "before CD4+ has recovered"
            )
        )
        run.alert(
            Severity.WARNING,
            f"prophylaxis-{kind.value}-stopped-early",
            f"{name} prophylaxis ({e.drug}) recorded as stopped on {e.date}, {why}: restart it "
            "unless stopping was intended.",
            cite,
            e.date,
        )


def _cmv_prophylaxis(run: _Run, basis: dt.date, over: bool) -> ProphylaxisInfo:
    """The CMV prophylaxis of the ``prophylaxis`` CMV policy: valganciclovir 450 mg twice daily
    (O'Brien 2008, P6), from the first recorded start, to at least 2 months after the last dose
    (configurable default)."""
    kind = ProphylaxisKind.CMV
    # As PCP / herpes: from the planned end of therapy while it runs, the last dose once over.
    earliest = supportive.add_months(basis, CMV_PROPHYLAXIS_MONTHS_AFTER)
    recorded = _recorded(run, kind)
    antivirals = [
        a
        for a in run.antivirals
        if any(n in a.drug.lower() for n in CMV_ANTIVIRALS)
        and a.intent in (None, AntiviralIntent.PROPHYLAXIS)
        and not _treating(run, a, None)
    ]
    planned_dose = "valganciclovir 450 mg PO twice daily"
    drugs: tuple[str, ...] = (planned_dose,)
    dose: str | None = "450 mg twice daily"
    start: dt.date | None = None
    active = False
    state = None
    if recorded is not None:
        drugs, dose = _recorded_drug(recorded)
        start = _recorded_start(run, kind)
        active = recorded.action is ProphylaxisAction.START
        state = recorded.action.value
        _check_recorded_stop(
            run, kind, recorded, earliest, True, over, VALGANCICLOVIR_PROPHYLAXIS_CITATION
        )
    elif antivirals:
        a = max(antivirals, key=lambda x: x.begins)
        drugs = (a.drug,)
        dose = None if a.dose_mg is None else f"{a.dose_mg:g} mg {a.frequency}".strip()
        start = min(x.begins for x in antivirals)
        active = _active(a, run.as_of)
        state = "start" if active else "stop"
    dec, _ = _crcl(run)
    cond = (
        f"Not before {earliest} ({CMV_PROPHYLAXIS_MONTHS_AFTER} months after the last dose; "
        "configurable default). "
    )
    crcl = dec.outcome
    if crcl is None:
        cond += (
            "Creatinine clearance is needed to check the dose against the Valcyte renal table "
            "(prevention dose reduced below 60 mL/min)."
        )
    else:
        label = renal.renal_dose("valganciclovir", RenalPhase.MAINTENANCE, crcl)
        cond += (
            f"At CrCl {crcl:g} mL/min the Valcyte prevention dose is {label.text}."
            if label.recommended
            else f"At CrCl {crcl:g} mL/min: {label.band_text}."
        )
    if active and crcl is not None and crcl < CMV_PROPHYLAXIS_FULL_DOSE_CRCL:
        label = renal.renal_dose("valganciclovir", RenalPhase.MAINTENANCE, crcl)
        run.alert(
            Severity.WARNING,
            "cmv-prophylaxis-renal-dose",
            f"CMV prophylaxis ({', '.join(drugs)}{', ' + dose if dose else ''}) with creatinine "
            f"clearance {crcl:g} mL/min: the Valcyte label reduces the prevention dose to "
            + (label.text if label.recommended else f"none ({label.band_text})")
            + "; check the dose.",
            label.citation,
            None,
        )
    run.decide(
        "prophylaxis.cmv",
        "active" if active else ("not recorded" if state is None else f"recorded {state}"),
        cond,
        VALGANCICLOVIR_PROPHYLAXIS_CITATION,
        used={"earliest_stop": earliest, "crcl_ml_min": crcl},
    )
    return ProphylaxisInfo(
        kind,
        active,
        drugs,
        start,
        earliest,
        cond,
        VALGANCICLOVIR_PROPHYLAXIS_CITATION,
        recorded=state,
        recorded_date=None if recorded is None else recorded.date,
        dose=dose,
    )


def ctcae_grade(r: LabResult) -> int | None:
    """The CTCAE v5.0 grade of ``r``, as :func:`cllcds.rules.grading.grade` sets it (``None``:
    not graded on CTCAE), without its rationale, decision and citations: the worst grade of a
    course needs only the grade of each value; the full result is built for the values the
    state shows. Checked against ``grading.grade`` by the tests."""
    return _ctcae_grader(r.code)(r)


_CTCAE_GRADERS: dict[LabCode, Callable[[LabResult], int | None]] = {}
""":func:`_make_ctcae_grader` of each lab, made on first use (the shipped table and LLN)."""


def _ctcae_grader(code: LabCode) -> Callable[[LabResult], int | None]:
    """:func:`ctcae_grade` for the results of one lab (its table row and LLN looked up once
    per process: both come from the shipped tables, read once)."""
    grader = _CTCAE_GRADERS.get(code)
    if grader is None:
        grader = _CTCAE_GRADERS[code] = _make_ctcae_grader(code)
    return grader


def _make_ctcae_grader(code: LabCode) -> Callable[[LabResult], int | None]:
    """:func:`ctcae_grade` for the results of one lab."""
    rows = grading_table(ToxicityScale.CTCAE_5).labs.get(code)
    lln_result = lln_defaults().get(code)
    lln = lln_result.value if lln_result is not None else 0.0
    if rows is None:
        return lambda r: None
    si_bands, bands = rows.si_bands, rows.bands

    def grade(r: LabResult) -> int | None:
        unit = r.reported_unit
        si = si_bands.get(unit) if unit is not None else None
        if si is not None and unit is not None and r.reported_value is not None:
            x, bound = r.reported_value, from_canonical(code, lln, unit)
        else:
            si, x, bound = bands, r.value, lln
        if x >= bound:
            return 0
        for band in si:
            if band.contains(x, bound):
                return int(band.grade)
        raise AssertionError(f"no band contains {x}")  # pragma: no cover (grade() raises too)

    return grade


GRADE_EACH_VALUE_ONCE = True
"""Grade each distinct value of a lab once per replay (``False``: every value afresh, as the
tests compare)."""


def grades_for(run: _Run) -> dict[LabCode, GradeInfo]:
    """Each lab's grade on the course's toxicity scale.

    CTCAE v5.0 grades the latest value (``grade``) and reports the worst grade of the course
    beside it (``worst``). iwCLL 2008 Table 5 grades the nadir: the lowest value of the course
    (for Hb the lowest pre-transfusion value), so ``grade`` and ``worst`` are the nadir's grade.
    """
    out: dict[LabCode, GradeInfo] = {}
    scale = run.course.rule_sets.toxicity
    baseline = run.course.baseline
    start = run.course.start_date
    # The course's values of each lab (on or after the start), in the order recorded.
    history: dict[LabCode, list[LabResult]] = {}
    as_of = run.as_of
    for r in run.lab_history:
        if (r.date or as_of) >= start:
            values = history.get(r.code)
            if values is None:
                history[r.code] = [r]
            else:
                values.append(r)
    # Without a transfusion, an ESA or a growth factor recorded, every value has the same
    # support flags (what _hb_support and the G-CSF check below give for empty lists).
    unsupported = not (run.transfusions or run.esas or run.growth_factor)
    for code, latest in sorted(run.labs.items(), key=lambda kv: kv[0].value):
        if not code.graded:
            continue
        base = baseline.lab(code) if baseline is not None else None
        course_values = history.get(code) or [latest]

        # A grade depends on the value (as reported and canonical), the scale, the baseline and
        # the support flags, never on the date: equal inputs are graded once per lab. A zero is
        # always graded afresh (0.0 and -0.0 are equal keys but print differently).
        seen: dict[tuple[object, ...], grading.GradeResult] = {}

        def graded(
            r: LabResult,
            base: LabResult | None = base,
            seen: dict[tuple[object, ...], grading.GradeResult] = seen,
        ) -> grading.GradeResult:
            hb, anc = r.code is LabCode.HGB, r.code is LabCode.ANC
            transfused: bool
            esa: bool | None
            if unsupported:
                transfused, esa, gcsf = False, (False if hb else None), (False if anc else None)
            else:
                day = r.date or run.as_of
                transfused, esa = _hb_support(run, day) if hb else (False, None)
                gcsf = any(g.date <= day for g in run.growth_factor) if anc else None
            key = (r.value, r.reported_value, r.reported_unit, transfused, esa, gcsf)
            res = seen.get(key) if r.value != 0 and GRADE_EACH_VALUE_ONCE else None
            if res is None:
                res = grading.grade(
                    r,
                    scale,
                    baseline=base,
                    transfused=transfused,
                    growth_factor=gcsf,
                    erythropoietin=esa,
                )
                seen[key] = res
            return res

        if scale is ToxicityScale.IWCLL_2008_HAEM:
            results = [(r, graded(r)) for r in course_values]
            # The nadir: the lowest value that can be graded (Hb before any transfusion).
            usable = [
                (r, g) for r, g in results if not g.decision.inputs_used.get("transfused")
            ] or results
            chosen, res = min(usable, key=lambda rg: (rg[0].value, rg[0].date or run.as_of))
            worst_r, worst = chosen, res
            worst_grade = None if worst.grade is None else int(worst.grade)
            basis = "nadir"
            decision = dataclasses.replace(
                res.decision,
                rationale=f"Nadir {code.value} of the course ({chosen.date}): "
                + res.decision.rationale,
            )
        else:
            chosen, res = latest, graded(latest)
            if GRADE_EACH_VALUE_ONCE:
                # The worst grade by value alone (CTCAE grades the value, nothing else); the
                # full result only for the latest value.
                # The first value of the highest (grade, date), as max() over the graded
                # values gives; the latest value when none is graded.
                grade_of = _ctcae_grader(code)
                worst_r, worst_grade = chosen, None if res.grade is None else int(res.grade)
                top: tuple[int, dt.date] | None = None
                # The grade depends on the value (as reported and canonical) alone: each
                # distinct value is graded once.
                grade_by_value: dict[tuple[object, ...], int | None] = {}
                for r in course_values:
                    value_key = (r.value, r.reported_value, r.reported_unit)
                    if value_key in grade_by_value:
                        g = grade_by_value[value_key]
                    else:
                        g = grade_by_value[value_key] = grade_of(r)
                    if g is not None:
                        rank = (g, r.date or as_of)
                        if top is None or rank > top:
                            top, worst_r, worst_grade = rank, r, g
            else:
                results = [(r, graded(r)) for r in course_values]
                gradable = [(r, g) for r, g in results if g.grade is not None]
                worst_r, worst = max(
                    gradable or [(chosen, res)],
                    key=lambda rg: (_grade_rank(rg[1]), rg[0].date or run.as_of),
                )
                worst_grade = None if worst.grade is None else int(worst.grade)
            basis = "latest"
            decision = res.decision
        run.decisions.append(decision)
        out[code] = GradeInfo(
            lab=code,
            grade=None if res.grade is None else int(res.grade),
            scale=scale._value_,
            date=chosen.date or run.as_of,
            value=chosen.value,
            unit=code.canonical_unit._value_,
            decision=decision,
            worst=worst_grade,
            worst_date=worst_r.date or run.as_of,
            worst_value=worst_r.value,
            basis=basis,
        )
    return out


HB_SUPPORT_WINDOW_DAYS = 28
"""A red-cell transfusion or an erythropoiesis-stimulating agent given in the 28 days before a
haemoglobin makes it "transfused" / "with erythropoietin" (configurable default: the sources
say "untransfused and without erythropoietin" but give no window)."""

ESA_DRUG_WORDS = ("epoetin", "erythropoietin", "darbepoetin", "esa", "aranesp", "eprex", "retacrit")
"""Names that make a ``growth_factor`` event an ESA (older documents recorded ESAs there)."""

NEUTROPHIL_SUPPORT_WINDOW_DAYS = 28
"""A myeloid growth factor (G-CSF, GM-CSF) given in the 28 days before a neutrophil count makes
it "with exogenous growth factors" for the iwCLL 2008 CR/PR neutrophil rows (configurable
default: the criterion says "without need for exogenous growth factors" but gives no window)."""

RESPONSE_TIMING_MONTHS = 2
"""iwCLL: response is assessed at least 2 months after the end of therapy."""

RESPONSE_TIMING_IWCLL_CITATION = Citation(
    "G6",
    "Hallek 2018 (and 2008 §5): response assessment timing",
    note="Response is assessed at least 2 months after the completion of therapy; an earlier "
    "assessment is provisional (issue 10 reading; the article text beyond the abstract was not "
    "retrieved). NCI-WG 1996 likewise needs responses to last at least 2 months (S1).",
)


def _hb_support(run: _Run, day: dt.date) -> tuple[bool, bool]:
    """(transfused, erythropoietin) in the window before ``day``: none recorded means none."""
    window = dt.timedelta(days=HB_SUPPORT_WINDOW_DAYS)
    transfused = any(dt.timedelta(0) <= day - t.date <= window for t in run.transfusions)
    esa = any(e.begins <= day and day - e.ends <= window for e in run.esas) or any(
        dt.timedelta(0) <= day - g.date <= window
        and any(w in g.drug.lower() for w in ESA_DRUG_WORDS)
        for g in run.growth_factor
    )
    return transfused, esa


def _myeloid_support(run: _Run, day: dt.date) -> bool:
    """A myeloid growth factor (not an ESA recorded as a growth factor) in the window before
    ``day``: none recorded means none."""
    window = dt.timedelta(days=NEUTROPHIL_SUPPORT_WINDOW_DAYS)
    return any(
        dt.timedelta(0) <= day - g.date <= window
        and not any(w in g.drug.lower() for w in ESA_DRUG_WORDS)
        for g in run.growth_factor
    )


def response_for(run: _Run) -> ResponseInfo:
    """The latest assessment judged against the baseline on the course's criteria."""
    criteria = run.course.rule_sets.response
    baseline = run.course.baseline
    if not run.assessments:
        return ResponseInfo(
            ResponseCategory.NOT_EVALUABLE, criteria.value, None, None, False, {}, None
        )
    if baseline is None or baseline.assessment is None:
        latest: AssessmentEvent = run.assessments[-1]
        mrd = response_rules.mrd_status(latest.assessment.mrd)
        run.decide(
            f"response.{criteria.value}",
            ResponseCategory.NOT_EVALUABLE.value,
            "No baseline assessment: response cannot be judged.",
            Citation("G5", "iwCLL 2018 Table 4", rule_set=criteria.value),
            status=DecisionStatus.INDETERMINATE,
            missing=("baseline.assessment",),
        )
        return ResponseInfo(
            ResponseCategory.NOT_EVALUABLE,
            criteria.value,
            latest.date,
            mrd.outcome,
            False,
            {},
            None,
        )
    base = baseline.assessment.with_labs(baseline.labs)
    series = [_with_labs(run, a) for a in run.assessments]
    result = response_rules.assess_series(base, series, criteria)[-1]
    latest_a = series[-1]
    decision = result.decision
    notes: list[str] = []
    if latest_a.hgb_g_per_dl is not None:
        given = [
            w
            for w, on in (
                ("a transfusion", latest_a.transfused),
                ("an erythropoiesis-stimulating agent", latest_a.erythropoietin),
            )
            if on
        ]
        notes.append(
            f"Hb {latest_a.hgb_g_per_dl:g} g/dL counts only untransfused and without "
            f"erythropoietin: {' and '.join(given)} recorded in the {HB_SUPPORT_WINDOW_DAYS} "
            "days before, so it does not count"
            if given
            else f"No transfusion or erythropoiesis-stimulating agent recorded in the "
            f"{HB_SUPPORT_WINDOW_DAYS} days before the Hb: taken as untransfused and without "
            "erythropoietin"
        )
    if latest_a.anc_10e9_per_l is not None and criteria.value.startswith("iwcll-2008"):
        notes.append(
            f"Neutrophils {latest_a.anc_10e9_per_l:g} x10^9/L count only without exogenous "
            "growth factors: a G-CSF/GM-CSF recorded in the "
            f"{NEUTROPHIL_SUPPORT_WINDOW_DAYS} days before, so they do not count"
            if latest_a.growth_factor
            else "No myeloid growth factor recorded in the "
            f"{NEUTROPHIL_SUPPORT_WINDOW_DAYS} days before the neutrophil count: taken as "
            "without exogenous growth factors"
        )
    provisional = result.provisional
    confirm_on = result.confirm_on_or_after
    timing = ""
    if result.category.is_response and run.doses:
        last_dose = run.doses[-1][0]
        end = run.doses[0][0] + dt.timedelta(days=run.profile.length_days - 1)
        over = run.discontinued is not None or end < run.as_of
        due = supportive.add_months(last_dose, RESPONSE_TIMING_MONTHS)
        if not over or result.date < due:
            provisional = True
            confirm_on = max(confirm_on or due, due)
            timing = (
                f"provisional: assessed on {result.date}, "
                + ("during therapy" if not over else f"before {due} (2 months after the last dose)")
                + f"; confirm with an assessment at least {RESPONSE_TIMING_MONTHS} months after "
                f"the last dose ({RESPONSE_TIMING_IWCLL_CITATION.source}: "
                f"{RESPONSE_TIMING_IWCLL_CITATION.locator})"
            )
            notes.append(timing[0].upper() + timing[1:])
    if notes:
        decision = dataclasses.replace(
            decision,
            rationale=decision.rationale.rstrip(".") + ". " + ". ".join(notes) + ".",
            status=DecisionStatus.INDETERMINATE if timing else decision.status,
            inputs_used={
                **decision.inputs_used,
                "transfused (28 days before)": bool(latest_a.transfused),
                "erythropoietin (28 days before)": bool(latest_a.erythropoietin),
                "growth factor (28 days before)": bool(latest_a.growth_factor),
            },
        )
    run.decisions.append(decision)
    return ResponseInfo(
        category=result.category,
        criteria=criteria.value,
        date=result.date,
        mrd_negative=result.mrd_negative,
        provisional=provisional,
        by_compartment={c.value: r.value for c, r in result.by_compartment.items()},
        decision=decision,
        provisional_reason=timing or ("duration not yet confirmed" if provisional else ""),
        confirm_on_or_after=confirm_on,
    )


def _with_labs(run: _Run, ev: AssessmentEvent) -> Assessment:
    """The assessment with the blood values measured nearest to it (within 7 days before)."""
    labs = []
    for code in (LabCode.ALC, LabCode.ANC, LabCode.PLT, LabCode.HGB):
        near = [
            r
            for r in run.lab_history
            if r.code is code
            and r.date is not None
            and dt.timedelta(0) <= ev.date - r.date <= dt.timedelta(days=7)
        ]
        if near:
            labs.append(max(near, key=lambda r: r.date or ev.date))
    transfused, esa = _hb_support(run, ev.date)
    gf = _myeloid_support(run, ev.date)
    a = ev.assessment.with_labs(labs)
    # None recorded in the 4 weeks before means untransfused, without erythropoietin and
    # without growth factors (not "unknown"); the decision says so.
    return dataclasses.replace(
        a,
        transfused=transfused or bool(a.transfused),
        erythropoietin=esa or bool(a.erythropoietin),
        growth_factor=gf or bool(a.growth_factor),
    )
