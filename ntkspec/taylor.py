"""Taylor coefficients of infinite-width kernels at t = 0 and the Funk–Hecke transforms of tⁿ.

Every NNGP/NTK that :func:`ntkspec.kernels.mlp_kernel` builds is positive definite on spheres
of every dimension, so (Schoenberg 1942) its Taylor coefficients at t = 0 are nonnegative,
``κ(t) = Σ_n a_n tⁿ`` with ``a_n >= 0`` and ``Σ_n a_n = κ(1)``. Then

    λ_k = Σ_{n >= k, n ≡ k (mod 2)} a_n λ_k(tⁿ),
    λ_k(tⁿ) = n!/(n-k)! · Γ(d/2) Γ((n-k+1)/2) / (√π 2^k Γ((n+k+d)/2))

(docs/theory.md §6.1): a sum of nonnegative terms, with no cancellation and
hence full relative precision for λ_k far below ε·λ_0 (high dimension, high degree).

Coefficients. The layer maps are composed as power series (Taylor-mode arithmetic) with
recurrences that only add nonnegative numbers. For ρ(t) with nonnegative coefficients and
``S = (1 - ρ²)^{-1/2}``, ``(1 - ρ²) S' = ρ ρ' S`` gives

    h₀ (n+1) S_{n+1} = [ρ ρ' S]_n + Σ_{j>=1} [ρ²]_j (n-j+1) S_{n-j+1},   h₀ = 1 - ρ(0)²,

and then ``k0' = ρ' S/π``, ``k1' = k0 ρ'`` (ReLU, Cho & Saul 2009) and
``arcsin(g)' = g' (1 - g²)^{-1/2}`` (erf, Williams 1997). The values at t = 0 come from the
closed forms with ``1 ∓ ρ`` carried separately, as in :mod:`ntkspec.kernels`. All of it runs
in numpy's extended precision (``np.longdouble``: 64-bit mantissa on x86) so that the
coefficients, whose relative errors grow about linearly in n, stay far below 1e-10.

Tail. With ``T_N^± = κ^±(1) - Σ_{n<=N, n ≡ ±} a_n`` (κ^± the even/odd parts of κ), the
neglected part of λ_k is at most ``T_N · sup_{n>N, n≡k} λ_k(tⁿ)``. The ratio
``λ_k(t^{n+2})/λ_k(tⁿ) = (n+2)(n+1)/((n+2-k)(n+k+d))`` exceeds 1 exactly while
``n < n* = ((k-2)(k+d) + 2)/(d-1)``, so the sequence is unimodal and the supremum is at the
first admissible n past max(N, n*). For kernels analytic beyond t = 1 (erf, sine, identity)
Cauchy's estimate ``a_n <= κ(r)/rⁿ`` (all a_n >= 0) at some r > 1 bounds the tail mass by
``κ(r) r^{-(N+1)}/(1 - 1/r)`` with no rounding margin.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from ntkspec._validate import check_choice, check_int
from ntkspec.limits import MAX_SERIES_ORDER

__all__ = [
    "SERIES_ACTIVATIONS",
    "TaylorSeries",
    "dual_series",
    "identity_input",
    "mlp_series",
    "resnet_series",
    "series_tails",
    "kernel_taylor",
    "monomial_eigenvalue",
    "monomial_sup",
    "monomial_table",
    "series_eigenvalues",
]

#: Activations whose layer maps have closed forms that this module expands (and every sine
#: activation ``a·sin(b·u + c)``: ``Kernel.sine`` set, e.g. "sin" and "cos").
SERIES_ACTIVATIONS = ("relu", "erf", "identity", "sin", "cos")

_LD = np.longdouble
_U_LD = float(np.finfo(np.longdouble).eps)
_EPS = float(np.finfo(np.float64).eps)


class TaylorSeries(NamedTuple):
    """Taylor coefficients of a kernel at t = 0 with their error and tail information.

    Attributes:
      coefficients: ``np.longdouble`` array ``a_0..a_N`` (all >= 0).
      rel_error: bound on the relative error of every coefficient (first-order analysis of
        the nonnegative recurrences; docs/theory.md).
      tail: float64 ``(2,)``: bounds on ``Σ_{n>N} a_n`` over even and over odd n,
        ``κ^±(1) - Σ_{n<=N, n≡±} a_n`` plus their rounding margin.
    """

    coefficients: np.ndarray
    rel_error: float
    tail: np.ndarray


# ----------------------------------------------------------------------------- series ops
def _conv(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """First ``n`` coefficients of the product of two series."""
    return np.convolve(a[:n], b[:n])[:n]


def _deriv(a: np.ndarray) -> np.ndarray:
    """Coefficients of a' (one fewer)."""
    return a[1:] * np.arange(1, a.shape[0], dtype=_LD)


