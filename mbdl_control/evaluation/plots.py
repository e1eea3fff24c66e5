"""The report's figures (matplotlib, Agg backend, one panel per env).

Each function builds and returns a Figure, and :func:`save` writes it, so that a test can look
at the artists before they become pixels. Every figure takes the same ``styles`` (agent label
→ :class:`Style`, from :func:`agent_styles` once per report), so that an agent keeps its
colour, marker and line style in every panel and figure. Agents with equal costs would hide
each other: besides its own marker and line style, each agent's points are shifted sideways
by a few points of display space (the same shift on linear and log axes).

A panel's y-axis follows its env's ``cost_display``: a log scale for error rates (``"log"``),
values in dB for squared errors (``"dB"``: the summary's ``shown_*`` columns are already in
dB), linear otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation

from mbdl_control.core import KNOWLEDGE

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINE_STYLES = ("-", "--", "-.", ":")
#: sideways shift between neighbouring agents of a panel, in points
DODGE_POINTS = 4.0
#: up to this many x values, a panel has a tick at each
MAX_TICKS = 8
Y_LABELS = {
    "linear": "cost per step",
    "log": "cost per step (log scale)",
    "dB": "cost per step (dB)",
}
#: the value of each gap measure at which an agent matches the oracle (the colour scale's start)
MATCHES_ORACLE = {"relative gap": 0.0, "error-rate ratio": 1.0, "gap (dB)": 0.0}
#: how far apart, in knowledge levels, the labels of one level may spread
LEVEL_SPREAD = 0.7


@dataclass(frozen=True)
class Style:
    """How one agent is drawn everywhere in a report."""

    colour: tuple[float, ...]
    marker: str
    line_style: str


def agent_styles(agents) -> dict[str, Style]:
    """One style per agent label, assigned in sorted order so that the same study always
    gives an agent the same look."""
    labels = sorted(set(agents))
    palette = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {
        label: Style(
            palette(index % palette.N),
            MARKERS[index % len(MARKERS)],
            LINE_STYLES[index % len(LINE_STYLES)],
        )
        for index, label in enumerate(labels)
    }


def save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG and free it."""
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _panels(envs: list[str], height: float = 3.8) -> tuple[Figure, dict]:
    figure, axes = plt.subplots(
        1, len(envs), figsize=(5.2 * len(envs), height), squeeze=False, layout="constrained"
    )
    return figure, dict(zip(envs, axes[0], strict=True))


def _legend(figure: Figure, styles: Mapping[str, Style]) -> None:
    """One legend for the whole figure, outside the panels: the styles are the same in every
    panel, and a legend inside a panel covers its data. Agents come first, in their order."""
    handles: dict[str, object] = {}
    for axis in figure.axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    order = [label for label in styles if label in handles]
    order += [label for label in handles if label not in styles]
    if order:
        figure.legend(
            [handles[label] for label in order], order, loc="outside right upper", fontsize=8
        )


def _shifted(axis, points: float):
    return axis.transData + ScaledTranslation(points / 72, 0, axis.figure.dpi_scale_trans)


def _y_axis(axis, display: str) -> None:
    if display == "log":
        axis.set_yscale("log")
    axis.set_ylabel(Y_LABELS[display])


# --- spectrum map -------------------------------------------------------------------------


def _stagger(count: int) -> np.ndarray:
    """Vertical offsets that give each of ``count`` labels of one knowledge level a row."""
    return np.linspace(-LEVEL_SPREAD / 2, LEVEL_SPREAD / 2, count) if count > 1 else np.zeros(1)


def _colour_scale(rows: pd.DataFrame) -> matplotlib.colors.Normalize:
    start = MATCHES_ORACLE.get(rows["measure_name"].iloc[0], 0.0)
    finite = rows["gap_measure"][np.isfinite(rows["gap_measure"])]
    top = float(finite.max()) if len(finite) else start
    return matplotlib.colors.Normalize(start, max(top, start + 1e-9))


def _spectrum_point(axis, row, y: float, norm, style: Style) -> None:
    """One agent: its marker filled by its gap measure (hollow and grey where the measure is
    undefined), and its name in its colour, on the side of the point that has room."""
    measure = row["gap_measure"]
    defined = bool(np.isfinite(measure))
    axis.scatter(
        row["n_parameters"],
        y,
        s=70,
        marker=style.marker,
        color=plt.cm.viridis(norm(measure)) if defined else "none",
        edgecolor="black" if defined else "grey",
        zorder=3,
    )
    to_axes_fraction = axis.transData + axis.transAxes.inverted()
    on_the_right = to_axes_fraction.transform((row["n_parameters"], y))[0] > 0.6
    text = axis.annotate(
        row["agent"],
        (row["n_parameters"], y),
        xytext=(-8 if on_the_right else 8, 0),
        textcoords="offset points",
        ha="right" if on_the_right else "left",
        va="center",
        fontsize=8,
        color=style.colour,
    )
    text.set_clip_on(True)


