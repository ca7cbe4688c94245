"""Geometry of the unit sphere S^{d-1} ⊂ R^d: points, Gegenbauer polynomials, multiplicities,
and the energy of a sampled function in each spherical-harmonic degree.

Conventions (docs/theory.md §1): the measure σ is the *normalized* uniform measure, σ(S^{d-1}) = 1;
``P_k = P_k^{(d)}`` is the Gegenbauer polynomial normalized so that ``P_k(1) = 1``; ``N(d, k)``
is the dimension of the space of degree-k spherical harmonics. The addition theorem
``Σ_j Y_kj(x) Y_kj(x') = N(d, k) P_k(<x, x'>)`` turns projections onto degree k into zonal sums,
so no harmonic basis is ever built.

Everything spectral here is float64 NumPy, whatever the global JAX x64 flag is.
"""

from __future__ import annotations

import contextlib
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from scipy.special import gammaln

from ntkspec import _compat
from ntkspec._validate import (
    as_real_array,
    check_float_dtype,
    check_int,
    check_key,
    check_points,
    check_real,
    check_weights,
)
from ntkspec.limits import MAX_DEGREE, MAX_HARMONIC_TERMS, MAX_MULTIPLICITY_DIGITS

__all__ = [
    "sample_sphere",
    "equispaced_circle",
    "gegenbauer",
    "gegenbauer_matrices",
    "multiplicity",
    "degree_energy",
    "random_harmonic",
    "check_points",
    "circle_points",
    "is_equispaced_circle",
]


def sample_sphere(key: jax.Array, n: int, d: int, *, dtype=None) -> jax.Array:
    """Draw ``n`` points uniformly (w.r.t. σ) on S^{d-1}.

    Args:
      key: a JAX PRNG key. Same key, same points.
      n: number of points (>= 1).
      d: ambient dimension (>= 2); the points lie on S^{d-1} ⊂ R^d.
      dtype: floating dtype of the result (default: JAX's default float; float64 is honoured
        even with JAX's x64 flag off, by enabling x64 for the draw). For dtypes below
        float32 (float16, bfloat16) the points are drawn and normalized in float32, then
        rounded: their norms are 1 within the dtype's roundoff, which every ntkspec function
        accepts for that dtype (:func:`ntkspec._validate.norm_tolerance`).

    Returns:
      Array of shape ``(n, d)`` with unit rows (normalized Gaussians).

    >>> X = sample_sphere(jax.random.key(0), 5, 3)
    >>> bool(jnp.allclose(jnp.linalg.norm(X, axis=1), 1.0, atol=1e-6))
    True
    """
    check_key(key)
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    dtype = _float_dtype(dtype)
    low = jnp.finfo(dtype).bits < 32  # float16/bfloat16: normalize in float32, then round
    # A 64-bit dtype is honoured whatever the global x64 flag (JAX would otherwise warn and
    # truncate to float32): x64 is enabled for this draw only.
    wide = jnp.finfo(dtype).bits > 32
    with _compat.random_streams(), _compat.enable_x64() if wide else contextlib.nullcontext():
        z = jax.random.normal(key, (n, d), dtype=jnp.float32 if low else dtype)
        return (z / jnp.linalg.norm(z, axis=1, keepdims=True)).astype(dtype)


def _float_dtype(dtype):
    """The default float dtype for ``None``, else ``dtype`` if it is a floating dtype."""
    if dtype is None:
        return jnp.result_type(float)
    check_float_dtype(dtype)
    return dtype


def equispaced_circle(n: int, *, offset: float = 0.0, dtype=None) -> jax.Array:
    """``n`` equispaced points on S^1: ``(cos θ_i, sin θ_i)``, ``θ_i = offset + 2π i / n``.

    On these points every rotation-invariant Gram matrix is circulant and the DFT
    diagonalizes it exactly (docs/theory.md §3.2); :func:`degree_energy` then uses the exact DFT
    path.
    """
    n = check_int("n", n, minimum=1)
    offset = check_real("offset", offset)
    dtype = _float_dtype(dtype)
    return jnp.asarray(circle_points(n, offset), dtype=dtype)


def circle_points(n: int, offset: float = 0.0) -> np.ndarray:
    """The points of :func:`equispaced_circle` as a float64 NumPy array (any x64 setting).

    >>> circle_points(4).round(12).tolist()
    [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [-0.0, -1.0]]
    """
    theta = offset + 2.0 * np.pi * np.arange(n) / n
    return np.stack([np.cos(theta), np.sin(theta)], axis=1)


