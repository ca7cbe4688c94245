"""Per-degree residual predictions in the lazy (linearized) regime, for any linear optimizer.

Convention (docs/theory.md §3). A quadratic loss ``(1/2) rᵀ M r``
(:mod:`ntkspec.losses`) and a linearized model with kernel Gram ``K`` give the residual
``r = f − y`` the dynamics of the operator ``K M``: plain GD ``r_{t+1} = (I − η K M) r_t``, and in
general each eigen-direction of ``K M`` (eigenvalue μ) is multiplied after t steps by the
optimizer's transfer ``h_t(μ)`` (:mod:`ntkspec.optimizers`: GD ``(1 − ημ)^t``, heavy ball and
Nesterov a 2×2 companion recursion, gradient flow ``e^{−ημt}``, mini-batch SGD the expected
residual). Adam has no linear transfer and no prediction.

On uniform data the degree-k part of r is an eigen-direction of the operator with
``μ = λ_k w_k``: ``w_k = 1`` for the MSE and for a quadrature-weighted loss (which restores the
uniform-measure rates on nonuniform samples; Basri et al. 2020; Yu, Yang & Townsend 2023) and
``w_k = (1 + k(k + d − 2))^s`` for the Sobolev H^s loss. Since ``λ_k ~ k^{−d}`` for NTKs, s < 0
strengthens the low-frequency bias, 2s ≈ d flattens it and larger s reverses it (on S^1: s = 1
flat, s = 2 reversed).

Norms are L²(σ) norms with σ the normalized uniform measure, ``‖Π_k r‖ = sqrt(E_k)`` with
``E_k`` as in :func:`ntkspec.sphere.degree_energy`. Everything here is float64 NumPy, whatever
the global JAX x64 flag is.

The older string arguments (``lr=``, ``method="gd" | "flow"``, ``loss="mse" | "weighted" |
"sobolev"`` with ``s=``, ``weights=``, ``sobolev=``) remain and map onto these values.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from jax.typing import ArrayLike

from ntkspec._io import atomic_savez, atomic_write_json, json_floats
from ntkspec._validate import (
    as_real_array,
    check_choice,
    check_int,
    check_points,
    check_positive,
    check_weights,
)
from ntkspec.curves import DegreeCurves, check_fraction, load_entries
from ntkspec.limits import MAX_DEGREE, MAX_RECORDS
from ntkspec.losses import (
    LOSS_NAMES,
    Loss,
    check_sobolev_exponent,
    sample_loss,
    sobolev_matrix,
    sobolev_weights,
)
from ntkspec.optimizers import Optimizer, flow, gd
from ntkspec.spectrum import Spectrum
from ntkspec.sphere import degree_energy

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


# ----------------------------------------------------------------------------- result type
@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Prediction(DegreeCurves):
    """Predicted per-degree residual norms ``‖Π_k r_t‖_{L²(σ)}`` (a :class:`DegreeCurves`).

    Attributes (besides those of :class:`~ntkspec.curves.DegreeCurves`):
      method: the optimizer's name: ``"gd"``, ``"flow"`` (times are steps, flow time η·t),
        ``"momentum"``, ``"nesterov"`` or ``"sgd"`` (expected residual).
      lr: the step η.
      loss: ``"mse"``, ``"weighted"``, ``"sobolev"`` or ``"quadratic"``.
      s: the Sobolev exponent (0 for mse/weighted; NaN when only a Sobolev matrix was given).
      source: ``"spectrum"`` (Funk–Hecke operator) or ``"gram"`` (finite sample).
      meta: ``{"optimizer": {...}, "loss": {...}}`` descriptions.
    """

    method: str
    lr: float
    loss: str
    s: float

    @property
    def energies(self) -> np.ndarray:
        """``norms**2``, shape ``(T, K)``."""
        return self.norms**2

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite floats as the strings ``"inf"``/``"nan"``)."""
        out = super().to_dict()
        out.update(method=self.method, lr=json_floats(self.lr), loss=self.loss)
        out["s"] = json_floats(self.s)
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as ``.json`` (default) or ``.npz`` (by the suffix)."""
        path = Path(path)
        if path.suffix == ".npz":
            d = self.to_dict()
            arrays = {k: np.asarray(getattr(self, k)) for k in ("times", "degrees", "norms")}
            arrays.update(initial=np.asarray(self.initial), lr=np.asarray(self.lr))
            arrays["s"] = np.asarray(self.s)
            for k in ("method", "loss", "source", "label"):
                arrays[k] = np.asarray(d[k])
            return atomic_savez(path, **arrays)
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Prediction:
        """Read a file written by :meth:`save` (``ValueError`` if it is not one)."""
        d = load_entries(path)
        try:
            meta = d.get("meta", {}) if hasattr(d, "get") else {}
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
                label=str(d.get("label", "")),
                meta=meta if isinstance(meta, dict) else {},
            )
        except (ValueError, TypeError) as e:
            raise ValueError(f"Cannot load a Prediction from {path}: {e}") from None


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
    if steps // every + 2 > MAX_RECORDS:
        raise ValueError(
            f"Expected at most {MAX_RECORDS} recorded times; got steps = {steps} with "
            f"record_every = {every}. Pass a larger record_every or explicit times=."
        )
    t = np.arange(0, steps + 1, every, dtype=np.int64)
    if t[-1] != steps:
        t = np.append(t, np.int64(steps))
    return t


def _check_spectrum(spectrum) -> Spectrum:
    if not isinstance(spectrum, Spectrum):
        raise TypeError(
            f"Expected a Spectrum (see ntkspec.spectrum); got {type(spectrum).__name__}."
        )
    return spectrum


def as_optimizer(lr_or_optimizer, method: str = "gd") -> Optimizer:
    """An :class:`~ntkspec.optimizers.Optimizer` with a linear transfer, from a value or lr.

    A plain number is the step of ``method`` (``"gd"`` or ``"flow"``); an Optimizer is used as
    is (``method`` must then stay ``"gd"``). ``ValueError`` for optimizers without a linear
    transfer (Adam): there is no linear prediction for them.
    """
    if isinstance(lr_or_optimizer, Optimizer):
        if method != "gd":
            raise ValueError(
                f"Got method={method!r} with an Optimizer; the optimizer decides (use "
                "ntkspec.optimizers.flow(lr) for gradient flow)."
            )
        opt = lr_or_optimizer
        if opt.transfer is None:
            raise ValueError(
                f"No linear prediction for the {opt.name!r} optimizer: it is nonlinear (its "
                "transfer is None). Compare measured curves only."
            )
        return opt
    method = check_choice("method", method, _METHODS)
    lr = check_positive("lr", lr_or_optimizer)
    return gd(lr) if method == "gd" else flow(lr)


def _spectral_loss(loss, s) -> tuple[str, Loss | None, float]:
    """``(name, Loss or None, s)`` of the spectral ``loss``/``s`` arguments."""
    s = check_sobolev_exponent(s)
    if isinstance(loss, Loss):
        if s != 0.0:
            raise ValueError("Got s= with a Loss value; pass ntkspec.losses.sobolev(s).")
        return loss.kind, loss, loss.s
    check_choice("loss", loss, LOSS_NAMES)
    if loss != "sobolev" and s != 0.0:
        raise ValueError(f"Expected s = 0 with loss={loss!r}; got s = {s!r}. Pass loss='sobolev'.")
    return loss, None, s


def _spectral_rates(spectrum: Spectrum, loss, s) -> tuple[np.ndarray, str, float]:
    """``(λ_k w_k for every degree of the spectrum, loss name, s)``."""
    name, value, s = _spectral_loss(loss, s)
    lam = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    if value is not None:
        return lam * value.degree_weights(spectrum.dim, spectrum.degrees), name, s
    if name == "sobolev":
        return lam * sobolev_weights(spectrum.dim, spectrum.degrees, s), name, s
    return lam, name, s


_LIMIT_FORMULA = {
    "gd": "gradient-descent stability limit 2/λ_max",
    "sgd": "gradient-descent stability limit 2/λ_max",
    "momentum": "heavy-ball stability limit 2(1 + β)/λ_max",
    "nesterov": "Nesterov stability limit 2(1 + β)/((1 + 2β) λ_max)",
}


def _check_stable(opt: Optimizer, mu_max: float, allow_unstable: bool) -> None:
    if opt.name == "flow" or allow_unstable:
        return
    limit = opt.max_stable_lr(mu_max)
    if not opt.lr < limit:
        raise ValueError(
            f"Expected lr below the {_LIMIT_FORMULA[opt.name]} = {limit:.6g}; got lr = "
            f"{opt.lr!r}. Lower lr, or pass allow_unstable=True to predict divergence."
        )


def _meta(opt: Optimizer, loss: str, s: float) -> dict:
    return {"optimizer": opt.to_dict(), "loss": {"kind": loss, "s": json_floats(s)}}


# ----------------------------------------------------------------------------- spectral
def predict_residual(
    spectrum: Spectrum,
    r0: ArrayLike,
    lr: float | Optimizer,
    steps: int,
    *,
    method: str = "gd",
    loss: str | Loss = "mse",
    s: float = 0.0,
    record_every: int | None = None,
    times: ArrayLike | None = None,
    allow_unstable: bool = False,
) -> Prediction:
    """Per-degree residual norms predicted from the operator's eigenvalues λ_k.

    ``norms[t, k] = sqrt(E_k) |h_t(λ_k w_k)|`` with the optimizer's transfer h
    (:mod:`ntkspec.optimizers`; plain GD: ``|1 − η λ_k w_k|^t``, ``method="flow"``:
    ``exp(−η λ_k w_k t)``), ``w_k = 1`` for the MSE and the quadrature-weighted loss and
    ``w_k = (1 + k(k + d − 2))^s`` for Sobolev (module docstring).

    Args:
      spectrum: a :class:`~ntkspec.spectrum.Spectrum` (λ_0..λ_kmax, normalized measure).
      r0: per-degree initial *energies* ``E_k = ‖Π_k r_0‖²_{L²(σ)}`` for k = 0..K−1, shape
        ``(K,)`` with ``K <= kmax + 1`` (e.g. ``degree_energy(X, f0 - y, K - 1)``; for the
        target ``y`` with a centered network, ``r_0 = −y``).
      lr: step η > 0, or an :class:`~ntkspec.optimizers.Optimizer` with a linear transfer
        (``gd``, ``momentum``, ``nesterov``, ``flow``, ``sgd``).
      steps: number of steps (>= 0).
      method: ``"gd"`` or ``"flow"`` (with a plain ``lr`` only).
      loss: a :class:`~ntkspec.losses.Loss` (``mse()``, ``weighted(c)``, ``sobolev(s)``) or
        the strings ``"mse"``, ``"weighted"``, ``"sobolev"`` (with ``s``).
      s: Sobolev exponent (only with ``loss="sobolev"``).
      record_every: record every this many steps (default 1); ``steps`` is always recorded.
      times: alternatively, the exact steps to record (strictly increasing, in [0, steps]).
      allow_unstable: an lr at or above the optimizer's stability limit for
        ``max_k λ_k w_k`` raises ``ValueError`` unless this is True (the prediction then grows).

    Returns:
      A :class:`Prediction` with ``source="spectrum"``.

    One step at η = 1 on the two-layer ReLU NTK of S^2 (λ_1 = 1/3) leaves 2/3 of degree 1:

    >>> from ntkspec import mlp_kernel, spectrum
    >>> p = predict_residual(spectrum(mlp_kernel(1), 3, 2), [0.0, 1.0, 1.0], 1.0, 1)
    >>> bool(np.isclose(p.norms[1, 1], 2 / 3))
    True
    """
    spectrum = _check_spectrum(spectrum)
    opt = as_optimizer(lr, method)
    rates_all, name, s = _spectral_rates(spectrum, loss, s)
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
    _check_stable(opt, float(np.max(rates_all)), allow_unstable)
    decay = np.abs(opt.transfer(rates_all[: E.shape[0]], t))
    init = np.sqrt(E)
    with np.errstate(invalid="ignore"):
        norms = np.where(init[None, :] == 0, 0.0, init[None, :] * decay)
    return Prediction(
        times=t,
        degrees=np.arange(E.shape[0], dtype=np.int64),
        norms=norms,
        initial=init,
        method=opt.name,
        lr=opt.lr,
        loss=name,
        s=s if name == "sobolev" else 0.0,
        source="spectrum",
        meta=_meta(opt, name, s),
    )


def steps_to_fit(
    spectrum: Spectrum,
    k,
    fraction: float,
    lr: float | Optimizer,
    *,
    method: str = "gd",
    loss: str | Loss = "mse",
    s: float = 0.0,
):
    """Predicted steps until degree k's residual is ``<= fraction`` of its start.

    ``t* = log(fraction) / log|1 − η λ_k w_k|`` (gd, and sgd in expectation) or
    ``−log(fraction) / (η λ_k w_k)`` (flow), as a real number (the integer step count is
    ``ceil(t*)``); ``inf`` where ``λ_k w_k <= 0`` or gd does not contract. Basri et al. (2019):
    this grows like ``k^d`` for NTKs. Momentum methods oscillate: use
    ``predict_residual(...).steps_to_fraction`` for them.

    Args:
      spectrum: a :class:`~ntkspec.spectrum.Spectrum`.
      k: a degree or an array of degrees (<= kmax).
      fraction: target fraction in (0, 1).
      lr: step η > 0, or a ``gd``/``sgd``/``flow`` Optimizer.
      method, loss, s: as in :func:`predict_residual`.

    Returns:
      A float for an int ``k``, else a float64 array of the shape of ``k``.
    """
    spectrum = _check_spectrum(spectrum)
    opt = as_optimizer(lr, method)
    if opt.name not in ("gd", "sgd", "flow"):
        raise ValueError(
            f"Expected a gd, sgd or flow optimizer for steps_to_fit; got {opt.name!r}. Use "
            "predict_residual(...).steps_to_fraction(fraction)."
        )
    fraction = check_fraction(fraction)
    rates_all = _spectral_rates(spectrum, loss, s)[0]
    scalar = np.ndim(k) == 0
    if scalar:
        kk = np.array([check_int("k", k, minimum=0, maximum=spectrum.kmax)])
    else:
        kk = np.asarray(k)
        if not np.issubdtype(kk.dtype, np.integer) or (kk < 0).any() or (kk > spectrum.kmax).any():
            raise ValueError(f"Expected integer degrees in [0, {spectrum.kmax}]; got {k!r}.")
    rate, lr = rates_all[kk], opt.lr
    with np.errstate(divide="ignore", invalid="ignore"):
        if opt.name != "flow":
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


def _factor(value: Loss, n: int, X, kmax) -> np.ndarray:
    """B with M = B Bᵀ for n samples (the points X are needed by a Sobolev value only)."""
    if value.kind == "sobolev":
        if X is None:
            raise ValueError(
                "Expected the points X with a sobolev(s) loss (its matrix needs them)."
            )
        return value.factor(X, kmax=kmax)
    return value.factor(np.empty((n, 0)), kmax=kmax)


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


def _phi(mu: np.ndarray, t: np.ndarray, opt: Optimizer) -> np.ndarray:
    """φ_t(μ) = (h_t(μ) − 1)/μ ``(T, m)`` for the optimizer's transfer h.

    gd and flow use ``expm1``/``log1p`` forms (exact to rounding, φ_t(0) = −ηt). The
    two-step optimizers divide directly: the error ε/μ multiplies a column of K B of size
    O(μ), so the residual keeps an absolute error O(ε ‖r_0‖); at μ = 0 exactly that column
    is 0 (K PSD) and φ is taken at a tiny μ instead.
    """
    T = t[:, None].astype(np.float64)
    m = mu[None, :]
    lr = opt.lr
    safe = np.where(m == 0.0, 1.0, m)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if opt.name == "flow":
            num = np.expm1(-lr * m * T)
        elif opt.name in ("gd", "sgd"):
            base = 1.0 - lr * m
            pos = base > 0
            num_pos = np.expm1(T * np.log1p(np.where(pos, -lr * m, 0.0)))
            num = np.where(pos, num_pos, np.power(base, T) - 1.0)
        else:
            tiny = np.where(m == 0.0, 1e-8 / lr, m)
            return (opt.transfer(tiny[0], t) - 1.0) / tiny
        out = num / safe
    return np.where(m == 0.0, -lr * T, out)


def predict_residual_vectors(
    K: ArrayLike,
    r0: ArrayLike,
    lr: float | Optimizer,
    steps: int,
    *,
    weights: ArrayLike | None = None,
    loss: str | Loss = "mse",
    sobolev: ArrayLike | None = None,
    method: str = "gd",
    record_every: int | None = None,
    times: ArrayLike | None = None,
    allow_unstable: bool = False,
    X: ArrayLike | None = None,
    kmax: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Linearized residual vectors ``r_t`` of the finite-sample dynamics at the recorded steps.

    With the loss metric ``M = B Bᵀ`` (B = M^{1/2} for diagonal M, the pivoted Cholesky factor
    of S otherwise, O(n² rank S)) and ``H = Bᵀ K B = V diag(μ) Vᵀ`` — the one symmetric
    eigendecomposition of the dynamics, similar to K M on its range — every linear optimizer
    multiplies eigen-direction i by its transfer ``h_t(μ_i)``, and the identity
    ``(K M)^j = K B H^{j−1} Bᵀ`` gives, without inverting M or K,

        r_t = r_0 + K B V diag(φ_t(μ)) Vᵀ Bᵀ r_0,   φ_t(μ) = (h_t(μ) − 1)/μ

    (GD: ``h_t = (1 − ημ)^t``, so ``r_t = (I − η K M)^t r_0``).

    Args:
      K: Gram matrix ``(n, n)`` (symmetric).
      r0: initial residual vector ``(n,)`` (``f_0(x_i) − y_i``).
      lr: step η > 0 or a linear :class:`~ntkspec.optimizers.Optimizer`.
      steps, method, record_every, times, allow_unstable: as in :func:`predict_residual`.
      weights: quadrature weights ``(n,)`` (required for ``loss="weighted"``).
      loss: a :class:`~ntkspec.losses.Loss`, or ``"mse"``, ``"weighted"``, ``"sobolev"``.
      sobolev: the matrix S of :func:`sobolev_matrix` (for the string ``loss="sobolev"``).
      X, kmax: the points and degree cut-off a ``losses.sobolev(s)`` value builds S from.

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
    opt = as_optimizer(lr, method)
    _, value = sample_loss(loss, n, weights=weights, sobolev=sobolev)
    B = _factor(value, n, X, kmax)
    t = _record_times(steps, record_every, times)
    mu, V, KB = _operator_eig(A, B)
    _check_stable(opt, float(mu[-1]), allow_unstable)
    coef = V.T @ (B * r if B.ndim == 1 else B.T @ r)
    R = r[None, :] + (_phi(mu, t, opt) * coef[None, :]) @ (KB @ V).T
    return t, R


def predict_residual_gram(
    K: ArrayLike,
    X: ArrayLike,
    r0: ArrayLike,
    lr: float | Optimizer,
    steps: int,
    *,
    kmax: int,
    weights: ArrayLike | None = None,
    loss: str | Loss = "mse",
    sobolev: ArrayLike | None = None,
    method: str = "gd",
    record_every: int | None = None,
    times: ArrayLike | None = None,
    allow_unstable: bool = False,
) -> Prediction:
    """Per-degree residual norms of the finite-sample linearized dynamics.

    Computes ``r_t`` with :func:`predict_residual_vectors` (one symmetric eigendecomposition;
    any linear optimizer), then ``norms[t, k] = sqrt(degree_energy(X, r_t, kmax, weights)[k])``.
    ``weights`` (quadrature weights of the sample) are used for the degree projection whatever
    the loss, and in the dynamics only with the string ``loss="weighted"``.

    Args:
      K: Gram matrix ``(n, n)`` at the points X (e.g. ``mlp_kernel(L).gram(X)`` or an
        empirical NTK).
      X: points ``(n, d)`` on the unit sphere.
      r0: initial residual *vector* ``(n,)`` (not energies as in :func:`predict_residual`).
      lr: step η > 0 or a linear :class:`~ntkspec.optimizers.Optimizer`.
      steps: number of steps.
      kmax: highest degree of the projection (and of a ``losses.sobolev(s)`` matrix without
        its own kmax).
      weights, loss, sobolev, method, record_every, times, allow_unstable: as in
        :func:`predict_residual_vectors`.

    Returns:
      A :class:`Prediction` with ``source="gram"`` and degrees ``0..kmax``.
    """
    Xn = check_points(X)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    if np.shape(K) != (Xn.shape[0], Xn.shape[0]):
        raise ValueError(
            f"Expected K of shape (n, n) = {(Xn.shape[0],) * 2} to match X; got {np.shape(K)}."
        )
    if weights is not None:
        check_weights(weights, Xn.shape[0])
    opt = as_optimizer(lr, method)
    t, R = predict_residual_vectors(
        K, r0, opt, steps, weights=weights, loss=loss, sobolev=sobolev, record_every=record_every,
        times=times, allow_unstable=allow_unstable, X=X, kmax=kmax,
    )  # fmt: skip
    if not np.isfinite(R).all():
        raise ValueError(
            "The predicted residual overflowed (lr far above the stability limit); "
            "record fewer steps or lower lr."
        )
    r = np.asarray(r0, dtype=np.float64)
    values = np.concatenate([r[:, None], R.T], axis=1)
    norms = np.sqrt(np.maximum(degree_energy(np.asarray(X), values, kmax, weights=weights), 0.0))
    name = loss.kind if isinstance(loss, Loss) else loss
    s = loss.s if isinstance(loss, Loss) and name == "sobolev" else 0.0
    s = np.nan if name == "sobolev" and not isinstance(loss, Loss) else s
    return Prediction(
        times=t,
        degrees=np.arange(kmax + 1, dtype=np.int64),
        norms=norms[1:],
        initial=norms[0],
        method=opt.name,
        lr=opt.lr,
        loss=name,
        s=s,
        source="gram",
        meta=_meta(opt, name, s),
    )


# ----------------------------------------------------------------------------- stability
def max_stable_lr(
    spectrum_or_gram: Spectrum | ArrayLike,
    *,
    weights: ArrayLike | None = None,
    loss: str | Loss = "mse",
    s: float = 0.0,
    sobolev: ArrayLike | None = None,
    optimizer: Optimizer | None = None,
    X: ArrayLike | None = None,
    kmax: int | None = None,
) -> float:
    """Largest stable step for an optimizer: ``2/λ_max`` for gradient descent.

    ``λ_max`` is, for a :class:`~ntkspec.spectrum.Spectrum`, ``max_{k<=kmax} λ_k w_k`` (for
    ``2s > d`` the Sobolev operator is unbounded and only the listed degrees count); for a Gram
    matrix K ``(n, n)``, the largest eigenvalue of ``K M`` (``M = I/n``, ``diag(weights)``, or
    S). With ``optimizer`` (its own lr is ignored) the limit is that optimizer's:
    ``2(1 + β)/λ_max`` for heavy ball, ``2(1 + β)/((1 + 2β) λ_max)`` for Nesterov, ``inf`` for
    flow (:mod:`ntkspec.optimizers`). ``inf`` if λ_max <= 0.

    >>> import numpy as np
    >>> max_stable_lr(np.eye(4) * 4.0)   # K/n = I
    2.0
    """
    opt = gd(1.0) if optimizer is None else as_optimizer(optimizer)
    if isinstance(spectrum_or_gram, Spectrum):
        if weights is not None or sobolev is not None:
            raise ValueError(
                "For a Spectrum pass loss='sobolev' with s=; weights/sobolev matrices apply to "
                "Gram matrices only."
            )
        return opt.max_stable_lr(float(np.max(_spectral_rates(spectrum_or_gram, loss, s)[0])))
    if check_sobolev_exponent(s) != 0.0:
        raise ValueError("For a Gram matrix pass sobolev=sobolev_matrix(X, s, kmax), not s=.")
    A = _check_gram(spectrum_or_gram)
    _, value = sample_loss(loss, A.shape[0], weights=weights, sobolev=sobolev)
    mu, _, _ = _operator_eig(A, _factor(value, A.shape[0], X, kmax))
    return opt.max_stable_lr(float(mu[-1]))
