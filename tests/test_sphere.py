import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import eval_gegenbauer, roots_jacobi

from ntkspec import sphere
from ntkspec.spectrum import funk_hecke_constant
from ntkspec.sphere import (
    degree_energy,
    equispaced_circle,
    gegenbauer,
    multiplicity,
    random_harmonic,
    sample_sphere,
)


def test_sample_sphere_unit_norm_and_deterministic(key):
    X = sample_sphere(key, 100, 7)
    assert X.shape == (100, 7)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(X), axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(X), np.asarray(sample_sphere(key, 100, 7)))
    assert not np.allclose(np.asarray(X), np.asarray(sample_sphere(jax.random.key(1), 100, 7)))


def test_sample_sphere_is_uniform(key):
    # E[x xᵀ] = I/d for the uniform measure; Monte-Carlo error ~ 1/sqrt(n) = 0.007 (tol 4σ).
    X = np.asarray(sample_sphere(key, 20000, 4))
    np.testing.assert_allclose(X.T @ X / len(X), np.eye(4) / 4, atol=0.03 / 4 * 4)
    np.testing.assert_allclose(X.mean(0), 0.0, atol=0.03)


@pytest.mark.precision
@pytest.mark.parametrize("d", [2, 3, 4, 7, 50])
def test_gegenbauer_matches_scipy(d):
    t = np.linspace(-1, 1, 41)
    P = gegenbauer(30, d, t)
    assert P.shape == (31, 41) and P.dtype == np.float64
    for k in range(31):
        if d == 2:
            ref = np.cos(k * np.arccos(t))
        else:
            alpha = (d - 2) / 2
            ref = eval_gegenbauer(k, alpha, t) / eval_gegenbauer(k, alpha, 1.0)
        np.testing.assert_allclose(P[k], ref, rtol=1e-11, atol=1e-13)
    np.testing.assert_array_equal(P[:, -1], 1.0)


@pytest.mark.precision
def test_gegenbauer_against_mpmath_high_degree():
    # P_k^{(d)} = C_k^{(α)}(t) / C_k^{(α)}(1), α = (d - 2)/2, evaluated with 40 digits.
    mpmath.mp.dps = 40
    for d, k, t in [(3, 200, 0.3), (5, 150, -0.77), (10, 100, 0.999), (50, 60, 0.1)]:
        a = mpmath.mpf(d - 2) / 2
        ref = mpmath.gegenbauer(k, a, t) / mpmath.gegenbauer(k, a, 1)
        got = gegenbauer(k, d, np.array(t))[k]
        assert abs(got - float(ref)) <= 1e-13


@pytest.mark.precision
def test_gegenbauer_any_shape():
    t = np.random.default_rng(0).uniform(-1, 1, (3, 4, 5))
    P = gegenbauer(4, 3, t)
    assert P.shape == (5, 3, 4, 5)
    np.testing.assert_allclose(P[2], 1.5 * t**2 - 0.5, rtol=0, atol=4e-16)


@pytest.mark.precision
@pytest.mark.parametrize("d", [2, 3, 5, 12])
def test_gegenbauer_orthogonality(d):
    # c_d ∫ P_j P_k (1 - t²)^{(d-3)/2} dt = δ_jk / N(d, k); Gauss–Jacobi is exact here.
    a = (d - 3) / 2
    x, w = roots_jacobi(40, a, a)
    P = gegenbauer(20, d, x)
    G = funk_hecke_constant(d) * (P * w) @ P.T
    N = multiplicity(d, np.arange(21))
    np.testing.assert_allclose(G, np.diag(1.0 / N), atol=1e-13)


@pytest.mark.precision
def test_multiplicity_known_values_and_log():
    assert [multiplicity(2, k) for k in range(5)] == [1, 2, 2, 2, 2]
    assert [multiplicity(3, k) for k in range(5)] == [1, 3, 5, 7, 9]
    assert [multiplicity(4, k) for k in range(5)] == [1, 4, 9, 16, 25]
    np.testing.assert_array_equal(multiplicity(5, np.arange(4)), [1, 5, 14, 30])
    # Exact big integers and a log form that never overflows.
    big = multiplicity(3000, 3000)
    assert isinstance(big, int) and big > 10**300
    assert abs(multiplicity(3000, 3000, log=True) - float(mpmath.log(big))) < 1e-9
    logs = multiplicity(5000, np.array([0, 1, 5000]), log=True)
    assert np.isfinite(logs).all() and logs[1] == pytest.approx(np.log(5000))
    assert np.isinf(multiplicity(5000, np.array([5000])))[0]


@given(d=st.integers(2, 40), k=st.integers(1, 60))
def test_multiplicity_is_dimension_of_harmonic_space(d, k):
    # dim of degree-k harmonics = dim homogeneous polys of degree k minus degree k - 2.
    def homog(m):
        return 0 if m < 0 else math.comb(m + d - 1, d - 1)  # exact integers

    assert multiplicity(d, k) == homog(k) - homog(k - 2)


