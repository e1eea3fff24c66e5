"""The report of a study: Markdown and HTML, with PNG figures and a table per env.

Which rows count: per (env, agent), only those of the configuration of that pair's last row
in the file. Older rows of the pair are stale (the study file was edited between runs): they
are left out and counted in the report.

Aggregation over seeds, per (env, agent, mismatch, swept arguments, budget): the mean of the
trials' costs and gaps; the standard error is the spread over seeds (``std/√k``) when there
are ``k ≥ 2`` seeds, which holds both the evaluation noise and the variation of fitting, and
otherwise the trial's own standard error (for the gap, the paired one from common random
numbers).

The gap to the oracle is always reported as it is (in the cost's units), and next to it as
the measure that reads well for the env's ``cost_display``: the relative gap for control
costs, the ratio of error rates for error rates (a relative gap would blow up as the oracle's
rate goes to 0), the gap in dB for squared errors.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mbdl_control.evaluation import plots
from mbdl_control.evaluation.runner import meta_path
from mbdl_control.evaluation.store import ResultStore
from mbdl_control.evaluation.study import AGENT_AXIS

PAIR = ["env", "agent"]
BUDGET = ["budget_steps", "budget_samples"]
#: the name of the gap measure that fits each ``cost_display``
MEASURES = {"linear": "relative gap", "log": "error-rate ratio", "dB": "gap (dB)"}
MEASURE_NOTES = {
    "linear": "Relative gap: the gap over |oracle cost| (n/a where the oracle's cost is 0).",
    "log": "Error-rate ratio: the agent's error rate over the oracle's (n/a where the oracle "
    "makes no error; the absolute gap still shows).",
    "dB": "Costs in dB are 10 log10(cost); gap (dB): 10 log10(agent's cost / oracle's cost).",
}
#: number formats of costs and of gap measures, by ``cost_display`` (costs in dB for ``"dB"``)
COST_FORMATS = {"linear": ".3f", "log": ".3g", "dB": ".2f"}
GAP_FORMATS = {"linear": ".3f", "log": ".3g", "dB": ".3g"}
MEASURE_FORMATS = {"linear": ".3f", "log": ".3g", "dB": ".2f"}


def current_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of each (env, agent) whose ``config`` is that of the pair's last row."""
    config = rows["config"].fillna("")
    latest = config.groupby([rows["env"], rows["agent"]], sort=False).transform("last")
    return rows[config == latest]


def _axis_values(rows: pd.DataFrame) -> pd.DataFrame:
    """The swept arguments of each row (``axes`` JSON) as columns, NaN where an env does not
    sweep that argument."""
    parsed = [json.loads(text) if isinstance(text, str) else {} for text in rows["axes"]]
    frame = pd.DataFrame(parsed, index=rows.index)
    return frame[sorted(frame.columns)]


def swept_axes(summary: pd.DataFrame) -> list[str]:
    """The swept arguments of a :func:`summarize` table: its columns between ``mismatch`` and
    ``budget_steps``."""
    columns = list(summary.columns)
    return columns[columns.index("mismatch") + 1 : columns.index("budget_steps")]


def _spread(values: pd.Series, fallback: pd.Series) -> float:
    if len(values) >= 2:
        return float(values.std(ddof=1) / math.sqrt(len(values)))
    return float(fallback.iloc[0]) if len(fallback) else math.nan


def _over_seeds(group: pd.DataFrame) -> dict:
    """One summary line's statistics from its trials, one per seed (module docstring)."""
    display = group["cost_display"].iloc[0]
    return {
        "family": group["family"].iloc[0],
        "knowledge": group["knowledge"].iloc[0],
        "n_parameters": int(group["n_parameters"].max()),
        "seeds": len(group),
        "mean_cost": group["mean_cost"].mean(),
        "cost_se": _spread(group["mean_cost"], group["std_error"]),
        "gap_to_oracle": group["gap_to_oracle"].mean(),
        "gap_se": _spread(group["gap_to_oracle"], group["gap_to_oracle_se"]),
        "oracle_cost": group["oracle_cost"].mean(),
        "bound": group["bound"].mean(),
        "cost_display": display if display in MEASURES else "linear",
        "trials": _trials(group),
    }


