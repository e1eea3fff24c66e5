"""The model-based detectors of the ISI channel: Viterbi, BCJR, linear MMSE.

Blocks are simulated here (``np.convolve`` of the constellation values with the taps, plus
noise), independently of the env.
"""

import numpy as np
import pytest
from scipy.stats import norm, poisson

from mbdl_control.agents.model_based import BCJR, LinearMMSE, Viterbi
from mbdl_control.blocks.channel_likelihood import (
    channel_log_likelihoods,
    gaussian_log_likelihoods,
    hypothesis_means,
    poisson_intensities,
    poisson_log_likelihoods,
)
from mbdl_control.blocks.trellis import hypothesis_symbols
from mbdl_control.core import BaseAgent, SpectrumInfo
from mbdl_control.models import CONSTELLATIONS, ISIChannelModel

BPSK = CONSTELLATIONS["bpsk"]
DETECTORS = (Viterbi, BCJR, LinearMMSE)


def _model(memory=4, gamma=0.2, snr_db=10.0, constellation=BPSK, kind="gaussian"):
    """The published channel: taps ``h_l = exp(−γ l)``, noise ``σ² = 10^{−SNR/10}``."""
    taps = np.exp(-gamma * np.arange(memory))
    return ISIChannelModel(taps, 10 ** (-snr_db / 10), constellation, kind)


def _simulate(model, blocks, length, pilots, seed):
    """Block observations and their data symbols: ``pilots`` pilots, then ``length`` data
    symbols, after ``L − 1`` random symbols that the channel's memory reaches."""
    rng = np.random.default_rng(seed)
    memory = model.memory
    sent = rng.integers(0, model.size, (blocks, memory - 1 + pilots + length))
    values = model.constellation[sent]
    clean = np.stack([np.convolve(row, model.taps)[memory - 1 : len(row)] for row in values])
    if model.kind == "poisson":
        received = rng.poisson(_intensity_of(model, sent)).astype(np.float64)
    else:
        received = clean + np.sqrt(model.noise_var) * rng.standard_normal(clean.shape)
    sent = sent[:, memory - 1 :]
    observation = {
        "samples": received[:, pilots:],
        "pilot_samples": received[:, :pilots],
        "pilot_symbols": sent[:, :pilots],
    }
    return observation, sent[:, pilots:]


def _intensity_of(model, sent):
    """The Poisson mean of every sample: the default intensity of its hypothesis."""
    memory, size = model.memory, model.size
    windows = np.lib.stride_tricks.sliding_window_view(sent, memory, axis=1)[..., ::-1]
    return poisson_intensities(model)[windows @ size ** np.arange(memory)]


def _ser(agent, observation, truth):
    return float(np.mean(agent.predict(observation)[0] != truth))


@pytest.mark.parametrize("snr_db", [0.0, 6.0])
def test_memoryless_bpsk_error_rate_is_q_of_one_over_sigma(snr_db):
    model = _model(memory=1, snr_db=snr_db)
    observation, truth = _simulate(model, 20, 5000, 4, seed=int(snr_db))
    expected = norm.sf(1 / np.sqrt(model.noise_var))
    standard_error = np.sqrt(expected * (1 - expected) / truth.size)
    viterbi = Viterbi(model).predict(observation)[0]
    assert abs(np.mean(viterbi != truth) - expected) < 3 * standard_error
    np.testing.assert_array_equal(BCJR(model).predict(observation)[0], viterbi)


