import numpy as np
import pytest

from mbdl_control.models import LinearGaussianModel, perturb, relative_errors

from .conftest import random_model


def _fields(n=2, m=1):
    return {"A": np.eye(n), "B": np.ones((n, m)), "W": np.eye(n), "Q": np.eye(n), "R": np.eye(m)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"A": np.ones((2, 3))}, "A must be square"),
        ({"B": np.ones((3, 1))}, "B must have 2 rows"),
        ({"W": np.array([[1.0, 0.5], [0.0, 1.0]])}, "W must be symmetric"),
        ({"Q": np.diag([1.0, -1.0])}, "Q must be positive semi-definite"),
        ({"R": np.zeros((1, 1))}, "R must be positive definite"),
        ({"A": np.array([[np.nan, 0.0], [0.0, 1.0]])}, "A has non-finite entries"),
        ({"C": np.ones((1, 2))}, "C and V must be given together"),
        ({"C": np.ones((1, 3)), "V": np.eye(1)}, "C must have 2 columns"),
        ({"u_max": -1.0}, "u_max must be positive"),
        ({"x0_mean": np.zeros(3)}, "x0_mean must have 2 entries"),
        ({"A": np.ones(2)}, "A must be a 2-D matrix"),
    ],
)
def test_bad_matrix_names_field_and_problem(change, message):
    with pytest.raises(ValueError, match=message):
        LinearGaussianModel(**{**_fields(), **change})


def test_model_is_frozen_and_compares_by_value():
    model = LinearGaussianModel(**_fields())
    with pytest.raises(ValueError, match="read-only"):
        model.A[0, 0] = 5.0
    assert model == LinearGaussianModel(**_fields())
    assert model != model.replace(A=2 * np.eye(2))
    assert model.x0_cov is not None and np.array_equal(model.x0_cov, model.W)
    assert np.array_equal(model.replace(u_max=0.5).u_max, [0.5])


@pytest.mark.parametrize("mismatch", [0.0, 0.05, 0.3, 1.5])
def test_perturb_hits_exact_relative_error(mismatch):
    model = random_model(1, p=2)
    nominal = perturb(model, mismatch, np.random.default_rng(3), ("A", "B", "C"))
    errors = relative_errors(model, nominal)
    for name in ("A", "B", "C"):
        assert errors[f"rel_error_{name}"] == pytest.approx(mismatch, abs=1e-12)
    assert errors["rel_error_W"] == 0.0
    assert (nominal == model) == (mismatch == 0.0)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_mismatch_is_rejected(bad):
    with pytest.raises(ValueError, match="mismatch must be a finite float >= 0"):
        perturb(random_model(0), bad, np.random.default_rng(0))
