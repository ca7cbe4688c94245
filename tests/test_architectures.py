"""Residual-MLP, Fourier-feature and SIREN kernels (issue 14) and the kernel protocol."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy.special import gammaln, ive

from ntkspec import _compat
from ntkspec.architectures import (
    fourier_kernel,
    power_law_kernel,
    resnet_kernel,
    siren_kernel,
)
from ntkspec.kernels import ZonalKernel, mlp_kernel
from ntkspec.spectrum import spectrum

mpmath.mp.dps = 40


def _mp_duals(act, D, K):
    """(E, Ė) of a branch nonlinearity at variance D, covariance K, in mpmath."""
    if act == "relu":  # √2·relu: E = D k1(ρ), Ė = k0(ρ)
        rho = K / D
        th = mpmath.acos(rho)
        k0 = 1 - th / mpmath.pi
        k1 = (mpmath.sqrt(1 - rho**2) + rho * (mpmath.pi - th)) / mpmath.pi
        return D * k1, k0
    # erf (Williams 1997): E = 2/π asin(2K/(1+2D)), Ė = 4/π /√((1+2D)² − 4K²)
    c = 1 + 2 * D
    return 2 / mpmath.pi * mpmath.asin(2 * K / c), 4 / mpmath.pi / mpmath.sqrt(c * c - 4 * K * K)


def _mp_resnet(L, alpha, t, act="relu", s0=1):
    """Forward-mode reference (independent of the backward B_l form in the library):
    Θ_0 = K_0, Θ_l = Θ_{l−1}(1 + α² Ė_l) + α²(E_l + Ė_l K_{l−1}), NTK = Θ_L + K_L."""
    t, a2, s0 = mpmath.mpf(t), mpmath.mpf(alpha) ** 2, mpmath.mpf(s0)
    K, D = s0 * t, s0
    theta = K
    for _ in range(L):
        e, ed = _mp_duals(act, D, K)
        e1, _ = _mp_duals(act, D, D)
        theta = theta * (1 + a2 * ed) + a2 * (e + ed * K)
        K, D = K + a2 * e, D + a2 * e1
    return K, theta + K


def _eval(kernel, t, a, b):
    with _compat.enable_x64():
        args = [jnp.asarray(np.asarray(v, np.float64)) for v in (t, a, b)]
        nngp, ntk = kernel.evaluate(*args)
        return np.asarray(nngp, np.float64), np.asarray(ntk, np.float64)


# ----------------------------------------------------------------------------- residual MLP
@pytest.mark.parametrize("L", [1, 3, 6])
@pytest.mark.parametrize("alpha", [0.3, 0.7, "1/sqrt(L)"])
@pytest.mark.parametrize("s0", [1.0, 2.5])
def test_resnet_diagonal_closed_form(L, alpha, s0):
    k = resnet_kernel(L, alpha, first_layer_var=s0)
    a2 = k.alpha**2
    assert k.alpha == pytest.approx(1 / np.sqrt(L) if alpha == "1/sqrt(L)" else alpha)
    ntk1 = 2 * s0 * (1 + a2) ** (L - 1) * (1 + a2 + L * a2)
    assert k.kappa_one() == pytest.approx(ntk1, rel=1e-14)
    assert k.kappa_one("nngp") == pytest.approx(s0 * (1 + a2) ** L, rel=1e-14)


@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("L,alpha,s0", [(1, 0.5, 1.0), (3, 0.7, 1.0), (5, 1.3, 2.0)])
def test_resnet_matches_mpmath_forward_recursion(act, L, alpha, s0):
    k = resnet_kernel(L, alpha, act, first_layer_var=s0)
    ts = np.array([-1.0, -0.999, -0.6, -0.1, 0.0, 0.3, 0.9, 0.99999, 1.0])
    nngp, ntk = _eval(k, ts, 1 - ts, 1 + ts)
    ref = np.array([[float(v) for v in _mp_resnet(L, alpha, t, act, s0)] for t in ts])
    scale = k.kappa_one()
    np.testing.assert_allclose(nngp, ref[:, 0], rtol=0, atol=4e-15 * scale)
    np.testing.assert_allclose(ntk, ref[:, 1], rtol=0, atol=4e-15 * scale)


def test_resnet_full_precision_near_plus_minus_one():
    """κ(1) − κ(1 − δ) and κ(−1 + δ) − κ(−1) at δ = 1e-12: no cancellation in 1 ∓ ρ."""
    k = resnet_kernel(4, 0.7)
    for delta in (1e-6, 1e-12):
        d = mpmath.mpf(delta)
        for sign in (1, -1):
            t = sign * (1 - d)
            a, b = (d, 2 - d) if sign == 1 else (2 - d, d)
            _, ntk = _eval(k, float(t), float(a), float(b))
            _, ntk_end = _eval(k, float(sign), 1.0 - sign, 1.0 + sign)
            ref = _mp_resnet(4, 0.7, t)[1] - _mp_resnet(4, 0.7, sign)[1]
            got = float(ntk) - float(ntk_end)
            # the difference is ~√δ·κ(1): its error is the rounding of the two values only
            assert abs(got - float(ref)) <= 8e-16 * k.kappa_one() + 1e-3 * abs(float(ref))


def test_resnet_constant_alpha_flattens_and_scaled_alpha_converges():
    """Normalized spectra λ_k/λ_0 on S^2: with α = 1/√L they converge (the change halves when
    L doubles: O(1/L)); with α = 1 the spectrum keeps flattening (λ_1/λ_0 falls by > 30 % and
    λ_6/λ_1 rises at every doubling: the kernel degenerates with depth)."""
    shape = {}
    for rule in (1.0, "1/sqrt(L)"):
        for L in (8, 16, 32):
            s = spectrum(resnet_kernel(L, rule), 3, 6, method="quadrature")
            shape[rule, L] = s.eigenvalues / s.eigenvalues[0]
    scaled = [shape["1/sqrt(L)", L] for L in (8, 16, 32)]
    d1, d2 = np.abs(scaled[1] - scaled[0]).max(), np.abs(scaled[2] - scaled[1]).max()
    assert d2 < 0.6 * d1 and d2 < 0.02
    flat = [shape[1.0, L] for L in (8, 16, 32)]
    for prev, nxt in zip(flat[:-1], flat[1:], strict=True):
        assert nxt[1] < 0.7 * prev[1]
        assert nxt[6] / nxt[1] > 1.2 * prev[6] / prev[1]


# ----------------------------------------------------------------------------- features
@pytest.mark.parametrize("d", [2, 3, 8])
@pytest.mark.parametrize("beta", [0.5, 5.0, 40.0])
def test_fourier_depth0_bessel_eigenvalues(d, beta):
    s = spectrum(fourier_kernel(beta), d, 40)
    nu = np.arange(41) + (d - 2) / 2
    ref = np.exp(gammaln(d / 2)) * (2 / beta) ** ((d - 2) / 2) * ive(nu, beta)
    # scipy's ive is accurate to ~2e-14 relative here; mpmath's besseli to 40 digits is the
    # sharper reference, and every λ_k must lie within its certified error of it.
    np.testing.assert_allclose(s.eigenvalues, ref, rtol=1e-13, atol=0)
    g, b = mpmath.gamma(mpmath.mpf(d) / 2), mpmath.mpf(beta)
    mp = [
        g * (2 / b) ** (mpmath.mpf(d - 2) / 2) * mpmath.exp(-b) * mpmath.besseli(v, b) for v in nu
    ]
    mp = np.array([float(v) for v in mp])
    assert np.all(np.abs(s.eigenvalues - mp) <= s.error)
    assert np.all(s.error <= 1e-14 * mp)
    assert s.trace == pytest.approx(1.0, rel=1e-15)


def test_fourier_composite_is_inner_at_feature_kernel():
    inner = mlp_kernel(2)
    k = fourier_kernel(3.0, inner)
    ts = np.linspace(-1, 1, 11)
    s = np.exp(-3.0 * (1 - ts))
    with _compat.enable_x64():
        np.testing.assert_allclose(
            np.asarray(k.ntk(jnp.asarray(ts))), np.asarray(inner.ntk(jnp.asarray(s))), rtol=1e-14
        )
    # the feature inner product itself, by Monte Carlo over M frozen frequencies
    M, beta = 200_000, 3.0
    B = np.sqrt(beta) * np.random.default_rng(0).standard_normal((M, 3))
    x = np.array([1.0, 0, 0])
    ys = np.stack([ts, np.sqrt(1 - ts**2), np.zeros_like(ts)], axis=1)
    mc = np.mean(np.cos(B @ x)[None] * np.cos(ys @ B.T) + np.sin(B @ x)[None] * np.sin(ys @ B.T), 1)
    assert np.max(np.abs(mc - s)) < 5 / np.sqrt(M)


def test_power_law_spectrum_on_circle():
    p, J = 0.75, 12
    s = spectrum(power_law_kernel(p, J), 2, 16)
    w = np.arange(1, J + 1.0) ** (-2 * p)
    ref = np.zeros(17)
    ref[1 : J + 1] = w / w.sum() / 2
    np.testing.assert_allclose(s.eigenvalues, ref, rtol=0, atol=1e-15)
    # near t = 1: 1 − κ(t) is computed as Σ 2 w_j sin²(jθ/2), no cancellation
    delta = 1e-13
    nngp, _ = _eval(power_law_kernel(p, J), 1 - delta, delta, 2 - delta)
    theta = 2 * np.arcsin(np.sqrt(delta / 2))
    assert 1 - nngp == pytest.approx(
        np.sum(w / w.sum() * (np.arange(1, J + 1) * theta) ** 2) / 2, rel=1e-3
    )


# ----------------------------------------------------------------------------- series route
@pytest.mark.parametrize(
    "kernel",
    [
        resnet_kernel(2, 0.7),
        resnet_kernel(3, "1/sqrt(L)", "erf"),
        fourier_kernel(3.0, mlp_kernel(2)),
        fourier_kernel(2.0, resnet_kernel(2, 0.5)),
        fourier_kernel(6.0),
    ],
    ids=["resnet-relu", "resnet-erf", "ff-mlp", "ff-resnet", "ff"],
)
@pytest.mark.parametrize("which", ["ntk", "nngp"])
def test_series_route_agrees_with_quadrature(kernel, which):
    assert kernel.supports_series(5)
    a = kernel.taylor(which, 64).coefficients
    assert np.all(a >= 0)
    assert float(np.sum(a)) <= kernel.kappa_one(which) * (1 + 1e-12)
    q = spectrum(kernel, 5, 24, which, method="quadrature")
    s = spectrum(kernel, 5, 24, which, method="series")
    assert np.all(np.abs(q.eigenvalues - s.eigenvalues) <= q.error + s.error)
    auto = spectrum(kernel, 5, 24, which)
    assert np.all(auto.error <= np.minimum(q.error, s.error) * (1 + 1e-12))


def test_taylor_coefficients_match_analytic_low_orders():
    """ReLU resnet, L = 1: K_1 = t + α² k1(t); k1 = 1/π + t/2 + t²/(2π) + …"""
    k = resnet_kernel(1, 0.5)
    a = np.asarray(k.taylor("nngp", 2).coefficients, float)
    np.testing.assert_allclose(a, [0.25 / np.pi, 1 + 0.125, 0.125 / np.pi], rtol=1e-15)
    # depth-0 features: e^{−β} βⁿ/n!
    a = np.asarray(fourier_kernel(2.5).taylor("ntk", 6).coefficients, float)
    n = np.arange(7)
    np.testing.assert_allclose(a, np.exp(-2.5 + n * np.log(2.5) - gammaln(n + 1)), rtol=1e-15)


# ----------------------------------------------------------------------------- gram, protocol
@pytest.mark.parametrize("kernel", [resnet_kernel(3, 0.7), fourier_kernel(4.0, resnet_kernel(2))])
def test_gram_exact_and_series(kernel):
    X = np.random.default_rng(1).standard_normal((40, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    t = np.clip(X @ X.T, -1, 1)
    np.fill_diagonal(t, 1.0)
    with _compat.enable_x64():
        ref = np.asarray(kernel.ntk(jnp.asarray(t)))
        exact = np.asarray(kernel.gram(jnp.asarray(X), method="exact"))
        series = np.asarray(kernel.gram(jnp.asarray(X), method="series"))
        auto = np.asarray(kernel.gram(jnp.asarray(X)))
    np.testing.assert_allclose(exact, ref, rtol=1e-13)
    # The float64 series: within its measured error, <= 1e-15·κ(1), so "auto" uses it.
    error = kernel.gram_series("ntk").measured_error
    assert error <= 1e-15
    np.testing.assert_allclose(series, ref, rtol=0, atol=(error + 1e-16) * kernel.kappa_one())
    np.testing.assert_array_equal(auto, series)
    g32 = np.asarray(kernel.gram(jnp.asarray(X, jnp.float32)))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, ref, rtol=0, atol=2e-6 * kernel.kappa_one())


def test_spectrum_uses_the_protocol_not_a_class():
    """Any object with ``evaluate``/``kappa_one`` is a zonal kernel for ``spectrum``."""

    class Wrapped(ZonalKernel):
        def __init__(self, inner):
            self.inner = inner

        def evaluate(self, t, a, b):
            return self.inner.evaluate(t, a, b)

        def __hash__(self):
            return hash(("wrapped", self.inner))

        def __eq__(self, other):
            return isinstance(other, Wrapped) and other.inner == self.inner

    base = mlp_kernel(2)
    s = spectrum(Wrapped(base), 4, 10)
    ref = spectrum(base, 4, 10, method="quadrature")
    assert s.kernel == "ntk" and set(s.method) == {"quadrature"}
    np.testing.assert_allclose(s.eigenvalues, ref.eigenvalues, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="method='series'"):
        spectrum(Wrapped(base), 4, 10, method="series")


# ----------------------------------------------------------------------------- SIREN
def test_siren_kernel_is_the_sine_mlp():
    k = siren_kernel(3, 30.0)
    assert k == mlp_kernel(3, "sin", 2.0, 0.0, 900.0)
    # first sine layer at variance ω0² = 900: NNGP of depth 1 = 2 e^{−900} sinh(900 t)
    k1 = siren_kernel(1, 30.0)
    t = np.array([0.5, 0.99, 1.0])
    with _compat.enable_x64():
        got = np.asarray(k1.nngp(jnp.asarray(t)))
    ref = [float(2 * mpmath.e ** (-900) * mpmath.sinh(900 * mpmath.mpf(v))) for v in t]
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    s = spectrum(k, 3, 30)
    assert np.all(s.eigenvalues[0::2] <= s.error[0::2])  # odd kernel: even degrees vanish


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: resnet_kernel(3, "1/sqrt(n)"), ValueError, "alpha"),
        (lambda: resnet_kernel(3, -0.5), ValueError, "alpha"),
        (lambda: resnet_kernel(0), ValueError, "depth"),
        (lambda: resnet_kernel(2, 0.5, "tanh"), ValueError, "closed-form"),
        (lambda: fourier_kernel(0.0), ValueError, "beta"),
        (lambda: fourier_kernel(1.0, inner=lambda t: t), TypeError, "inner"),
        (lambda: power_law_kernel(float("nan"), 4), TypeError, "p"),
        (lambda: power_law_kernel(1.0, 0), ValueError, "features"),
        (lambda: siren_kernel(2, -1.0), ValueError, "omega0"),
    ],
)
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_jit_and_grad_through_resnet_kernel():
    k = resnet_kernel(2, 0.7)
    with _compat.enable_x64():
        g = jax.grad(lambda t: k.nngp(t))(jnp.asarray(0.3))
    # dK_2/dt = Π_l (1 + α² k0(ρ_l)) for ReLU at σ_0² = 1 (chain rule of K_l = K + α² D k1)
    k_prev = resnet_kernel(1, 0.7)
    with _compat.enable_x64():
        K1 = float(k_prev.nngp(0.3))
    D1 = 1.49
    ref = (1 + 0.49 * (1 - np.arccos(0.3) / np.pi)) * (1 + 0.49 * (1 - np.arccos(K1 / D1) / np.pi))
    assert float(g) == pytest.approx(ref, rel=1e-13)


def test_grad_of_architecture_kernels_at_plus_minus_one():
    """The derivative at t = ±1 is the one-sided limit (a clamp with derivative 1 at the
    boundary; ``jnp.clip`` halved it there): checked against one-sided differences (error
    O(√h) from the (1 ∓ t)^{3/2} terms, far below the halving this catches)."""
    h = 1e-9
    for k in (resnet_kernel(2, 0.7), fourier_kernel(2.0, mlp_kernel(2)), fourier_kernel(3.0)):
        with _compat.enable_x64():
            g = jax.grad(lambda t, k=k: k.nngp(t))
            for t0, s in ((1.0, -1.0), (-1.0, 1.0)):
                fd = (float(k.nngp(t0 + s * h)) - float(k.nngp(t0))) / (s * h)
                assert float(g(jnp.asarray(t0))) == pytest.approx(fd, rel=1e-3), (k, t0)


# ----------------------------------------------------------------------------- models
def _unit(n, d, seed=0):
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _gram_t(X):
    t = np.clip(X @ X.T, -1, 1)
    np.fill_diagonal(t, 1.0)
    return t


def _models_f64():
    from ntkspec.arch_models import fourier_net, resnet, siren
    from ntkspec.models import mlp

    f64 = jnp.float64
    return {
        "resnet": resnet(2, 16, 0.7, dtype=f64),
        "resnet-erf-centered": resnet(3, 8, "1/sqrt(L)", "erf", centered=True, dtype=f64),
        "ff-readout": fourier_net(jax.random.key(3), 3, 32, 4.0, dtype=f64),
        "ff-readout-centered": fourier_net(jax.random.key(3), 3, 8, 1.0, centered=True, dtype=f64),
        "ff-mlp": fourier_net(jax.random.key(4), 3, 16, 2.0, mlp(2, 16, dtype=f64)),
        "ff-resnet": fourier_net(jax.random.key(5), 3, 16, 2.0, resnet(2, 8, 0.5, dtype=f64)),
        "siren": siren(2, 16, 30.0, dtype=f64),
    }


@pytest.mark.parametrize("name", list(_models_f64()))
def test_structured_empirical_ntk_equals_jacobian(name):
    """The layer-wise Gram trick (residual blocks, frozen features) equals Σ_leaves J Jᵀ."""
    from ntkspec.empirical import empirical_ntk

    net = _models_f64()[name]
    with _compat.enable_x64():
        X = jnp.asarray(_unit(5, 3))
        p = net.init(jax.random.key(0), 3)
        fast = np.asarray(empirical_ntk(net, p, X))
        slow = np.asarray(empirical_ntk(net.apply, p, X, method="jacobian"))
    tol = 1e-12 if fast.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fast, slow, rtol=tol, atol=tol * np.abs(slow).max())
    if "centered" in name:
        with _compat.enable_x64():
            assert np.all(np.asarray(net.apply(p, X)) == 0)


@pytest.mark.parametrize("kind", ["resnet", "fourier-mlp", "fourier-readout", "siren"])
def test_empirical_ntk_converges_to_the_kernel(kind):
    """Width 4096, four fixed seeds: every entry within 8/√m·κ(1) per seed and the seed mean
    within 4/√m·κ(1) (measured: resnet 0.05–0.08 per seed; these NTKs fluctuate ~3× more
    than a plain MLP's at equal width, the residual stream carrying the noise of every block)."""
    from ntkspec.arch_models import fourier_net, resnet, siren
    from ntkspec.empirical import empirical_ntk
    from ntkspec.models import mlp

    m = 4096
    if kind == "resnet":
        net = resnet(3, m, 0.7)
    elif kind == "siren":  # ω0 = 10 (measured: 0.08 per seed, 0.04 on the mean)
        net = siren(2, m, 10.0)
    elif kind == "fourier-mlp":
        net = fourier_net(jax.random.key(7), 3, 4096, 4.0, mlp(2, m))
    else:  # M = 4096 features: <γ, γ'> is itself a Monte-Carlo estimate of κ_FF
        net = fourier_net(jax.random.key(7), 3, m, 4.0)
    X = _unit(6, 3)
    k = net.kernel()
    ref = np.asarray(k.ntk(_gram_t(X)), np.float64)
    errs = []
    for seed in range(4):
        p = net.init(jax.random.key(seed), 3)
        errs.append(np.asarray(empirical_ntk(net, p, jnp.asarray(X, jnp.float32))) - ref)
    errs = np.array(errs) / k.kappa_one()
    assert np.abs(errs).max() <= 8 / np.sqrt(m)
    assert np.abs(errs.mean(0)).max() <= 4 / np.sqrt(m)


def test_fourier_readout_ntk_is_the_feature_gram():
    """Depth 0: the empirical NTK is exactly <γ(x), γ(x')> (no randomness beyond B)."""
    from ntkspec.arch_models import fourier_net
    from ntkspec.empirical import empirical_ntk

    with _compat.enable_x64():
        net = fourier_net(jax.random.key(1), 3, 64, 2.0, dtype=jnp.float64)
        X = jnp.asarray(_unit(4, 3))
        p = net.init(jax.random.key(0), 3)
        G = np.asarray(net.embed(X))
        np.testing.assert_allclose(np.asarray(empirical_ntk(net, p, X)), G @ G.T, rtol=1e-13)
        B = net.frequencies
        proj = np.asarray(X) @ B.T
        direct = (np.cos(proj) @ np.cos(proj).T + np.sin(proj) @ np.sin(proj).T) / 64
        np.testing.assert_allclose(G @ G.T, direct, rtol=1e-13)
    assert B.shape == (64, 3)
    assert np.std(B) == pytest.approx(np.sqrt(2.0), rel=0.15)


def test_model_kernels_and_validation():
    from ntkspec.arch_models import fourier_net, resnet, siren
    from ntkspec.models import mlp

    assert resnet(3, 8, "1/sqrt(L)").kernel() == resnet_kernel(3, "1/sqrt(L)")
    assert siren(2, 8, 10.0).kernel() == siren_kernel(2, 10.0)
    ff = fourier_net(jax.random.key(0), 3, 8, 2.0, mlp(1, 8))
    assert ff.kernel() == fourier_kernel(2.0, mlp_kernel(1))
    with pytest.raises(ValueError, match="d = 3"):
        ff.init(jax.random.key(0), 4)
    with pytest.raises(TypeError, match="net"):
        fourier_net(jax.random.key(0), 3, 8, 2.0, net="mlp")
    with pytest.raises(ValueError, match="alpha"):
        resnet(2, 8, "sqrt")
    net = resnet(2, 8)
    p = net.init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        net.apply(p, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="parameter shapes"):
        net.apply({**p, "v": jnp.ones(7)}, jnp.ones((2, 3)))


def test_power_law_net_readout_ntk_is_the_kernel():
    """On S^1 the power-law embedding's Gram is exactly power_law_kernel (any J)."""
    from ntkspec.arch_models import power_law_net
    from ntkspec.empirical import empirical_ntk
    from ntkspec.models import mlp

    theta = np.linspace(0, 2 * np.pi, 7, endpoint=False) + 0.1
    X = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    with _compat.enable_x64():
        net = power_law_net(0.8, 10, dtype=jnp.float64)
        p = net.init(jax.random.key(0), 2)
        K = np.asarray(empirical_ntk(net, p, jnp.asarray(X)))
        ref = np.asarray(net.kernel().ntk(jnp.asarray(_gram_t(X))))
        np.testing.assert_allclose(K, ref, rtol=0, atol=1e-14)
        deep = power_law_net(0.8, 10, mlp(1, 16, dtype=jnp.float64))
        q = deep.init(jax.random.key(1), 2)
        fast = np.asarray(empirical_ntk(deep, q, jnp.asarray(X)))
        slow = np.asarray(empirical_ntk(deep.apply, q, jnp.asarray(X), method="jacobian"))
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12 * np.abs(slow).max())
    assert deep.kernel() == power_law_kernel(0.8, 10, mlp_kernel(1))


def test_every_zonal_kernel_feeds_quadrature_weights_and_kernel_regression():
    """The downstream consumers take any ZonalKernel (not only mlp_kernel): kernel quadrature
    with a residual-MLP kernel integrates constants exactly (weights sum to 1), and kernel
    regression with it uses its Gram (not a call κ(X, Y)), matching the same computation
    with the explicit Gram callable."""
    import jax
    import numpy as np

    import ntkspec as ns
    from ntkspec.architectures import resnet_kernel
    from ntkspec.krr import kernel_regression_curve

    k = resnet_kernel(2, 0.7)
    X = np.asarray(ns.sample_sphere(jax.random.key(0), 40, 3, dtype=np.float64))
    q = ns.quadrature_weights(X, "kernel", kernel=k)
    assert abs(q.weights.sum() - 1.0) < 1e-12
    args = dict(dim=3, energies=[0.0, 0.0, 1.0], n=[10, 20], trials=2, test_points=200)
    a = kernel_regression_curve(k, jax.random.key(1), **args)
    b = kernel_regression_curve(lambda X, Y: np.asarray(k.gram(X, Y)), jax.random.key(1), **args)
    np.testing.assert_allclose(a.excess_mse, b.excess_mse, rtol=1e-10)