def _spectrum_panel(axis, rows: pd.DataFrame, styles: Mapping[str, Style]) -> None:
    levels = list(KNOWLEDGE)[::-1]
    axis.set_xscale("symlog", linthresh=1)
    axis.set_xlim(-0.5, max(10, rows["n_parameters"].max() * 30))
    axis.set_ylim(-0.6, len(levels) - 0.4)
    norm = _colour_scale(rows)
    for knowledge, level in rows.groupby("knowledge"):
        level = level.sort_values(["n_parameters", "agent"])
        base = levels.index(knowledge)
        for offset, (_, row) in zip(_stagger(len(level)), level.iterrows(), strict=True):
            _spectrum_point(axis, row, base + offset, norm, styles[row["agent"]])
    axis.set_yticks(range(len(levels)), levels)
    axis.set_xlabel("learned parameters")
    axis.grid(alpha=0.3)
    mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap="viridis")
    axis.figure.colorbar(mappable, ax=axis, label=rows["measure_name"].iloc[0], pad=0.02)


def spectrum_map(per_agent: pd.DataFrame, styles: Mapping[str, Style]) -> Figure:
    """x: learned parameters (symlog), y: model knowledge, fill: the env's gap measure.

    ``per_agent`` has one row per (env, agent) with ``n_parameters``, ``knowledge``,
    ``gap_measure`` and ``measure_name``. Envs may measure the gap differently, so each panel
    has its own colour bar, beside it. The agents of one knowledge level each get a row of
    their own, so that no two labels overlap; a label stays inside its panel.
    """
    envs = sorted(per_agent["env"].unique())
    crowd = int(per_agent.groupby(["env", "knowledge"]).size().max())
    figure, axes = _panels(envs, height=max(3.8, 1.2 + 0.85 * (crowd - 1)))
    for env, axis in axes.items():
        _spectrum_panel(axis, per_agent[per_agent["env"] == env], styles)
        axis.set_title(env, fontsize=10)
    next(iter(axes.values())).set_ylabel("model knowledge")
    return figure


# --- cost against an axis of the grid -----------------------------------------------------


#: on a log scale, a bar whose lower end would fall below this fraction of its value stops
#: there (an error rate of a few errors has a standard error about as large as itself)
LOG_BAR_FLOOR = 0.1


def _agent_points(axis, group: pd.DataFrame, x: str, style: Style, shift: float, log: bool) -> None:
    """An agent's costs with error bars; a line joins them only where there are two or more,
    so that an agent measured at one x shows as a point there. Matplotlib does not fit the
    axis limits to shifted artists, so the unshifted points and bar ends are added to them.
    On a log scale (``log``) a lower bar end is cut at :data:`LOG_BAR_FLOOR` of the value, so
    that a bar reaching (nearly) 0 does not stretch the axis over decades."""
    xs = group[x].to_numpy(float)
    ys = group["shown_cost"].to_numpy(float)
    errors = group["shown_cost_se"].fillna(0).to_numpy(float)
    lower = np.minimum(errors, (1 - LOG_BAR_FLOOR) * ys) if log else errors
    ends = np.column_stack([np.r_[xs, xs], np.r_[ys - lower, ys + errors]])
    axis.update_datalim(ends[np.isfinite(ends).all(axis=1)])
    axis.errorbar(
        xs,
        ys,
        yerr=np.vstack([lower, errors]),
        transform=_shifted(axis, shift),
        color=style.colour,
        marker=style.marker,
        markersize=6,
        linestyle=style.line_style if len(group) >= 2 else "none",
        capsize=3,
        label=group["agent"].iloc[0],
    )


def _references(axis, rows: pd.DataFrame, x: str) -> None:
    """The oracle (unless it is one of the agents) and the bound, as black and grey lines, or
    short ticks where the panel has one x."""
    reference = rows.groupby(x)[["shown_oracle", "shown_bound"]].mean()
    tick = {"marker": "_", "markersize": 16} if len(reference) == 1 else {}
    oracle_is_an_agent = (rows["gap_to_oracle"] == 0).groupby(rows["agent"]).all().any()
    if not oracle_is_an_agent:
        axis.plot(reference.index, reference["shown_oracle"], "k--", label="oracle", **tick)
    if reference["shown_bound"].notna().any():
        axis.plot(
            reference.index, reference["shown_bound"], ":", color="gray", label="bound", **tick
        )


