"""Infinite-width kernels (NNGP and NTK) of fully connected networks, as zonal functions κ(t).

Convention (DESIGN.md, THEORY.md §2): an MLP with ``depth`` = L hidden layers in NTK
parametrization, inputs on the unit sphere, ``t = <x, x'>``. With weight variance σ_w²,
bias variance σ_b² and first-layer weight variance σ_w0² (no 1/d):

    Σ_0 = Θ_0 = σ_w0² t + σ_b²,          q_0 = σ_w0² + σ_b²   (the diagonal, equal for all x)
    Σ_l = σ_w² E[φ(u)φ(v)] + σ_b²,       Σ̇_l = σ_w² E[φ'(u)φ'(v)],   q_l = σ_w² E[φ(u)²] + σ_b²
    Θ_l = Θ_{l-1} Σ̇_l + Σ_l,             (u, v) ~ N(0, [[q_{l-1}, Σ_{l-1}], [Σ_{l-1}, q_{l-1}]])

NNGP = Σ_L, NTK = Θ_L. The first layer defaults to σ_w0² = 1 (so Σ_0 = t for unit inputs);
ReLU defaults to He scaling σ_w² = 2 in the hidden and readout layers, so that the bias-free
kernels have Σ_l(1) = 1, Σ_l = k1(Σ_{l-1}) and NTK(1) = L + 1; every other activation
defaults to σ_w² = 1. neural-tangents divides the first layer by fan-in, so its kernel on
inputs √d·x equals ours on x.

Numerics. The state carried between layers is the correlation ρ = Σ/q as the *pair*
``(1 - ρ, 1 + ρ)``, each computed without cancellation, so the arc-cosine kernels keep full
relative precision next to t = ±1 even in deep networks and in d = 2. ReLU and erf use closed
forms (Cho & Saul 2009; Williams 1997); any other activation uses 2-D Gauss–Hermite quadrature
of the dual activation and of its derivative kernel. The ReLU duals have a custom JVP: the
derivative of k1 is k0 (finite at ±1); the derivative of k0 is infinite at ρ = ±1 and is
returned there as a huge finite number (≈ 1/√tiny) so that zero tangents stay zero, never NaN.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ntkspec import _compat
from ntkspec._validate import check_choice, check_int, check_points, check_positive

#: Deepest network accepted (the layer recursion is unrolled when traced).
MAX_DEPTH = 100

__all__ = ["Kernel", "mlp_kernel", "ACTIVATIONS", "activation_fn", "relu_k0", "relu_k1"]

_PI = np.pi


def _gelu(x):
    return jax.nn.gelu(x, approximate=False)


# Activations evaluated by Gauss–Hermite quadrature (relu, erf and identity have closed forms).
_QUADRATURE_ACTIVATIONS: dict[str, Callable] = {
    "gelu": _gelu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
    "sin": jnp.sin,
}
ACTIVATIONS = ("relu", "erf", "identity", *_QUADRATURE_ACTIVATIONS)


def _identity(x):
    return x


# Activations with closed-form duals (no quadrature) and their elementwise functions.
_CLOSED_FORM_ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "erf": jax.scipy.special.erf,
    "identity": _identity,
}


def activation_fn(activation: str | Callable) -> Callable:
    """The elementwise JAX function behind an activation accepted by :func:`mlp_kernel`.

    ``activation`` is a name in ``ACTIVATIONS`` or an elementwise differentiable JAX callable
    (checked and returned as is). Finite-width models (``ntkspec.models.mlp``) use this so that
    their activation is exactly the one the infinite-width kernel assumes.

    >>> float(activation_fn("relu")(-1.0)), float(activation_fn("identity")(2.0))
    (0.0, 2.0)
    """
    if callable(activation):
        _check_activation(activation)
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return _CLOSED_FORM_ACTIVATIONS.get(activation) or _QUADRATURE_ACTIVATIONS[activation]
    raise ValueError(
        f"Expected activation to be one of {list(ACTIVATIONS)} or a JAX callable; "
        f"got {activation!r}."
    )


def _clamp(x, lo, hi):
    """Clamp to [lo, hi] with derivative 1 at the boundary (``jnp.clip`` halves it at ties)."""
    return jnp.where(x < lo, lo, jnp.where(x > hi, hi, x))


# ----------------------------------------------------------------------------- ReLU duals
def _h(x):
    """h(x) = sin x - x cos x for x in [0, π], with a series below 1 (no cancellation)."""
    x2 = x * x
    # Σ_{m>=1} (-1)^{m+1} 2m x^{2m+1} / (2m+1)!, Horner in x², 10 terms: error < 1e-19 for x < 1.
    coeffs = [
        (-1) ** (m + 1) * 2 * m / float(np.prod(np.arange(1, 2 * m + 2))) for m in range(1, 11)
    ]
    series = jnp.zeros_like(x)
    for c in reversed(coeffs):
        series = series * x2 + c
    series = series * x2 * x
    xs = jnp.where(x < 1.0, 1.0, x)  # keep the unused branch finite
    direct = jnp.sin(xs) - xs * jnp.cos(xs)
    return jnp.where(x < 1.0, series, direct)


def _relu_duals_impl(a, b):
    """(k0, k1, 1 - k1) of ρ given a = 1 - ρ and b = 1 + ρ (both >= 0)."""
    sa, sb = jnp.sqrt(a), jnp.sqrt(b)
    theta = 2.0 * jnp.arctan2(sa, sb)  # arccos ρ, accurate near ρ = 1
    phi = 2.0 * jnp.arctan2(sb, sa)  # π - arccos ρ, accurate near ρ = -1
    k0 = phi / _PI
    k1 = _h(phi) / _PI
    one_minus_k1 = (_PI * a - _h(theta)) / _PI
    return k0, k1, one_minus_k1


@jax.custom_jvp
def _relu_duals(a, b):
    return _relu_duals_impl(a, b)


@_relu_duals.defjvp
def _relu_duals_jvp(primals, tangents):
    a, b = primals
    da, db = tangents
    k0, k1, omk1 = _relu_duals_impl(a, b)
    drho = 0.5 * (db - da)
    tiny = jnp.finfo(jnp.result_type(a)).tiny
    dk0 = drho / (_PI * jnp.sqrt(jnp.maximum(a * b, tiny)))
    return (k0, k1, omk1), (dk0, k0 * drho, -k0 * drho)


def relu_k0(rho: ArrayLike) -> jax.Array:
    """Arc-cosine kernel of degree 0: ``k0(ρ) = 1 - arccos(ρ)/π`` (= 2 E[step(u)step(v)])."""
    rho = jnp.asarray(rho, dtype=jnp.result_type(rho, float))
    return _relu_duals(1.0 - rho, 1.0 + rho)[0]


def relu_k1(rho: ArrayLike) -> jax.Array:
    """Arc-cosine kernel of degree 1: ``k1(ρ) = (√(1-ρ²) + ρ(π - arccos ρ))/π``; ``k1' = k0``."""
    rho = jnp.asarray(rho, dtype=jnp.result_type(rho, float))
    return _relu_duals(1.0 - rho, 1.0 + rho)[1]


