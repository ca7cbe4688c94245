"""Optimizers as values: an optax transformation plus, where one exists, its exact linear transfer.

For a quadratic loss ``(1/2) rᵀ M r`` and a model linear in its parameters (the lazy regime),
every optimizer below except Adam acts on each eigen-direction of the operator ``K M`` (eigenvalue
μ) by a scalar recursion; the *transfer* ``h_t(μ)`` is the factor by which that component of the
residual has been multiplied after t steps, from a zero optimizer state (docs/theory.md,
"Optimizers"). With ``x = ημ``:

- ``gd``: ``h_t = (1 − x)^t``; stable iff ``0 < x < 2``.
- ``momentum`` (heavy ball, Polyak 1964, in optax's form ``m ← g + β m``, ``θ ← θ − η m``):
  ``r_{t+1} = (1 + β − x) r_t − β r_{t−1}``, ``r_1 = (1 − x) r_0``; stable iff
  ``0 < x < 2(1 + β)``.
- ``nesterov`` (optax ``sgd(nesterov=True)``: ``m ← g + β m``, ``θ ← θ − η (g + β m)``):
  ``r_{t+1} = (1 + β)(1 − x) r_t − β(1 − x) r_{t−1}``, ``r_1 = (1 − (1 + β)x) r_0``; stable iff
  ``0 < x < 2(1 + β)/(1 + 2β)``.
- ``flow`` (gradient flow, prediction only): ``h_t = e^{−xt}`` (flow time ηt).
- ``sgd`` (independent uniform mini-batches each step, with or without replacement within the
  batch): the *expected* residual obeys the GD recursion exactly, ``E r_t = (I − η K M)^t r_0``,
  because ``E[(n/b) P_J] = I`` for the batch selector P_J and the batch is independent of r_t.
- ``adam``: nonlinear (per-coordinate normalization); ``transfer is None``.

Both two-step recursions are ``r_t = U_t − β U_{t−1}`` with ``U_t`` the Chebyshev-like sequence
``U_{t+1} = a U_t − b U_{t−1}``, ``U_0 = 1``, ``U_{−1} = 0`` of the companion matrix
``[[a, −b], [1, 0]]``; :func:`companion_sequence` evaluates it in closed form from the roots of
``z² − a z + b`` without forming matrix powers, stable for large t and at the double root.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import optax
from jax.typing import ArrayLike

from ntkspec._validate import check_int, check_positive

__all__ = [
    "Optimizer",
    "gd",
    "momentum",
    "nesterov",
    "flow",
    "sgd",
    "adam",
    "companion_sequence",
    "gd_transfer",
    "momentum_transfer",
    "nesterov_transfer",
    "flow_transfer",
]


# ----------------------------------------------------------------------------- transfers
def companion_sequence(a: ArrayLike, b: ArrayLike, t: ArrayLike) -> np.ndarray:
    """``U_t`` of ``U_{t+1} = a U_t − b U_{t−1}``, ``U_0 = 1``, ``U_{−1} = 0`` (float64).

    Closed form from the roots z₁, z₂ of ``z² − a z + b``:
    ``U_t = (z₁^{t+1} − z₂^{t+1})/(z₁ − z₂)``.
    With ``U_t(a, b) = (−1)^t U_t(−a, b)`` take a >= 0. Real roots:
    ``U_t = z₁^t (1 − q^{t+1})/(1 − q)`` with z₁ the larger in modulus and
    ``q = z₂/z₁ ∈ [−1, 1]``, using ``log1p``/``expm1`` when q > 0 so that the double root
    (``(t + 1) z₁^t``) is reached continuously. Complex roots ``ρ e^{±iθ}``:
    ``U_t = ρ^t sin((t + 1)θ)/sin θ`` with ``sin θ = √(4b − a²)/(2ρ)``.

    Args:
      a, b: arrays broadcastable to ``(K,)``.
      t: non-negative integer steps ``(T,)`` (t = −1 gives 0).

    Returns:
      float64 ``(T, K)``; ``±inf`` where the sequence overflows. The error relative to the
      envelope ``max(|U_t|, ρ^t)`` is O(t ε) (checked against mpmath in the tests); the
      transfers ``U_t − β U_{t−1}`` add a factor <= 1/(1 − β).

    >>> companion_sequence([2.0], [1.0], [0, 1, 5])[:, 0].tolist()   # double root 1: t + 1
    [1.0, 2.0, 6.0]
    """
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    T = np.asarray(t, dtype=np.float64)[:, None]
    # U_t(a, b) = (−1)^t U_t(−a, b): work with a >= 0, so that the angle θ of complex roots is
    # in [0, π/2] and keeps its relative precision near the double root (θ → 0).
    flip = np.where((a < 0) & (np.mod(T, 2.0) == 1.0), -1.0, 1.0)
    a = np.abs(a)
    D = _discriminant(a, b)
    out = np.empty((T.shape[0], a.shape[0]))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        real = D >= 0
        sq = np.sqrt(np.where(real, D, 0.0))
        z1 = 0.5 * (a + np.copysign(sq, a))
        zero = real & (z1 == 0.0)  # a = b = 0: U = (1, 0, 0, ...)
        z1s = np.where(zero, 1.0, z1)
        q = b / (z1s * z1s)
        gap = sq / np.abs(z1s)  # 1 − q for q > 0
        n = T + 1.0
        S_pos = np.where(gap == 0.0, n, -np.expm1(n * np.log1p(-np.where(q > 0, gap, 0.0))) / gap)
        S_neg = (1.0 - np.power(np.where(q <= 0, q, 0.0), n)) / (1.0 - np.where(q <= 0, q, 0.0))
        S = np.where(q > 0, S_pos, S_neg)
        sign = np.where(np.mod(T, 2.0) == 1.0, np.sign(z1s), 1.0)
        U_real = sign * np.exp(T * np.log(np.abs(z1s))) * S
        U_real = np.where(zero, np.where(T == 0, 1.0, 0.0), U_real)
        rho = np.sqrt(np.where(real, 1.0, b))
        im = np.sqrt(np.where(real, 1.0, -D))
        theta = np.arctan2(im, a)
        U_cplx = np.exp(T * np.log(rho)) * np.sin(n * theta) / (im / (2.0 * rho))
        out = flip * np.where(real, U_real, U_cplx)
    return np.where(T < 0, 0.0, out)


def _discriminant(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a² − 4b`` to relative precision even when it cancels (the double root).

    ``a²`` is split exactly into ``hi + lo`` (Veltkamp/Dekker), and ``hi − 4b`` is exact
    where it cancels (Sterbenz), so only the final sum rounds.
    """
    hi = a * a
    with np.errstate(over="ignore", invalid="ignore"):
        c = 134217729.0 * a  # 2^27 + 1
        ah = c - (c - a)
        al = a - ah
        lo = ((ah * ah - hi) + 2.0 * ah * al) + al * al
    lo = np.where(np.isfinite(lo), lo, 0.0)
    return (hi - 4.0 * b) + lo


