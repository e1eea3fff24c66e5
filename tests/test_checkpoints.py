"""Checkpoints round-trip every agent exactly and never run code, whatever the file holds.

Registry-wide: every agent of ``mbdl_control.agents.AGENTS`` is covered by being listed there.
"""

import json
import sys

import gymnasium as gym
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from mbdl_control import agents
from mbdl_control.core import BaseAgent, Budget
from mbdl_control.core.checkpoint import FORMAT, CheckpointError
from tests.custom_agents import ScaledLQR

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: the cheapest fit that makes a learning agent hold learned parameters
CHEAP_FIT = {
    "LearnedCOCP": {"iterations": 2},
    "LearnedNoiseLQG": {"iterations": 2},
    "ViterbiNet": {"epochs": 2},
    "BCJRNet": {"epochs": 2},
    "SBRNN": {"iterations": 20},
    "DetNet": {"layers": 2, "iterations": 2},
    "DeepSIC": {"iterations": 2},
    "MLPDetector": {"iterations": 2},
    "LearnedISTA": {"layers": 2, "iterations": 2},
    "LearnedADMM": {"layers": 2, "iterations": 2},
    "LISTA": {"layers": 2, "iterations": 2},
    "UnfoldedADMM": {"layers": 2, "iterations": 2},
    "PlugAndPlayADMM": {"admm_iterations": 2, "iterations": 2},
    "ConvolutionalRecovery": {"iterations": 2},
    "MLPRecovery": {"iterations": 2},
    "ParticleFilter": {"particles": 100},
    "KalmanNet": {"iterations": 2},
    "NeuralAugmentedMPC": {"epochs": 2},
    "LearnedSupplyChainCOCP": {"iterations": 2},
    "LearnedVehicleCOCP": {"iterations": 2},
    "DPC": {"iterations": 2},
    "ResidualSAC": {"sac_options": {"learning_starts": 5, "batch_size": 8}},
    "UnfoldedMPC": {"iterations": 2, "layers": 2},
    "GRUEstimator": {"iterations": 2},
    "LearnedNoiseKalman": {"iterations": 2},
    "TunedNoiseKalman": {"grid": (0.1, 1.0)},
}
#: every env an agent of the library may be built for, made small
ENVS = {
    "mbdl/LinearTracking-v0": {"max_episode_steps": 20},
    "mbdl/BoxLQR-v0": {"max_episode_steps": 20},
    "mbdl/LQG-v0": {"max_episode_steps": 20},
    "mbdl/CartPole-v0": {"max_episode_steps": 20},
    "mbdl/ISIChannel-v0": {"block_length": 100, "pilot_length": 8},
    "mbdl/MIMODetection-v0": {"users": 4, "antennas": 6, "block_length": 2},
    "mbdl/SparseRecovery-v0": {"measurements": 20, "unknowns": 40, "snr_db": 20.0},
    "mbdl/SupplyChain-v0": {},
    "mbdl/VehiclePathTracking-v0": {"max_episode_steps": 20},
}


def _built(name):
    """The agent ``name`` on the first env whose model (or structure) it takes, fitted
    cheaply."""
    cls = getattr(agents, name)
    for env_id, kwargs in ENVS.items():
        env = gym.make(env_id, mismatch=0.1, **kwargs)
        base = env.unwrapped
        given = base.structure() if cls.knowledge_options == ("structure",) else base.nominal_model
        try:
            agent = cls(given, **CHEAP_FIT.get(name, {}))
        except (TypeError, ValueError):  # another kind of model, or LQG without measurements
            continue
        agent.fit(env, Budget(steps=20, samples=2000), seed=0)
        return agent, env
    raise AssertionError(f"no env fits {name}")


@pytest.mark.parametrize("name", sorted(agents.AGENTS))
def test_every_agent_round_trips_to_identical_actions(name, tmp_path):
    agent, env = _built(name)
    agent.save(tmp_path / "agent.safetensors")
    loaded = BaseAgent.load(tmp_path / "agent.safetensors")
    assert type(loaded) is type(agent) and loaded.spectrum == agent.spectrum
    observations = gym.vector.utils.batch_space(env.observation_space, 16)
    observations.seed(0)
    observations = observations.sample()
    starts = np.ones(16, dtype=bool)
    state, loaded_state = None, None
    for _ in range(3):  # a few steps, so time-varying gains and filter memories count too
        action, state = agent.predict(observations, state, starts)
        loaded_action, loaded_state = loaded.predict(observations, loaded_state, starts)
        np.testing.assert_array_equal(loaded_action, action)
        starts[:] = False


