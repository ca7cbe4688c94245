"""Quadrature on S^{d-1}: product Gauss grids and weights for point sets.

Independent references: sphere.degree_energy (the addition theorem, a separate code path)
and zonal harmonics P_k(<x, z>) (∫ = 0 for k >= 1) for exactness; closed-form moments
∫x_1⁴ dσ = 3/(d(d+2)), ∫x_1²x_2² dσ = 1/(d(d+2)); scipy's roots_legendre for the S^2 grid
weights; smooth test functions with closed-form integrals for the convergence rates.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import roots_legendre

from ntkspec.distributions import PolarCap, VonMisesFisher, WarpedCircle, distribution
from ntkspec.kernels import mlp_kernel
from ntkspec.quadrature import (
    default_degree,
    exactness_defect,
    gauss_grid,
    harmonic_dimension,
    quadrature_weights,
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


# ----------------------------------------------------------------------------- lsq
@pytest.mark.parametrize("d,L", [(2, 7), (3, 6), (3, 11), (4, 5)])
def test_lsq_on_gauss_grid_reproduces_its_weights(d, L):
    g = gauss_grid(d, L)
    q = quadrature_weights(g.points, "lsq", degree=L)
    np.testing.assert_allclose(q.weights, g.weights, rtol=1e-10, atol=1e-14)
    assert q.rank <= len(g.points) and q.method == "lsq" and q.degree == L


def _vmf_points(n, kappa=3.0, key=2):
    return VonMisesFisher([0.0, 0.0, 1.0], kappa).sample(jax.random.key(key), n)


@pytest.mark.parametrize(
    "name,X,L",
    [
        ("uniform S^2", _uniform(1, 400, 3), 8),
        ("uniform S^1", _uniform(2, 60, 2), 12),
        ("uniform S^3", _uniform(3, 300, 4), 4),
        ("vMF(3) S^2", _vmf_points(512), 5),
        ("warped circle", WarpedCircle(0.8).sample(jax.random.key(4), 80), 15),
        ("cap mixture", PolarCap([0.0, 0.0, 1.0], 0.5, 0.8).sample(jax.random.key(5), 400), 6),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_lsq_is_exact_to_its_degree(name, X, L):
    q = quadrature_weights(X, "lsq", degree=L)
    assert abs(q.weights.sum() - 1) < 1e-14
    assert _max_harmonic_error(X, q.weights, range(1, L + 1)) < 1e-10
    assert _max_harmonic_error(X, q.weights, [L + 1, L + 2]) > 1e-6  # exactness stops at L
    N = multiplicity(X.shape[1], np.arange(L + 1))
    floor = 1e-14 * N[1:] * np.abs(q.weights).sum() ** 2  # rounding of N Σ c_i c_j P_k
    assert (q.defect[1:] <= floor).all()
    assert q.rank == harmonic_dimension(X.shape[1], L)


def test_lsq_default_degree_and_clear_failures():
    X = _uniform(6, 200, 3)
    q = quadrature_weights(X, "lsq")
    assert q.degree == default_degree(200, 3) == 9
    assert _max_harmonic_error(X, q.weights, range(1, 10)) < 1e-10
    # too few points for the degree: M = 49 > 30; the message names the largest usable degree
    with pytest.raises(ValueError, match=r"degree <= 6.*M = 49.*degree <= 4 or more points"):
        quadrature_weights(X[:30], "lsq", degree=6)
    # enough points, but degenerate: all on the equator, where z² = 0 while ∫z² dσ = 1/3
    ring = _uniform(7, 100, 2)
    equator = np.concatenate([ring, np.zeros((100, 1))], axis=1)
    with pytest.raises(ValueError, match="No rule on these 100 points"):
        quadrature_weights(equator, "lsq", degree=2)
    # clustered: vMF(κ = 10) leaves the far hemisphere empty
    with pytest.raises(ValueError, match="No rule"):
        quadrature_weights(_vmf_points(512, kappa=10.0), "lsq", degree=6)


@pytest.mark.parametrize("X,L", [(_uniform(8, 400, 3), 6), (_vmf_points(512), 4)])
def test_lsq_nonnegative_is_exact_and_spread(X, L):
    q = quadrature_weights(X, "lsq", degree=L, nonnegative=True)
    assert q.min_weight >= 0 and abs(q.weights.sum() - 1) < 1e-14
    assert _max_harmonic_error(X, q.weights, range(1, L + 1)) < 1e-6
    assert q.ess > 0.8 * harmonic_dimension(3, L)  # the ridge spreads it beyond a sparse vertex


def test_lsq_with_a_base_rule():
    X = _vmf_points(512)
    vor = quadrature_weights(X, "voronoi", degree=4).weights
    q = quadrature_weights(X, "lsq", degree=4, base="voronoi")
    assert _max_harmonic_error(X, q.weights, range(1, 5)) < 1e-10
    free = quadrature_weights(X, "lsq", degree=4)
    # the exact rule nearest the Voronoi areas is nearer to them than the minimum-norm one
    assert np.linalg.norm(q.weights - vor) < np.linalg.norm(free.weights - vor)
    np.testing.assert_allclose(
        quadrature_weights(X, "lsq", degree=4, base=vor).weights, q.weights, atol=1e-15
    )
    qn = quadrature_weights(X, "lsq", degree=4, base="voronoi", nonnegative=True)
    assert qn.min_weight >= 0 and _max_harmonic_error(X, qn.weights, range(1, 5)) < 1e-6
    # a base that is already exact comes back unchanged (G c_0 = 1)
    g = gauss_grid(3, 7)
    same = quadrature_weights(g.points, "lsq", degree=7, base=g.weights)
    np.testing.assert_allclose(same.weights, g.weights, rtol=0, atol=1e-14)
    u = quadrature_weights(_uniform(3, 100, 3), "lsq", degree=3, base="uniform")
    assert _max_harmonic_error(_uniform(3, 100, 3), u.weights, range(1, 4)) < 1e-10
    with pytest.raises(ValueError, match="base weights of shape"):
        quadrature_weights(X, "lsq", degree=4, base=np.ones(3))
    with pytest.raises(ValueError, match="base to be one of"):
        quadrature_weights(X, "lsq", degree=4, base="kernel")
    with pytest.raises(ValueError, match="base= applies"):
        quadrature_weights(X, "voronoi", base="uniform")


def test_lsq_nonnegative_reports_the_defect_when_no_positive_rule_exists():
    X = _vmf_points(512)
    q = quadrature_weights(X, "lsq", degree=8, nonnegative=True)
    assert q.min_weight >= 0
    assert q.defect[1:].sum() > 1e-3  # not exact: the far side has too few points for L = 8
    free = quadrature_weights(X, "lsq", degree=8)
    assert free.min_weight < 0  # the exact rule needs negative weights there


# ----------------------------------------------------------------------------- other methods
def _smooth(X):
    """f(x) = exp(<x, v>), |v| = 1: ∫ f dσ = sinh 1 on S^2, I_0(1) on S^1."""
    v = np.ones(X.shape[1]) / np.sqrt(X.shape[1])
    return np.exp(X @ v)


def _rate(method, d, ns, keys=4, **kw):
    from scipy.special import iv

    exact = {3: np.sinh(1.0), 2: iv(0, 1.0)}[d]
    errs = []
    for n in ns:
        e2 = []
        for k in range(keys):
            X = _uniform(200 + k, n, d)
            c = quadrature_weights(X, method, degree=2, **kw).weights
            e2.append((c @ _smooth(X) - exact) ** 2)
        errs.append(np.sqrt(np.mean(e2)))
    return np.polyfit(np.log(ns), np.log(errs), 1)[0], errs


def test_voronoi_converges_like_one_over_n():
    # random points on S^2: O(n^-1) (docs/theory.md §6.4); Monte Carlo is O(n^-1/2).
    slope, errs = _rate("voronoi", 3, [250, 500, 1000, 2000])
    assert slope < -0.8, (slope, errs)
    assert errs[-1] < 0.1 * np.exp(1) / np.sqrt(2000)


def test_kernel_converges_faster_than_voronoi():
    # default kernel 2 − ‖x − y‖ (RKHS ≅ H^{3/2}(S^2)); f smooth: O(h^3) ≈ O(n^-3/2) up to logs.
    slope, errs = _rate("kernel", 3, [200, 400, 800, 1600])
    assert slope < -1.2, (slope, errs)  # measured -1.78 with these keys
    assert errs[-1] < 3e-5


def test_spacing_converges_like_n_squared():
    # nonuniform trapezoid rule on S^1: each gap contributes O(h³), so O(n^-2) in total.
    slope, errs = _rate("spacing", 2, [50, 100, 200, 400, 800])
    assert slope < -1.6, (slope, errs)


def test_kernel_accepts_an_ntk_and_a_callable():
    X = _uniform(9, 300, 3)
    q_ntk = quadrature_weights(X, "kernel", kernel=mlp_kernel(1), degree=4)
    q_fun = quadrature_weights(X, "kernel", kernel=lambda t: 2.0 - np.sqrt(2.0 - 2.0 * t), degree=4)
    q_def = quadrature_weights(X, "kernel", degree=4)
    # the callable sees t clipped to [-1, 1]; the default uses exact distances (cdist)
    tol = 1e-7 * q_def.weights.max()
    np.testing.assert_allclose(q_fun.weights, q_def.weights, rtol=0, atol=tol)
    # the depth-1 ReLU NTK has λ_3 = 0: it does not see degree 3, so only k = 1, 2, 4 shrink
    mc = exactness_defect(X, np.full(300, 1 / 300), 4)
    assert (q_ntk.defect[[1, 2, 4]] < 0.05 * mc[[1, 2, 4]]).all()
    with pytest.raises(ValueError, match="same shape"):
        quadrature_weights(X, "kernel", kernel=lambda t: t[0])
    with pytest.raises(ValueError, match="not positive definite"):
        quadrature_weights(X, "kernel", kernel=lambda t: -np.ones_like(t), nugget=0.0)
    with pytest.raises(TypeError, match="callable"):
        quadrature_weights(X, "kernel", kernel=3.0)


def test_voronoi_and_spacing_exact_cases_and_errors():
    octa = np.concatenate([np.eye(3), -np.eye(3)])
    np.testing.assert_allclose(quadrature_weights(octa, "voronoi").weights, 1 / 6, rtol=1e-12)
    theta = 2 * np.pi * np.array([0.0, 0.1, 0.35, 0.5, 0.9])
    C = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    gaps = np.diff(np.append(theta, 2 * np.pi))
    expected = (gaps + np.roll(gaps, 1)) / (4 * np.pi)
    np.testing.assert_allclose(quadrature_weights(C[::-1], "spacing").weights, expected[::-1],
                               rtol=1e-13)
    with pytest.raises(ValueError, match="d = 3"):
        quadrature_weights(C, "voronoi")
    with pytest.raises(ValueError, match="d = 2"):
        quadrature_weights(octa, "spacing")
    with pytest.raises(ValueError, match="duplicate or degenerate"):
        quadrature_weights(np.concatenate([octa, octa[:1]]), "voronoi")


def test_density_weights():
    p = VonMisesFisher([0.0, 0.0, 1.0], 2.0)
    X = p.sample(jax.random.key(3), 300)
    q = quadrature_weights(X, "density", distribution=p)
    ref = 1.0 / np.exp(2.0 * X[:, 2])  # ∝ 1/p; the normalizer cancels
    np.testing.assert_allclose(q.weights, ref / ref.sum(), rtol=1e-12)
    circle = distribution("equispaced").sample(jax.random.key(0), 32)
    qe = quadrature_weights(circle, "density", distribution=distribution("equispaced"))
    np.testing.assert_allclose(qe.weights, 1 / 32, rtol=1e-14)
    assert qe.defect[1:].max() < 1e-14 * 2  # equispaced: exact to degree 31 (rounding floor)
    with pytest.raises(ValueError, match="zero density"):
        quadrature_weights(X, "density", distribution=PolarCap([0.0, 0.0, 1.0], 0.0))
    with pytest.raises(ValueError, match="dim = 2"):
        quadrature_weights(X, "density", distribution=WarpedCircle(0.1))
    with pytest.raises(TypeError, match="Distribution"):
        quadrature_weights(X, "density")
    with pytest.raises(ValueError, match="positive density.*row 0"):
        # vMF(κ = 1000) underflows to 0 at the antipode of its mean
        antipode = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
        quadrature_weights(antipode, "density", distribution=VonMisesFisher([0.0, 0.0, 1.0], 1e3))


@pytest.mark.parametrize("method", ["lsq", "kernel", "voronoi", "density"])
def test_every_method_sums_to_one_and_reports(method):
    p = VonMisesFisher([0.6, 0.0, 0.8], 1.5)
    X = p.sample(jax.random.key(12), 256)
    kw = {"distribution": p} if method == "density" else {}
    q = quadrature_weights(X, method, degree=4, **kw)
    assert abs(q.weights.sum() - 1) < 1e-13 and q.weights.shape == (256,)
    assert q.defect.shape == (5,) and (q.defect >= 0).all()
    assert q.ess == pytest.approx(1 / np.sum(q.weights**2))
    assert q.min_weight == q.weights.min()
    d = q.to_dict()
    assert d["method"] == method and d["n"] == 256 and len(d["defect"]) == 5
    assert (q.rank is None) == (method != "lsq")
    # the defect is the addition-theorem energy of the constant 1 (sphere.degree_energy)
    if q.min_weight >= 0:
        E = degree_energy(X, np.ones(256), 4, weights=q.weights)
        np.testing.assert_allclose(q.defect[1:], E[1:], rtol=1e-8, atol=1e-18)


def test_argument_errors():
    X = _uniform(1, 50, 3)
    with pytest.raises(ValueError, match="one of"):
        quadrature_weights(X, "trapezoid")
    with pytest.raises(ValueError, match="kernel= applies to method='kernel'"):
        quadrature_weights(X, "lsq", kernel=mlp_kernel(1))
    with pytest.raises(ValueError, match="nonnegative= applies"):
        quadrature_weights(X, "voronoi", nonnegative=True)
    with pytest.raises(ValueError, match="distribution= applies"):
        quadrature_weights(X, "lsq", distribution=distribution("uniform", dim=3))
    with pytest.raises(TypeError, match="bool"):
        quadrature_weights(X, "lsq", nonnegative=1)
    with pytest.raises(ValueError, match="unit norm"):
        quadrature_weights(2 * X, "lsq")
    with pytest.raises(ValueError, match="degree >= 0"):
        quadrature_weights(X, "lsq", degree=-1)
    with pytest.raises(ValueError, match="shape"):
        exactness_defect(X, np.ones(3), 2)


def test_exactness_defect_matches_an_explicit_basis_on_the_circle():
    # on S^1 the degree-k harmonics are √2 cos kθ, √2 sin kθ: D_k = 2|Σ c_i e^{ikθ_i}|²
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 2 * np.pi, 40)
    X = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    c = rng.normal(size=40) / 40  # any sign
    D = exactness_defect(X, c, 9)
    ref = 2 * np.abs(np.exp(1j * np.outer(np.arange(10), theta)) @ c) ** 2
    ref[0] = (c.sum() - 1) ** 2
    np.testing.assert_allclose(D, ref, rtol=1e-10, atol=1e-16)
