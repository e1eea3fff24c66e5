"""The ``mbdl-control`` command."""

from __future__ import annotations

import importlib
import inspect
import math
import re
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mbdl_control.envs import ENV_SPECS
from mbdl_control.evaluation.study import StudyError

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
    if env not in ENV_SPECS:
        raise typer.BadParameter(f"{env!r} is not an mbdl env; valid: {sorted(ENV_SPECS)}")
    domain = ENV_SPECS[env][0].partition(":")[0]  # each domain's demo: mbdl_control.demos.<domain>
    run_demo = importlib.import_module(f"mbdl_control.demos.{domain}").run_demo
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
    bound = _plus_minus(rows[0].result.bound, None)
    console.print(f"bound on the expected cost per step: {bound} (a sample mean may fall below it)")


class Listing(str, Enum):
    envs = "envs"
    agents = "agents"


class ExecutorName(str, Enum):
    local = "local"
    ray = "ray"


#: an RST inline literal of a docstring: code between double backticks
_LITERAL = re.compile(r"``(.+?)``")


def _summary(obj: object) -> Text:
    """The first paragraph of ``obj``'s docstring (of its ``## Description`` section, where
    an env's docstring starts), on one line for the table to wrap, so a description reads as
    whole sentences; RST literals are shown as code (styled, without their backticks)."""
    doc = inspect.getdoc(obj) or ""
    _, heading, description = doc.partition("## Description")
    paragraph = (description if heading else doc).strip().split("\n\n")[0]
    summary = Text()
    for index, part in enumerate(_LITERAL.split(" ".join(paragraph.split()))):
        summary.append(part, style="cyan" if index % 2 else "")  # odd parts: the literals
    return summary


@app.command(name="list")
def list_(what: Annotated[Listing, typer.Argument(help="envs or agents")]) -> None:
    """List the registered envs, or the agents with their place on the spectrum."""
    import gymnasium as gym

    from mbdl_control import agents
    from mbdl_control.evaluation.agent_factory import SB3_ALGORITHMS

    console = Console()
    if what is Listing.envs:
        table = Table("id", "episode steps", "description")
        for env_id in sorted(ENV_SPECS):
            env_class = gym.registry[env_id].entry_point
            module, _, name = str(env_class).partition(":")
            cls = getattr(__import__(module, fromlist=[name]), name)
            table.add_row(
                env_id,
                str(gym.registry[env_id].max_episode_steps),
                _summary(cls),
            )
    else:
        table = Table("agent", "family", "builds on", "description")
        for name in sorted(agents.AGENTS):
            cls = getattr(agents, name)
            knowledge = " or ".join(cls.knowledge_options)
            table.add_row(name, cls.family, knowledge, _summary(cls))
        table.add_row("oracle", "(the env's)", "true", "the env's best known policy")
        for name in SB3_ALGORITHMS:
            table.add_row(name, "deep-learning", "none", f"stable-baselines3 {name}")
    console.print(table)


def _executor(executor: ExecutorName, workers: int | None, address: str | None):
    """Local: ``workers`` processes (default 1). Ray: ``workers`` trials at once (default
    every CPU of the cluster) on the cluster at ``address`` or ``RAY_ADDRESS``, else locally."""
    from mbdl_control.evaluation.executors import LocalExecutor, RayExecutor

    if executor is ExecutorName.ray:
        return RayExecutor(address=address, workers=workers)
    return LocalExecutor(workers or 1)


def _run_one(study, results: Path, executor, rerun_failed: bool, quiet: bool, log_file) -> int:
    from mbdl_control.evaluation.report import write_report
    from mbdl_control.evaluation.runner import run_study

    console = Console()
    summary = run_study(study, results, executor, rerun_failed, quiet, log_file)
    console.print(
        f"{study.name}: {summary.total} trials, {summary.skipped} already done, "
        f"{summary.ran} run now, {summary.failed} failed -> {results}"
    )
    if summary.stale:
        console.print(
            f"the study file changed: {summary.stale} rows in {results} are trials it no "
            "longer has (other arguments); they are kept, and the report shows only the "
            "latest configuration of each agent"
        )
    try:
        report = write_report(results)
    except ValueError as error:
        console.print(f"no report: {error}")
        return 1
    console.print(
        f"report: {report.markdown} (and {report.html.name}, {len(report.figures)} figures)"
    )
    return 1 if summary.failed else 0


@app.command()
def run(
    study_file: Annotated[Path, typer.Argument(help="A study TOML file (see experiments/).")],
    results: Annotated[
        Path | None, typer.Option(help="Result CSV (default results/<name>.csv).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Parallel trials (default local: 1; ray: every CPU of the cluster)."
        ),
    ] = None,
    executor: Annotated[
        ExecutorName, typer.Option(help="local processes or a Ray cluster.")
    ] = ExecutorName.local,
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join: auto (on one of its nodes), HEAD:6379 or "
            "ray://HEAD:10001 (default RAY_ADDRESS, else a local Ray instance)."
        ),
    ] = None,
    rerun_failed: Annotated[bool, typer.Option(help="Run failed trials again.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
    log_file: Annotated[Path | None, typer.Option(help="Log every trial to this file.")] = None,
) -> None:
    """Run a study (resuming where it stopped) and write its report.

    Exit code 0: every trial ok; 1: some trials failed (they are in the results); 2: bad input.
    """
    from mbdl_control.evaluation.study import load_study

    try:
        study = load_study(study_file)
    except StudyError as error:
        raise typer.BadParameter(str(error), param_hint="STUDY_FILE") from error
    target = results or Path("results") / f"{study.name}.csv"
    raise typer.Exit(
        _run_one(
            study, target, _executor(executor, workers, address), rerun_failed, quiet, log_file
        )
    )


@app.command()
def report(
    results: Annotated[Path, typer.Argument(help="A study's result CSV.")],
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default next to the results).")
    ] = None,
) -> None:
    """Write the Markdown/HTML report and figures of a study's results."""
    from mbdl_control.evaluation.report import write_report

    try:
        written = write_report(results, out)
    except (FileNotFoundError, ValueError) as error:
        raise typer.BadParameter(str(error), param_hint="RESULTS") from error
    Console().print(
        f"report: {written.markdown} (and {written.html.name}, {len(written.figures)} figures)"
    )


@app.command()
def reproduce(
    quick: Annotated[
        bool, typer.Option(help="The reduced studies (about 2 minutes on 2 cores).")
    ] = False,
    experiments: Annotated[Path, typer.Option(help="Folder of study files.")] = Path("experiments"),
    results_dir: Annotated[Path, typer.Option(help="Where results and reports go.")] = Path(
        "results"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Parallel trials.")] = 2,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Run every study in EXPERIMENTS (the published results and the spectrum), with reports."""
    from mbdl_control.evaluation.study import load_study

    files = sorted(experiments.glob("*.toml"))
    if not files:
        raise typer.BadParameter(
            f"no study files (*.toml) in {experiments}", param_hint="--experiments"
        )
    try:
        studies = [load_study(path) for path in files]
    except StudyError as error:
        raise typer.BadParameter(str(error), param_hint="--experiments") from error
    worst = 0
    for study in studies:
        study = study.quick_version() if quick else study
        name = f"{study.name}-quick" if quick else study.name
        code = _run_one(
            study,
            results_dir / f"{name}.csv",
            _executor(ExecutorName.local, workers, None),
            False,
            quiet,
            None,
        )
        worst = max(worst, code)
    raise typer.Exit(worst)