def test_detectors_rank_on_the_published_channel():
    """L = 4, γ = 0.2, 10 dB, 2·10^5 symbols: BCJR ≈ Viterbi (≈ 1e-4) ≪ LMMSE (≈ 8e-3).

    BCJR minimizes the symbol error rate and Viterbi the block's: BCJR's SER is at most
    Viterbi's up to the noise of their rare disagreements (5·10^6 symbols: 1.09e-4 vs 1.10e-4).
    """
    model = _model()
    observation, truth = _simulate(model, 40, 5000, 8, seed=10)
    viterbi, bcjr = Viterbi(model).predict(observation)[0], BCJR(model).predict(observation)[0]
    ser_viterbi, ser_bcjr = np.mean(viterbi != truth), np.mean(bcjr != truth)
    ser_lmmse = _ser(LinearMMSE(model), observation, truth)
    disagreements = np.sum(viterbi != bcjr)
    assert ser_bcjr <= ser_viterbi + 3 * np.sqrt(disagreements + 1) / truth.size
    assert 2e-5 < ser_viterbi < 5e-4  # the published perfect-CSI Viterbi: ~5e-4 over γ
    assert 4e-3 < ser_lmmse < 2e-2 and ser_lmmse > 10 * max(ser_viterbi, ser_bcjr)


@pytest.mark.parametrize("detector", [Viterbi, BCJR])
def test_pilots_that_fix_the_initial_state_help_the_first_symbols(detector):
    model = _model(snr_db=6.0)
    known, truth = _simulate(model, 20000, 4, 3, seed=5)
    unknown = {**known, "pilot_samples": known["pilot_samples"][:, :0]}
    unknown["pilot_symbols"] = known["pilot_symbols"][:, :0]
    agent = detector(model)
    first_known = np.mean(agent.predict(known)[0][:, :2] != truth[:, :2])
    first_unknown = np.mean(agent.predict(unknown)[0][:, :2] != truth[:, :2])
    assert first_known < 0.7 * first_unknown


def test_lmmse_error_is_the_wiener_mmse():
    model = _model(snr_db=6.0, constellation=CONSTELLATIONS["4pam"])
    agent = LinearMMSE(model)
    observation, truth = _simulate(model, 20, 5000, 8, seed=2)
    points = model.constellation
    biased = agent.gain * agent.equalize(observation)  # zero-mean constellation
    error = np.mean((biased - points[truth])[:, : -agent.lag] ** 2)
    mmse = np.var(points) * (1 - agent.gain)
    assert abs(error - mmse) < 0.03 * mmse
    assert 0 <= agent.lag <= 4 * model.memory + model.memory - 2
    fixed = LinearMMSE(model, taps_window=8, delay=3)
    assert fixed.lag == 3 and fixed.config["delay"] == 3 and len(fixed.weights) == 8


def test_gaussian_and_poisson_likelihoods():
    model = _model(memory=2, snr_db=3.0, constellation=CONSTELLATIONS["4pam"])
    samples = np.random.default_rng(0).standard_normal((2, 5))
    means = model.constellation[hypothesis_symbols(4, 2)] @ model.taps
    np.testing.assert_allclose(hypothesis_means(model), means)
    expected = norm.logpdf(samples[..., None], means, np.sqrt(model.noise_var))
    np.testing.assert_allclose(gaussian_log_likelihoods(samples, model), expected)
    np.testing.assert_allclose(channel_log_likelihoods(samples, model), expected)
    counts = np.array([[0.0, 1.0, 4.0], [7.0, 2.0, 0.0]])
    photons = model.replace(kind="poisson")
    rates = poisson_intensities(photons)
    expected = poisson.logpmf(counts[..., None], rates)
    np.testing.assert_allclose(poisson_log_likelihoods(counts, photons), expected)
    np.testing.assert_allclose(channel_log_likelihoods(counts, photons), expected)
    dark = np.zeros(16)
    assert poisson_log_likelihoods(counts, photons, dark)[0, 0, 0] == 0.0
    assert poisson_log_likelihoods(counts, photons, dark)[0, 1, 0] == -np.inf


def test_viterbi_on_the_poisson_channel():
    model = ISIChannelModel(np.array([4.0, 1.5]), 0.0, BPSK, "poisson")
    observation, truth = _simulate(model, 10, 2000, 2, seed=4)
    ser = _ser(Viterbi(model), observation, truth)
    assert ser < 0.05
    assert _ser(BCJR(model), observation, truth) < ser + 0.01


