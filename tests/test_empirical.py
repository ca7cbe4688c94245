import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from ntkspec import _compat
from ntkspec.empirical import empirical_ntk
from ntkspec.models import mlp
from ntkspec.sphere import sample_sphere

METHODS = ("jacobian", "ntk_vp", "structured")


def _reference_ntk(apply_fn, params, X1, X2):
    """Independent reference in float64: the full (n, P) Jacobian of the raveled parameters."""
    with _compat.enable_x64():
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        flat, unravel = ravel_pytree(params)

        @jax.jit
        def jac(v, X):
            return jax.jacfwd(lambda u: apply_fn(unravel(u), X))(v)

        J1 = jac(flat, jnp.asarray(X1, jnp.float64))
        J2 = jac(flat, jnp.asarray(X2, jnp.float64))
        return np.asarray(J1) @ np.asarray(J2).T


def _resnet(d, m):
    """A tiny residual tanh net (not an mlp): one skip connection, a scalar gain leaf."""

    def init(key):
        k = jax.random.split(key, 4)
        return {
            "w_in": jax.random.normal(k[0], (d, m)),
            "res": {"w": jax.random.normal(k[1], (m, m)), "b": jax.random.normal(k[2], (m,))},
            "w_out": jax.random.normal(k[3], (m,)),
            "gain": jnp.asarray(0.7),
        }

    def apply(p, X):
        h = jnp.tanh(X @ p["w_in"] / math.sqrt(d))
        h = h + p["gain"] * jnp.tanh(h @ p["res"]["w"] / math.sqrt(m) + p["res"]["b"])
        return h @ p["w_out"] / math.sqrt(m)

    return init, apply


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def _tol(x):
    """Agreement tolerance for the dtype of x (the tests also run with JAX x64 off)."""
    return 1e-10 if jnp.asarray(x).dtype == jnp.float64 else 1e-5


_MLPS = [
    (dict(depth=2, width=24, activation="relu"), (None, 3)),  # 3 divides neither 7 nor 5
    (dict(depth=1, width=24, activation="erf", bias_var=0.3), (None,)),
]  # (config, block sizes)


@pytest.mark.parametrize("cfg, block_sizes", _MLPS, ids=["relu-2", "erf-1-bias"])
def test_methods_agree_on_mlp_float32(cfg, block_sizes):
    # float32 rounding: each entry is a sum of O(P) products, relative error ~1e-7·√depth.
    # (The centered variant is checked in float64 below and in test_models.)
    net = mlp(**cfg)
    p = net.init(jax.random.key(0), 3)
    X1 = sample_sphere(jax.random.key(1), 7, 3, dtype=jnp.float32)
    X2 = sample_sphere(jax.random.key(2), 5, 3, dtype=jnp.float32)
    ref_sym = _reference_ntk(net.apply, p, X1, X1)
    ref = _reference_ntk(net.apply, p, X1, X2)
    for method in METHODS:
        for bs in block_sizes:
            K = empirical_ntk(net.apply, p, X1, method=method, block_size=bs)
            assert K.shape == (7, 7) and K.dtype == jnp.float32
            assert _rel(K, ref_sym) < 1e-5, (method, bs)
        K12 = empirical_ntk(net.apply, p, X1, X2, method=method, block_size=block_sizes[-1])
        assert K12.shape == (7, 5)
        assert _rel(K12, ref) < 1e-5, method
    # The MLP itself may stand in for its apply function (same structured path).
    np.testing.assert_array_equal(
        empirical_ntk(net, p, X1, X2), empirical_ntk(net.apply, p, X1, X2)
    )


def test_methods_agree_on_mlp_float64():
    with _compat.enable_x64():
        kw = dict(bias_var=0.2, first_layer_var=1.5, dtype=jnp.float64)
        net = mlp(2, 20, "tanh", **kw)
        p = net.init(jax.random.key(0), 4)
        X1 = sample_sphere(jax.random.key(1), 6, 4, dtype=jnp.float64)
        X2 = sample_sphere(jax.random.key(2), 4, 4, dtype=jnp.float64)
        ref = _reference_ntk(net.apply, p, X1, X2)
        for method in METHODS:
            K = empirical_ntk(net.apply, p, X1, X2, method=method)
            assert K.dtype == jnp.float64
            assert _rel(K, ref) < 1e-10, method
        # Centered: the kernels of the two (identical) copies are averaged.
        centered = mlp(2, 20, "tanh", centered=True, **kw)
        K = empirical_ntk(centered.apply, (p, p), X1, X2, method="structured")
        assert _rel(K, ref) < 1e-10


@pytest.mark.parametrize("dtype, tol", [(jnp.float32, 1e-5), (jnp.float64, 1e-10)])
def test_methods_agree_on_residual_net(dtype, tol):
    with _compat.enable_x64():
        init, apply = _resnet(3, 16)
        p = jax.tree.map(lambda a: a.astype(dtype), init(jax.random.key(0)))
        X1 = sample_sphere(jax.random.key(1), 7, 3, dtype=dtype)
        X2 = sample_sphere(jax.random.key(2), 5, 3, dtype=dtype)
        ref = _reference_ntk(apply, p, X1, X2)
        for method in ("jacobian", "ntk_vp", "auto"):
            K = empirical_ntk(apply, p, X1, X2, method=method, block_size=3)
            assert K.dtype == dtype
            assert _rel(K, ref) < tol, method
        with pytest.raises(TypeError, match="structured"):
            empirical_ntk(apply, p, X1, method="structured")