def gegenbauer(kmax: int, d: int, t: ArrayLike) -> np.ndarray:
    """Normalized Gegenbauer (Legendre in d dimensions) polynomials P_0..P_kmax at ``t``.

    ``P_k^{(d)}(t) = C_k^{((d-2)/2)}(t) / C_k^{((d-2)/2)}(1)``, so ``P_k(1) = 1``; d = 3 gives the
    Legendre polynomials, d = 2 the Chebyshev polynomials ``T_k`` (``P_k(cos θ) = cos kθ``).
    Computed in float64 by the stable three-term recurrence
    ``(k+d-2) P_{k+1} = (2k+d-2) t P_k - k P_{k-1}``.

    Args:
      kmax: highest degree (0 <= kmax <= 100000).
      d: ambient dimension (>= 2).
      t: array of any shape with finite values in [-1, 1] (up to rounding: 1e-6).

    Returns:
      float64 array of shape ``(kmax + 1, *t.shape)``.

    Orthogonality under ``c_d (1-t²)^{(d-3)/2} dt`` is ``δ_jk / N(d, k)``; e.g. for d = 3
    (c_3 = 1/2), ``∫ P_2² dt / 2 = 1/5``:

    >>> from scipy.special import roots_legendre
    >>> x, w = roots_legendre(8)
    >>> P = gegenbauer(2, 3, x)
    >>> round(float(0.5 * np.sum(w * P[2] ** 2)), 12)
    0.2
    """
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    d = check_int("d", d, minimum=2)
    t = as_real_array("t", t)
    bad = ~(np.abs(t) <= 1.0 + 1e-6)  # NaN included
    if bad.any():
        raise ValueError(
            f"Expected t (inner products of unit vectors) finite and in [-1, 1]; got "
            f"{float(t[bad].ravel()[0])!r}. Clip t to [-1, 1]."
        )
    out = np.empty((kmax + 1, *t.shape), dtype=np.float64)
    out[0] = 1.0
    if kmax >= 1:
        out[1] = t
    for k in range(1, kmax):
        out[k + 1] = ((2 * k + d - 2) * t * out[k] - k * out[k - 1]) / (k + d - 2)
    return out


def multiplicity(d: int, k, *, log: bool = False):
    """Dimension ``N(d, k)`` of the degree-k spherical harmonics on S^{d-1}.

    ``N(d, 0) = 1`` and ``N(d, k) = (2k + d - 2)/k · C(k + d - 3, d - 2)``: d = 2 gives 1, 2, 2, …;
    d = 3 gives 2k + 1; d = 4 gives (k + 1)².

    Args:
      d: ambient dimension (>= 2).
      k: a degree (int >= 0) or an array of degrees.
      log: return ``log N(d, k)`` (float64) instead; never overflows.

    Returns:
      For an int ``k``: the exact Python ``int`` (arbitrary size), or its log as a float.
      For an array ``k``: a float64 array (exact below 2**53; ``inf`` where it overflows float64,
      so use ``log=True`` for d or k in the thousands).

    >>> [multiplicity(3, k) for k in range(4)], multiplicity(4, 9)
    ([1, 3, 5, 7], 100)
    """
    d = check_int("d", d, minimum=2)
    if np.ndim(k) == 0:
        k = check_int("k", k, minimum=0)
        logn = float(_log_multiplicity(d, np.array([k]))[0])
        if log:
            return logn
        if logn / np.log(10.0) > MAX_MULTIPLICITY_DIGITS:
            raise ValueError(
                f"Expected N(d, k) with at most {MAX_MULTIPLICITY_DIGITS} digits as an exact "
                f"integer; N({d}, {k}) has about {logn / np.log(10.0):.3g}. Pass log=True for "
                "log N(d, k)."
            )
        return _exact_multiplicity(d, k)
    karr = np.asarray(k)
    if not np.issubdtype(karr.dtype, np.integer) or (karr < 0).any():
        raise ValueError(f"Expected non-negative integer degrees k; got {k!r}.")
    logn = _log_multiplicity(d, karr.astype(np.int64))
    if log:
        return logn
    # Exact integers where they fit, float64 (possibly inf) beyond.
    out = np.empty(karr.shape, dtype=np.float64)
    flat_k, flat_out = karr.ravel(), out.ravel()
    for i, (kk, ln) in enumerate(zip(flat_k.tolist(), logn.ravel().tolist(), strict=True)):
        flat_out[i] = float(_exact_multiplicity(d, kk)) if ln < 700.0 else np.inf
    return flat_out.reshape(karr.shape)


