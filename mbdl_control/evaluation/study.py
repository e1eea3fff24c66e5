"""Studies: env × mismatch × agent × data budget × seed, read from a TOML file and validated.

A study file (see ``experiments/``)::

    name = "box-lqr"                       # names the result file
    description = "..."                    # optional
    seeds = [0, 1, 2]                      # fit seeds; evaluation uses seed + seed_offset
    mismatch = [0.0, 0.1, 0.3]

    [evaluation]
    episodes = 100                         # evaluation episodes per trial
    seed_offset = 1000                     # optional, default 1000

    [[budgets]]                            # optional; default one budget of 0 steps
    steps = 0

    [[envs]]
    id = "mbdl/BoxLQR-v0"
    kwargs = {}                            # optional constructor arguments
    sweep = { noise_std = [0.25, 0.5] }    # optional: constructor arguments swept as axes
                                           # of the grid, like mismatch (SNR, noise level)
    max_episode_steps = 100                # optional
    label = "box"                          # optional, default the id

    [[agents]]
    class = "MPC"                          # a library agent, an SB3 algorithm, "oracle",
                                           # or an import path "package.module:Class"
    knowledge = "nominal"                  # true | nominal | structure | none
    kwargs = { horizon = 10 }              # optional constructor arguments
    label = "MPC H=10"                     # optional, default the class name
    envs = ["box"]                         # optional: the env labels it runs on
    budgets = [{ steps = 0 }]              # optional: its own budgets (e.g. none for an
                                           # agent that learns nothing)
    mismatch = [0.0]                       # optional: its own mismatch values
    family = "deep-learning"               # only for an agent without a `spectrum`
    fit_env = { snr_db = [7.0, 14.0] }     # optional: env arguments its training env
                                           # takes instead (not mismatch)
    sweep = { layers = [4, 8, 16] }        # optional: constructor arguments swept as axes
                                           # of the grid (iterations, layers)

    [quick]                                # optional overrides for `reproduce --quick`
    episodes = 20
    seeds = [0]
    agents = { "MPC H=10" = { horizon = 5 } }  # constructor arguments, by agent label (a
                                           # list for a swept one: its quick values)

A trial is one point of the grid: (env, its swept arguments, mismatch, agent, its swept
arguments, budget, seed). In a row's ``axes`` an agent's swept argument is named
``agent.<name>`` (:data:`AGENT_AXIS`), apart from the env's.
Its id also holds a hash of everything else that changes its result (the env's and agent's
resolved arguments, the evaluation episodes and seed offset: :meth:`Study.config_hash`), so
editing an agent's arguments makes new trials instead of silently keeping the old rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mbdl_control.core import FAMILIES, KNOWLEDGE, Budget
from mbdl_control.evaluation.study_file import StudyError, StudyFile, parse_study_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


#: the prefix of an agent's swept argument among a row's axes
AGENT_AXIS = "agent."


def _check_sweep(owner: str, sweep: dict[str, Any], kwargs: dict[str, Any], own: str) -> None:
    """``StudyError`` unless every swept argument of ``owner`` is a non-empty list, neither
    ``mismatch`` nor in its fixed ``kwargs``."""
    for name, values in sweep.items():
        if name == "mismatch" or name in kwargs:
            raise StudyError(
                f"{owner}: cannot sweep {name!r}; it is "
                + ("the study's own `mismatch` axis" if name == "mismatch" else f"in {own}")
            )
        if not isinstance(values, list | tuple) or not values:
            raise StudyError(f"{owner}: sweep.{name} must be a non-empty list, got {values!r}")


def grid_axes(sweep: dict[str, tuple]) -> list[tuple[tuple[str, Any], ...]]:
    """Every combination of the swept arguments, as ``((name, value), ...)`` sorted by name
    (one empty combination when nothing is swept)."""
    names = sorted(sweep)
    return [
        tuple(zip(names, values, strict=True))
        for values in itertools.product(*(sweep[name] for name in names))
    ]


@dataclass(frozen=True)
class EnvSpec:
    """One env of a study: a registered id with constructor arguments, some of them swept."""

    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    label: str = ""
    sweep: dict[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_sweep(f"env {self.label!r}", self.sweep, self.kwargs, "kwargs")

    def axes(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every combination of the swept arguments (:func:`grid_axes`)."""
        return grid_axes(self.sweep)

    def make_kwargs(self, mismatch: float, axes: tuple[tuple[str, Any], ...] = ()) -> dict:
        """Arguments for ``gym.make(self.id, **...)`` at one point of the grid."""
        extra = (
            {} if self.max_episode_steps is None else {"max_episode_steps": self.max_episode_steps}
        )
        return {**self.kwargs, **dict(axes), "mismatch": mismatch, **extra}


