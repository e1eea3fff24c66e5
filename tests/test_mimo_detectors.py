"""The model-based MIMO detectors, each against an answer found independently of it.

The reference is an exhaustive ML search written here (every vector of ``𝒜^n``, ``n ≤ 10``),
closed forms (the ZF bit error rate of i.i.d. Gaussian channels, the real LMMSE estimate)
and a numpy EP. Data come from the env's physics (:class:`MIMODynamics`) or, where the noise
level must be fixed, are drawn here.
"""

import itertools

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import chi2, norm

from mbdl_control.agents import AGENTS
from mbdl_control.agents.model_based import (
    ExpectationPropagation,
    KBest,
    LinearMMSEDetector,
    SemidefiniteRelaxation,
    SphereDecoder,
    ZeroForcing,
)
from mbdl_control.agents.model_based.sdr import lifted_costs
from mbdl_control.agents.model_based.sionna_detectors import ComplexView
from mbdl_control.blocks.mimo_observations import channel_uses, nearest_levels
from mbdl_control.blocks.sdp_mixing import factor_rank, mixing_sdp
from mbdl_control.blocks.sphere_decoder import sphere_decode
from mbdl_control.core import BaseAgent, SpectrumInfo
from mbdl_control.envs.comms.mimo_dynamics import MIMODynamics
from mbdl_control.models import ISIChannelModel, MIMOSystem

DETECTORS = (
    SphereDecoder,
    ZeroForcing,
    LinearMMSEDetector,
    KBest,
    ExpectationPropagation,
    SemidefiniteRelaxation,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def transmission(system, snr_db, episodes, length=5, seed=0, mismatch=0.0):
    """Observations of ``episodes`` episodes of the env's physics, and the symbols sent."""
    dynamics = MIMODynamics(system, (snr_db, snr_db), length, 0.5, mismatch)
    sent = dynamics.transmit([np.random.default_rng([seed, i]) for i in range(episodes)])
    observation = {
        "received": sent.received,
        "channel": sent.estimate,
        "noise_var": sent.noise_var[:, None],
    }
    return observation, sent.symbols


def brute_force(received, channel, levels):
    """Every vector of ``levels^n`` tried: the ML level indices ``(B, n)`` and distances."""
    size = channel.shape[-1]
    candidates = np.array(list(itertools.product(range(len(levels)), repeat=size)))
    residuals = received[:, None] - np.einsum("bmn,cn->bcm", channel, levels[candidates])
    distances = np.sum(residuals**2, axis=-1)
    best = np.argmin(distances, axis=1)
    return candidates[best], distances[np.arange(len(best)), best]


def ml_of(system, observation):
    """The brute-force ML decisions ``(B, T, n_t)`` of the episodes of ``observation``."""
    uses = channel_uses(observation)
    indices, _ = brute_force(uses.received, uses.channel, system.levels)
    return indices.reshape((*observation["received"].shape[:2], -1))


@pytest.mark.parametrize(
    ("users", "antennas", "constellation"),
    [(1, 1, "bpsk"), (4, 4, "bpsk"), (8, 10, "bpsk"), (10, 12, "bpsk"), (2, 3, "16qam")],
)
@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 10.0, 25.0])
def test_the_sphere_decoder_is_the_brute_force_ml_on_every_vector(
    users, antennas, constellation, snr_db
):
    system = MIMOSystem(users, antennas, constellation)
    observation, _ = transmission(system, snr_db, episodes=30, length=4, mismatch=0.1)
    uses = channel_uses(observation)
    found = sphere_decode(uses.received, uses.channel, system.levels)
    indices, distances = brute_force(uses.received, uses.channel, system.levels)
    np.testing.assert_array_equal(found.indices, indices)
    np.testing.assert_allclose(found.distances, distances, rtol=1e-10)
    assert found.complete.all() and np.all(found.nodes >= system.transmit_dim)
    shared = sphere_decode(uses.received, observation["channel"], system.levels, None, 4)
    np.testing.assert_array_equal(shared.indices, indices)  # one QR per episode of 4 uses
    np.testing.assert_array_equal(
        SphereDecoder(system).predict(observation)[0], ml_of(system, observation)
    )