def test_a_noiseless_model_detects_noiseless_samples():
    model = _model(snr_db=10.0).replace(noise_var=0.0)
    observation, truth = _simulate(model, 4, 500, 3, seed=1)
    assert np.all(np.isfinite(gaussian_log_likelihoods(observation["samples"], model)))
    for detector in (Viterbi, BCJR):
        np.testing.assert_array_equal(detector(model).predict(observation)[0], truth)
    lmmse = LinearMMSE(model)  # the window reaches past the block for the last `lag` symbols
    inside = slice(None, -lmmse.lag or None)
    np.testing.assert_array_equal(lmmse.predict(observation)[0][:, inside], truth[:, inside])


@pytest.mark.parametrize("detector", DETECTORS)
def test_one_block_or_a_batch_of_any_length(detector, tmp_path):
    model = _model(constellation=CONSTELLATIONS["4pam"])
    agent = detector(model, knowledge="true")
    assert agent.spectrum == SpectrumInfo("model-based", "true", 0)
    for length, pilots in ((300, 8), (57, 0), (20, 2)):
        observation, _ = _simulate(model, 3, length, pilots, seed=length)
        batch, _ = agent.predict(observation)
        assert batch.shape == (3, length) and batch.dtype == np.int64
        assert batch.min() >= 0 and batch.max() < 4
        one, _ = agent.predict({key: value[1] for key, value in observation.items()})
        np.testing.assert_array_equal(one, batch[1])
    agent.save(tmp_path / "detector.safetensors")
    loaded = BaseAgent.load(tmp_path / "detector.safetensors", trusted=True)
    assert type(loaded) is detector and loaded.config.keys() == agent.config.keys()
    np.testing.assert_array_equal(loaded.predict(observation)[0], batch)


@pytest.mark.parametrize("detector", DETECTORS)
def test_bad_models_and_observations_name_the_problem(detector):
    with pytest.raises(TypeError, match=f"{detector.__name__} is built on an ISIChannelModel"):
        detector("taps")
    agent = detector(_model())
    observation, _ = _simulate(_model(), 2, 10, 4, seed=0)
    with pytest.raises(ValueError, match="a dict with keys"):
        agent.predict({"samples": observation["samples"]})
    with pytest.raises(ValueError, match="all be one observation or all a batch"):
        agent.predict({**observation, "pilot_symbols": observation["pilot_symbols"][0]})
    broken = observation["samples"].copy()
    broken[0, 3] = np.nan
    with pytest.raises(ValueError, match=r"observation\['samples'\] must be finite"):
        agent.predict({**observation, "samples": broken})
    with pytest.raises(ValueError, match=r"\(D,\) \(one block\) or \(batch, D\)"):
        agent.predict({**observation, "samples": observation["samples"][None]})


def test_bad_detector_arguments():
    observation, _ = _simulate(_model(), 2, 10, 4, seed=0)
    with pytest.raises(ValueError, match="pilot_symbols must be indices in"):
        Viterbi(_model()).predict(
            {**observation, "pilot_symbols": observation["pilot_symbols"] + 2}
        )
    with pytest.raises(ValueError, match="knowledge must be one of"):
        BCJR(_model(), knowledge="psychic")
    with pytest.raises(ValueError, match="equalizes the Gaussian channel"):
        LinearMMSE(_model(kind="poisson"))
    with pytest.raises(ValueError, match="taps_window must be a positive integer"):
        LinearMMSE(_model(), taps_window=0)
    with pytest.raises(ValueError, match=r"delay must be in \[0, 10\]"):
        LinearMMSE(_model(), taps_window=8, delay=11)
    with pytest.raises(ValueError, match="carry no signal"):
        LinearMMSE(ISIChannelModel(np.zeros(2), 0.1, BPSK))
    with pytest.raises(ValueError, match="intensities must be"):
        poisson_log_likelihoods(np.ones((1, 3)), _model(kind="poisson"), np.ones(3))
    with pytest.raises(ValueError, match=r"samples must be \(batch, T\)"):
        gaussian_log_likelihoods(np.ones(3), _model())
