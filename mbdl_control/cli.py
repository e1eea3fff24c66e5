"""The ``mbdl-control`` command."""

from __future__ import annotations

import importlib
import inspect
import math
import re
import shlex
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from mbdl_control.envs import ENV_SPECS
from mbdl_control.evaluation.study import StudyError

app = typer.Typer(
    help="Model-based deep learning for control: envs, agents across the spectrum, evaluation.",
    no_args_is_help=True,
    add_completion=False,
)


def _plus_minus(value: float | None, error: float | None, form: str = ".3f") -> str:
    if value is None:
        return "—"
    if error is None or math.isnan(error):
        return f"{value:{form}}"
    return f"{value:{form}} ± {error:{form}}"


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
    # error rates and squared errors span decades: significant digits, not decimals
    form = ".3f" if domain == "control" else ".3g"
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
            _plus_minus(result.mean_cost, result.std_error, form),
            _plus_minus(result.gap_to_oracle, result.gap_to_oracle_se, form),
            "—" if failed is None else f"{int(failed)}",
        )
    console.print(table)
    bound = _plus_minus(rows[0].result.bound, None, form)
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
        table = Table("id", "episode steps", Column("description", overflow="fold"))
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
        table = Table("agent", "family", "builds on", Column("description", overflow="fold"))
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


def _what_ran(summary) -> str:
    """One line saying what a run did, and the failed trials the store still holds (a rerun
    skips them, so "0 failed now" alone would hide them)."""
    text = (
        f"{summary.total} trials, {summary.skipped} already done, {summary.ran} run now, "
        f"{summary.failed} failed"
    )
    if summary.elsewhere:
        text += f", {summary.elsewhere} left to another run sharing the store"
    if summary.failed_stored:
        text += f"; {summary.failed_stored} failed in the store (--rerun-failed to retry them)"
    return f"{text} -> {summary.results}"


def _interrupted(study, results: Path, resume: str) -> str:
    from mbdl_control.evaluation.store import ResultStore

    keys = study.trials()
    stored = ResultStore(results).statuses() if results.exists() else {}
    done = len(stored.keys() & {key.id for key in keys})
    return (
        f"{study.name}: interrupted; {done} of {len(keys)} trials are stored in {results}. "
        f"Resume with: {resume}"
    )


def _run_one(
    study, results: Path, executor, rerun_failed: bool, quiet: bool, log_file, resume: str
) -> int:
    """Run ``study`` into ``results`` and write its report; the exit code: 0 all ok, 1 failed
    trials in the store, 2 a store that cannot be used, 130 interrupted (Ctrl-C), after
    saying how to ``resume``."""
    from mbdl_control.evaluation.report import write_report
    from mbdl_control.evaluation.runner import run_study
    from mbdl_control.evaluation.store import StoreError

    console = Console()
    try:
        summary = run_study(study, results, executor, rerun_failed, quiet, log_file)
    except KeyboardInterrupt:
        console.print(_interrupted(study, results, resume), markup=False, soft_wrap=True)
        return 130
    except StoreError as error:
        console.print(f"error: {error}", markup=False)
        return 2
    console.print(f"{study.name}: {_what_ran(summary)}", markup=False, soft_wrap=True)
    if summary.stale:
        console.print(
            f"the study file changed: {summary.stale} rows in {results} are trials it no "
            "longer has (other arguments); they are kept, and the report shows only the "
            "latest configuration of each agent"
        )
    try:
        report = write_report(results)
    except ValueError as error:
        console.print(f"no report: {error}", markup=False)
        return 1
    except KeyboardInterrupt:
        again = _command("mbdl-control", "report", str(results))
        console.print(f"interrupted before the report; write it with: {again}", markup=False)
        return 130
    console.print(
        f"report: {report.markdown} (and {report.html.name}, {len(report.figures)} figures)"
    )
    return 1 if summary.failed_stored else 0


def _export(results: Path, out: Path, format_: str) -> int:
    """Export ``results`` to ``out``; a new store (``sqlite``) gets the run log too."""
    import shutil

    from mbdl_control.evaluation.runner import meta_path
    from mbdl_control.evaluation.store import export_store

    count = export_store(results, out, format_)
    if format_ == "sqlite" and meta_path(results).exists():
        shutil.copyfile(meta_path(results), meta_path(out))
    return count


