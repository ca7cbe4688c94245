import jax.numpy as jnp
import mpmath
import numpy as np
import optax
import pytest

from ntkspec._compat import enable_x64
from ntkspec.optimizers import (
    adam,
    companion_sequence,
    flow,
    gd,
    momentum,
    nesterov,
    sgd,
)


def _optax_scalar(opt, mu, steps):
    """θ_t of the optax transform on L(θ) = μθ²/2 from θ_0 = 1: the residual r = θ."""
    with enable_x64():
        theta = jnp.asarray(1.0, dtype=jnp.float64)
        state = opt.transform.init(theta)
        out = [1.0]
        for _ in range(steps):
            updates, state = opt.transform.update(mu * theta, state, theta)
            theta = optax.apply_updates(theta, updates)
            out.append(float(theta))
    return np.asarray(out)


_BETA = 0.9
_DOUBLE = (1 - np.sqrt(_BETA)) ** 2  # ημ at the lower double root of heavy ball


@pytest.mark.parametrize(
    "make", [gd, lambda lr: momentum(lr, _BETA), lambda lr: nesterov(lr, _BETA)]
)
@pytest.mark.parametrize("x", [1e-4, _DOUBLE, 0.3, 1.0, 1.7, 1.02])
def test_transfer_is_exact_for_the_optax_transform(make, x):
    # The transfer must be *the* optax recursion, not a textbook variant of it.
    opt = make(0.5)
    mu = x / opt.lr
    ref = _optax_scalar(opt, mu, 60)
    h = opt.transfer([mu], np.arange(61))[:, 0]
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(ref).max()))


def _mp_sequence(a, b, beta, T):
    mpmath.mp.dps = 40
    a, b, beta = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(beta)
    r = [mpmath.mpf(1), a - beta]
    for _ in range(T - 1):
        r.append(a * r[-1] - b * r[-2])
    return np.array([float(v) for v in r])


@pytest.mark.parametrize("beta", [0.5, 0.99])
@pytest.mark.parametrize("where", ["small", "lower-double", "complex", "upper-double", "large"])
def test_two_step_closed_form_against_mpmath(beta, where):
    lo, hi = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2
    x = {
        "small": 1e-7,
        "lower-double": lo,
        "complex": 1.0,
        "upper-double": hi,
        "large": 1.98 * (1 + beta),
    }[where]
    T = 2000
    t = np.arange(T + 1)
    h = momentum(1.0, beta).transfer([x], t)[:, 0]
    ref = _mp_sequence(1 + beta - x, beta, beta, T)
    # Relative to the envelope max(|r_t|, ρ^t) (oscillating sequences cross zero). The closed
    # form loses O(t ε) through the powers and a factor <= 1/(1 − β) in r_t = U_t − β U_{t−1}
    # (U_t ~ r_t/(1 − β) when one root is near 1): bound 4 ε T/(1 − β) (<= 2e-10 here).
    rho = np.max(np.abs(np.roots([1.0, -(1 + beta - x), beta])))
    env = np.maximum(np.abs(ref), rho ** t.astype(float))
    assert np.max(np.abs(h - ref) / env) < 4 * np.finfo(float).eps * T / (1 - beta)


def test_double_root_is_continuous():
    beta = 0.81
    x0 = (1 - np.sqrt(beta)) ** 2
    t = np.arange(0, 500, 7)
    vals = [momentum(1.0, beta).transfer([x0 * (1 + e)], t)[:, 0] for e in (-1e-9, 0.0, 1e-9)]
    np.testing.assert_allclose(vals[0], vals[1], rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(vals[2], vals[1], rtol=1e-6, atol=1e-15)
    # U_t at a double root z is (t + 1) z^t.
    np.testing.assert_allclose(
        companion_sequence([1.0], [0.25], t)[:, 0], (t + 1) * 0.5**t, rtol=1e-13
    )


def test_large_t_neither_overflows_nor_warns():
    h = momentum(0.1, 0.9).transfer([1e-3, 1.0, 30.0], [10**6, 10**9])
    assert np.isfinite(h).all() and np.abs(h).max() < 1e-30
    assert nesterov(0.1, 0.9).transfer([1e-3], [10**12])[0, 0] == 0.0


def _spectral_radius(opt, x):
    b = opt.beta
    if opt.name == "momentum":
        C = [[1 - x, -b], [x, b]]
    else:
        C = [[1 - (1 + b) * x, -b * b], [x, b]]
    return np.abs(np.linalg.eigvals(np.asarray(C))).max()


@pytest.mark.parametrize("make", [momentum, nesterov])
@pytest.mark.parametrize("beta", [0.0, 0.5, 0.95])
def test_stability_limit_is_where_the_companion_matrix_leaves_the_unit_disc(make, beta):
    opt = make(1.0, beta)
    mu_max = 2.5
    limit = opt.max_stable_lr(mu_max)
    x = limit * mu_max
    assert _spectral_radius(opt, x * (1 - 1e-6)) < 1 < _spectral_radius(opt, x * (1 + 1e-6))
    assert gd(1.0).max_stable_lr(mu_max) == pytest.approx(2 / mu_max)


def test_flow_and_sgd_transfers():
    t = np.array([0, 3, 10])
    np.testing.assert_allclose(flow(0.5).transfer([2.0], t)[:, 0], np.exp(-1.0 * t), rtol=1e-15)
    np.testing.assert_array_equal(sgd(0.5, 4).transfer([1.0], t), gd(0.5).transfer([1.0], t))
    assert flow(0.5).transform is None and flow(1.0).max_stable_lr(10.0) == np.inf


def test_adam_has_no_linear_transfer():
    opt = adam(1e-3)
    assert opt.transfer is None
    assert opt.to_dict() == {"name": "adam", "lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
    with pytest.raises(ValueError, match="no linear transfer"):
        opt.max_stable_lr(1.0)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: gd(0.0), ValueError, r"lr > 0"),
        (lambda: momentum(0.1, 1.0), ValueError, r"beta in \[0, 1\)"),
        (lambda: nesterov(0.1, -0.1), ValueError, r"beta >= 0"),
        (lambda: sgd(0.1, 0), ValueError, r"batch_size >= 1"),
        (lambda: sgd(0.1, 2, replace=1), TypeError, r"replace to be a bool"),
        (lambda: adam(0.1, eps=0.0), ValueError, r"eps > 0"),
    ],
)
def test_constructors_refuse_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()