# ----------------------------------------------------------------------------- the kernel
@dataclasses.dataclass(frozen=True)
class Kernel:
    """Infinite-width NNGP and NTK of an MLP as zonal functions of ``t = <x, x'>``.

    Build it with :func:`mlp_kernel`. All methods are pure and jit-compatible; the result
    dtype follows the input (float32 unless JAX x64 is on or float64 inputs are traced under
    x64).

    Attributes:
      depth: number of hidden layers L (>= 1).
      activation: activation name (see ``ACTIVATIONS``) or ``"custom"``.
      weight_var, bias_var, first_layer_var: σ_w², σ_b², σ_w0².
      quad_order: Gauss–Hermite order per dimension for quadrature activations.
      phi: the activation callable for quadrature activations (``None`` for closed forms).
      variances: the diagonal ``q_0..q_L`` (pre-activation variance of every layer), float64.
    """

    depth: int
    activation: str
    weight_var: float
    bias_var: float
    first_layer_var: float
    quad_order: int = 128
    phi: Callable | None = dataclasses.field(default=None, repr=False)
    variances: tuple[float, ...] = dataclasses.field(default=(), repr=False)

    # ---- public zonal functions
    def nngp(self, t: ArrayLike) -> jax.Array:
        """NNGP ``Σ_L(t)`` for ``t`` of any shape in [-1, 1]."""
        return self(t, "nngp")

    def ntk(self, t: ArrayLike) -> jax.Array:
        """NTK ``Θ_L(t)`` for ``t`` of any shape in [-1, 1]."""
        return self(t, "ntk")

    def __call__(self, t: ArrayLike, which: str = "ntk") -> jax.Array:
        check_choice("which", which, ("ntk", "nngp"))
        _check_t(t)
        t = jnp.asarray(t)
        t = t.astype(jnp.result_type(t, float))
        t = _clamp(t, -1.0, 1.0)
        nngp, ntk = _evaluate(self, t, 1.0 - t, 1.0 + t)
        return ntk if which == "ntk" else nngp

    def evaluate(
        self, t: ArrayLike, one_minus_t: ArrayLike, one_plus_t: ArrayLike
    ) -> tuple[jax.Array, jax.Array]:
        """(NNGP, NTK) given ``t``, ``1 - t`` and ``1 + t`` separately (full precision near ±1).

        The spectrum code passes ``cos θ``, ``2 sin²(θ/2)`` and ``2 cos²(θ/2)`` at quadrature
        angles θ.
        """
        t, a, b = jnp.asarray(t), jnp.asarray(one_minus_t), jnp.asarray(one_plus_t)
        dtype = jnp.result_type(t, a, b, float)
        return _evaluate(self, t.astype(dtype), a.astype(dtype), b.astype(dtype))

    def gram(
        self,
        X: ArrayLike,
        Y: ArrayLike | None = None,
        which: str = "ntk",
        *,
        method: str = "auto",
    ) -> jax.Array:
        """Gram matrix ``κ(<x_i, y_j>)`` of shape ``(n, m)`` for points on S^{d-1}.

        Two evaluations of κ per entry:

        - ``"exact"``: the layer recursion (cancellation-free near t = ±1), a few
          transcendental functions per layer and entry;
        - ``"series"``: κ fitted once, in float64, by a Chebyshev series in
          ``u = √(1 − |t|)`` on each sign of t (κ is analytic in u: the √(1 − t) singularity
          of ReLU kernels is absorbed), truncated where the coefficients fall below 2⁻³⁰·κ(1)
          for float32 results and 2⁻⁴⁸·κ(1) for float64, then summed per entry by Clenshaw's
          recurrence. Its cost does not depend on depth or activation.

        ``"auto"`` (default) uses the series for float32 (and narrower) results, where its
        error is below the rounding of t itself, and for activations done by Gauss–Hermite
        quadrature (whose exact recursion costs ``quad_order²`` activation calls per entry and
        layer, and is itself accurate to ~1e-8–1e-11 only); otherwise (relu, erf, identity in
        float64) the exact recursion.

        Args:
          X: points ``(n, d)`` with unit norm.
          Y: points ``(m, d)`` (default ``X``).
          which: ``"ntk"`` or ``"nngp"``.
          method: ``"auto"``, ``"exact"`` or ``"series"``.
        """
        check_choice("which", which, ("ntk", "nngp"))
        check_choice("method", method, ("auto", "exact", "series"))
        check_points(X, name="X")
        if Y is not None:
            check_points(Y, name="Y", dim=np.shape(X)[1])
        symmetric = Y is None
        X = jnp.asarray(X)
        Y = X if symmetric else jnp.asarray(Y)
        dtype = jnp.result_type(X, Y, float)
        wide = jnp.finfo(dtype).bits > 32
        if method == "auto":
            method = "exact" if wide and self.phi is None else "series"
        if method == "series":
            try:
                coeffs = _concrete(_series_coefficients, self, which, wide)
            except (NotImplementedError, jax.errors.ConcretizationTypeError):
                coeffs = None  # jax 0.4.38 inside jit cannot evaluate eagerly: the recursion
            if coeffs is not None:
                diag = self.kappa_one(which) if symmetric else None
                return _gram_series(X, Y, jnp.asarray(coeffs, dtype=dtype), diag)
        return _gram(self, X, Y, which, symmetric)

    def kappa_one(self, which: str = "ntk") -> float:
        """κ(1) in float64: the kernel's diagonal and the trace of its integral operator."""
        check_choice("which", which, ("ntk", "nngp"))

        def value():
            one, zero, two = (jnp.full((), v, jnp.float64) for v in (1.0, 0.0, 2.0))
            nngp, ntk = _evaluate(self, one, zero, two)
            return float(ntk if which == "ntk" else nngp)

        return _concrete(value)


