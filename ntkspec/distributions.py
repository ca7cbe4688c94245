"""Sampling distributions on S^{d-1} with exact densities (nonuniform data, docs/theory.md).

Every distribution here has

- ``sample(key, n)``: ``n`` points as a float64 NumPy array ``(n, d)`` with unit rows, drawn
  with an explicit JAX PRNG key (same key, same points; the uniform one draws exactly the
  points of ``sample_sphere(key, n, d, dtype=jnp.float64)``), whatever the global x64 flag;
- ``density(X)``: the density ``p`` with respect to the *normalized* uniform measure σ
  (σ(S^{d-1}) = 1, so ``∫ p dσ = 1`` and the uniform density is 1). Importance weights
  ``c_i ∝ 1/p(x_i)`` follow (``quadrature_weights(X, method="density", distribution=…)``).

Build one from a config-like description with :func:`distribution`, e.g.
``distribution("vmf", kappa=3.0, mean=[0, 0, 1])``; :meth:`Distribution.to_dict` gives the
description back. Points from a file: :func:`load_points` (validated) or
``distribution("file", path=…)``.

References: Wood (1994), "Simulation of the von Mises Fisher distribution", Commun. Statist.
Simul. 23(1); Mardia & Jupp (2000), *Directional Statistics*, §9.3; Olver's uniform asymptotic
expansion of I_ν (DLMF 10.41.3) for the normalizing constant when ``ive`` underflows.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import betainc, betaincinv, gammaln, ive

from ntkspec import _compat
from ntkspec._validate import (
    as_real_array,
    check_int,
    check_key,
    check_points,
    check_positive,
    check_real,
)
from ntkspec.limits import MAX_SAMPLES
from ntkspec.sphere import sample_sphere

__all__ = [
    "Distribution",
    "Equispaced",
    "FilePoints",
    "Mixture",
    "PolarCap",
    "Uniform",
    "VonMisesFisher",
    "WarpedCircle",
    "distribution",
    "load_points",
    "log_vmf_normalizer",
]

#: Proposals per round of Wood's rejection sampler.
_WOOD_CHUNK = 8192


class Distribution(abc.ABC):
    """A probability distribution on S^{d-1} with a density w.r.t. the normalized measure σ."""

    name: str = ""

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """The ambient dimension d (points lie on S^{d-1} ⊂ R^d)."""

    @property
    def full_support(self) -> bool:
        """Whether ``density > 0`` everywhere (so ``1/p`` weights can integrate over S^{d-1})."""
        return True

    def sample(self, key: jax.Array, n: int) -> np.ndarray:
        """``n`` points drawn with ``key``: float64 ``(n, d)``, unit rows."""
        check_key(key)
        n = check_int("n", n, minimum=1, maximum=MAX_SAMPLES)
        with _compat.enable_x64(), _compat.random_streams():
            X = self._sample(key, n)
        return np.asarray(X, dtype=np.float64)

    def density(self, X) -> np.ndarray:
        """Density ``p(x_i)`` w.r.t. σ at points ``X`` ``(n, d)``: float64 ``(n,)``."""
        return self._density(check_points(X, dim=self.dim))

    def to_dict(self) -> dict:
        """The description ``{"name": …, params…}`` that :func:`distribution` accepts."""
        out = {"name": self.name}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple) and v and isinstance(v[0], Distribution):
                v = [c.to_dict() for c in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @abc.abstractmethod
    def _sample(self, key, n: int) -> np.ndarray: ...

    @abc.abstractmethod
    def _density(self, X: np.ndarray) -> np.ndarray: ...


def _unit_vector(name: str, value) -> tuple[float, ...]:
    v = as_real_array(name, value)
    if v.ndim != 1 or v.shape[0] < 2 or not np.isfinite(v).all():
        raise ValueError(f"Expected {name} to be a finite vector of length d >= 2; got {value!r}.")
    norm = np.linalg.norm(v)
    if abs(norm - 1.0) > 1e-8:
        raise ValueError(
            f"Expected {name} to have unit norm; got norm {norm:.6g}. Pass mean / ‖mean‖."
        )
    return tuple(float(x) for x in v / norm)


def _mean_or_pole(mean, dim) -> tuple[float, ...]:
    """``mean`` as a unit tuple, or the north pole e_d of R^dim when ``mean`` is None."""
    if mean is None:
        if dim is None:
            raise ValueError("Expected mean (a unit vector) or dim; got neither.")
        d = check_int("dim", dim, minimum=2)
        return tuple([0.0] * (d - 1) + [1.0])
    mu = _unit_vector("mean", mean)
    if dim is not None and check_int("dim", dim, minimum=2) != len(mu):
        raise ValueError(f"Expected mean of length dim = {dim}; got length {len(mu)}.")
    return mu


def _around(mean: np.ndarray, t, one_minus_t, z) -> np.ndarray:
    """Points ``t μ + √(1-t²) v`` with v uniform on the unit sphere of μ^⊥ (from Gaussians z).

    ``1 - t`` is passed separately so that ``√(1-t²) = √((1-t)(1+t))`` keeps full precision
    next to the pole (large concentration).
    """
    z = np.asarray(z, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    v = z - (z @ mean)[:, None] * mean[None, :]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    s = np.sqrt(np.clip(one_minus_t * (2.0 - one_minus_t), 0.0, None))
    X = t[:, None] * mean[None, :] + s[:, None] * v
    return X / np.linalg.norm(X, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- uniform
@dataclasses.dataclass(frozen=True)
class Uniform(Distribution):
    """The normalized uniform measure σ on S^{d-1}: density 1 (points of ``sample_sphere``)."""

    d: int
    name = "uniform"

    def __post_init__(self):
        object.__setattr__(self, "d", check_int("dim", self.d, minimum=2))

    @property
    def dim(self) -> int:
        return self.d

    def _sample(self, key, n):
        return sample_sphere(key, n, self.d, dtype=jnp.float64)

    def _density(self, X):
        return np.ones(X.shape[0])

    def to_dict(self) -> dict:
        return {"name": self.name, "dim": self.d}


@dataclasses.dataclass(frozen=True)
class Equispaced(Distribution):
    """Equispaced points on S^1, ``θ_i = offset + 2π i/n`` (deterministic: the key is unused).

    Density 1: the equal-weight rule on these points integrates every trigonometric
    polynomial of degree < n exactly, so they stand for σ itself.
    """

    offset: float = 0.0
    name = "equispaced"

    def __post_init__(self):
        object.__setattr__(self, "offset", check_real("offset", self.offset))

    @property
    def dim(self) -> int:
        return 2

    def _sample(self, key, n):
        theta = self.offset + 2.0 * np.pi * np.arange(n) / n
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)

    def _density(self, X):
        return np.ones(X.shape[0])


# ----------------------------------------------------------------------------- von Mises–Fisher
def log_vmf_normalizer(kappa: float, d: int) -> float:
    """``log ∫ exp(κ⟨x, μ⟩) dσ(x) = log[Γ(d/2) (2/κ)^ν I_ν(κ)]``, ν = d/2 − 1 (σ normalized).

    Computed in log space from ``ive`` (``I_ν(κ) = ive(ν, κ) e^κ``); where ``ive`` underflows
    (ν ≫ κ, high dimension) from Olver's uniform expansion of ``I_ν(ν z)`` with four correction
    terms (DLMF 10.41.3; relative error ≲ ν^{-5}, below 1e-11 where it is used). κ = 0 gives 0.

    >>> round(log_vmf_normalizer(2.0, 3), 12) == round(float(np.log(np.sinh(2.0) / 2.0)), 12)
    True
    """
    kappa = check_positive("kappa", kappa, allow_zero=True)
    d = check_int("d", d, minimum=2)
    if kappa == 0.0:
        return 0.0
    nu = d / 2.0 - 1.0
    scaled = float(ive(nu, kappa))
    if scaled > 1e-290:
        log_i = np.log(scaled) + kappa
    else:
        log_i = _log_iv_olver(nu, kappa)
    return float(gammaln(d / 2.0) + nu * np.log(2.0 / kappa) + log_i)


def _log_iv_olver(nu: float, x: float) -> float:
    z = x / nu
    root = np.sqrt(1.0 + z * z)
    eta = root + np.log(z / (1.0 + root))
    p = 1.0 / root
    u = [
        1.0,
        (3 * p - 5 * p**3) / 24,
        (81 * p**2 - 462 * p**4 + 385 * p**6) / 1152,
        (30375 * p**3 - 369603 * p**5 + 765765 * p**7 - 425425 * p**9) / 414720,
        (4465125 * p**4 - 94121676 * p**6 + 349922430 * p**8 - 446185740 * p**10
         + 185910725 * p**12) / 39813120,
    ]
    series = sum(uk / nu**k for k, uk in enumerate(u))
    return float(nu * eta - 0.5 * np.log(2 * np.pi * nu) - 0.5 * np.log(root) + np.log(series))


@dataclasses.dataclass(frozen=True)
class VonMisesFisher(Distribution):
    """von Mises–Fisher: ``p(x) = exp(κ⟨x, μ⟩) / C_d(κ)`` w.r.t. σ, ``C_d`` from
    :func:`log_vmf_normalizer`. Mean resultant ``E⟨x, μ⟩ = A_d(κ) = I_{d/2}(κ)/I_{d/2−1}(κ)``.

    Sampled with Wood's (1994) rejection sampler for ``w = ⟨x, μ⟩`` (acceptance ≳ 0.6 for all
    κ, d), then a uniform direction in μ^⊥; ``1 − w`` is formed without cancellation, so very
    large κ keeps full precision.

    Attributes:
      mean: the unit mean direction μ (tuple of length d).
      kappa: the concentration κ >= 0 (0 is uniform).
    """

    mean: tuple[float, ...]
    kappa: float
    name = "vmf"

    def __post_init__(self):
        object.__setattr__(self, "mean", _unit_vector("mean", self.mean))
        object.__setattr__(self, "kappa", check_positive("kappa", self.kappa, allow_zero=True))

    @property
    def dim(self) -> int:
        return len(self.mean)

    def _sample(self, key, n):
        kt, kz = jax.random.split(key)
        w, one_minus_w = _wood(kt, n, self.kappa, self.dim)
        z = jax.random.normal(kz, (n, self.dim), dtype=jnp.float64)
        return _around(np.asarray(self.mean), w, one_minus_w, z)

    def _density(self, X):
        t = X @ np.asarray(self.mean)
        # exp(κ(t − 1)) stays finite for large κ; the normalizer absorbs the e^κ.
        log_c = log_vmf_normalizer(self.kappa, self.dim) - self.kappa
        return np.exp(self.kappa * (t - 1.0) - log_c)


def _wood(key, n: int, kappa: float, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Wood (1994): n draws of ``w = ⟨x, μ⟩`` and ``1 − w``, in batches until n are accepted."""
    m = d - 1.0
    b = m / (2.0 * kappa + np.sqrt(4.0 * kappa**2 + m**2))
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + m * np.log1p(-x0 * x0) if x0 < 1.0 else 0.0
    ws, rest, got = [], [], 0
    while got < n:
        key, kz, ku = jax.random.split(key, 3)
        size = _WOOD_CHUNK  # one shape: JAX compiles its Beta sampler once per process
        z = np.asarray(jax.random.beta(kz, m / 2, m / 2, (size,), dtype=jnp.float64))
        u = np.asarray(jax.random.uniform(ku, (size,), dtype=jnp.float64))
        denom = 1.0 - (1.0 - b) * z
        w = (1.0 - (1.0 + b) * z) / denom
        one_minus_w = 2.0 * b * z / denom
        with np.errstate(divide="ignore"):
            ok = kappa * w + m * np.log1p(-x0 * w) - c >= np.log(u)
        ws.append(w[ok])
        rest.append(one_minus_w[ok])
        got += int(ok.sum())
    return np.concatenate(ws)[:n], np.concatenate(rest)[:n]


