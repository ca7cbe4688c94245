"""Sampling distributions on S^{d-1}: densities, samplers, file points, the factory.

References are independent of the module: mpmath Bessel functions, closed-form moments of the
von Mises–Fisher law, scipy.integrate.quad of zonal densities, Kolmogorov–Smirnov tests against
closed-form CDFs, and the importance-sampling identity E_p[g/p] = ∫ g dσ.
"""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.optimize import brentq
from scipy.special import gammaln, ive

from ntkspec.distributions import (
    Equispaced,
    Mixture,
    PolarCap,
    Uniform,
    VonMisesFisher,
    WarpedCircle,
    distribution,
    load_points,
    log_vmf_normalizer,
)
from ntkspec.quadrature import gauss_grid
from ntkspec.sphere import equispaced_circle, sample_sphere

KEY = jax.random.key(7)


def _c(d):
    """Funk–Hecke constant c_d (the density of t = <x, μ> under σ is c_d (1-t²)^((d-3)/2))."""
    return float(np.exp(gammaln(d / 2) - 0.5 * np.log(np.pi) - gammaln((d - 1) / 2)))


def _zonal_points(t, d):
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    X = np.zeros((t.size, d))
    X[:, 0] = np.sqrt((1 - t) * (1 + t))
    X[:, -1] = t
    return X


def _zonal_integral(dist, d, breaks=()):
    """∫ p dσ for a density depending on <x, e_d> only, by adaptive 1-D quadrature."""

    def f(t):
        return float(dist.density(_zonal_points(t, d))[0]) * _c(d) * (1 - t * t) ** ((d - 3) / 2)

    val, err = integrate.quad(f, -1, 1, points=list(breaks) or None, limit=200, epsabs=1e-13)
    return val


def _pole(d):
    return [0.0] * (d - 1) + [1.0]


# ----------------------------------------------------------------------------- normalizer
@pytest.mark.parametrize(
    "kappa,d",
    [(1e-8, 3), (0.3, 2), (3.0, 3), (50.0, 5), (700.0, 3), (1e5, 10), (1.0, 1000),
     (7000.0, 10002), (30.0, 400), (2.0, 3072)],
)
def test_log_vmf_normalizer_matches_mpmath(kappa, d):
    with mpmath.workdps(40):
        nu = mpmath.mpf(d) / 2 - 1
        k = mpmath.mpf(kappa)
        ref = mpmath.log(mpmath.gamma(mpmath.mpf(d) / 2) * (2 / k) ** nu * mpmath.besseli(nu, k))
    got = log_vmf_normalizer(kappa, d)
    assert abs(got - float(ref)) <= 1e-12 * max(1.0, abs(float(ref)))


def test_log_vmf_normalizer_closed_form_s2_and_zero():
    for kappa in (0.01, 1.0, 10.0, 300.0):
        # d = 3: ∫ e^{κt} dt / 2 = sinh κ / κ; log form avoids overflow.
        ref = kappa + np.log1p(-np.exp(-2 * kappa)) - np.log(2 * kappa)
        assert log_vmf_normalizer(kappa, 3) == pytest.approx(ref, rel=1e-13, abs=1e-15)
    assert log_vmf_normalizer(0.0, 7) == 0.0


# ----------------------------------------------------------------------------- ∫ p dσ = 1
@pytest.mark.parametrize("d", [2, 3, 10, 100])
@pytest.mark.parametrize("kappa", [0.5, 3.0, 40.0])
def test_vmf_density_integrates_to_one(d, kappa):
    p = VonMisesFisher(_pole(d), kappa)
    assert _zonal_integral(p, d) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("d,h,mass", [(2, 0.2, 0.6), (3, 0.3, 0.7), (3, -0.5, 1.0), (10, 0.1, 0.9)])
def test_cap_density_integrates_to_one_and_area(d, h, mass):
    p = PolarCap(_pole(d), h, mass)
    area_ref, _ = integrate.quad(lambda t: _c(d) * (1 - t * t) ** ((d - 3) / 2), h, 1)
    assert p.area == pytest.approx(area_ref, rel=1e-9)
    assert _zonal_integral(p, d, breaks=(h,)) == pytest.approx(1.0, abs=1e-8)
    assert p.full_support == (mass < 1)


