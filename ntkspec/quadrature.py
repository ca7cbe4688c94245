"""Quadrature on S^{d-1}: weights for given point sets, and product Gauss design grids.

A quadrature rule ``{(x_i, c_i)}`` replaces ``∫ g dσ`` (σ the *normalized* uniform measure) by
``Σ_i c_i g(x_i)``. For nonuniform training data, a weighted loss with such weights restores the
uniform-measure spectrum of gradient descent (docs/theory.md §6.4).

Everything is measured without a harmonic basis, through the addition theorem
``Σ_j Y_kj(x) Y_kj(y) = N(d,k) P_k(<x, y>)``: the squared exactness defect of a rule at degree k,
summed over an orthonormal basis of the degree-k harmonics, is

    D_k = ‖Σ_i c_i Y_k(x_i)‖² = N(d,k) Σ_ij c_i c_j P_k(<x_i, x_j>)      (k >= 1),
    D_0 = (Σ_i c_i − 1)²,

and ``√D_k`` is the worst integration error over unit-norm degree-k harmonics.

Methods of :func:`quadrature_weights` (accuracy and references: docs/theory.md §6.4):

- ``"lsq"``: let Y be the (M × n) matrix of an orthonormal basis of the harmonics of degree
  <= L at the points. Exactness is ``Y c = e_0`` (∫Y_0 = 1, the others 0). Its minimum-norm
  (least-squares) solution is ``c = Y⁺ e_0 = (YᵀY)⁺ Yᵀ e_0 = G⁺ 1``, since ``Yᵀ e_0 = 1`` and
  ``G = YᵀY = Σ_{k<=L} N(d,k) P_k(<x_i, x_j>)`` (addition theorem) — no basis is built. G⁺ is
  applied through ``eigh``, dropping eigenvalues below ``rtol · max``; ``rank`` counts the
  rest. The best rule's total squared defect is ``‖Yc − e_0‖² = 1 − 1ᵀG⁺1``; when it exceeds
  ``feasibility`` no exact rule exists on these points (e.g. ``n`` below the
  ``M = harmonic_dimension(d, L)`` harmonics, for points in general position; designs such as
  :func:`gauss_grid` are exact with fewer) and a ``ValueError`` says which degree to use. With
  a base rule ``c_0`` (``base=``), the exact weights nearest to it are returned instead:
  ``c = c_0 + G⁺(1 − G c_0)`` (the minimum-norm solution is ``c_0 = 0``), e.g. Voronoi areas
  corrected to be exact to degree L. ``nonnegative=True`` solves
  ``min_{c>=0} ‖Yc − e_0‖² = cᵀGc − 2·1ᵀc + 1`` instead, as NNLS on the factor
  ``R = Λ^{1/2} Vᵀ`` of G, plus a ridge ``1e-12·λ_max(G)·‖c‖²`` that selects the most
  spread-out solution, or the one nearest ``c_0`` (plain NNLS returns a sparse vertex with at
  most M nonzero weights). Nonnegative; exact (to ~1e-6 relative in ``D``) when some
  nonnegative exact rule on these points exists (Mhaskar, Narcowich & Ward 2001: when the
  points are dense enough for L), else the smallest total defect — read it in ``defect``.
- ``"kernel"``: kernel quadrature ``c ∝ (K + ν·mean(diag K)·I)⁻¹ 1``, K the Gram of a zonal
  kernel κ. For zonal κ the kernel mean ``∫κ(<x, y>) dσ(y) = λ_0`` is constant, so the optimal
  weights are ``λ_0 K⁻¹ 1`` and the normalization to Σc = 1 absorbs λ_0. ``kernel``: a
  :class:`ntkspec.Kernel` (its NTK, e.g. the model's own) or a callable κ(t); default
  ``κ(t) = 2 − ‖x − y‖ = 2 − √(2 − 2t)``, positive definite in every d with λ_k ~ k^{-d}
  (RKHS ≅ H^{d/2}).
- ``"voronoi"`` (d = 3): the areas of the spherical Voronoi cells / 4π.
- ``"spacing"`` (d = 2): half the angular gaps on either side, ``c_i = (gap before + gap
  after) / (4π)``.
- ``"density"``: importance weights ``c_i ∝ 1/p(x_i)`` of a known sampling distribution
  (a :class:`ntkspec.distributions.Distribution`).

All weights are float64 and normalized to ``Σ c_i = 1``, whatever the global JAX x64 flag is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import scipy.linalg
from scipy.optimize import nnls
from scipy.spatial import QhullError, SphericalVoronoi
from scipy.spatial.distance import cdist
from scipy.special import roots_gegenbauer, roots_legendre

from ntkspec import _compat
from ntkspec._validate import (
    as_real_array,
    check_choice,
    check_int,
    check_points,
    check_positive,
)
from ntkspec.distributions import Distribution
from ntkspec.kernels import ZonalKernel
from ntkspec.limits import MAX_DEGREE, MAX_DENSE_POINTS, MAX_GRID_POINTS
from ntkspec.sphere import gegenbauer_matrices, multiplicity

__all__ = [
    "Design",
    "QuadratureWeights",
    "default_degree",
    "exactness_defect",
    "gauss_grid",
    "harmonic_dimension",
    "quadrature_weights",
]

METHODS = ("lsq", "kernel", "voronoi", "spacing", "density")
#: Ridge of the nonnegative "lsq" variant, relative to the largest eigenvalue of G.
_NNLS_RIDGE = 1e-12
#: Diagnostics degree when none is given for methods other than "lsq".
DIAGNOSTIC_DEGREE_CAP = 32


# ----------------------------------------------------------------------------- dimensions
def harmonic_dimension(d: int, degree: int) -> int:
    """``M = Σ_{k<=L} N(d, k)``: the dimension of the harmonics of degree <= L on S^{d-1}.

    Equals ``N(d+1, L)`` (d = 3: ``(L+1)²``; d = 2: ``2L+1``); a rule exact to degree L on n
    points in general position needs ``n >= M``.

    >>> harmonic_dimension(3, 4), harmonic_dimension(2, 4)
    (25, 9)
    """
    d = check_int("d", d, minimum=2)
    degree = check_int("degree", degree, minimum=0)
    return int(multiplicity(d + 1, degree))


def default_degree(n: int, d: int) -> int:
    """The degree chosen when none is given: the largest L with ``harmonic_dimension(d, L) <= n/2``.

    Twice as many points as conditions keeps the least-squares system well conditioned for
    random points (0 when n < 2).

    >>> default_degree(512, 3)  # (L + 1)² <= 256
    15
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    L = 0
    while harmonic_dimension(d, L + 1) <= n / 2:
        L += 1
    return L