def _trials(group: pd.DataFrame) -> float:
    """How many Bernoulli trials (symbols, bits) stand behind an error rate over the group's
    trials: the env's ``trials`` metric (per episode) times the episodes; 0 where there is
    none."""
    per_episode = group["metrics"].map(
        lambda text: json.loads(text).get("trials", 0.0) if isinstance(text, str) else 0.0
    )
    return float((per_episode * group["episodes"]).sum())


def _cost_text(mean: float, error: float, trials: float, display: str) -> str:
    """A cost cell. An error rate measured as 0 is no 0: it shows the 95 % upper confidence
    bound of zero errors in ``N`` trials, ``3/N`` (the rule of three)."""
    if display == "log" and mean == 0 and trials > 0:
        return f"< {3 / trials:.2g} (0 errors in {trials:.0f})"
    return _plus_minus(mean, error, COST_FORMATS[display])


def _decibels(values: pd.Series) -> pd.Series:
    return 10 * np.log10(values.where(values > 0))


def gap_measure(summary: pd.DataFrame) -> pd.Series:
    """The gap measure of each summary line by its ``cost_display`` (module docstring); NaN
    where it is undefined (an oracle cost of 0)."""
    cost, oracle, display = summary["mean_cost"], summary["oracle_cost"], summary["cost_display"]
    relative = summary["gap_to_oracle"] / oracle.abs().where(oracle.abs() > 0)
    ratio = cost / oracle.where(oracle > 0)
    in_db = _decibels(ratio)
    return relative.where(display == "linear", ratio.where(display == "log", in_db))


def _in_display_units(summary: pd.DataFrame) -> pd.DataFrame:
    """``shown_*`` columns: cost, its error, oracle and bound as figures and tables show them
    (in dB for ``"dB"`` envs, the error by the delta method; as they are otherwise)."""
    in_db = summary["cost_display"] == "dB"
    cost, error = summary["mean_cost"], summary["cost_se"]
    error_db = 10 / math.log(10) * error / cost.where(cost > 0)
    return summary.assign(
        shown_cost=_decibels(cost).where(in_db, cost),
        shown_cost_se=error_db.where(in_db, error),
        shown_oracle=_decibels(summary["oracle_cost"]).where(in_db, summary["oracle_cost"]),
        shown_bound=_decibels(summary["bound"]).where(in_db, summary["bound"]),
    )


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (env, agent, mismatch, swept arguments, budget) over the seeds of the
    current (not stale) ``ok`` trials; a swept argument is a column, NaN for envs that do
    not sweep it. Empty when no trial succeeded."""
    ok = current_rows(rows)
    ok = ok[ok["status"] == "ok"]
    axes = _axis_values(ok)
    ok = ok.join(axes)
    group = ["env", "agent", "mismatch", *axes.columns, *BUDGET]
    lines = [
        {**dict(zip(group, key, strict=True)), **_over_seeds(trials)}
        for key, trials in ok.groupby(group, sort=True, dropna=False)
    ]
    if not lines:
        return pd.DataFrame()
    summary = pd.DataFrame(lines)
    return _in_display_units(summary).assign(gap_measure=gap_measure(summary))


def per_agent(summary: pd.DataFrame) -> pd.DataFrame:
    """One point per (env, agent) for the spectrum map: the gap measure averaged over the
    grid points where it is defined (NaN where it is defined at none)."""
    return (
        summary.assign(measure_name=summary["cost_display"].map(MEASURES))
        .groupby(PAIR, sort=False)
        .agg(
            n_parameters=("n_parameters", "max"),
            knowledge=("knowledge", "first"),
            gap_measure=("gap_measure", "mean"),
            measure_name=("measure_name", "first"),
        )
        .reset_index()
    )


@dataclass(frozen=True)
class Report:
    """Where the report's files are."""

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def _plus_minus(mean: float, error: float, form: str) -> str:
    if not np.isfinite(mean):
        return "n/a"
    return f"{mean:{form}}" if not np.isfinite(error) else f"{mean:{form}} ± {error:{form}}"


