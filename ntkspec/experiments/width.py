"""The empirical NTK of a finite MLP against its infinite-width limit, on one sample or over widths.

The one home of the computation behind ``ntkspec ntk`` (:func:`ntk_sample`) and of
:func:`width_study` (the same at several widths and seeds); the CLI only parses and prints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from ntkspec import _compat
from ntkspec._validate import check_int
from ntkspec.empirical import empirical_ntk
from ntkspec.experiments.config import int_tuple
from ntkspec.kernels import Kernel, mlp_kernel
from ntkspec.limits import MAX_NTK_DEGREE, MAX_POINTS, MAX_TRAIN_DIM
from ntkspec.models import mlp
from ntkspec.spectrum import Spectrum, gram_spectrum, spectrum
from ntkspec.sphere import sample_sphere

__all__ = ["NTKSample", "WidthStudy", "mlp_for", "ntk_sample", "sample_points", "width_study"]


def sample_points(key: jax.Array, n: int, dim: int) -> np.ndarray:
    """n uniform points on S^{dim-1}, float64 ``(n, dim)`` (drawn in float32, renormalized)."""
    X = np.asarray(sample_sphere(key, n, dim, dtype=np.float32), dtype=np.float64)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def mlp_for(kernel: Kernel, width: int, *, centered: bool = False):
    """The :func:`ntkspec.models.mlp` whose infinite-width NTK is ``kernel`` (an MLP kernel)."""
    phi = kernel.activation if kernel.phi is None else kernel.phi
    return mlp(kernel.depth, width, phi, kernel.weight_var, kernel.bias_var,
               kernel.first_layer_var, centered=centered)  # fmt: skip


class NTKSample(NamedTuple):
    """Empirical vs infinite-width NTK on one sample.

    Attributes:
      X: float64 ``(n, d)``; K: the empirical NTK ``(n, n)``; K_inf: the infinite-width Gram.
      empirical: per-degree estimates of K/n (:func:`ntkspec.spectrum.gram_spectrum`), with
        their Monte-Carlo standard errors in ``empirical.stderr`` (``empirical.noise()`` flags
        the degrees that are sampling noise).
      infinite: the Funk–Hecke spectrum of the kernel.
      relative_error: ``‖K − K_inf‖_F / ‖K_inf‖_F``; n_params: trainable parameters.
    """

    X: np.ndarray
    K: np.ndarray
    K_inf: np.ndarray
    empirical: Spectrum
    infinite: Spectrum
    relative_error: float
    n_params: int


def ntk_sample(
    kernel: Kernel,
    width: int,
    X: np.ndarray,
    key: jax.Array,
    kmax: int,
    *,
    method: str = "auto",
    stage: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> NTKSample:
    """The empirical NTK at init of ``mlp_for(kernel, width)`` on X vs ``kernel.gram(X)``.

    ``stage()`` wraps each of the three stages (empirical NTK, infinite-width Gram, spectra),
    e.g. for progress lines.
    """
    model = mlp_for(kernel, width)
    params = model.init(key, X.shape[1])
    n_params = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params))
    with stage():
        K = np.asarray(empirical_ntk(model.apply, params, X.astype(np.float32), method=method),
                       dtype=np.float64)  # fmt: skip
    with stage(), _compat.enable_x64():
        K_inf = np.asarray(kernel.gram(X), dtype=np.float64)
    with stage():
        emp = gram_spectrum(K, X, kmax)
        inf = spectrum(kernel, X.shape[1], kmax)
    error = float(np.linalg.norm(K - K_inf) / np.linalg.norm(K_inf))
    return NTKSample(X, K, K_inf, emp, inf, error, n_params)


class WidthStudy(NamedTuple):
    """Empirical NTK at initialization vs its infinite-width limit, as the width grows.

    Attributes:
      widths: int64 ``(W,)``.
      relative_error: float64 ``(W,)``, ``‖Θ_emp − Θ_∞‖_F / ‖Θ_∞‖_F`` on the sample
        (mean over ``seeds`` initializations).
      gram_spectra: float64 ``(W, kmax + 1)``, per-degree eigenvalue estimates of Θ_emp/n
        (:func:`ntkspec.spectrum.gram_spectrum`, mean over seeds).
      infinite_gram_spectrum: float64 ``(kmax + 1,)``, the same estimate for Θ_∞ on the sample.
      eigenvalues: float64 ``(kmax + 1,)``, the Funk–Hecke λ_k.
      gram_stderr: float64 ``(W, kmax + 1)``, a standard error of ``gram_spectra`` (an estimate,
        one standard deviation, not a bound): ``√(mean_s σ_s² + var_s(λ̂_s)/S)`` over the S
        seeds, with σ_s the Monte-Carlo stderr of seed s over the points (not reduced by
        averaging: every seed uses the same points) and the spread between initializations
        (``var`` with ddof 1; 0 for one seed).
      infinite_gram_stderr: float64 ``(kmax + 1,)``, the Monte-Carlo stderr of
        ``infinite_gram_spectrum``.
    """

    widths: np.ndarray
    relative_error: np.ndarray
    gram_spectra: np.ndarray
    infinite_gram_spectrum: np.ndarray
    eigenvalues: np.ndarray
    gram_stderr: np.ndarray
    infinite_gram_stderr: np.ndarray


def _seed_mean_stderr(estimates: np.ndarray, stderrs: np.ndarray) -> np.ndarray:
    """Standard error of the mean over seeds of per-degree Gram estimates on the same points.

    ``estimates``, ``stderrs``: ``(S, K)`` per-seed λ̂ and their Monte-Carlo stderr over the
    points. Law of total variance: the point-sampling part is at most ``mean_s σ_s²`` (the
    seeds share the points, so averaging does not reduce it; the mean of variances bounds the
    variance of the mean by Jensen), the initialization part is ``var_s(λ̂_s)/S``.
    """
    S = estimates.shape[0]
    spread = np.var(estimates, axis=0, ddof=1) / S if S > 1 else 0.0
    return np.sqrt(np.mean(stderrs**2, axis=0) + spread)


def width_study(
    widths, kernel: Kernel | None = None, *, key: jax.Array, dim: int = 3, n: int = 256,
    kmax: int = 8, seeds: int = 2,
) -> WidthStudy:  # fmt: skip
    """How fast the empirical NTK of ``mlp_for(kernel, w)`` approaches ``kernel`` in width w.

    Draws n uniform points on S^{dim-1} and, for each width, ``seeds`` initializations; the
    relative Frobenius error is expected to fall like ~1/√width (Jacot et al. 2018).

    Args:
      widths: positive integers (a list or one).
      kernel: an MLP kernel (:func:`ntkspec.mlp_kernel`); ``None`` = ``mlp_kernel(1)``, the
        two-layer ReLU network.
      key: the seed of the points and the initializations.
      dim, n, kmax, seeds: ambient dimension, points, largest degree, initializations per width.

    >>> import jax
    >>> w = width_study([16], key=jax.random.key(0), n=12, kmax=2, seeds=1)
    >>> w.relative_error.shape, w.gram_spectra.shape
    ((1,), (1, 3))
    """
    raw = list(widths) if isinstance(widths, list | tuple | np.ndarray) else widths
    widths = np.asarray(int_tuple("widths", raw), dtype=np.int64)
    if widths.size == 0 or (widths < 1).any():
        raise ValueError(f"Expected positive widths; got {widths.tolist()}.")
    kernel = mlp_kernel(1) if kernel is None else kernel
    if not isinstance(kernel, Kernel):
        raise TypeError(f"Expected kernel to be an mlp_kernel; got {type(kernel).__name__}.")
    dim = check_int("dim", dim, minimum=2, maximum=MAX_TRAIN_DIM)
    n = check_int("n", n, minimum=2, maximum=MAX_POINTS)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_NTK_DEGREE)
    seeds = check_int("seeds", seeds, minimum=1)
    with _compat.random_streams():
        k_points, k_init = jax.random.split(key)
    X = sample_points(k_points, n, dim)
    with _compat.enable_x64():
        K_inf = np.asarray(kernel.gram(X), dtype=np.float64)
    Xj = jax.numpy.asarray(X, dtype=jax.numpy.float32)
    errors, spectra, stderrs = [], [], []
    for w in widths:
        model = mlp_for(kernel, int(w))
        e, s, se = [], [], []
        with _compat.random_streams():
            keys = jax.random.split(jax.random.fold_in(k_init, int(w)), seeds)
        for kk in keys:
            K = np.asarray(empirical_ntk(model.apply, model.init(kk, dim), Xj), dtype=np.float64)
            e.append(np.linalg.norm(K - K_inf) / np.linalg.norm(K_inf))
            g = gram_spectrum(K, X, kmax)
            s.append(g.eigenvalues)
            se.append(g.stderr)
        errors.append(np.mean(e))
        spectra.append(np.mean(s, axis=0))
        stderrs.append(_seed_mean_stderr(np.asarray(s), np.asarray(se)))
    g_inf = gram_spectrum(K_inf, X, kmax)
    return WidthStudy(
        widths=np.asarray(widths).astype(np.int64),
        relative_error=np.asarray(errors),
        gram_spectra=np.asarray(spectra),
        infinite_gram_spectrum=g_inf.eigenvalues,
        eigenvalues=spectrum(kernel, dim, kmax).eigenvalues,
        gram_stderr=np.asarray(stderrs),
        infinite_gram_stderr=g_inf.stderr,
    )
