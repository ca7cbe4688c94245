"""Cross-checks against neural-tangents (run by `make test-nt`; skipped without it).

neural-tangents (NT) divides the first layer by the fan-in, so its kernels on √d·x equal
ntkspec's on x (docs/theory.md §2.9). x64 is on (conftest.py): kernels are compared in float64,
empirical NTKs in float32.
"""

import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec import empirical_ntk, mlp, mlp_kernel, sample_sphere, spectrum
from ntkspec.empirical import METHODS
from ntkspec.interop.neural_tangents import StaxKernel, from_stax, stax_params, to_stax

# TensorFlow (pulled in by neural-tangents) and NT itself warn on import/use with new numpy/JAX.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:tensorflow.*"),
    # NT warns on every FanInSum that it cannot verify independent branches; in the residual
    # blocks here the branch ends in a fresh Dense, so they are independent at init.
    pytest.mark.filterwarnings("ignore:.FanIn. layers assume independent inputs:UserWarning"),
]


@pytest.fixture(scope="module")
def nt():
    return pytest.importorskip("neural_tangents")


def _points(seed, n, d, dtype=np.float64):
    X = np.asarray(sample_sphere(jax.random.key(seed), n, d, dtype=jnp.float64))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(dtype)


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ----------------------------------------------------------------------------- kernels
@pytest.mark.nt
@pytest.mark.parametrize("bias_var", [0.0, 0.3])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("activation", ["relu", "erf", "gelu"])
def test_mlp_kernel_matches_stax(nt, activation, depth, bias_var):
    d = 3
    X, Y = _points(0, 9, d), _points(1, 7, d)
    k = mlp_kernel(depth, activation, bias_var=bias_var)
    *_, kernel_fn = to_stax(depth, activation, bias_var=bias_var)
    ref = kernel_fn(math.sqrt(d) * X, math.sqrt(d) * Y, ("nngp", "ntk"))
    for which, theirs in zip(("nngp", "ntk"), ref, strict=True):
        ours = k.gram(X, Y, which=which)
        assert ours.dtype == jnp.float64
        assert _rel(ours, theirs) <= 1e-6, (which, _rel(ours, theirs))
    # The symmetric Gram (diagonal exactly t = 1) agrees too.
    diag = kernel_fn(math.sqrt(d) * X, None, "ntk")
    assert _rel(k.gram(X), diag) <= 1e-6


@pytest.mark.nt
@pytest.mark.parametrize(
    "activation, kwargs",
    [
        ("relu", dict(weight_var=1.5, bias_var=0.2, first_layer_var=0.7)),
        ("erf", dict(weight_var=2.5, bias_var=0.1, first_layer_var=3.0)),
        ("gelu", dict(weight_var=1.3, first_layer_var=2.0)),
        ("identity", dict(weight_var=0.9, bias_var=0.4)),
        ("sin", dict(bias_var=0.2)),
    ],
)
def test_mlp_kernel_matches_stax_other_variances(nt, activation, kwargs):
    d = 5
    X = _points(2, 8, d)
    k = mlp_kernel(2, activation, **kwargs)
    *_, kernel_fn = to_stax(2, activation, **kwargs)
    ref = kernel_fn(math.sqrt(d) * X, None, ("nngp", "ntk"))
    assert _rel(k.gram(X, which="nngp"), ref.nngp) <= 1e-6
    assert _rel(k.gram(X, which="ntk"), ref.ntk) <= 1e-6


@pytest.mark.nt
def test_to_stax_apply_is_ntkspec_mlp_with_same_weights(nt):
    d, width = 4, 32
    for activation, bias_var in (("relu", 0.0), ("erf", 0.3), ("gelu", 0.1)):
        net = mlp(3, width, activation, bias_var=bias_var)
        params = net.init(jax.random.key(3), d)
        _, apply_fn, _ = to_stax(3, activation, bias_var=bias_var, width=width)
        X = _points(4, 6, d, np.float32)
        out = apply_fn(stax_params(params), math.sqrt(d) * X)
        assert out.shape == (6, 1)
        np.testing.assert_allclose(out[:, 0], net.apply(params, X), rtol=1e-5, atol=1e-5)