def _integrate(value, da: np.ndarray) -> np.ndarray:
    """Series with constant ``value`` and derivative ``da`` (one more coefficient)."""
    return np.concatenate([[_LD(value)], da / np.arange(1, da.shape[0] + 1, dtype=_LD)])


def _inverse_sqrt(g: np.ndarray, h0) -> np.ndarray:
    """``S = (1 - g²)^{-1/2}`` to the length of g, g >= 0, given ``h0 = 1 - g(0)²`` accurately.

    From ``(1 - g²) S' = g g' S``: ``h0 (n+1) S_{n+1} = [g g' S]_n + Σ_{j>=1} [g²]_j (n-j+1)
    S_{n-j+1}`` — nonnegative terms only.
    """
    n = g.shape[0]
    g2 = _conv(g, g, n)
    p = _conv(g, np.concatenate([_deriv(g), [_LD(0)]]), n)  # g g'
    s = np.zeros(n, dtype=_LD)
    ds = np.zeros(n, dtype=_LD)  # ds[j] = j S_j
    s[0] = 1 / np.sqrt(_LD(h0))
    for m in range(n - 1):
        # [g g' S]_m = Σ_{j<=m} p_j S_{m-j};  Σ_{j=1..m} g2_j (m-j+1) S_{m-j+1}.
        acc = np.dot(p[: m + 1], s[m::-1]) + np.dot(g2[1 : m + 1], ds[m:0:-1])
        s[m + 1] = acc / (_LD(h0) * (m + 1))
        ds[m + 1] = (m + 1) * s[m + 1]
    return s


def _h(x):
    """h(x) = sin x − x cos x (longdouble), by its series below 1 (no cancellation)."""
    x = _LD(x)
    if x >= 1:
        return np.sin(x) - x * np.cos(x)
    total = _LD(0)
    for m in range(14, 0, -1):  # Σ_{m>=1} (-1)^{m+1} 2m x^{2m+1}/(2m+1)!, smallest first
        total += (-1) ** (m + 1) * 2 * m * x ** (2 * m + 1) / _LD(math.factorial(2 * m + 1))
    return total


def _relu_layer(rho, a0, b0, n):
    """(k0, k1) series of the arc-cosine kernels of ρ, and 1 − k1(ρ(0))."""
    sa, sb = np.sqrt(_LD(a0)), np.sqrt(_LD(b0))
    theta, phi = 2 * np.arctan2(sa, sb), 2 * np.arctan2(sb, sa)
    pi = np.arccos(_LD(-1))
    s = _inverse_sqrt(rho, a0 * b0)
    drho = _deriv(rho)
    k0 = _integrate(phi / pi, _conv(drho, s, n - 1) / pi)
    k1 = _integrate(_h(phi) / pi, _conv(k0, drho, n - 1))
    return k0, k1, (pi * _LD(a0) - _h(theta)) / pi