def _two_step(a, b, beta, t) -> np.ndarray:
    """``r_t = U_t − β U_{t−1}`` (``r_0 = 1``, ``r_1 = a − β``)."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        U = companion_sequence(a, b, t)
        Um = companion_sequence(a, b, t - 1.0)
        return U - beta * Um


def _x(x) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=np.float64))


def gd_transfer(x: ArrayLike, t: ArrayLike) -> np.ndarray:
    """``(1 − x)^t``, float64 ``(T, K)`` for ``x = ημ`` ``(K,)`` and steps ``(T,)``."""
    T = np.asarray(t, dtype=np.float64)[:, None]
    with np.errstate(over="ignore"):
        return np.power(1.0 - _x(x)[None, :], T)


def flow_transfer(x: ArrayLike, t: ArrayLike) -> np.ndarray:
    """``e^{−x t}`` (gradient flow for time ηt), float64 ``(T, K)``."""
    T = np.asarray(t, dtype=np.float64)[:, None]
    with np.errstate(over="ignore"):
        return np.exp(-_x(x)[None, :] * T)


def momentum_transfer(x: ArrayLike, beta: float, t: ArrayLike) -> np.ndarray:
    """Heavy ball: first entry of ``C^t (1, 0)ᵀ``, ``C = [[1 − x, −β], [x, β]]`` in (r, ηm)."""
    x = _x(x)
    return _two_step(1.0 + beta - x, np.full_like(x, beta), beta, t)


def nesterov_transfer(x: ArrayLike, beta: float, t: ArrayLike) -> np.ndarray:
    """Nesterov (optax): ``C = [[1 − (1 + β)x, −β²], [x, β]]`` acting on (r, ηm)."""
    x = _x(x)
    return _two_step((1.0 + beta) * (1.0 - x), beta * (1.0 - x), beta, t)


# ----------------------------------------------------------------------------- the value
@dataclasses.dataclass(frozen=True, eq=False)
class Optimizer:
    """An optimizer: its optax transformation and, if it is linear, its transfer.

    Attributes:
      name: ``"gd"``, ``"momentum"``, ``"nesterov"``, ``"flow"``, ``"sgd"`` or ``"adam"``.
      lr: the step η.
      beta: the momentum coefficient (0 for the others).
      batch_size: mini-batch size (``sgd`` only, else ``None``).
      replace: ``sgd``: draw each batch with replacement (default: without).
      transform: the ``optax.GradientTransformation`` (``None`` for ``flow``).
      hyper: other hyperparameters (Adam's b1, b2, eps), for metadata.
    """

    name: str
    lr: float
    beta: float = 0.0
    batch_size: int | None = None
    replace: bool = False
    transform: optax.GradientTransformation | None = None
    hyper: tuple = ()

    @property
    def transfer(self) -> Callable[[ArrayLike, ArrayLike], np.ndarray] | None:
        """``transfer(mu, t) -> (T, K)`` factors ``h_t(μ)``, or ``None`` (no linear theory).

        For ``sgd`` it is the transfer of the *expected* residual (equal to GD's).
        """
        eta, beta = self.lr, self.beta
        if self.name in ("gd", "sgd"):
            return lambda mu, t: gd_transfer(eta * _x(mu), t)
        if self.name == "flow":
            return lambda mu, t: flow_transfer(eta * _x(mu), t)
        if self.name == "momentum":
            return lambda mu, t: momentum_transfer(eta * _x(mu), beta, t)
        if self.name == "nesterov":
            return lambda mu, t: nesterov_transfer(eta * _x(mu), beta, t)
        return None

    def max_stable_lr(self, mu_max: float) -> float:
        """Largest ημ_max-stable step for this optimizer's β: ``η < limit`` is stable.

        ``2/μ`` (gd, sgd in expectation), ``2(1 + β)/μ`` (heavy ball),
        ``2(1 + β)/((1 + 2β) μ)`` (Nesterov), ``inf`` (flow, or μ_max <= 0).
        ``ValueError`` for Adam (no linear stability region).
        """
        if self.transfer is None:
            raise ValueError(
                f"Expected a linear optimizer for a stability limit; {self.name!r} has no "
                "linear transfer (no linear prediction)."
            )
        if not mu_max > 0 or self.name == "flow":
            return np.inf
        b = self.beta
        factor = {"momentum": 2 * (1 + b), "nesterov": 2 * (1 + b) / (1 + 2 * b)}.get(self.name, 2)
        return float(factor / mu_max)

    def to_dict(self) -> dict:
        """JSON-ready description (no arrays, no functions)."""
        out = {"name": self.name, "lr": self.lr}
        if self.name in ("momentum", "nesterov"):
            out["beta"] = self.beta
        if self.name == "sgd":
            out.update(batch_size=self.batch_size, replace=self.replace)
        out.update(dict(self.hyper))
        return out


def _beta(beta) -> float:
    b = check_positive("beta", beta, allow_zero=True)
    if not b < 1.0:
        raise ValueError(f"Expected momentum beta in [0, 1); got {beta!r}.")
    return b


# ----------------------------------------------------------------------------- constructors
def gd(lr: float) -> Optimizer:
    """Plain gradient descent ``θ ← θ − η ∇L`` (``optax.sgd(lr)``); transfer ``(1 − ημ)^t``.

    >>> gd(0.5).transfer([1.0], [0, 1, 2])[:, 0].tolist()
    [1.0, 0.5, 0.25]
    """
    lr = check_positive("lr", lr)
    return Optimizer("gd", lr, transform=optax.sgd(lr))


def momentum(lr: float, beta: float = 0.9) -> Optimizer:
    """Heavy-ball momentum in optax's form (``optax.sgd(lr, momentum=beta)``).

    ``m ← ∇L + β m``, ``θ ← θ − η m``; transfer from the companion recursion (module docstring),
    stable iff ``0 < ημ < 2(1 + β)`` (Polyak 1964).

    >>> bool(momentum(0.1, 0.0).transfer([2.0], [3])[0, 0] == gd(0.1).transfer([2.0], [3])[0, 0])
    True
    """
    lr, beta = check_positive("lr", lr), _beta(beta)
    return Optimizer("momentum", lr, beta=beta, transform=optax.sgd(lr, momentum=beta))


def nesterov(lr: float, beta: float = 0.9) -> Optimizer:
    """Nesterov momentum in optax's form (``optax.sgd(lr, momentum=beta, nesterov=True)``).

    ``m ← ∇L + β m``, ``θ ← θ − η (∇L + β m)``; stable iff ``0 < ημ < 2(1 + β)/(1 + 2β)``
    (Nesterov 1983).
    """
    lr, beta = check_positive("lr", lr), _beta(beta)
    transform = optax.sgd(lr, momentum=beta, nesterov=True)
    return Optimizer("nesterov", lr, beta=beta, transform=transform)


def flow(lr: float) -> Optimizer:
    """Gradient flow run for time ηt after t "steps" (prediction only; ``train`` refuses it)."""
    return Optimizer("flow", check_positive("lr", lr))


def sgd(lr: float, batch_size: int, *, replace: bool = False) -> Optimizer:
    """Mini-batch SGD: each step an independent uniform batch of ``batch_size`` samples.

    The batch objective ``(1/2) Σ_{j∈J} (n/b) M_jj r_j²`` is unbiased for a diagonal metric M
    (mse, weighted), so the expected residual follows GD exactly (module docstring); ``train``
    needs a ``key`` for it. ``replace=True`` draws the batch with replacement.
    """
    lr = check_positive("lr", lr)
    b = check_int("batch_size", batch_size, minimum=1)
    if not isinstance(replace, bool):
        raise TypeError(f"Expected replace to be a bool; got {type(replace).__name__}.")
    return Optimizer("sgd", lr, batch_size=b, replace=replace, transform=optax.sgd(lr))


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (``optax.adam``); nonlinear, so ``transfer is None`` and nothing is predicted."""
    lr = check_positive("lr", lr)
    b1, b2 = _beta(b1), _beta(b2)
    eps = check_positive("eps", eps)
    hyper = (("b1", b1), ("b2", b2), ("eps", eps))
    return Optimizer("adam", lr, transform=optax.adam(lr, b1=b1, b2=b2, eps=eps), hyper=hyper)