def _axis_value(value) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _env_table(summary: pd.DataFrame, env: str) -> pd.DataFrame:
    """The env's lines: its swept arguments as columns, the absolute gap and the measure
    that fits its ``cost_display``."""
    rows = summary[summary["env"] == env]
    display = rows["cost_display"].iloc[0]
    axes = [name for name in swept_axes(summary) if rows[name].notna().any()]
    gap_form = GAP_FORMATS[display]
    cost = "cost (dB) ± s.e." if display == "dB" else "cost ± s.e."
    return pd.DataFrame(
        {
            "agent": rows["agent"],
            "family": rows["family"],
            "knowledge": rows["knowledge"],
            "parameters": rows["n_parameters"],
            "mismatch": rows["mismatch"],
            **{axis_label(name): rows[name].map(_axis_value) for name in axes},
            "budget (steps)": rows["budget_steps"],
            "budget (samples)": rows["budget_samples"],
            "seeds": rows["seeds"],
            cost: [
                _cost_text(m, e, n, display)
                for m, e, n in zip(
                    rows["shown_cost"], rows["shown_cost_se"], rows["trials"], strict=True
                )
            ],
            "gap to oracle ± s.e.": [
                _plus_minus(m, e, gap_form)
                for m, e in zip(rows["gap_to_oracle"], rows["gap_se"], strict=True)
            ],
            MEASURES[display]: [
                _plus_minus(m, math.nan, MEASURE_FORMATS[display]) for m in rows["gap_measure"]
            ],
        }
    )


def _range(values: pd.Series, form: str, unit: str) -> str:
    low, high = values.min(), values.max()
    if np.isclose(low, high):
        return f"{low:{form}}{unit}"
    return f"{low:{form}} to {high:{form}}{unit} across the grid"


def _env_note(rows: pd.DataFrame) -> str:
    """The env's oracle cost, bound and gap measure, in a sentence."""
    display = rows["cost_display"].iloc[0]
    form, unit = COST_FORMATS[display], " dB" if display == "dB" else ""
    oracle = f"oracle cost per step: {_range(rows['shown_oracle'], form, unit)}"
    bound = "no performance bound known"
    if rows["shown_bound"].notna().any():
        bound = (
            f"bound on the expected cost per step: {_range(rows['shown_bound'], form, unit)}; "
            "sample means may fall below it"
        )
    return f"{oracle}; {bound}. {MEASURE_NOTES[display]}"


def _markdown_cell(value) -> str:
    """A cell's text with ``|`` escaped, which would otherwise end the cell."""
    return str(value).replace("|", "\\|")