def test_jacobian_diagonal_block_in_row_slices():
    """A diagonal block of >= 256 rows is contracted in 4 uneven row slices (i <= j only)."""
    with _compat.enable_x64():
        init, apply = _resnet(3, 8)
        p = jax.tree.map(lambda a: a.astype(jnp.float64), init(jax.random.key(3)))
        X = sample_sphere(jax.random.key(4), 258, 3, dtype=jnp.float64)  # slices 64/65/64/65
        K = empirical_ntk(apply, p, X, method="jacobian")
        assert _rel(K, _reference_ntk(apply, p, X, X)) < 1e-12
        np.testing.assert_array_equal(K, K.T)


def test_linear_model_closed_form():
    # f(θ, x) = <θ, x>: the NTK is exactly the Gram <x, x'>, for any inputs (no sphere needed).
    X = jax.random.normal(jax.random.key(0), (9, 4))
    theta = jnp.ones(4)
    ref = np.asarray(X, np.float64) @ np.asarray(X, np.float64).T
    for method in ("jacobian", "ntk_vp"):
        assert _rel(empirical_ntk(lambda t, x: x @ t, theta, X, method=method), ref) < _tol(X)


def test_gram_is_exactly_symmetric_and_psd():
    net = mlp(2, 32, "relu", bias_var=0.1)
    p = net.init(jax.random.key(3), 3)
    X = sample_sphere(jax.random.key(4), 11, 3, dtype=jnp.float32)
    # block_size 4: diagonal blocks, off-diagonal blocks mirrored, a padded last block.
    for method, bs in [("structured", 4), ("jacobian", None), ("ntk_vp", None)]:
        K = np.asarray(empirical_ntk(net.apply, p, X, method=method, block_size=bs))
        np.testing.assert_array_equal(K, K.T)
        eig = np.linalg.eigvalsh(K.astype(np.float64))
        assert eig.min() > -1e-5 * eig.max(), method
    # X2 = X1 passed explicitly takes the unsymmetrized path and agrees to rounding.
    assert _rel(empirical_ntk(net.apply, p, X, X), K) < 1e-5


def test_trailing_input_shape():
    # Generic models may take inputs of any trailing shape (here (n, 2, 3), flattened inside).
    X = jax.random.normal(jax.random.key(0), (5, 2, 3))
    w = jax.random.normal(jax.random.key(1), (6,))

    def apply(w, X):
        return jnp.sin(X.reshape(len(X), -1) @ w)

    ref = _reference_ntk(apply, w, X, X)
    assert _rel(empirical_ntk(apply, w, X), ref) < _tol(X)


def test_rejects_bad_inputs():
    net = mlp(1, 8)
    p = net.init(jax.random.key(0), 3)
    X = sample_sphere(jax.random.key(1), 4, 3, dtype=jnp.float32)
    with pytest.raises(ValueError, match="method to be one of"):
        empirical_ntk(net.apply, p, X, method="exact")
    with pytest.raises(ValueError, match="block_size >= 1"):
        empirical_ntk(net.apply, p, X, block_size=0)
    with pytest.raises(ValueError, match=r"X1 of shape \(n, d\)"):
        empirical_ntk(net.apply, p, X[0])
    with pytest.raises(ValueError, match=r"X2 of shape \(n, 3\)"):
        empirical_ntk(net.apply, p, X, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN/inf at row 2"):
        empirical_ntk(net.apply, p, X.at[2, 0].set(jnp.nan))
    with pytest.raises(TypeError, match="real array"):
        empirical_ntk(net.apply, p, X.astype(jnp.complex64))
    with pytest.raises(TypeError, match="apply_fn"):
        empirical_ntk("net", p, X)
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        empirical_ntk(lambda q, x: net.apply(q, x)[:, None], p, X, method="jacobian")
    with pytest.raises(ValueError, match="layer 0"):
        empirical_ntk(mlp(1, 9).apply, p, X, method="structured")


_SHARDED_SCRIPT = r"""
import jax, numpy as np
from jax.sharding import Mesh
from ntkspec import empirical_ntk, mlp, sample_sphere
assert jax.device_count() == 4, jax.devices()
net = mlp(2, 64, bias_var=0.1)
params = net.init(jax.random.key(0), 3)
X = sample_sphere(jax.random.key(1), 37, 3)  # 37: not a multiple of the 4 devices
Y = sample_sphere(jax.random.key(2), 11, 3)
one = Mesh(np.array(jax.devices()[:1]), ("rows",))
for method in ("structured", "jacobian", "ntk_vp"):
    for args in ((X,), (X, Y)):
        ref = np.asarray(empirical_ntk(net.apply, params, *args, method=method, mesh=one))
        auto = np.asarray(empirical_ntk(net.apply, params, *args, method=method, block_size=8))
        np.testing.assert_allclose(auto, ref, rtol=1e-6, atol=1e-6)
print("ok")
"""


def test_sharded_rows_on_four_host_devices():
    """Rows sharded over 4 forced host devices give the single-device Gram (float32 rounding)."""
    import os
    import subprocess
    import sys

    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", _SHARDED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
