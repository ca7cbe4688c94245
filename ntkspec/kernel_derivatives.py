"""Derivatives ``κ^{(m)}(t)`` of ReLU MLP kernels, by Taylor-mode arithmetic at each point.

Used by the integration-by-parts route of :func:`ntkspec.spectrum.spectrum` (docs/theory.md
§6.1): with the Gegenbauer equation, ``λ_k^{(d)}[κ] = λ_{k-1}^{(d+2)}[κ'] / d`` for d >= 2,
so ``λ_k^{(d)}[κ] = λ_{k-m}^{(d+2m)}[κ^{(m)}] / Π_{j<m}(d + 2j)``, and the θ rule applied to
``κ^{(m)}`` in dimension d + 2m cancels far less (a factor ~k per derivative) than the rule
applied to κ.

Every layer map is expanded as a truncated power series in ``ε = t − t₀`` at each point t₀
(arrays of shape ``(m + 1, n)``): ``k0' = ρ' (1 − ρ²)^{-1/2}/π`` and ``k1' = k0 ρ'`` (Cho &
Saul 2009), ``(1 − ρ²)^{-1/2}`` by the power recurrence ``n g₀ h_n = Σ_{j=1}^{n} ((p+1)j − n)
g_j h_{n−j}`` with ``g₀ = (1 − ρ₀)(1 + ρ₀)`` formed without cancellation. The values at t₀
come from ``1 − t₀`` and ``1 + t₀`` carried separately, as in :mod:`ntkspec.kernels`.
"""

from __future__ import annotations

import math

import numpy as np

from ntkspec.kernels import Kernel

__all__ = ["applies", "relu_derivative"]


def applies(kernel) -> bool:
    """The route needs a :class:`~ntkspec.kernels.Kernel` with the closed-form ReLU."""
    return (
        isinstance(kernel, Kernel)
        and kernel.activation == "relu"
        and kernel.sine is None
        and kernel.phi is None
    )


def _mul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Truncated product of two series (axis 0 = order)."""
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape))
    for n in range(out.shape[0]):
        out[n] = np.sum(x[: n + 1] * y[n::-1], axis=0)
    return out


def _inverse_sqrt(g: np.ndarray, g0: np.ndarray) -> np.ndarray:
    """Series of ``g^{-1/2}`` given ``g`` and its accurately formed constant term ``g0``."""
    p = -0.5
    h = np.zeros_like(g)
    h[0] = 1.0 / np.sqrt(g0)
    for n in range(1, g.shape[0]):
        j = np.arange(1, n + 1)[:, None]
        h[n] = np.sum(((p + 1) * j - n) * g[1 : n + 1] * h[n - 1 :: -1][:n], axis=0) / (n * g0)
    return h


def _h(x: np.ndarray) -> np.ndarray:
    """``h(x) = sin x − x cos x`` on [0, π], by its series below 1 (no cancellation)."""
    x2 = x * x
    series = np.zeros_like(x)
    for m in range(12, 0, -1):  # Σ_{m>=1} (-1)^{m+1} 2m x^{2m+1}/(2m+1)!, Horner in x²
        series = series * x2 + (-1) ** (m + 1) * 2 * m / math.factorial(2 * m + 1)
    series = series * x2 * x
    return np.where(x < 1.0, series, np.sin(x) - x * np.cos(x))


def _relu_layer(r: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Series of (k0(ρ), k1(ρ)) and ``1 − k1(ρ₀)`` from the series r of ρ and ``a = 1 − ρ₀``,
    ``b = 1 + ρ₀``."""
    sa, sb = np.sqrt(a), np.sqrt(b)
    theta = 2.0 * np.arctan2(sa, sb)
    phi = 2.0 * np.arctan2(sb, sa)
    one_minus, one_plus = -r.copy(), r.copy()
    one_minus[0], one_plus[0] = a, b
    s = _inverse_sqrt(_mul(one_minus, one_plus), a * b)
    dr = r[1:] * np.arange(1, r.shape[0])[:, None]
    orders = np.arange(1, r.shape[0])[:, None]
    k0 = np.concatenate([(phi / np.pi)[None], _mul(dr, s[:-1]) / (np.pi * orders)])
    k1 = np.concatenate([(_h(phi) / np.pi)[None], _mul(dr, k0[:-1]) / orders])
    return k0, k1, (np.pi * a - _h(theta)) / np.pi


def relu_derivative(kernel: Kernel, which: str, order: int, t, a, b) -> np.ndarray:
    """``d^m κ/dt^m`` at t (float64 arrays ``t``, ``a = 1 − t``, ``b = 1 + t``), m = ``order``.

    The NNGP (``which="nngp"``) or NTK of a ReLU MLP (:func:`applies`), with the layer
    recursion of :func:`ntkspec.kernels.mlp_kernel` (biases, first-layer variance, trained
    biases) applied to power series.
    """
    sw, sb, sw0 = kernel.weight_var, kernel.bias_var, kernel.first_layer_var
    beta2 = kernel.trained_bias
    a = np.clip(np.asarray(a, np.float64), 0.0, 2.0)
    b = np.clip(np.asarray(b, np.float64), 0.0, 2.0)
    t = np.asarray(t, np.float64)
    q = kernel.variances[0]
    sigma = np.zeros((order + 1, t.shape[0]))
    sigma[0] = sw0 * t + sb
    if order:
        sigma[1] = sw0
    a, b = sw0 * a / q, (sw0 * b + 2.0 * sb) / q
    theta = sigma.copy()
    theta[0] += beta2
    depth = len(kernel.variances) - 1
    for layer, (q, q_new) in enumerate(
        zip(kernel.variances[:-1], kernel.variances[1:], strict=True)
    ):
        k0, k1, omk1 = _relu_layer(sigma / q, a, b)
        half = 0.5 * sw * q
        sigma = half * k1
        sigma[0] += sb
        a = np.clip(half * omk1 / q_new, 0.0, 2.0)
        b = 2.0 - a
        theta = _mul(theta, 0.5 * sw * k0) + sigma
        if beta2 and layer < depth - 1:
            theta[0] += beta2
    out = sigma if which == "nngp" else theta
    return out[order] * math.factorial(order)
