"""Quadrature on S^{d-1}: product Gauss grids and weights for point sets.

Independent references: sphere.degree_energy (the addition theorem, a separate code path) and
sphere.random_harmonic for exactness; closed-form moments ∫x_1⁴ dσ = 3/(d(d+2)),
∫x_1²x_2² dσ = 1/(d(d+2)); scipy's roots_legendre for the S^2 grid weights; smooth test
functions with closed-form integrals for the convergence rates.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import roots_legendre

from ntkspec.quadrature import (
    default_degree,
    gauss_grid,
    harmonic_dimension,
)
from ntkspec.sphere import degree_energy, gegenbauer, multiplicity, sample_sphere


def _uniform(key, n, d):
    return np.asarray(sample_sphere(jax.random.key(key), n, d, dtype=jnp.float64))


def _max_harmonic_error(X, c, degrees, key=0, directions=8):
    """max over degrees k >= 1 of |Σ c_i P_k(<x_i, z>)| for random z: zonal harmonics (∫ = 0)."""
    degrees = list(degrees)
    if not degrees:
        return 0.0
    Z = _uniform(key + 100, directions, X.shape[1])
    P = gegenbauer(max(degrees), X.shape[1], np.clip(X @ Z.T, -1, 1))  # (kmax+1, n, directions)
    return max(float(np.abs(c @ P[k]).max()) for k in degrees)


# ----------------------------------------------------------------------------- grids
@pytest.mark.parametrize("d,L", [(2, 0), (2, 7), (3, 1), (3, 8), (3, 15), (4, 6), (5, 5), (6, 4)])
def test_gauss_grid_is_exact_to_its_degree(d, L):
    g = gauss_grid(d, L)
    X, c = g.points, g.weights
    assert X.shape == ((L // 2 + 1) ** (d - 2) * (L + 1), d)
    assert np.abs(np.linalg.norm(X, axis=1) - 1).max() < 1e-15
    assert (c > 0).all() and abs(c.sum() - 1) < 1e-14 and g.degree == L
    # addition theorem through sphere.degree_energy: E_k = N(d,k) Σ c_i c_j P_k = 0 for 1 <= k <= L
    E = degree_energy(X, np.ones(len(X)), L + 2, weights=c)
    assert abs(E[0] - 1) < 1e-13
    N = multiplicity(d, np.arange(L + 3))
    assert (E[1 : L + 1] <= 1e-14 * N[1 : L + 1]).all()
    assert E[L + 1 :].max() > 1e-6  # not exact beyond its degree (odd or even next degree)
    assert _max_harmonic_error(X, c, range(1, L + 1)) < 1e-12
    if L >= 4:
        assert abs(c @ X[:, 0] ** 4 - 3 / (d * (d + 2))) < 1e-14
        assert abs(c @ (X[:, 0] ** 2 * X[:, -1] ** 2) - 1 / (d * (d + 2))) < 1e-14


def test_gauss_grid_s2_is_legendre_times_equispaced():
    L = 9
    g = gauss_grid(3, L)
    t, w = roots_legendre(L // 2 + 1)
    z = np.unique(np.round(g.points[:, 2], 12))
    np.testing.assert_allclose(z, np.sort(t), atol=1e-12)
    for ti, wi in zip(t, w, strict=True):
        on = np.abs(g.points[:, 2] - ti) < 1e-12
        assert on.sum() == L + 1
        np.testing.assert_allclose(g.weights[on], wi / 2 / (L + 1), rtol=1e-13)
        phi = np.sort(np.mod(np.arctan2(g.points[on, 1], g.points[on, 0]), 2 * np.pi))
        np.testing.assert_allclose(np.diff(phi), 2 * np.pi / (L + 1), atol=1e-12)


def test_gauss_grid_refuses_huge_grids():
    with pytest.raises(ValueError, match="at most"):
        gauss_grid(8, 60)
    with pytest.raises(ValueError, match="degree >= 0"):
        gauss_grid(3, -1)


def test_harmonic_dimension_and_default_degree():
    for d in (2, 3, 4, 7):
        for L in range(6):
            assert harmonic_dimension(d, L) == sum(multiplicity(d, k) for k in range(L + 1))
    for n, d in ((512, 3), (100, 2), (1000, 5), (1, 3), (3, 3)):
        L = default_degree(n, d)
        assert harmonic_dimension(d, L) <= max(n / 2, 1)
        assert harmonic_dimension(d, L + 1) > n / 2