def _check_t(t) -> None:
    """Eager check of concrete inner products ``t``: real, finite, in [-1, 1] up to 1e-5.

    Values just outside [-1, 1] (rounding of ``<x, x'>``) are clamped by the caller; traced
    values (under jit/grad/vmap) are not checked.
    """
    if isinstance(t, jax.Array):  # checked on its device; skipped when traced
        arr, xp = t, jnp
    else:
        try:
            arr, xp = np.asarray(t), np
        except (ValueError, TypeError):
            raise TypeError(
                f"Expected t to be a real number or array of inner products; got a "
                f"{type(t).__name__} that cannot be converted to one."
            ) from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(
            f"Expected t to be a real number or array of inner products; got dtype {arr.dtype}."
        )
    bad = ~(xp.abs(arr) <= 1.0 + 1e-5)  # NaN included
    try:
        if not bool(bad.any()):
            return
    except jax.errors.ConcretizationTypeError:  # traced (jit, grad, vmap): not checked
        return
    raise ValueError(
        f"Expected t = <x, x'> of unit vectors, finite and in [-1, 1]; got "
        f"{float(np.asarray(arr)[np.asarray(bad)].ravel()[0])!r}. Normalize the points or clip t."
    )


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _gram(kernel: Kernel, X, Y, which, symmetric):
    t = _clamp(X @ Y.T, -1.0, 1.0)
    if symmetric:
        # <x, x> rounds to 1 - O(ε), and the NTK has a √(1 - t) singularity at t = 1, so the
        # diagonal would lose half its digits: it is exactly t = 1 for points on the sphere.
        t = jnp.where(jnp.eye(t.shape[0], dtype=bool), jnp.ones((), t.dtype), t)
    nngp, ntk = _evaluate(kernel, t, 1.0 - t, 1.0 + t)
    return ntk if which == "ntk" else nngp