@pytest.mark.parametrize(("size", "rows"), [(5, 5), (4, 7)])
def test_the_sphere_decoder_is_exact_for_4_pam_on_any_real_channel(size, rows):
    rng = np.random.default_rng(size)
    levels = np.array([-3.0, -1.0, 1.0, 3.0])
    channel = rng.standard_normal((400, rows, size))
    sent = levels[rng.integers(0, 4, (400, size))]
    noise = rng.choice([0.05, 0.5, 2.0, 6.0], (400, 1)) * rng.standard_normal((400, rows))
    received = np.einsum("bmn,bn->bm", channel, sent) + noise
    found = sphere_decode(received, channel, levels)
    np.testing.assert_array_equal(found.indices, brute_force(received, channel, levels)[0])


def test_the_sphere_decoder_finds_an_ml_point_of_a_rank_deficient_channel():
    rng = np.random.default_rng(4)
    channel = rng.standard_normal((200, 6, 4))
    channel[:, :, 1] = channel[:, :, 0]  # x_0 and x_1 enter only through their sum
    channel[:100, :, 3] = 0.0  # and x_3 not at all
    received = rng.standard_normal((200, 6))
    levels = np.array([-1.0, 1.0])
    found = sphere_decode(received, channel, levels)
    np.testing.assert_allclose(found.distances, brute_force(received, channel, levels)[1])


def test_a_node_limit_flags_the_searches_it_stops_and_keeps_their_best_point():
    system = MIMOSystem(10, 10)
    observation, _ = transmission(system, 0.0, episodes=20, length=5, seed=3)
    uses = channel_uses(observation)
    exact = sphere_decode(uses.received, uses.channel, system.levels)
    limited = sphere_decode(uses.received, uses.channel, system.levels, node_limit=40)
    stopped = ~limited.complete
    assert 0 < stopped.sum() < len(stopped)
    assert np.all(limited.nodes <= 40)
    np.testing.assert_array_equal(stopped, exact.nodes > 40)
    np.testing.assert_array_equal(limited.indices[~stopped], exact.indices[~stopped])
    assert np.all(limited.distances[stopped] >= exact.distances[stopped] - 1e-12)
    agent = SphereDecoder(system, node_limit=40)
    agent.predict(observation)
    assert agent.diagnostics()["node_limit_hits"] == stopped.sum()
    assert agent.diagnostics()["nodes_per_vector"] == pytest.approx(limited.nodes.mean())


def zero_forcing_ber(users, antennas, noise_var):
    """``E[Q(√(c/σ²))]`` for ``c ~ χ²_{N−K+1}``: the post-ZF SNR of a stream of an i.i.d.
    ``N(0, 1)`` channel is ``1 / (σ² [(HᵀH)⁻¹]_kk)`` with ``1/[(HᵀH)⁻¹]_kk ~ χ²_{N−K+1}``."""
    dof = antennas - users + 1

    def integrand(c):
        return norm.sf(np.sqrt(c / noise_var)) * chi2.pdf(c, dof)

    return integrate.quad(integrand, 0.0, np.inf)[0]


def test_zero_forcing_ber_on_iid_channels_matches_the_closed_form():
    users, antennas, noise_var, count = 4, 8, 0.8, 20000
    rng = np.random.default_rng(11)
    channel = rng.standard_normal((count, antennas, users))
    sent = rng.integers(0, 2, (count, 1, users))
    noise = np.sqrt(noise_var) * rng.standard_normal((count, 1, antennas))
    received = np.einsum("bmn,btn->btm", channel, 2.0 * sent - 1.0) + noise
    observation = {
        "received": received,
        "channel": channel,
        "noise_var": np.full((count, 1), noise_var),
    }
    decided, _ = ZeroForcing(MIMOSystem(users, antennas)).predict(observation)
    errors = np.mean(decided != sent, axis=(1, 2))  # per vector: i.i.d. across vectors
    expected = zero_forcing_ber(users, antennas, noise_var)
    assert 0.02 < expected < 0.1
    assert abs(errors.mean() - expected) < 4.0 * errors.std() / np.sqrt(count)