@pytest.mark.nt
def test_to_stax_init_shapes(nt):
    init_fn, apply_fn, _ = to_stax(2, width=16)
    out_shape, params = init_fn(jax.random.key(0), (-1, 3))
    assert out_shape == (-1, 1)
    shapes = jax.tree.map(np.shape, params)
    assert shapes == [((3, 16), (1, 16)), (), ((16, 16), (1, 16)), (), ((16, 1), (1, 1))]
    # stax_params converts ntkspec mlp params to exactly this structure.
    ours = stax_params(mlp(2, 16).init(jax.random.key(0), 3))
    assert jax.tree.map(np.shape, ours) == shapes
    assert apply_fn(ours, np.ones((2, 3))).shape == (2, 1)


# ----------------------------------------------------------------------------- architectures
def _nt_resnet(nt, depth, alpha, first_layer_var=1.0, branch=None, weight_var=2.0, width=8):
    """The residual MLP of ``resnet_kernel`` in stax (docs/theory.md §6.7), on √d·x.

    h_0 = σ_0 A x: ``Dense(W_std=σ_0)`` (NT's 1/√d is undone by the √d input scaling);
    block: ``FanOut(2)``, ``parallel(Identity, Dense(W_std=1) → φ → Dense(W_std=α·σ_w))``,
    ``FanInSum`` (h + α m^{-1/2} V √σ_w² φ(m^{-1/2} W h)); readout ``Dense(1, W_std=1)``.
    """
    from neural_tangents import stax

    phi = stax.Relu() if branch is None else branch
    blocks = [
        stax.serial(
            stax.FanOut(2),
            stax.parallel(
                stax.Identity(),
                stax.serial(
                    stax.Dense(width, W_std=1.0),
                    phi,
                    stax.Dense(width, W_std=alpha * math.sqrt(weight_var)),
                ),
            ),
            stax.FanInSum(),
        )
        for _ in range(depth)
    ]
    layers = [stax.Dense(width, W_std=math.sqrt(first_layer_var)), *blocks, stax.Dense(1)]
    return stax.serial(*layers)


@pytest.mark.nt
@pytest.mark.parametrize(
    "depth, alpha, first_layer_var",
    [(1, 0.7, 1.0), (3, 0.7, 1.0), (1, "1/sqrt(L)", 1.0), (3, "1/sqrt(L)", 1.0), (3, 1.0, 1.5)],
)
def test_resnet_kernel_matches_stax_residual_blocks(nt, depth, alpha, first_layer_var):
    """resnet_kernel = NT's FanOut(2)/parallel(Identity, branch)/FanInSum network, NNGP and NTK,
    on S^2 (√d·x for NT), float64, 1e-6 relative (both are closed forms)."""
    from ntkspec.architectures import resnet_kernel, resolve_alpha

    d = 3
    X, Y = _points(11, 9, d), _points(12, 6, d)
    k = resnet_kernel(depth, alpha, first_layer_var=first_layer_var)
    a = resolve_alpha(alpha, depth)[0]
    *_, kernel_fn = _nt_resnet(nt, depth, a, first_layer_var)
    for args in ((X, Y), (X,)):
        ref = kernel_fn(*(math.sqrt(d) * Z for Z in args), *((None,) if len(args) == 1 else ()),
                        ("nngp", "ntk"))  # fmt: skip
        for which, theirs in zip(("nngp", "ntk"), ref, strict=True):
            ours = k.gram(*args, which=which)
            assert ours.dtype == jnp.float64
            assert _rel(ours, theirs) <= 1e-6, (which, _rel(ours, theirs))
    # α = 1/√L: the same kernel as the explicit float α.
    if alpha == "1/sqrt(L)":
        np.testing.assert_array_equal(k.gram(X), resnet_kernel(depth, a).gram(X))


