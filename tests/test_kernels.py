import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import integrate

from ntkspec import mlp_kernel, sample_sphere
from ntkspec.kernels import relu_k0, relu_k1

mpmath.mp.dps = 50


def _np_k0(t):
    return 1 - np.arccos(t) / np.pi


def _np_k1(t):
    return (np.sqrt(1 - t**2) + t * (np.pi - np.arccos(t))) / np.pi


def _mp_relu(depth, t, sw=2, sb=0, sw0=1):
    """Reference recursion in mpmath (THEORY.md §2), returns (nngp, ntk)."""
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
    """The Chebyshev-in-√(1-|t|) evaluation equals the layer recursion: to 1e-13·κ(1) with
    float64 points (the 2⁻⁴⁸ fit), to float32 rounding with float32 points."""
    X = np.asarray(sample_sphere(jax.random.key(3), 24, 4, dtype=jnp.float32), dtype=np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = X[:9] @ np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
    X32 = jnp.asarray(X, dtype=jnp.float32)
    for which in ("ntk", "nngp"):
        scale = kernel.kappa_one(which)
        for args in ((X,), (X, Y)):
            exact = np.asarray(kernel.gram(*args, which=which, method="exact"))
            series = np.asarray(kernel.gram(*args, which=which, method="series"))
            assert np.abs(series - exact).max() <= 1e-13 * scale
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
    # float32: the series; float64 closed forms: the recursion; quadrature activations: series.
    np.testing.assert_array_equal(relu.gram(X32), relu.gram(X32, method="series"))
    np.testing.assert_array_equal(relu.gram(X), relu.gram(X, method="exact"))
    np.testing.assert_array_equal(tanh.gram(X), tanh.gram(X, method="series"))
    # A fit that does not converge within the node budget falls back to the recursion.
    monkeypatch.setattr(kernels, "_SERIES_MAX_NODES", 16)
    kernels._series_coefficients.cache_clear()
    try:
        np.testing.assert_array_equal(relu.gram(X32), relu.gram(X32, method="exact"))
    finally:
        kernels._series_coefficients.cache_clear()
    with pytest.raises(ValueError, match="method"):
        relu.gram(X, method="chebyshev")


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
