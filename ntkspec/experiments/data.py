"""The data of an experiment: points, target, quadrature weights and the loss built on them.

Each step is a small function of its config section, so :func:`ntkspec.experiments.compare`
reads as the list of steps. The target is ``y = Σ_k A_k h_k`` with random harmonics of unit
L²(σ) norm (uniform measure, whatever the sampling distribution); on S^1 with equispaced
points ``h_k = √2 sin(kθ + φ_k)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from ntkspec import _compat
from ntkspec.distributions import Distribution, distribution
from ntkspec.experiments.config import DataConfig, LossConfig, RunConfig, TargetConfig
from ntkspec.losses import Loss, mse, normalized_weights, sobolev, weighted
from ntkspec.quadrature import gauss_grid, quadrature_weights
from ntkspec.sphere import random_harmonic

__all__ = ["Data", "build_loss", "make_target", "projection_weights", "sample_data", "weights_for"]


class Data(NamedTuple):
    """Training points and target.

    Attributes:
      X: float64 ``(n, d)`` unit rows; y: float64 ``(n,)``.
      distribution: the :class:`~ntkspec.distributions.Distribution` they were drawn from.
      projection: quadrature weights ``(n,)`` of the per-degree projection, or ``None`` (the
        plain mean, right for uniform samples).
      projection_method: how ``projection`` was made (``"mean"`` or a quadrature method).
      design: the exact weights of design points (``grid``), else ``None``.
    """

    X: np.ndarray
    y: np.ndarray
    distribution: Distribution
    projection: np.ndarray | None
    projection_method: str
    design: np.ndarray | None = None


def sample_data(cfg: DataConfig, key: jax.Array):
    """``cfg.n`` points: float64 ``(n, d)``, the distribution, and design weights or ``None``.

    A ``grid`` is the deterministic :func:`ntkspec.quadrature.gauss_grid` (its distribution is
    the uniform one it discretizes; its exact weights come third).
    """
    if cfg.distribution == "grid":
        design = gauss_grid(cfg.dim, cfg.degree)
        return design.points, distribution("uniform", dim=cfg.dim), design.weights
    dist = distribution(cfg.distribution, **cfg.params())
    return dist.sample(key, cfg.n), dist, None


def make_target(
    cfg: TargetConfig, X: np.ndarray, key: jax.Array, *, sines: bool | None = None
) -> np.ndarray:
    """``Σ_k A_k h_k(X)`` with unit-L²(σ) random harmonics h_k (sines on S^1), float64 ``(n,)``.

    ``sines`` chooses ``h_k = √2 sin(kθ + φ_k)`` (needs d = 2); ``None`` means "when d = 2".
    """
    if sines is None:
        sines = X.shape[1] == 2
    y = np.zeros(len(X))
    with _compat.random_streams():
        keys = jax.random.split(key, len(cfg.degrees))
    for k, amp, kk in zip(cfg.degrees, cfg.amplitudes, keys, strict=True):
        if sines:
            with _compat.random_streams():
                phase = float(jax.random.uniform(kk, (), minval=0.0, maxval=2 * np.pi))
            theta = np.arctan2(X[:, 1], X[:, 0])
            h = np.sqrt(2.0) * np.sin(k * theta + phase) if k else np.ones(len(X))
        else:
            h = random_harmonic(kk, X, k)
        y += amp * h
    return y


def weights_for(
    spec: str,
    X: np.ndarray,
    dist: Distribution,
    *,
    degree=None,
    nonnegative=False,
    base=None,
    design=None,
) -> np.ndarray:
    """Quadrature weights ``(n,)`` summing to 1: a ``quadrature_weights`` method or a file.

    ``spec`` is ``"lsq"``, ``"kernel"``, ``"voronoi"``, ``"density"``, ``"spacing"`` or the
    path of a ``.npy``/``.csv`` file holding n weights.
    """
    n = X.shape[0]
    if spec == "design":
        if design is None:
            raise ValueError("Expected data.distribution = 'grid' for 'design' weights.")
        return design
    if spec in ("lsq", "kernel", "voronoi", "density", "spacing"):
        kw = {}
        if spec == "lsq":
            kw = {"degree": degree, "nonnegative": nonnegative}
            if base is not None:
                kw["base"] = base
        if spec == "density":
            kw = {"distribution": dist}
        try:
            return quadrature_weights(X, spec, **kw).weights
        except ValueError as e:
            raise ValueError(f"loss.weights = {spec!r}: {e}") from None
    path = Path(spec)
    if path.suffix not in (".npy", ".csv") or not path.is_file():
        raise ValueError(
            f"Expected loss.weights to be a quadrature method (lsq, kernel, voronoi, density, "
            f"spacing) or an existing .npy/.csv file; got {spec!r}."
        )
    c = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",", ndmin=1)
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if c.shape != (n,):
        raise ValueError(f"Expected {n} weights in {path} (one per point); got {c.shape[0]}.")
    return normalized_weights(c / c.sum(), n)


def projection_weights(cfg: RunConfig, X: np.ndarray, dist: Distribution, design=None):
    """The per-degree projection's weights and method (``RunConfig.projection``)."""
    method = cfg.projection
    if method == "auto":
        if design is not None:
            method = "design"
        elif dist.name in ("uniform", "equispaced"):
            method = "mean"
        elif X.shape[1] == 3:
            method = "voronoi"
        else:
            method = "density" if dist.name != "file" else "mean"
    if method == "mean":
        return None, "mean"
    return weights_for(method, X, dist, design=design), method


def build_loss(cfg: LossConfig, data: Data) -> Loss:
    """The :class:`~ntkspec.losses.Loss` of ``cfg`` on ``data`` (weights computed here).

    A Sobolev loss without ``weights`` uses the projection weights (its ``‖Π_k r‖`` must be
    an L²(σ) projection, so on nonuniform data it needs a quadrature rule).
    """
    if cfg.kind == "mse":
        return mse()
    if cfg.weights is not None:
        c = weights_for(cfg.weights, data.X, data.distribution, degree=cfg.degree,
                        nonnegative=cfg.nonnegative, base=cfg.base, design=data.design)  # fmt: skip
    else:
        c = data.projection
    if cfg.kind == "weighted":
        return weighted(c)
    return sobolev(cfg.s, weights=c)
