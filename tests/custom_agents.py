"""A user's agent from outside the library, to join studies by import path."""

import numpy as np

from mbdl_control.agents import LQR, BaseAgent, FitReport


class ScaledLQR(BaseAgent):
    """The nominal LQR gain times a scale picked from {0.5, 1, 1.5} by trying each for one
    episode on the env (a learned optimizer with one parameter)."""

    family = "learned-optimizer"
    candidates = (0.5, 1.0, 1.5)

    def __init__(self, model, knowledge="nominal"):
        super().__init__(knowledge)
        self.model, self.lqr, self.scale = model, LQR(model), np.array([1.0])

    @property
    def config(self):
        return {"model": self.model, "knowledge": self.knowledge}

    def learned_parameters(self):
        return {"scale": self.scale}

    def set_learned_parameters(self, parameters):
        self.scale = np.array(parameters["scale"])

    def fit(self, env, budget=None, seed=None):
        horizon = env.spec.max_episode_steps
        if budget is None or budget.steps < horizon * len(self.candidates):
            return FitReport()
        costs = []
        for scale in self.candidates:
            obs, _ = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                obs, _, terminated, truncated, info = env.step(-scale * self.lqr.gain @ obs)
                total, done = total + info["cost"], terminated or truncated
            costs.append(total)
        self.scale = np.array([self.candidates[int(np.argmin(costs))]])
        return FitReport(steps=horizon * len(self.candidates))

    def _act(self, observations, state, episode_start):
        return self.scale * self.lqr.predict(observations)[0], None


class TrainingEnvProbe(LQR):
    """The nominal LQR, whose ``fit`` reports the process-noise variance of the env it was
    handed as its training curve: what a study's ``fit_env`` changed."""

    def fit(self, env, budget=None, seed=None):
        return FitReport(curve=(float(np.trace(env.unwrapped.true_model.W)),))