def closed_form_lmmse(uses, energy):
    """The unbiased real LMMSE estimate ``diag(WH)⁻¹ W y``, ``W = (HᵀH + σ²/E_s I)⁻¹Hᵀ``."""
    h, y = uses.channel, uses.received
    size = h.shape[-1]
    gram = np.einsum("bmi,bmj->bij", h, h)
    regularized = gram + (uses.noise_var / energy)[:, None, None] * np.eye(size)
    biased = np.linalg.solve(regularized, np.einsum("bmi,bm->bi", h, y)[..., None])[..., 0]
    gain = np.diagonal(np.linalg.solve(regularized, gram), axis1=1, axis2=2)
    return biased / gain


@pytest.mark.parametrize(
    ("users", "antennas", "constellation", "snr_db"),
    [(8, 12, "bpsk", 5.0), (3, 5, "qpsk", 8.0), (3, 4, "16qam", 12.0)],
)
def test_linear_detectors_are_the_closed_forms_before_slicing(
    users, antennas, constellation, snr_db
):
    system = MIMOSystem(users, antennas, constellation)
    observation, _ = transmission(system, snr_db, episodes=40, length=5, mismatch=0.2)
    uses = channel_uses(observation)
    lmmse, zf = LinearMMSEDetector(system), ZeroForcing(system)
    expected = closed_form_lmmse(uses, system.symbol_energy)
    np.testing.assert_allclose(lmmse.estimates(uses), expected, atol=1e-6)
    least_squares = np.stack(
        [
            np.linalg.lstsq(h, y, rcond=None)[0]
            for h, y in zip(uses.channel, uses.received, strict=True)
        ]
    )
    np.testing.assert_allclose(zf.estimates(uses), least_squares, atol=1e-6)
    levels = system.levels
    for agent, estimate in ((lmmse, expected), (zf, least_squares)):
        nearest = np.abs(estimate[..., None] - levels).argmin(axis=-1)
        np.testing.assert_array_equal(agent.detect(uses), nearest)
        # Sionna's LinearDetector, the reference, decides the same
        np.testing.assert_array_equal(
            sionna_linear_decisions(system, uses, "zf" if agent is zf else "lmmse"), nearest
        )


def sionna_linear_decisions(system, uses, equalizer):
    """Sionna's ``LinearDetector`` on the complex view of the system, as our level indices."""
    from sionna.phy.mimo import LinearDetector

    view = ComplexView.of(system)
    detector = LinearDetector(
        equalizer,
        "symbol",
        "maxlog",
        constellation_type=view.constellation,
        num_bits_per_symbol=view.bits,
        hard_out=True,
        precision="double",
    )
    symbols = detector(*view.inputs(uses.received, uses.channel, uses.noise_var)).numpy()
    return nearest_levels(view.real_values(view.points()[symbols]), system.levels)


@pytest.mark.parametrize(
    ("users", "antennas", "constellation", "paths"), [(4, 5, "bpsk", 16), (2, 2, "16qam", 256)]
)
def test_k_best_keeping_every_path_is_the_ml_detector(users, antennas, constellation, paths):
    system = MIMOSystem(users, antennas, constellation)
    observation, _ = transmission(system, 3.0, episodes=50, length=4, seed=5)
    decided, _ = KBest(system, k=paths).predict(observation)
    np.testing.assert_array_equal(decided, ml_of(system, observation))


