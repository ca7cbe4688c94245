import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec._compat import enable_x64
from ntkspec.losses import (
    Loss,
    mse,
    quadratic,
    sobolev,
    sobolev_matrix,
    sobolev_weights,
    weighted,
)
from ntkspec.sphere import degree_energy, equispaced_circle, sample_sphere


def _points(n=24, d=3, seed=0):
    import jax

    with enable_x64():
        X = np.asarray(sample_sphere(jax.random.key(seed), n, d, dtype=jnp.float64))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _objective(loss: Loss, X, r, kmax=None):
    with enable_x64():
        obj = loss.bind(X, kmax=kmax, dtype=jnp.float64)
        return float(obj.fn(jnp.asarray(r), obj.data))


def test_objectives_match_their_definitions():
    X = _points()
    n = X.shape[0]
    r = np.random.default_rng(0).standard_normal(n)
    assert _objective(mse(), X, r) == pytest.approx(0.5 * np.mean(r * r), rel=1e-14)
    c = np.random.default_rng(1).uniform(0.2, 1.0, n)
    c /= c.sum()
    assert _objective(weighted(c), X, r) == pytest.approx(0.5 * np.sum(c * r * r), rel=1e-14)
    # Sobolev: (1/2) Σ_k w_k ‖Π_k r‖² with the degree energies of an independent routine.
    E = degree_energy(X, r, 5)
    w = sobolev_weights(3, np.arange(6), 0.7)
    assert _objective(sobolev(0.7), X, r, kmax=5) == pytest.approx(0.5 * w @ E, rel=1e-12)
    assert _objective(sobolev(0.7, kmax=5), X, r, kmax=99) == pytest.approx(0.5 * w @ E, rel=1e-12)
    S = sobolev_matrix(X, -0.3, 4)
    assert _objective(quadratic(S), X, r) == pytest.approx(0.5 * r @ S @ r, rel=1e-12)


@pytest.mark.parametrize("kind", ["mse", "weighted", "sobolev", "quadratic"])
def test_factor_reproduces_the_metric_and_the_objective(kind):
    X = _points(20)
    n = X.shape[0]
    c = np.linspace(1.0, 2.0, n)
    c /= c.sum()
    loss = {
        "mse": mse(),
        "weighted": weighted(c),
        "sobolev": sobolev(1.0, weights=c),
        "quadratic": quadratic(sobolev_matrix(X, 0.5, 3)),
    }[kind]
    B = loss.factor(X, kmax=4)
    M = loss.metric(X, kmax=4)
    BB = np.diag(B * B) if B.ndim == 1 else B @ B.T
    np.testing.assert_allclose(BB, M, atol=1e-12 * np.abs(M).max())
    r = np.random.default_rng(3).standard_normal(n)
    assert _objective(loss, X, r, kmax=4) == pytest.approx(0.5 * r @ M @ r, rel=1e-10)
    assert loss.diagonal == (kind in ("mse", "weighted"))


def test_degree_weights():
    k = np.arange(5)
    np.testing.assert_array_equal(mse().degree_weights(3, k), np.ones(5))
    np.testing.assert_array_equal(weighted([0.5, 0.5]).degree_weights(3, k), np.ones(5))
    np.testing.assert_allclose(sobolev(2.0).degree_weights(4, k), (1 + k * (k + 2.0)) ** 2)
    with pytest.raises(ValueError, match="quadratic.*has none"):
        quadratic(np.eye(3)).degree_weights(3, k)


def test_equispaced_circle_needs_no_kmax():
    X = equispaced_circle(16)
    r = np.cos(3 * 2 * np.pi * np.arange(16) / 16)  # degree 3, ‖r‖² = 1/2
    assert _objective(sobolev(1.0), X, r) == pytest.approx(0.5 * 0.5 * (1 + 9), rel=1e-12)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: weighted([0.2, 0.2]), ValueError, r"sum to 1.*got sum 0\.4.*weights\.sum\(\)"),
        (lambda: weighted([[0.5, 0.5]]), ValueError, r"shape \(n,\)"),
        (lambda: weighted([1.5, -0.5]), ValueError, r"non-negative"),
        (lambda: weighted("ab"), TypeError, r"real array"),
        (lambda: sobolev(float("nan")), ValueError, r"finite real Sobolev exponent"),
        (lambda: sobolev(True), ValueError, r"finite real Sobolev exponent"),
        (lambda: sobolev(1.0, weights=[0.3, 0.3]), ValueError, r"sum to 1"),
        (lambda: sobolev(1.0, kmax=-1), ValueError, r"kmax >= 0"),
        (lambda: quadratic(np.triu(np.ones((3, 3)))), ValueError, r"symmetric"),
        (lambda: quadratic(np.ones(3)), ValueError, r"square matrix"),
    ],
)
def test_constructors_refuse_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_binding_checks_the_sample():
    X = _points(10)
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        weighted(np.full(4, 0.25)).bind(X)
    with pytest.raises(ValueError, match=r"Expected kmax"):
        sobolev(1.0).bind(X)  # no kmax anywhere, not equispaced S^1
    with pytest.raises(ValueError, match=r"shape \(10, 10\)"):
        quadratic(np.eye(3)).bind(X)
    with pytest.raises(ValueError, match="positive semi-definite"):
        quadratic(-np.eye(10)).factor(X)