def kernel_taylor(kernel, which: str = "ntk", order: int = 256) -> TaylorSeries:
    """Taylor coefficients ``a_0..a_order`` at t = 0 of an MLP kernel (relu, erf, identity).

    Args:
      kernel: a :class:`~ntkspec.kernels.Kernel` with a closed-form activation in
        ``SERIES_ACTIVATIONS`` (no sine, no quadrature).
      which: ``"ntk"`` or ``"nngp"``.
      order: highest power N (1..20000); the cost is O(N² · depth).

    Returns:
      A :class:`TaylorSeries`.

    Two-layer bias-free ReLU NNGP, ``k1(t) = 1/π + t/2 + t²/(2π) + …``:

    >>> from ntkspec.kernels import mlp_kernel
    >>> a = kernel_taylor(mlp_kernel(1), "nngp", 4).coefficients
    >>> np.allclose(np.asarray(a, float), [1 / np.pi, 0.5, 0.5 / np.pi, 0, 1 / (24 * np.pi)])
    True
    """
    check_choice("which", which, ("ntk", "nngp"))
    order = check_int("order", order, minimum=1, maximum=MAX_SERIES_ORDER)
    coeffs, rel, params = _mlp_coefficients(kernel, which, identity_input(order))
    depth = len(params[2]) - 1
    tails = series_tails(kernel, which, coeffs, rel, depth)
    if params[0] != "relu":  # analytic beyond t = 1: Cauchy's estimate, no rounding margin
        tails = np.minimum(tails, _cauchy_tail(params, order))
    return TaylorSeries(coeffs, rel, tails)


def identity_input(order: int) -> tuple[np.ndarray, np.longdouble, float]:
    """The input series of a first layer that sees t itself: ``(x = [0, 1, 0, …], 1 − x(0),
    relative error 0)``, ``order + 1`` longdouble coefficients."""
    x = np.zeros(order + 1, dtype=_LD)
    x[1] = 1
    return x, _LD(1), 0.0


def mlp_series(kernel, which: str, inputs) -> tuple[np.ndarray, float]:
    """Nonnegative Taylor coefficients of an MLP kernel whose first layer sees a series input.

    Args:
      kernel: a :class:`~ntkspec.kernels.Kernel` with an activation in ``SERIES_ACTIVATIONS``
        or a sine.
      which: ``"ntk"`` or ``"nngp"``.
      inputs: ``(x, 1 − x(0), rel)``: the nonnegative series (longdouble) of the inner product
        s(t) the first layer sees (t itself: :func:`identity_input`; Fourier features:
        ``e^{-β} Σ βⁿtⁿ/n!``), its complement at 0 computed without cancellation, and its
        relative error.

    Returns:
      ``(coefficients, rel_error)`` of κ(s(t)), longdouble, all >= 0.
    """
    coeffs, rel, _ = _mlp_coefficients(kernel, which, inputs)
    return coeffs, rel


def _mlp_coefficients(kernel, which, inputs):
    act = getattr(kernel, "activation", None)
    sine = getattr(kernel, "sine", None)
    if sine is not None:
        act = "sine"
    elif act not in SERIES_ACTIVATIONS:
        raise ValueError(
            f"Expected a Kernel with an activation in {list(SERIES_ACTIVATIONS)} or a sine; "
            f"got {act!r}."
        )
    x, xm, x_rel = inputs
    n = x.shape[0]
    sw, sb, sw0 = (_LD(v) for v in (kernel.weight_var, kernel.bias_var, kernel.first_layer_var))
    beta2 = _LD(getattr(kernel, "trained_bias", 0.0))
    qs = _variances(act, len(kernel.variances) - 1, sw, sb, sw0, sine)
    sigma = sw0 * np.asarray(x, dtype=_LD)
    sigma[0] += sb
    a0 = sw0 * _LD(xm) / qs[0]  # 1 − ρ(0)
    b0 = 2 - a0
    theta = sigma.copy()
    theta[0] += beta2
    depth = len(qs) - 1
    for layer, (q, q_new) in enumerate(zip(qs[:-1], qs[1:], strict=True)):
        sigma, sigma_dot, a0 = dual_series(act, sine, sw, sb, q, q_new, sigma / q, a0, b0)
        b0 = 2 - a0
        theta = _conv(theta, sigma_dot, n) + sigma
        if beta2 and layer < depth - 1:
            theta[0] += beta2
    coeffs = np.maximum(theta if which == "ntk" else sigma, 0)  # exact zeros stay zeros
    rel = (16.0 * (depth + 1) * (n + 8) + 8.0 * depth * n) * _U_LD + (depth + 1) * n * x_rel
    params = (act, sine, qs, sw, sb, sw0, beta2, which == "ntk")
    return coeffs, rel, params