def _checkpoint(tmp_path):
    path = tmp_path / "lqr.safetensors"
    agents.LQR(gym.make("mbdl/BoxLQR-v0").unwrapped.nominal_model).save(path)
    return path


def _rewrite(path, **metadata_changes):
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata()
    save_file(load_file(str(path)), str(path), metadata={**metadata, **metadata_changes})


@pytest.fixture
def booby_trap(tmp_path, monkeypatch):
    """A module that, if ever imported, leaves a marker file: the proof that code ran."""
    marker = tmp_path / "code-ran"
    (tmp_path / "trap.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Agent:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("trap", None)


def test_a_checkpoint_naming_a_foreign_class_runs_no_code(tmp_path, booby_trap):
    path = _checkpoint(tmp_path)
    for class_path in ("trap:Agent", "os:system", "subprocess:Popen"):
        _rewrite(path, **{"class": class_path})
        with pytest.raises(CheckpointError, match=r"not one of the library's.*trusted=True"):
            BaseAgent.load(path)
    config = {"model": {"__dataclass__": "trap:Agent", "fields": {}}, "knowledge": "nominal"}
    _rewrite(
        path, **{"class": "mbdl_control.agents.model_based.lqr:LQR"}, config=json.dumps(config)
    )
    with pytest.raises(CheckpointError, match="trap:Agent"):
        BaseAgent.load(path)
    assert not booby_trap.exists()


def test_truncated_corrupt_and_foreign_files_name_the_file(tmp_path, booby_trap):
    path = _checkpoint(tmp_path)
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    tampered = [data[:cut] for cut in (0, 7, 8, 40, len(data) // 2, len(data) - 1)]
    for _ in range(200):  # random bytes overwritten anywhere in the file
        flipped = bytearray(data)
        for index in rng.integers(0, len(data), size=rng.integers(1, 8)):
            flipped[index] = rng.integers(0, 256)
        tampered.append(bytes(flipped))
    tampered.append(b"\x80\x04\x95" + b"pickle bytes" * 5)  # an old pickle checkpoint
    outcomes = {"refused": 0, "loaded": 0}
    for index, content in enumerate(tampered):
        target = tmp_path / f"tampered-{index}.safetensors"
        target.write_bytes(content)
        try:
            BaseAgent.load(target)
        except CheckpointError as error:
            assert str(target) in str(error)
            outcomes["refused"] += 1
        else:  # a flip inside a tensor's bytes: another, still valid, agent
            outcomes["loaded"] += 1
    assert outcomes["refused"] >= 7 and sum(outcomes.values()) == len(tampered)
    assert not booby_trap.exists()
    _rewrite(path, format="something else")
    with pytest.raises(CheckpointError, match=f"no '{FORMAT}' format tag"):
        BaseAgent.load(path)


def test_tampered_arguments_give_the_constructors_error_naming_the_file(tmp_path):
    path = _checkpoint(tmp_path)
    _rewrite(path, config=json.dumps({"model": None, "horizon": -3}))
    with pytest.raises(CheckpointError, match=f"{path}: its arguments or parameters"):
        BaseAgent.load(path)


def test_a_users_own_agent_loads_only_when_trusted(tmp_path):
    model = gym.make("mbdl/BoxLQR-v0").unwrapped.nominal_model
    agent = ScaledLQR(model)
    agent.scale = np.array([0.5])
    agent.save(tmp_path / "mine.safetensors")
    with pytest.raises(CheckpointError, match="trusted=True"):
        BaseAgent.load(tmp_path / "mine.safetensors")
    loaded = BaseAgent.load(tmp_path / "mine.safetensors", trusted=True)
    x = np.ones(model.n)
    np.testing.assert_array_equal(loaded.predict(x)[0], agent.predict(x)[0])