def test_mixture_density_integrates_to_one_on_s2_grid():
    mix = distribution(
        "mixture",
        components=[
            {"name": "vmf", "kappa": 4.0, "mean": [1.0, 0.0, 0.0]},
            {"name": "vmf", "kappa": 10.0, "mean": [0.0, 0.6, 0.8]},
            {"name": "uniform", "dim": 3},
        ],
        weights=[2.0, 1.0, 1.0],
    )
    g = gauss_grid(3, 90)  # the densities are entire; degree 90 resolves e^{10 t} to 1e-13
    assert float(g.weights @ mix.density(g.points)) == pytest.approx(1.0, abs=1e-11)
    assert mix.weights == (0.5, 0.25, 0.25)


def test_warped_circle_density_integrates_to_one_and_formula():
    p = WarpedCircle(0.7)
    X = equispaced_circle(4096, dtype=jnp.float64)  # trapezoid: spectral for smooth periodic p
    assert float(np.mean(p.density(X))) == pytest.approx(1.0, abs=1e-12)
    # independent inversion of θ = u + a sin u by brentq
    for theta in (0.1, 1.0, 2.5, np.pi, 4.0, 6.2):
        u = brentq(lambda u, th=theta: u + 0.7 * np.sin(u) - th, 0.0, 2 * np.pi, xtol=1e-15)
        dens = p.density(np.array([[np.cos(theta), np.sin(theta)]]))[0]
        assert dens == pytest.approx(1 / (1 + 0.7 * np.cos(u)), rel=1e-12)


def test_densities_in_high_dimension_by_monte_carlo():
    # E_σ[p] = 1; uniform points, 20000 draws, 5 standard errors.
    d = 50
    U = np.asarray(sample_sphere(jax.random.key(3), 20000, d, dtype=jnp.float64))
    for p in (VonMisesFisher(_pole(d), 5.0), PolarCap(_pole(d), 0.05, 0.5)):
        vals = p.density(U)
        se = vals.std() / np.sqrt(vals.size)
        assert abs(vals.mean() - 1.0) < 5 * se + 1e-12


# ----------------------------------------------------------------------------- samplers
@pytest.mark.parametrize("d,kappa", [(2, 1.0), (3, 3.0), (5, 20.0), (50, 5.0), (3, 1e4)])
def test_vmf_sampler_moments(d, kappa):
    # E<x,μ> = A_d(κ) = I_{d/2}(κ)/I_{d/2-1}(κ), E<x,μ>² = 1 - (d-1) A_d/κ (Mardia & Jupp 9.3).
    mu = np.zeros(d)
    mu[0], mu[1] = 0.6, 0.8
    X = VonMisesFisher(mu, kappa).sample(KEY, 20000)
    assert np.abs(np.linalg.norm(X, axis=1) - 1).max() < 1e-14
    t = X @ mu
    A = ive(d / 2, kappa) / ive(d / 2 - 1, kappa)
    m2 = 1 - (d - 1) * A / kappa
    assert abs(t.mean() - A) < 5 * t.std() / np.sqrt(t.size)
    assert abs(np.mean(t * t) - m2) < 5 * np.std(t * t) / np.sqrt(t.size)
    # the tangential part is isotropic: its mean vanishes
    tang = X - t[:, None] * mu
    assert np.abs(tang.mean(axis=0)).max() < 5 * np.sqrt((1 - m2) / (d - 1) / t.size) + 1e-12


def test_vmf_sampler_ks_on_s2():
    kappa = 2.5
    t = VonMisesFisher([0.0, 0.0, 1.0], kappa).sample(KEY, 5000)[:, 2]

    def cdf(s):
        return (np.exp(kappa * (s - 1)) - np.exp(-2 * kappa)) / (1 - np.exp(-2 * kappa))

    assert stats.kstest(t, cdf).pvalue > 1e-3