def dual_series(act: str, sine, sw, sb, q, q_new, rho: np.ndarray, a0, b0):
    """One hidden layer on power series: ``(Σ', Σ̇', 1 − ρ'(0))`` from the series of ρ.

    ``Σ' = σ_w² E[φ(u)φ(v)] + σ_b²`` and ``Σ̇' = σ_w² E[φ'(u)φ'(v)]`` at input variance q,
    correlation ρ (nonnegative coefficients, ``a0 = 1 − ρ(0)``, ``b0 = 1 + ρ(0)``); the
    output correlation is ``Σ'/q_new``. ``act`` is ``"relu"``, ``"identity"``, ``"erf"`` or
    ``"sine"`` (then ``sine = (a, b, c)``). Longdouble, nonnegative recurrences only.
    """
    n = rho.shape[0]
    if act == "relu":
        k0, k1, omk1 = _relu_layer(rho, a0, b0, n)
        sigma, sigma_dot = (sw * q / 2) * k1, (sw / 2) * k0
        sigma[0] += sb
        return sigma, sigma_dot, (sw * q / 2) * omk1 / q_new
    if act == "identity":
        sigma, sigma_dot = sw * q * rho, np.zeros(n, dtype=_LD)
        sigma[0] += sb
        sigma_dot[0] = sw
        return sigma, sigma_dot, sw * q * a0 / q_new
    if act == "sine":
        e, ed, minus = _sine_layer(sine, q, rho, a0, b0, n)
        sigma, sigma_dot = sw * e, sw * ed
        sigma[0] += sb
        return sigma, sigma_dot, sw * minus / q_new
    # erf: Σ = σ_w (2/π) arcsin(g) + σ_b², g = 2qρ/(1 + 2q)
    c = 1 + 2 * q
    g = 2 * q * rho / c
    s = _inverse_sqrt(g, (1 + 2 * q * a0) * (1 + 2 * q * b0) / (c * c))
    pi = np.arccos(_LD(-1))
    arcsin = _integrate(np.arcsin(g[0]), _conv(_deriv(g), s, n - 1))
    sigma, sigma_dot = sw * (2 / pi) * arcsin, sw * (4 / pi) / c * s
    sigma[0] += sb
    return sigma, sigma_dot, (q_new - sigma[0]) / q_new


def resnet_series(kernel, which: str, inputs) -> tuple[np.ndarray, float]:
    """Nonnegative Taylor coefficients of a residual-MLP kernel (``ntkspec.architectures``).

    The recursion of :class:`~ntkspec.architectures.ResNetKernel` on power series: ``K_l =
    K_{l−1} + α² E_l`` and ``B_{l−1} = B_l (1 + α² Ė_l)`` are sums and products of
    nonnegative series, ``E_l, Ė_l`` the branch duals (:func:`dual_series`) at ρ = K/D.

    Args:
      kernel: a ``ResNetKernel`` whose branch activation is in ``SERIES_ACTIVATIONS`` or a sine.
      which: ``"ntk"`` or ``"nngp"``.
      inputs: the first layer's input series, as for :func:`mlp_series`.

    Returns:
      ``(coefficients, rel_error)``, longdouble, all >= 0.
    """
    branch = kernel.branch
    act = "sine" if branch.sine is not None else branch.activation
    if act not in (*SERIES_ACTIVATIONS, "sine"):
        raise ValueError(
            f"Expected a branch activation in {list(SERIES_ACTIVATIONS)} or a sine; got {act!r}."
        )
    x, xm, x_rel = inputs
    n = x.shape[0]
    sw, al2, s0 = _LD(branch.weight_var), _LD(kernel.alpha) ** 2, _LD(kernel.first_layer_var)
    K, D = s0 * np.asarray(x, dtype=_LD), s0
    a0 = _LD(xm)
    Ks, Es, Eds = [K], [], []
    for _ in range(kernel.depth):
        q_br = _variances(act, 1, sw, _LD(0), D, branch.sine)[1]
        e, ed, am = dual_series(act, branch.sine, sw, _LD(0), D, q_br, K / D, a0, 2 - a0)
        d_new = D + al2 * q_br
        a0 = (D * a0 + al2 * q_br * am) / d_new
        K, D = K + al2 * e, d_new
        Ks.append(K)
        Es.append(e)
        Eds.append(ed)
    if which == "nngp":
        coeffs = K
    else:
        coeffs, B = K.copy(), np.zeros(n, dtype=_LD)
        B[0] = 1
        for l in range(kernel.depth, 0, -1):
            branch_terms = Es[l - 1] + _conv(Eds[l - 1], Ks[l - 1], n)
            coeffs = coeffs + al2 * _conv(B, branch_terms, n)
            B = B + al2 * _conv(B, Eds[l - 1], n)
        coeffs = coeffs + _conv(B, Ks[0], n)
    depth = 2 * kernel.depth + 1
    rel = (16.0 * (depth + 1) * (n + 8) + 8.0 * depth * n) * _U_LD + (depth + 1) * n * x_rel
    return np.maximum(coeffs, 0), rel