# ----------------------------------------------------------------------------- mixture
@dataclasses.dataclass(frozen=True)
class Mixture(Distribution):
    """Finite mixture ``p = Σ_j w_j p_j`` of distributions on the same sphere.

    Sampling draws each point's component with the weights (categorical), then the points of
    each component with its own key, placed in the drawn order.
    """

    components: tuple[Distribution, ...]
    weights: tuple[float, ...]
    name = "mixture"

    def __post_init__(self):
        comps = tuple(self.components)
        if not comps or not all(isinstance(c, Distribution) for c in comps):
            raise TypeError("Expected components to be a non-empty sequence of Distributions.")
        dims = {c.dim for c in comps}
        if len(dims) != 1:
            raise ValueError(f"Expected mixture components of one dimension; got dims {dims}.")
        w = as_real_array("weights", self.weights)
        if w.shape != (len(comps),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"Expected {len(comps)} finite non-negative mixture weights with a positive "
                f"sum; got {self.weights!r}."
            )
        object.__setattr__(self, "components", comps)
        object.__setattr__(self, "weights", tuple(float(x) for x in w / w.sum()))

    @property
    def dim(self) -> int:
        return self.components[0].dim

    @property
    def full_support(self) -> bool:
        pairs = zip(self.components, self.weights, strict=True)
        return any(c.full_support and w > 0 for c, w in pairs)

    def _sample(self, key, n):
        kc, *keys = jax.random.split(key, len(self.components) + 1)
        logits = jnp.log(jnp.asarray(self.weights, dtype=jnp.float64))
        which = np.asarray(jax.random.categorical(kc, logits, shape=(n,)))
        X = np.empty((n, self.dim))
        for j, (comp, k) in enumerate(zip(self.components, keys, strict=True)):
            idx = np.flatnonzero(which == j)
            if idx.size:
                X[idx] = comp._sample(k, idx.size)
        return X

    def _density(self, X):
        return sum(w * c._density(X) for c, w in zip(self.components, self.weights, strict=True))