def test_cap_sampler_ks_and_mass():
    d, h, mass = 4, 0.4, 0.7
    p = PolarCap(_pole(d), h, mass)
    t = p.sample(KEY, 6000)[:, -1]
    inside = t >= h
    assert abs(inside.mean() - mass) < 5 * np.sqrt(mass * (1 - mass) / t.size)
    area = p.area

    # σ(<x, μ> <= s) by quad on a fine grid (with h on it), interpolated linearly
    grid = np.union1d(np.linspace(-1, 1, 801), [h])
    pieces = [integrate.quad(lambda u: _c(d) * (1 - u * u) ** ((d - 3) / 2), lo, hi)[0]
              for lo, hi in zip(grid[:-1], grid[1:], strict=True)]
    table = np.concatenate([[0.0], np.cumsum(pieces)])

    def cdf(s):
        s = np.atleast_1d(s)
        base = np.interp(s, grid, table)
        out = np.where(s < h, (1 - mass) / (1 - area) * base,
                       (1 - mass) + mass / area * (base - (1 - area)))
        return out

    assert stats.kstest(t, cdf).pvalue > 1e-3
    assert PolarCap(_pole(3), 0.9).sample(KEY, 500)[:, 2].min() >= 0.9 - 1e-12


def test_warped_circle_sampler_ks():
    a = -0.6
    X = WarpedCircle(a).sample(KEY, 5000)
    theta = np.mod(np.arctan2(X[:, 1], X[:, 0]), 2 * np.pi)

    def cdf(th):  # P(Θ <= θ) = u(θ)/2π
        return np.array([brentq(lambda u, v=v: u + a * np.sin(u) - v, 0, 2 * np.pi) for v in
                         np.atleast_1d(th)]) / (2 * np.pi)

    assert stats.kstest(theta, cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    "dist",
    [
        Uniform(4),
        VonMisesFisher([0.0, 0.0, 1.0], 3.0),
        PolarCap([0.0, 0.0, 1.0], 0.2, 0.8),
        WarpedCircle(0.8),
        Mixture((VonMisesFisher([1.0, 0.0, 0.0], 5.0), Uniform(3)), (0.7, 0.3)),
    ],
    ids=lambda p: p.name,
)
def test_importance_identity(dist):
    # E_p[g/p] = ∫ g dσ for g = x_1² (∫ = 1/d) and g = 1: sampler and density agree.
    d = dist.dim
    X = dist.sample(jax.random.key(11), 20000)
    w = 1.0 / dist.density(X)
    for g, ref in ((X[:, 0] ** 2, 1.0 / d), (np.ones(len(X)), 1.0)):
        vals = g * w
        assert abs(vals.mean() - ref) < 5 * vals.std() / np.sqrt(len(X)) + 1e-12


def test_mixture_component_fractions():
    mix = Mixture((VonMisesFisher([1.0, 0.0, 0.0], 200.0), VonMisesFisher([-1.0, 0.0, 0.0], 200.0)),
                  (0.25, 0.75))
    X = mix.sample(KEY, 8000)
    frac = np.mean(X[:, 0] > 0)
    assert abs(frac - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 8000)


def test_same_key_same_points_and_uniform_is_sample_sphere():
    p = VonMisesFisher([0.0, 1.0, 0.0], 3.0)
    np.testing.assert_array_equal(p.sample(KEY, 50), p.sample(KEY, 50))
    assert not np.array_equal(p.sample(KEY, 50), p.sample(jax.random.key(8), 50))
    U = Uniform(5).sample(KEY, 30)
    assert U.dtype == np.float64
    np.testing.assert_array_equal(U, np.asarray(sample_sphere(KEY, 30, 5, dtype=jnp.float64)))
    E = Equispaced(0.3).sample(KEY, 16)
    np.testing.assert_allclose(E, np.asarray(equispaced_circle(16, offset=0.3, dtype=jnp.float64)),
                               atol=1e-15)
    np.testing.assert_array_equal(Equispaced().density(E), np.ones(16))


# ----------------------------------------------------------------------------- file points
def test_load_points_npy_and_csv(tmp_path):
    X = VonMisesFisher([0.0, 0.0, 1.0], 2.0).sample(KEY, 20)
    np.save(tmp_path / "p.npy", X)
    np.savetxt(tmp_path / "p.csv", X, delimiter=",", fmt="%.17g", header="x,y,z")
    np.testing.assert_allclose(load_points(tmp_path / "p.npy"), X, rtol=0, atol=1e-15)
    np.testing.assert_allclose(load_points(tmp_path / "p.csv"), X, rtol=0, atol=1e-15)
    fp = distribution("file", path=str(tmp_path / "p.npy"))
    X = load_points(tmp_path / "p.npy")
    np.testing.assert_array_equal(fp.sample(KEY, 20), X)
    sub = fp.sample(KEY, 5)
    assert all(any(np.array_equal(r, x) for x in X) for r in sub)
    assert len({tuple(r) for r in sub}) == 5
    with pytest.raises(ValueError, match="n <= 20"):
        fp.sample(KEY, 21)
    with pytest.raises(ValueError, match="no known density"):
        fp.density(X)
    assert fp.to_dict() == {"name": "file", "path": str(tmp_path / "p.npy")}


