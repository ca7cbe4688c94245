"""Property-based tests (hypothesis) of the numerical core.

Every property is checked against a computation that shares no code with ntkspec: scipy's
Gauss–Jacobi rules and Gegenbauer polynomials, mpmath's Γ, exact integer multiplicities,
NumPy closed forms of the ReLU/erf/linear kernels, explicit Fourier sums and exact product
quadrature rules on S^1, S^2 and S^3. The conftest profile is derandomized (40 examples);
the expensive properties ask for fewer.

Tolerances are tied to stated error sources: the spectrum's own error estimate, the float64
floor of a cancelling quadrature (~ε·max|λ|, amplified by N(d, k) in sums over degrees), the
dtype of JAX arrays (float32 when x64 is off: these tests also run in the x64-off pass of
``tests/test_precision.py``), and for Gauss–Hermite activations the accuracy of the kernel
itself (see ``_gh_error``).
"""

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import eval_chebyt, eval_gegenbauer, roots_jacobi

from ntkspec import _compat, mlp_kernel
from ntkspec.spectrum import funk_hecke_constant, gram_spectrum, spectrum
from ntkspec.sphere import degree_energy, gegenbauer, random_harmonic

pytestmark = pytest.mark.precision

EPS = np.finfo(np.float64).eps
CLOSED = ("relu", "erf", "identity")
QUADRATURE = ("tanh", "gelu", "softplus", "sin")
# Gauss–Hermite activations are evaluated at quad_order=_GH_ORDER (cheap). The kernel is then
# a discretization: accurate to 1e-16..1e-3 relative depending on activation and variance (tanh
# converges slowest: sech² has poles at ±iπ/2) and not exactly positive definite. Its
# Gegenbauer coefficients differ from the exact kernel's by at most sup|κ_64 - κ|, so they
# may be negative by that much (tanh NTK, one hidden layer, σ_w² = 0.5, d = 2: λ_25 ≈ -9e-11 at
# order 64, -3e-15 at 128). `_gh_error` bounds sup|κ_GH - κ| by the kernel's own
# `quadrature_error` (mlp_kernel starts at _GH_ORDER and raises the order until it is <= 1e-6).
_GH_ORDER = 64


# ----------------------------------------------------------------------------- references
def _n_harmonics(d, k):
    """N(d, k) = dim of homogeneous polynomials of degree k minus degree k - 2 (exact int)."""

    def homog(m):
        return 0 if m < 0 else math.comb(m + d - 1, d - 1)

    return homog(k) - homog(k - 2)


def _c_d(d):
    mpmath.mp.dps = 30
    return float(
        mpmath.gamma(mpmath.mpf(d) / 2)
        / (mpmath.sqrt(mpmath.pi) * mpmath.gamma(mpmath.mpf(d - 1) / 2))
    )


def _legendre_d(k, d, t):
    """P_k^{(d)}(t) with P_k(1) = 1 from scipy (Chebyshev T_k for d = 2)."""
    t = np.asarray(t, dtype=np.float64)
    if d == 2:
        return eval_chebyt(k, t)
    a = (d - 2) / 2
    return eval_gegenbauer(k, a, t) / eval_gegenbauer(k, a, 1.0)


def _reference_kernel(act, depth, sw, sb, sw0, t):
    """(NNGP, NTK) of the closed-form activations in NumPy (docs/theory.md §2), float64."""
    t = np.asarray(t, dtype=np.float64)
    q = sw0 + sb
    s = sw0 * t + sb
    th = s
    for _ in range(depth):
        if act == "relu":
            rho = np.clip(s / q, -1.0, 1.0)
            ac = np.arccos(rho)
            k0 = 1.0 - ac / np.pi
            k1 = (np.sqrt(1.0 - rho * rho) + rho * (np.pi - ac)) / np.pi
            s, sdot, q = sw * q / 2 * k1 + sb, sw / 2 * k0, sw * q / 2 + sb
        elif act == "erf":
            a = 1.0 + 2.0 * q
            s, sdot, q = (
                sw * 2 / np.pi * np.arcsin(2 * s / a) + sb,
                sw * 4 / np.pi / np.sqrt(a * a - 4 * s * s),
                sw * 2 / np.pi * np.arcsin(2 * q / a) + sb,
            )
        else:  # identity
            s, sdot, q = sw * s + sb, sw, sw * q + sb
        th = th * sdot + s
    return s, th