def _exact_multiplicity(d: int, k: int) -> int:
    """N(d, k) as an exact Python int (d >= 2, k >= 0 already checked)."""
    if k == 0:
        return 1
    if d == 2:
        return 2
    return (2 * k + d - 2) * math.comb(k + d - 3, d - 2) // k


def _log_multiplicity(d: int, k: np.ndarray) -> np.ndarray:
    k = np.asarray(k, dtype=np.float64)
    if d == 2:
        return np.where(k == 0, 0.0, np.log(2.0))
    kk = np.maximum(k, 1.0)
    val = np.log(2 * kk + d - 2) - np.log(kk) + gammaln(kk + d - 2) - gammaln(d - 1.0) - gammaln(kk)
    return np.where(k == 0, 0.0, val)


def is_equispaced_circle(X: np.ndarray) -> bool:
    """Whether the rows of ``X`` (n, 2), n >= 3, are equispaced on S^1 in either orientation.

    On such points :func:`degree_energy` and the Sobolev matrices use the exact DFT.
    """
    n = X.shape[0]
    if X.shape[1] != 2 or n < 3:
        return False
    theta = np.arctan2(X[:, 1], X[:, 0])
    step = np.angle(np.exp(1j * np.diff(theta)))
    target = 2.0 * np.pi / n
    return bool(np.all(np.abs(step - target) < 1e-6) or np.all(np.abs(step + target) < 1e-6))


def degree_energy(
    X: ArrayLike, values: ArrayLike, kmax: int, *, weights: ArrayLike | None = None
) -> np.ndarray:
    """Energy ``‖Π_k f‖²_{L²(σ)}`` of a sampled function in each degree ``k = 0..kmax``.

    Uses the addition theorem (docs/theory.md §1.3):
    ``(Π_k f)(x) = N(d,k) ∫ P_k(<x,y>) f(y) dσ(y)``, so

        E_k = N(d, k) Σ_ij c_i c_j f(x_i) f(x_j) P_k(<x_i, x_j>),

    with quadrature weights ``c`` (default ``c_i = 1/n`` for uniform samples; any weights with
    ``Σ c_i g(x_i) ≈ ∫ g dσ`` for nonuniform ones). For uniform samples ``Σ_k E_k ≈ mean(f²)``
    up to Monte-Carlo error. On equispaced points of S^1 (d = 2, see :func:`equispaced_circle`)
    with default weights the exact DFT is used instead: ``E_0 = |F_0|²/n²``,
    ``E_k = 2|F_k|²/n²`` for ``0 < k < n/2``, ``E_{n/2} = |F_{n/2}|²/n²``, and 0 above the
    Nyquist degree, so ``Σ_k E_k = mean(f²)`` exactly (Parseval).

    Args:
      X: points of shape ``(n, d)`` on the unit sphere.
      values: function values, shape ``(n,)`` or ``(n, m...)`` (several functions at once).
      kmax: highest degree (0 <= kmax <= 100000).
      weights: optional quadrature weights of shape ``(n,)``.

    Returns:
      float64 array of shape ``values.shape[1:] + (kmax + 1,)``.
    """
    Xn = check_points(X)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    n, d = Xn.shape
    F = as_real_array("values", values)
    if F.ndim < 1 or F.shape[0] != n:
        raise ValueError(
            f"Expected values of shape (n, ...) with n = {n} (one value per point); "
            f"got shape {F.shape}."
        )
    if not np.isfinite(F).all():
        raise ValueError("Expected finite values; got NaN or inf.")
    trailing = F.shape[1:]
    # Energies are quadratic: for huge (or tiny) values compute them for F / s (s = max |F|)
    # and scale back by s², so the sums neither overflow nor underflow; refuse if E overflows.
    peak = float(np.max(np.abs(F))) if F.size else 0.0
    scale = peak if not 1e-100 < peak < 1e100 and peak > 0 else 0.0
    F = F.reshape(n, -1) / (scale if scale > 0 else 1.0)
    if weights is None and d == 2 and is_equispaced_circle(Xn):
        E = _dft_energy(F, kmax)
    else:
        c = check_weights(weights, n)
        G = np.clip(Xn @ Xn.T, -1.0, 1.0)
        E = _zonal_energy(G, c[:, None] * F, d, kmax)
    if scale > 0:
        with np.errstate(over="ignore"):
            E = E * scale**2 if scale < 1e150 else E * scale * scale
        if not np.isfinite(E).all():
            raise ValueError(
                f"Expected values whose squared norms fit in float64; got |values| up to "
                f"{scale:.3g}, whose energies overflow (> {np.finfo(np.float64).max:.3g}). "
                "Rescale the values (e.g. divide by their maximum)."
            )
    return E.reshape(*trailing, kmax + 1)


