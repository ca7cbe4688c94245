"""Flax Linen / NNX and Equinox adapters: their empirical NTK equals a hand-written twin's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec import empirical_ntk, sample_sphere
from ntkspec.interop.modules import from_equinox, from_linen, from_nnx


def _reference_ntk(W1, b1, W2, b2, X):
    """Two-layer tanh net f(x) = tanh(x W1 + b1) W2 + b2 with an explicit Jacobian."""

    def f(p, x):
        return (jnp.tanh(x @ p[0] + p[1]) @ p[2] + p[3])[0]

    J = jax.vmap(jax.grad(f), in_axes=(None, 0))((W1, b1, W2, b2), X)
    flat = [np.asarray(a).reshape(len(X), -1) for a in J]
    return sum(a @ a.T for a in flat)


X = np.asarray(sample_sphere(jax.random.key(0), 12, 3))


def test_equinox():
    eqx = pytest.importorskip("equinox")
    mlp = eqx.nn.MLP(3, "scalar", 16, 1, activation=jnp.tanh, key=jax.random.key(1))
    apply_fn, params = from_equinox(mlp)
    W1, b1 = mlp.layers[0].weight.T, mlp.layers[0].bias
    W2, b2 = mlp.layers[1].weight.T, mlp.layers[1].bias
    K = np.asarray(empirical_ntk(apply_fn, params, X))
    np.testing.assert_allclose(K, _reference_ntk(W1, b1, W2, b2, X), rtol=1e-10)
    np.testing.assert_allclose(apply_fn(params, X), jax.vmap(mlp)(X), rtol=1e-12)


def test_linen():
    pytest.importorskip("flax")
    import flax.linen as nn

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            hidden = nn.Dense(16)(x)  # Dense_0
            return nn.Dense(1)(jnp.tanh(hidden))  # Dense_1

    net = Net()
    variables = net.init(jax.random.key(2), X)
    apply_fn, params = from_linen(net, variables)
    p = params
    ref = _reference_ntk(
        p["Dense_0"]["kernel"],
        p["Dense_0"]["bias"],
        p["Dense_1"]["kernel"],
        p["Dense_1"]["bias"],
        X,
    )
    # Flax keeps float32 params even under x64: float32 tolerance.
    np.testing.assert_allclose(np.asarray(empirical_ntk(apply_fn, params, X)), ref, rtol=2e-5)
    with pytest.raises(ValueError, match="params"):
        from_linen(net, {})


def test_nnx():
    pytest.importorskip("flax")
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(3, 16, rngs=rngs)
            self.l2 = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.l2(jnp.tanh(self.l1(x)))

    net = Net(nnx.Rngs(3))
    apply_fn, params = from_nnx(net)
    ref = _reference_ntk(
        net.l1.kernel[...], net.l1.bias[...], net.l2.kernel[...], net.l2.bias[...], X
    )
    # float32 params (Flax's default dtype): float32 tolerance.
    np.testing.assert_allclose(np.asarray(empirical_ntk(apply_fn, params, X)), ref, rtol=2e-5)


def test_bad_output_shape():
    eqx = pytest.importorskip("equinox")
    mlp = eqx.nn.MLP(3, 2, 8, 1, key=jax.random.key(0))
    apply_fn, params = from_equinox(mlp)
    with pytest.raises(ValueError, match="one scalar per example"):
        apply_fn(params, X)