@pytest.mark.nt
def test_resnet_kernel_with_sine_branch_matches_stax(nt):
    from neural_tangents import stax

    from ntkspec.architectures import resnet_kernel

    d = 4
    X = _points(13, 8, d)
    k = resnet_kernel(2, 0.6, "sin", first_layer_var=2.0)
    *_, kernel_fn = _nt_resnet(nt, 2, 0.6, 2.0, branch=stax.Sin(), weight_var=1.0)
    ref = kernel_fn(math.sqrt(d) * X, None, ("nngp", "ntk"))
    assert _rel(k.gram(X, which="nngp"), ref.nngp) <= 1e-6
    assert _rel(k.gram(X, which="ntk"), ref.ntk) <= 1e-6


def _nt_sine_mlp(nt, depth, abc, weight_var, first_layer_var, width=8):
    """MLP with stax.Sin(a, b, c) = a·sin(b·u + c) layers, on √d·x."""
    from neural_tangents import stax

    layers = [stax.Dense(width, W_std=math.sqrt(first_layer_var))]
    for l in range(depth):
        out = 1 if l == depth - 1 else width
        layers += [stax.Sin(*abc), stax.Dense(out, W_std=math.sqrt(weight_var))]
    return stax.serial(*layers)


@pytest.mark.nt
@pytest.mark.parametrize(
    "depth, abc, weight_var, first_layer_var",
    [
        (1, (1.0, 1.0, 0.0), 1.0, 1.0),
        (2, (1.0, 1.0, 0.0), 2.0, 900.0),  # SIREN scale, ω0 = 30
        (2, (0.7, 1.3, 0.4), 1.5, 2.0),  # a general a·sin(b·u + c)
        (3, (1.0, 1.0, math.pi / 2), 1.0, 1.0),  # cos
    ],
)
def test_sine_kernels_match_stax_sin(nt, depth, abc, weight_var, first_layer_var):
    """NT's Sin(a, b, c) is a·sin(b·x + c): ntkspec's Sine(a, b, c) MLP kernel (and
    siren_kernel at ω0 = 30) agree with it in float64 to 1e-6 relative."""
    from ntkspec.activations import Sine
    from ntkspec.architectures import siren_kernel

    d = 3
    X, Y = _points(14, 9, d), _points(15, 7, d)
    k = mlp_kernel(depth, Sine(*abc), weight_var, first_layer_var=first_layer_var)
    if abc == (1.0, 1.0, 0.0) and weight_var == 2.0:
        assert siren_kernel(depth, math.sqrt(first_layer_var)) == k
    *_, kernel_fn = _nt_sine_mlp(nt, depth, abc, weight_var, first_layer_var)
    ref = kernel_fn(math.sqrt(d) * X, math.sqrt(d) * Y, ("nngp", "ntk"))
    for which, theirs in zip(("nngp", "ntk"), ref, strict=True):
        assert _rel(k.gram(X, Y, which=which), theirs) <= 1e-6, which
    diag = kernel_fn(math.sqrt(d) * X, None, "ntk")
    assert _rel(k.gram(X), diag) <= 1e-6


def _fourier_features(key, X, M, beta):
    """γ(x) = M^{-1/2}[cos(B x), sin(B x)], B (M, d) with N(0, β) entries; unit norm."""
    B = math.sqrt(beta) * np.asarray(jax.random.normal(key, (M, X.shape[1]), jnp.float64))
    Z = X @ B.T
    return np.concatenate([np.cos(Z), np.sin(Z)], axis=1) / math.sqrt(M)