def _cauchy_tail(params, order: int) -> float:
    """``min_r κ(r) r^{-(N+1)}/(1 - 1/r)`` over r ∈ {2, 1.5, 1.25, …} where κ is analytic.

    a_n >= 0 gives ``a_n rⁿ <= Σ_m a_m r^m = κ(r)``. By Pringsheim's theorem the radius of
    convergence is a singularity on the positive axis, so where the closed-form layer maps are
    analytic along [0, r], κ(r) is the series' sum. ``inf`` if no r qualifies.
    """
    best = np.inf
    for j in range(6):
        r = 1 + _LD(2.0) ** -j
        with np.errstate(over="ignore", invalid="ignore"):  # overflow: r does not qualify
            value = _kernel_at(params, r)
        if value is not None and np.isfinite(value):
            bound = value * (1 + 1e-12) * r ** -(order + 1) / (1 - 1 / r)
            best = min(best, float(bound))
    return best


def _kernel_at(params, r):
    """The NNGP or NTK at a real t = r > 1 by the layer maps, or None outside their domain."""
    act, sine, qs, sw, sb, sw0, beta2, ntk = params
    sigma = sw0 * r + sb
    theta = sigma + beta2
    pi = np.arccos(_LD(-1))
    for layer, q in enumerate(qs[:-1]):
        rho = sigma / q
        if act == "erf":
            c = 1 + 2 * q
            if 2 * q * rho >= c:
                return None
            e = 2 / pi * np.arcsin(2 * q * rho / c)
            ed = 4 / pi / np.sqrt(c * c - 4 * q * q * rho * rho)
        elif act == "identity":
            e, ed = q * rho, _LD(1)
        else:
            a2, b2, s2, c2 = _sine_constants(sine)
            big = b2 * q
            ch = (np.exp(big * (rho - 1)) + np.exp(-big * (rho + 1))) / 2
            sh = (np.exp(big * (rho - 1)) - np.exp(-big * (rho + 1))) / 2
            e, ed = a2 * (s2 * ch + c2 * sh), a2 * b2 * (c2 * ch + s2 * sh)
        sigma = sw * e + sb
        theta = theta * sw * ed + sigma
        if beta2 and layer < len(qs) - 2:
            theta = theta + beta2
    return theta if ntk else sigma


def _sine_constants(sine):
    """(a², b², sin²c, cos²c) in extended precision; c = 0 and π/2 exactly sin and cos."""
    a, b, c = sine
    if c == 0.0:
        s2, c2 = _LD(0), _LD(1)
    elif c == math.pi / 2:
        s2, c2 = _LD(1), _LD(0)
    else:
        s2, c2 = np.sin(_LD(c)) ** 2, np.cos(_LD(c)) ** 2
    return _LD(a) ** 2, _LD(b) ** 2, s2, c2