#: Relative truncation of the Chebyshev series of ``Kernel.gram(method="series")``
#: (fraction of κ(1)), for float32 and for float64 results, and the largest fit tried.
_SERIES_TOL = {False: 2.0**-30, True: 2.0**-48}
_SERIES_MAX_NODES = 512


@functools.lru_cache(maxsize=128)
def _series_coefficients(kernel: Kernel, which: str, wide: bool) -> np.ndarray | None:
    """Chebyshev coefficients ``(2, m)`` of κ on t >= 0 and t < 0 in ``x = 2√(1 − |t|) − 1``.

    Fitted in float64 at N Chebyshev points of each half (N = 32, 64, … up to
    ``_SERIES_MAX_NODES``) until the last quarter of the coefficients is below the tolerance,
    then checked against the recursion at the N + 1 Chebyshev extrema. ``None`` when that fails
    (the caller then uses the exact recursion).
    """
    tol = _SERIES_TOL[wide] * abs(kernel.kappa_one(which))
    n = 32
    while n <= _SERIES_MAX_NODES:
        x = np.cos(np.pi * (np.arange(n) + 0.5) / n)  # first-kind points on [-1, 1]
        values = _halves(kernel, which, x)
        # DCT-II: c_j = (2/N) Σ_k f(x_k) cos(j (k + 1/2) π / N), c_0 halved.
        c = values @ np.cos(np.pi * np.outer(np.arange(n) + 0.5, np.arange(n)) / n)
        c *= 2.0 / n
        c[:, 0] /= 2.0
        if np.abs(c[:, -n // 4 :]).max() <= tol:
            m = int(np.nonzero((np.abs(c) > tol / 4).any(axis=0))[0].max()) + 1
            c = c[:, :m]
            check = np.cos(np.pi * np.arange(n + 1) / n)  # extrema: other points
            fitted = np.polynomial.chebyshev.chebval(check, c.T)
            if np.abs(fitted - _halves(kernel, which, check)).max() <= 4.0 * tol:
                return c
            return None
        n *= 2
    return None


def _concrete(fn, *args):
    """``fn(*args)`` under float64, with concrete (host) results even inside a jit trace."""
    try:
        with _compat.enable_x64():
            return fn(*args)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        with jax.ensure_compile_time_eval(), _compat.enable_x64():
            return fn(*args)


def _halves(kernel: Kernel, which: str, x: np.ndarray) -> np.ndarray:
    """κ at ``t = ±(1 − u²)``, ``u = (x + 1)/2``, float64 ``(2, len(x))`` (1 ∓ t exact)."""
    u2 = ((x + 1.0) / 2.0) ** 2
    out = []
    for t, a, b in ((1.0 - u2, u2, 2.0 - u2), (u2 - 1.0, 2.0 - u2, u2)):
        nngp, ntk = _evaluate(kernel, *(jnp.asarray(v, jnp.float64) for v in (t, a, b)))
        out.append(np.asarray(ntk if which == "ntk" else nngp, dtype=np.float64))
    return np.stack(out)


@functools.partial(jax.jit, static_argnums=(3,))
def _gram_series(X, Y, coeffs, diag):
    """κ(<x_i, y_j>) by Clenshaw's recurrence; ``diag`` (float κ(1) or None) pins the diagonal."""
    t = _clamp(X @ Y.T, -1.0, 1.0)
    x = 2.0 * jnp.sqrt(1.0 - jnp.abs(t)) - 1.0  # 1 - |t| is exact for |t| >= 1/2
    pos = t >= 0
    c = coeffs.astype(t.dtype)
    b1 = b2 = jnp.zeros_like(t)
    for j in range(c.shape[1] - 1, 0, -1):  # Clenshaw, the coefficients of t's half
        b1, b2 = 2.0 * x * b1 - b2 + jnp.where(pos, c[0, j], c[1, j]), b1
    K = x * b1 - b2 + jnp.where(pos, c[0, 0], c[1, 0])
    if diag is not None:  # points on the sphere: t = 1 exactly, κ(1) rounded once
        K = jnp.where(jnp.eye(K.shape[0], dtype=bool), jnp.asarray(diag, K.dtype), K)
    return K


def _evaluate(kernel: Kernel, t, a, b):
    """Run the layer recursion from (t, 1 - t, 1 + t); return (NNGP, NTK).

    The state is the correlation ρ together with 1 - ρ and 1 + ρ, each formed without
    cancellation, so values keep their relative precision near t = -1, 0 and 1.
    """
    sw0, sb = kernel.first_layer_var, kernel.bias_var
    q = kernel.variances[0]
    a = _clamp(a, 0.0, 2.0)
    b = _clamp(b, 0.0, 2.0)
    # First layer: Σ_0 = sw0 t + sb; 1 - ρ_0 = sw0 (1 - t)/q_0, 1 + ρ_0 = (sw0 (1 + t) + 2 sb)/q_0.
    sigma = sw0 * t + sb
    rho, a, b = sigma / q, sw0 * a / q, (sw0 * b + 2.0 * sb) / q
    theta = sigma
    for q, q_new in zip(kernel.variances[:-1], kernel.variances[1:], strict=True):
        sigma, sigma_dot, a, b = _layer(kernel, q, q_new, rho, a, b)
        rho = sigma / q_new
        theta = theta * sigma_dot + sigma
    return sigma, theta


def _layer(kernel: Kernel, q: float, q_new: float, rho, a, b):
    """One hidden layer: (ρ, 1-ρ, 1+ρ) at variance q -> (Σ', Σ̇', 1-ρ', 1+ρ') at variance q'."""
    sw, sb = kernel.weight_var, kernel.bias_var
    act = kernel.activation
    if act == "relu":
        k0, k1, omk1 = _relu_duals(a, b)
        half = 0.5 * sw * q
        b_new = (half * (1.0 + k1) + 2.0 * sb) / q_new
        return half * k1 + sb, 0.5 * sw * k0, half * omk1 / q_new, b_new
    if act == "identity":
        sigma = sw * q * rho + sb
        return sigma, jnp.full_like(a, sw), sw * q * a / q_new, (sw * q * b + 2.0 * sb) / q_new
    if act == "erf":
        s = 1.0 + 2.0 * q
        sigma_in = q * rho
        sigma = sw * (2.0 / _PI) * jnp.arcsin(2.0 * sigma_in / s) + sb
        sigma_dot = sw * (4.0 / _PI) / jnp.sqrt(s * s - 4.0 * sigma_in * sigma_in)
        a_new = _clamp((q_new - sigma) / q_new, 0.0, 2.0)
        return sigma, sigma_dot, a_new, 2.0 - a_new
    return _quadrature_layer(kernel, q, q_new, rho, a, b)


# ----------------------------------------------------------------------------- quadrature
def _hermite_rule(order: int):
    """Probabilists' Gauss–Hermite rule: E[g(z)] ≈ Σ w_i g(z_i), z ~ N(0, 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(order)
    return z, w / np.sqrt(2.0 * np.pi)


def _second_moment(phi: Callable, q: float, order: int) -> float:
    """E[φ(√q z)²] by the same Gauss–Hermite rule as the cross terms (keeps |ρ'| <= 1)."""
    z, w = _hermite_rule(order)
    with _compat.enable_x64():
        vals = np.asarray(phi(jnp.asarray(np.sqrt(q) * z, dtype=jnp.float64)), dtype=np.float64)
    return float(np.sum(w * vals * vals))


def _quadrature_layer(kernel: Kernel, q: float, q_new: float, rho, a, b):
    """E[φ(u)φ(v)], E[φ'(u)φ'(v)] with u = √q z1, v = √q(ρ z1 + √(1-ρ²) z2), 2-D Gauss–Hermite."""
    sw, sb = kernel.weight_var, kernel.bias_var
    phi = kernel.phi
    dphi = jnp.vectorize(jax.grad(phi))
    dtype = a.dtype
    z, w = _hermite_rule(kernel.quad_order)
    z = jnp.asarray(z, dtype)
    w = jnp.asarray(w, dtype)
    sq = float(np.sqrt(q))  # a Python float: weakly typed, keeps float32 inputs float32
    root = jnp.sqrt(jnp.maximum(a * b, 0.0))  # √(1 - ρ²) without cancellation
    u = sq * z  # (m,)
    fu, dfu = phi(u), dphi(u)
    shape = rho.shape
    rho_f, root_f = rho.reshape(-1), root.reshape(-1)

    def one(args):
        r, s = args
        v = sq * (r * z[:, None] + s * z[None, :])  # (m, m): v[i, j] for z1 = z_i, z2 = z_j
        e = jnp.einsum("i,j,i,ij->", w, w, fu, phi(v))
        ed = jnp.einsum("i,j,i,ij->", w, w, dfu, dphi(v))
        return e, ed

    e, ed = jax.lax.map(one, (rho_f, root_f), batch_size=256)
    e, ed = e.reshape(shape), ed.reshape(shape)
    second = (q_new - sb) / sw  # E[φ(u)²], precomputed by the same rule in mlp_kernel
    sigma = sw * e + sb
    a_new = _clamp(sw * (second - e) / q_new, 0.0, 2.0)
    return sigma, sw * ed, a_new, 2.0 - a_new


# ----------------------------------------------------------------------------- factory
def mlp_kernel(
    depth: int,
    activation: str | Callable = "relu",
    weight_var: float | None = None,
    bias_var: float = 0.0,
    first_layer_var: float | None = None,
    *,
    quad_order: int = 128,
) -> Kernel:
    """Infinite-width NNGP/NTK of a fully connected network with ``depth`` hidden layers.

    Args:
      depth: number of hidden layers, 1 <= L <= 100 (a two-layer network has depth 1).
      activation: ``"relu"`` or ``"erf"`` (closed forms), ``"identity"``, a name evaluated by
        Gauss–Hermite quadrature (``"gelu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"``,
        ``"silu"``, ``"sin"``), or any elementwise JAX-differentiable callable.
      weight_var: σ_w² of hidden and readout weights (default 2 for relu — He scaling — else 1).
      bias_var: σ_b² of every bias (default 0: bias-free).
      first_layer_var: σ_w0² of the first layer (default 1, so Σ_0 = t + σ_b²); no 1/d.
      quad_order: Gauss–Hermite nodes per dimension for quadrature activations (2..256).

    Returns:
      A :class:`Kernel`.

    Two-layer bias-free ReLU: NTK(t) = t k0(t) + k1(t), NTK(1) = 2, NNGP(0) = 1/π:

    >>> k = mlp_kernel(1)
    >>> float(k.ntk(1.0)), round(float(k.nngp(0.0)) * np.pi, 6)
    (2.0, 1.0)
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    # numpy's Gauss–Hermite weights overflow to NaN beyond order ~370.
    quad_order = check_int("quad_order", quad_order, minimum=2, maximum=256)
    phi = None
    if callable(activation):
        name, phi = "custom", activation
    elif isinstance(activation, str) and activation in ACTIVATIONS:
        name = activation
        phi = _QUADRATURE_ACTIVATIONS.get(activation)
    else:
        raise ValueError(
            f"Expected activation to be one of {list(ACTIVATIONS)} or a JAX callable; "
            f"got {activation!r}."
        )
    if weight_var is None:
        weight_var = 2.0 if name == "relu" else 1.0
    weight_var = check_positive("weight_var", weight_var)
    bias_var = check_positive("bias_var", bias_var, allow_zero=True)
    first_layer_var = 1.0 if first_layer_var is None else first_layer_var
    first_layer_var = check_positive("first_layer_var", first_layer_var)
    if phi is not None:
        _check_activation(phi)
    variances = _variances(name, phi, depth, weight_var, bias_var, first_layer_var, quad_order)
    return Kernel(depth, name, weight_var, bias_var, first_layer_var, quad_order, phi, variances)


def _variances(name, phi, depth, sw, sb, sw0, order) -> tuple[float, ...]:
    """q_0..q_L: q_0 = σ_w0² + σ_b², q_l = σ_w² E[φ(√q_{l-1} z)²] + σ_b² (float64)."""
    qs = [sw0 + sb]
    for _ in range(depth):
        q = qs[-1]
        if name == "relu":
            second = 0.5 * q
        elif name == "identity":
            second = q
        elif name == "erf":
            second = (2.0 / _PI) * float(np.arcsin(2.0 * q / (1.0 + 2.0 * q)))
        else:
            second = _second_moment(phi, q, order)
        qs.append(sw * second + sb)
        if not (np.isfinite(qs[-1]) and qs[-1] > 0):
            raise ValueError(
                f"Expected finite, positive layer variances; with weight_var = {sw:g}, "
                f"bias_var = {sb:g} and first_layer_var = {sw0:g} the pre-activation variance "
                f"of layer {len(qs) - 1} is {qs[-1]:g}. Lower weight_var or depth."
            )
    return tuple(qs)


def _check_activation(phi: Callable) -> None:
    try:
        with _compat.enable_x64():
            x = jnp.linspace(-3.0, 3.0, 7, dtype=jnp.float64)
            y = jnp.asarray(phi(x))
            dy = jnp.vectorize(jax.grad(phi))(x)
    except Exception as e:
        raise TypeError(
            "Expected activation to be an elementwise, differentiable JAX function of one array; "
            f"calling it failed with {type(e).__name__}: {e}"
        ) from None
    if y.shape != x.shape:
        raise ValueError(
            "Expected activation to map an array elementwise to finite values of the same shape; "
            f"got shape {y.shape} for input shape {x.shape}."
        )
    if not bool(jnp.all(jnp.isfinite(y)) & jnp.all(jnp.isfinite(dy))):
        raise ValueError(
            "Expected activation to map an array elementwise to finite values with a finite "
            "derivative; got NaN or inf on [-3, 3]."
        )