@pytest.mark.parametrize(
    ("users", "antennas", "constellation", "snr_db"),
    [(8, 10, "bpsk", 10.0), (10, 10, "bpsk", 10.0), (3, 4, "16qam", 16.0)],
)
def test_k_best_and_ep_error_rates_are_close_to_ml(users, antennas, constellation, snr_db):
    system = MIMOSystem(users, antennas, constellation)
    observation, sent = transmission(system, snr_db, episodes=200, length=10, seed=6)
    ml = np.mean(ml_of(system, observation) != sent)
    lmmse = np.mean(LinearMMSEDetector(system).predict(observation)[0] != sent)
    k_best = np.mean(KBest(system).predict(observation)[0] != sent)
    ep = np.mean(ExpectationPropagation(system).predict(observation)[0] != sent)
    assert 0.005 < ml < 0.05 and lmmse > 1.5 * ml  # a regime where detectors differ
    assert abs(k_best - ml) <= 0.1 * ml
    assert abs(ep - ml) <= 0.35 * ml


def numpy_ep(received, channel, noise, points, iterations=10, beta=0.9, floor=1e-12):
    """EP detection of ``y = Hx + w``, ``x_k ∈ points``, ``E[wwᵀ] = noise·I`` (Céspedes et
    al., IEEE Trans. Comm. 2014, eqs. 28–38, with damping ``beta``): Gaussian sites of
    precision ``λ`` and ``γ``, the cavity of each symbol matched to its discrete posterior.
    Sionna starts the precision at ``1/var`` with torch's unbiased (``n − 1``) variance of
    the points; so does this, to compare decisions exactly."""
    count, size = received.shape[0], channel.shape[-1]
    gram = np.einsum("bmi,bmj->bij", channel, channel) / noise
    matched = np.einsum("bmi,bm->bi", channel, received) / noise
    precision = np.full((count, size), 1.0 / np.var(points, ddof=1))
    shift = np.zeros((count, size))
    for _ in range(iterations):
        covariance = np.linalg.inv(gram + precision[:, :, None] * np.eye(size))
        mean = np.einsum("bij,bj->bi", covariance, matched + shift)
        variance = np.diagonal(covariance, axis1=1, axis2=2)
        cavity_var = np.maximum(1.0 / (1.0 / variance - precision), floor)
        cavity_mean = cavity_var * (mean / variance - shift)
        logits = -((cavity_mean[..., None] - points) ** 2) / (2.0 * cavity_var[..., None])
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        posterior_mean = weights @ points
        posterior_var = np.maximum(
            np.sum(weights * (points - posterior_mean[..., None]) ** 2, axis=-1), floor
        )
        new_precision = 1.0 / posterior_var - 1.0 / cavity_var
        new_shift = posterior_mean / posterior_var - cavity_mean / cavity_var
        negative = new_precision < 0
        new_precision = np.where(negative, precision, new_precision)
        new_shift = np.where(negative, shift, new_shift)
        precision = (1 - beta) * new_precision + beta * precision
        shift = (1 - beta) * new_shift + beta * shift
    return logits.argmax(axis=-1)


@pytest.mark.parametrize("snr_db", [0.0, 8.0, 20.0])
def test_ep_on_bpsk_is_numpy_ep_on_the_real_system(snr_db):
    """Sionna's EP takes BPSK as QPSK of ``y/√2``: its real half must be EP on the BPSK
    system, in the scale Sionna whitens to (``y/(σ√2)``, ``H/σ``, points ``±1/√2``)."""
    system = MIMOSystem(6, 8)
    observation, _ = transmission(system, snr_db, episodes=100, length=5, seed=8)
    uses = channel_uses(observation)
    sigma = np.sqrt(uses.noise_var)[:, None]
    expected = numpy_ep(
        uses.received / (sigma * np.sqrt(2.0)),
        uses.channel / sigma[..., None],
        0.5,
        np.array([-1.0, 1.0]) / np.sqrt(2.0),
    )
    np.testing.assert_array_equal(ExpectationPropagation(system).detect(uses), expected)