@pytest.mark.nt
@pytest.mark.parametrize("inner_name", ["none", "mlp2", "resnet2"])
def test_fourier_features_match_stax_on_encoded_inputs(nt, inner_name):
    """Fourier features: (1) exact — NT's network on finite encoded inputs √(2M)·γ(x) equals
    ntkspec's inner kernel at the same finite features, ``inner.gram(γ(X), γ(Y))``, to 1e-6;
    (2) Monte Carlo — ``fourier_kernel(β, inner)`` (M → ∞) differs from it by at most
    κ'(s̄)·|s_M − s_∞| per pair with |s| <= s̄ <= 0.9, where s_M = <γ(x), γ(y)>, s_∞ = e^{−β(1−t)} and
    |s_M − s_∞| <= ε = √(2 ln(2·pairs/δ)/M) (Hoeffding, cos ∈ [−1, 1]: this fails with
    probability <= δ = 1e-9 over the frequencies B for any seed)."""
    from neural_tangents import stax

    from ntkspec.architectures import fourier_kernel, resnet_kernel

    d, M, beta = 3, 4096, 4.0
    X, Y = _points(16, 10, d), _points(17, 8, d)
    GX, GY = (_fourier_features(jax.random.key(18), Z, M, beta) for Z in (X, Y))
    if inner_name == "none":  # depth 0: a linear readout on the features
        inner, net = None, stax.Dense(1)
    elif inner_name == "mlp2":
        inner, net = mlp_kernel(2), to_stax(2)
    else:
        inner, net = resnet_kernel(2, 0.5), _nt_resnet(nt, 2, 0.5)
    kernel_fn = net[2]
    fan_in = 2 * M  # NT divides the first layer by the fan-in 2M
    ref = kernel_fn(math.sqrt(fan_in) * GX, math.sqrt(fan_in) * GY, ("nngp", "ntk"))
    s_M = GX @ GY.T
    t = np.clip(X @ Y.T, -1, 1)
    s_inf = np.exp(-beta * (1 - t))
    eps = math.sqrt(2 * math.log(2 * s_M.size / 1e-9) / M)
    assert np.abs(s_M - s_inf).max() <= eps  # Hoeffding (probability >= 1 - 1e-9)
    # Pairs away from s = 1 (where the ReLU NTK's slope is infinite): |s| <= s̄ < 1 on them.
    keep = np.abs(s_inf) + eps <= 0.9
    assert keep.mean() >= 0.5
    s_bar = float(np.abs(s_inf[keep]).max()) + eps
    ff = fourier_kernel(beta, inner)
    for which, theirs in zip(("nngp", "ntk"), ref, strict=True):
        theirs = np.asarray(theirs)
        exact = s_M if inner is None else np.asarray(inner.gram(GX, GY, which=which))
        assert _rel(exact, theirs) <= 1e-6, which
        # κ' of a kernel with nonnegative Taylor coefficients is largest at the largest |s|.
        slope = 1.0 if inner is None else float(jax.grad(lambda s, w=which: inner(s, w))(s_bar))
        bound = slope * np.abs(s_M - s_inf) + 1e-6 * np.abs(theirs).max()
        infinite = np.asarray(ff.gram(X, Y, which=which))
        assert np.all((np.abs(infinite - theirs) <= bound)[keep]), which
        # the typical gap is Monte-Carlo sized, not zero: the comparison can fail
        assert 0 < np.abs(infinite - theirs)[keep].max() <= slope * eps


# ----------------------------------------------------------------------------- empirical NTK
def _nt_empirical(nt, f, params, X1, X2, implementation):
    fn = nt.empirical_ntk_fn(f, trace_axes=(), implementation=implementation)
    K = np.asarray(fn(X1, X2, params))
    return K.reshape(X1.shape[0], X2.shape[0])


