"""The sparse linear model x = Hs + w: validation, the benchmark's sensing matrix, the
super-resolution operator, and the SNR's noise level."""

import numpy as np
import pytest

from mbdl_control.models import (
    SparseLinearModel,
    SparseStructure,
    gaussian_sensing_matrix,
    noise_std_for_snr,
    psf_sensing_matrix,
    require_sparse,
)


def test_the_benchmark_matrix_has_unit_columns_and_the_published_norm():
    sensing = gaussian_sensing_matrix(250, 500, seed=0)
    assert sensing.shape == (250, 500)
    np.testing.assert_allclose(np.linalg.norm(sensing, axis=0), 1.0, rtol=1e-12)
    # the benchmark reports ‖H‖₂ ≈ 2.38; (1 + √(m/n))·√(n/m) = 2.41 is its large-size limit
    assert 2.2 < np.linalg.norm(sensing, 2) < 2.5
    np.testing.assert_array_equal(sensing, gaussian_sensing_matrix(250, 500, seed=0))
    assert not np.array_equal(sensing, gaussian_sensing_matrix(250, 500, seed=1))


def test_the_psf_operator_blurs_and_decimates_a_spike():
    sensing = psf_sensing_matrix(16, decimation=4, width=1.5)
    assert sensing.shape == (4, 16)
    spike = np.zeros(16)
    spike[5] = 1.0  # fine sample 5 lies in coarse cell 1, centred at 5.5
    blurred = sensing @ spike
    np.testing.assert_allclose(blurred, np.exp(-((4 * np.arange(4) + 1.5 - 5) ** 2) / 4.5))
    assert np.argmax(blurred) == 1
    with pytest.raises(ValueError, match="decimation must divide"):
        psf_sensing_matrix(10, decimation=4, width=1.0)


def test_the_noise_level_meets_the_snr_on_average():
    rng = np.random.default_rng(0)
    sensing = gaussian_sensing_matrix(40, 80, seed=3)
    sigma = noise_std_for_snr(sensing, 0.2, snr_db=10.0)
    signals = (rng.random((20000, 80)) < 0.2) * rng.standard_normal((20000, 80))
    power = np.mean((signals @ sensing.T) ** 2)
    assert 10 * np.log10(power / sigma**2) == pytest.approx(10.0, abs=0.1)
    assert noise_std_for_snr(sensing, 0.2, None) == 0.0


def test_the_model_validates_and_holds_its_form():
    model = SparseLinearModel(np.ones((2, 3)), sparsity=0.5, noise_std=0.1)
    assert model.structure() == SparseStructure(2, 3)
    assert model.signal_energy == 1.5
    assert model == SparseLinearModel(np.ones((2, 3)), 0.5, 0.1) != model.replace(noise_std=0.2)
    with pytest.raises(ValueError, match="read-only"):
        model.sensing[0, 0] = 2.0
    for bad, message in [
        ({"sensing": np.ones(3)}, "sensing must be a finite non-empty 2-D array"),
        ({"sensing": [[np.nan]]}, "sensing must be a finite"),
        ({"sparsity": 0.0}, "sparsity must be in"),
        ({"noise_std": -1.0}, "noise_std must be a finite number >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            SparseLinearModel(**{"sensing": np.ones((2, 3)), **bad})
    with pytest.raises(TypeError, match="built on a SparseLinearModel"):
        require_sparse("LISTA", SparseStructure(2, 3))