def _kernel64(kernel, t, which):
    """The library's kernel evaluated in float64 whatever the global x64 flag is."""
    with _compat.enable_x64():
        return np.asarray(kernel(jnp.asarray(np.asarray(t, dtype=np.float64)), which))


def _gh_error(kernel, c):
    """Bound on sup_t |κ_GH(t) - κ(t)| (0 for closed forms): the kernel's own estimate
    ``quadrature_error·κ(1)`` (mlp_kernel raises the order from _GH_ORDER until it is below
    quad_tol), so these tests also check that estimate."""
    if kernel.phi is None:
        return 0.0
    return kernel.quadrature_error * abs(kernel.kappa_one(c["which"]))


def _haar(d, seed):
    """A Haar-random orthogonal d×d matrix (QR of a Gaussian, signs fixed), det ±1."""
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def _random_points(n, d, seed, duplicates=0):
    X = np.random.default_rng(seed).standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    for i in range(min(duplicates, n // 2)):  # exact duplicates and antipodes: singular Grams
        X[n - 1 - i] = X[i] if i % 2 == 0 else -X[i]
    return X


def _sphere_rule(d, m, offset=0.0):
    """Product rule on S^{d-1} (d = 2, 3, 4), exact for polynomials of degree <= 2m - 1.

    S^1: 2m equispaced points. S^{d-1}: x = (√(1-t²) y, t) with y from the S^{d-2} rule and
    t a Gauss–Jacobi node for the weight (1-t²)^{(d-3)/2}. Weights sum to 1 (normalized σ).
    """
    if d == 2:
        th = offset + np.pi * np.arange(2 * m) / m
        return np.stack([np.cos(th), np.sin(th)], 1), np.full(2 * m, 1 / (2 * m))
    Y, wy = _sphere_rule(d - 1, m, offset)
    t, wt = roots_jacobi(m, (d - 3) / 2, (d - 3) / 2)
    wt = wt / wt.sum()
    r = np.sqrt(1 - t * t)
    X = np.concatenate([np.hstack([r[i] * Y, np.full((len(Y), 1), t[i])]) for i in range(m)])
    return X, np.concatenate([wt[i] * wy for i in range(m)])


def _kmax_for(d, cap, nmax=1e7):
    """Largest K <= cap with N(d, K) <= nmax: beyond it the float64 floor ε·max|λ| times
    N(d, k) swamps sums over degrees (sum rule, Mercer) in high dimension."""
    K = 0
    while K < cap and _n_harmonics(d, K + 1) <= nmax:
        K += 1
    return K


def _degree_sum_allowance(s):
    """Σ_k N(d,k) (|error_k| + 4ε max|λ|): what rounding and quadrature may add to Σ N λ."""
    floor = 4 * EPS * np.abs(s.eigenvalues).max()
    return float(np.sum(s.multiplicities * (np.abs(s.error) + floor)))


# ----------------------------------------------------------------------------- strategies
@st.composite
def kernels(draw, activations=CLOSED, max_depth=4):
    act = draw(st.sampled_from(activations))
    cfg = dict(
        act=act,
        depth=draw(st.integers(1, max_depth)),
        sw=draw(st.floats(0.5, 3.0)),
        sb=draw(st.one_of(st.just(0.0), st.floats(0.01, 1.0))),
        sw0=draw(st.floats(0.5, 2.0)),
        which=draw(st.sampled_from(["ntk", "nngp"])),
    )
    kw = dict(quad_order=_GH_ORDER) if act in QUADRATURE else {}
    kernel = mlp_kernel(
        cfg["depth"],
        act,
        weight_var=cfg["sw"],
        bias_var=cfg["sb"],
        first_layer_var=cfg["sw0"],
        **kw,
    )
    return kernel, cfg


# Inner products: anywhere in [-1, 1], next to ±1 (where the kernels are singular), and the
# points -1, 0, 1. A fixed length: eager JAX compiles every primitive once per shape.
def _t_array(inside, gaps):
    near = [sign * (1.0 - g) for sign, g in zip([1, -1] * 3, gaps, strict=True)]
    return np.array(inside + near + [-1.0, 0.0, 1.0])


t_values = st.builds(
    _t_array,
    st.lists(st.floats(-1.0, 1.0), min_size=7, max_size=7),
    st.lists(st.floats(-7.0, -1.0).map(lambda e: 10.0**e), min_size=6, max_size=6),
)


# ----------------------------------------------------------------------------- sphere
@given(d=st.integers(2, 80), j=st.integers(0, 40), k=st.integers(0, 40), t=t_values)
def test_gegenbauer_orthogonality_and_bounds(d, j, k, t):
    # Gauss–Jacobi with m nodes is exact for degree 2m - 1 >= 2 max(j, k).
    a = (d - 3) / 2
    x, w = roots_jacobi(max(j, k) + 1, a, a)
    c = _c_d(d)
    assert funk_hecke_constant(d) == pytest.approx(c, rel=1e-14)
    assert c * w.sum() == pytest.approx(1.0, rel=1e-12)  # c_d normalizes the measure
    P = gegenbauer(max(j, k), d, x)
    G = lambda p, q: c * np.sum(w * P[p] * P[q])  # noqa: E731
    assert G(k, k) * _n_harmonics(d, k) == pytest.approx(1.0, rel=1e-10)
    if j != k:  # cosine of the angle between P_j and P_k in L²: 0 up to rounding
        assert abs(G(j, k)) <= 1e-10 * math.sqrt(G(j, j) * G(k, k))
    # Values against scipy; P_k(1) = 1, P_k(-1) = (-1)^k, |P_k| <= 1 on [-1, 1].
    Pt = gegenbauer(k, d, t)[k]
    np.testing.assert_allclose(Pt, _legendre_d(k, d, t), rtol=1e-10, atol=1e-12)
    assert Pt[-1] == 1.0 and Pt[-3] == pytest.approx((-1.0) ** k, abs=1e-13)
    assert np.all(np.abs(Pt) <= 1 + 1e-13)


@given(n=st.integers(3, 160), offset=st.floats(-4.0, 4.0), seed=st.integers(0, 2**32 - 1))
def test_degree_energy_circle_parseval_dft_and_rotation(n, offset, seed):
    th = offset + 2 * np.pi * np.arange(n) / n
    X = np.stack([np.cos(th), np.sin(th)], 1)
    f = np.random.default_rng(seed).standard_normal(n) * np.exp(-0.05 * np.arange(n))
    E = degree_energy(X, f, n)
    # Parseval: the degrees up to Nyquist hold all of mean(f²); nothing above.
    assert E.sum() == pytest.approx(np.mean(f * f), rel=1e-12)
    assert np.all(E[n // 2 + 1 :] == 0)
    # Explicit Fourier sums (no FFT): E_0 = mean(f)², E_k = 2(a_k² + b_k²); at Nyquist (even n)
    # cos and sin of degree n/2 are both ∝ (-1)^i on the nodes: E_{n/2} = a² + b².
    k = np.arange(n // 2 + 1)
    a = np.cos(np.outer(k, th)) @ f / n
    b = np.sin(np.outer(k, th)) @ f / n
    ref = 2 * (a * a + b * b)
    ref[0] = a[0] ** 2
    if n % 2 == 0:
        ref[-1] = a[-1] ** 2 + b[-1] ** 2
    scale = np.mean(f * f)
    np.testing.assert_allclose(E[: n // 2 + 1], ref, rtol=0, atol=1e-12 * scale)
    # The zonal path (explicit uniform weights) agrees strictly below Nyquist.
    Ez = degree_energy(X, f, (n - 1) // 2, weights=np.full(n, 1 / n))
    np.testing.assert_allclose(Ez, E[: (n - 1) // 2 + 1], rtol=0, atol=1e-11 * scale)
    # A rotation or reflection of the points (values attached) changes nothing.
    Q = _haar(2, seed)
    np.testing.assert_allclose(degree_energy(X @ Q, f, n), E, rtol=0, atol=1e-13 * scale)


@settings(max_examples=25)
@given(
    d=st.integers(2, 4),
    degrees=st.lists(st.integers(0, 4), min_size=1, max_size=5),
    seed=st.integers(0, 2**32 - 1),
)
def test_degree_energy_exact_on_rotated_quadrature(d, degrees, seed):
    """Band-limited f = Σ_j a_j P_{k_j}(<x, z_j>): exact per-degree energies by the addition
    theorem, ‖Π_k f‖² = Σ_{k_i = k_j = k} a_i a_j P_k(<z_i, z_j>) / N(d, k), reproduced on a
    randomly rotated exact product rule (a rotated exact rule is exact). Parseval with weights.
    """
    M = max(degrees)
    K = M + 2
    X, c = _sphere_rule(d, M + 2)  # exact to degree 2M + 3 >= M + K
    X = X @ _haar(d, seed)
    rng = np.random.default_rng(seed)
    Z = _random_points(len(degrees), d, seed + 1)
    a = rng.standard_normal(len(degrees))
    f = sum(a[i] * _legendre_d(k, d, np.clip(X @ Z[i], -1, 1)) for i, k in enumerate(degrees))
    ref = np.zeros(K + 1)
    for i, ki in enumerate(degrees):
        for j, kj in enumerate(degrees):
            if ki == kj:
                ref[ki] += a[i] * a[j] * _legendre_d(ki, d, np.clip(Z[i] @ Z[j], -1, 1))
    ref /= [_n_harmonics(d, k) for k in range(K + 1)]
    E = degree_energy(X, f, K, weights=c)
    total = np.sum(c * f * f)
    np.testing.assert_allclose(E, ref, rtol=0, atol=1e-12 * max(total, 1e-300))
    assert E.sum() == pytest.approx(total, rel=1e-11)  # Parseval under the weights


@settings(max_examples=10)
@given(d=st.integers(2, 4), k=st.integers(0, 4), seed=st.integers(0, 2**31 - 1))
def test_random_harmonic_is_unit_and_pure_on_rotated_quadrature(d, k, seed):
    X, c = _sphere_rule(d, k + 2)
    X = X @ _haar(d, seed)
    h = random_harmonic(jax.random.key(seed), X, k)
    E = degree_energy(X, h, k + 1, weights=c)
    np.testing.assert_allclose(E, np.eye(k + 2)[k], rtol=0, atol=1e-11)


# ----------------------------------------------------------------------------- spectra
@settings(max_examples=20)
@given(
    d=st.integers(2, 40),
    coef=st.lists(st.one_of(st.just(0.0), st.floats(0.0, 2.0)), min_size=1, max_size=12),
)
def test_spectrum_of_gegenbauer_series_is_exact(d, coef):
    """κ = Σ_j a_j P_j with a_j >= 0 (positive definite by Schoenberg): λ_k = a_k / N(d, k)."""
    a = np.array(coef)
    J = len(a) - 1
    kappa = lambda t: sum(a[j] * _legendre_d(j, d, t) for j in range(J + 1))  # noqa: E731
    s = spectrum(kappa, d, J + 3)
    ref = np.zeros(J + 4)
    ref[: J + 1] = a / [_n_harmonics(d, j) for j in range(J + 1)]
    scale = max(ref.max(), 1e-300)
    np.testing.assert_allclose(s.eigenvalues, ref, rtol=1e-11, atol=4e-15 * max(a.sum(), scale))
    assert np.all(s.eigenvalues >= -(10 * s.error + 16 * EPS * np.abs(s.eigenvalues).max()))
    assert s.trace == pytest.approx(a.sum(), rel=1e-13, abs=1e-300)
    assert abs(s.sum_rule_residual()) <= _degree_sum_allowance(s) + 1e-13 * a.sum()


@settings(max_examples=20)
@given(cfg=kernels(CLOSED), d=st.integers(2, 6))
def test_sum_rule_and_positivity_closed_form_kernels(cfg, d):
    """Σ_{k<=K} N(d,k) λ_k increases to κ(1): positive terms, so the residual is >= 0 (up to the
    error estimate), and it is at most the extrapolated tail: ReLU terms decay like k^{-2}
    (NTK) or k^{-4} (NNGP), so the tail is <= ~K·N_K λ_K; the analytic kernels leave none."""
    kernel, c = cfg
    which = c["which"]
    K = 150 if c["act"] == "relu" else 48
    s = spectrum(kernel, d, K, which)
    nngp1, ntk1 = _reference_kernel(c["act"], c["depth"], c["sw"], c["sb"], c["sw0"], 1.0)
    assert s.trace == pytest.approx(ntk1 if which == "ntk" else nngp1, rel=1e-13)
    assert np.all(s.eigenvalues >= -(10 * s.error + 16 * EPS * np.abs(s.eigenvalues).max()))
    terms = s.multiplicities * s.eigenvalues
    residual = s.sum_rule_residual()
    allow = _degree_sum_allowance(s) + 1e-14 * s.trace
    assert residual >= -allow
    if c["act"] == "relu":
        assert residual <= 8 * K * (terms[-1] + terms[-2]) + allow
    else:
        assert residual <= allow + 1e-12 * s.trace


@settings(max_examples=15)
@given(
    cfg=st.one_of(kernels(CLOSED), kernels(QUADRATURE, max_depth=2)),
    d=st.sampled_from([2, 3, 4, 5, 8, 16, 40]),
    t=t_values,
)
def test_positivity_and_mercer_reconstruction(cfg, d, t):
    """|κ(t) - Σ_{k<=K} N λ_k P_k(t)| <= Σ_{k>K} N λ_k = κ(1) - Σ_{k<=K} N λ_k (|P_k| <= 1,
    λ_k >= 0): the reconstruction error is bounded by the sum-rule residual, plus what the error
    estimate and the float64 floor allow on the computed λ_k, plus (Gauss–Hermite activations)
    the kernel's own discretization error, by which its λ_k may also dip below 0."""
    kernel, c = cfg
    which = c["which"]
    gh = _gh_error(kernel, c)
    K = _kmax_for(d, 48)
    s = spectrum(kernel, d, K, which)
    lam_max = np.abs(s.eigenvalues).max()
    assert np.all(s.eigenvalues >= -(10 * s.error + 16 * EPS * lam_max + gh))
    bound = abs(s.sum_rule_residual()) + 2 * _degree_sum_allowance(s) + 1e-12 * s.trace + gh
    kappa = _kernel64(kernel, t, which)
    assert np.all(np.abs(s.reconstruct(t) - kappa) <= bound)
    assert kappa[-1] == pytest.approx(s.trace, rel=1e-14)


# ----------------------------------------------------------------------------- kernels
def _entry_tol(T, kappa_one, eps, d):
    """Tolerance for a kernel entry at t: rounding of t (~d·eps) through κ'(t) ~ 1/√(1 - |t|)."""
    return kappa_one * (64 * eps + 16 * d * eps / np.sqrt(np.maximum(1 - np.abs(T), d * eps)))


@settings(max_examples=25)
@given(
    cfg=kernels(CLOSED),
    n=st.integers(2, 40),
    d=st.integers(2, 10),
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 3),
)
def test_gram_symmetric_psd_rotation_invariant(cfg, n, d, seed, duplicates):
    kernel, c = cfg
    which = c["which"]
    X = _random_points(n, d, seed, duplicates)
    K = np.asarray(kernel.gram(X, which=which))
    eps = np.finfo(K.dtype).eps  # float32 when x64 is off
    K = K.astype(np.float64)
    # Against the NumPy closed form at the inner products the library saw (X in K's dtype).
    Xd = X.astype(eps.dtype).astype(np.float64)
    T = np.clip(Xd @ Xd.T, -1, 1)
    np.fill_diagonal(T, 1.0)
    nngp, ntk = _reference_kernel(c["act"], c["depth"], c["sw"], c["sb"], c["sw0"], T)
    ref = ntk if which == "ntk" else nngp
    k1 = ref[0, 0]
    tol = _entry_tol(T, abs(k1), eps, d)
    assert np.all(np.abs(K - ref) <= tol)
    np.testing.assert_allclose(np.diag(K), k1, rtol=16 * eps)
    assert np.all(np.abs(K - K.T) <= tol)
    mu = np.linalg.eigvalsh(0.5 * (K + K.T))
    assert mu[0] >= -64 * n * eps * mu[-1]
    # Rotating (or reflecting) every point leaves the Gram matrix unchanged.
    KQ = np.asarray(kernel.gram(X @ _haar(d, seed), which=which), dtype=np.float64)
    assert np.all(np.abs(KQ - K) <= 2 * tol)


@settings(max_examples=25)
@given(
    cfg=kernels(CLOSED, max_depth=3),
    n=st.integers(2, 60),
    d=st.integers(2, 8),
    kmax=st.integers(0, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_gram_spectrum_rotation_invariant(cfg, n, d, kmax, seed):
    _, c = cfg
    X = _random_points(n, d, seed)
    nngp, ntk = _reference_kernel(c["act"], c["depth"], c["sw"], c["sb"], c["sw0"], X @ X.T)
    K = ntk if c["which"] == "ntk" else nngp
    XQ = X @ _haar(d, seed)
    a, b = gram_spectrum(K, X, kmax), gram_spectrum(K, XQ, kmax)
    scale = np.abs(K).max()
    # The definition, λ̂_k = mean over pairs i != j of K_ij P_k(<x_i, x_j>), with scipy's P_k.
    T = np.clip(X @ X.T, -1, 1)
    off = ~np.eye(n, dtype=bool)
    ref = [np.mean(K[off] * _legendre_d(k, d, T[off])) for k in range(kmax + 1)]
    np.testing.assert_allclose(a.eigenvalues, ref, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(b.eigenvalues, a.eigenvalues, rtol=0, atol=1e-12 * scale)
    assert b.trace == a.trace
    # Each λ̂_k is a weighted mean of K_ij P_k(t_ij) with |P_k| <= 1.
    assert np.all(np.abs(a.eigenvalues) <= scale * (1 + 1e-12))


@settings(max_examples=30)
@given(cfg=st.one_of(kernels(CLOSED, max_depth=6), kernels(("tanh",), max_depth=2)), t=t_values)
def test_float32_kernel_keeps_float32_accuracy(cfg, t):
    """float32 in, float32 out, accurate to a few float32 ulps of κ(1) whatever the x64 flag:
    the recursion carries (1 - ρ, 1 + ρ) without cancellation (arccos-based formulas lose
    ~sqrt(ε) next to ±1: hundreds of ulps). Positive ReLU NNGPs keep relative accuracy, down to
    their zero at t = -1."""
    kernel, c = cfg
    which = c["which"]
    t32 = jnp.asarray(t, dtype=jnp.float32)
    v32 = kernel(t32, which)
    assert v32.dtype == jnp.float32
    ref = _kernel64(kernel, np.asarray(t32, dtype=np.float64), which)
    eps32 = np.finfo(np.float32).eps
    k1 = kernel.kappa_one(which)
    v32 = np.asarray(v32, dtype=np.float64)
    # Measured: <= 2 ulps for the closed forms, ~10 for tanh (a 64² Gauss–Hermite sum).
    ulps = 8 if c["act"] in CLOSED else 32
    assert np.all(np.abs(v32 - ref) <= ulps * eps32 * abs(k1))
    if c["act"] == "relu" and which == "nngp":
        np.testing.assert_allclose(v32, ref, rtol=8 * eps32, atol=0)