@pytest.mark.nt
@pytest.mark.parametrize("bias_var", [0.0, 0.2])
@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_empirical_ntk_matches_nt_on_mlp(nt, activation, bias_var):
    d = 3
    net = mlp(2, 48, activation, bias_var=bias_var)
    params = net.init(jax.random.key(5), d)
    X1, X2 = _points(6, 10, d, np.float32), _points(7, 6, d, np.float32)

    def f(p, x):  # NT's apply as a function of ntkspec params
        return net.apply(p, x)

    _, stax_apply, _ = to_stax(2, activation, bias_var=bias_var, width=48)
    sp = stax_params(params)
    for implementation in (1, 2):
        ref = _nt_empirical(nt, f, params, X1, X2, implementation)
        # The same kernel through the stax network on √d·x and converted params.
        via_stax = _nt_empirical(
            nt, stax_apply, sp, math.sqrt(d) * X1, math.sqrt(d) * X2, implementation
        )
        assert _rel(via_stax, ref) <= 1e-5
        for method in METHODS:
            ours = empirical_ntk(net.apply, params, X1, X2, method=method)
            assert ours.dtype == jnp.float32
            assert _rel(ours, ref) <= 1e-5, (implementation, method, _rel(ours, ref))


def _resnet_init(key, d, width, blocks):
    keys = jax.random.split(key, 2 * blocks + 2)
    return {
        "w_in": jax.random.normal(keys[0], (d, width), jnp.float32),
        "blocks": [
            (
                jax.random.normal(keys[2 * i + 1], (width, width), jnp.float32),
                jax.random.normal(keys[2 * i + 2], (width, width), jnp.float32),
            )
            for i in range(blocks)
        ],
        "w_out": jax.random.normal(keys[-1], (width,), jnp.float32),
    }


def _resnet_apply(params, X):
    """A residual tanh network with layer norm-free skip connections, scalar output (n,)."""
    width = params["w_out"].shape[0]
    s = 1.0 / math.sqrt(width)
    h = X @ params["w_in"]
    for w1, w2 in params["blocks"]:
        h = h + 0.5 * s * (jnp.tanh(s * (h @ w1)) @ w2)
    return s * (jax.nn.gelu(h) @ params["w_out"])


@pytest.mark.nt
def test_empirical_ntk_matches_nt_on_residual_net(nt):
    d = 4
    params = _resnet_init(jax.random.key(8), d, 24, 2)
    X1, X2 = _points(9, 9, d, np.float32), _points(10, 5, d, np.float32)
    for implementation in (1, 2):
        ref = _nt_empirical(nt, _resnet_apply, params, X1, X2, implementation)
        for method in ("auto", "jacobian", "ntk_vp"):
            ours = empirical_ntk(_resnet_apply, params, X1, X2, method=method)
            assert _rel(ours, ref) <= 1e-5, (implementation, method, _rel(ours, ref))
        sym = empirical_ntk(_resnet_apply, params, X1)
        ref_sym = _nt_empirical(nt, _resnet_apply, params, X1, X1, implementation)
        assert _rel(sym, ref_sym) <= 1e-5


# ----------------------------------------------------------------------------- from_stax
def _spectra_agree(native, theirs, rtol):
    lam, ref = theirs.eigenvalues, native.eigenvalues
    keep = np.abs(ref) >= 1e-6 * np.max(np.abs(ref))
    rel = np.abs(lam - ref)[keep] / np.abs(ref[keep])
    assert rel.max() <= rtol, rel.max()
    # Below that threshold the two agree to the quadrature's absolute floor.
    assert np.max(np.abs(lam - ref)) <= 1e-14 * np.max(np.abs(ref))
    assert theirs.trace == pytest.approx(native.trace, rel=1e-13)


@pytest.mark.nt
@pytest.mark.parametrize(
    "dim, depth, activation, bias_var, which",
    [
        (3, 1, "relu", 0.0, "ntk"),
        (3, 3, "relu", 0.0, "nngp"),
        (2, 2, "relu", 0.5, "ntk"),
        (3, 2, "erf", 0.2, "ntk"),
        (4, 3, "erf", 0.0, "nngp"),  # odd kernel: λ_even = 0
        (5, 2, "gelu", 0.1, "ntk"),
    ],
)
def test_spectrum_of_from_stax_equals_native(nt, dim, depth, activation, bias_var, which):
    *_, kernel_fn = to_stax(depth, activation, bias_var=bias_var)
    kappa = from_stax(kernel_fn, dim, which=which)
    assert isinstance(kappa, StaxKernel)
    theirs = spectrum(kappa, dim, kmax=24)
    native = spectrum(mlp_kernel(depth, activation, bias_var=bias_var), dim, 24, which)
    assert theirs.kernel == "custom"
    _spectra_agree(native, theirs, rtol=2e-11)  # measured: <= 5.3e-12