# ----------------------------------------------------------------------------- design grids
@dataclasses.dataclass(frozen=True)
class Design:
    """A quadrature design: points with exact weights.

    Attributes:
      points: float64 ``(n, d)``, unit rows.
      weights: float64 ``(n,)``, positive, summing to 1.
      degree: every polynomial of degree <= ``degree`` is integrated exactly (w.r.t. σ).
    """

    points: np.ndarray
    weights: np.ndarray
    degree: int


def gauss_grid(d: int, degree: int) -> Design:
    """Product Gauss rule on S^{d-1}, exact for all polynomials of degree <= ``degree`` = L.

    Write ``x = (√(1−t²) y, t)`` with ``y ∈ S^{d-2}``; then
    ``dσ_d = c_d (1−t²)^{(d−3)/2} dt dσ_{d−1}(y)``. The rule is Gauss–Gegenbauer in t (weight
    ``(1−t²)^{(d−3)/2}``, ``⌈(L+1)/2⌉`` nodes, exact to degree L) times the rule for S^{d-2}, down
    to ``L + 1`` equispaced points on S^1. On S^2 this is Gauss–Legendre in ``cos θ`` times
    ``L + 1`` equispaced ``φ``. Odd powers of y integrate to 0 exactly on every level, and the
    even ones leave polynomials in t of degree <= L, so the product is exact to degree L. It has
    ``⌈(L+1)/2⌉^{d−2} (L+1)`` points, all weights positive.

    Args:
      d: ambient dimension (>= 2).
      degree: exactness degree L (>= 0).

    Returns:
      A :class:`Design`.

    >>> g = gauss_grid(3, 5)
    >>> g.points.shape, bool(np.isclose(g.weights @ g.points[:, 2] ** 4, 1 / 5, rtol=0, atol=1e-15))
    ((18, 3), True)
    """
    d = check_int("d", d, minimum=2)
    L = check_int("degree", degree, minimum=0)
    m = L // 2 + 1
    size = m ** (d - 2) * (L + 1)
    if size > MAX_GRID_POINTS:
        raise ValueError(
            f"Expected a grid of at most {MAX_GRID_POINTS} points; gauss_grid({d}, {L}) has "
            f"{size}. Lower the degree (the size grows like L^(d-1))."
        )
    X, w = _circle_rule(L + 1)
    for dim in range(3, d + 1):
        if dim == 3:
            t, wt = roots_legendre(m)
        else:
            t, wt = roots_gegenbauer(m, (dim - 2) / 2.0)
        wt = wt / wt.sum()
        s = np.sqrt((1.0 - t) * (1.0 + t))
        rings = [np.concatenate([si * X, np.full((len(X), 1), ti)], axis=1) for ti, si in
                 zip(t, s, strict=True)]
        X = np.concatenate(rings)
        w = np.concatenate([wi * w for wi in wt])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return Design(points=X, weights=w / w.sum(), degree=L)