def test_load_points_errors_name_path_and_row(tmp_path):
    X = np.asarray(sample_sphere(KEY, 6, 3, dtype=jnp.float64))
    bad = X.copy()
    bad[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match=r"nan\.npy.*row 2"):
        load_points(tmp_path / "nan.npy")
    bad = X.copy()
    bad[4] *= 1.01
    np.savetxt(tmp_path / "norm.csv", bad, delimiter=",")
    with pytest.raises(ValueError, match=r"norm\.csv.*row 4"):
        load_points(tmp_path / "norm.csv")
    np.save(tmp_path / "flat.npy", X[:, 0])
    with pytest.raises(ValueError, match=r"flat\.npy.*shape"):
        load_points(tmp_path / "flat.npy")
    (tmp_path / "text.csv").write_text("1,0\nfoo,bar\n")
    with pytest.raises(ValueError, match=r"text\.csv"):
        load_points(tmp_path / "text.csv")
    with pytest.raises(ValueError, match=r"\.npy or \.csv"):
        load_points(tmp_path / "p.txt")
    with pytest.raises(ValueError, match="does not exist"):
        load_points(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="d = 4"):
        np.save(tmp_path / "ok.npy", X)
        load_points(tmp_path / "ok.npy", dim=4)


# ----------------------------------------------------------------------------- factory
@pytest.mark.parametrize(
    "dist",
    [
        Uniform(3),
        Equispaced(0.5),
        VonMisesFisher([0.0, 0.0, 1.0], 3.0),
        PolarCap([0.6, 0.8], 0.1, 0.5),
        WarpedCircle(0.3),
        Mixture((VonMisesFisher([1.0, 0.0], 2.0), WarpedCircle(0.5)), (1.0, 3.0)),
    ],
    ids=lambda p: p.name,
)
def test_to_dict_round_trip(dist):
    desc = dist.to_dict()
    again = distribution(**desc)
    assert again == dist
    np.testing.assert_array_equal(again.sample(KEY, 10), dist.sample(KEY, 10))


def test_factory_defaults_and_errors():
    assert distribution("vmf", kappa=1.0, dim=4).mean == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="one of"):
        distribution("gaussian")
    with pytest.raises(ValueError, match="Unexpected parameters"):
        distribution("vmf", kappa=1.0, dim=3, sigma=2)
    with pytest.raises(ValueError, match="'kappa'"):
        distribution("vmf", dim=3)
    with pytest.raises(ValueError, match="kappa"):
        distribution("vmf", kappa=-1.0, dim=3)
    with pytest.raises(ValueError, match="unit norm"):
        distribution("vmf", kappa=1.0, mean=[1.0, 1.0])
    with pytest.raises(ValueError, match="length dim"):
        distribution("vmf", kappa=1.0, mean=[1.0, 0.0], dim=3)
    with pytest.raises(ValueError, match=r"\|a\| < 1"):
        distribution("warped_circle", a=1.0)
    with pytest.raises(ValueError, match="height"):
        distribution("cap", height=1.0, dim=3)
    with pytest.raises(ValueError, match="mass"):
        distribution("cap", height=0.0, mass=0.0, dim=3)
    with pytest.raises(ValueError, match="one dimension"):
        Mixture((Uniform(2), Uniform(3)), (1.0, 1.0))
    with pytest.raises(ValueError, match="mixture weights"):
        Mixture((Uniform(2), Uniform(2)), (1.0, -1.0))
    with pytest.raises(TypeError, match="PRNG key"):
        Uniform(3).sample(0, 5)
    with pytest.raises(ValueError, match="n >= 1"):
        Uniform(3).sample(KEY, 0)
    with pytest.raises(ValueError, match="d = 3"):
        VonMisesFisher([0.0, 0.0, 1.0], 1.0).density(np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="does not exist"):
        distribution("file", path="no/such/points.npy")