# ----------------------------------------------------------------------------- polar cap
@dataclasses.dataclass(frozen=True)
class PolarCap(Distribution):
    """Piecewise-constant cap density: mass ``m`` spread uniformly on the cap ``⟨x, μ⟩ >= h``,
    the rest (``1 − m``) uniformly on its complement.

    With ``A = σ(cap) = I_{(1−h)/2}((d−1)/2, (d−1)/2)`` (regularized incomplete beta: under σ,
    ``(1 − ⟨x, μ⟩)/2`` is Beta((d−1)/2, (d−1)/2)), the density is ``m/A`` on the cap and
    ``(1 − m)/(1 − A)`` off it. ``m = 1`` is the uniform distribution on the cap (zero
    density elsewhere, so no importance weights over the whole sphere). Sampled exactly by
    inverting the Beta CDF of ``(1 − ⟨x, μ⟩)/2``.

    Attributes:
      mean: the cap's centre μ. height: h in (−1, 1). mass: m in (0, 1].
    """

    mean: tuple[float, ...]
    height: float
    mass: float = 1.0
    name = "cap"

    def __post_init__(self):
        object.__setattr__(self, "mean", _unit_vector("mean", self.mean))
        h = check_real("height", self.height)
        if not -1.0 < h < 1.0:
            raise ValueError(f"Expected height in (-1, 1); got {h!r}.")
        m = check_real("mass", self.mass)
        if not 0.0 < m <= 1.0:
            raise ValueError(f"Expected mass in (0, 1]; got {m!r}.")
        object.__setattr__(self, "height", h)
        object.__setattr__(self, "mass", m)

    @property
    def dim(self) -> int:
        return len(self.mean)

    @property
    def area(self) -> float:
        """σ(cap), the cap's share of the sphere."""
        a = (self.dim - 1) / 2.0
        return float(betainc(a, a, (1.0 - self.height) / 2.0))

    @property
    def full_support(self) -> bool:
        return self.mass < 1.0

    def _sample(self, key, n):
        ku, kz = jax.random.split(key)
        u = np.asarray(jax.random.uniform(ku, (n,), dtype=jnp.float64))
        area, m, a = self.area, self.mass, (self.dim - 1) / 2.0
        inside = u < m
        with np.errstate(divide="ignore", invalid="ignore"):
            F = np.where(inside, u / m * area, area + (u - m) / (1.0 - m) * (1.0 - area))
        q = np.clip(betaincinv(a, a, np.clip(F, 0.0, 1.0)), 0.0, 1.0)  # q = (1 − t)/2
        z = jax.random.normal(kz, (n, self.dim), dtype=jnp.float64)
        return _around(np.asarray(self.mean), 1.0 - 2.0 * q, 2.0 * q, z)

    def _density(self, X):
        t = X @ np.asarray(self.mean)
        area = self.area
        outside = 0.0 if self.mass == 1.0 else (1.0 - self.mass) / (1.0 - area)
        return np.where(t >= self.height, self.mass / area, outside)


