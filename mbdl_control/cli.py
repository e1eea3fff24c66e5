"""The ``mbdl-control`` command."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mbdl_control.envs import ENV_SPECS

app = typer.Typer(
    help="Model-based deep learning for control: envs, agents across the spectrum, evaluation.",
    no_args_is_help=True,
    add_completion=False,
)


def _plus_minus(value: float | None, error: float | None) -> str:
    if value is None:
        return "—"
    if error is None or math.isnan(error):
        return f"{value:.3f}"
    return f"{value:.3f} ± {error:.3f}"


@app.callback()
def main() -> None:
    """mbdl-control: where on the model-based ↔ data-driven spectrum should a decision rule sit?"""


@app.command()
def demo(
    env: Annotated[str, typer.Option(help="A registered env id.")] = "mbdl/BoxLQR-v0",
    mismatch: Annotated[float, typer.Option(min=0.0, help="Model mismatch (>= 0).")] = 0.1,
    episodes: Annotated[int, typer.Option(min=2, help="Evaluation episodes.")] = 50,
    seed: Annotated[int, typer.Option(help="Evaluation seed (common to all agents).")] = 0,
) -> None:
    """Evaluate the classical agents on the nominal model against the oracle and the bound."""
    from mbdl_control.evaluation.demo import run_demo

    if env not in ENV_SPECS:
        raise typer.BadParameter(f"{env!r} is not an mbdl env; valid: {sorted(ENV_SPECS)}")
    console = Console()
    with console.status(f"evaluating on {env} ({episodes} episodes) ..."):
        rows = run_demo(env, mismatch, episodes, seed)
    table = Table(title=f"{env}, mismatch {mismatch}: cost per step over {episodes} episodes")
    for column in (
        "agent",
        "knowledge",
        "cost ± s.e.",
        "gap to oracle ± paired s.e.",
        "solves failed",
    ):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for row in rows:
        result = row.result
        failed = result.metrics.get("failed_solves")
        table.add_row(
            row.name,
            row.agent.spectrum.knowledge,
            _plus_minus(result.mean_cost, result.std_error),
            _plus_minus(result.gap_to_oracle, result.gap_to_oracle_se),
            "—" if failed is None else f"{int(failed)}",
        )
    console.print(table)
    console.print(f"performance bound (no policy beats it): {rows[0].result.bound:.3f}")
