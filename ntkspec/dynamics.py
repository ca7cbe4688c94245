"""Per-degree residual predictions for gradient descent in the lazy (linearized) regime.

Convention (DESIGN.md, THEORY.md §3). With the mean loss ``(1/2n) Σ_i (f(x_i) − y_i)²`` and step
η, the residual ``r = f − y`` of a linearized model with kernel Gram ``K`` obeys

    r_{t+1} = (I − η K/n) r_t,

so on uniform data the degree-k part of r contracts by ``(1 − η λ_k)`` per step (gradient flow:
``e^{−η λ_k t}`` after t steps, i.e. flow time τ = η t). Other losses replace ``1/n`` by a
symmetric PSD matrix M, ``r_{t+1} = (I − η K M) r_t``:

- ``"weighted"``: ``(1/2) Σ_i c_i r_i²`` with quadrature weights c (``Σ_i c_i g(x_i) ≈ ∫ g dσ``),
  M = diag(c). On nonuniform samples this restores the uniform-measure rates λ_k
  (Basri et al. 2020; Yu, Yang & Townsend 2023).
- ``"sobolev"``: ``(1/2) rᵀ S r = (1/2) Σ_k w_k ‖Π_k r‖²`` (:func:`sobolev_matrix`), with the
  H^s weight ``w_k = (1 + k(k + d − 2))^s`` (:func:`sobolev_weights`; k(k + d − 2) is the
  Laplace–Beltrami eigenvalue of degree k). Degree k then contracts by ``(1 − η λ_k w_k)``.
  Since ``λ_k ~ k^{−d}`` for NTKs, ``s < 0`` strengthens the low-frequency bias, ``2s ≈ d``
  flattens it and larger ``s`` reverses it (on S^1: s = 1 flat, s = 2 reversed).

Norms are L²(σ) norms with σ the normalized uniform measure, ``‖Π_k r‖ = sqrt(E_k)`` with
``E_k`` as in :func:`ntkspec.sphere.degree_energy`. Everything here is float64 NumPy, whatever
the global JAX x64 flag is.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from pathlib import Path

import numpy as np
from jax.typing import ArrayLike
from scipy.linalg import lapack

from ntkspec._io import atomic_savez, atomic_write_json, json_floats
from ntkspec._validate import (
    as_real_array,
    check_choice,
    check_int,
    check_points,
    check_positive,
    check_weights,
)
from ntkspec.spectrum import Spectrum, load_fields
from ntkspec.sphere import (
    _is_equispaced_circle,
    degree_energy,
    gegenbauer_matrices,
    multiplicity,
)

__all__ = [
    "Prediction",
    "predict_residual",
    "predict_residual_gram",
    "predict_residual_vectors",
    "sobolev_weights",
    "sobolev_matrix",
    "max_stable_lr",
    "steps_to_fit",
]

_METHODS = ("gd", "flow")
_SPECTRAL_LOSSES = ("mse", "sobolev")
_GRAM_LOSSES = ("mse", "weighted", "sobolev")
_MAX_DEGREE = 100_000
_MAX_RECORDS = 10_000_000


# ----------------------------------------------------------------------------- result type
@dataclasses.dataclass(frozen=True)
class Prediction:
    """Predicted per-degree residual norms ``‖Π_k r_t‖_{L²(σ)}`` at recorded steps.

    Attributes:
      times: int64 array ``(T,)`` of step counts t (for ``method="flow"``: flow time η·t).
      degrees: int64 array ``(K,)``, ``0..K-1``.
      norms: float64 array ``(T, K)``, ``norms[i, k] = ‖Π_k r_{times[i]}‖``.
      initial: float64 array ``(K,)``, the norms at t = 0 (whether or not 0 is in ``times``).
      method: ``"gd"`` or ``"flow"``.
      lr: the step η.
      loss: ``"mse"``, ``"weighted"`` or ``"sobolev"``.
      s: the Sobolev exponent (0 for mse/weighted; NaN when a Sobolev matrix was passed).
      source: ``"spectrum"`` (Funk–Hecke operator) or ``"gram"`` (finite sample).
    """

    times: np.ndarray
    degrees: np.ndarray
    norms: np.ndarray
    initial: np.ndarray
    method: str
    lr: float
    loss: str
    s: float
    source: str

    @property
    def energies(self) -> np.ndarray:
        """``norms**2``, shape ``(T, K)``."""
        return self.norms**2

    def steps_to_fraction(self, fraction: float) -> np.ndarray:
        """For each degree, the first time its norm is ``<= fraction × initial``.

        Between two records the crossing is interpolated linearly in ``log(norm)`` (exact for a
        geometric decay), so the result is a float. ``inf`` where the threshold is never reached
        within the records, ``NaN`` where the initial norm is 0 (nothing to fit).

        Returns:
          float64 array of shape ``(K,)``.
        """
        return _steps_to_fraction(self.times, self.norms, self.initial, fraction)

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite floats as the strings ``"inf"``/``"nan"``)."""
        return {
            "times": [int(t) for t in self.times],
            "degrees": [int(k) for k in self.degrees],
            "norms": json_floats(self.norms),
            "initial": json_floats(self.initial),
            "method": self.method,
            "lr": json_floats(self.lr),
            "loss": self.loss,
            "s": json_floats(self.s),
            "source": self.source,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as ``.json`` (default) or ``.npz`` (by the suffix)."""
        path = Path(path)
        if path.suffix == ".npz":
            return atomic_savez(path, **{f.name: getattr(self, f.name) for f in _fields(self)})
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Prediction:
        """Read a file written by :meth:`save` (``ValueError`` if it is not one)."""
        d = _load(path)
        try:
            return cls(
                times=np.asarray(d["times"], dtype=np.int64),
                degrees=np.asarray(d["degrees"], dtype=np.int64),
                norms=np.asarray(d["norms"], dtype=np.float64).reshape(
                    len(d["times"]), len(d["degrees"])
                ),
                initial=np.asarray(d["initial"], dtype=np.float64),
                method=str(d["method"]),
                lr=float(np.float64(d["lr"])),
                loss=str(d["loss"]),
                s=float(np.float64(d["s"])),
                source=str(d["source"]),
            )
        except (ValueError, TypeError) as e:
            raise ValueError(f"Cannot load a Prediction from {path}: {e}") from None


def _fields(obj):
    return dataclasses.fields(obj)


def _load(path) -> dict:
    """Entries of a saved result (``ValueError`` naming the file when one is missing)."""
    return load_fields(Path(path))


def _check_fraction(fraction) -> float:
    f = check_positive("fraction", fraction)
    if not f < 1.0:
        raise ValueError(f"Expected fraction in (0, 1); got {fraction!r}.")
    return f


def _steps_to_fraction(times, norms, initial, fraction) -> np.ndarray:
    """Shared by :class:`Prediction` and :class:`ntkspec.train.TrainRecord`."""
    fraction = _check_fraction(fraction)
    t = np.asarray(times, dtype=np.float64)
    N = np.asarray(norms, dtype=np.float64)
    init = np.asarray(initial, dtype=np.float64)
    if t.size == 0 or t[0] != 0:
        t = np.concatenate([[0.0], t])
        N = np.concatenate([init[None, :], N], axis=0)
    out = np.full(init.shape, np.inf)
    thr = fraction * init
    for k in range(init.shape[0]):
        if not init[k] > 0:
            out[k] = np.nan
            continue
        below = np.flatnonzero(N[:, k] <= thr[k])
        if below.size == 0:
            continue
        j = int(below[0])
        if j == 0:  # only when a record at t = 0 disagrees with `initial`
            out[k] = t[0]
        elif N[j, k] == 0.0:
            out[k] = t[j]
        else:
            la, lb = np.log(N[j - 1, k]), np.log(N[j, k])
            out[k] = t[j - 1] + (np.log(thr[k]) - la) / (lb - la) * (t[j] - t[j - 1])
    return out


# ----------------------------------------------------------------------------- validation
def _record_times(steps, record_every, times) -> np.ndarray:
    """Recorded steps: ``0, e, 2e, …`` plus ``steps`` itself, or the given ``times``."""
    steps = check_int("steps", steps, minimum=0)
    if times is not None:
        if record_every is not None:
            raise ValueError("Expected either record_every or times, not both.")
        t = np.asarray(times)
        if t.ndim != 1 or t.size == 0 or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(
                f"Expected times to be a non-empty 1-D array of integer steps; got {t.dtype} "
                f"array of shape {t.shape}."
            )
        if (np.diff(t) <= 0).any() or t[0] < 0 or t[-1] > steps:
            raise ValueError(
                f"Expected strictly increasing times in [0, steps = {steps}]; got {t.tolist()}."
            )
        return t.astype(np.int64)
    every = 1 if record_every is None else check_int("record_every", record_every, minimum=1)
    if steps // every + 2 > _MAX_RECORDS:
        raise ValueError(
            f"Expected at most {_MAX_RECORDS} recorded times; got steps = {steps} with "
            f"record_every = {every}. Pass a larger record_every or explicit times=."
        )
    t = np.arange(0, steps + 1, every, dtype=np.int64)
    if t[-1] != steps:
        t = np.append(t, np.int64(steps))
    return t


def _check_s(s) -> float:
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not np.isfinite(float(s)):
        raise ValueError(f"Expected a finite real Sobolev exponent s; got {s!r}.")
    return float(s)


def _check_spectrum(spectrum) -> Spectrum:
    if not isinstance(spectrum, Spectrum):
        raise TypeError(
            f"Expected a Spectrum (see ntkspec.spectrum); got {type(spectrum).__name__}."
        )
    return spectrum


def _spectral_rates(spectrum: Spectrum, loss: str, s: float) -> np.ndarray:
    """λ_k w_k for every degree of the spectrum."""
    check_choice("loss", loss, _SPECTRAL_LOSSES)
    s = _check_s(s)
    if loss == "mse" and s != 0.0:
        raise ValueError(f"Expected s = 0 with loss='mse'; got s = {s!r}. Pass loss='sobolev'.")
    lam = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    if loss == "sobolev":
        return lam * sobolev_weights(spectrum.dim, spectrum.degrees, s)
    return lam


def _limit_from(mu_max: float) -> float:
    return 2.0 / mu_max if mu_max > 0 else np.inf


def _check_stable(lr: float, limit: float, allow_unstable: bool) -> None:
    if not allow_unstable and not lr < limit:
        raise ValueError(
            f"Expected lr below the gradient-descent stability limit 2/λ_max = {limit:.6g}; "
            f"got lr = {lr!r}. Lower lr, or pass allow_unstable=True to predict divergence."
        )


# ----------------------------------------------------------------------------- Sobolev
def sobolev_weights(d: int, degrees: ArrayLike, s: float) -> np.ndarray:
    """H^s weights ``w_k = (1 + k(k + d − 2))^s`` (THEORY.md §3), float64, shape of ``degrees``.

    ``k(k + d − 2)`` is the eigenvalue of −Δ on degree-k harmonics of S^{d−1}, so
    ``Σ_k w_k ‖Π_k r‖²`` is the squared H^s norm. ``s = 0`` gives the L² loss.

    >>> sobolev_weights(3, np.arange(3), 1.0).tolist()
    [1.0, 3.0, 7.0]
    """
    d = check_int("d", d, minimum=2)
    s = _check_s(s)
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
    ``S_ij = (1/n²) Σ_{m=0}^{n−1} w_{deg m} cos(2π m (i − j)/n)`` with ``deg m = min(m, n − m)``,
    i.e. ``S = F* diag(w) F / n²`` for the unitary-less DFT F; it covers every degree up to the
    Nyquist degree ``n // 2`` (``kmax`` may then be omitted, or truncates). GD on this loss gives
    ``r ← (I − η K S) r`` and, for uniform samples, degree k contracts by ``≈ 1 − η λ_k w_k``.

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
    s = _check_s(s)
    n, d = Xn.shape
    if weights is None and d == 2 and _is_equispaced_circle(Xn):
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
    kmax = check_int("kmax", kmax, minimum=0, maximum=_MAX_DEGREE)
    c = check_weights(weights, n)
    w = sobolev_weights(d, np.arange(kmax + 1), s) * multiplicity(d, np.arange(kmax + 1))
    G = np.clip(Xn @ Xn.T, -1.0, 1.0)
    Z = np.zeros((n, n))
    for k, p in gegenbauer_matrices(G, d, kmax):
        Z += w[k] * p
    S = c[:, None] * Z * c[None, :]
    return 0.5 * (S + S.T)


# ----------------------------------------------------------------------------- spectral
def predict_residual(
    spectrum: Spectrum,
    r0: ArrayLike,
    lr: float,
    steps: int,
    *,
    method: str = "gd",
    loss: str = "mse",
    s: float = 0.0,
    record_every: int | None = None,
    times: ArrayLike | None = None,
    allow_unstable: bool = False,
) -> Prediction:
    """Per-degree residual norms predicted from the operator's eigenvalues λ_k.

    ``norms[t, k] = sqrt(E_k) |1 − η λ_k w_k|^t`` (``method="gd"``) or
    ``sqrt(E_k) exp(−η λ_k w_k t)`` (``"flow"``: gradient flow run for time η t), with
    ``w_k = 1`` for ``loss="mse"`` and ``w_k = (1 + k(k + d − 2))^s`` for ``loss="sobolev"``
    (module docstring: s < 0 strengthens the low-frequency bias, 2s ≈ d flattens it, larger
    s reverses it). A quadrature-weighted loss has the same operator rates as ``"mse"``.

    Args:
      spectrum: a :class:`~ntkspec.spectrum.Spectrum` (λ_0..λ_kmax, normalized measure).
      r0: per-degree initial *energies* ``E_k = ‖Π_k r_0‖²_{L²(σ)}`` for k = 0..K−1, shape
        ``(K,)`` with ``K <= kmax + 1`` (e.g. ``degree_energy(X, f0 - y, K - 1)``; for the
        target ``y`` with a centered network, ``r_0 = −y``).
      lr: step η > 0.
      steps: number of steps (>= 0).
      method: ``"gd"`` or ``"flow"``.
      loss: ``"mse"`` or ``"sobolev"``.
      s: Sobolev exponent (only with ``loss="sobolev"``).
      record_every: record every this many steps (default 1); ``steps`` is always recorded.
      times: alternatively, the exact steps to record (strictly increasing, in [0, steps]).
      allow_unstable: for ``"gd"``, ``lr >= 2/max_k(λ_k w_k)`` raises ``ValueError`` unless
        this is True (the prediction then grows).

    Returns:
      A :class:`Prediction` with ``source="spectrum"``.

    One step at η = 1 on the two-layer ReLU NTK of S^2 (λ_1 = 1/3) leaves 2/3 of degree 1:

    >>> from ntkspec import mlp_kernel, spectrum
    >>> p = predict_residual(spectrum(mlp_kernel(1), 3, 2), [0.0, 1.0, 1.0], 1.0, 1)
    >>> bool(np.isclose(p.norms[1, 1], 2 / 3))
    True
    """
    spectrum = _check_spectrum(spectrum)
    method = check_choice("method", method, _METHODS)
    lr = check_positive("lr", lr)
    rates_all = _spectral_rates(spectrum, loss, s)
    E = as_real_array("r0", r0)
    K = spectrum.kmax + 1
    if E.ndim != 1 or not 1 <= E.shape[0] <= K:
        raise ValueError(
            f"Expected r0 to be per-degree energies ‖Π_k r_0‖² of shape (K,) with "
            f"1 <= K <= kmax + 1 = {K}; got shape {E.shape}."
        )
    if not np.isfinite(E).all() or (E < 0).any():
        raise ValueError("Expected r0 (per-degree energies) finite and non-negative.")
    t = _record_times(steps, record_every, times)
    if method == "gd":
        _check_stable(lr, _limit_from(float(np.max(rates_all))), allow_unstable)
    rates = rates_all[: E.shape[0]]
    tt = t[:, None].astype(np.float64)
    if method == "gd":
        with np.errstate(over="ignore"):
            decay = np.abs(1.0 - lr * rates)[None, :] ** tt
    else:
        with np.errstate(over="ignore"):
            decay = np.exp(-lr * rates[None, :] * tt)
    init = np.sqrt(E)
    with np.errstate(invalid="ignore"):
        norms = np.where(init[None, :] == 0, 0.0, init[None, :] * decay)
    return Prediction(
        times=t,
        degrees=np.arange(E.shape[0], dtype=np.int64),
        norms=norms,
        initial=init,
        method=method,
        lr=lr,
        loss=loss,
        s=float(s) if loss == "sobolev" else 0.0,
        source="spectrum",
    )


def steps_to_fit(
    spectrum: Spectrum,
    k,
    fraction: float,
    lr: float,
    *,
    method: str = "gd",
    loss: str = "mse",
    s: float = 0.0,
):
    """Predicted steps until degree k's residual is ``<= fraction`` of its start.

    ``t* = log(fraction) / log|1 − η λ_k w_k|`` (gd) or ``−log(fraction) / (η λ_k w_k)`` (flow),
    as a real number (the integer step count is ``ceil(t*)``); ``inf`` where ``λ_k w_k <= 0``
    or gd does not contract. Basri et al. (2019): this grows like ``k^d`` for NTKs.

    Args:
      spectrum: a :class:`~ntkspec.spectrum.Spectrum`.
      k: a degree or an array of degrees (<= kmax).
      fraction: target fraction in (0, 1).
      lr: step η > 0.
      method, loss, s: as in :func:`predict_residual`.

    Returns:
      A float for an int ``k``, else a float64 array of the shape of ``k``.
    """
    spectrum = _check_spectrum(spectrum)
    method = check_choice("method", method, _METHODS)
    lr = check_positive("lr", lr)
    fraction = _check_fraction(fraction)
    rates_all = _spectral_rates(spectrum, loss, s)
    scalar = np.ndim(k) == 0
    if scalar:
        kk = np.array([check_int("k", k, minimum=0, maximum=spectrum.kmax)])
    else:
        kk = np.asarray(k)
        if not np.issubdtype(kk.dtype, np.integer) or (kk < 0).any() or (kk > spectrum.kmax).any():
            raise ValueError(f"Expected integer degrees in [0, {spectrum.kmax}]; got {k!r}.")
    rate = rates_all[kk]
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "gd":
            factor = np.abs(1.0 - lr * rate)
            out = np.where(
                factor == 0.0, 1.0, np.log(fraction) / np.log(np.where(factor == 0, 0.5, factor))
            )
            out = np.where((rate <= 0) | (factor >= 1.0), np.inf, out)
        else:
            out = np.where(rate > 0, -np.log(fraction) / (lr * rate), np.inf)
    return float(out[0]) if scalar else out


# ----------------------------------------------------------------------------- finite sample
def _check_gram(K) -> np.ndarray:
    A = as_real_array("the Gram matrix K", K)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise ValueError(f"Expected a square Gram matrix of shape (n, n); got shape {A.shape}.")
    if not np.isfinite(A).all():
        raise ValueError("Expected a finite Gram matrix; got NaN or inf.")
    scale = max(float(np.max(np.abs(A))), np.finfo(np.float64).tiny)
    asym = float(np.max(np.abs(A - A.T))) / scale
    if asym > 1e-5:
        raise ValueError(
            f"Expected a symmetric Gram matrix; got relative asymmetry {asym:.3g} (> 1e-5)."
        )
    return 0.5 * (A + A.T)


def _loss_factor(loss: str, n: int, weights, sobolev) -> np.ndarray:
    """A factor B with M = B Bᵀ: a vector (M diagonal) or an (n, m) matrix (M = S)."""
    check_choice("loss", loss, _GRAM_LOSSES)
    if sobolev is not None and loss != "sobolev":
        raise ValueError("Got a sobolev matrix with loss != 'sobolev'; pass loss='sobolev'.")
    if loss == "mse":
        return np.full(n, 1.0 / np.sqrt(n))
    if loss == "weighted":
        if weights is None:
            raise ValueError("Expected weights (quadrature weights c) with loss='weighted'.")
        return np.sqrt(check_weights(weights, n))
    if sobolev is None:
        raise ValueError("Expected sobolev= (a matrix from sobolev_matrix) with loss='sobolev'.")
    S = as_real_array("sobolev", sobolev)
    if S.shape != (n, n) or not np.isfinite(S).all():
        raise ValueError(f"Expected a finite sobolev matrix of shape ({n}, {n}); got {S.shape}.")
    scale = max(float(np.max(np.abs(S))), np.finfo(np.float64).tiny)
    if float(np.max(np.abs(S - S.T))) > 1e-8 * scale:
        raise ValueError("Expected a symmetric sobolev matrix (see sobolev_matrix).")
    return _psd_factor(0.5 * (S + S.T))


def _psd_factor(S: np.ndarray) -> np.ndarray:
    """B (n, r) with S = B Bᵀ by pivoted Cholesky (LAPACK ?pstrf, O(n² r) for rank r)."""
    L, piv, rank, info = lapack.dpstrf(S, lower=1)
    if info < 0:  # pragma: no cover - argument error inside LAPACK
        raise ValueError(f"Pivoted Cholesky failed (info = {info}).")
    B = np.zeros((S.shape[0], rank))
    B[piv - 1] = np.tril(L)[:, :rank]
    scale = max(float(np.max(np.abs(S))), np.finfo(np.float64).tiny)
    if float(np.max(np.abs(S - B @ B.T))) > 1e-8 * scale:
        raise ValueError("Expected a positive semi-definite sobolev matrix (see sobolev_matrix).")
    return B


def _operator_eig(K: np.ndarray, B: np.ndarray):
    """Eigen-decomposition of H = Bᵀ K B (symmetric) and the product K B."""
    if B.ndim == 1:
        KB = K * B[None, :]
        H = B[:, None] * KB
    else:
        KB = K @ B
        H = B.T @ KB
    mu, V = np.linalg.eigh(0.5 * (H + H.T))
    return mu, V, KB


def _phi(mu: np.ndarray, t: np.ndarray, lr: float, method: str) -> np.ndarray:
    """φ_t(μ) = (g_t(μ) − 1)/μ with g = (1 − ημ)^t (gd) or e^{−ημt} (flow); φ_t(0) = −ηt."""
    T = t[:, None].astype(np.float64)
    m = mu[None, :]
    safe = np.where(m == 0.0, 1.0, m)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if method == "flow":
            num = np.expm1(-lr * m * T)
        else:
            base = 1.0 - lr * m
            pos = base > 0
            num_pos = np.expm1(T * np.log1p(np.where(pos, -lr * m, 0.0)))
            num_neg = np.power(base, T) - 1.0
            num = np.where(pos, num_pos, num_neg)
        out = num / safe
    return np.where(m == 0.0, -lr * T, out)


def predict_residual_vectors(
    K: ArrayLike,
    r0: ArrayLike,
    lr: float,
    steps: int,
    *,
    weights: ArrayLike | None = None,
    loss: str = "mse",
    sobolev: ArrayLike | None = None,
    method: str = "gd",
    record_every: int | None = None,
    times: ArrayLike | None = None,
    allow_unstable: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Linearized residual vectors ``r_t = (I − η K M)^t r_0`` at the recorded steps.

    ``M = I/n`` (``loss="mse"``), ``diag(weights)`` (``"weighted"``) or the Sobolev matrix S
    (``"sobolev"``). With a factor ``M = B Bᵀ`` (B = M^{1/2} for diagonal M, the pivoted Cholesky
    factor of S otherwise, O(n² rank S)) and ``H = Bᵀ K B = V diag(μ) Vᵀ`` — the one symmetric
    eigendecomposition of the dynamics, similar to K M on its range — the identity
    ``(K M)^j = K B H^{j−1} Bᵀ`` gives, without inverting M or K,

        r_t = r_0 + K B V diag(φ_t(μ)) Vᵀ Bᵀ r_0,   φ_t(μ) = ((1 − ημ)^t − 1)/μ

    (gradient flow: ``φ_t(μ) = (e^{−ημt} − 1)/μ``). Stable gd needs ``η < 2/μ_max``.

    Args:
      K: Gram matrix ``(n, n)`` (symmetric).
      r0: initial residual vector ``(n,)`` (``f_0(x_i) − y_i``).
      lr, steps, method, record_every, times, allow_unstable: as in :func:`predict_residual`.
      weights: quadrature weights ``(n,)`` (required for ``loss="weighted"``).
      loss: ``"mse"``, ``"weighted"`` or ``"sobolev"``.
      sobolev: the matrix S of :func:`sobolev_matrix` (required for ``loss="sobolev"``).

    Returns:
      ``(times, R)``: int64 ``(T,)`` and float64 ``(T, n)``.
    """
    A = _check_gram(K)
    n = A.shape[0]
    r = as_real_array("r0", r0)
    if r.shape != (n,) or not np.isfinite(r).all():
        raise ValueError(
            f"Expected r0 to be a finite residual vector of shape ({n},); got shape {r.shape}."
        )
    lr = check_positive("lr", lr)
    method = check_choice("method", method, _METHODS)
    B = _loss_factor(loss, n, weights, sobolev)
    t = _record_times(steps, record_every, times)
    mu, V, KB = _operator_eig(A, B)
    if method == "gd":
        _check_stable(lr, _limit_from(float(mu[-1])), allow_unstable)
    coef = V.T @ (B * r if B.ndim == 1 else B.T @ r)
    R = r[None, :] + (_phi(mu, t, lr, method) * coef[None, :]) @ (KB @ V).T
    return t, R


def predict_residual_gram(
    K: ArrayLike,
    X: ArrayLike,
    r0: ArrayLike,
    lr: float,
    steps: int,
    *,
    kmax: int,
    weights: ArrayLike | None = None,
    loss: str = "mse",
    sobolev: ArrayLike | None = None,
    method: str = "gd",
    record_every: int | None = None,
    times: ArrayLike | None = None,
    allow_unstable: bool = False,
) -> Prediction:
    """Per-degree residual norms of the finite-sample linearized dynamics.

    Computes ``r_t = (I − η K M)^t r_0`` with :func:`predict_residual_vectors` (one symmetric
    eigendecomposition), then ``norms[t, k] = sqrt(degree_energy(X, r_t, kmax, weights)[k])``.
    ``weights`` (quadrature weights of the sample) are used for the degree projection whatever
    the loss, and in the dynamics only when ``loss="weighted"``.

    Args:
      K: Gram matrix ``(n, n)`` at the points X (e.g. ``mlp_kernel(L).gram(X)`` or an
        empirical NTK).
      X: points ``(n, d)`` on the unit sphere.
      r0: initial residual *vector* ``(n,)`` (not energies as in :func:`predict_residual`).
      lr, steps: step η > 0 and number of steps.
      kmax: highest degree of the projection.
      weights, loss, sobolev, method, record_every, times, allow_unstable: as in
        :func:`predict_residual_vectors`.

    Returns:
      A :class:`Prediction` with ``source="gram"`` and degrees ``0..kmax``.
    """
    Xn = check_points(X)
    kmax = check_int("kmax", kmax, minimum=0, maximum=_MAX_DEGREE)
    if np.shape(K) != (Xn.shape[0], Xn.shape[0]):
        raise ValueError(
            f"Expected K of shape (n, n) = {(Xn.shape[0],) * 2} to match X; got {np.shape(K)}."
        )
    if weights is not None:
        check_weights(weights, Xn.shape[0])
    t, R = predict_residual_vectors(
        K,
        r0,
        lr,
        steps,
        weights=weights,
        loss=loss,
        sobolev=sobolev,
        method=method,
        record_every=record_every,
        times=times,
        allow_unstable=allow_unstable,
    )
    if not np.isfinite(R).all():
        raise ValueError(
            "The predicted residual overflowed (lr far above the stability limit); "
            "record fewer steps or lower lr."
        )
    r = np.asarray(r0, dtype=np.float64)
    values = np.concatenate([r[:, None], R.T], axis=1)
    E = degree_energy(np.asarray(X), values, kmax, weights=weights)
    norms = np.sqrt(np.maximum(E, 0.0))
    return Prediction(
        times=t,
        degrees=np.arange(kmax + 1, dtype=np.int64),
        norms=norms[1:],
        initial=norms[0],
        method=method,
        lr=float(lr),
        loss=loss,
        s=np.nan if loss == "sobolev" else 0.0,
        source="gram",
    )


# ----------------------------------------------------------------------------- stability
def max_stable_lr(
    spectrum_or_gram: Spectrum | ArrayLike,
    *,
    weights: ArrayLike | None = None,
    loss: str = "mse",
    s: float = 0.0,
    sobolev: ArrayLike | None = None,
) -> float:
    """Largest stable gradient-descent step ``2/λ_max`` (gd diverges for η >= this).

    For a :class:`~ntkspec.spectrum.Spectrum`: ``λ_max = max_{k<=kmax} λ_k w_k`` (``loss`` is
    ``"mse"`` or ``"sobolev"`` with exponent ``s``; for ``2s > d`` the Sobolev operator is
    unbounded and only the listed degrees count). For a Gram matrix K ``(n, n)``: ``λ_max`` is
    the largest eigenvalue of ``K/n`` (``"mse"``), ``K C`` (``"weighted"``, C = diag(weights))
    or ``K S`` (``"sobolev"``, S from :func:`sobolev_matrix`). ``inf`` if λ_max <= 0.

    >>> import numpy as np
    >>> max_stable_lr(np.eye(4) * 4.0)   # K/n = I
    2.0
    """
    if isinstance(spectrum_or_gram, Spectrum):
        if weights is not None or sobolev is not None:
            raise ValueError(
                "For a Spectrum pass loss='sobolev' with s=; weights/sobolev matrices apply to "
                "Gram matrices only."
            )
        return _limit_from(float(np.max(_spectral_rates(spectrum_or_gram, loss, s))))
    if _check_s(s) != 0.0:
        raise ValueError("For a Gram matrix pass sobolev=sobolev_matrix(X, s, kmax), not s=.")
    A = _check_gram(spectrum_or_gram)
    B = _loss_factor(loss, A.shape[0], weights, sobolev)
    mu, _, _ = _operator_eig(A, B)
    return _limit_from(float(mu[-1]))
