"""Training losses as values: the objective, the metric of the dynamics and the degree weights.

A :class:`Loss` is the quadratic objective ``L(r) = (1/2) rᵀ M r`` on the residual
``r = f(X) − y`` of n samples, for a symmetric PSD metric M (docs/theory.md, "Gradient-descent
dynamics"):

============  ==============================  ======================  =========================
constructor   objective                       metric M                per-degree weight w_k
============  ==============================  ======================  =========================
``mse()``     ``(1/2n) Σ_i r_i²``             ``I/n``                 1
``weighted``  ``(1/2) Σ_i c_i r_i²``          ``diag(c)``             1 (quadrature: uniform
                                                                      measure restored)
``sobolev``   ``(1/2) Σ_k w_k ‖Π_k r‖²``      S (:func:`sobolev_       ``(1 + k(k + d − 2))^s``
                                              matrix`)
``quadratic`` ``(1/2) rᵀ S r``                S as given              none (not per-degree)
============  ==============================  ======================  =========================

Each value carries what its three users need: :meth:`Loss.bind` gives training a pure JAX
objective with its data, :meth:`Loss.factor` gives the sample predictions a factor B with
``M = B Bᵀ``, and :meth:`Loss.degree_weights` gives the operator predictions the rates
``λ_k w_k``. Quadrature weights must sum to 1 (``Σ_i c_i g(x_i) ≈ ∫ g dσ`` with σ(S^{d−1}) = 1).
Combinations that make no sense (an exponent with the MSE, weights with a matrix) cannot be
written: each constructor takes only its own parameters.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ntkspec._validate import (
    as_real_array,
    check_choice,
    check_int,
    check_points,
    check_weights,
)
from ntkspec.limits import MAX_DEGREE
from ntkspec.sphere import gegenbauer_matrices, is_equispaced_circle, multiplicity

__all__ = [
    "Loss",
    "Objective",
    "mse",
    "weighted",
    "sobolev",
    "quadratic",
    "sobolev_weights",
    "sobolev_matrix",
    "check_sobolev_exponent",
    "normalized_weights",
    "sample_loss",
]

#: The string names of the 0.1 API (``loss="mse"`` ...), each a :class:`Loss` constructor.
LOSS_NAMES = ("mse", "weighted", "sobolev")

#: Quadrature weights must sum to 1 within this tolerance.
WEIGHT_SUM_TOL = 1e-8


def check_sobolev_exponent(s) -> float:
    """``s`` as a finite float, else ``ValueError`` (the Sobolev exponent)."""
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not np.isfinite(float(s)):
        raise ValueError(f"Expected a finite real Sobolev exponent s; got {s!r}.")
    return float(s)


def normalized_weights(weights, n: int) -> np.ndarray:
    """Quadrature weights ``(n,)`` that sum to 1 within 1e-8, else ``ValueError``."""
    c = check_weights(weights, n)
    total = float(c.sum())
    if abs(total - 1.0) > WEIGHT_SUM_TOL:
        raise ValueError(
            f"Expected quadrature weights that sum to 1 (Σ c_i g(x_i) ≈ ∫ g dσ, σ normalized); "
            f"got sum {total!r}. Pass weights / weights.sum()."
        )
    return c


# ----------------------------------------------------------------------------- Sobolev
def sobolev_weights(d: int, degrees: ArrayLike, s: float) -> np.ndarray:
    """H^s weights ``w_k = (1 + k(k + d − 2))^s`` (docs/theory.md), float64, shape of ``degrees``.

    ``k(k + d − 2)`` is the eigenvalue of −Δ on degree-k harmonics of S^{d−1}, so
    ``Σ_k w_k ‖Π_k r‖²`` is the squared H^s norm. ``s = 0`` gives the L² loss.

    >>> sobolev_weights(3, np.arange(3), 1.0).tolist()
    [1.0, 3.0, 7.0]
    """
    d = check_int("d", d, minimum=2)
    s = check_sobolev_exponent(s)
    k = as_real_array("degrees", degrees)
    if not (np.isfinite(k) & (k >= 0) & (k == np.round(k))).all():
        raise ValueError(f"Expected non-negative integer degrees; got {np.asarray(degrees)!r}.")
    with np.errstate(over="ignore"):
        w = (1.0 + k * (k + d - 2.0)) ** s
    if not np.isfinite(w).all():
        raise ValueError(
            f"Expected Sobolev weights (1 + k(k + d - 2))^s that fit in float64; with s = {s:g} "
            f"they overflow at degree {int(k[~np.isfinite(w)].min())}. Use a smaller s or kmax."
        )
    return w


def sobolev_matrix(
    X: ArrayLike, s: float, kmax: int | None = None, *, weights: ArrayLike | None = None
) -> np.ndarray:
    """Matrix S of the sampled Sobolev loss ``(1/2) rᵀ S r = (1/2) Σ_{k<=kmax} w_k ‖Π_k r‖²``.

    ``‖Π_k r‖²`` is the estimate of :func:`ntkspec.sphere.degree_energy`, so the identity with
    ``w_k = sobolev_weights(d, k, s)`` is exact for every vector r:

        S = Σ_{k<=kmax} w_k N(d, k) (c cᵀ) ∘ P_k(G),   G = X Xᵀ,

    with ``c_i = 1/n`` (uniform samples) or the quadrature ``weights``. On equispaced points of
    S^1 (:func:`ntkspec.sphere.equispaced_circle`, no weights) the exact DFT form is used:
    ``S_ij = (1/n²) Σ_{m=0}^{n−1} w_{deg m} cos(2π m (i − j)/n)`` with ``deg m = min(m, n − m)``;
    it covers every degree up to the Nyquist degree ``n // 2`` (``kmax`` may then be omitted,
    or truncates). GD on this loss gives ``r ← (I − η K S) r`` and, for uniform samples,
    degree k contracts by ``≈ 1 − η λ_k w_k``.

    Args:
      X: points ``(n, d)`` on the unit sphere.
      s: Sobolev exponent (any finite real; s = 0 gives the projection onto degrees <= kmax).
      kmax: highest degree (required except on equispaced S^1).
      weights: optional quadrature weights ``(n,)``.

    Returns:
      float64 symmetric PSD array ``(n, n)``.

    >>> from ntkspec.sphere import equispaced_circle
    >>> X = equispaced_circle(8)
    >>> r = np.cos(3 * np.arange(8) * 2 * np.pi / 8)        # degree 3, ‖r‖² = 1/2
    >>> bool(np.isclose(r @ sobolev_matrix(X, 1.0) @ r, 0.5 * (1 + 9)))
    True
    """
    Xn = check_points(X)
    s = check_sobolev_exponent(s)
    n, d = Xn.shape
    if weights is None and d == 2 and is_equispaced_circle(Xn):
        nyq = n // 2
        kmax = nyq if kmax is None else min(check_int("kmax", kmax, minimum=0), nyq)
        deg = np.minimum(np.arange(n), n - np.arange(n))
        w = np.where(deg <= kmax, sobolev_weights(2, deg, s), 0.0)
        row = np.fft.ifft(w).real / n  # (1/n²) Σ_m w_m cos(2π m j / n)
        idx = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
        S = row[idx]
        return 0.5 * (S + S.T)
    if kmax is None:
        raise ValueError(
            "Expected kmax (the highest degree of the Sobolev loss); it may be omitted only "
            "for equispaced points on S^1 without weights."
        )
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    c = check_weights(weights, n)
    w = sobolev_weights(d, np.arange(kmax + 1), s) * multiplicity(d, np.arange(kmax + 1))
    G = np.clip(Xn @ Xn.T, -1.0, 1.0)
    Z = np.zeros((n, n))
    for k, p in gegenbauer_matrices(G, d, kmax):
        Z += w[k] * p
    S = c[:, None] * Z * c[None, :]
    return 0.5 * (S + S.T)


# ----------------------------------------------------------------------------- objectives
def _mean_square(r, data):
    del data
    return 0.5 * jnp.mean(r * r)


def _weighted_square(r, c):
    return 0.5 * jnp.sum(c * r * r)


def _quadratic_form(r, S):
    return 0.5 * jnp.dot(r, S @ r)


class Objective(NamedTuple):
    """A loss bound to a sample: ``fn(r, data)`` is a pure JAX scalar function of r.

    ``fn`` is a module-level function (a stable, hashable jit static argument) and ``data`` the
    array it reads (a scalar placeholder for MSE, c for weighted, S for Sobolev/quadratic).
    ``example_weights`` is the diagonal of M (``(n,)``) when M is diagonal, else ``None``; a
    mini-batch of indices J then has the unbiased objective ``(1/2) Σ_{j∈J} (n/|J|) M_jj r_j²``.
    """

    fn: Callable[[jax.Array, jax.Array], jax.Array]
    data: jax.Array
    example_weights: np.ndarray | None


# ----------------------------------------------------------------------------- the value
@dataclasses.dataclass(frozen=True, eq=False)
class Loss:
    """A quadratic training loss ``(1/2) rᵀ M r`` (build it with the constructors).

    Attributes:
      kind: ``"mse"``, ``"weighted"``, ``"sobolev"`` or ``"quadratic"``.
      s: the Sobolev exponent (0 unless ``kind == "sobolev"``).
      weights: quadrature weights ``(n,)`` (weighted; optional for sobolev), else ``None``.
      kmax: the Sobolev matrix's highest degree (``None``: the caller's ``kmax``).
      matrix: the matrix S of a ``quadratic`` loss, else ``None``.
    """

    kind: str
    s: float = 0.0
    weights: np.ndarray | None = None
    kmax: int | None = None
    matrix: np.ndarray | None = None

    @property
    def diagonal(self) -> bool:
        """Whether M is diagonal (mini-batches then give unbiased gradients)."""
        return self.kind in ("mse", "weighted")

    def degree_weights(self, d: int, degrees: ArrayLike) -> np.ndarray:
        """Per-degree factor ``w_k`` of the operator rates ``λ_k w_k`` (float64).

        1 for MSE and for a quadrature-weighted loss (whose operator is the uniform-measure
        one), ``(1 + k(k + d − 2))^s`` for Sobolev; ``ValueError`` for a general quadratic.
        """
        if self.kind == "quadratic":
            raise ValueError(
                "Expected a loss with per-degree weights (mse, weighted or sobolev); a general "
                "quadratic(S) loss has none. Use the finite-sample (Gram) prediction."
            )
        if self.kind == "sobolev":
            return sobolev_weights(d, degrees, self.s)
        return np.ones(np.shape(degrees), dtype=np.float64)

    def metric(self, X: ArrayLike, *, kmax: int | None = None) -> np.ndarray:
        """The metric M ``(n, n)`` float64 at the points (rows of) X."""
        n = _num_rows(X)
        if self.kind == "mse":
            return np.eye(n) / n
        if self.kind == "weighted":
            return np.diag(self._weights_for(n))
        return np.array(self._matrix_for(X, kmax))

    def factor(self, X: ArrayLike, *, kmax: int | None = None) -> np.ndarray:
        """A factor B with ``M = B Bᵀ``: ``(n,)`` (M diagonal, B = √diag) or ``(n, r)``.

        The Sobolev/quadratic factor is the pivoted Cholesky factor of S (O(n² rank S)).
        """
        n = _num_rows(X)
        if self.kind == "mse":
            return np.full(n, 1.0 / np.sqrt(n))
        if self.kind == "weighted":
            return np.sqrt(self._weights_for(n))
        return psd_factor(self._matrix_for(X, kmax))

    def bind(self, X: ArrayLike, *, kmax: int | None = None, dtype=None) -> Objective:
        """The training objective on the rows of X, its data cast to ``dtype``."""
        n = _num_rows(X)
        if self.kind == "mse":
            return Objective(_mean_square, jnp.zeros((), dtype=dtype), np.full(n, 1.0 / n))
        if self.kind == "weighted":
            c = self._weights_for(n)
            return Objective(_weighted_square, jnp.asarray(c, dtype=dtype), c)
        S = self._matrix_for(X, kmax)
        return Objective(_quadratic_form, jnp.asarray(S, dtype=dtype), None)

    def to_dict(self) -> dict:
        """JSON-ready description (kind and exponent; arrays are data, not metadata)."""
        out = {"kind": self.kind}
        if self.kind == "sobolev":
            out["s"] = self.s
            if self.kmax is not None:
                out["kmax"] = self.kmax
        return out

    def _weights_for(self, n: int) -> np.ndarray:
        if self.weights.shape != (n,):
            raise ValueError(
                f"Expected the loss' quadrature weights to have shape ({n},) (one per sample); "
                f"got {self.weights.shape}."
            )
        return self.weights

    def _matrix_for(self, X, kmax) -> np.ndarray:
        n = _num_rows(X)
        if self.kind == "quadratic":
            if self.matrix.shape != (n, n):
                raise ValueError(
                    f"Expected the loss matrix to have shape ({n}, {n}); got {self.matrix.shape}."
                )
            return self.matrix
        if self.weights is not None:
            self._weights_for(n)
        k = self.kmax if self.kmax is not None else kmax
        return sobolev_matrix(X, self.s, k, weights=self.weights)


def _num_rows(X) -> int:
    shape = np.shape(X)
    if len(shape) < 1 or shape[0] < 1:
        raise ValueError(f"Expected inputs X with at least one row; got shape {shape}.")
    return int(shape[0])


def psd_factor(S: np.ndarray) -> np.ndarray:
    """B ``(n, r)`` with ``S = B Bᵀ`` by pivoted Cholesky (LAPACK ``?pstrf``).

    ``ValueError`` if S is not positive semi-definite (to 1e-8 relative).
    """
    from scipy.linalg import lapack

    L, piv, rank, info = lapack.dpstrf(S, lower=1)
    if info < 0:  # pragma: no cover - argument error inside LAPACK
        raise ValueError(f"Pivoted Cholesky failed (info = {info}).")
    B = np.zeros((S.shape[0], rank))
    B[piv - 1] = np.tril(L)[:, :rank]
    scale = max(float(np.max(np.abs(S))), np.finfo(np.float64).tiny)
    if float(np.max(np.abs(S - B @ B.T))) > 1e-8 * scale:
        raise ValueError("Expected a positive semi-definite sobolev matrix (see sobolev_matrix).")
    return B


# ----------------------------------------------------------------------------- constructors
def mse() -> Loss:
    """Mean squared error ``(1/2n) Σ_i r_i²`` (M = I/n; operator rates λ_k).

    >>> mse().degree_weights(3, [0, 1, 2]).tolist()
    [1.0, 1.0, 1.0]
    """
    return Loss("mse")


def weighted(c: ArrayLike) -> Loss:
    """Quadrature-weighted squared error ``(1/2) Σ_i c_i r_i²`` (M = diag(c)).

    With quadrature weights (``Σ_i c_i g(x_i) ≈ ∫ g dσ``) of nonuniform samples the dynamics
    ``r ← (I − η K C) r`` approximate the uniform-measure operator, so the per-degree rates are
    the plain λ_k (Basri et al. 2020; Yu, Yang & Townsend 2023).

    Args:
      c: non-negative weights ``(n,)`` summing to 1 (within 1e-8).

    >>> weighted([0.25, 0.75]).metric(np.zeros((2, 3))).tolist()
    [[0.25, 0.0], [0.0, 0.75]]
    """
    arr = as_real_array("c", c)
    if arr.ndim != 1:
        raise ValueError(f"Expected quadrature weights c of shape (n,); got shape {arr.shape}.")
    c = normalized_weights(arr, arr.shape[0])
    c.setflags(write=False)
    return Loss("weighted", weights=c)


def sobolev(s: float, *, weights: ArrayLike | None = None, kmax: int | None = None) -> Loss:
    """Sobolev H^s loss ``(1/2) Σ_{k<=kmax} w_k ‖Π_k r‖²``, ``w_k = (1 + k(k + d − 2))^s``.

    Degree k then contracts by ``1 − η λ_k w_k``: with ``λ_k ~ k^{−d}``, s < 0 strengthens the
    low-frequency bias, 2s ≈ d flattens it and larger s reverses it (Yu, Yang & Townsend 2023).
    The matrix (:func:`sobolev_matrix`) is built for the points it is bound to.

    Args:
      s: finite real exponent.
      weights: optional quadrature weights of the sample (summing to 1), used in ‖Π_k r‖².
      kmax: the loss' highest degree; ``None`` takes the caller's (e.g. ``train``'s) kmax.
    """
    s = check_sobolev_exponent(s)
    if kmax is not None:
        kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    c = None
    if weights is not None:
        arr = as_real_array("weights", weights)
        if arr.ndim != 1:
            raise ValueError(f"Expected weights of shape (n,); got shape {arr.shape}.")
        c = normalized_weights(arr, arr.shape[0])
        c.setflags(write=False)
    return Loss("sobolev", s=s, weights=c, kmax=kmax)


def quadratic(S: ArrayLike) -> Loss:
    """General quadratic loss ``(1/2) rᵀ S r`` for a symmetric PSD matrix S ``(n, n)``.

    No per-degree weights: only finite-sample predictions apply. ``loss="sobolev",
    sobolev=S`` of the older string API maps to this.
    """
    A = as_real_array("sobolev", S)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.isfinite(A).all():
        raise ValueError(f"Expected a finite square matrix S of shape (n, n); got {A.shape}.")
    scale = max(float(np.max(np.abs(A))), np.finfo(np.float64).tiny)
    if float(np.max(np.abs(A - A.T))) > 1e-8 * scale:
        raise ValueError("Expected a symmetric sobolev matrix (see sobolev_matrix).")
    A = 0.5 * (A + A.T)
    A.setflags(write=False)
    return Loss("quadratic", matrix=A)


def sample_loss(loss, n: int, *, weights=None, sobolev=None) -> tuple[str, Loss]:
    """``(name, Loss)`` of the 0.1 string arguments ``loss``/``weights``/``sobolev`` on n samples.

    The one mapping of the string API shared by :func:`ntkspec.train.train` and the sample
    predictions of :mod:`ntkspec.dynamics`: a :class:`Loss` value passes through (``sobolev=``
    is then refused); ``"mse"``; ``"weighted"`` needs ``weights`` (quadrature weights summing
    to 1); ``"sobolev"`` needs ``sobolev=``, a finite ``(n, n)`` matrix from
    :func:`sobolev_matrix`, which becomes :func:`quadratic` (its exponent is unknown).

    >>> sample_loss("weighted", 2, weights=[0.25, 0.75])[1].kind
    'weighted'
    """
    if isinstance(loss, Loss):
        if sobolev is not None:
            raise ValueError("Got sobolev= with a Loss value; pass ntkspec.losses.quadratic(S).")
        return loss.kind, loss
    check_choice("loss", loss, LOSS_NAMES)
    if sobolev is not None and loss != "sobolev":
        raise ValueError("Got sobolev= with loss != 'sobolev'; pass loss='sobolev'.")
    if loss == "mse":
        return loss, mse()
    if loss == "weighted":
        if weights is None:
            raise ValueError(
                "Expected weights (quadrature weights c, shape (n,)) with loss='weighted'."
            )
        return loss, Loss("weighted", weights=check_weights(weights, n))
    if sobolev is None:
        raise ValueError("Expected sobolev= (a matrix from sobolev_matrix) with loss='sobolev'.")
    S = as_real_array("sobolev", sobolev)
    if S.shape != (n, n) or not np.isfinite(S).all():
        raise ValueError(f"Expected a finite sobolev matrix of shape ({n}, {n}); got {S.shape}.")
    return loss, quadratic(S)
