"""A task of another domain, written against the contract alone, runs through the whole harness.

The toy task: observe ``y = x + v`` with ``x ~ N(0, 1)`` and ``v ~ N(0, σ²)``, act with the
estimate ``x̂``, pay ``(x̂ − x)²``. The oracle is the posterior mean ``x̂ = y / (1 + σ²)``,
whose expected cost ``σ²/(1 + σ²)`` is the bound (attained). Nothing outside this file knows
the task: it plugs into ``evaluate``, a study sweeping the SNR with a labelled-samples budget,
and the report.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.core import BaseAgent, Budget, FitReport, vector_space
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.evaluation import evaluate, run_study, study_from_dict, write_report
from mbdl_control.evaluation.store import ResultStore

ENV_ID = "toy/ScalarEstimation-v0"


@dataclass(frozen=True)
class ScalarGaussianModel:
    """``y = x + v``: the prior variance of ``x`` and the noise variance."""

    prior_var: np.ndarray
    noise_var: np.ndarray

    def structure(self) -> str:
        return "scalar: y = x + v"

    def replace(self, **changes: Any) -> ScalarGaussianModel:
        return dataclasses.replace(self, **changes)


class ScalarEstimationEnv(PartiallyKnownEnv):
    """One-step episodes of the toy task; ``mismatch`` scales the nominal noise variance by
    ``1 + mismatch`` (its relative error)."""

    label_keys = ("x",)
    cost_display = "dB"

    def __init__(self, mismatch: float = 0.0, snr_db: float = 0.0, render_mode=None) -> None:
        super().__init__(mismatch, render_mode)
        noise_var = 10.0 ** (-snr_db / 10.0)
        self.true_model = ScalarGaussianModel(np.array(1.0), np.array(noise_var))
        self.nominal_model = self.true_model.replace(
            noise_var=np.array(noise_var * (1.0 + self.mismatch))
        )
        self.observation_space = vector_space(1)
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float64)
        self._x = 0.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        model = self.true_model
        self._x = float(np.sqrt(model.prior_var) * self.np_random.standard_normal())
        noise = float(np.sqrt(model.noise_var) * self.np_random.standard_normal())
        return np.array([self._x + noise]), {}

    def step(self, action):
        cost = float((np.asarray(action, dtype=np.float64)[0] - self._x) ** 2)
        return np.zeros(1), -cost, True, False, {"cost": cost, "x": self._x}

    def oracle(self, horizon=None) -> PosteriorMean:
        return PosteriorMean(self.true_model, knowledge="true")

    def _compute_bound(self, horizon: int) -> float:
        p, n = float(self.true_model.prior_var), float(self.true_model.noise_var)
        return p * n / (p + n)


class PosteriorMean(BaseAgent):
    """``x̂ = E[x | y]`` under the model it is given."""

    family = "model-based"

    def __init__(self, model: ScalarGaussianModel, knowledge: str = "nominal") -> None:
        super().__init__(knowledge)
        self.model = model
        self.gain = float(model.prior_var / (model.prior_var + model.noise_var))
        self.observation_space = vector_space(1)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "knowledge": self.knowledge}

    def _act(self, observations, state, episode_start):
        return self.gain * observations, None


class LearnedShrinkage(BaseAgent):
    """``x̂ = k y`` with ``k`` fitted by least squares to labelled samples (knows only the
    form of the task)."""

    family = "learned-optimizer"
    knowledge_options = ("structure",)

    def __init__(self, structure: str, knowledge: str = "structure") -> None:
        super().__init__(knowledge)
        self.structure, self.gain = structure, 0.0
        self.observation_space = vector_space(1)

    @property
    def config(self) -> dict[str, Any]:
        return {"structure": self.structure, "knowledge": self.knowledge}

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {"gain": np.array([self.gain])}

    def fit(self, env, budget=None, seed=None) -> FitReport:
        budget = budget or Budget()
        pairs = []
        for episode in range(budget.steps):
            y, _ = env.reset(seed=(seed or 0) * 100_003 + episode)
            _, _, _, _, info = env.step(np.zeros(1))
            if "x" in info:  # labels stop when the samples budget is spent
                pairs.append((y[0], info["x"]))
        ys, xs = np.array(pairs).T
        self.gain = float(ys @ xs / (ys @ ys))
        return FitReport(steps=budget.steps, samples=len(pairs))

    def _act(self, observations, state, episode_start):
        return self.gain * observations, None


@pytest.fixture(scope="module", autouse=True)
def registered():
    gym.register(ENV_ID, entry_point=ScalarEstimationEnv, max_episode_steps=1)
    yield
    del gym.registry[ENV_ID]


def test_evaluate_measures_the_toy_task_against_its_oracle_and_bound():
    env = gym.make(ENV_ID, snr_db=0.0, mismatch=1.0)
    oracle = evaluate(env.unwrapped.oracle(), env, n_episodes=4000, seed=0)
    assert oracle.gap_to_oracle == 0.0 and oracle.bound == pytest.approx(0.5)
    assert oracle.mean_cost == pytest.approx(0.5, abs=4 * oracle.std_error)
    nominal = evaluate(PosteriorMean(env.unwrapped.nominal_model), env, n_episodes=4000, seed=0)
    # gain 1/3 instead of 1/2: expected cost (1 - k)² + k² σ² = 5/9
    assert nominal.mean_cost == pytest.approx(5 / 9, abs=4 * nominal.std_error)
    assert nominal.gap_to_oracle > 3 * nominal.gap_to_oracle_se


def test_a_study_sweeps_the_snr_with_a_samples_budget_and_reports(tmp_path):
    study = study_from_dict(
        {
            "name": "toy",
            "seeds": [0],
            "mismatch": [0.0, 1.0],
            "evaluation": {"episodes": 400},
            "envs": [{"id": ENV_ID, "label": "toy", "sweep": {"snr_db": [0.0, 10.0]}}],
            "agents": [
                {"class": "oracle", "knowledge": "true"},
                {"class": f"{__name__}:PosteriorMean", "knowledge": "nominal"},
                {
                    "class": f"{__name__}:LearnedShrinkage",
                    "knowledge": "structure",
                    "budgets": [{"steps": 300, "samples": 100}],
                },
            ],
        }
    )
    summary = run_study(study, tmp_path / "toy.csv", quiet=True)
    assert summary.total == 3 * 2 * 2 and summary.failed == 0
    rows = ResultStore(tmp_path / "toy.csv").read()
    assert set(rows["axes"].map(lambda text: json.loads(text)["snr_db"])) == {0.0, 10.0}
    learned = rows[rows["agent"] == "LearnedShrinkage"]
    assert (learned["steps_used"] == 300).all() and (learned["samples_used"] == 100).all()
    assert (learned["cost_display"] == "dB").all()
    # 100 labels fit the gain to a few per cent: the learner is near the oracle, unlike the
    # nominal posterior mean at mismatch 1 and 0 dB
    mismatched = rows[(rows["mismatch"] == 1.0) & rows["axes"].str.contains('"snr_db": 0.0')]
    gaps = dict(zip(mismatched["agent"], mismatched["gap_to_oracle"], strict=True))
    assert gaps["LearnedShrinkage"] < gaps["PosteriorMean"]
    report = write_report(tmp_path / "toy.csv")
    text = report.markdown.read_text()
    assert "snr_db" in text and "LearnedShrinkage" in text
    assert all(path.exists() for path in report.figures)
