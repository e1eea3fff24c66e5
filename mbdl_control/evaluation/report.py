"""The report of a study: Markdown and HTML, with PNG figures and a table per env.

Aggregation over seeds, per (env, agent, mismatch, budget): the mean of the trials' costs and
gaps; the standard error is the spread over seeds (``std/√k``) when there are ``k ≥ 2`` seeds,
which holds both the evaluation noise and the variation of fitting, and otherwise the trial's
own standard error (for the gap, the paired one from common random numbers).
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

GROUP = ["env", "agent", "mismatch", "budget_steps"]


def _spread(values: pd.Series, fallback: pd.Series) -> float:
    if len(values) >= 2:
        return float(values.std(ddof=1) / math.sqrt(len(values)))
    return float(fallback.iloc[0]) if len(fallback) else math.nan


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (env, agent, mismatch, budget) over the seeds of the ``ok`` trials."""
    ok = rows[rows["status"] == "ok"]
    lines = []
    for key, group in ok.groupby(GROUP, sort=True):
        lines.append(
            {
                **dict(zip(GROUP, key, strict=True)),
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
            }
        )
    return pd.DataFrame(lines)


def per_agent(summary: pd.DataFrame) -> pd.DataFrame:
    """One point per (env, agent) for the spectrum map: the relative gap averaged over the grid."""
    frame = summary.assign(relative_gap=summary["gap_to_oracle"] / summary["oracle_cost"].abs())
    return (
        frame.groupby(["env", "agent"], sort=False)
        .agg(
            n_parameters=("n_parameters", "max"),
            knowledge=("knowledge", "first"),
            relative_gap=("relative_gap", "mean"),
        )
        .reset_index()
    )


@dataclass(frozen=True)
class Report:
    """Where the report's files are."""

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def _plus_minus(mean: float, error: float) -> str:
    return f"{mean:.3f}" if not np.isfinite(error) else f"{mean:.3f} ± {error:.3f}"


def _env_table(summary: pd.DataFrame, env: str) -> pd.DataFrame:
    rows = summary[summary["env"] == env]
    return pd.DataFrame(
        {
            "agent": rows["agent"],
            "family": rows["family"],
            "knowledge": rows["knowledge"],
            "parameters": rows["n_parameters"],
            "mismatch": rows["mismatch"],
            "budget (steps)": rows["budget_steps"],
            "seeds": rows["seeds"],
            "cost ± s.e.": [
                _plus_minus(m, e) for m, e in zip(rows["mean_cost"], rows["cost_se"], strict=True)
            ],
            "gap to oracle ± s.e.": [
                _plus_minus(m, e)
                for m, e in zip(rows["gap_to_oracle"], rows["gap_se"], strict=True)
            ],
        }
    )


def _markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def _figures(summary: pd.DataFrame, out: Path) -> list[tuple[str, Path]]:
    figures = [("Spectrum map", plots.spectrum_map(per_agent(summary), out / "spectrum_map.png"))]
    by_agent = summary.groupby(["env", "agent"])
    largest_budget = summary["budget_steps"] == by_agent["budget_steps"].transform("max")
    if summary["mismatch"].nunique() > 1:
        path = plots.cost_vs_mismatch(summary[largest_budget], out / "cost_vs_mismatch.png")
        figures.append(("Cost against mismatch (each agent at its largest budget)", path))
    largest_mismatch = summary["mismatch"] == summary.groupby("env")["mismatch"].transform("max")
    if summary["budget_steps"].nunique() > 1:
        path = plots.cost_vs_budget(summary[largest_mismatch], out / "cost_vs_budget.png")
        figures.append(("Cost against data budget (largest mismatch)", path))
    return figures


def _how_it_ran(rows: pd.DataFrame, results: Path) -> list[str]:
    lines = [
        f"- results: `{results}` ({len(rows)} trials, {int((rows['status'] != 'ok').sum())} failed)"
    ]
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


def write_report(results: str | Path, out: str | Path | None = None) -> Report:
    """Write ``report.md``, ``report.html`` and the figures for the study in ``results``."""
    results = Path(results)
    if not results.exists():
        raise FileNotFoundError(f"no results at {results}; run a study first (mbdl-control run)")
    out = Path(out) if out is not None else results.with_suffix("")
    out.mkdir(parents=True, exist_ok=True)
    rows = ResultStore(results).read()
    summary = summarize(rows)
    if summary.empty:
        raise ValueError(f"{results} holds no successful trial to report on")
    figures = _figures(summary, out)
    title = f"Study {rows['study'].iloc[0]}"
    meta = json.loads(meta_path(results).read_text()) if meta_path(results).exists() else {}
    sections: list[tuple[str, str, object]] = [("h1", title, None)]
    if meta.get("description"):
        sections.append(("p", meta["description"], None))
    sections.append(
        (
            "p",
            "Gaps are to the env's oracle on the same episodes (common random "
            "numbers); ± is one standard error (over seeds when there are several).",
            None,
        )
    )
    for caption, path in figures:
        sections += [("h2", caption, None), ("img", caption, path.name)]
    for env in sorted(summary["env"].unique()):
        bound = summary.loc[summary["env"] == env, "bound"].mean()
        oracle = summary.loc[summary["env"] == env, "oracle_cost"].mean()
        sections += [
            ("h2", f"{env}", None),
            ("p", f"oracle cost {oracle:.3f} per step; performance bound {bound:.3f}", None),
            ("table", "", _env_table(summary, env)),
        ]
    failed = rows[rows["status"] != "ok"]
    if len(failed):
        sections += [("h2", "Failed trials", None), ("table", "", failed[["trial", "error"]])]
    sections += [
        ("h2", "How the study was run", None),
        ("list", "\n".join(_how_it_ran(rows, results)), None),
    ]
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