def gegenbauer_matrices(G: np.ndarray, d: int, kmax: int):
    """Yield ``(k, P_k(G))`` for k = 0..kmax, elementwise on a matrix of inner products.

    The three-term recurrence keeps two buffers, so memory stays O(size of G) whatever kmax;
    each yielded matrix is only valid until the next step.
    """
    p_prev, p = None, np.ones_like(G)
    for k in range(kmax + 1):
        if k == 1:
            p_prev, p = p, G.copy()
        elif k > 1:
            p_prev, p = p, ((2 * k + d - 4) * G * p - (k - 1) * p_prev) / (k + d - 3)
        yield k, p


def _zonal_energy(G: np.ndarray, cF: np.ndarray, d: int, kmax: int) -> np.ndarray:
    """E[m, k] = N(d,k) · cF[:, m]ᵀ P_k(G) cF[:, m]."""
    N = multiplicity(d, np.arange(kmax + 1))
    out = np.empty((cF.shape[1], kmax + 1))
    for k, p in gegenbauer_matrices(G, d, kmax):
        out[:, k] = N[k] * np.einsum("im,im->m", cF, p @ cF)
    return out


def _dft_energy(F: np.ndarray, kmax: int) -> np.ndarray:
    n = F.shape[0]
    power = np.abs(np.fft.rfft(F, axis=0)) ** 2 / n**2  # (n//2 + 1, m)
    factor = np.full(power.shape[0], 2.0)
    factor[0] = 1.0
    if n % 2 == 0:
        factor[-1] = 1.0
    energy = (factor[:, None] * power).T
    out = np.zeros((F.shape[1], kmax + 1))
    m = min(kmax + 1, energy.shape[1])
    out[:, :m] = energy[:, :m]
    return out


def random_harmonic(
    key: jax.Array, X: ArrayLike, k: int, *, terms: int | None = None
) -> np.ndarray:
    """Values at ``X`` of a random spherical harmonic of degree ``k`` with unit L²(σ) norm.

    The harmonic is ``h(x) = Σ_j a_j P_k(<x, z_j>)`` with random directions ``z_j`` on the
    sphere and Gaussian ``a_j`` (each zonal ``P_k(<·, z>)`` lies in the degree-k space), scaled
    so that ``‖h‖² = Σ_ij a_i a_j P_k(<z_i, z_j>) / N(d, k) = 1`` exactly.

    Args:
      key: JAX PRNG key.
      X: points ``(n, d)`` on the sphere.
      k: degree (0 <= k <= 100000).
      terms: number of zonal terms (1 <= terms <= 4096; default ``min(N(d, k), 64)``).

    Returns:
      float64 array of shape ``(n,)``.
    """
    check_key(key)
    Xn = check_points(X)
    k = check_int("k", k, minimum=0, maximum=MAX_DEGREE)
    d = Xn.shape[1]
    logn = multiplicity(d, k, log=True)
    nk = multiplicity(d, k) if logn < 700.0 else np.inf  # exact where it fits in a float
    if terms is None:
        terms = int(min(nk, 64))
    else:
        terms = check_int("terms", terms, minimum=1, maximum=MAX_HARMONIC_TERMS)
    with _compat.random_streams():
        kz, ka = jax.random.split(key)
        a = np.asarray(jax.random.normal(ka, (terms,), dtype=jnp.float32), dtype=np.float64)
    Z = np.asarray(sample_sphere(kz, terms, d, dtype=jnp.float32), dtype=np.float64)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    gram = _gegenbauer_k(k, d, np.clip(Z @ Z.T, -1.0, 1.0))
    norm2 = float(a @ gram @ a) / nk
    if norm2 <= 0.0:  # pragma: no cover - a measure-zero event
        raise ValueError("Degenerate random harmonic; use another key.")
    vals = _gegenbauer_k(k, d, np.clip(Xn @ Z.T, -1.0, 1.0)) @ a
    return vals / np.sqrt(norm2)


def _gegenbauer_k(k: int, d: int, G: np.ndarray) -> np.ndarray:
    """P_k(G) alone, in O(size of G) memory whatever k (same recurrence as gegenbauer)."""
    for j, p in gegenbauer_matrices(G, d, k):
        if j == k:
            return p.copy()
    raise AssertionError("unreachable")  # pragma: no cover