def _results_path(folder: Path, name: str) -> Path:
    """``folder/name.sqlite``. The store of an older version, ``folder/name.csv``, is
    imported into it on first use (and left as it was), so the study resumes instead of
    starting over."""
    target, old = folder / f"{name}.sqlite", folder / f"{name}.csv"
    if old.exists() and not target.exists():
        try:
            count = _export(old, target, "sqlite")
        except ValueError as error:
            raise typer.BadParameter(f"cannot import the old store: {error}") from error
        Console().print(
            f"imported the {count} rows of the old CSV store {old} into {target} ({old} is "
            "left as it was)",
            markup=False,
        )
    return target


def _command(*words: str, **options) -> str:
    """A shell command line: ``words``, then each option given (``None``: left out; ``True``:
    a flag), as ``--name value``."""
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        words += (flag,) if value is True else (flag, str(value))
    return shlex.join(words)


@app.command()
def run(
    study_file: Annotated[Path, typer.Argument(help="A study TOML file (see experiments/).")],
    results: Annotated[
        Path | None,
        typer.Option(
            help="Result store (default results/<name>.sqlite; a .csv path keeps the old "
            "CSV format)."
        ),
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

    Several runs of one study on one store share its trials. Exit code 0: every trial ok;
    1: failed trials in the store (this run's or earlier; --rerun-failed retries them); 2: bad
    input or an unusable store; 130: interrupted (Ctrl-C), with the command that resumes.
    """
    from mbdl_control.evaluation.study import load_study

    try:
        study = load_study(study_file)
    except StudyError as error:
        raise typer.BadParameter(str(error), param_hint="STUDY_FILE") from error
    target = results or _results_path(Path("results"), study.name)
    resume = _command(
        "mbdl-control",
        "run",
        str(study_file),
        results=target,
        workers=workers,
        executor=None if executor is ExecutorName.local else executor.value,
        address=address,
        rerun_failed=rerun_failed,
        quiet=quiet,
        log_file=log_file,
    )
    chosen = _executor(executor, workers, address)
    raise typer.Exit(_run_one(study, target, chosen, rerun_failed, quiet, log_file, resume))


@app.command()
def report(
    results: Annotated[
        Path, typer.Argument(help="A study's result store (.sqlite, or an old .csv).")
    ],
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
        bool, typer.Option(help="The reduced studies (about a minute on 2 cores).")
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
    resume = _command(
        "mbdl-control",
        "reproduce",
        quick=quick,
        experiments=experiments,
        results_dir=results_dir,
        workers=workers,
        quiet=quiet,
    )
    worst = 0
    for study in studies:
        study = study.quick_version() if quick else study
        name = f"{study.name}-quick" if quick else study.name
        code = _run_one(
            study,
            _results_path(results_dir, name),
            _executor(ExecutorName.local, workers, None),
            False,
            quiet,
            None,
            resume,
        )
        if code == 130:  # interrupted: the studies after it wait for the resume
            raise typer.Exit(code)
        worst = max(worst, code)
    raise typer.Exit(worst)


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    sqlite = "sqlite"


@app.command()
def export(
    results: Annotated[
        Path, typer.Argument(help="A study's result store (.sqlite, or an old .csv).")
    ],
    format_: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="csv; parquet (needs pyarrow); sqlite: a new store, to convert an old .csv store.",
        ),
    ] = ExportFormat.csv,
    out: Annotated[
        Path | None, typer.Option(help="Output file (default RESULTS with the format's suffix).")
    ] = None,
) -> None:
    """Write a study's rows, one per trial, to a file for sharing (or to a new store)."""
    target = out or results.with_suffix(f".{format_.value}")
    try:
        count = _export(results, target, format_.value)
    except (FileNotFoundError, ValueError) as error:
        raise typer.BadParameter(str(error)) from error
    except RuntimeError as error:  # no Parquet engine
        raise typer.BadParameter(str(error), param_hint="--format") from error
    Console().print(f"exported {count} rows of {results} to {target}", markup=False)
