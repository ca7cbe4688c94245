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