def _circle_rule(m: int) -> tuple[np.ndarray, np.ndarray]:
    theta = 2.0 * np.pi * np.arange(m) / m
    return np.stack([np.cos(theta), np.sin(theta)], axis=1), np.full(m, 1.0 / m)


# ----------------------------------------------------------------------------- diagnostics
def exactness_defect(X, weights, degree: int) -> np.ndarray:
    """Squared exactness defect ``D_0..D_L`` of the rule ``(X, weights)`` (module docstring).

    ``D_k = N(d,k) Σ_ij c_i c_j P_k(<x_i, x_j>)`` for k >= 1 and ``D_0 = (Σ c − 1)²``; computed
    in row blocks (memory O(n · 4096)). Rounding leaves a floor of about
    ``1e-16 · N(d,k) · (Σ|c_i|)²`` (so √D_k is resolved down to ~1e-8 only).

    Args:
      X: points ``(n, d)`` on the unit sphere.
      weights: ``(n,)`` real weights (any sign).
      degree: highest degree L.

    Returns:
      float64 ``(L + 1,)``, non-negative.
    """
    Xn = check_points(X)
    c = as_real_array("weights", weights)
    if c.shape != (Xn.shape[0],) or not np.isfinite(c).all():
        raise ValueError(
            f"Expected finite weights of shape ({Xn.shape[0]},); got shape {c.shape}."
        )
    L = check_int("degree", degree, minimum=0, maximum=MAX_DEGREE)
    return _defects(Xn, c, L)