def test_sdr_is_ml_on_most_vectors_at_high_snr_and_its_value_bounds_the_ml_cost():
    system = MIMOSystem(4, 6)
    observation, _ = transmission(system, 15.0, episodes=8, length=5, seed=9)
    uses = channel_uses(observation)
    agent = SemidefiniteRelaxation(system)
    ml, ml_cost = brute_force(uses.received, uses.channel, system.levels)
    decided = agent.detect(uses)
    assert np.mean(np.all(decided == ml, axis=1)) >= 0.95
    for y, h, cost in zip(uses.received[:10], uses.channel[:10], ml_cost[:10], strict=True):
        lifted, value = agent.relax(y, h)
        assert value <= cost + 1e-6 * (1.0 + cost)
        np.testing.assert_allclose(np.diagonal(lifted), 1.0, atol=1e-6)
        assert np.linalg.eigvalsh(lifted).min() > -1e-6
    assert agent.diagnostics()["failed_solves"] == 0


def test_a_failed_sdr_solve_falls_back_to_zero_forcing_and_is_counted(monkeypatch):
    import cvxpy as cp

    system = MIMOSystem(4, 6)
    observation, _ = transmission(system, 5.0, episodes=2, length=3, seed=10)
    agent = SemidefiniteRelaxation(system, solver="CLARABEL")

    def failing(*args, **kwargs):
        raise cp.error.SolverError("injected failure")

    monkeypatch.setattr(agent._interior.problem, "solve", failing)
    decided, _ = agent.predict(observation)
    uses = channel_uses(observation)
    zf = ZeroForcing(system).detect(uses)
    np.testing.assert_array_equal(decided.reshape(zf.shape), zf)
    assert agent.diagnostics() == {"solves": 6, "failed_solves": 6, "failure_rate": 1.0}


def test_sdr_randomization_is_seeded():
    system = MIMOSystem(6, 6)
    observation, _ = transmission(system, 0.0, episodes=2, length=5, seed=12)
    first = SemidefiniteRelaxation(system, rounding_draws=5, seed=3).predict(observation)[0]
    again = SemidefiniteRelaxation(system, rounding_draws=5, seed=3).predict(observation)[0]
    np.testing.assert_array_equal(first, again)


def clarabel_sdp(cost):
    """``min tr(CZ)`` s.t. ``diag Z = 1``, ``Z ⪰ 0`` by cvxpy and Clarabel's interior point."""
    import cvxpy as cp

    lifted = cp.Variable(cost.shape, PSD=True)
    problem = cp.Problem(cp.Minimize(cp.trace(cost @ lifted)), [cp.diag(lifted) == 1])
    problem.solve(solver="CLARABEL")
    assert problem.status == "optimal"
    return problem.value


def sdr_programs(system, snr_db, episodes, length, seed):
    """The channel uses of the env's physics and their SDR costs ``C`` ``(U, n+1, n+1)``."""
    observation, sent = transmission(system, snr_db, episodes, length, seed)
    uses = channel_uses(observation)
    return uses, lifted_costs(uses.received, system.levels[1] * uses.channel), sent


@pytest.mark.parametrize("snr_db", [0.0, 8.0, 10.0, 20.0])
def test_the_mixing_sdp_value_is_clarabels_at_20x30_bpsk(snr_db):
    _, costs, _ = sdr_programs(MIMOSystem(20, 30), snr_db, episodes=3, length=4, seed=15)
    solution = mixing_sdp(costs, np.random.default_rng(0))
    assert solution.converged.all()
    np.testing.assert_allclose(solution.values, [clarabel_sdp(c) for c in costs], rtol=1e-5)