def _sine_layer(sine, q, rho, a0, b0, n):
    """Series of E[φφ], E[φ'φ'] for φ = a sin(b u + c), and E[φ²] − E[φφ] at t = 0.

    With B = b²q, Ĉ = e^{-B} cosh(Bρ), Ŝ = e^{-B} sinh(Bρ): E[φφ] = a²(sin²c Ĉ + cos²c Ŝ),
    E[φ'φ'] = a²b²(cos²c Ĉ + sin²c Ŝ), and Ĉ' = Bρ'Ŝ, Ŝ' = Bρ'Ĉ (nonnegative recurrences);
    Ĉ(0) ± Ŝ(0) = e^{-B(1∓ρ(0))}.
    """
    a2, b2, s2, c2 = _sine_constants(sine)
    big = b2 * q
    ea, eb = np.exp(-big * _LD(a0)), np.exp(-big * _LD(b0))
    bdr = big * _deriv(rho)
    ch = np.zeros(n, dtype=_LD)
    sh = np.zeros(n, dtype=_LD)
    ch[0], sh[0] = (ea + eb) / 2, -ea * np.expm1(-2 * big * (1 - _LD(a0))) / 2
    for m in range(n - 1):
        ch[m + 1] = np.dot(bdr[: m + 1], sh[m::-1]) / (m + 1)
        sh[m + 1] = np.dot(bdr[: m + 1], ch[m::-1]) / (m + 1)
    e, ed = a2 * (s2 * ch + c2 * sh), a2 * b2 * (c2 * ch + s2 * sh)
    minus = a2 / 2 * -np.expm1(-big * _LD(a0)) * (-np.expm1(-big * _LD(b0)) + 2 * c2 * eb)
    return e, ed, minus


def _variances(act: str, depth: int, sw, sb, sw0, sine=None) -> list:
    """q_0..q_L in extended precision (the float64 ``Kernel.variances`` are off by ~ε, and the
    n-th coefficient is ~n times as sensitive to them)."""
    qs = [sw0 + sb]
    for _ in range(depth):
        q = qs[-1]
        if act == "relu":
            second = q / 2
        elif act == "identity":
            second = q
        elif act == "sine":
            a2, b2, s2, _ = _sine_constants(sine)
            big = 2 * b2 * q
            second = a2 / 2 * (-np.expm1(-big) + 2 * s2 * np.exp(-big))
        else:
            second = 2 / np.arccos(_LD(-1)) * np.arcsin(2 * q / (1 + 2 * q))
        qs.append(sw * second + sb)
    return qs


def series_tails(kernel, which, coeffs, rel, depth) -> np.ndarray:
    """``κ^±(1) − Σ_{n<=N, n≡±} a_n`` (even, odd) plus a rounding margin, clipped at 0.

    ``kernel`` is any zonal kernel (``kappa_one`` and ``evaluate`` give κ(±1)); ``depth``
    scales the margin for the rounding of κ(±1) (a few ulps per layer).
    """
    plus = kernel.kappa_one(which)
    minus = _kappa_minus_one(kernel, which)
    total = [float(np.sum(coeffs[0::2])), float(np.sum(coeffs[1::2]))]
    margin = 32.0 * (depth + 1) * _EPS * (abs(plus) + abs(minus)) + rel * sum(total)
    parts = [0.5 * (plus + minus), 0.5 * (plus - minus)]
    return np.array([max(p - s, 0.0) + margin for p, s in zip(parts, total, strict=True)])


def _kappa_minus_one(kernel, which) -> float:
    import jax.numpy as jnp

    from ntkspec import _compat

    with _compat.enable_x64():
        one = [jnp.full((), v, jnp.float64) for v in (-1.0, 2.0, 0.0)]
        nngp, ntk = kernel.evaluate(*one)
        return float(ntk if which == "ntk" else nngp)


# ----------------------------------------------------------------------------- transforms
def monomial_eigenvalue(k, n, d: int) -> np.ndarray:
    """``λ_k(tⁿ)`` on S^{d-1} (normalized measure), 0 unless n >= k and n ≡ k (mod 2).

    Evaluated in log space with ``gammaln`` (relative error ~1e-13; for reference and
    bounds — :func:`monomial_table` is the exact-to-rounding version).

    >>> round(float(monomial_eigenvalue(2, 2, 3)) * 15, 12)  # t² on S²: λ_2 = 2/15
    2.0
    """
    k, n = np.broadcast_arrays(np.asarray(k, np.float64), np.asarray(n, np.float64))
    ok = (n >= k) & ((n - k) % 2 == 0)
    nn, kk = np.where(ok, n, 0.0), np.where(ok, k, 0.0)
    log = (
        gammaln(nn + 1)
        - gammaln(nn - kk + 1)
        + gammaln(d / 2)
        + gammaln((nn - kk + 1) / 2)
        - 0.5 * np.log(np.pi)
        - kk * np.log(2.0)
        - gammaln((nn + kk + d) / 2)
    )
    return np.where(ok, np.exp(log), 0.0)


