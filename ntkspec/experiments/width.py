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
from ntkspec.empirical import empirical_ntk
from ntkspec.kernels import Kernel
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
      empirical: per-degree estimates of K/n (:func:`ntkspec.spectrum.gram_spectrum`).
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
    """

    widths: np.ndarray
    relative_error: np.ndarray
    gram_spectra: np.ndarray
    infinite_gram_spectrum: np.ndarray
    eigenvalues: np.ndarray


def width_study(
    widths: np.ndarray, kernel: Kernel, *, key: jax.Array, dim: int, n: int, kmax: int,
    seeds: int,
) -> WidthStudy:  # fmt: skip
    """How fast the empirical NTK of ``mlp_for(kernel, w)`` approaches ``kernel`` in width w.

    Draws n uniform points on S^{dim-1} and, for each width, ``seeds`` initializations; the
    relative Frobenius error is expected to fall like ~1/√width (Jacot et al. 2018). Inputs
    are validated by the caller (:func:`ntkspec.compare.width_study`).
    """
    with _compat.random_streams():
        k_points, k_init = jax.random.split(key)
    X = sample_points(k_points, n, dim)
    with _compat.enable_x64():
        K_inf = np.asarray(kernel.gram(X), dtype=np.float64)
    Xj = jax.numpy.asarray(X, dtype=jax.numpy.float32)
    errors, spectra = [], []
    for w in widths:
        model = mlp_for(kernel, int(w))
        e, s = [], []
        with _compat.random_streams():
            keys = jax.random.split(jax.random.fold_in(k_init, int(w)), seeds)
        for kk in keys:
            K = np.asarray(empirical_ntk(model.apply, model.init(kk, dim), Xj), dtype=np.float64)
            e.append(np.linalg.norm(K - K_inf) / np.linalg.norm(K_inf))
            s.append(gram_spectrum(K, X, kmax).eigenvalues)
        errors.append(np.mean(e))
        spectra.append(np.mean(s, axis=0))
    return WidthStudy(
        widths=np.asarray(widths).astype(np.int64),
        relative_error=np.asarray(errors),
        gram_spectra=np.asarray(spectra),
        infinite_gram_spectrum=gram_spectrum(K_inf, X, kmax).eigenvalues,
        eigenvalues=spectrum(kernel, dim, kmax).eigenvalues,
    )