# ----------------------------------------------------------------------------- warped circle
@dataclasses.dataclass(frozen=True)
class WarpedCircle(Distribution):
    """Points ``(cos θ, sin θ)`` on S^1 with ``θ = u + a sin u``, u uniform on [0, 2π), |a| < 1.

    Change of variables (dθ = (1 + a cos u) du, σ = dθ/2π): ``p(θ) = 1 / (1 + a cos u(θ))``,
    where u(θ) solves Kepler's equation ``u + a sin u = θ`` (safeguarded Newton, to rounding).
    Points crowd where ``1 + a cos u`` is small (near θ = π for a > 0); the density ranges over
    ``[1/(1 + |a|), 1/(1 − |a|)]``.
    """

    a: float
    name = "warped_circle"

    def __post_init__(self):
        a = check_real("a", self.a)
        if not abs(a) < 1.0:
            raise ValueError(f"Expected |a| < 1 (a monotone warp); got a = {a!r}.")
        object.__setattr__(self, "a", a)

    @property
    def dim(self) -> int:
        return 2

    def _sample(self, key, n):
        u = 2.0 * np.pi * np.asarray(jax.random.uniform(key, (n,), dtype=jnp.float64))
        theta = u + self.a * np.sin(u)
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)

    def _density(self, X):
        theta = np.mod(np.arctan2(X[:, 1], X[:, 0]), 2.0 * np.pi)
        u = _kepler(theta, self.a)
        return 1.0 / (1.0 + self.a * np.cos(u))