@pytest.mark.parametrize("size", [2, 3, 5, 9])
def test_the_mixing_sdp_value_is_clarabels_on_random_programs(size):
    """Indefinite costs, given unsymmetrized: only ``(C + Cᵀ)/2`` enters ``tr(CZ)``."""
    rng = np.random.default_rng(size)
    halves = rng.standard_normal((12, size, size))
    solution = mixing_sdp(halves, rng)
    symmetric = halves + np.swapaxes(halves, 1, 2)
    expected = [clarabel_sdp(c) / 2.0 for c in symmetric]
    assert solution.converged.all()
    np.testing.assert_allclose(solution.values, expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("users", "antennas", "constellation"), [(4, 6, "bpsk"), (8, 10, "bpsk"), (3, 4, "qpsk")]
)
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_the_mixing_sdp_is_feasible_and_its_value_bounds_the_ml_cost(
    users, antennas, constellation, snr_db
):
    system = MIMOSystem(users, antennas, constellation)
    uses, costs, _ = sdr_programs(system, snr_db, episodes=10, length=4, seed=16)
    ml, ml_cost = brute_force(uses.received, uses.channel, system.levels)
    lifted_ml = np.concatenate([2.0 * ml - 1.0, np.ones((len(ml), 1))], axis=1)
    np.testing.assert_allclose(np.einsum("bi,bij,bj->b", lifted_ml, costs, lifted_ml), ml_cost)
    solution = mixing_sdp(costs, np.random.default_rng(1))
    size = system.transmit_dim + 1
    assert solution.factors.shape == (40, factor_rank(size), size)
    lifted = np.swapaxes(solution.factors, 1, 2) @ solution.factors
    np.testing.assert_allclose(np.diagonal(lifted, axis1=1, axis2=2), 1.0, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(lifted)[:, 0] >= -1e-12)
    np.testing.assert_allclose(np.einsum("bij,bij->b", costs, lifted), solution.values)
    assert np.all(solution.values <= ml_cost * (1.0 + 1e-5))  # tight at 25 dB: up to accuracy


def test_the_mixing_method_is_deterministic_per_seed_and_its_value_is_not_seed_dependent():
    _, costs, _ = sdr_programs(MIMOSystem(10, 12), 5.0, episodes=4, length=5, seed=17)
    first, again = (mixing_sdp(costs, np.random.default_rng(5)) for _ in range(2))
    other = mixing_sdp(costs, np.random.default_rng(6))
    np.testing.assert_array_equal(first.factors, again.factors)
    np.testing.assert_array_equal(first.sweeps, again.sweeps)
    assert not np.allclose(first.factors, other.factors)  # another start, another rotation
    np.testing.assert_allclose(first.values, other.values, rtol=1e-6)


def test_the_mixing_sdr_decides_as_the_interior_point_sdr_at_20x30_bpsk():
    system = MIMOSystem(20, 30)
    observation, sent = transmission(system, 10.0, episodes=60, length=5, seed=18)
    mixing = SemidefiniteRelaxation(system).predict(observation)[0]
    interior = SemidefiniteRelaxation(system, solver="CLARABEL").predict(observation)[0]
    assert np.mean(np.all(mixing == interior, axis=-1)) >= 0.99
    assert abs(np.mean(mixing != sent) - np.mean(interior != sent)) <= 2e-3


@pytest.mark.slow
@pytest.mark.parametrize("snr_db", [8.0, 10.0])
def test_the_mixing_sdr_error_rate_is_the_interior_point_sdrs(snr_db):
    """2000 vectors; the two share the channel uses, so their difference is paired."""
    system = MIMOSystem(20, 30)
    observation, sent = transmission(system, snr_db, episodes=400, length=5, seed=19)
    mixing = SemidefiniteRelaxation(system).predict(observation)[0] != sent
    interior = SemidefiniteRelaxation(system, solver="CLARABEL").predict(observation)[0] != sent
    difference = np.mean(mixing, axis=-1) - np.mean(interior, axis=-1)
    assert abs(difference.mean()) <= 3.0 * difference.std() / np.sqrt(difference.size) + 1e-4


def test_unconverged_mixing_solves_are_rounded_and_counted():
    system = MIMOSystem(20, 30)
    uses, costs, sent = sdr_programs(system, 10.0, episodes=4, length=5, seed=20)
    agent = SemidefiniteRelaxation(system, max_sweeps=3, seed=2)
    decided = agent.detect(uses)
    expected = mixing_sdp(costs, np.random.default_rng(2), max_sweeps=3)
    assert 0 < np.sum(~expected.converged)
    assert agent.diagnostics() == {
        "solves": 20,
        "failed_solves": 0,
        "failure_rate": 0.0,
        "unconverged": np.sum(~expected.converged),
        "sweeps_per_vector": expected.sweeps.mean(),
    }
    assert np.mean(decided != sent.reshape(decided.shape)) < 0.05  # rounded all the same


