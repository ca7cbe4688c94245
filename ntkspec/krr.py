"""Kernel ridge regression on the sphere, measured: test error per degree over random draws.

The Monte-Carlo counterpart of :mod:`ntkspec.generalization` (kept apart: that module is
theory from a spectrum, this one samples data and solves linear systems). Each trial draws

- ``max(n)`` training points and ``test_points`` held-out points uniform on S^{d-1};
- a target ``f* = Σ_k A_k h_k`` with independent random unit-norm harmonics ``h_k`` of degree
  k (:func:`ntkspec.sphere.random_harmonic`) and ``A_k = sqrt(v_k²)``;
- labels ``y = f*(X) + ε``, ``ε ~ N(0, noise)``;

then fits ``f̂ = K(·, X_n)(K_n + δ I)^{-1} y_n`` on the first n training points for every n
(nested samples) and records, on the held-out points, ``mean (f̂ − f*)²`` and its energy in
each degree ``‖Π_k (f̂ − f*)‖²`` by the zonal projection (:func:`ntkspec.sphere.degree_energy`)
with the diagonal (self-pair) term removed, which makes it unbiased. The train MSE is
``mean (f̂(x_i) − y_i)²`` on the noisy training labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from scipy.linalg import cho_factor, cho_solve

from ntkspec import _compat
from ntkspec._validate import as_real_array, check_int, check_key, check_positive
from ntkspec.kernels import ZonalKernel
from ntkspec.limits import MAX_DIM, MAX_KRR_DEGREE, MAX_TEST, MAX_TRAIN, MAX_TRIALS
from ntkspec.sphere import degree_energy, multiplicity, random_harmonic, sample_sphere

__all__ = [
    "Draw",
    "GDMeasurement",
    "KRRMeasurement",
    "degree_error",
    "draw",
    "kernel_gd_curve",
    "kernel_regression_curve",
    "krr_fit",
]


class _TrialStatistics:
    """Per-trial measurements (leading axis: trials): the test MSE, its mean and standard error."""

    @property
    def test_mse(self) -> np.ndarray:
        """``excess_mse + ε²``: the error on noisy held-out labels (eigenlearning's test MSE)."""
        return self.excess_mse + self.noise

    def mean(self, field: str = "test_mse") -> np.ndarray:
        """Mean over trials of a per-trial field."""
        return np.mean(getattr(self, field), axis=0)

    def sem(self, field: str = "test_mse") -> np.ndarray:
        """Standard error of that mean (sample std / sqrt(trials); 0 for one trial)."""
        a = getattr(self, field)
        if a.shape[0] < 2:
            return np.zeros(a.shape[1:])
        return np.std(a, axis=0, ddof=1) / np.sqrt(a.shape[0])


@dataclasses.dataclass(frozen=True)
class KRRMeasurement(_TrialStatistics):
    """Measured kernel-regression errors, one row per trial.

    Attributes:
      n: sample sizes ``(m,)`` (int64).
      excess_mse: held-out ``mean (f̂ − f*)²`` ``(trials, m)``.
      excess_mse_per_degree: unbiased ``‖Π_k (f̂ − f*)‖²`` ``(trials, m, kmax + 1)``.
      train_mse: ``mean (f̂(x_i) − y_i)²`` over the noisy training labels ``(trials, m)``.
      noise: ε²; ridge: δ; test_points: held-out points per trial.
    """

    n: np.ndarray
    excess_mse: np.ndarray
    excess_mse_per_degree: np.ndarray
    train_mse: np.ndarray
    noise: float
    ridge: float
    test_points: int

    @property
    def trials(self) -> int:
        return int(self.excess_mse.shape[0])


def krr_fit(K: ArrayLike, y: ArrayLike, ridge: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Dual coefficients ``α = (K + δ I)^{-1} y`` and the fitted values ``K α`` (float64).

    Solved by a Cholesky factorization of ``K + δ I``; if that fails (K singular to working
    precision), through the eigendecomposition with eigenvalues below ``n ε max(eig)``
    treated as zero: the minimum-norm interpolant at δ = 0.

    Args:
      K: symmetric PSD Gram ``(n, n)``.
      y: labels ``(n,)`` or ``(n, c)``.
      ridge: δ >= 0.
    """
    K = as_real_array("K", K)
    y = as_real_array("y", y)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or y.shape[:1] != K.shape[:1]:
        raise ValueError(
            f"Expected a square Gram K (n, n) and labels y (n, ...); got {K.shape} and {y.shape}."
        )
    ridge = check_positive("ridge", ridge, allow_zero=True)
    try:
        factor = cho_factor(K + ridge * np.eye(K.shape[0]), lower=True, check_finite=False)
        alpha = cho_solve(factor, y, check_finite=False)
        return alpha, K @ alpha
    except np.linalg.LinAlgError:
        pass
    e, V = np.linalg.eigh(0.5 * (K + K.T))
    floor = K.shape[0] * np.finfo(np.float64).eps * max(float(e[-1]), 0.0)
    keep = e + ridge > floor
    inv = np.where(keep, 1.0 / np.where(keep, e + ridge, 1.0), 0.0)
    shape = (-1, *([1] * (y.ndim - 1)))
    coef = V.T @ y
    return V @ (inv.reshape(shape) * coef), V @ ((e * inv).reshape(shape) * coef)


def _gram_function(kernel) -> Callable:
    if isinstance(kernel, ZonalKernel):

        def gram(X, Y):
            with _compat.enable_x64():
                return np.asarray(kernel.gram(jnp.asarray(X), jnp.asarray(Y)), np.float64)

        return gram
    if callable(kernel):
        return lambda X, Y: np.asarray(kernel(X, Y), dtype=np.float64)
    raise TypeError(
        "Expected kernel to be a zonal Kernel (mlp_kernel, resnet_kernel, …) or a callable "
        f"gram(X, Y) -> (n, m); got {type(kernel).__name__}."
    )


def _points(key, n: int, d: int) -> np.ndarray:
    X = np.asarray(sample_sphere(key, n, d, dtype=jnp.float32), dtype=np.float64)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _target(key, X: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    with _compat.random_streams():
        keys = jax.random.split(key, len(amplitudes))
    y = np.zeros(len(X))
    for k, (a, kk) in enumerate(zip(amplitudes, keys, strict=True)):
        if a != 0:
            y += a * random_harmonic(kk, X, k)
    return y


class Draw(NamedTuple):
    """One random draw (:func:`draw`): training points and labels, held-out points and target."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    f_test: np.ndarray


def draw(key: jax.Array, *, dim: int, n: int, test_points: int, energies, noise=0.0) -> Draw:
    """Draw n training and ``test_points`` held-out points uniform on S^{dim-1}, and a target.

    The target is ``Σ_k sqrt(v_k²) h_k`` with independent random unit-norm harmonics of degree
    k; ``y`` adds Gaussian noise of variance ``noise``; ``f_test`` is the noiseless target on
    the held-out points. Float64; the same key gives the same draw.
    """
    key = check_key(key)
    amplitudes = np.sqrt(as_real_array("energies", energies))
    kx, kt, kf, ke = jax.random.split(key, 4)
    X, Xt = _points(kx, n, dim), _points(kt, test_points, dim)
    f = _target(kf, np.concatenate([X, Xt]), amplitudes)
    with _compat.random_streams():
        eps = np.asarray(jax.random.normal(ke, (n,), dtype=jnp.float32), np.float64)
    return Draw(X, f[:n] + np.sqrt(noise) * eps, Xt, f[n:])


def _grams(gram, dr: Draw):
    n, m = len(dr.X), len(dr.X_test)
    K, Kt = gram(dr.X, dr.X), gram(dr.X_test, dr.X)
    if K.shape != (n, n) or Kt.shape != (m, n):
        raise ValueError(
            f"Expected gram(X, Y) to return shape (len(X), len(Y)); got {K.shape} for "
            f"({n}, {n}) and {Kt.shape} for ({m}, {n})."
        )
    return K, Kt


def degree_error(X_test: ArrayLike, residuals: ArrayLike, kmax: int) -> np.ndarray:
    """Unbiased ``‖Π_k r‖²_{L²(σ)}`` from residuals r at m uniform held-out points.

    The zonal projection of :func:`ntkspec.sphere.degree_energy` with ``c_i = 1/m`` minus its
    i = j terms ``N_k Σ_i r_i²/m²``, times ``m/(m − 1)``: a U-statistic, unbiased for i.i.d.
    uniform points (it can come out slightly negative).

    Args:
      X_test: held-out points ``(m, d)`` on the sphere (m >= 2).
      residuals: ``(m,)`` or ``(m, c)`` (several residuals at once).
      kmax: highest degree.

    Returns:
      float64 ``(kmax + 1,)`` or ``(c, kmax + 1)``.
    """
    Xt = np.asarray(X_test, dtype=np.float64)
    R = as_real_array("residuals", residuals)
    single = R.ndim == 1
    R = R.reshape(R.shape[0], -1)
    m, d = Xt.shape
    if m < 2:
        raise ValueError(f"Expected at least 2 held-out points; got {m}.")
    per_degree = degree_energy(Xt, R, kmax)
    N = multiplicity(d, np.arange(kmax + 1))
    diag = np.sum(R**2, axis=0) / m**2
    out = (per_degree - diag[:, None] * N[None, :]) * m / (m - 1)
    return out[0] if single else out


def _trial(gram, key, d, ns, energies, noise, ridge, test_points, kmax):
    """One draw: (excess (m,), per degree (m, kmax + 1), train (m,))."""
    dr = draw(key, dim=d, n=int(ns[-1]), test_points=test_points, energies=energies, noise=noise)
    K, Kt = _grams(gram, dr)
    resid = np.empty((test_points, len(ns)))
    train = np.empty(len(ns))
    for j, n in enumerate(ns):
        alpha, fitted = krr_fit(K[:n, :n], dr.y[:n], ridge)
        resid[:, j] = Kt[:, :n] @ alpha - dr.f_test
        train[j] = np.mean((fitted - dr.y[:n]) ** 2)
    return np.mean(resid**2, axis=0), degree_error(dr.X_test, resid, kmax), train


def _check_v2(energies) -> np.ndarray:
    v2 = as_real_array("energies", energies)
    if v2.ndim != 1 or v2.size == 0 or not np.isfinite(v2).all() or (v2 < 0).any():
        raise ValueError(
            "Expected energies to be a non-empty 1-D list of finite, non-negative per-degree "
            f"energies v_k²; got {v2.tolist()!r}."
        )
    return v2


def _check_ns(n) -> np.ndarray:
    ns = np.atleast_1d(as_real_array("n", n))
    if (
        ns.ndim != 1
        or ns.size == 0
        or (ns != np.round(ns)).any()
        or (ns < 1).any()
        or (np.diff(ns) <= 0).any()
        or ns[-1] > MAX_TRAIN
    ):
        raise ValueError(
            f"Expected n to be strictly increasing integers in [1, {MAX_TRAIN}]; got "
            f"{ns.tolist()!r}."
        )
    return ns.astype(np.int64)


def kernel_regression_curve(
    kernel: ZonalKernel | Callable,
    key: jax.Array,
    *,
    dim: int,
    energies: ArrayLike,
    n: ArrayLike,
    trials: int = 8,
    test_points: int = 1000,
    noise: float = 0.0,
    ridge: float = 0.0,
    kmax: int | None = None,
) -> KRRMeasurement:
    """Measure KRR test and train error per degree over ``trials`` random draws.

    See the module docstring for the draw. The theory to compare with is
    :func:`ntkspec.generalization.learning_curve` with the same ``energies``, ``noise`` and
    ``ridge`` (same conventions: ``(K + δ I)^{-1}`` with the un-normalized Gram).

    Args:
      kernel: a :class:`~ntkspec.kernels.Kernel` (its NTK Gram in float64), or a callable
        ``gram(X, Y) -> (len X, len Y)`` — e.g. an empirical NTK,
        ``lambda X, Y: empirical_ntk(net, params, X, Y)``.
      key: JAX PRNG key (split per trial, never reused).
      dim: ambient dimension d (points on S^{d-1}).
      energies: per-degree target energies v_k² for k = 0..len−1.
      n: training-set sizes (increasing ints >= 1, at most 8192); nested subsets of one draw.
      trials: number of independent draws (>= 1).
      test_points: held-out points per draw (2..20000).
      noise: label-noise variance ε² >= 0 (training labels only).
      ridge: δ >= 0.
      kmax: highest degree of the per-degree errors (default ``len(energies) + 1``).

    Returns:
      A :class:`KRRMeasurement`.
    """
    gram = _gram_function(kernel)
    key = check_key(key)
    dim = check_int("dim", dim, minimum=2, maximum=MAX_DIM)
    v2 = _check_v2(energies)
    ns = _check_ns(n)
    trials = check_int("trials", trials, minimum=1, maximum=MAX_TRIALS)
    test_points = check_int("test_points", test_points, minimum=2, maximum=MAX_TEST)
    noise = check_positive("noise", noise, allow_zero=True)
    ridge = check_positive("ridge", ridge, allow_zero=True)
    kmax = (
        v2.size + 1 if kmax is None else check_int("kmax", kmax, minimum=0, maximum=MAX_KRR_DEGREE)
    )
    with _compat.random_streams():
        keys = jax.random.split(key, trials)
    rows = [_trial(gram, k, dim, ns, v2, noise, ridge, test_points, kmax) for k in keys]
    return KRRMeasurement(
        n=ns,
        excess_mse=np.stack([r[0] for r in rows]),
        excess_mse_per_degree=np.stack([r[1] for r in rows]),
        train_mse=np.stack([r[2] for r in rows]),
        noise=noise,
        ridge=ridge,
        test_points=test_points,
    )


# ----------------------------------------------------------------------------- GD in time
@dataclasses.dataclass(frozen=True)
class GDMeasurement(_TrialStatistics):
    """Held-out error of kernel gradient descent over time, one row per trial.

    Attributes:
      steps: record steps ``(T,)``; n: sample sizes ``(m,)``; lr, method, noise.
      excess_mse: ``mean (f_t − f*)²`` on held-out points, ``(trials, T, m)``.
      excess_mse_per_degree: unbiased ``‖Π_k (f_t − f*)‖²``, ``(trials, T, m, kmax + 1)``.
    """

    steps: np.ndarray
    n: np.ndarray
    lr: float
    method: str
    noise: float
    excess_mse: np.ndarray
    excess_mse_per_degree: np.ndarray


def _gd_trial(gram, key, d, ns, steps, lr, method, energies, noise, test_points, kmax):
    dr = draw(key, dim=d, n=int(ns[-1]), test_points=test_points, energies=energies, noise=noise)
    K, Kt = _grams(gram, dr)
    resid = np.empty((test_points, len(steps), len(ns)))
    for j, n in enumerate(ns):
        mu, V = np.linalg.eigh(0.5 * (K[:n, :n] + K[:n, :n].T) / n)
        mu = np.maximum(mu, 0.0)
        coef = V.T @ dr.y[:n]
        t = steps[:, None].astype(np.float64)
        with np.errstate(over="ignore", under="ignore"):
            decay = (1.0 - lr * mu[None, :]) ** t if method == "gd" else np.exp(-lr * mu * t)
        # f_t(x) = K(x, X) Σ_i v_i (1 − decay_i)/(n μ_i) v_iᵀ y; (1 − decay)/μ → ηt at μ = 0.
        small = mu <= 1e-300
        gain = np.where(small, lr * t, (1.0 - decay) / np.where(small, 1.0, mu)) / n
        alpha = V @ (gain * coef).T  # (n, T)
        resid[:, :, j] = Kt[:, :n] @ alpha - dr.f_test[:, None]
    flat = resid.reshape(test_points, -1)
    per_degree = degree_error(dr.X_test, flat, kmax).reshape(len(steps), len(ns), kmax + 1)
    return np.mean(resid**2, axis=0), per_degree


def kernel_gd_curve(
    kernel: ZonalKernel | Callable,
    key: jax.Array,
    *,
    dim: int,
    energies: ArrayLike,
    n: ArrayLike,
    steps: ArrayLike,
    lr: float,
    method: str = "gd",
    trials: int = 8,
    test_points: int = 1000,
    noise: float = 0.0,
    kmax: int | None = None,
) -> GDMeasurement:
    """Held-out error of kernel gradient descent from f = 0 on n samples, at each step count.

    The linearized (lazy, infinite-width when ``kernel`` is a Kernel) network trained by GD on
    the mean loss ``(1/2n) Σ (f − y)²`` with step η is, exactly,
    ``f_t = K(·, X) K^{-1} (I − (I − η K/n)^t) y`` (``"flow"``: ``e^{−ηtK/n}``), evaluated
    through the eigendecomposition of K/n. Draws as :func:`kernel_regression_curve`
    (same key, same draws). The theory to compare with is
    :func:`ntkspec.generalization.gd_learning_curve`.

    Args:
      kernel, key, dim, energies, n, trials, test_points, noise, kmax: as in
        :func:`kernel_regression_curve`.
      steps: record steps (increasing integers >= 0).
      lr: step η > 0; method: ``"gd"`` or ``"flow"``.

    Returns:
      A :class:`GDMeasurement`.
    """
    gram = _gram_function(kernel)
    key = check_key(key)
    dim = check_int("dim", dim, minimum=2, maximum=MAX_DIM)
    v2 = _check_v2(energies)
    ns = _check_ns(n)
    t = np.atleast_1d(as_real_array("steps", steps))
    if t.ndim != 1 or (t != np.round(t)).any() or (t < 0).any() or (np.diff(t) <= 0).any():
        raise ValueError(f"Expected steps to be increasing integers >= 0; got {t.tolist()!r}.")
    lr = check_positive("lr", lr)
    if method not in ("gd", "flow"):
        raise ValueError(f"Expected method 'gd' or 'flow'; got {method!r}.")
    trials = check_int("trials", trials, minimum=1, maximum=MAX_TRIALS)
    test_points = check_int("test_points", test_points, minimum=2, maximum=MAX_TEST)
    noise = check_positive("noise", noise, allow_zero=True)
    kmax = (
        v2.size + 1 if kmax is None else check_int("kmax", kmax, minimum=0, maximum=MAX_KRR_DEGREE)
    )
    with _compat.random_streams():
        keys = jax.random.split(key, trials)
    rows = [_gd_trial(gram, k, dim, ns, t, lr, method, v2, noise, test_points, kmax) for k in keys]
    return GDMeasurement(
        steps=t.astype(np.int64),
        n=ns,
        lr=lr,
        method=method,
        noise=noise,
        excess_mse=np.stack([r[0] for r in rows]),
        excess_mse_per_degree=np.stack([r[1] for r in rows]),
    )