def _on_log_scale(axis, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the costs a log scale cannot show (error rates of 0) as NaN, and a note
    in the panel saying how many points that hides."""
    shown = ["shown_cost", "shown_oracle", "shown_bound"]
    hidden = int((rows["shown_cost"] <= 0).sum())
    if hidden:
        note = f"{hidden} point(s) at cost 0 not drawn (log scale)"
        axis.text(0.02, 0.02, note, transform=axis.transAxes, fontsize=7, color="gray")
    return rows.assign(**{column: rows[column].where(rows[column] > 0) for column in shown})


def _on_x_axis(axis, rows: pd.DataFrame, x: str, symlog: bool) -> pd.DataFrame:
    """``rows`` with ``x`` as numbers to plot, and the panel's x-axis set for them: a symlog
    scale where asked and there is a range to show, and a tick at each value when there are
    few (budgets, mismatch levels). Values that are not numbers (a swept name, such as a
    modulation) become the positions 0, 1, … of their sorted texts, which label the ticks."""
    numbers = pd.to_numeric(rows[x], errors="coerce")
    if numbers.isna().any():
        texts = sorted(rows[x].astype(str).unique())
        axis.set_xticks(range(len(texts)), texts)
        return rows.assign(**{x: rows[x].astype(str).map(texts.index)})
    positive = numbers[numbers > 0]
    if symlog and numbers.nunique() > 1 and len(positive):
        axis.set_xscale("symlog", linthresh=float(positive.min()))
    if numbers.nunique() <= MAX_TICKS:
        ticks = sorted(numbers.unique())
        axis.set_xticks(ticks, [f"{tick:g}" for tick in ticks])
    return rows.assign(**{x: numbers})


def _cost_panel(axis, rows: pd.DataFrame, x: str, styles: Mapping[str, Style]) -> None:
    display = rows["cost_display"].iloc[0]
    if display == "log":
        rows = _on_log_scale(axis, rows)
    agents = sorted(rows["agent"].unique())
    middle = (len(agents) - 1) / 2
    for index, agent in enumerate(agents):
        group = rows[rows["agent"] == agent].sort_values(x)
        shift = (index - middle) * DODGE_POINTS
        _agent_points(axis, group, x, styles[agent], shift, display == "log")
    _references(axis, rows, x)
    _y_axis(axis, display)
    axis.autoscale_view()
    axis.grid(alpha=0.3)


#: (summary rows of one env) → (x column, x label, whether x is drawn on a symlog scale)
XAxis = Callable[[pd.DataFrame], tuple[str, str, bool]]


def _cost_figure(summary: pd.DataFrame, styles: Mapping[str, Style], x_axis: XAxis) -> Figure:
    envs = sorted(summary["env"].unique())
    figure, axes = _panels(envs)
    for env, axis in axes.items():
        rows = summary[summary["env"] == env]
        x, label, symlog = x_axis(rows)
        rows = _on_x_axis(axis, rows, x, symlog)
        _cost_panel(axis, rows, x, styles)
        axis.set_xlabel(label)
        axis.set_title(env, fontsize=10)
    _legend(figure, styles)
    return figure


def cost_against(summary: pd.DataFrame, x: str, styles: Mapping[str, Style]) -> Figure:
    """Cost per step against the column ``x`` (mismatch, a swept argument), one panel per
    env and one line per agent; ``summary`` holds one row per (env, agent, x)."""
    return _cost_figure(summary, styles, lambda rows: (x, x, False))


def _budget_axis(rows: pd.DataFrame) -> tuple[str, str, bool]:
    """Env steps, unless only the labelled samples vary in this env."""
    if rows["budget_steps"].nunique() == 1 and rows["budget_samples"].nunique() > 1:
        return "budget_samples", "data budget (labelled samples)", True
    return "budget_steps", "data budget (env steps)", True


def cost_vs_budget(summary: pd.DataFrame, styles: Mapping[str, Style]) -> Figure:
    """Cost per step against the data budget, one line per agent; an agent with one budget
    is a point at that budget."""
    return _cost_figure(summary, styles, _budget_axis)


# --- training curves ----------------------------------------------------------------------


def training_curves(curves: pd.DataFrame, styles: Mapping[str, Style]) -> Figure:
    """Loss against iteration, one panel per env and one line per agent; ``curves`` has
    ``env``, ``agent`` and ``curve`` (a list, ``None`` for skipped iterations). The y-axis is
    logarithmic in a panel whose losses are all positive."""
    envs = sorted(curves["env"].unique())
    figure, axes = _panels(envs)
    for env, axis in axes.items():
        rows = curves[curves["env"] == env].sort_values("agent")
        losses = [np.array(curve, dtype=float) for curve in rows["curve"]]
        for agent, loss in zip(rows["agent"], losses, strict=True):
            style = styles[agent]
            axis.plot(
                np.arange(len(loss)),
                loss,
                color=style.colour,
                linestyle=style.line_style,
                marker=style.marker if len(loss) < 20 else None,
                label=agent,
            )
        finite = np.concatenate(losses)
        if (finite[np.isfinite(finite)] > 0).all():
            axis.set_yscale("log")
        axis.set_xlabel("iteration (long curves thinned to 200 points)")
        axis.set_ylabel("training loss")
        axis.set_title(env, fontsize=10)
        axis.grid(alpha=0.3)
    _legend(figure, styles)
    return figure
