import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import integrate

from ntkspec import mlp_kernel, sample_sphere
from ntkspec.activations import Sine
from ntkspec.kernels import relu_k0, relu_k1

mpmath.mp.dps = 50


def _np_k0(t):
    return 1 - np.arccos(t) / np.pi


def _np_k1(t):
    return (np.sqrt(1 - t**2) + t * (np.pi - np.arccos(t))) / np.pi


def _mp_relu(depth, t, sw=2, sb=0, sw0=1):
    """Reference recursion in mpmath (docs/theory.md §2), returns (nngp, ntk)."""
    t = mpmath.mpf(t)
    q = mpmath.mpf(sw0) + sb
    s = sw0 * t + sb
    th = s
    for _ in range(depth):
        rho = s / q
        k0 = 1 - mpmath.acos(rho) / mpmath.pi
        k1 = (mpmath.sqrt(1 - rho**2) + rho * (mpmath.pi - mpmath.acos(rho))) / mpmath.pi
        s, sdot = sw * q / 2 * k1 + sb, sw * k0 / 2
        q = sw * q / 2 + sb
        th = th * sdot + s
    return s, th


def _mp_erf(depth, t, sw=1, sb=0, sw0=1):
    t = mpmath.mpf(t)
    q = mpmath.mpf(sw0) + sb
    s = sw0 * t + sb
    th = s
    for _ in range(depth):
        a = 1 + 2 * q
        s, sdot = (
            sw * 2 / mpmath.pi * mpmath.asin(2 * s / a) + sb,
            sw * 4 / mpmath.pi / mpmath.sqrt(a * a - 4 * s * s),
        )
        q = sw * 2 / mpmath.pi * mpmath.asin(2 * q / a) + sb
        th = th * sdot + s
    return s, th


T_GRID = [-1.0, -1 + 1e-12, -0.999, -0.5, -1e-3, 0.0, 0.3, 0.9, 1 - 1e-9, 1 - 1e-15, 1.0]


