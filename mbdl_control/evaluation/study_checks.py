"""A study checked whole before its first trial runs: every problem at once, none mid-sweep.

The file's shape is checked when it is read (:mod:`.study_file`); this checks what needs the
registry and the classes: env ids registered, every point of the grid constructible (so a bad
env argument fails here, naming it, not in every trial), agent classes resolvable, their
knowledge and arguments (swept ones too) accepted (:func:`~.agent_factory.agent_problems`),
their training envs (``fit_env``) constructible.
"""

from __future__ import annotations

import gymnasium as gym

from mbdl_control.evaluation.agent_factory import agent_problems
from mbdl_control.evaluation.study import AgentSpec, EnvSpec, Study
from mbdl_control.evaluation.study_file import StudyError, listing


def _env_problems(study: Study, env: EnvSpec) -> tuple[gym.Env | None, list[str]]:
    """An instance of ``env`` (or ``None``) and the problems of making it at every grid point."""
    where = f"env {env.label!r}"
    if env.id not in gym.registry:
        known = sorted(name for name in gym.registry if name.startswith("mbdl/"))
        return None, [f"{where}: {env.id!r} is not a registered env id; registered: {known}"]
    made, problems = None, []
    mismatches = sorted({*study.mismatch, *(v for a in study.agents for v in a.mismatch or ())})
    for axes in env.axes():
        for mismatch in sorted({mismatches[0], mismatches[-1]}):
            try:
                instance = gym.make(env.id, **env.make_kwargs(mismatch, axes))
            except Exception as error:  # the env's own message names the argument
                point = ", ".join(
                    f"{name}={value!r}" for name, value in (*axes, ("mismatch", mismatch))
                )
                problems.append(f"{where} ({point}): {type(error).__name__}: {error}")
                break  # an argument's error does not depend on the mismatch
            made = made or instance
    return made, problems


def _fit_env_problems(study: Study, agent: AgentSpec) -> list[str]:
    """The problems of making ``agent``'s training env (its ``fit_env`` arguments over each
    env it runs on), checked at one grid point: an argument's error names it there."""
    if not agent.fit_env:
        return []
    problems = []
    for env in study.envs:
        if (agent.envs and env.label not in agent.envs) or env.id not in gym.registry:
            continue
        kwargs = {**env.make_kwargs(min(agent.mismatch or study.mismatch), env.axes()[0])}
        try:
            gym.make(env.id, **{**kwargs, **agent.fit_env})
        except Exception as error:  # the env's own message names the argument
            problems.append(
                f"agent {agent.label!r}: fit_env on env {env.label!r}: "
                f"{type(error).__name__}: {error}"
            )
    return problems


def study_problems(study: Study) -> list[str]:
    """Every problem that would make a trial of ``study`` fail before it starts."""
    problems, made = [], {}
    for env in study.envs:
        made[env.label], found = _env_problems(study, env)
        problems += found
    for agent in study.agents:
        labels = agent.envs or [env.label for env in study.envs]
        runs_on = next((made[label] for label in labels if made.get(label) is not None), None)
        problems += agent_problems(agent.at(agent.axes()[0]), runs_on)
        problems += _fit_env_problems(study, agent)
    return problems


def check_study(study: Study) -> None:
    """Raise one :class:`StudyError` listing every problem of ``study``, if it has any."""
    problems = study_problems(study)
    if problems:
        raise StudyError(listing(f"study {study.name!r}", problems))
