r"""ViterbiNet and BCJRNet: the trellis detectors with a learned per-time likelihood.

* :class:`ViterbiNet` — Shlezinger, Farsad, Eldar & Goldsmith, "ViterbiNet: A Deep Learning
  Based Viterbi Algorithm for Symbol Detection", IEEE Trans. Wireless Commun. 19(5), 2020.
* :class:`BCJRNet` — the sum-product (forward–backward) detector with the same learned
  function nodes: Shlezinger, Farsad, Eldar & Goldsmith, "Learned Factor Graphs for
  Inference from Stationary Time Sequences", IEEE Trans. Signal Process. 2022, the
  communications example (§VI) of Shlezinger, Eldar & Boyd, "Model-Based Deep Learning".

Both keep the model-based algorithm of :mod:`mbdl_control.blocks.trellis` and learn only what
it needs of the channel, ``log p(y_i | s_i, …, s_{i−L+1})``, from labelled symbols
(:class:`~mbdl_control.agents.dnn_aided.learned_likelihood.LearnedLikelihood`); they are
handed the channel's ``structure`` (memory ``L`` and constellation), never its taps or noise.

``fit(env, budget, seed)`` spends the budget on whole blocks of the env (one step each):
acting with any symbols, it reads the transmitted data symbols from ``info["symbols"]``
(``D`` labelled samples per block) while both the steps and the labelled samples left cover a
block, and stops at the first block whose labels are withheld. Every data time of a block is
a training pair ``(y_i, k_i)`` when the block has at least ``L − 1`` pilots (sent just before
the data: the first data symbols' predecessors); with fewer, the first ``L − 1`` times of a
block, whose history is unknown, are dropped (``(L − 1)/D`` of the labels). The pilots are
not trained on, so the budget's samples are exactly the training set; they serve, as for the
model-based detectors, as the trellis' initial state at detection. On one CPU core the
published recipe takes about 6 s for 5000 labelled symbols (100 epochs of 186 Adam steps).
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.agents.dnn_aided.learned_likelihood import (
    PUBLISHED_ACTIVATIONS,
    PUBLISHED_HIDDEN,
    LearnedLikelihood,
    hypothesis_indices,
)
from mbdl_control.blocks.channel_likelihood import block_space_of, initial_states
from mbdl_control.blocks.labelled_blocks import LabelledBlocks, collect_labelled_blocks
from mbdl_control.blocks.trellis import bcjr, viterbi
from mbdl_control.core import BaseAgent, Budget, FitReport
from mbdl_control.models import ChannelStructure, require_structure


def training_pairs(blocks: LabelledBlocks, size: int, memory: int) -> tuple[np.ndarray, ...]:
    """``(y_i, k_i)`` of every data time whose last ``L`` symbols are known: all of them
    when the blocks carry ``L − 1`` pilots or more (their last ones lead the history),
    else times ``L − 1 …`` of each block. Flat ``(n,)`` samples and hypothesis indices."""
    history = memory - 1
    if blocks.pilot_symbols.shape[1] >= history:
        leading = blocks.pilot_symbols[:, blocks.pilot_symbols.shape[1] - history :]
        sequence = np.concatenate([leading, blocks.symbols], axis=1)
        return blocks.samples.ravel(), hypothesis_indices(sequence, size, memory).ravel()
    labels = hypothesis_indices(blocks.symbols, size, memory)
    return blocks.samples[:, history:].ravel(), labels.ravel()


class _LearnedTrellisDetector(BaseAgent):
    """A trellis detector with the learned likelihood; subclasses choose the algorithm.

    ``predict`` takes the env's ``Dict`` observation, one block (``samples`` 1-D) or a batch
    (2-D), of any data and pilot lengths, as the model-based detectors do
    (:func:`~mbdl_control.blocks.channel_likelihood.block_space_of`)."""

    family = "dnn-aided"
    action_dtype = np.int64
    knowledge_options = ("structure",)

    def __init__(
        self,
        structure: ChannelStructure,
        hidden: tuple[int, ...] = PUBLISHED_HIDDEN,
        activations: tuple[str, ...] = PUBLISHED_ACTIVATIONS,
        learning_rate: float = 0.01,
        epochs: int = 100,
        batch_size: int = 27,
        mixture_components: int = 16,
        learning_rate_schedule: str = "cosine",
        knowledge: str = "structure",
    ) -> None:
        super().__init__(knowledge)
        self.structure = require_structure(type(self).__name__, structure)
        self.size, self.memory = len(structure.constellation), structure.memory
        self.likelihood = LearnedLikelihood(
            self.size,
            self.memory,
            tuple(hidden),
            tuple(activations),
            learning_rate,
            epochs,
            batch_size,
            mixture_components,
            learning_rate_schedule,
        )

    @property
    def config(self) -> dict[str, Any]:
        likelihood = self.likelihood
        return {
            "structure": self.structure,
            "hidden": likelihood.hidden,
            "activations": likelihood.activations,
            "learning_rate": likelihood.learning_rate,
            "epochs": likelihood.epochs,
            "batch_size": likelihood.batch_size,
            "mixture_components": likelihood.mixture_components,
            "learning_rate_schedule": likelihood.learning_rate_schedule,
            "knowledge": self.knowledge,
        }

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return self.likelihood.parameters()

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        self.likelihood.set_parameters(parameters)

    def diagnostics(self) -> dict[str, float]:
        return {"training_diverged": float(self.likelihood.diverged)}

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """Learn the likelihood from labelled blocks (module docstring); the curve is the
        mean cross entropy per epoch."""
        start = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        blocks = collect_labelled_blocks(env, budget or Budget(), seed)
        samples, labels = training_pairs(blocks, self.size, self.memory)
        curve = self.likelihood.fit(samples, labels, seed)
        return FitReport(
            steps=blocks.steps,
            samples=blocks.labels,
            wall_time=time.perf_counter() - start,
            curve=tuple(curve),
            diverged=self.likelihood.diverged,
        )

    def observation_space_of(self, observation: Any) -> gym.spaces.Dict:
        """Blocks of any data and pilot length: the space of the one (or batch) given."""
        return block_space_of(observation, self.size)

    def log_likelihoods(self, samples: np.ndarray) -> np.ndarray:
        """The learned ``log p̂(y_i | k)`` of blocks of samples: ``(batch, T, M^L)``."""
        return self.likelihood.log_likelihoods(samples)

    def _act(self, observations: dict[str, np.ndarray], state: Any, episode_start: np.ndarray):
        ll = self.log_likelihoods(observations["samples"])
        initial = initial_states(observations["pilot_symbols"], self.size, self.memory)
        return self._detect(ll, initial), None

    def _detect(self, log_likelihoods: np.ndarray, initial: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError


class ViterbiNet(_LearnedTrellisDetector):
    """ViterbiNet (TWC 2020): the Viterbi algorithm on the learned branch metrics
    ``−log p̂(y_i | k)``; the maximum-likelihood sequence under the learned likelihood.

    Arguments, as in the paper (defaults: its published recipe): ``structure`` — the
    channel's memory ``L`` and constellation (``env.structure()``); ``hidden`` and
    ``activations`` — the network ``1 → 100 (sigmoid) → 50 (ReLU) → M^L``; the official
    port's ``(75,)`` with ``("relu",)`` also serves; ``learning_rate`` (Adam), ``epochs``,
    ``batch_size``; ``mixture_components`` of ``p̂(y)`` (0: none; it changes no decision);
    ``learning_rate_schedule`` — ``"cosine"`` (annealed to 0) or the published
    ``"constant"`` (:mod:`~mbdl_control.agents.dnn_aided.learned_likelihood`).
    """

    def _detect(self, log_likelihoods: np.ndarray, initial: np.ndarray | None) -> np.ndarray:
        return viterbi(log_likelihoods, self.size, self.memory, initial)


class BCJRNet(_LearnedTrellisDetector):
    """BCJRNet: the forward–backward (sum-product) algorithm on the learned function nodes
    ``p̂(y_i | k)``, each symbol decided by its largest posterior.

    Learned factor graphs (TSP 2022; "Model-Based Deep Learning" §VI): the symbol error rate
    is the least under the learned likelihood. Arguments as ViterbiNet's."""

    def posteriors(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """``(batch, D, M)``: the learned ``log P(s_i = a | block)`` of a batch of blocks."""
        ll = self.log_likelihoods(observations["samples"])
        initial = initial_states(observations["pilot_symbols"], self.size, self.memory)
        return bcjr(ll, self.size, self.memory, initial)

    def _detect(self, log_likelihoods: np.ndarray, initial: np.ndarray | None) -> np.ndarray:
        return np.argmax(bcjr(log_likelihoods, self.size, self.memory, initial), axis=-1)