def test_two_layer_relu_closed_form():
    t = np.linspace(-1, 1, 101)
    k = mlp_kernel(1)
    np.testing.assert_allclose(k.ntk(t), t * _np_k0(t) + _np_k1(t), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(k.nngp(t), _np_k1(t), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("depth", [1, 2, 4, 6])
@pytest.mark.parametrize("bias_var", [0.0, 0.1])
def test_relu_against_mpmath(depth, bias_var):
    k = mlp_kernel(depth, bias_var=bias_var)
    for t in T_GRID:
        nngp, ntk = _mp_relu(depth, t, sb=mpmath.mpf(bias_var))
        assert float(k.ntk(t)) == pytest.approx(float(ntk), rel=2e-15, abs=1e-300)
        assert float(k.nngp(t)) == pytest.approx(float(nngp), rel=2e-15, abs=1e-300)


def test_relu_full_relative_precision_near_minus_one():
    # NTK(t) of the two-layer net vanishes like (1 + t)^{3/2} at t = -1; values keep full
    # relative precision there (naive arccos formulas lose all digits).
    k = mlp_kernel(1)
    for eps in [1e-6, 1e-10, 1e-14]:
        t = -1 + eps
        _, ref = _mp_relu(1, mpmath.mpf(-1) + mpmath.mpf(eps))
        # t itself is the double nearest -1 + eps: compare at the exact double.
        _, ref = _mp_relu(1, mpmath.mpf(t))
        assert float(k.ntk(t)) == pytest.approx(float(ref), rel=1e-12)


@pytest.mark.parametrize("depth", [1, 3, 6])
@pytest.mark.parametrize("bias_var", [0.0, 0.1])
def test_erf_against_mpmath(depth, bias_var):
    k = mlp_kernel(depth, "erf", bias_var=bias_var)
    for t in T_GRID:
        nngp, ntk = _mp_erf(depth, t, sb=mpmath.mpf(bias_var))
        assert float(k.ntk(t)) == pytest.approx(float(ntk), rel=1e-14, abs=1e-16)
        assert float(k.nngp(t)) == pytest.approx(float(nngp), rel=1e-14, abs=1e-16)


def test_kappa_one_identities():
    for L in range(1, 7):
        k = mlp_kernel(L)
        assert k.kappa_one() == pytest.approx(L + 1, rel=1e-15)
        assert k.kappa_one("nngp") == pytest.approx(1.0, rel=1e-15)
        assert float(k.ntk(1.0)) == pytest.approx(L + 1, rel=1e-15)
    assert float(mlp_kernel(1).nngp(0.0)) == pytest.approx(1 / np.pi, rel=1e-15)


def test_arccos_kernel_identities():
    t = np.linspace(-0.999, 0.999, 51)
    np.testing.assert_allclose(jax.vmap(jax.grad(relu_k1))(t), relu_k0(t), rtol=1e-13)
    np.testing.assert_allclose(
        jax.vmap(jax.grad(relu_k0))(t), 1 / (np.pi * np.sqrt(1 - t**2)), rtol=1e-12
    )
    assert float(relu_k0(1.0)) == 1.0 and float(relu_k1(1.0)) == 1.0
    assert float(relu_k1(0.0)) == pytest.approx(1 / np.pi, rel=1e-15)
    assert float(relu_k0(-1.0)) == 0.0 and float(relu_k1(-1.0)) == 0.0


def test_gradients_safe_at_plus_minus_one():
    # k1' = k0 is finite at ±1: 1 and 0. k0' is infinite there: a huge finite number, never NaN.
    assert float(jax.grad(relu_k1)(1.0)) == 1.0
    assert float(jax.grad(relu_k1)(-1.0)) == 0.0
    assert float(jax.grad(mlp_kernel(3).nngp)(1.0)) == pytest.approx(1.0, rel=1e-12)
    g = float(jax.grad(mlp_kernel(2).ntk)(1.0))
    assert np.isfinite(g) and g > 1e100
    # Gradient of a Gram matrix w.r.t. the points: finite everywhere (diagonal t = 1 included).
    X = sample_sphere(jax.random.key(0), 6, 3)
    grad = jax.grad(lambda X: mlp_kernel(2, bias_var=0.1).gram(X, which="nngp").sum())(X)
    assert bool(jnp.all(jnp.isfinite(grad)))


def test_nngp_gradient_matches_finite_differences():
    k = mlp_kernel(3, bias_var=0.2)
    for t in [-0.9, -0.2, 0.4, 0.95]:
        h = 1e-6
        fd = (float(k.ntk(t + h)) - float(k.ntk(t - h))) / (2 * h)
        assert float(jax.grad(k.ntk)(t)) == pytest.approx(fd, rel=1e-7)


def test_identity_closed_form_and_quadrature_callable():
    t = np.linspace(-1, 1, 9)
    k = mlp_kernel(3, "identity", weight_var=1.5, bias_var=0.2)
    # Linear network: Σ_l = 1.5 Σ_{l-1} + 0.2, Σ̇ = 1.5.
    s = t + 0.2
    th = s
    for _ in range(3):
        s = 1.5 * s + 0.2
        th = th * 1.5 + s
    np.testing.assert_allclose(k.nngp(t), s, rtol=1e-14)
    np.testing.assert_allclose(k.ntk(t), th, rtol=1e-14)
    # The same network through the generic Gauss–Hermite path (a callable activation).
    kq = mlp_kernel(3, lambda x: x, weight_var=1.5, bias_var=0.2)
    np.testing.assert_allclose(kq.ntk(t), th, rtol=1e-12)


def test_quadrature_erf_matches_closed_form():
    t = np.linspace(-1, 1, 11)
    closed = mlp_kernel(3, "erf", bias_var=0.1)
    quad = mlp_kernel(3, jax.scipy.special.erf, bias_var=0.1)
    np.testing.assert_allclose(quad.ntk(t), closed.ntk(t), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(quad.nngp(t), closed.nngp(t), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, fn", [("tanh", np.tanh), ("gelu", None)])
def test_quadrature_activation_against_scipy_dblquad(name, fn):
    from scipy.special import erf

    if fn is None:

        def fn(x):
            return 0.5 * x * (1 + erf(x / np.sqrt(2)))

    k = mlp_kernel(1, name, bias_var=0.1)
    q = 1.1  # q_0 = σ_w0² + σ_b²
    for t in [-0.7, 0.2, 0.95]:
        s = t + 0.1
        rho = s / q

        def integrand(z2, z1, rho=rho):
            u = np.sqrt(q) * z1
            v = np.sqrt(q) * (rho * z1 + np.sqrt(1 - rho**2) * z2)
            return fn(u) * fn(v) * np.exp(-(z1**2 + z2**2) / 2) / (2 * np.pi)

        e, _ = integrate.dblquad(integrand, -10, 10, -10, 10, epsabs=1e-13, epsrel=1e-12)
        assert float(k.nngp(t)) == pytest.approx(e + 0.1, rel=1e-9)


def test_gram_properties_and_jit():
    X = sample_sphere(jax.random.key(1), 40, 5)
    for kernel in [mlp_kernel(2), mlp_kernel(3, "erf", bias_var=0.3), mlp_kernel(1, "tanh")]:
        for which in ("ntk", "nngp"):
            K = np.asarray(kernel.gram(X, which=which, method="exact"))
            np.testing.assert_allclose(K, K.T, rtol=1e-14)
            np.testing.assert_allclose(np.diag(K), kernel.kappa_one(which), rtol=1e-12)
            assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()
            t = np.clip(np.asarray(X @ X.T), -1, 1)
            np.fill_diagonal(t, 1.0)  # gram() pins the diagonal at t = 1 exactly
            jitted = jax.jit(lambda t, k=kernel, w=which: k(t, w))(t)
            np.testing.assert_allclose(K, jitted, rtol=1e-13)
    Y = sample_sphere(jax.random.key(2), 7, 5)
    assert mlp_kernel(1).gram(X, Y).shape == (40, 7)


GRAM_SERIES_KERNELS = [
    mlp_kernel(1),
    mlp_kernel(4, bias_var=0.2),
    mlp_kernel(12),
    mlp_kernel(3, "erf", bias_var=0.3, first_layer_var=2.0),
    mlp_kernel(2, "identity", bias_var=0.5),
    mlp_kernel(1, "tanh"),
    mlp_kernel(2, "gelu", bias_var=0.1),
]


@pytest.mark.parametrize("kernel", GRAM_SERIES_KERNELS, ids=lambda k: f"{k.activation}{k.depth}")
def test_gram_series_matches_exact_recursion(kernel):
    """The Chebyshev-in-√(1-|t|) evaluation equals the layer recursion: to its measured error
    (<= 2e-15·κ(1) here; depth 12 is above 1e-15, so float64 "auto" uses the recursion there)
    with float64 points, to float32 rounding with float32 points."""
    X = np.asarray(sample_sphere(jax.random.key(3), 24, 4, dtype=jnp.float32), dtype=np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = X[:9] @ np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
    X32 = jnp.asarray(X, dtype=jnp.float32)
    for which in ("ntk", "nngp"):
        scale = kernel.kappa_one(which)
        for args in ((X,), (X, Y)):
            exact = np.asarray(kernel.gram(*args, which=which, method="exact"))
            series = np.asarray(kernel.gram(*args, which=which, method="series"))
            fit = kernel.gram_series(which)
            # measured against the float64 recursion, its error included
            assert fit.measured_error <= 2e-15
            assert np.abs(series - exact).max() <= fit.measured_error * scale
        s32 = kernel.gram(X32, which=which, method="series")
        e32 = kernel.gram(X32, which=which, method="exact")
        assert s32.dtype == e32.dtype == jnp.float32
        diff = np.abs(np.asarray(s32, np.float64) - np.asarray(e32, np.float64)).max()
        assert diff <= 2e-6 * scale
        np.testing.assert_array_equal(np.diag(np.asarray(s32)), np.float32(scale))


def test_gram_auto_method_choice(monkeypatch):
    from ntkspec import kernels

    X = np.asarray(sample_sphere(jax.random.key(4), 16, 3, dtype=jnp.float32), dtype=np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    relu, tanh = mlp_kernel(3), mlp_kernel(1, "tanh")
    X32 = jnp.asarray(X, jnp.float32)
    # float32: the series; float64: the series where its measured error is <= 1e-15·κ(1);
    # quadrature activations: the series.
    np.testing.assert_array_equal(relu.gram(X32), relu.gram(X32, method="series"))
    assert relu.gram_series("ntk").measured_error <= kernels.SERIES_TOL_F64
    np.testing.assert_array_equal(relu.gram(X), relu.gram(X, method="series"))
    np.testing.assert_array_equal(tanh.gram(X), tanh.gram(X, method="series"))
    # SIREN at ω0 = 30: a narrow peak needs > SERIES_MAX_TERMS terms; the recursion is used.
    siren = mlp_kernel(1, "sin", weight_var=2.0, first_layer_var=900.0)
    assert siren.gram_series("ntk", "float32").terms > kernels.SERIES_MAX_TERMS
    np.testing.assert_array_equal(siren.gram(X32), siren.gram(X32, method="exact"))
    # The fit is kept on the kernel object (per which and precision), not in a global cache.
    assert relu.gram_series("ntk") is relu.gram_series("ntk")
    assert mlp_kernel(3).gram_series("ntk") is not relu.gram_series("ntk")
    # A fit that does not converge within the node budget falls back to the recursion.
    monkeypatch.setattr(kernels, "_SERIES_MAX_NODES", 16)
    fresh = mlp_kernel(3)
    assert fresh.gram_series("ntk", "float32") is None
    np.testing.assert_array_equal(fresh.gram(X32), fresh.gram(X32, method="exact"))
    np.testing.assert_array_equal(fresh.gram(X), fresh.gram(X, method="exact"))
    with pytest.raises(ValueError, match="method"):
        relu.gram(X, method="chebyshev")
    with pytest.raises(ValueError, match="precision"):
        relu.gram_series("ntk", "float16")


def _unit_circle_pairs(t):
    """Points X on S^1 and Y = e_1 with <x_j, e_1> = t_j exactly (products with 1 and 0)."""
    t = np.asarray(t, np.float64)
    X = np.stack([t, np.sqrt(np.maximum(0.0, 1.0 - t * t))], axis=1)
    return X, np.array([[1.0, 0.0]])


GRAM_T = np.concatenate(
    [
        [-1.0, 1.0, 0.0, -0.5, 0.5],
        1.0 - np.logspace(-16, -1, 16),
        np.logspace(-16, -1, 16) - 1.0,
        np.linspace(-1, 1, 41)[1:-1],
        np.random.default_rng(7).uniform(-1, 1, 30),
    ]
)


@pytest.mark.parametrize(
    "depth, bias_var, which", [(1, 0.0, "ntk"), (4, 0.2, "ntk"), (3, 0.0, "nngp"), (12, 0.0, "ntk")]
)
def test_gram_series_float64_error_against_mpmath(depth, bias_var, which):
    """The float64 Gram series (the default in float64) is within its stated error of the exact
    kernel (mpmath, 50 digits) at t = ±1, 0, next to ±1 (1e-16..1e-1) and across [-1, 1]; the
    stated error is <= 1e-15·κ(1). Also for erf."""
    from ntkspec.kernels import SERIES_TOL_F64

    k = mlp_kernel(depth, bias_var=bias_var)
    fit = k.gram_series(which)
    X, Y = _unit_circle_pairs(GRAM_T)
    series = np.asarray(k.gram(X, Y, which=which, method="series"))[:, 0]
    pick = 1 if which == "ntk" else 0
    ref = np.array([float(_mp_relu(depth, t, sb=mpmath.mpf(bias_var))[pick]) for t in X[:, 0]])
    err = np.abs(series - ref).max() / k.kappa_one(which)
    assert err <= fit.measured_error, (err, fit.measured_error)
    # "auto" in float64: the series where its error is <= 1e-15·κ(1), else the recursion. The
    # shallow kernels are below it; depth 12 sits at it (its measurement includes the deep
    # recursion's own rounding: 1.1e-15 with jax 0.10, 8.2e-16 with jax 0.4.38), so either route.
    if depth < 12:
        assert fit.measured_error <= SERIES_TOL_F64
    route = "series" if fit.measured_error <= SERIES_TOL_F64 else "exact"
    np.testing.assert_array_equal(
        k.gram(X, Y, which=which), k.gram(X, Y, which=which, method=route)
    )
    # the symmetric Gram's diagonal is κ(1) exactly
    Xs = np.asarray(sample_sphere(jax.random.key(6), 7, 3))
    np.testing.assert_array_equal(np.diag(np.asarray(k.gram(Xs, which=which))), k.kappa_one(which))


def test_gram_series_float64_erf_against_mpmath():
    k = mlp_kernel(3, "erf", bias_var=0.3, first_layer_var=2.0)
    fit = k.gram_series("ntk")
    X, Y = _unit_circle_pairs(GRAM_T)
    ours = np.asarray(k.gram(X, Y))[:, 0]
    ref = np.array([float(_mp_erf(3, t, sb=mpmath.mpf("0.3"), sw0=2)[1]) for t in X[:, 0]])
    assert np.abs(ours - ref).max() / k.kappa_one() <= fit.measured_error <= 1e-15


def test_gram_under_jit():
    X = sample_sphere(jax.random.key(5), 12, 3, dtype=jnp.float32)
    for kernel in (mlp_kernel(2), mlp_kernel(1, "tanh")):
        jitted = np.asarray(jax.jit(kernel.gram)(X))
        # jax 0.4.38 cannot fit the series inside a trace; gram then falls back to the
        # recursion: equal to float32 rounding either way.
        np.testing.assert_allclose(jitted, kernel.gram(X), rtol=0, atol=2e-6 * jitted.max())


@pytest.mark.precision
def test_float32_in_float32_out():
    t = jnp.linspace(-1, 1, 5, dtype=jnp.float32)
    assert mlp_kernel(2).ntk(t).dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(depth=0), ValueError, "depth >= 1"),
        (dict(depth=1.5), TypeError, "integer"),
        (dict(depth=2, activation="swishy"), ValueError, "activation"),
        (dict(depth=2, weight_var=-1.0), ValueError, "weight_var"),
        (dict(depth=2, bias_var=float("nan")), ValueError, "bias_var"),
        (dict(depth=2, first_layer_var=0.0), ValueError, "first_layer_var"),
        (dict(depth=2, activation=lambda x: x[:1]), (TypeError, ValueError), "elementwise"),
        (dict(depth=2, activation=lambda x: "a" + x), TypeError, "differentiable JAX"),
    ],
)
def test_mlp_kernel_validation(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        mlp_kernel(**kwargs)


def test_gram_validation():
    with pytest.raises(ValueError, match="unit norm"):
        mlp_kernel(1).gram(np.ones((3, 3)))
    with pytest.raises(ValueError, match="which"):
        mlp_kernel(1).gram(np.eye(3), which="ntkk")
    with pytest.raises(ValueError, match="d = 3"):
        mlp_kernel(1).gram(np.eye(3), np.eye(4))


# ----------------------------------------------------------------------------- sine activations
def _mp_sine(depth, t, abc=(1, 1, 0), sw=1, sb=0, sw0=1, beta2=0):
    """Reference recursion in mpmath with the sine duals as plain closed forms (docs/theory.md):
    E[φφ] = (a²/2)(e^{-B(1-ρ)} − cos2c e^{-B(1+ρ)}), E[φ'φ'] = (a²b²/2)(e^{-B(1-ρ)} + cos2c
    e^{-B(1+ρ)}), E[φ²] = (a²/2)(1 − cos2c e^{-2B}), B = b²q. Returns (nngp, ntk).

    The difference of exponentials cancels down to e^{-q}·|ρ| in deeper layers, so the
    working precision grows with q (e^{-900} ≈ 1e-391)."""
    with mpmath.workdps(60 + int(0.5 * sw0 * abc[1] ** 2)):
        return _mp_sine_body(depth, t, abc, sw, sb, sw0, beta2)


def _mp_sine_body(depth, t, abc, sw, sb, sw0, beta2):
    a, b, c = (mpmath.mpf(x) for x in abc)
    t = mpmath.mpf(t)
    q = mpmath.mpf(sw0) + sb
    s = sw0 * t + sb
    th = s + beta2
    c2 = mpmath.cos(2 * c)
    for l in range(depth):
        big, rho = b * b * q, s / q
        ea, eb = mpmath.exp(-big * (1 - rho)), mpmath.exp(-big * (1 + rho))
        s, sdot = sw * a**2 / 2 * (ea - c2 * eb) + sb, sw * a**2 * b**2 / 2 * (ea + c2 * eb)
        q = sw * a**2 / 2 * (1 - c2 * mpmath.exp(-2 * big)) + sb
        th = th * sdot + s + (beta2 if l < depth - 1 else 0)
    return s, th


SINE_T = [-1.0, -0.999, -0.5, -1e-3, 0.0, 1e-3, 0.3, 0.9, 0.99, 0.999, 1 - 1e-9, 1 - 1e-15, 1.0]
SIREN_Q = [0.1, 1.0, 30.0, 100.0, 900.0]


def _sine_rtol(q, t):
    # exp(-B(1 - ρ)) inherits the rounding of B(1 - ρ): relative error ~ ε·B(1 - |t|) (at most
    # ~700ε for values that float64 can represent); a few ε otherwise.
    return 8e-16 * (8.0 + q * (1.0 - abs(t)))


@pytest.mark.parametrize("q", SIREN_Q)
def test_sine_two_layer_closed_forms_at_siren_scale(q):
    # Two layers, weight_var 1, first-layer variance q: NNGP = e^{-q} sinh(qt) and
    # NTK = qt e^{-q} cosh(qt) + e^{-q} sinh(qt). The former Gauss–Hermite route was 2% off at
    # q = 100 and off by orders of magnitude at q = 900 (ω0 = 30, SIREN).
    k = mlp_kernel(1, "sin", first_layer_var=q)
    assert k.sine == (1.0, 1.0, 0.0) and k.phi is None and k.quadrature_error == 0.0
    qm = mpmath.mpf(q)
    for t in SINE_T:
        tm = mpmath.mpf(t)
        nngp = mpmath.exp(-qm) * mpmath.sinh(qm * tm)
        ntk = qm * tm * mpmath.exp(-qm) * mpmath.cosh(qm * tm) + nngp
        rtol = _sine_rtol(q, t)
        assert float(k.nngp(t)) == pytest.approx(float(nngp), rel=rtol, abs=1e-300), (q, t)
        assert float(k.ntk(t)) == pytest.approx(float(ntk), rel=rtol, abs=1e-300), (q, t)


@pytest.mark.parametrize("q", SIREN_Q)
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize(
    "activation, abc, sw, sb, atol",
    [
        ("sin", (1.0, 1.0, 0.0), 1.0, 0.0, 0.0),
        ("cos", (1.0, 1.0, np.pi / 2), 1.0, 0.1, 0.0),
        (Sine(1.3, 0.7, 0.4), (1.3, 0.7, 0.4), 2.0, 0.05, 1e-14),
    ],
)
def test_sine_recursion_against_mpmath(q, depth, activation, abc, sw, sb, atol):
    k = mlp_kernel(depth, activation, weight_var=sw, bias_var=sb, first_layer_var=q)
    assert k.sine == pytest.approx(abc, rel=0, abs=0)
    for which, index in (("nngp", 0), ("ntk", 1)):
        scale = atol * float(_mp_sine(depth, 1.0, abc, sw, mpmath.mpf(sb), q)[index])
        for t in SINE_T:
            ref = float(_mp_sine(depth, t, abc, sw, mpmath.mpf(sb), q)[index])
            # Deeper layers see variances q_l <= a²σ_w² + σ_b², so only the first layer's
            # B(1 - ρ) rounding grows with q; the rest adds a few ε per layer. sin and cos
            # layers are sums of same-sign terms (relative precision everywhere); a general
            # phase c has zeros of E[φφ] in ρ, near which only an absolute error (relative to
            # κ(1)) is meaningful.
            rtol = _sine_rtol(q, t) + depth * 4e-15
            assert float(k(t, which)) == pytest.approx(ref, rel=rtol, abs=scale + 1e-300), t


def _gauss_2d(fn, gn, q, rho, nodes=240):
    """E[fn(u) gn(v)], (u, v) ~ N(0, q[[1, ρ], [ρ, 1]]), by a tensor Gauss–Legendre rule on
    [-12, 12]² (an independent 2-D quadrature; the integrands are entire, the rule is exact to
    float64 rounding at this size)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    z, w = 12.0 * x, 12.0 * w * np.exp(-72.0 * x**2) / np.sqrt(2 * np.pi)
    z1, z2 = z[:, None], z[None, :]
    u = np.sqrt(q) * z1
    v = np.sqrt(q) * (rho * z1 + np.sqrt(1 - rho**2) * z2)
    return float(np.sum(w[:, None] * w[None, :] * fn(u) * gn(v)))


@pytest.mark.parametrize("abc", [(1.0, 1.0, 0.0), (1.0, 1.0, np.pi / 2), (1.3, 0.7, 0.4)])
@pytest.mark.parametrize("q, rho", [(0.5, 0.3), (2.0, -0.8), (4.0, 0.97), (1.0, -1e-3)])
def test_sine_dual_against_2d_gaussian_integral(abc, q, rho):
    a, b, c = abc
    act = Sine(*abc)
    e, ed, minus, plus = (float(v) for v in act.dual(q, jnp.float64(rho), 1 - rho, 1 + rho))

    def phi(x):
        return a * np.sin(b * x + c)

    def dphi(x):
        return a * b * np.cos(b * x + c)

    assert e == pytest.approx(_gauss_2d(phi, phi, q, rho), abs=1e-13)
    assert ed == pytest.approx(_gauss_2d(dphi, dphi, q, rho), abs=1e-13)
    second = _gauss_2d(phi, phi, q, 1.0)
    assert act.second_moment(q) == pytest.approx(second, abs=1e-13)
    assert minus == pytest.approx(second - e, abs=1e-13)
    assert plus == pytest.approx(second + e, abs=1e-13)
    assert minus >= 0 and plus >= 0


def test_sine_complements_keep_relative_precision_near_plus_minus_one():
    # 1 ∓ ρ' are carried as products of nonnegative factors: at ρ = ±(1 - δ) they keep full
    # relative precision where E[φ²] ∓ E[φφ] formed by subtraction would lose all digits.
    act = Sine(1.0, 1.0, 0.3)
    q = 2.0
    a2, c2 = mpmath.mpf(1), mpmath.cos(mpmath.mpf(0.6))
    for delta in [1e-6, 1e-10, 1e-14]:
        for sign in (1.0, -1.0):
            rho = sign * (1 - delta)
            om, op = (delta, 2 - delta) if sign > 0 else (2 - delta, delta)
            _, _, minus, plus = act.dual(q, jnp.float64(rho), om, op)
            r = mpmath.mpf(rho)
            ea, eb = mpmath.exp(-q * (1 - r)), mpmath.exp(-q * (1 + r))
            e = a2 / 2 * (ea - c2 * eb)
            second = a2 / 2 * (1 - c2 * mpmath.exp(-2 * q))
            assert float(minus) == pytest.approx(float(second - e), rel=1e-13)
            assert float(plus) == pytest.approx(float(second + e), rel=1e-13)


def test_sine_activation_object_and_names():
    assert mlp_kernel(2, Sine()).activation == "sin"
    assert mlp_kernel(2, Sine(c=np.pi / 2)).activation == "cos"
    k = mlp_kernel(2, Sine(2.0, 3.0, 0.5))
    assert k.activation == "sine" and k.sine == (2.0, 3.0, 0.5)
    t = np.linspace(-1, 1, 7)
    np.testing.assert_array_equal(
        mlp_kernel(2, "cos").ntk(t), mlp_kernel(2, Sine(c=np.pi / 2)).ntk(t)
    )
    x = np.linspace(-3, 3, 11)
    np.testing.assert_array_equal(Sine(c=np.pi / 2)(x), np.cos(x))
    np.testing.assert_allclose(Sine(2.0, 3.0, 0.5)(x), 2.0 * np.sin(3.0 * x + 0.5), rtol=1e-15)
    with pytest.raises(ValueError, match="nonzero a and b"):
        Sine(a=0.0)
    with pytest.raises(TypeError, match="c to be a real number"):
        Sine(c="0")
    with pytest.raises(ValueError, match="finite b"):
        Sine(b=float("inf"))


@pytest.mark.parametrize("q", [1.0, 30.0, 900.0])
def test_sine_gram_series_matches_exact(q):
    X = np.asarray(sample_sphere(jax.random.key(3), 40, 3))
    k = mlp_kernel(2, "sin", bias_var=0.1, first_layer_var=q)
    for which in ("ntk", "nngp"):
        exact = np.asarray(k.gram(X, which=which, method="exact"))
        series = np.asarray(k.gram(X, which=which, method="series"))
        np.testing.assert_allclose(series, exact, rtol=0, atol=1e-12 * k.kappa_one(which))


# ----------------------------------------------------------------------------- GH error
def _true_gh_error(quad, exact):
    """max over a t grid (with points near ±1) of |κ_GH − κ| / κ(1), NNGP and NTK."""
    near = np.logspace(-8, -1, 8)
    t = np.concatenate([np.linspace(-1, 1, 161), 1 - near, near - 1])
    err = 0.0
    for which in ("nngp", "ntk"):
        diff = np.abs(np.asarray(quad(t, which)) - np.asarray(exact(t, which)))
        err = max(err, float(diff.max()) / exact.kappa_one(which))
    return err


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(depth=1, first_layer_var=1.0, quad_order=8),
        dict(depth=3, first_layer_var=4.0, quad_order=8, bias_var=0.1),
        dict(depth=2, first_layer_var=10.0, quad_tol=1e-4),
        dict(depth=2, first_layer_var=30.0, quad_tol=0.5),
    ],
)
def test_quadrature_error_bounds_true_error_erf_callable(kwargs):
    # erf as a callable goes through Gauss–Hermite; the closed form is the truth. The order is
    # raised from the requested one until the estimate meets quad_tol, and the estimate is an
    # upper bound of the true error (measured ratios true/estimate <= 0.13).
    quad = mlp_kernel(activation=jax.scipy.special.erf, **kwargs)
    exact_kw = {k: v for k, v in kwargs.items() if k not in ("quad_order", "quad_tol")}
    exact = mlp_kernel(activation="erf", **exact_kw)
    assert quad.activation == "custom" and 0 < quad.quadrature_error <= kwargs.get("quad_tol", 1e-6)
    assert quad.quad_order >= kwargs.get("quad_order", 128)
    assert _true_gh_error(quad, exact) <= quad.quadrature_error


@pytest.mark.parametrize("q, tol", [(1.0, 1e-6), (30.0, 1e-6), (200.0, 1e-5)])
def test_quadrature_error_bounds_true_error_sin_callable(q, tol):
    # sin as a plain callable (Gauss–Hermite) against the exact sine kernel: at q = 200 the
    # Hermite rule of order 128 is accurate to ~5e-7 but orders 160..256 are far off (the rule
    # aliases sin(√q z)); the estimate must see both.
    quad = mlp_kernel(2, jnp.sin, first_layer_var=q, quad_tol=tol)
    exact = mlp_kernel(2, "sin", first_layer_var=q)
    assert _true_gh_error(quad, exact) <= quad.quadrature_error <= tol
    with pytest.raises(ValueError, match=r"q = 200 \(layer 0\).*quad_order = 256"):
        mlp_kernel(2, jnp.sin, first_layer_var=200.0, quad_order=256)


def test_quadrature_refuses_unresolvable_variance():
    # tanh at a large pre-activation variance: sech² is a spike of width 1/√q that no Hermite
    # order up to 256 resolves. Never a quiet wrong value: a ValueError naming q and the order.
    with pytest.raises(
        ValueError, match=r"tanh activation .* q = 100 \(layer 0\).*quad_order = 256.*quad_tol"
    ):
        mlp_kernel(1, "tanh", first_layer_var=100.0)
    # SIREN scale through a callable: aliasing, every order agrees on a wrong value.
    with pytest.raises(
        ValueError, match=r"custom activation .* q = 900 .*ntkspec.activations.Sine"
    ):
        mlp_kernel(1, jnp.sin, first_layer_var=900.0)
    with pytest.raises(ValueError, match="quad_tol < 1"):
        mlp_kernel(1, "tanh", quad_tol=1.0)


def test_quadrature_error_zero_for_closed_forms_and_small_for_smooth_activations():
    for act in ("relu", "erf", "identity", "sin", "cos"):
        assert mlp_kernel(2, act).quadrature_error == 0.0
    for act in ("gelu", "tanh", "softplus", "silu", "sigmoid"):
        k = mlp_kernel(2, act, bias_var=0.1)
        assert 0 < k.quadrature_error <= 1e-6 and k.quad_order in (128, 256), act


@pytest.mark.parametrize(
    "kwargs, advice",
    [
        (dict(depth=40, weight_var=1e300), r"is inf\. Lower weight_var, first_layer_var or depth"),
        (dict(depth=3, weight_var=1e-200), r"is 0\. Raise weight_var, bias_var or first_layer_var"),
        (dict(depth=2, activation="identity", weight_var=1e-300, first_layer_var=1e-100), r"Raise"),
    ],
)
def test_variance_overflow_and_vanishing_advice(kwargs, advice):
    with pytest.raises(ValueError, match=advice):
        mlp_kernel(**kwargs)


# ----------------------------------------------------------------------------- trained bias
def test_trained_bias_two_layer_relu_is_basri_kernel():
    # Basri et al. 2019: a zero-initialized trained bias in the hidden layer enters the NTK,
    # not the NNGP: NTK(t) = (t + 1) k0(t) + k1(t); with β²: (t + β²) k0(t) + k1(t).
    t = np.linspace(-1, 1, 101)
    for beta2 in (1.0, 0.3):
        k = mlp_kernel(1, trained_bias=beta2)
        np.testing.assert_allclose(
            k.ntk(t), (t + beta2) * _np_k0(t) + _np_k1(t), rtol=1e-14, atol=1e-15
        )
        np.testing.assert_allclose(k.nngp(t), _np_k1(t), rtol=1e-14, atol=1e-15)
        assert k.trained_bias == beta2 and k.kappa_one() == pytest.approx(2.0 + beta2, rel=1e-15)


def _mp_relu_trained(depth, t, beta2, sb):
    """mpmath ReLU recursion with Θ_0 = t + σ_b² + β², Θ_l += β² for l < L (docs/theory.md)."""
    t = mpmath.mpf(t)
    q, s = 1 + sb, t + sb
    th = s + beta2
    for l in range(depth):
        rho = s / q
        k0 = 1 - mpmath.acos(rho) / mpmath.pi
        k1 = (mpmath.sqrt(1 - rho**2) + rho * (mpmath.pi - mpmath.acos(rho))) / mpmath.pi
        s, sdot, q = q * k1 + sb, k0, q + sb
        th = th * sdot + s + (beta2 if l < depth - 1 else 0)
    return s, th


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_trained_bias_deep_against_mpmath(depth):
    beta2, sb = mpmath.mpf("0.5"), mpmath.mpf("0.1")
    k = mlp_kernel(depth, bias_var=0.1, trained_bias=0.5)
    plain = mlp_kernel(depth, bias_var=0.1)
    for t in T_GRID:
        nngp, ntk = _mp_relu_trained(depth, t, beta2, sb)
        assert float(k.ntk(t)) == pytest.approx(float(ntk), rel=4e-15, abs=1e-300)
        assert float(k.nngp(t)) == float(plain.nngp(t))  # the NNGP does not see β²
    # sine layers with a trained bias, against the sine mpmath recursion
    ks = mlp_kernel(depth, "sin", first_layer_var=30.0, trained_bias=0.5)
    for t in SINE_T:
        ref = float(_mp_sine(depth, t, sw0=30.0, beta2=mpmath.mpf("0.5"))[1])
        assert float(ks.ntk(t)) == pytest.approx(ref, rel=_sine_rtol(30.0, t) + depth * 4e-15)
    X = np.asarray(sample_sphere(jax.random.key(5), 30, 3))
    exact = np.asarray(k.gram(X, method="exact"))
    np.testing.assert_allclose(
        k.gram(X, method="series"), exact, rtol=0, atol=1e-12 * (depth + 1.5)
    )
    with pytest.raises(ValueError, match="trained_bias >= 0"):
        mlp_kernel(1, trained_bias=-0.1)


def test_sine_kernel_gradient_matches_closed_form_derivative():
    # d/dt NNGP of the two-layer sine net, e^{-q} sinh(qt), is q e^{-q} cosh(qt): finite and
    # right at t = ±1, at t = 0 (where the code switches between its two difference forms), and
    # at SIREN scale.
    for q in (1.0, 30.0, 900.0):
        k = mlp_kernel(1, "sin", first_layer_var=q)
        grad = jax.grad(lambda t, k=k: k.nngp(t))
        for t in (-1.0, -0.3, 0.0, 0.5, 0.999, 1.0):
            ref = q * 0.5 * (np.exp(-q * (1 - t)) + np.exp(-q * (1 + t)))
            assert float(grad(t)) == pytest.approx(ref, rel=1e-13 * (1 + q), abs=1e-300), (q, t)
