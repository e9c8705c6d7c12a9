"""``cllcds evidence``: the review's studies, tables, contradictions and pooled estimates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cllcds import services
from cllcds.domain import InputError
from cllcds.evidence import Basis, Outcome, PredictionInterval, Subset, TauMethod, Transform
from cllcds.services import Grouping

from ._output import Format, emit_csv, emit_json, emit_table, fail

FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format", "-f", help="Output format: table, json or csv (report and pool: table or json)."
    ),
]


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:g}" if float(x).is_integer() else f"{x:.1f}"


def register(app: typer.Typer) -> None:
    """Add the ``evidence`` command group to ``app``."""
    ev = typer.Typer(
        help="The review's evidence: studies, Tables 1-2, contradictions, pooled estimates.",
        no_args_is_help=True,
    )
    app.add_typer(ev, name="evidence")

    @ev.command("studies")
    def studies_cmd(fmt: FormatOpt = Format.TABLE) -> None:
        """List every study in the review with its size and response."""
        rows = [services.study_summary(st) for st in services.evidence_studies()]
        if fmt is Format.JSON:
            emit_json(rows)
            return
        cols = ["id", "cited_as", "setting", "route", "n_evaluable", "orr_pct", "cr_pct"]
        if fmt is Format.CSV:
            emit_csv(rows, [*cols, "design", "disease_status", "n_enrolled", "regimen"])
            return
        emit_table(
            [[r[c] if not c.endswith("_pct") else _num(r[c]) for c in cols] for r in rows],
            ["Study", "Cited as", "Setting", "Route", "N eval.", "ORR %", "CR %"],
            title="Studies in the review",
            caption="ORR/CR: recomputed from the text's counts where it prints them.",
        )

    @ev.command("show")
    def show_cmd(study_id: str, fmt: FormatOpt = Format.TABLE) -> None:
        """Every value one study reports, with where the review says it."""
        detail = services.study_detail(study_id)
        if fmt is Format.JSON:
            emit_json(detail)
            return
        if fmt is Format.CSV:
            emit_csv(
                detail["outcomes"],
                [
                    "measure",
                    "population",
                    "count",
                    "denominator",
                    "percent",
                    "value",
                    "unit",
                    "locator",
                    "quote",
                ],
            )
            return
        typer.echo(f"{detail['cited_as']} - {detail['title']}")
        typer.echo(
            f"{detail['design']}, {detail['setting']}, route {detail['route']}; "
            f"{detail['population']['description']}"
        )
        typer.echo(f"Regimen: {detail['regimen']}")
        emit_table(
            [
                [
                    o["measure"],
                    o["population"],
                    _value_text(o),
                    ("* " if o["primary"] else "") + o["locator"],
                    o["quote"] or f"(derived) {o['note']}",
                ]
                for o in detail["outcomes"]
            ],
            ["Measure", "Population", "Value", "Where (* primary)", "Quote"],
        )

    @ev.command("report")
    def report_cmd(fmt: FormatOpt = Format.TABLE) -> None:
        """The evidence report: every study with its numbers and sources, the two tables and
        the register of contradictions."""
        rep = services.evidence_report()
        if fmt is Format.JSON:
            emit_json(rep)
            return
        if fmt is Format.CSV:
            fail("the report has several sections; use --format table or json")
        typer.echo("cllcds evidence report: " + rep["source"])
        for st in rep["studies"]:
            typer.echo("")
            emit_table(
                [
                    [o["measure"], o["population"], _value_text(o), o["locator"]]
                    for o in st["outcomes"]
                ],
                ["Measure", "Population", "Value", "Where in the review"],
                title=f"{st['cited_as']} ({st['id']}): {st['title']}",
                caption=f"{st['design']}, {st['setting']}, {st['route']}; n evaluable "
                f"{st['population']['n_evaluable']}. Regimen: {st['regimen']}",
            )
        for number in (1, 2):
            typer.echo("")
            _print_table(number, recomputed=True)
        typer.echo("")
        _print_register(rep["discrepancies"])

    @ev.command("table")
    def table_cmd(
        number: Annotated[int, typer.Argument(help="1 (monotherapy) or 2 (combination).")],
        fmt: FormatOpt = Format.TABLE,
        recomputed: Annotated[
            bool, typer.Option("--recomputed", help="Add n, OR and CR recomputed from the text.")
        ] = False,
    ) -> None:
        """The review's Table 1 or 2, exactly as printed (and, on request, as recomputed)."""
        rows = services.review_table(number, recomputed=recomputed)
        if fmt is Format.JSON:
            emit_json(rows)
            return
        if fmt is Format.CSV:
            emit_csv(rows, list(rows[0]))
            return
        _print_table(number, recomputed=recomputed)

    @ev.command("discrepancies")
    def discrepancies_cmd(
        fmt: FormatOpt = Format.TABLE,
        study: Annotated[str | None, typer.Option(help="Only this study id.")] = None,
    ) -> None:
        """Where the review contradicts itself: tables vs text, percentages vs counts."""
        items = services.discrepancies(study)
        if fmt is Format.JSON:
            emit_json(items)
            return
        if fmt is Format.CSV:
            emit_csv(
                items,
                [
                    "study_id",
                    "field",
                    "kind",
                    "severity",
                    "table_value",
                    "text_value",
                    "recomputed",
                    "description",
                    "likely_reading",
                ],
            )
            return
        _print_register(items)

    @ev.command("bibliography")
    def bibliography_cmd(fmt: FormatOpt = Format.TABLE) -> None:
        """Every reference the review cites, with its stable id."""
        refs = services.bibliography_rows()
        if fmt is Format.JSON:
            emit_json(refs)
            return
        cols = ["id", "cited_as", "year", "title", "journal", "note"]
        if fmt is Format.CSV:
            emit_csv(refs, cols)
            return
        emit_table(
            [[r[c] for c in cols] for r in refs],
            ["Id", "Cited as", "Year", "Title", "Journal", "Note"],
        )

    @ev.command("pool")
    def pool_cmd(
        outcome: Annotated[
            Outcome, typer.Option(help="Overall or complete response.")
        ] = Outcome.ORR,
        subset: Annotated[
            Subset, typer.Option(help="Table 1 (monotherapy), Table 2 (combination), or both.")
        ] = Subset.MONOTHERAPY,
        transform: Annotated[
            Transform, typer.Option(help="logit, ft (Freeman-Tukey), raw or arcsine.")
        ] = Transform.LOGIT,
        method: Annotated[
            TauMethod, typer.Option(help="tau^2 estimator: DL, REML, PM, or EE (common effect).")
        ] = TauMethod.REML,
        knha: Annotated[bool, typer.Option("--knha", help="Knapp-Hartung adjustment.")] = False,
        pi: Annotated[
            PredictionInterval,
            typer.Option("--pi", help="Prediction interval: metafor (predict.rma) or hts."),
        ] = PredictionInterval.METAFOR,
        level: Annotated[float, typer.Option(help="Confidence level, e.g. 0.95.")] = 0.95,
        basis: Annotated[
            Basis, typer.Option(help="text: counts from the review's text; printed: the tables.")
        ] = Basis.TEXT,
        by: Annotated[
            Grouping | None, typer.Option(help="Subgroups: route (IV vs SC) or setting.")
        ] = None,
        data: Annotated[
            Path | None, typer.Option("--data", help="Your own CSV (columns study, events, n).")
        ] = None,
        group_column: Annotated[
            str | None, typer.Option(help="With --data: a column naming each study's subgroup.")
        ] = None,
        loo: Annotated[bool, typer.Option("--leave-one-out", help="Leave each study out.")] = False,
        plot: Annotated[
            Path | None, typer.Option(help="Write a forest plot (.svg or .png).")
        ] = None,
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        """Pooled response rate (random effects, as R metafor computes it), with a forest plot."""
        if not 0 < level < 1:
            raise InputError("--level", level, "give a confidence level between 0 and 1, e.g. 0.95")
        if fmt is Format.CSV:
            raise InputError("--format", "csv", "use table or json")
        req = services.PoolRequest(outcome, subset, basis, data, group_column, by)
        opts = services.PoolOptions(transform, method, knha, level, pi)
        if loo:
            out = services.leave_one_out_analysis(req, opts)
        else:
            out = services.pool_analysis(req, opts)
        if plot is not None:
            services.forest(req, opts, plot)
            out["plot"] = str(plot)
        if fmt is Format.JSON:
            emit_json(out)
            return
        _print_pool(out, loo=loo)

    @ev.command("verify-quotes")
    def verify_quotes_cmd(
        review: Annotated[Path, typer.Option(help="A text copy of the review.")],
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        """Check every quote of the evidence base against a copy of the review; exit 1 if any
        is missing."""
        checks = services.verify_quotes(review)
        missing = [c for c in checks if not c["found"]]
        if fmt is Format.JSON:
            emit_json({"checked": len(checks), "missing": missing})
        else:
            typer.echo(f"{len(checks)} quotes and table rows checked; {len(missing)} not found.")
            for c in missing:
                typer.echo(f"  {c['where']}: {c['quote']}")
        if missing:
            raise SystemExit(1)


def _ci(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "-"
    return f"{100 * lo:.1f}-{100 * hi:.1f}"


def _print_result(title: str, r: dict[str, Any]) -> None:
    emit_table(
        [
            [
                s["study"],
                f"{s['events']}/{s['n']}",
                f"{100 * s['proportion']:.1f}",
                _ci(s["ci_low"], s["ci_high"]),
                f"{s['weight_pct']:.1f}",
            ]
            for s in r["studies"]
        ]
        + [
            [
                "Pooled",
                f"k = {r['k']}",
                f"{100 * r['estimate']:.1f}",
                _ci(r["ci_low"], r["ci_high"]),
                "100.0",
            ]
        ],
        ["Study", "Events/n", "%", f"{int(r['level'] * 100)}% CI", "Weight %"],
        title=title,
        caption=(
            f"Prediction interval {_ci(r['pi_low'], r['pi_high'])}%; tau² {r['tau2']:.4f}; "
            f"I² {r['i2']:.1f}%; Q {r['q']:.2f} (df {r['q_df']}, p {r['q_p']:.3f}); "
            f"{r['transform']} scale, {r['method']}{', Knapp-Hartung' if r['knha'] else ''}."
        ),
    )


def _print_pool(out: dict[str, Any], *, loo: bool) -> None:
    typer.echo(f"Data: {out['data']}")
    if loo:
        emit_table(
            [
                [
                    r["omitted"],
                    r["k"],
                    f"{100 * r['estimate']:.1f}",
                    _ci(r["ci_low"], r["ci_high"]),
                    f"{r['tau2']:.4f}",
                    f"{r['i2']:.1f}",
                ]
                for r in out["leave_one_out"]
            ],
            ["Omitted", "k", "%", "CI", "tau²", "I² %"],
            title="Leave-one-out",
        )
        return
    if "subgroups" in out:
        for name, r in out["subgroups"].items():
            _print_result(f"Subgroup {name}", r)
        _print_result("All studies", out["overall"])
        t = out["test_of_subgroup_differences"]
        df2 = f", {t['qm_df2']}" if t["qm_df2"] is not None else ""
        typer.echo(
            f"Test of subgroup differences (mixed-effects model): QM = {t['qm']:.3f} "
            f"(df {t['qm_df1']}{df2}), p = {t['qm_p']:.4f}; Q-between = {t['q_between']:.3f}, "
            f"p = {t['q_between_p']:.4f}"
        )
    else:
        _print_result("Pooled proportion", out)
    for inp in out["inputs"]:
        if "study_id" in inp:
            typer.echo(f"  {inp['study']}: {inp['basis']}")
    if "plot" in out:
        typer.echo(f"Forest plot written to {out['plot']}")
    typer.echo("Reproduce in R:")
    typer.echo(out["methods"])


def _value_text(o: dict[str, Any]) -> str:
    if o["value"] is not None:
        rng = f" ({_num(o['low'])}-{_num(o['high'])})" if o["low"] is not None else ""
        return f"{_num(o['value'])} {o['unit']}{rng}"
    parts = []
    if o["count"] is not None:
        parts.append(f"{o['count']}" + (f"/{o['denominator']}" if o["denominator"] else ""))
    if o["percent"] is not None:
        parts.append(f"{_num(o['percent'])}%")
    elif o["denominator"]:
        parts.append(f"{_num(100 * o['count'] / o['denominator'])}% (computed)")
    text = " = ".join(parts)
    return text + (" [derived]" if o["derived"] else "")


def _print_table(number: int, *, recomputed: bool) -> None:
    meta = services.review_table_meta(number)
    rows = services.review_table(number, recomputed=recomputed)
    cols = ["reference", "schedule", "n_evaluable", "or_cr"]
    heads = ["Reference", "Schedule of treatment", "No. pts evaluable", "% OR/% CR"]
    if number == 1:
        cols.append("route")
        heads.append("Route")
    if recomputed:
        cols += ["text_n", "text_or_cr"]
        heads += ["Text n", "Text % OR/% CR"]
    body = []
    for raw in rows:
        r = dict(raw)
        r["or_cr"] = f"{_num(r['or_pct'])}/{_num(r['cr_pct'])}"
        if recomputed:
            flag = "" if r["agrees"] else "  ≠"
            r["text_or_cr"] = f"{_num(r['text_or_pct'])}/{_num(r['text_cr_pct'])}{flag}"
        body.append([r[c] for c in cols])
    emit_table(body, heads, title=f"Table {number}. {meta['title']}", caption=meta["abbreviations"])


def _print_register(items: list[dict[str, Any]]) -> None:
    emit_table(
        [
            [
                i["study_id"],
                i["field"],
                i["severity"],
                _num(i["table_value"]),
                _num(i["text_value"]),
                _num(i["recomputed"]),
                i["description"],
                i["likely_reading"],
            ]
            for i in items
        ],
        ["Study", "Field", "Severity", "Table", "Text", "Recomputed", "What", "Most likely"],
        title=f"Consistency register: {len(items)} places where the review disagrees with itself",
    )