def _kepler(theta: np.ndarray, a: float) -> np.ndarray:
    """Solve ``u + a sin u = θ`` for u (|a| < 1): Newton kept inside the bracket [θ−|a|, θ+|a|]."""
    lo, hi = theta - abs(a), theta + abs(a)
    u = theta.copy()
    for _ in range(200):
        g = u + a * np.sin(u) - theta
        lo = np.where(g < 0, u, lo)
        hi = np.where(g > 0, u, hi)
        step = u - g / (1.0 + a * np.cos(u))
        bad = ~((step > lo) & (step < hi))
        new = np.where(bad, 0.5 * (lo + hi), step)
        if np.all(np.abs(new - u) <= 4e-16 * np.maximum(1.0, np.abs(u))):
            return new
        u = new
    return u  # pragma: no cover - the bracket halves at worst every step


# ----------------------------------------------------------------------------- file points
def load_points(path: str | os.PathLike, *, dim: int | None = None) -> np.ndarray:
    """Points on S^{d-1} from a ``.npy`` or ``.csv`` file, validated, as float64 ``(n, d)``.

    ``.npy``: a real array of shape (n, d), loaded without pickle. ``.csv``: n rows of d
    comma-separated numbers (lines starting with ``#`` are comments). The rows must be finite
    and of unit norm (to 1e-8; store enough digits). Errors are ``ValueError`` naming the
    path and the offending row.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise ValueError(f"Expected a .npy or .csv file of points; got {str(p)!r}.")
    if not p.is_file():
        raise ValueError(f"Expected an existing points file; {str(p)!r} does not exist.")
    try:
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            arr = np.loadtxt(p, delimiter=",", ndmin=2, dtype=np.float64)
    except (ValueError, OSError) as e:
        raise ValueError(f"Could not read points from {str(p)!r}: {e}") from None
    if dim is not None:
        dim = check_int("dim", dim, minimum=2)
    try:
        return check_points(arr, name=str(p), dim=dim)
    except TypeError as e:
        raise ValueError(str(e)) from None


@dataclasses.dataclass(frozen=True)
class FilePoints(Distribution):
    """User points from a file (:func:`load_points`); no known density.

    ``sample(key, n)`` returns the file's points in order when ``n`` equals their number, else
    a random subset of ``n`` of them (without replacement, drawn with ``key``).
    """

    path: str
    name = "file"

    def __post_init__(self):
        object.__setattr__(self, "path", str(self.path))
        object.__setattr__(self, "_points", load_points(self.path))

    @property
    def dim(self) -> int:
        return self._points.shape[1]

    @property
    def points(self) -> np.ndarray:
        return self._points.copy()

    def _sample(self, key, n):
        total = self._points.shape[0]
        if n > total:
            raise ValueError(f"Expected n <= {total} (the points in {self.path!r}); got n = {n}.")
        if n == total:
            return self._points.copy()
        idx = np.asarray(jax.random.permutation(key, total))[:n]
        return self._points[idx]

    def _density(self, X):
        raise ValueError(
            f"The points in {self.path!r} have no known density; use "
            "quadrature_weights(X, method='lsq' | 'kernel' | 'voronoi' | 'spacing') instead."
        )


# ----------------------------------------------------------------------------- factory
_NAMES = ("uniform", "equispaced", "vmf", "mixture", "cap", "warped_circle", "file")


def distribution(name: str, **params) -> Distribution:
    """Build a distribution from its name and parameters (a config section maps onto this).

    Names and parameters:

    - ``"uniform"``: ``dim``.
    - ``"equispaced"`` (S^1): ``offset`` (default 0).
    - ``"vmf"``: ``kappa``, and ``mean`` (unit vector) or ``dim`` (mean = e_d).
    - ``"mixture"``: ``components`` (Distributions or dicts ``{"name": …, params…}``),
      ``weights`` (default equal).
    - ``"cap"``: ``height``, ``mass`` (default 1), and ``mean`` or ``dim``.
    - ``"warped_circle"`` (S^1): ``a``.
    - ``"file"``: ``path`` (.npy or .csv).

    >>> p = distribution("vmf", kappa=3.0, mean=[0.0, 0.0, 1.0])
    >>> X = p.sample(jax.random.key(0), 4)
    >>> X.shape, p.to_dict()["name"]
    ((4, 3), 'vmf')
    """
    if not isinstance(name, str) or name not in _NAMES:
        raise ValueError(f"Expected name to be one of {list(_NAMES)}; got {name!r}.")
    allowed = {
        "uniform": {"dim"},
        "equispaced": {"offset"},
        "vmf": {"kappa", "mean", "dim"},
        "mixture": {"components", "weights"},
        "cap": {"height", "mass", "mean", "dim"},
        "warped_circle": {"a"},
        "file": {"path"},
    }[name]
    extra = set(params) - allowed
    if extra:
        raise ValueError(
            f"Unexpected parameters {sorted(extra)} for distribution {name!r}; "
            f"expected some of {sorted(allowed)}."
        )
    try:
        return _build(name, params)
    except KeyError as e:
        raise ValueError(f"Expected parameter {e.args[0]!r} for distribution {name!r}.") from None


def _build(name: str, params: dict) -> Distribution:
    if name == "uniform":
        return Uniform(params["dim"])
    if name == "equispaced":
        return Equispaced(params.get("offset", 0.0))
    if name == "vmf":
        return VonMisesFisher(_mean_or_pole(params.get("mean"), params.get("dim")),
                              params["kappa"])
    if name == "cap":
        return PolarCap(_mean_or_pole(params.get("mean"), params.get("dim")),
                        params["height"], params.get("mass", 1.0))
    if name == "warped_circle":
        return WarpedCircle(params["a"])
    if name == "file":
        return FilePoints(params["path"])
    comps = params["components"]
    if isinstance(comps, (str, bytes, Mapping)) or not isinstance(comps, Sequence):
        raise TypeError("Expected components to be a list of Distributions or dicts.")
    built = []
    for c in comps:
        if isinstance(c, Mapping):
            c = dict(c)
            built.append(distribution(c.pop("name", None), **c))
        else:
            built.append(c)
    weights = params.get("weights", [1.0] * len(built))
    return Mixture(tuple(built), tuple(weights) if isinstance(weights, Sequence) else weights)