def _defects(Xn: np.ndarray, c: np.ndarray, L: int) -> np.ndarray:
    n, d = Xn.shape
    acc = np.zeros(L + 1)
    block = max(1, (1 << 22) // max(n, 1))
    for start in range(0, n, block):
        T = np.clip(Xn[start : start + block] @ Xn.T, -1.0, 1.0)
        cb = c[start : start + block]
        for k, p in gegenbauer_matrices(T, d, L):
            acc[k] += cb @ (p @ c)
    D = multiplicity(d, np.arange(L + 1)) * acc
    D[0] = (c.sum() - 1.0) ** 2
    return np.maximum(D, 0.0)


@dataclasses.dataclass(frozen=True)
class QuadratureWeights:
    """Weights for a point set and their diagnostics.

    Attributes:
      weights: float64 ``(n,)``, summing to 1 (may be negative for ``"lsq"``).
      method: the method that made them.
      degree: the degree L of the diagnostics (and of exactness for ``"lsq"``).
      defect: float64 ``(L + 1,)``: squared exactness defect ``D_k`` per degree (module
        docstring); ``√defect[k]`` is the worst error on unit-norm degree-k harmonics.
      rank: for ``"lsq"``, the numerical rank of the degree-<=L Gram ``G`` (``harmonic_dimension``
        when the points determine every harmonic); ``None`` for the other methods.
    """

    weights: np.ndarray
    method: str
    degree: int
    defect: np.ndarray
    rank: int | None

    @property
    def min_weight(self) -> float:
        """The smallest weight (negative weights make a rule less stable)."""
        return float(self.weights.min())

    @property
    def ess(self) -> float:
        """Effective sample size ``(Σ c)² / Σ c²`` (n for equal weights)."""
        return float(self.weights.sum() ** 2 / np.sum(self.weights**2))

    def to_dict(self) -> dict:
        """JSON-ready summary (the weights themselves are left out)."""
        return {
            "method": self.method,
            "n": int(self.weights.shape[0]),
            "degree": self.degree,
            "defect": self.defect.tolist(),
            "rank": self.rank,
            "min_weight": self.min_weight,
            "ess": self.ess,
        }


# ----------------------------------------------------------------------------- the weights
def quadrature_weights(
    X,
    method: str = "lsq",
    degree: int | None = None,
    *,
    nonnegative: bool = False,
    base=None,
    kernel: ZonalKernel | Callable | None = None,
    nugget: float = 1e-10,
    distribution: Distribution | None = None,
    rtol: float = 1e-10,
    feasibility: float = 1e-8,
) -> QuadratureWeights:
    """Quadrature weights ``c`` for points ``X`` on S^{d-1}: ``Σ_i c_i g(x_i) ≈ ∫ g dσ``.

    The methods — least-squares exactness to degree L (``"lsq"``, optionally nonnegative or
    nearest a base rule), kernel quadrature, Voronoi areas, angular spacing and inverse
    density — are derived in the module docstring and docs/theory.md §6.4.

    Args:
      X: points ``(n, d)`` with unit norm.
      method: one of ``"lsq"``, ``"kernel"``, ``"voronoi"``, ``"spacing"``, ``"density"``.
      degree: L. For ``"lsq"`` the exactness degree; otherwise the degree of the diagnostics.
        Default :func:`default_degree` (capped at 32 for diagnostics).
      nonnegative: ``"lsq"`` only: the NNLS variant.
      base: ``"lsq"`` only: the rule to stay nearest to: ``None`` (minimum norm), ``"uniform"``
        (1/n), ``"voronoi"`` (S^2), ``"spacing"`` (S^1) or weights of shape ``(n,)``.
      kernel: ``"kernel"`` only: a :class:`ntkspec.Kernel` or a callable κ(t) (default
        ``2 − √(2 − 2t)``).
      nugget: ``"kernel"`` only: ν >= 0, relative to the mean diagonal of K.
      distribution: ``"density"`` only: the distribution the points were drawn from.
      rtol: ``"lsq"`` only: relative eigenvalue cutoff for ``G⁺``.
      feasibility: ``"lsq"`` only: the largest accepted ``1 − 1ᵀG⁺1``; above it no rule on
        these points is exact to degree L and a ``ValueError`` says which degree to use.

    Returns:
      :class:`QuadratureWeights` with weights summing to 1 and the defect per degree.

    >>> g = gauss_grid(3, 6)
    >>> q = quadrature_weights(g.points, "lsq", degree=6)
    >>> bool(np.allclose(q.weights, g.weights, rtol=0, atol=1e-12)), q.rank
    (True, 28)
    """
    Xn = check_points(X)
    check_choice("method", method, METHODS)
    _check_unused(
        method, nonnegative=nonnegative, base=base, kernel=kernel, distribution=distribution
    )
    L = _diagnostic_degree(degree, method, *Xn.shape)
    rank = None
    if method == "lsq":
        c, rank = _lsq(
            Xn, L, nonnegative, _base(Xn, base), check_positive("rtol", rtol),
            check_positive("feasibility", feasibility),
        )
    elif method == "kernel":
        c = _kernel(Xn, kernel, check_positive("nugget", nugget, allow_zero=True))
    elif method == "voronoi":
        c = _voronoi(Xn)
    elif method == "spacing":
        c = _spacing(Xn)
    else:
        c = _density(Xn, distribution)
    total = c.sum()
    if not (np.isfinite(total) and total > 0):
        raise ValueError(f"The {method!r} weights do not have a positive finite sum ({total!r}).")
    c = c / total
    return QuadratureWeights(
        weights=c, method=method, degree=L, defect=_defects(Xn, c, L), rank=rank
    )


def _diagnostic_degree(degree, method: str, n: int, d: int) -> int:
    """The degree L: the given one, else :func:`default_degree` (capped for diagnostics)."""
    if degree is not None:
        return check_int("degree", degree, minimum=0, maximum=MAX_DEGREE)
    L = default_degree(n, d)
    return L if method == "lsq" else min(L, DIAGNOSTIC_DEGREE_CAP)


def _check_unused(method: str, **given) -> None:
    """Method-specific arguments only with their method; ``nonnegative`` a bool."""
    owner = {"nonnegative": "lsq", "base": "lsq", "kernel": "kernel", "distribution": "density"}
    for name, value in given.items():
        if not (value is None or value is False) and owner[name] != method:
            raise ValueError(
                f"{name}= applies to method={owner[name]!r} only; got it with method={method!r}."
            )
    if not isinstance(given["nonnegative"], bool):
        raise TypeError(f"Expected nonnegative to be a bool; got {given['nonnegative']!r}.")


def _check_dense(n: int, method: str) -> None:
    if n > MAX_DENSE_POINTS:
        raise ValueError(
            f"Expected at most {MAX_DENSE_POINTS} points for method={method!r} (it builds an "
            f"n × n matrix); got n = {n}."
        )


def _base(Xn: np.ndarray, base) -> np.ndarray:
    """The base rule c_0 of "lsq" (zeros: the minimum-norm solution)."""
    n = Xn.shape[0]
    if base is None:
        return np.zeros(n)
    if isinstance(base, str):
        check_choice("base", base, ("uniform", "voronoi", "spacing"))
        if base == "uniform":
            return np.full(n, 1.0 / n)
        return _voronoi(Xn) if base == "voronoi" else _spacing(Xn)
    c0 = as_real_array("base", base)
    if c0.shape != (n,) or not np.isfinite(c0).all():
        raise ValueError(
            f"Expected base weights of shape ({n},), finite; got shape {c0.shape}."
        )
    return c0


def _lsq(
    Xn: np.ndarray, L: int, nonnegative: bool, c0: np.ndarray, rtol: float, feasibility: float
) -> tuple[np.ndarray, int]:
    n, d = Xn.shape
    _check_dense(n, "lsq")
    M = harmonic_dimension(d, L)
    T = np.clip(Xn @ Xn.T, -1.0, 1.0)
    N = multiplicity(d, np.arange(L + 1))
    G = np.zeros_like(T)
    for k, p in gegenbauer_matrices(T, d, L):
        G += N[k] * p
    evals, V = np.linalg.eigh(G)
    keep = evals > rtol * evals[-1]
    rank = int(keep.sum())
    lam, Vk = evals[keep], V[:, keep]
    proj = Vk.T @ np.ones(n)
    # c = c_0 + G⁺(1 − G c_0) = (I − V_k V_kᵀ) c_0 + G⁺1: exact, and nearest to c_0.
    c = c0 - Vk @ (Vk.T @ c0) + Vk @ (proj / lam)
    # ‖Y c − e_0‖² = 1 − 1ᵀG⁺1: the squared defect of the best possible rule (any c_0).
    residual = 1.0 - float(proj @ (proj / lam))
    if residual > feasibility:
        best = default_degree(2 * n, d)  # largest L with M(L) <= n
        raise ValueError(
            f"No rule on these {n} points integrates every harmonic of degree <= {L} on "
            f"S^{d - 1} exactly: the least-squares defect is {residual:.3g} (rank of G {rank}, "
            f"M = {M} harmonics). Points in general position need n >= M; use degree <= "
            f"{best}{'' if n >= M else ' or more points'} (clustered points may need less)."
        )
    if not nonnegative:
        return c, rank
    # min_{c>=0} ‖R c − b‖² + τ‖c − c_0‖² (RᵀR = G, Rᵀb = 1): the tiny ridge τ picks the
    # nonnegative solution nearest to c_0 (spread out for c_0 = 0) instead of a sparse vertex.
    R = np.sqrt(lam)[:, None] * Vk.T
    ridge = np.sqrt(_NNLS_RIDGE * evals[-1])
    A = np.vstack([R, ridge * np.eye(n)])
    rhs = np.concatenate([proj / np.sqrt(lam), ridge * c0])
    c, _ = nnls(A, rhs, maxiter=50 * n)
    return c, rank


def _kernel(Xn: np.ndarray, kernel, nugget: float) -> np.ndarray:
    n = Xn.shape[0]
    _check_dense(n, "kernel")
    if kernel is None:
        K = 2.0 - cdist(Xn, Xn)
    elif isinstance(kernel, ZonalKernel):
        with _compat.enable_x64():
            K = np.asarray(kernel.gram(Xn), dtype=np.float64)
    elif callable(kernel):
        K = as_real_array("the kernel's values", kernel(np.clip(Xn @ Xn.T, -1.0, 1.0)))
        if K.shape != (n, n):
            raise ValueError(
                f"Expected the kernel callable to map t of shape ({n}, {n}) to values of the "
                f"same shape; got shape {K.shape}."
            )
    else:
        raise TypeError(
            f"Expected kernel to be an ntkspec.Kernel, a callable κ(t) or None; got "
            f"{type(kernel).__name__}."
        )
    if not np.isfinite(K).all():
        raise ValueError("Expected finite kernel values; got NaN or inf.")
    K = 0.5 * (K + K.T)
    K[np.diag_indices(n)] += nugget * np.mean(np.diag(K))
    try:
        return scipy.linalg.solve(K, np.ones(n), assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        raise ValueError(
            "The kernel Gram matrix (plus nugget) is not positive definite; use a positive "
            "definite zonal kernel or a larger nugget."
        ) from None


def _voronoi(Xn: np.ndarray) -> np.ndarray:
    n, d = Xn.shape
    if d != 3:
        raise ValueError(f"Expected points on S^2 (d = 3) for method='voronoi'; got d = {d}.")
    if n < 4:
        raise ValueError(f"Expected at least 4 points for method='voronoi'; got n = {n}.")
    try:
        sv = SphericalVoronoi(Xn, radius=1.0, center=np.zeros(3))
        areas = sv.calculate_areas()
    except (ValueError, QhullError) as e:
        raise ValueError(
            f"Spherical Voronoi diagram failed (duplicate or degenerate points?): {e}"
        ) from None
    return areas / (4.0 * np.pi)


def _spacing(Xn: np.ndarray) -> np.ndarray:
    n, d = Xn.shape
    if d != 2:
        raise ValueError(f"Expected points on S^1 (d = 2) for method='spacing'; got d = {d}.")
    if n < 2:
        raise ValueError(f"Expected at least 2 points for method='spacing'; got n = {n}.")
    theta = np.arctan2(Xn[:, 1], Xn[:, 0])
    order = np.argsort(theta)
    ts = theta[order]
    gaps = np.diff(np.append(ts, ts[0] + 2.0 * np.pi))  # gap after each sorted point
    c = np.empty(n)
    c[order] = (gaps + np.roll(gaps, 1)) / (4.0 * np.pi)
    return c


def _density(Xn: np.ndarray, dist) -> np.ndarray:
    if not isinstance(dist, Distribution):
        raise TypeError(
            "Expected distribution= an ntkspec.distributions.Distribution for method='density' "
            f"(e.g. distribution('vmf', kappa=3, dim=3)); got {type(dist).__name__}."
        )
    if dist.dim != Xn.shape[1]:
        raise ValueError(
            f"Expected a distribution on S^{Xn.shape[1] - 1}; got one with dim = {dist.dim}."
        )
    if not dist.full_support:
        raise ValueError(
            f"The {dist.name!r} distribution has zero density on part of the sphere, so 1/p "
            "weights cannot integrate over S^(d-1); use method='lsq' or 'kernel'."
        )
    p = dist.density(Xn)
    bad = ~(p > 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"Expected positive density at every point; got p = {p[i]!r} at row {i}.")
    return 1.0 / p
