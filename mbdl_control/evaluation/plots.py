"""The report's figures (matplotlib, Agg backend, one PNG each, one panel per env)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mbdl_control.core import KNOWLEDGE


def _panels(envs: list[str], height: float = 3.8):
    figure, axes = plt.subplots(1, len(envs), figsize=(5.2 * len(envs), height), squeeze=False)
    return figure, dict(zip(envs, axes[0], strict=True))


def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def spectrum_map(per_agent: pd.DataFrame, path: Path) -> Path:
    """x: learned parameters (symlog), y: model knowledge, colour: relative gap to the oracle.

    ``per_agent`` has one row per (env, agent) with ``n_parameters``, ``knowledge`` and
    ``relative_gap``; agents at the same point are spread vertically so each label shows.
    """
    envs = sorted(per_agent["env"].unique())
    figure, axes = _panels(envs)
    levels = list(KNOWLEDGE)[::-1]
    gaps = per_agent["relative_gap"].clip(lower=0)
    norm = matplotlib.colors.Normalize(0, max(float(gaps.max()), 1e-9))
    for env, axis in axes.items():
        rows = per_agent[per_agent["env"] == env].reset_index(drop=True)
        for _, group in rows.groupby(["n_parameters", "knowledge"]):
            offsets = np.linspace(-0.25, 0.25, len(group)) if len(group) > 1 else [0.0]
            for offset, (_, row) in zip(offsets, group.iterrows(), strict=True):
                y = levels.index(row["knowledge"]) + offset
                colour = plt.cm.viridis(norm(max(row["relative_gap"], 0)))
                axis.scatter(row["n_parameters"], y, s=80, color=colour, edgecolor="black")
                axis.annotate(
                    row["agent"],
                    (row["n_parameters"], y),
                    xytext=(7, -3),
                    textcoords="offset points",
                    fontsize=8,
                )
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xlim(-0.5, max(10, rows["n_parameters"].max() * 30))
        axis.set_yticks(range(len(levels)), levels)
        axis.set_ylim(-0.6, len(levels) - 0.4)
        axis.set_xlabel("learned parameters")
        axis.set_title(env, fontsize=10)
        axis.grid(alpha=0.3)
    next(iter(axes.values())).set_ylabel("model knowledge")
    mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap="viridis")
    figure.colorbar(mappable, ax=list(axes.values()), label="gap to oracle / oracle cost")
    return _save(figure, path)


def _lines(summary: pd.DataFrame, x: str, path: Path, xlabel: str, symlog: bool) -> Path:
    envs = sorted(summary["env"].unique())
    figure, axes = _panels(envs)
    for env, axis in axes.items():
        rows = summary[summary["env"] == env].sort_values(x)
        span = [rows[x].min(), rows[x].max()]
        for agent, group in rows.groupby("agent", sort=False):
            if len(group) == 1:  # one point (an agent that uses no data): a level line
                axis.plot(span, [group["mean_cost"].iloc[0]] * 2, "-.", label=agent)
                continue
            axis.errorbar(
                group[x],
                group["mean_cost"],
                yerr=group["cost_se"].fillna(0),
                marker="o",
                capsize=3,
                label=agent,
            )
        reference = rows.groupby(x)[["oracle_cost", "bound"]].mean()
        oracle_is_an_agent = rows.groupby("agent")["gap_to_oracle"].apply(lambda g: (g == 0).all())
        if not oracle_is_an_agent.any():
            axis.plot(reference.index, reference["oracle_cost"], "k--", label="oracle")
        if reference["bound"].notna().any():
            axis.plot(reference.index, reference["bound"], ":", color="gray", label="bound")
        positive = rows[x][rows[x] > 0]
        if symlog:
            axis.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
        axis.set_xlabel(xlabel)
        axis.set_ylabel("cost per step")
        axis.set_title(env, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return _save(figure, path)


def cost_vs_mismatch(summary: pd.DataFrame, path: Path) -> Path:
    """Mean cost per step against mismatch, one line per agent (at the largest budget)."""
    return _lines(summary, "mismatch", path, "mismatch", symlog=False)


def cost_vs_budget(summary: pd.DataFrame, path: Path) -> Path:
    """Mean cost per step against the data budget (steps), one line per agent (at the
    largest mismatch)."""
    return _lines(summary, "budget_steps", path, "data budget (env steps)", symlog=True)