@dataclass(frozen=True)
class AgentSpec:
    """One agent of a study: its class (name, import path, or the class itself), the model
    knowledge the harness builds it from, and its constructor arguments.

    ``fit_env`` holds env arguments that the agent's *training* env takes instead of the
    study's (DetNet trains on SNRs drawn from a range and is tested at each SNR of the grid;
    a detector may train on faded blocks and be tested on a fixed channel); ``mismatch`` is
    the grid's and cannot be among them. ``sweep`` holds constructor arguments swept as axes
    of the grid (the iterations of ISTA, the layers of LISTA)."""

    cls: str | type
    knowledge: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    envs: tuple[str, ...] | None = None
    family: str | None = None
    budgets: tuple[Budget, ...] | None = None
    mismatch: tuple[float, ...] | None = None
    fit_env: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_sweep(f"agent {self.label or self.cls!r}", self.sweep, self.kwargs, "kwargs")
        if "mismatch" in self.fit_env:
            raise StudyError(
                f"agent {self.label or self.cls!r}: fit_env cannot set 'mismatch', the study's "
                "own axis (an agent trains and is tested at the same mismatch)"
            )
        if self.knowledge not in KNOWLEDGE:
            raise StudyError(
                f"agent {self.label or self.cls!r}: knowledge must be one of {KNOWLEDGE}, "
                f"got {self.knowledge!r}"
            )
        if self.family is not None and self.family not in FAMILIES:
            raise StudyError(
                f"agent {self.label!r}: family must be one of {FAMILIES}, got {self.family!r}"
            )
        if not self.label:
            name = self.cls if isinstance(self.cls, str) else self.cls.__name__
            object.__setattr__(self, "label", name.rpartition(":")[2])

    def axes(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every combination of the swept arguments (:func:`grid_axes`)."""
        return grid_axes(self.sweep)

    def at(self, axes: tuple[tuple[str, Any], ...]) -> AgentSpec:
        """The agent at one point of its sweep: the swept arguments among its ``kwargs``."""
        return replace(self, kwargs={**self.kwargs, **dict(axes)}, sweep={})


@dataclass(frozen=True)
class TrialKey:
    """What a trial is a pure function of (with its study): a point of the grid, and the
    hash of the configuration that holds for the whole grid."""

    env: str
    mismatch: float
    agent: str
    budget: Budget
    seed: int
    axes: tuple[tuple[str, Any], ...] = ()
    config: str = ""
    agent_axes: tuple[tuple[str, Any], ...] = ()

    @property
    def id(self) -> str:
        """A stable string naming the trial in the result store."""
        return (
            f"{self.env}{_axes_text(self.axes)}|mismatch={self.mismatch:g}|{self.agent}"
            f"{_axes_text(self.agent_axes)}"
            f"|steps={self.budget.steps},samples={self.budget.samples}|seed={self.seed}"
            f"|config={self.config}"
        )

    def all_axes(self) -> dict[str, Any]:
        """The env's and the agent's swept arguments, the agent's named ``agent.<name>``."""
        return {**dict(self.axes), **{AGENT_AXIS + name: v for name, v in self.agent_axes}}


def _axes_text(axes: tuple[tuple[str, Any], ...]) -> str:
    """``|name=value`` for each swept argument (numbers in ``g`` format)."""
    return "".join(
        f"|{name}={value:g}"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else f"|{name}={value}"
        for name, value in axes
    )


@dataclass(frozen=True)
class Study:
    """A validated study; ``trials()`` enumerates its trial keys."""

    name: str
    envs: tuple[EnvSpec, ...]
    agents: tuple[AgentSpec, ...]
    mismatch: tuple[float, ...] = (0.0,)
    budgets: tuple[Budget, ...] = (Budget(),)
    seeds: tuple[int, ...] = (0,)
    episodes: int = 100
    seed_offset: int = 1000
    description: str = ""
    quick: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_labels()
        for value in [*self.mismatch, *(v for a in self.agents for v in a.mismatch or ())]:
            if not math.isfinite(value) or value < 0:
                raise StudyError(f"mismatch values must be finite floats >= 0, got {value}")
        if self.episodes < 2:
            raise StudyError(
                f"evaluation.episodes must be >= 2 (for a standard error), got {self.episodes}"
            )
        if not self.seeds:
            raise StudyError("seeds must list at least one seed")

    def _check_labels(self) -> None:
        if not self.name or any(c in self.name for c in "/\\ "):
            raise StudyError(
                f"name must be a non-empty word without '/', '\\' or spaces, got {self.name!r}"
            )
        for kind, labels in (
            ("env", [e.label for e in self.envs]),
            ("agent", [a.label for a in self.agents]),
        ):
            if not labels:
                raise StudyError(f"a study needs at least one {kind}")
            if len(set(labels)) != len(labels):
                raise StudyError(f"{kind} labels must be unique, got {labels}; set `label`")
        env_labels = {e.label for e in self.envs}
        for agent in self.agents:
            unknown = set(agent.envs or ()) - env_labels
            if unknown:
                raise StudyError(
                    f"agent {agent.label!r}: envs {sorted(unknown)} are not in the study; "
                    f"valid: {sorted(env_labels)}"
                )

    def trials(self) -> list[TrialKey]:
        """Every trial of the study, in a fixed order."""
        return [
            TrialKey(env.label, mismatch, agent.label, budget, seed, axes, config, agent_axes)
            for env in self.envs
            for agent in self.agents
            if agent.envs is None or env.label in agent.envs
            for config in [self.config_hash(env, agent)]
            for axes in env.axes()
            for agent_axes in agent.axes()
            for mismatch in agent.mismatch or self.mismatch
            for budget in agent.budgets or self.budgets
            for seed in self.seeds
        ]

    def config_hash(self, env: EnvSpec, agent: AgentSpec) -> str:
        """A short hash of what changes the results of ``agent`` on ``env`` but is not an
        axis of the grid: the env's id, fixed arguments and episode length, the agent's class,
        knowledge, family and arguments, and the evaluation's episodes and seed offset."""
        cls = (
            agent.cls
            if isinstance(agent.cls, str)
            else f"{agent.cls.__module__}:{agent.cls.__qualname__}"
        )
        payload = {
            "env": [env.id, env.kwargs, env.max_episode_steps],
            "agent": [cls, agent.knowledge, agent.family, agent.kwargs, agent.fit_env],
            "evaluation": [self.episodes, self.seed_offset],
        }
        text = json.dumps(payload, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def env(self, label: str) -> EnvSpec:
        return next(e for e in self.envs if e.label == label)

    def agent(self, label: str) -> AgentSpec:
        return next(a for a in self.agents if a.label == label)

    def quick_version(self) -> Study:
        """The study with its ``[quick]`` overrides applied (for ``reproduce --quick``)."""
        quick = self.quick
        overrides = quick.get("agents", {})
        unknown = set(overrides) - {a.label for a in self.agents}
        if unknown:
            raise StudyError(f"quick.agents: no agents labelled {sorted(unknown)} in the study")
        agents = tuple(
            _quick_agent(a, overrides[a.label]) if a.label in overrides else a for a in self.agents
        )
        changes = {name: tuple(quick[name]) for name in ("seeds", "mismatch") if name in quick}
        if "budgets" in quick:
            changes["budgets"] = tuple(Budget(**table) for table in quick["budgets"])
        if "episodes" in quick:
            changes["episodes"] = quick["episodes"]
        return replace(self, agents=agents, **changes)

    def describe(self) -> str:
        """A JSON summary for reports."""
        return json.dumps(
            {
                "name": self.name,
                "envs": [e.label for e in self.envs],
                "agents": [a.label for a in self.agents],
                "mismatch": list(self.mismatch),
                "budgets": [[b.steps, b.samples] for b in self.budgets],
                "seeds": list(self.seeds),
                "episodes": self.episodes,
                "seed_offset": self.seed_offset,
            }
        )


def _quick_agent(agent: AgentSpec, overrides: dict[str, Any]) -> AgentSpec:
    """``agent`` with its quick overrides: constructor arguments, or for a swept one its
    values."""
    sweep = {name: tuple(v) for name, v in overrides.items() if name in agent.sweep}
    kwargs = {name: v for name, v in overrides.items() if name not in agent.sweep}
    return replace(agent, kwargs={**agent.kwargs, **kwargs}, sweep={**agent.sweep, **sweep})


def _budgets(tables) -> tuple[Budget, ...]:
    return tuple(Budget(table.steps, table.samples) for table in tables)


def _grid(table: Any) -> dict[str, Any]:
    """The grid fields a study file's (or its ``[quick]`` table's) sets, as Study arguments."""
    changes: dict[str, Any] = {}
    for name in ("seeds", "mismatch"):
        if getattr(table, name) is not None:
            changes[name] = tuple(getattr(table, name))
    if table.budgets is not None:
        changes["budgets"] = _budgets(table.budgets)
    return changes


def _env(table) -> EnvSpec:
    return EnvSpec(
        id=table.id,
        kwargs=dict(table.kwargs),
        max_episode_steps=table.max_episode_steps,
        label=table.label or table.id,
        sweep={name: tuple(values) for name, values in table.sweep.items()},
    )


def _agent(table) -> AgentSpec:
    return AgentSpec(
        cls=table.cls,
        knowledge=table.knowledge,
        kwargs=dict(table.kwargs),
        label=table.label or "",
        envs=None if table.envs is None else tuple(table.envs),
        family=table.family,
        budgets=None if table.budgets is None else _budgets(table.budgets),
        mismatch=None if table.mismatch is None else tuple(table.mismatch),
        fit_env=dict(table.fit_env),
        sweep={name: tuple(values) for name, values in table.sweep.items()},
    )


def study_from_dict(raw: dict[str, Any]) -> Study:
    """Validate a parsed study file (:mod:`~mbdl_control.evaluation.study_file`: every
    problem at once) and build the :class:`Study`."""
    parsed: StudyFile = parse_study_file(raw)
    quick = parsed.quick.model_dump(exclude_none=True)
    if not quick.get("agents"):
        quick.pop("agents", None)
    study = Study(
        name=parsed.name,
        description=parsed.description,
        envs=tuple(_env(table) for table in parsed.envs),
        agents=tuple(_agent(table) for table in parsed.agents),
        episodes=parsed.evaluation.episodes,
        seed_offset=parsed.evaluation.seed_offset,
        quick=quick,
        **_grid(parsed),
    )
    study.quick_version()  # validates the [quick] overrides now rather than at reproduce time
    return study


def load_study(path: str | Path) -> Study:
    """Read a study TOML file and check it whole (:mod:`.study_file`, :mod:`.study_checks`):
    one :class:`StudyError` lists every problem, before any trial runs."""
    from mbdl_control.evaluation.study_checks import check_study  # it builds on this module

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as error:
        raise StudyError(f"no study file at {path}") from error
    except tomllib.TOMLDecodeError as error:
        raise StudyError(f"{path} is not valid TOML: {error}") from error
    except UnicodeDecodeError as error:
        raise StudyError(f"{path} is not UTF-8 text: {error}") from error
    study = study_from_dict(raw)
    check_study(study)
    return study
