"""Sine activations ``φ(u) = a·sin(b·u + c)`` and their exact Gaussian duals.

The dual of an activation is the map from the covariance of a centred Gaussian pair to the
expectations the kernel recursion needs (docs/theory.md §6.2). For
``(u, v) ~ N(0, [[q, qρ], [qρ, q]])`` and ``B = b² q`` (Euler's formula and the Gaussian
characteristic function ``E e^{i ω u} = e^{-ω² q / 2}``):

    E[φ(u)φ(v)]   = (a²/2) (e^{-B(1-ρ)} − cos 2c · e^{-B(1+ρ)})
    E[φ'(u)φ'(v)] = (a²b²/2) (e^{-B(1-ρ)} + cos 2c · e^{-B(1+ρ)})
    E[φ(u)²]      = (a²/2) (1 − cos 2c · e^{-2B})

``sin`` is ``Sine()`` and ``cos`` is ``Sine(c=π/2)``; ``Sine(a, b, c)`` is neural-tangents'
``stax.Sin(a, b, c)``. The expressions are evaluated as differences of exponentials, never as
``e^{-B} sinh(Bρ)``, so they hold at SIREN scale (B = ω0² = 900, where ``sinh`` overflows), and
the complements ``E[φ²] ∓ E[φ(u)φ(v)]`` that carry ``1 ∓ ρ'`` to the next layer are products
of nonnegative factors (no cancellation next to ρ = ±1).

References: Sitzmann et al. 2020 (SIREN); neural-tangents ``stax.Sin``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ntkspec._validate import check_real

__all__ = ["Sine"]


@dataclasses.dataclass(frozen=True)
class Sine:
    """The activation ``φ(u) = a·sin(b·u + c)`` (neural-tangents ``stax.Sin``), with exact duals.

    An elementwise JAX callable, accepted as ``activation`` by
    :func:`ntkspec.kernels.mlp_kernel` and :func:`ntkspec.models.mlp` (the names ``"sin"`` and
    ``"cos"`` are ``Sine()`` and ``Sine(c=π/2)``). Its kernels are closed forms, exact at any
    variance (no quadrature).

    Attributes:
      a: amplitude (nonzero).
      b: frequency (nonzero); a SIREN first layer ``sin(ω0 x·w)`` is ``b = 1`` with
        ``first_layer_var = ω0²``, or ``b = ω0``.
      c: phase.

    >>> round(float(Sine(2.0, 3.0, 0.5)(1.0)), 4), round(2.0 * math.sin(3.5), 4)
    (-0.7016, -0.7016)
    """

    a: float = 1.0
    b: float = 1.0
    c: float = 0.0

    def __post_init__(self):
        for name in ("a", "b", "c"):
            object.__setattr__(self, name, check_real(name, getattr(self, name)))
        if self.a == 0.0 or self.b == 0.0:
            raise ValueError(f"Expected nonzero a and b; got a = {self.a!r}, b = {self.b!r}.")

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        y = x if self.b == 1.0 else self.b * x
        if self.c == math.pi / 2:
            s = jnp.cos(y)  # exact cos (sin(y + fl(π/2)) differs by a rounding of y + π/2)
        else:
            s = jnp.sin(y if self.c == 0.0 else y + self.c)
        return s if self.a == 1.0 else self.a * s

    # ---- duals (docs/theory.md); B = b² q, a_ = 1 - ρ, b_ = 1 + ρ, all >= 0
    @property
    def _sin2c(self) -> float:
        return math.sin(self.c) ** 2

    @property
    def _cos2c(self) -> float:
        return math.cos(self.c) ** 2

    def second_moment(self, q: float) -> float:
        """``E[φ(u)²]`` for ``u ~ N(0, q)``: ``(a²/2)(1 − e^{-2B} + 2 sin²c · e^{-2B})``, float."""
        big = 2.0 * self.b**2 * q
        return 0.5 * self.a**2 * (-math.expm1(-big) + 2.0 * self._sin2c * math.exp(-big))

    def dual(self, q: float, rho, one_minus, one_plus):
        """The layer expectations at variance ``q`` and correlation ``ρ`` (given with ``1 ∓ ρ``).

        Returns ``(E[φ(u)φ(v)], E[φ'(u)φ'(v)], E[φ²] − E[φ(u)φ(v)], E[φ²] + E[φ(u)φ(v)])``,
        the last two as products of nonnegative factors:

            E[φ²] − E[φφ] = (a²/2)(1 − e^{-B(1-ρ)})(1 − e^{-B(1+ρ)} + 2 cos²c · e^{-B(1+ρ)})
            E[φ²] + E[φφ] = (a²/2)(1 + e^{-B(1-ρ)})(1 − e^{-B(1+ρ)} + 2 sin²c · e^{-B(1+ρ)})

        and ``e^{-B(1-ρ)} − e^{-B(1+ρ)}`` as ``e^{-B(1∓|ρ|)}·(1 − e^{-2B|ρ|})`` (signed), which
        neither overflows nor cancels.
        """
        big = self.b**2 * q  # a Python float: keeps float32 inputs float32
        ea, eb = jnp.exp(-big * one_minus), jnp.exp(-big * one_plus)
        pos = rho >= 0
        r_pos = jnp.where(pos, rho, 0.0)
        r_neg = jnp.where(pos, 0.0, rho)
        diff = jnp.where(
            pos, ea * -jnp.expm1(-2.0 * big * r_pos), eb * jnp.expm1(2.0 * big * r_neg)
        )
        half = 0.5 * self.a**2
        e = half * (diff + 2.0 * self._sin2c * eb)
        ed = half * self.b**2 * (diff + 2.0 * self._cos2c * eb)
        minus = (
            half
            * -jnp.expm1(-big * one_minus)
            * (-jnp.expm1(-big * one_plus) + 2.0 * self._cos2c * eb)
        )
        plus = half * (1.0 + ea) * (-jnp.expm1(-big * one_plus) + 2.0 * self._sin2c * eb)
        return e, ed, minus, plus