def test_degree_energy_of_pure_harmonics_uniform_points(key):
    # A unit-norm degree-k harmonic has energy 1 in degree k and ~0 elsewhere (MC error 1/sqrt(n)).
    X = sample_sphere(key, 3000, 3)
    for k in (0, 1, 3):
        h = random_harmonic(jax.random.key(k + 10), X, k)
        E = degree_energy(X, h, 5)
        assert E[k] == pytest.approx(1.0, abs=0.12)
        assert np.delete(E, k).max() < 0.06


@pytest.mark.precision
def test_degree_energy_exact_with_quadrature_weights():
    # Product Gauss rule on S^2 integrates polynomials of degree <= 2·15 - 1 exactly, so the
    # energies of a band-limited function are exact with those weights.
    x, wx = np.polynomial.legendre.leggauss(16)
    phi = 2 * np.pi * np.arange(32) / 32
    T, P = np.meshgrid(x, phi, indexing="ij")
    s = np.sqrt(1 - T**2)
    X = np.stack([s * np.cos(P), s * np.sin(P), T], -1).reshape(-1, 3)
    c = np.repeat(wx, 32) / 2 / 32
    f = 0.5 + X[:, 2] + 3 * X[:, 0] * X[:, 1] + (5 * X[:, 2] ** 3 - 3 * X[:, 2]) / 2
    E = degree_energy(X, f, 4, weights=c)
    # ‖Π_k f‖²: const 0.25; z: 1/3; 3xy: 9/15; P_3(z): 1/7.
    np.testing.assert_allclose(E, [0.25, 1 / 3, 9 / 15, 1 / 7, 0.0], atol=1e-13)


def test_degree_energy_dft_path_is_exact_parseval():
    n = 64
    X = equispaced_circle(n, offset=0.3)
    theta = 0.3 + 2 * np.pi * np.arange(n) / n
    f = 2.0 + np.cos(3 * theta) - 0.5 * np.sin(5 * theta + 1) + 0.25 * np.cos(32 * (theta - 0.3))
    E = degree_energy(X, f, 40)
    ref = np.zeros(41)
    ref[0], ref[3], ref[5], ref[32] = 4.0, 0.5, 0.125, 0.0625
    np.testing.assert_allclose(E, ref, atol=1e-13)
    assert E.sum() == pytest.approx(np.mean(f**2), rel=1e-13)
    # The zonal formula agrees with the DFT below Nyquist.
    E_zonal = sphere._zonal_energy(
        np.clip(np.asarray(X) @ np.asarray(X).T, -1, 1), f[:, None] / n, 2, 31
    )[0]
    np.testing.assert_allclose(E_zonal, E[:32], atol=1e-12)


def test_degree_energy_batched_shapes(key):
    X = sample_sphere(key, 50, 3)
    F = np.random.default_rng(0).normal(size=(50, 4, 2))
    E = degree_energy(X, F, 3)
    assert E.shape == (4, 2, 4)
    np.testing.assert_allclose(E[1, 1], degree_energy(X, F[:, 1, 1], 3), rtol=1e-12)


@pytest.mark.precision
def test_random_harmonic_unit_norm_exact_on_circle():
    X = equispaced_circle(256)
    h = random_harmonic(jax.random.key(3), X, 4)
    E = degree_energy(X, h, 8)
    np.testing.assert_allclose(E, np.eye(9)[4], atol=1e-12)


@pytest.mark.parametrize(
    "bad, msg",
    [
        (np.ones((3, 3)), "unit norm"),
        (np.ones(3), "shape"),
        (np.ones((3, 1)), "shape"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([["a", "b"]]), "real array"),
    ],
)
def test_points_validation(bad, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        degree_energy(bad, np.ones(len(bad)), 2)


def test_argument_validation(key):
    X = sample_sphere(key, 5, 3)
    with pytest.raises(ValueError, match="values of shape"):
        degree_energy(X, np.ones(4), 2)
    with pytest.raises(ValueError, match="kmax >= 0"):
        degree_energy(X, np.ones(5), -1)
    with pytest.raises(TypeError, match="integer"):
        gegenbauer(2.5, 3, 0.1)
    with pytest.raises(ValueError, match="d >= 2"):
        multiplicity(1, 3)
    with pytest.raises(ValueError, match="weights"):
        degree_energy(X, np.ones(5), 2, weights=-np.ones(5))
    with pytest.raises(ValueError, match="n >= 1"):
        sample_sphere(key, 0, 3)
    assert jnp.asarray(X).dtype == jnp.result_type(float)


@pytest.mark.precision
def test_sample_sphere_float64_whatever_the_x64_flag():
    """dtype=float64 is honoured (no JAX truncation warning) also when x64 is off; the
    precision re-run (tests/test_precision.py) runs this with x64 off."""
    X = sample_sphere(jax.random.key(3), 7, 4, dtype=jnp.float64)
    A = np.asarray(X)
    assert A.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(A, axis=1), 1.0, rtol=0, atol=4e-16)