def monomial_table(kmax: int, nmax: int, d: int) -> np.ndarray:
    """``M[k, m] = λ_k(t^{k+2m})`` for k <= kmax, k + 2m <= nmax (else 0), ``np.longdouble``.

    ``λ_k(t^k) = Π_{j<k} (j+1)/(2j+d)`` and the ratio recurrence in n; every factor is
    positive, so each entry has relative error below ``(k + m + 2) u`` (u the longdouble
    unit roundoff).
    """
    k = np.arange(kmax + 1, dtype=_LD)
    first = np.concatenate([[_LD(1)], np.cumprod((k[:-1] + 1) / (2 * k[:-1] + d))])
    steps = nmax // 2 + 1
    m = np.arange(1, steps, dtype=_LD)
    n = k[:, None] + 2 * (m[None, :] - 1)  # n before each step
    ratio = (n + 2) * (n + 1) / ((n + 2 - k[:, None]) * (n + k[:, None] + d))
    table = np.concatenate([first[:, None], first[:, None] * np.cumprod(ratio, axis=1)], axis=1)
    valid = k[:, None] + 2 * np.arange(steps)[None, :] <= nmax
    return np.where(valid, table, _LD(0))


def monomial_sup(kmax: int, nmax: int, d: int) -> np.ndarray:
    """``sup_{n > nmax, n ≡ k, n >= k} λ_k(tⁿ)`` for k = 0..kmax (float64, rounded up).

    The sequence in n rises while ``n < n* = ((k-2)(k+d) + 2)/(d-1)`` and falls after
    (module docstring), so the supremum is at the first admissible n past ``max(nmax, n*)``
    (d = 2 included: there n* = k² − 2).
    """
    k = np.arange(kmax + 1, dtype=np.float64)
    first = np.maximum(k, nmax + 1 + ((nmax + 1 - k) % 2))  # first n > nmax with n ≡ k
    star = ((k - 2) * (k + d) + 2) / (d - 1)
    cand = [first]
    peak = np.ceil(np.maximum(star, 0.0))
    peak = peak + (peak - k) % 2  # admissible n at or just above n*
    for off in (-2.0, 0.0, 2.0):
        cand.append(np.maximum(first, peak + off))
    vals = np.max([monomial_eigenvalue(k, c, d) for c in cand], axis=0)
    return vals * (1 + 1e-10)


def series_eigenvalues(series: TaylorSeries, d: int, kmax: int) -> tuple[np.ndarray, ...]:
    """λ_0..λ_kmax from Taylor coefficients, with a bound on each value's error.

    Returns:
      ``(lam, err)`` float64: ``lam_k = Σ_{n<=N} a_n λ_k(tⁿ)`` and
      ``err_k = lam_k (r_a + (2N + 4) u + ε) + T_N^{(k mod 2)} sup_{n>N, n≡k} λ_k(tⁿ)``
      (at least the smallest subnormal).
    """
    a = series.coefficients
    nmax = a.shape[0] - 1
    table = monomial_table(kmax, nmax, d)
    lam = np.zeros(kmax + 1, dtype=_LD)
    for k in range(min(kmax, nmax) + 1):
        coef = a[k::2]
        lam[k] = np.dot(coef, table[k, : coef.shape[0]])
    lam64 = lam.astype(np.float64)
    rel = series.rel_error + (2 * nmax + 4) * _U_LD + _EPS
    tail = series.tail[np.arange(kmax + 1) % 2] * monomial_sup(kmax, nmax, d)
    # Never 0: a bound that underflowed is at most the smallest subnormal.
    tiny = np.finfo(np.float64).smallest_subnormal
    return lam64, np.maximum(lam64 * rel + tail, tiny)