def _small(cls):
    """``cls`` on a 3 × 4 system of a constellation it takes."""
    return cls(MIMOSystem(3, 4, "qpsk"))


@pytest.mark.parametrize("cls", DETECTORS)
def test_every_detector_takes_one_episode_or_a_batch_of_any_length(cls, tmp_path):
    agent = _small(cls)
    assert agent.spectrum == SpectrumInfo("model-based", "nominal", 0)
    assert AGENTS[cls.__name__] == f".model_based.{cls.__module__.rsplit('.', 1)[1]}"
    agent.save(tmp_path / "agent.safetensors")
    loaded = BaseAgent.load(tmp_path / "agent.safetensors")
    for length in (1, 7):
        observation, _ = transmission(agent.system, 10.0, episodes=3, length=length, seed=13)
        batch, _ = agent.predict(observation)
        one, _ = agent.predict({key: value[1] for key, value in observation.items()})
        assert batch.shape == (3, length, 6) and batch.dtype == np.int64
        assert one.shape == (length, 6)
        np.testing.assert_array_equal(one, batch[1])
        np.testing.assert_array_equal(loaded.predict(observation)[0], batch)


@pytest.mark.parametrize("cls", DETECTORS)
def test_every_detector_refuses_a_bad_model_or_observation(cls):
    with pytest.raises(TypeError, match="is built on a MIMOSystem"):
        cls(ISIChannelModel(np.ones(2), 0.1, np.array([-1.0, 1.0])))
    agent = _small(cls)
    observation, _ = transmission(agent.system, 10.0, episodes=2, length=3)
    with pytest.raises(ValueError, match=r"observation\['received'\] must be"):
        agent.predict({**observation, "channel": observation["channel"][..., :-1]})
    with pytest.raises(ValueError, match="observation\\['received'\\] must have shape"):
        agent.predict({**observation, "received": observation["received"][:, :, :-1]})
    with pytest.raises(ValueError, match="a MIMO observation is a dict with keys"):
        agent.predict(observation["received"])


def test_bad_arguments_are_named():
    wide = MIMOSystem(4, 3)
    for cls in (SphereDecoder, ZeroForcing, KBest):
        with pytest.raises(ValueError, match=r"N >= K.*K=4 users and N=3 antennas"):
            cls(wide)
    with pytest.raises(ValueError, match=r"m >= n.*m=3 x n=4"):
        sphere_decode(np.zeros((1, 3)), np.zeros((1, 3, 4)), np.array([-1.0, 1.0]))
    with pytest.raises(ValueError, match="node_limit must be at least n=4"):
        SphereDecoder(MIMOSystem(4, 4), node_limit=3)
    with pytest.raises(ValueError, match=r"two levels per real dimension.*'16qam'"):
        SemidefiniteRelaxation(MIMOSystem(2, 2, "16qam"))
    with pytest.raises(ValueError, match=r"solver must be one of \('mixing'.*got 'MOSEK'"):
        SemidefiniteRelaxation(MIMOSystem(2, 2), solver="MOSEK")
    with pytest.raises(ValueError, match=r"tolerance must be a positive finite number, got 0\.0"):
        SemidefiniteRelaxation(MIMOSystem(2, 2), tolerance=0.0)
    with pytest.raises(ValueError, match="max_sweeps must be a positive integer, got 0"):
        SemidefiniteRelaxation(MIMOSystem(2, 2), max_sweeps=0)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"costs must be square matrices \(B, m, m\).*\(2, 3\)"):
        mixing_sdp(np.zeros((2, 3)), rng)
    with pytest.raises(ValueError, match="costs must be finite; 1 entries are not"):
        mixing_sdp(np.array([[[0.0, np.nan], [0.0, 0.0]]]), rng)
    with pytest.raises(ValueError, match="rank must be a positive integer, got 0"):
        mixing_sdp(np.zeros((1, 2, 2)), rng, rank=0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        KBest(MIMOSystem(2, 2), k=0)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\]"):
        ExpectationPropagation(MIMOSystem(2, 2), beta=1.5)