def _markdown_table(frame: pd.DataFrame) -> str:
    def line(cells) -> str:
        return "| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |"

    lines = [line(frame.columns), "|" + "---|" * len(frame.columns)]
    lines += [line(row) for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _at_largest_budget(frame: pd.DataFrame) -> pd.DataFrame:
    """Each (env, agent) at its largest budget: the most steps, then the most samples."""
    steps = frame.groupby(PAIR)["budget_steps"].transform("max")
    frame = frame[frame["budget_steps"] == steps]
    samples = frame.groupby(PAIR)["budget_samples"].transform("max")
    return frame[frame["budget_samples"] == samples]


def _at_mismatch(summary: pd.DataFrame, pick: str) -> pd.DataFrame:
    """Each env at its ``pick`` (``"min"`` or ``"max"``) mismatch value."""
    return summary[summary["mismatch"] == summary.groupby("env")["mismatch"].transform(pick)]


def _at_smallest_axes(summary: pd.DataFrame, free: str | None = None) -> pd.DataFrame:
    """Each env at the smallest value of every swept argument of the env but ``free``, each
    agent at the largest of its own (the most iterations or layers it was run with)."""
    for name in swept_axes(summary):
        if name != free:
            owner = "agent" if name.startswith(AGENT_AXIS) else "env"
            pick = summary.groupby(owner)[name].transform("max" if owner == "agent" else "min")
            summary = summary[summary[name].isna() | (summary[name] == pick)]
    return summary


def axis_label(name: str) -> str:
    """A swept argument's name as a report shows it (an agent's without ``agent.``)."""
    return name.removeprefix(AGENT_AXIS)


def training_curves(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (env, agent) with a non-empty curve, the curve of its first trial (lowest seed,
    then file order) at its largest budget: ``env``, ``agent``, ``curve`` (a list)."""
    ok = current_rows(rows)
    ok = ok[ok["status"] == "ok"]
    curves = ok.assign(
        curve=[json.loads(text) if isinstance(text, str) else [] for text in ok["curve"]]
    )
    curves = _at_largest_budget(curves[curves["curve"].map(len) > 0])
    first = curves.sort_values("seed", kind="stable").groupby(PAIR, sort=True).head(1)
    return first[["env", "agent", "curve"]].sort_values(PAIR)


def _axis_figures(summary: pd.DataFrame, styles, out: Path) -> list[tuple[str, Path]]:
    """One figure per swept argument, with a panel per env that sweeps it."""
    figures = []
    for name in swept_axes(summary):
        rows = _at_smallest_axes(_at_mismatch(_at_largest_budget(summary), "min"), name)
        rows = rows[rows[name].notna()]
        label = axis_label(name)
        caption = (
            f"Cost against {label} (each agent at its largest budget, at the smallest "
            "mismatch; the env's other swept arguments at their smallest value, the agent's "
            "at their largest)"
        )
        figure = plots.cost_against(rows.rename(columns={name: label}), label, styles)
        figures.append((caption, plots.save(figure, out / f"cost_vs_{label}.png")))
    return figures


def _figures(summary: pd.DataFrame, curves: pd.DataFrame, out: Path) -> list[tuple[str, Path]]:
    styles = plots.agent_styles(summary["agent"])
    points = plots.spectrum_map(per_agent(summary), styles)
    figures = [("Spectrum map", plots.save(points, out / "spectrum_map.png"))]
    fixed = "; other swept arguments at their smallest value" if swept_axes(summary) else ""
    if summary["mismatch"].nunique() > 1:
        rows = _at_smallest_axes(_at_largest_budget(summary))
        figure = plots.cost_against(rows, "mismatch", styles)
        path = plots.save(figure, out / "cost_vs_mismatch.png")
        figures.append((f"Cost against mismatch (each agent at its largest budget{fixed})", path))
    if len(summary[BUDGET].drop_duplicates()) > 1:
        figure = plots.cost_vs_budget(_at_smallest_axes(_at_mismatch(summary, "max")), styles)
        path = plots.save(figure, out / "cost_vs_budget.png")
        figures.append((f"Cost against data budget (largest mismatch{fixed})", path))
    figures += _axis_figures(summary, styles, out)
    if len(curves):
        figure = plots.training_curves(curves, styles)
        caption = "Training curves (each agent's first seed at its largest budget)"
        figures.append((caption, plots.save(figure, out / "training_curves.png")))
    return figures


def _how_it_ran(rows: pd.DataFrame, stale: int, results: Path) -> list[str]:
    failed = int((rows["status"] != "ok").sum())
    lines = [f"- results: `{results}` ({len(rows)} trials, {failed} failed)"]
    if stale:
        lines.append(
            f"- {stale} stale rows left out: rows of an earlier configuration of their "
            "(env, agent), from before the study file was edited"
        )
    meta_file = meta_path(results)
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        study = meta["study"]
        lines.append(
            f"- seeds {study['seeds']}, {study['episodes']} evaluation episodes per trial "
            f"(evaluation seed = seed + {study['seed_offset']})"
        )
        for run in meta["runs"]:
            workers = run["workers"] or "every CPU of the cluster as"
            lines.append(
                f"- run: {run['executor']} with {workers} workers, "
                f"{run['trials_run']} trials, {run['wall_seconds']:.1f} s wall time"
            )
    for versions in rows["versions"].dropna().unique():
        packages = ", ".join(f"{k} {v}" for k, v in json.loads(versions).items())
        lines.append(f"- versions: {packages}")
    return lines


def _introduction(rows: pd.DataFrame, results: Path) -> list[tuple[str, str, object]]:
    sections: list[tuple[str, str, object]] = [("h1", f"Study {rows['study'].iloc[0]}", None)]
    meta = json.loads(meta_path(results).read_text()) if meta_path(results).exists() else {}
    if meta.get("description"):
        sections.append(("p", meta["description"], None))
    sections.append(
        (
            "p",
            "Gaps are to the env's oracle on the same episodes (common random "
            "numbers); ± is one standard error (over seeds when there are several). "
            "In the figures, agents are shifted sideways by a few points so that equal "
            "values stay visible.",
            None,
        )
    )
    return sections


def _env_sections(summary: pd.DataFrame) -> list[tuple[str, str, object]]:
    sections: list[tuple[str, str, object]] = []
    for env in sorted(summary["env"].unique()):
        sections += [
            ("h2", f"{env}", None),
            ("p", _env_note(summary[summary["env"] == env]), None),
            ("table", "", _env_table(summary, env)),
        ]
    return sections


def write_report(results: str | Path, out: str | Path | None = None) -> Report:
    """Write ``report.md``, ``report.html`` and the figures for the study in ``results``."""
    results = Path(results)
    if not results.exists():
        raise FileNotFoundError(f"no results at {results}; run a study first (mbdl-control run)")
    out = Path(out) if out is not None else results.with_suffix("")
    out.mkdir(parents=True, exist_ok=True)
    stored = ResultStore(results).read()
    rows = current_rows(stored)
    summary = summarize(rows)
    if summary.empty:
        raise ValueError(f"{results} holds no successful trial to report on")
    figures = _figures(summary, training_curves(rows), out)
    sections = _introduction(rows, results)
    for caption, path in figures:
        sections += [("h2", caption, None), ("img", caption, path.name)]
    sections += _env_sections(summary)
    failed = rows[rows["status"] != "ok"]
    if len(failed):
        sections += [("h2", "Failed trials", None), ("table", "", failed[["trial", "error"]])]
    how = _how_it_ran(rows, len(stored) - len(rows), results)
    sections += [("h2", "How the study was run", None), ("list", "\n".join(how), None)]
    markdown, page = _render(sections)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(page)
    return Report(out / "report.md", out / "report.html", tuple(path for _, path in figures))


def _render(sections) -> tuple[str, str]:
    title = html.escape(sections[0][1])
    head = f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
    markdown, page = [], [head]
    for kind, text, payload in sections:
        if kind in ("h1", "h2"):
            markdown.append(f"{'#' if kind == 'h1' else '##'} {text}")
            page.append(f"<{kind}>{html.escape(text)}</{kind}>")
        elif kind == "p":
            markdown.append(text)
            page.append(f"<p>{html.escape(text)}</p>")
        elif kind == "img":
            markdown.append(f"![{text}]({payload})")
            source, alt = html.escape(payload), html.escape(text)
            page.append(f"<img src='{source}' alt='{alt}' style='max-width:100%'>")
        elif kind == "table":
            markdown.append(_markdown_table(payload))
            page.append(payload.to_html(index=False, escape=True))
        elif kind == "list":
            markdown.append(text)
            items = "".join(f"<li>{html.escape(line[2:])}</li>" for line in text.splitlines())
            page.append(f"<ul>{items}</ul>")
    page.append("</body></html>")
    return "\n\n".join(markdown) + "\n", "\n".join(page)
