"""Learning curves per degree from a spectrum: eigenlearning for kernel ridge regression.

Kernel ridge regression (KRR) with a zonal kernel κ on ``n`` uniform samples of S^{d-1},
``f̂(x) = K(x, X) (K + δ I)^{-1} y`` with ``y = f*(X) + noise`` (variance ε²), has a test error
that the eigenlearning framework (Simon, Dickens, Karkada & DeWeese, TMLR 2023; Bordelon,
Canatar & Pehlevan, ICML 2020; Canatar, Bordelon & Pehlevan, Nat. Commun. 2021) computes from
the eigenvalues λ_k, multiplicities N_k = N(d, k) and the target's per-degree energies
``v_k² = ‖Π_k f*‖²_{L²(σ)}`` (docs/theory.md §6.5):

- effective regularization κ > 0: ``Σ_k N_k λ_k/(λ_k + κ) + δ/κ = n``;
- learnability of degree k: ``L_k = λ_k/(λ_k + κ)`` (conservation ``Σ_k N_k L_k = n`` at δ = 0);
- overfitting factor ``E0 = n/(n − Σ_k N_k L_k²)``;
- test MSE (on noisy held-out labels) ``E0 (Σ_k (1 − L_k)² v_k² + ε²)``;
- error of f̂ in degree k, ``E‖Π_k (f̂ − f*)‖² = (1 − L_k)² v_k² + N_k L_k² · test/n`` (bias and
  variance of the N_k modes; summed over k and plus ε² it gives the test MSE);
- train MSE ``(δ/(nκ))² · test`` (Canatar et al. 2021, Methods; Simon et al. 2023, eq. for
  the train error): zero for interpolation (δ = 0).

These are asymptotic (large n and many modes). Measured against kernel regression
(tests/test_generalization.py, notebook 10) they hold within a few percent with a ridge and
in d >= 5; ridgeless interpolation with the ReLU NTK on S^2 is measured 1.8–2.1× the
prediction at n = 30–300 (docs/theory.md §6.5, confirmed by an independent check).

Truncation. The sums run over k ≤ K, with K the smallest degree whose neglected trace
``τ = κ(1) − Σ_{k<=K} N_k λ_k`` is at most ``tail_tol · κ(1)`` and beyond which every
eigenvalue is at most ``tail_tol · κ`` (κ at the largest n). The neglected modes are kept in
the κ equation to first order: each has λ_k ≪ κ, so it contributes ``N_k λ_k/κ`` and all
together ``τ/κ`` — the tail acts as an extra ridge τ, with a relative error ``O(λ_{K+1}/κ)``.
On S^2 the ReLU NTK's tail falls like 1/K; without this term the test MSE at n = 300 moves
by 1.2 % between K = 2000 and K = 8000, with it by 2e-7 (measured).

Gradient descent. For GD with step η on the mean loss ``(1/2n) Σ (f − y)²`` started at f = 0
(a centered network), :func:`gd_learning_curve` gives (a) the finite-n curve at the
*effective ridge* ``δ = n/(η t)`` (Ali, Kolter & Tibshirani, AISTATS 2019: gradient flow's
risk is at most 1.69 times ridge's at λ = 1/t — one direction only; an approximation that,
for noiseless targets in well-learned degrees, overestimates GD's error: the ridge filter
leaves a residual ~1/(ηλt) where GD's decays like e^{−ηλt}; measured 2.5–12× on S^2 at
n = 30, t = 10–100, tests/test_generalization.py) and (b) the exact
operator (population, n → ∞) prediction with the spectral filter ``1 − (1 − ηλ_k)^t``
(``1 − e^{−ηλ_k t}`` for flow): ``test = Σ_k (1 − ηλ_k)^{2t} v_k² + ε²``.

Everything here is float64 NumPy; multiplicities enter only through ``N_k λ_k`` (computed
from log N) so nothing overflows in high dimension.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jax.typing import ArrayLike

from ntkspec._io import json_floats
from ntkspec._validate import as_real_array, check_choice, check_int, check_positive
from ntkspec.spectrum import Spectrum
from ntkspec.sphere import multiplicity

__all__ = [
    "GDLearningCurve",
    "LearningCurve",
    "SpectrumTooShort",
    "Truncation",
    "gd_learning_curve",
    "learning_curve",
    "ridge_from_time",
    "solve_kappa",
    "time_from_ridge",
    "truncate",
]

#: Ali et al. (2019), Thm. 1: gradient flow's risk ≤ 1.6862 × ridge's risk at λ = 1/t.
FLOW_RIDGE_RISK_FACTOR = 1.6862
_MAX_ITER = 200
_RTOL = 1e-14


class SpectrumTooShort(ValueError):
    """The spectrum does not reach the degree the truncation rule needs.

    Attributes:
      kmax_needed: the estimated kmax to compute the spectrum to (``None`` when no estimate:
        the tail has stopped decreasing, e.g. eigenvalues below the quadrature's resolution).
    """

    def __init__(self, message: str, kmax_needed: int | None = None):
        super().__init__(message)
        self.kmax_needed = kmax_needed


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class Truncation:
    """Where the spectrum is cut, and what is left out.

    Attributes:
      kmax: K, the highest degree kept.
      tail: ``τ = κ(1) − Σ_{k<=K} N_k λ_k``, the neglected trace (kept as a ridge).
      eigenvalues: λ_0..λ_K (float64; values zero within the spectrum's error set to 0).
      weights: ``N_k λ_k`` (float64, finite whatever N_k).
      multiplicities: ``N_k`` as float64 (``inf`` beyond float64, only where λ_k = 0).
      modes: the number of kept modes with λ_k > 0 (float64, may be ``inf``).
    """

    kmax: int
    tail: float
    eigenvalues: np.ndarray
    weights: np.ndarray
    multiplicities: np.ndarray
    modes: float


@dataclasses.dataclass(frozen=True)
class LearningCurve:
    """Eigenlearning prediction of kernel ridge regression at several sample sizes.

    Shapes: ``m = len(n)``, ``K = truncation.kmax``.

    Attributes:
      n: sample sizes, float64 ``(m,)``.
      kappa: effective regularization κ ``(m,)`` (0 when δ = 0 and n >= the mode count).
      learnability: ``L_k = λ_k/(λ_k + κ)``, ``(m, K + 1)``.
      overfitting: ``E0 = n/(n − Σ N_k L_k²)`` ``(m,)`` (``inf`` when n equals the mode count).
      test_mse: ``E0 (Σ (1 − L_k)² v_k² + ε²)`` ``(m,)``, error on noisy held-out labels.
      test_mse_per_degree: ``(1 − L_k)² v_k² + N_k L_k² test/n`` ``(m, K + 1)``, the expected
        ``‖Π_k (f̂ − f*)‖²``; its sum over k plus ε² is ``test_mse`` up to the tail's variance.
      train_mse: ``(δ/(nκ))² test_mse`` ``(m,)``.
      energies: target energies v_k², ``(K + 1,)`` (zero-padded).
      noise: ε²; ridge: δ.
      truncation: the :class:`Truncation` used.
    """

    n: np.ndarray
    kappa: np.ndarray
    learnability: np.ndarray
    overfitting: np.ndarray
    test_mse: np.ndarray
    test_mse_per_degree: np.ndarray
    train_mse: np.ndarray
    energies: np.ndarray
    noise: float
    ridge: float
    truncation: Truncation

    @property
    def excess_mse(self) -> np.ndarray:
        """``test_mse − ε²``: the expected ``‖f̂ − f*‖²_{L²(σ)}`` (noiseless held-out labels)."""
        return self.test_mse - self.noise

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite floats as strings, see ``ntkspec._io.json_floats``)."""
        t = self.truncation
        return {
            "n": json_floats(self.n),
            "kappa": json_floats(self.kappa),
            "learnability": json_floats(self.learnability),
            "overfitting": json_floats(self.overfitting),
            "test_mse": json_floats(self.test_mse),
            "test_mse_per_degree": json_floats(self.test_mse_per_degree),
            "train_mse": json_floats(self.train_mse),
            "energies": json_floats(self.energies),
            "noise": self.noise,
            "ridge": self.ridge,
            "kmax": t.kmax,
            "tail": t.tail,
        }


@dataclasses.dataclass(frozen=True)
class GDLearningCurve:
    """Test error of gradient descent stopped after ``steps`` steps.

    Attributes:
      steps: step counts t, float64 ``(T,)``; lr: η; method: ``"gd"`` or ``"flow"``.
      n: sample sizes ``(m,)``.
      ridge: effective ridge ``n/(η t)`` ``(T, m)`` (``inf`` at t = 0).
      test_mse: eigenlearning test MSE at that ridge ``(T, m)`` (an approximation).
      test_mse_per_degree: ``(T, m, K + 1)``, as in :class:`LearningCurve`.
      population_per_degree: exact operator prediction ``filter_k(t)² v_k²``, ``(T, K + 1)``,
        ``filter_k = (1 − ηλ_k)^t`` (gd) or ``e^{−ηλ_k t}`` (flow).
      population_test_mse: ``Σ_k population_per_degree + ε²`` ``(T,)`` (n → ∞, exact).
      truncation: the :class:`Truncation` used.
    """

    steps: np.ndarray
    lr: float
    method: str
    n: np.ndarray
    ridge: np.ndarray
    test_mse: np.ndarray
    test_mse_per_degree: np.ndarray
    population_per_degree: np.ndarray
    population_test_mse: np.ndarray
    truncation: Truncation


# ----------------------------------------------------------------------------- truncation
def _needed_kmax(values: np.ndarray, target: float) -> tuple[str, int | None]:
    """A rough K where a decreasing sequence reaches ``target`` (power law through K/2 and K)."""
    K = len(values) - 1
    v1, v2 = values[K // 2], values[K]
    if K >= 4 and v2 > 0 and v1 > 1.01 * v2:
        p = np.log(v1 / v2) / np.log(K / (K // 2))
        need = K * (v2 / target) ** (1.0 / p)
        if np.isfinite(need) and need < 1e9:
            k = int(np.ceil(1.2 * need))
            return f"about kmax = {k}", k
        return "a larger kmax", None
    return (
        f"a larger kmax (but the eigenvalues beyond k = {K // 2} add almost nothing — zero "
        "within the spectrum's error estimate? — so a longer one may not help)",
        None,
    )


def _zero(spectrum: Spectrum) -> np.ndarray:
    """Degrees whose λ_k is zero within its error estimate (rounding floor where error > 0).

    As :meth:`Spectrum.zero_within_error`, except that a degree with ``error_k = 0`` is taken
    as exact: small eigenvalues of a spectrum given exactly (e.g. in high dimension, far below
    ``ε · max λ``) stay modes.
    """
    lam = np.asarray(spectrum.eigenvalues, float)
    err = np.asarray(spectrum.error, float)
    floor = 16.0 * np.finfo(np.float64).eps * float(np.max(np.abs(lam)))
    return np.abs(lam) <= np.where(err > 0, np.maximum(err, floor), 0.0)


def truncate(
    spectrum: Spectrum, tail_tol: float = 1e-2, *, kmax: int | None = None, kmin: int = 0
) -> Truncation:
    """Cut a spectrum at the smallest K >= kmin whose neglected trace is ≤ ``tail_tol · κ(1)``.

    Args:
      spectrum: a :class:`~ntkspec.spectrum.Spectrum` with a positive trace.
      tail_tol: relative tolerance on ``τ = κ(1) − Σ_{k<=K} N_k λ_k`` (0 < tol < 1).
      kmax: cut at exactly this degree instead (``tail_tol`` is then not checked).
      kmin: the lowest acceptable K (e.g. the target's highest degree).

    Returns:
      A :class:`Truncation`.

    Eigenvalues zero within the spectrum's error estimate (or its rounding floor
    ``16 ε max|λ|`` where the estimate is nonzero) are set to 0: those modes are unlearnable.
    A degree whose ``error`` is 0 is taken as exact.

    Raises:
      SpectrumTooShort: (a ``ValueError``) if no K <= ``spectrum.kmax`` meets the tolerance
        (the message and ``kmax_needed`` estimate the kmax needed from the tail's decay).
      ValueError: if an eigenvalue is negative beyond the spectrum's error estimate.
    """
    if not isinstance(spectrum, Spectrum):
        raise TypeError(
            f"Expected a Spectrum (see ntkspec.spectrum); got {type(spectrum).__name__}."
        )
    tail_tol = check_positive("tail_tol", tail_tol)
    if tail_tol >= 1:
        raise ValueError(f"Expected 0 < tail_tol < 1; got {tail_tol!r}.")
    kmin = check_int("kmin", kmin, minimum=0)
    trace = float(spectrum.trace)
    if not np.isfinite(trace) or trace <= 0:
        raise ValueError(f"Expected a spectrum with a finite positive trace κ(1); got {trace!r}.")
    lam = np.where(_zero(spectrum), 0.0, np.asarray(spectrum.eigenvalues, float))
    if (lam < 0).any() or not np.isfinite(lam).all():
        k = int(np.argmax(~(lam >= 0)))
        raise ValueError(
            f"Expected non-negative eigenvalues (a positive semi-definite kernel); got "
            f"λ_{k} = {lam[k]!r} beyond its error estimate {spectrum.error[k]:.3g}."
        )
    logn = multiplicity(spectrum.dim, spectrum.degrees, log=True)
    with np.errstate(divide="ignore", over="ignore"):
        weights = np.where(lam > 0, np.exp(logn + np.log(np.where(lam > 0, lam, 1.0))), 0.0)
        mult = np.exp(logn)
    tails = trace - np.cumsum(weights)
    if kmin > spectrum.kmax:
        raise ValueError(
            f"Expected a spectrum up to at least degree {kmin} (the target's highest degree); "
            f"got kmax = {spectrum.kmax}."
        )
    if kmax is not None:
        K = check_int("kmax", kmax, minimum=kmin, maximum=spectrum.kmax)
    else:
        ok = np.nonzero(tails[kmin:] <= tail_tol * trace)[0]
        if ok.size == 0:
            text, need = _needed_kmax(tails, tail_tol * trace)
            raise SpectrumTooShort(
                f"Expected a spectrum long enough that the neglected trace is at most tail_tol "
                f"= {tail_tol:g} of κ(1); at kmax = {spectrum.kmax} it is "
                f"{tails[-1] / trace:.3g}. Compute the spectrum to {text} or pass a larger "
                "tail_tol.",
                need,
            )
        K = kmin + int(ok[0])
    modes = float(np.sum(np.where(lam[: K + 1] > 0, mult[: K + 1], 0.0)))
    return Truncation(
        kmax=K,
        tail=float(tails[K]),
        eigenvalues=lam[: K + 1],
        weights=weights[: K + 1],
        multiplicities=mult[: K + 1],
        modes=modes,
    )


def _tail_ridge(spectrum: Spectrum, trunc: Truncation) -> float:
    """The tail used as a ridge: 0 when it is within rounding of the trace sum."""
    K = trunc.kmax
    err = np.asarray(spectrum.error[: K + 1], float)
    with np.errstate(over="ignore", invalid="ignore"):
        floor = 64 * np.finfo(float).eps * float(spectrum.trace) + float(
            np.sum(np.where(err > 0, trunc.multiplicities * err, 0.0))
        )
    return trunc.tail if trunc.tail > floor else 0.0


def _resolved_kmax(spectrum: Spectrum, trunc: Truncation, kappa_min: float, tol: float) -> int:
    """Smallest K' >= K with every λ_k, k > K', at most ``tol · kappa_min`` (ValueError if none).

    The neglected modes enter as the ridge τ/κ, exact to first order in λ_{K+1}/κ; beyond the
    spectrum's last degree its last positive λ stands in for the (smaller) ones not computed.
    """
    lam = np.where(_zero(spectrum), 0.0, np.asarray(spectrum.eigenvalues, float))
    # beyond[K] = max_{k > K} λ_k, the degrees past kmax represented by the last positive λ.
    positive = lam[lam > 0]
    proxy = positive[-1] if positive.size else 0.0
    beyond = np.full_like(lam, proxy)
    beyond[:-1] = np.maximum(np.maximum.accumulate(lam[::-1])[::-1][1:], proxy)
    ok = np.nonzero(beyond[trunc.kmax :] <= tol * kappa_min)[0]
    if ok.size == 0:
        suffix = np.maximum(np.maximum.accumulate(lam[::-1])[::-1], proxy)
        text, need = _needed_kmax(suffix, tol * kappa_min)
        raise SpectrumTooShort(
            f"Expected the spectrum to reach eigenvalues below tail_tol·κ = {tol * kappa_min:.3g} "
            f"(κ at the largest n); its last positive one is {proxy:.3g}. Compute it to {text}, "
            "or pass smaller n or a larger tail_tol.",
            need,
        )
    return trunc.kmax + int(ok[0])


def _fit(spectrum, v2, n, ridge, tail_tol, kmax):
    """Truncation, tail ridge τ and κ for each (n, ridge); K grows until λ_{K+1} ≤ tol·κ."""
    trunc = truncate(spectrum, tail_tol, kmax=kmax, kmin=v2.size - 1)
    ridge = np.broadcast_to(np.asarray(ridge, dtype=np.float64), np.shape(n))
    tau = _tail_ridge(spectrum, trunc)
    kappa = solve_kappa(trunc, n, ridge + tau)
    if kmax is not None or tau == 0 or not (kappa > 0).any():
        return trunc, tau, kappa
    # Grow K while the smallest κ says so (re-solving only that entry), then solve all once.
    i = np.flatnonzero(kappa > 0)[np.argmin(kappa[kappa > 0])]
    grown = False
    for _ in range(8):
        K = _resolved_kmax(spectrum, trunc, float(kappa[i]), tail_tol)
        if K == trunc.kmax:
            break
        trunc, grown = truncate(spectrum, tail_tol, kmax=K), True
        tau = _tail_ridge(spectrum, trunc)
        kappa[i] = solve_kappa(trunc, n[i : i + 1], ridge[i : i + 1] + tau)[0]
    if grown:
        kappa = solve_kappa(trunc, n, ridge + tau)
    return trunc, tau, kappa


# ----------------------------------------------------------------------------- κ
def _phi(kap, lam, w, ridge, n):
    """φ(κ) = nκ − ridge − κ Σ w_k/(λ_k + κ) and φ'(κ) = n − Σ w_k λ_k/(λ_k + κ)² (κ: (m, 1))."""
    inv = 1.0 / (lam[None, :] + kap)
    s1 = inv @ w
    inv *= inv
    s2 = inv @ (w * lam)
    k1 = kap[:, 0]
    return n * k1 - ridge - k1 * s1, n - s2


def solve_kappa(trunc: Truncation, n: ArrayLike, ridge: ArrayLike) -> np.ndarray:
    """κ solving ``Σ_k N_k λ_k/(λ_k + κ) + ridge/κ = n`` for each n (vectorized).

    ``ridge`` (a scalar or one per n) is δ plus the tail. Multiplied by κ the equation reads
    ``φ(κ) = nκ − ridge − Σ_k N_k λ_k κ/(λ_k + κ) = 0`` with φ convex (each κ/(λ + κ) is
    concave) and ``φ' = n − Σ N_k L_k² > 0`` at and beyond the positive root (it is
    ``n/E0``). Newton's method started at ``κ = (Σ N λ + ridge)/n``, where φ >= 0, therefore
    decreases monotonically to the root — never overshooting, quadratically near it — and
    stops at a relative step of 1e-15 (the result is accurate to ~1e-14). κ = 0 when
    ridge = 0 and n is at least the number M of modes with λ > 0 (a finite-rank kernel
    interpolates; otherwise φ's positive root exists and is unique).
    """
    keep = trunc.weights > 0
    lam, w = trunc.eigenvalues[keep], trunc.weights[keep]
    n = np.asarray(n, dtype=np.float64)
    ridge = np.broadcast_to(np.asarray(ridge, dtype=np.float64), n.shape)
    out = np.zeros_like(n)
    active = (ridge > 0) | (n < trunc.modes)
    if not active.any():
        return out
    nn, rr = n[active], ridge[active]
    kap = (np.sum(w) + rr) / nn
    moving = np.ones(kap.shape, bool)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for _ in range(_MAX_ITER):
            phi, dphi = _phi(kap[moving, None], lam, w, rr[moving], nn[moving])
            step = np.where((phi > 0) & (dphi > 0), phi / dphi, 0.0)
            new = np.maximum(kap[moving] - step, 0.5 * kap[moving])
            still = np.abs(new - kap[moving]) > _RTOL * 0.1 * new
            kap[moving] = new
            moving[np.flatnonzero(moving)[~still]] = False
            if not moving.any():
                break
    out[active] = kap
    return out


# ----------------------------------------------------------------------------- curves
def _check_n(n) -> np.ndarray:
    arr = as_real_array("n", n)
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(
            f"Expected n to be a sample size or a 1-D list of them; got shape {arr.shape}."
        )
    arr = np.atleast_1d(arr)
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(f"Expected finite sample sizes n > 0; got {arr.tolist()!r}.")
    return arr


def _check_energies(energies) -> np.ndarray:
    v2 = as_real_array("energies", energies)
    if v2.ndim != 1 or v2.size == 0:
        raise ValueError(
            "Expected energies to be per-degree target energies v_k² = ‖Π_k f*‖² for "
            f"k = 0..len-1, shape (K,); got shape {v2.shape}."
        )
    if not np.isfinite(v2).all() or (v2 < 0).any():
        raise ValueError(f"Expected finite, non-negative energies; got {v2.tolist()!r}.")
    return v2


def _eigenlearning(trunc: Truncation, v2: np.ndarray, n, kappa, noise, ridge):
    """L, E0, test, per-degree test and train MSE given κ (``n``, ``kappa`` of shape (m,))."""
    lam, w = trunc.eigenvalues, trunc.weights
    kap = kappa[:, None]
    pos = lam[None, :] > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        L = np.where(pos, lam[None, :] / (lam[None, :] + kap), 0.0)
        # N L² = (N λ) λ/(λ + κ)²; at κ = 0 this is N (finite whenever κ = 0 is reached).
        nl2 = np.where(pos, w[None, :] * L / (lam[None, :] + kap), 0.0)
        nl2 = np.where(kap == 0, np.where(pos, trunc.multiplicities[None, :], 0.0), nl2)
        gamma = np.sum(nl2, axis=1) / n
        e0 = np.where(gamma < 1, 1.0 / (1.0 - gamma), np.inf)
        bias = (1.0 - L) ** 2 * v2[None, :]
        signal = np.sum(bias, axis=1) + noise
        test = np.where(signal == 0, 0.0, e0 * signal)
        per_degree = bias + nl2 * (test / n)[:, None]
        per_degree = np.where(np.isnan(per_degree), np.inf, per_degree)
        train = np.where(ridge == 0, 0.0, (ridge / (n * kappa)) ** 2 * test)
    return L, e0, test, per_degree, train


def learning_curve(
    spectrum: Spectrum,
    energies: ArrayLike,
    n: ArrayLike,
    *,
    noise: float = 0.0,
    ridge: float = 0.0,
    tail_tol: float = 1e-2,
    kmax: int | None = None,
) -> LearningCurve:
    """Eigenlearning test and train MSE of kernel ridge regression, per degree, for each n.

    The model (module docstring): ``f̂ = K(·, X)(K + δ I)^{-1} y`` on n uniform samples,
    ``y = f*(X) + ε``, ``Var ε = noise``. κ solves ``Σ_k N_k λ_k/(λ_k + κ) + (δ + τ)/κ = n``
    (τ the truncation tail, kept as a ridge), ``L_k = λ_k/(λ_k + κ)``,
    ``E0 = n/(n − Σ N_k L_k²)``, ``test = E0 (Σ_k (1 − L_k)² v_k² + ε²)``,
    ``train = (δ/(nκ))² test``. Degrees with λ_k = 0 (within the spectrum's error) are
    unlearnable (L_k = 0). With δ = 0 and a finite-rank kernel, n >= the number M of modes
    gives κ = 0 (interpolation: L_k = 1, ``E0 = n/(n − M)``, ``inf`` at n = M).

    Args:
      spectrum: λ_0..λ_kmax of the kernel (:func:`ntkspec.spectrum.spectrum`).
      energies: per-degree target energies ``v_k² = ‖Π_k f*‖²_{L²(σ)}`` for k = 0..len−1
        (summed over the degree's N(d, k) modes; for ``Σ_k A_k h_k`` with unit-norm
        harmonics h_k, ``v_k² = A_k²``).
      n: a sample size or a 1-D list of them (> 0; non-integers are allowed by the theory).
      noise: label-noise variance ε² (>= 0).
      ridge: δ >= 0, in the convention ``(K + δ I)^{-1}`` with the un-normalized Gram K.
      tail_tol: truncate where the neglected trace is ≤ tail_tol · κ(1) (see :func:`truncate`)
        and the neglected eigenvalues are ≤ tail_tol · κ (a ``ValueError`` says which kmax
        the spectrum needs otherwise). The default 1e-2 gives ~1e-3 relative accuracy.
      kmax: truncate at exactly this degree instead (no checks).

    Returns:
      A :class:`LearningCurve`.

    Isotropic check: 9 equal eigenvalues (degrees 0..2 on S^2) and a white target give
    ``E_g = 1 − n/9``:

    >>> s = Spectrum(3, np.arange(3), np.full(3, 1 / 9), np.array([1.0, 3, 5]), 1.0,
    ...              np.zeros(3))
    >>> c = learning_curve(s, [1 / 9, 3 / 9, 5 / 9], [1, 3, 6])
    >>> np.allclose(c.test_mse, [8 / 9, 6 / 9, 3 / 9], rtol=1e-13)
    True
    """
    v2 = _check_energies(energies)
    nn = _check_n(n)
    noise = check_positive("noise", noise, allow_zero=True)
    ridge = check_positive("ridge", ridge, allow_zero=True)
    trunc, _, kappa = _fit(spectrum, v2, nn, ridge, tail_tol, kmax)
    v2 = np.pad(v2, (0, trunc.kmax + 1 - v2.size))
    L, e0, test, per_degree, train = _eigenlearning(trunc, v2, nn, kappa, noise, ridge)
    return LearningCurve(
        n=nn,
        kappa=kappa,
        learnability=L,
        overfitting=e0,
        test_mse=test,
        test_mse_per_degree=per_degree,
        train_mse=train,
        energies=v2,
        noise=noise,
        ridge=ridge,
        truncation=trunc,
    )


# ----------------------------------------------------------------------------- GD time
def ridge_from_time(n: ArrayLike, lr: float, steps: ArrayLike) -> np.ndarray:
    """Effective ridge ``δ = n/(η t)`` of gradient descent stopped after t steps.

    An approximation (Ali, Kolter & Tibshirani, AISTATS 2019): gradient flow for time ``η t``
    on the mean loss ``(1/2n) Σ (f − y)²`` from f = 0 has a risk at most 1.69 times that of ridge
    regression with penalty ``(1/2t)‖f‖²`` (in our convention ``δ = n/(η t)``), and the two
    spectral filters ``1 − e^{−s η t}`` and ``s/(s + 1/(η t))`` agree for ``s η t`` ≪ 1 and ≫ 1.

    Returns:
      float64 array of shape ``broadcast(steps, n)`` (``inf`` at t = 0).
    """
    lr = check_positive("lr", lr)
    t = as_real_array("steps", steps)
    nn = as_real_array("n", n)
    if (t < 0).any() or not np.isfinite(t).all() or (nn <= 0).any() or not np.isfinite(nn).all():
        raise ValueError("Expected steps >= 0 and n > 0, finite.")
    with np.errstate(divide="ignore"):
        return nn / (lr * t)


def time_from_ridge(n: ArrayLike, lr: float, ridge: ArrayLike) -> np.ndarray:
    """Inverse of :func:`ridge_from_time`: ``t = n/(η δ)`` steps (same approximation)."""
    lr = check_positive("lr", lr)
    d = as_real_array("ridge", ridge)
    nn = as_real_array("n", n)
    if (d < 0).any() or np.isnan(d).any() or (nn <= 0).any() or not np.isfinite(nn).all():
        raise ValueError("Expected ridge >= 0 and n > 0, finite.")
    with np.errstate(divide="ignore"):
        return nn / (lr * d)


def gd_learning_curve(
    spectrum: Spectrum,
    energies: ArrayLike,
    n: ArrayLike,
    steps: ArrayLike,
    *,
    lr: float,
    method: str = "gd",
    noise: float = 0.0,
    tail_tol: float = 1e-2,
    kmax: int | None = None,
) -> GDLearningCurve:
    """Test error of kernel gradient descent from f = 0, stopped after each of ``steps``.

    Two predictions (module docstring):

    - ``test_mse``: eigenlearning (:func:`learning_curve`) at the effective ridge
      ``δ = n/(η t)`` — finite n, an *approximation* (Ali et al. 2019: GD's risk is at most
      1.69× this; it can be many times larger than GD's for noiseless targets);
    - ``population_test_mse``: the *exact* operator prediction for infinitely many samples,
      ``Σ_k φ_k(t)² v_k² + ε²`` with ``φ_k = (1 − ηλ_k)^t`` (``"gd"``) or ``e^{−ηλ_k t}``
      (``"flow"``, time ηt). It is a lower envelope: finite n only adds error.

    Args:
      spectrum, energies, noise, tail_tol, kmax: as in :func:`learning_curve`.
      n: sample sizes ``(m,)``.
      steps: step counts ``(T,)`` (>= 0; t = 0 gives the untrained error Σ v_k² + ε²).
      lr: step η > 0 (for ``"gd"``, η < 2/λ_max keeps the filter stable).
      method: ``"gd"`` or ``"flow"``.

    Returns:
      A :class:`GDLearningCurve`.
    """
    method = check_choice("method", method, ("gd", "flow"))
    lr = check_positive("lr", lr)
    nn = _check_n(n)
    t = np.atleast_1d(as_real_array("steps", steps))
    if t.ndim != 1 or not np.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"Expected steps to be a 1-D list of step counts >= 0; got {t!r}.")
    v2 = _check_energies(energies)
    noise = check_positive("noise", noise, allow_zero=True)
    lam_max = float(np.max(spectrum.eigenvalues))
    if method == "gd" and lr * lam_max >= 2.0:
        raise ValueError(
            f"Expected lr < 2/λ_max = {2.0 / lam_max:.6g} (stable gradient descent); got {lr!r}."
        )
    ridge = ridge_from_time(nn[None, :], lr, t[:, None])
    shape = ridge.shape
    n_all = np.broadcast_to(nn[None, :], shape).ravel()
    fin = np.isfinite(ridge).ravel()
    kappa = np.full(n_all.shape, np.inf)
    trunc, _, kappa[fin] = _fit(spectrum, v2, n_all[fin], ridge.ravel()[fin], tail_tol, kmax)
    v2 = np.pad(v2, (0, trunc.kmax + 1 - v2.size))
    _, _, test, per_degree, _ = _eigenlearning(
        trunc, v2, n_all, kappa, noise, np.where(fin, ridge.ravel(), 0.0)
    )
    untrained = ~fin  # t = 0: κ = ∞, nothing learned
    test[untrained] = np.sum(v2) + noise
    per_degree[untrained] = v2
    lam = trunc.eigenvalues
    with np.errstate(over="ignore", invalid="ignore"):
        if method == "gd":
            phi = (1.0 - lr * lam[None, :]) ** t[:, None]
        else:
            phi = np.exp(-lr * lam[None, :] * t[:, None])
    population = phi**2 * v2[None, :]
    return GDLearningCurve(
        steps=t,
        lr=lr,
        method=method,
        n=nn,
        ridge=ridge,
        test_mse=test.reshape(shape),
        test_mse_per_degree=per_degree.reshape(*shape, trunc.kmax + 1),
        population_per_degree=population,
        population_test_mse=np.sum(population, axis=1) + noise,
        truncation=trunc,
    )