@pytest.mark.nt
def test_from_stax_exact_two_layer_relu(nt):
    """docs/theory.md §2.9: stax Dense(W_std=√2)-Relu-Dense on √d·x is t k0 + k1; λ on S^2 exact."""
    from neural_tangents import stax

    *_, kernel_fn = stax.serial(stax.Dense(8, W_std=2**0.5), stax.Relu(), stax.Dense(1))
    kappa = from_stax(kernel_fn, 3)
    assert kappa.kappa_one() == pytest.approx(2.0, rel=1e-15)
    assert kappa(np.zeros((2, 3))).shape == (2, 3)
    # A jitted kernel_fn (NT's advice) gives the same values.
    jitted = from_stax(jax.jit(kernel_fn, static_argnames="get"), 3)
    t = np.linspace(-1.0, 1.0, 33)
    np.testing.assert_allclose(jitted(t), kappa(t), rtol=1e-14, atol=1e-15)
    lam = spectrum(kappa, 3, kmax=6).eigenvalues
    exact = [1 / 2, 1 / 3, 5 / 64, 0, 1 / 192, 0, 23 / 16384]
    np.testing.assert_allclose(lam, exact, rtol=1e-12, atol=1e-15)


@pytest.mark.nt
def test_from_stax_rejects_non_zonal_kernels(nt):
    d = 3
    w = np.array([1.0, 2.0, 0.5])

    def anisotropic(x1, x2, get):  # <x, W x'>/d: depends on more than <x, x'>
        return (x1 * w) @ x2.T / d

    with pytest.raises(ValueError, match="zonal"):
        from_stax(anisotropic, d)
    from_stax(anisotropic, d, check=False)  # the check can be skipped

    def asymmetric(x1, x2, get):
        return (x1 @ x2.T / d) + 0.1 * x1[:, :1] - 0.1 * x2[:, :1].T

    with pytest.raises(ValueError, match="zonal|symmetric"):
        from_stax(asymmetric, d)


@pytest.mark.nt
def test_from_stax_bad_inputs(nt):
    from neural_tangents import stax

    *_, kernel_fn = stax.serial(stax.Conv(4, (3, 3)), stax.Relu(), stax.Flatten(), stax.Dense(1))
    with pytest.raises(ValueError, match=r"inputs of shape \(n, 3\)"):
        from_stax(kernel_fn, 3)
    *_, kernel_fn = to_stax(1)
    with pytest.raises(ValueError, match="which"):
        from_stax(kernel_fn, 3, which="both")
    with pytest.raises(ValueError, match="dim"):
        from_stax(kernel_fn, 1)
    with pytest.raises(TypeError, match="kernel_fn"):
        from_stax("relu", 3)

    def nan_kernel(x1, x2, get):
        return jnp.full((x1.shape[0], x2.shape[0]), jnp.nan)

    with pytest.raises(ValueError, match="finite"):
        from_stax(nan_kernel, 3)


@pytest.mark.nt
def test_to_stax_validates_like_mlp_kernel(nt):
    with pytest.raises(ValueError, match="activation"):
        to_stax(2, "swish-ish")
    with pytest.raises(ValueError, match="depth"):
        to_stax(0)
    with pytest.raises(ValueError, match="width"):
        to_stax(1, width=0)


# ----------------------------------------------------------------------------- no NT
def test_clear_import_error_without_neural_tangents(monkeypatch):
    monkeypatch.setitem(sys.modules, "neural_tangents", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'ntkspec\[nt\]'"):
        to_stax(2)
