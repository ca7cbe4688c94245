"""Infinite-width kernels (NNGP and NTK) of fully connected networks, as zonal functions κ(t).

Convention (docs/theory.md §2): an MLP with ``depth`` = L hidden layers in NTK
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
relative precision next to t = ±1 even in deep networks and in d = 2. ReLU, erf and the sine
family a·sin(b·u + c) use closed forms (Cho & Saul 2009; Williams 1997; ``ntkspec.activations``,
exact at SIREN scale); any other activation uses 2-D Gauss–Hermite quadrature of the dual
activation and of its derivative kernel, with an error estimate (``Kernel.quadrature_error``)
and an order raised until it meets ``quad_tol``, or a ValueError (docs/theory.md §6.2). A trained
bias initialized at zero (``trained_bias`` = β², Basri et al. 2019) adds β² to Θ_0..Θ_{L-1}.
The ReLU duals have a custom JVP: the derivative of k1 is k0 (finite at ±1); the derivative
of k0 is infinite at ρ = ±1 and is returned there as a huge finite number (≈ 1/√tiny) so that
zero tangents stay zero, never NaN.
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
from ntkspec.activations import Sine
from ntkspec.limits import MAX_DEPTH, MAX_QUAD_ORDER

__all__ = [
    "ACTIVATIONS",
    "SERIES_MAX_TERMS",
    "SERIES_TOL_F64",
    "GramSeries",
    "Kernel",
    "ZonalKernel",
    "activation_fn",
    "fit_gram_series",
    "layer_map",
    "layer_variance",
    "mlp_kernel",
    "relu_k0",
    "relu_k1",
    "zonal_gram",
]

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
}
ACTIVATIONS = ("relu", "erf", "identity", "sin", "cos", *_QUADRATURE_ACTIVATIONS)


def _identity(x):
    return x


# Activations with closed-form duals (no quadrature) and their elementwise functions.
_CLOSED_FORM_ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "erf": jax.scipy.special.erf,
    "identity": _identity,
    "sin": Sine(),
    "cos": Sine(c=np.pi / 2),
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
        if activation in _CLOSED_FORM_ACTIVATIONS:
            return _CLOSED_FORM_ACTIVATIONS[activation]
        return _QUADRATURE_ACTIVATIONS[activation]
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


# ----------------------------------------------------------------------------- the protocol
class ZonalKernel:
    """The kernel protocol: what ``spectrum``, ``gram``, the error bars and the series route use.

    A zonal kernel object provides

    - ``evaluate(t, 1 − t, 1 + t) -> (nngp, ntk)``: both kernels, jit-compatible, given ``t``
      and its complements separately (so that values keep full relative precision next to
      t = ±1); the object must be hashable (it is a static argument of jitted code);
    - ``kappa_one(which)``: κ(1) in float64 (the diagonal and the trace);
    - ``taylor(which, order)``: a :class:`~ntkspec.taylor.TaylorSeries` of nonnegative Taylor
      coefficients at t = 0, or ``ValueError`` where it has none; ``supports_series(dim)``
      says whether the series route applies (on S^{dim−1}; ``dim=None``: at all);
    - ``quadrature_error``: a bound on ``|κ_computed − κ| / κ(1)`` (0.0 for closed forms);
    - ``exact_gram``: whether ``evaluate`` is cheap enough for ``gram(method="auto")`` to use
      it where the series route is not accurate enough (False: Gauss–Hermite layer maps);
    - ``check_dim(dim)``: ``ValueError`` on a sphere S^{dim−1} where the kernel is not a valid
      (positive definite) kernel; the base class accepts every dim. ``spectrum`` and ``gram``
      call it.

    This base class implements ``nngp``, ``ntk``, ``__call__``, ``gram`` and ``kappa_one`` from
    ``evaluate``; :class:`Kernel` (MLPs) and the kernels of :mod:`ntkspec.architectures`
    (residual MLPs, Fourier features) derive from it. ``spectrum`` treats any object with an
    ``evaluate`` method as a zonal kernel, and any other callable as a plain κ(t).
    """

    quadrature_error: float = 0.0
    exact_gram: bool = True

    def evaluate(self, t, one_minus_t, one_plus_t):  # pragma: no cover - abstract
        raise NotImplementedError

    def check_dim(self, dim: int | None) -> None:
        """Accept every sphere (kernels of one sphere only override this with a ValueError)."""

    def nngp(self, t: ArrayLike) -> jax.Array:
        """NNGP for ``t`` of any shape in [-1, 1]."""
        return self(t, "nngp")

    def ntk(self, t: ArrayLike) -> jax.Array:
        """NTK for ``t`` of any shape in [-1, 1]."""
        return self(t, "ntk")

    def __call__(self, t: ArrayLike, which: str = "ntk") -> jax.Array:
        check_choice("which", which, ("ntk", "nngp"))
        _check_t(t)
        t = jnp.asarray(t)
        t = t.astype(jnp.result_type(t, float))
        t = _clamp(t, -1.0, 1.0)
        nngp, ntk = self.evaluate(t, 1.0 - t, 1.0 + t)
        return ntk if which == "ntk" else nngp

    def kappa_one(self, which: str = "ntk") -> float:
        """κ(1) in float64: the kernel's diagonal and the trace of its integral operator."""
        check_choice("which", which, ("ntk", "nngp"))

        def value():
            one, zero, two = (jnp.full((), v, jnp.float64) for v in (1.0, 0.0, 2.0))
            nngp, ntk = self.evaluate(one, zero, two)
            return float(ntk if which == "ntk" else nngp)

        return _concrete(value)

    def gram(
        self, X: ArrayLike, Y: ArrayLike | None = None, which: str = "ntk", *, method: str = "auto"
    ) -> jax.Array:
        """Gram matrix ``κ(<x_i, y_j>)`` ``(n, m)``; see :func:`zonal_gram`."""
        return zonal_gram(self, X, Y, which, method=method)

    def gram_series(self, which: str = "ntk", precision: str = "float64") -> GramSeries | None:
        """The Chebyshev series of κ that ``gram(method="series")`` sums (see :class:`GramSeries`).

        Fitted once per kernel object, ``which`` and ``precision`` (``"float64"``: truncated at
        2⁻⁵²·κ(1); ``"float32"``: at 2⁻³²·κ(1)) and kept on the object; ``None`` where no fit
        within 1024 nodes converges (then ``gram`` uses ``evaluate``).

        >>> fit = mlp_kernel(4).gram_series("ntk")
        >>> fit.terms <= 64 and fit.measured_error <= 1e-15
        True
        """
        check_choice("which", which, ("ntk", "nngp"))
        check_choice("precision", precision, ("float64", "float32"))
        store = getattr(self, "__dict__", None)  # None (slots): fitted on every call
        fits = {} if store is None else store.setdefault("_gram_series_fits", {})
        key = (which, precision)
        if key not in fits:
            fits[key] = _concrete(fit_gram_series, self, which, precision == "float64")
        return fits[key]

    def supports_series(self, dim: int | None = None) -> bool:
        """Whether the nonnegative-series route applies (on S^{dim-1}); default False."""
        return False

    def taylor(self, which: str = "ntk", order: int = 256):
        """Nonnegative Taylor coefficients at t = 0 (``ValueError``: none for this kernel)."""
        raise ValueError(f"Expected a kernel with a Taylor series; {type(self).__name__} has none.")


def zonal_gram(
    kernel, X: ArrayLike, Y: ArrayLike | None = None, which: str = "ntk", *, method: str = "auto"
) -> jax.Array:
    """Gram matrix ``κ(<x_i, y_j>)`` of shape ``(n, m)`` of a :class:`ZonalKernel`.

    Two evaluations of κ per entry:

    - ``"exact"``: ``kernel.evaluate`` (cancellation-free near t = ±1);
    - ``"series"``: the :class:`GramSeries` of the kernel (``kernel.gram_series``): κ fitted
      once by a Chebyshev series in ``u = √(1 − |t|)`` on each sign of t (κ is analytic in
      u: the √(1 − t) singularity of ReLU kernels is absorbed), truncated at 2⁻³²·κ(1) for
      float32 results and 2⁻⁵²·κ(1) for float64, summed per entry by Clenshaw's
      recurrence. Its cost does not depend on depth or activation.

    ``"auto"`` (default) uses the series for float32 (and narrower) results, where its error
    is below the rounding of t itself; for float64 results where its measured error
    (``GramSeries.measured_error``) is at most ``SERIES_TOL_F64`` = 1e-15·κ(1); and for
    kernels with ``exact_gram = False`` (Gauss–Hermite activations); always with at most
    ``SERIES_MAX_TERMS`` terms. Otherwise (e.g. SIREN at ω0 = 30, whose κ is a narrow peak,
    or a fit that does not converge) the exact recursion.

    Gradients with respect to the points: the series route differentiates the fitted series
    (finite everywhere; zero on the pinned diagonal, as the exact route); off the diagonal at
    exactly t = ±1 (coincident or antipodal points) it returns 0 for the √(1 − |t|) factor,
    where the exact route gives the one-sided derivative: use ``method="exact"`` there.

    For ``d <= 8`` the inner products are summed elementwise (fused with κ, no separate
    matrix product: on CPU that product dominated the cost); the diagonal of ``gram(X)`` is
    exactly κ(1) (t = 1 for points on the sphere).

    Args:
      kernel: a :class:`ZonalKernel` (hashable, with ``evaluate`` and ``kappa_one``).
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
    getattr(kernel, "check_dim", lambda dim: None)(int(np.shape(X)[1]))
    symmetric = Y is None
    X = jnp.asarray(X)
    Y = X if symmetric else jnp.asarray(Y)
    dtype = jnp.result_type(X, Y, float)
    wide = jnp.finfo(dtype).bits > 32
    fit = None
    if method != "exact":
        try:
            fit = kernel.gram_series(which, "float64" if wide else "float32")
        except (NotImplementedError, jax.errors.ConcretizationTypeError):
            fit = None  # jax 0.4.38 inside jit cannot evaluate eagerly: the recursion
    if fit is not None and method == "auto":
        accurate = not wide or fit.measured_error <= SERIES_TOL_F64 or not kernel.exact_gram
        fit = fit if accurate and fit.terms <= SERIES_MAX_TERMS else None
    X, Y = X.astype(dtype), Y.astype(dtype)
    if fit is not None:
        diag = fit.diagonal if symmetric else None  # κ(1), kept with the fit
        return _gram_series(X, Y, jnp.asarray(fit.coefficients, dtype=dtype), diag)
    return _gram(kernel, X, Y, which, symmetric)


# ----------------------------------------------------------------------------- the kernel
@dataclasses.dataclass(frozen=True)
class Kernel(ZonalKernel):
    """Infinite-width NNGP and NTK of an MLP as zonal functions of ``t = <x, x'>``.

    Build it with :func:`mlp_kernel`. All methods are pure and jit-compatible; the result
    dtype follows the input (float32 unless JAX x64 is on or float64 inputs are traced under
    x64).

    Attributes:
      depth: number of hidden layers L (>= 1).
      activation: activation name (see ``ACTIVATIONS``), ``"sine"`` for a general
        :class:`~ntkspec.activations.Sine`, or ``"custom"``.
      weight_var, bias_var, first_layer_var: σ_w², σ_b², σ_w0².
      quad_order: Gauss–Hermite order per dimension for quadrature activations (the order
        actually used: ``mlp_kernel`` raises the requested one until ``quadrature_error`` is
        below ``quad_tol``).
      phi: the activation callable for quadrature activations (``None`` for closed forms).
      variances: the diagonal ``q_0..q_L`` (pre-activation variance of every layer), float64.
      sine: ``(a, b, c)`` of a sine activation ``a·sin(b·u + c)`` (``"sin"`` is (1, 1, 0),
        ``"cos"`` is (1, 1, π/2)), else ``None``. Layer maps are then exact exponentials.
      trained_bias: β², the gradient scale of the zero-initialized trained bias of each hidden
        layer (layers 0..L−1, not the readout): adds β² to Θ_l for l < L, not to Σ_l.
      quadrature_error: estimated bound on ``|κ_GH(t) − κ(t)| / κ(1)`` over t ∈ [-1, 1], for the
        NNGP and the NTK alike, of the Gauss–Hermite layer maps (0.0 for closed forms): the
        larger of (i) an extrapolation of the differences, at 33 values of t, between the
        kernel at ``quad_order`` and at ``3·quad_order/4`` and ``quad_order/2`` (variances
        recomputed at each order), made to exceed the error for geometric and for algebraic
        (n^{-p}, p >= 1/2) convergence, and (ii) four times the relative error of the
        second moments E[φ²], E[φ'²] of every layer against a composite Gauss–Legendre rule
        (which catches aliasing of fast oscillations, where all Hermite orders agree on a
        wrong value). An estimate with margins, checked against closed forms in the tests,
        not a proof.
    """

    depth: int
    activation: str
    weight_var: float
    bias_var: float
    first_layer_var: float
    quad_order: int = 128
    phi: Callable | None = dataclasses.field(default=None, repr=False)
    variances: tuple[float, ...] = dataclasses.field(default=(), repr=False)
    sine: tuple[float, float, float] | None = None
    trained_bias: float = 0.0
    quadrature_error: float = 0.0

    @property
    def exact_gram(self) -> bool:
        """Closed-form layer maps: ``gram`` evaluates them exactly in float64."""
        return self.phi is None

    def supports_series(self, dim: int | None = None) -> bool:
        """The series route: closed-form layer maps, and (``dim`` given) not low-d ReLU.

        ReLU kernels have ``a_n ~ n^{-3/2}``, so for d <= 3 the truncated tail never beats the
        θ rule; there ``spectrum(method="auto")`` uses the (fast) quadrature alone.
        """
        if self.sine is None and self.activation not in ("relu", "erf", "identity"):
            return False
        return dim is None or dim > 3 or self.activation != "relu"

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

    def taylor(self, which: str = "ntk", order: int = 256):
        """Taylor coefficients a_0..a_order of κ at t = 0, all >= 0 (a ``TaylorSeries``).

        See :func:`ntkspec.taylor.kernel_taylor`; closed-form activations only (relu, erf,
        identity, sines).

        >>> a = mlp_kernel(1).taylor("nngp", 2).coefficients  # k1 = 1/π + t/2 + t²/(2π) + …
        >>> np.allclose(np.asarray(a, float) * [np.pi, 2, 2 * np.pi], 1)
        True
        """
        from ntkspec.taylor import kernel_taylor  # local: this method is the only link

        return kernel_taylor(self, which, order)

    def series_with_input(self, which: str, inputs):
        """Taylor coefficients of this kernel with its first layer fed a nonnegative series
        (composition, e.g. under Fourier features); see :func:`ntkspec.taylor.mlp_series`."""
        from ntkspec.taylor import mlp_series

        return mlp_series(self, which, inputs)


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


#: Largest d for which the Gram's inner products are summed elementwise (fused with κ).
_UNROLL_DIM = 8


def _inner(X, Y):
    """``clamp(X Yᵀ, −1, 1)``; for d <= 8 as d fused elementwise products (no matrix product)."""
    if X.shape[1] <= _UNROLL_DIM:
        t = X[:, None, 0] * Y[None, :, 0]
        for k in range(1, X.shape[1]):
            t = t + X[:, None, k] * Y[None, :, k]
    else:
        t = X @ Y.T
    return _clamp(t, -1.0, 1.0)


def _pin_diagonal(K, value):
    """K with its diagonal set to ``value`` (fused: compares of two iotas, no identity matrix)."""
    rows = jax.lax.broadcasted_iota(jnp.int32, K.shape, 0)
    cols = jax.lax.broadcasted_iota(jnp.int32, K.shape, 1)
    return jnp.where(rows == cols, jnp.asarray(value, K.dtype), K)


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _gram(kernel: ZonalKernel, X, Y, which, symmetric):
    t = _inner(X, Y)
    if symmetric:
        # <x, x> rounds to 1 - O(ε), and the NTK has a √(1 - t) singularity at t = 1, so the
        # diagonal would lose half its digits: it is exactly t = 1 for points on the sphere.
        t = _pin_diagonal(t, 1.0)
    nngp, ntk = kernel.evaluate(t, 1.0 - t, 1.0 + t)
    return ntk if which == "ntk" else nngp


# ----------------------------------------------------------------------------- Gram series
#: Relative truncation of the Chebyshev series of the Gram (fraction of κ(1)), for float32
#: and for float64 results; the largest fit tried (nodes per half).
_SERIES_TOL = {False: 2.0**-30, True: 2.0**-50}
_SERIES_MAX_NODES = 1024
#: ``gram(method="auto")`` in float64 uses the series where ``GramSeries.measured_error`` is at
#: most this.
SERIES_TOL_F64 = 1e-15
#: ``gram(method="auto")`` uses a series of at most this many terms (beyond, the exact recursion
#: of closed forms is cheaper).
SERIES_MAX_TERMS = 64


@dataclasses.dataclass(frozen=True, eq=False)
class GramSeries:
    """The Chebyshev series behind ``gram(method="series")`` (see :func:`fit_gram_series`).

    Attributes:
      coefficients: ``(2, terms)`` float64: row 0 for t >= 0, row 1 for t < 0, in
        ``x = 2√(1 − |t|) − 1``; ``κ(t) ≈ Σ_j c_j T_j(x)``.
      measured_error: ``max |S(t) − κ(t)| / κ(1)`` over the check grid (2N + 1
        Chebyshev extrema per half, t = 0 and t = ±1 included, N the fit's node count) with
        S summed by Clenshaw in float64 and κ from ``evaluate`` in float64, times 2 (margin
        for the summation order of compiled code). A measurement on a grid twice as fine as
        the fit, not a proof; the tests check it against mpmath.
      diagonal: κ(1) (float64), the pinned diagonal of ``gram(X)``.
      terms: the number of coefficients per half.
    """

    coefficients: np.ndarray
    measured_error: float
    diagonal: float

    @property
    def terms(self) -> int:
        return int(self.coefficients.shape[1])


def fit_gram_series(kernel: ZonalKernel, which: str, wide: bool) -> GramSeries | None:
    """Fit the :class:`GramSeries` of ``kernel`` (``wide``: for float64 results).

    Fitted at N Chebyshev points of each half (N = 32, 64, … up to 1024), κ by ``evaluate``
    in float64, coefficients by a DCT in extended precision, until the last quarter of the
    coefficients is below the tolerance (2⁻⁵⁰·κ(1) wide, 2⁻³⁰·κ(1) narrow; the float64 values
    put a noise floor near 2⁻⁵⁴·κ(1) under the coefficients); truncated at a quarter of it;
    then measured at the 2N + 1 Chebyshev extrema of each half. ``None`` when no fit
    converges, or (narrow) when the measured error exceeds 4 × the tolerance.
    Use ``kernel.gram_series`` (which keeps the fit on the kernel object) rather than this.
    """
    diagonal = kernel.kappa_one(which)
    scale = abs(diagonal)
    tol = _SERIES_TOL[wide] * scale
    n = 32
    while n <= _SERIES_MAX_NODES:
        x = np.cos(np.pi * (np.arange(n) + 0.5) / n)  # first-kind points on [-1, 1]
        values = _halves(kernel, which, x).astype(np.longdouble)
        # DCT-II: c_j = (2/N) Σ_k f(x_k) cos(j (k + 1/2) π / N), c_0 halved (extended precision).
        k, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        angle = ((2 * k + 1) * j % (4 * n)).astype(np.longdouble) * (_PI_LONG / (2 * n))
        c = values @ np.cos(angle)
        c *= np.longdouble(2.0) / n
        c[:, 0] /= 2
        if np.abs(c[:, -n // 4 :]).max() <= tol:
            m = int(np.nonzero((np.abs(c) > tol / 4).any(axis=0))[0].max()) + 1
            c = np.asarray(c[:, :m], dtype=np.float64)
            check = np.cos(np.pi * np.arange(2 * n + 1) / (2 * n))  # extrema, x = ±1 included
            diff = np.abs(_clenshaw_np(c, check) - _halves(kernel, which, check)).max()
            error = 2.0 * float(diff) / scale if scale > 0 else np.inf
            if not np.isfinite(error) or (not wide and error > 4.0 * _SERIES_TOL[wide]):
                return None
            return GramSeries(c, error, diagonal)
        n *= 2
    return None


#: π in extended precision (np.pi is rounded to float64: 4e-17 relative, 1e-16 in the DCT).
_PI_LONG = np.arccos(np.longdouble(-1.0))


def _clenshaw_np(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``Σ_j c[h, j] T_j(x)`` for both halves h, float64, in the order of ``_gram_series``."""
    x = x[None, :]
    x2 = 2.0 * x
    b1 = b2 = np.zeros((c.shape[0], x.shape[1]))
    for j in range(c.shape[1] - 1, 0, -1):
        b1, b2 = x2 * b1 - b2 + c[:, j : j + 1], b1
    return x * b1 - b2 + c[:, :1]


def _concrete(fn, *args):
    """``fn(*args)`` under float64, with concrete (host) results even inside a jit trace."""
    try:
        with _compat.enable_x64():
            return fn(*args)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        with jax.ensure_compile_time_eval(), _compat.enable_x64():
            return fn(*args)


def _halves(kernel: ZonalKernel, which: str, x: np.ndarray) -> np.ndarray:
    """κ at ``t = ±(1 − u²)``, ``u = (x + 1)/2``, float64 ``(2, len(x))`` (1 ∓ t exact)."""
    u2 = ((x + 1.0) / 2.0) ** 2
    out = []
    for t, a, b in ((1.0 - u2, u2, 2.0 - u2), (u2 - 1.0, 2.0 - u2, u2)):
        nngp, ntk = kernel.evaluate(*(jnp.asarray(v, jnp.float64) for v in (t, a, b)))
        out.append(np.asarray(ntk if which == "ntk" else nngp, dtype=np.float64))
    return np.stack(out)


@functools.partial(jax.jit, static_argnums=(3,))
def _gram_series(X, Y, coeffs, diag):
    """κ(<x_i, y_j>) by Clenshaw's recurrence; ``diag`` (float κ(1) or None) pins the diagonal."""
    t = _inner(X, Y)
    if diag is not None:  # a safe t on the diagonal (replaced by κ(1)): zero gradient there
        t = _pin_diagonal(t, 0.0)
    # 1 - |t| is exact for |t| >= 1/2; the floor keeps the derivative finite at |t| = 1.
    x = 2.0 * jnp.sqrt(jnp.maximum(1.0 - jnp.abs(t), jnp.finfo(t.dtype).tiny)) - 1.0
    x2 = 2.0 * x
    pos = t >= 0
    c = coeffs.astype(t.dtype)
    b1 = b2 = jnp.zeros_like(t)
    for j in range(c.shape[1] - 1, 0, -1):  # Clenshaw, the coefficients of t's half
        b1, b2 = x2 * b1 - b2 + jnp.where(pos, c[0, j], c[1, j]), b1
    K = x * b1 - b2 + jnp.where(pos, c[0, 0], c[1, 0])
    if diag is not None:  # points on the sphere: t = 1 exactly, κ(1) rounded once
        K = _pin_diagonal(K, diag)
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
    beta2 = kernel.trained_bias  # zero-init trained biases of layers 0..L-1: NTK only
    theta = sigma + beta2 if beta2 else sigma
    last = len(kernel.variances) - 2
    for l, (q, q_new) in enumerate(zip(kernel.variances[:-1], kernel.variances[1:], strict=True)):
        sigma, sigma_dot, a, b = _layer(kernel, q, q_new, rho, a, b)
        rho = sigma / q_new
        theta = theta * sigma_dot + sigma
        if beta2 and l < last:
            theta = theta + beta2
    return sigma, theta


def _layer(kernel: Kernel, q: float, q_new: float, rho, a, b):
    """One hidden layer: (ρ, 1-ρ, 1+ρ) at variance q -> (Σ', Σ̇', 1-ρ', 1+ρ') at variance q'."""
    sw, sb = kernel.weight_var, kernel.bias_var
    act = kernel.activation
    if kernel.sine is not None:
        e, ed, minus, plus = Sine(*kernel.sine).dual(q, rho, a, b)
        return sw * e + sb, sw * ed, sw * minus / q_new, (sw * plus + 2.0 * sb) / q_new
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


def layer_variance(kernel: Kernel, q: float) -> float:
    """``σ_w² E[φ(√q z)²] + σ_b²``: the output variance of one hidden layer of ``kernel`` whose
    input has variance q (float64, by the rule ``kernel`` uses: closed form or its
    Gauss–Hermite order)."""
    act, sw, sb = kernel.activation, kernel.weight_var, kernel.bias_var
    return _variances(act, kernel.phi, kernel.sine, 1, sw, sb, q - sb, kernel.quad_order)[1]


def layer_map(kernel: Kernel, q: float, q_new: float, rho, a, b):
    """One hidden layer of ``kernel`` applied to a correlation, cancellation-free.

    Args:
      kernel: the :class:`Kernel` whose activation, σ_w², σ_b² (and Gauss–Hermite order)
        define the layer.
      q: input variance (the diagonal), a Python float.
      q_new: output variance, ``layer_variance(kernel, q)``.
      rho, a, b: input correlation ρ, ``1 − ρ`` and ``1 + ρ`` (arrays).

    Returns:
      ``(Σ', Σ̇', 1 − ρ', 1 + ρ')`` with ``Σ' = σ_w² E[φ(u)φ(v)] + σ_b²``,
      ``Σ̇' = σ_w² E[φ'(u)φ'(v)]``, (u, v) centred Gaussian with variances q and covariance
      qρ, and ``ρ' = Σ'/q_new``.
    """
    return _layer(kernel, q, q_new, rho, a, b)


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
    trained_bias: float = 0.0,
    quad_order: int = 128,
    quad_tol: float = 1e-6,
) -> Kernel:
    """Infinite-width NNGP/NTK of a fully connected network with ``depth`` hidden layers.

    Args:
      depth: number of hidden layers, 1 <= L <= 100 (a two-layer network has depth 1).
      activation: ``"relu"``, ``"erf"``, ``"identity"``, ``"sin"``, ``"cos"`` or a
        :class:`~ntkspec.activations.Sine` ``a·sin(b·u + c)`` (closed forms, exact at any
        variance); a name evaluated by Gauss–Hermite quadrature (``"gelu"``, ``"tanh"``,
        ``"sigmoid"``, ``"softplus"``, ``"silu"``); or any elementwise JAX-differentiable
        callable (quadrature).
      weight_var: σ_w² of hidden and readout weights (default 2 for relu — He scaling — else 1).
      bias_var: σ_b² of every bias (default 0: bias-free).
      first_layer_var: σ_w0² of the first layer (default 1, so Σ_0 = t + σ_b²); no 1/d.
      trained_bias: β² >= 0 (default 0), a trained bias initialized at zero (Basri et al. 2019)
        in every hidden layer (the biases of the pre-activations h_0..h_{L-1}; not the
        readout), entering as ``β·b`` with ``b = 0`` at initialization. It adds β² to the NTK
        recursion, Θ_0 = σ_w0² t + σ_b² + β², Θ_l = Θ_{l-1} Σ̇_l + Σ_l + β² (l < L), and
        nothing to the NNGP. Two-layer ReLU with β² = 1: NTK(t) = (t + 1) k0(t) + k1(t).
        Together with ``bias_var`` it is the kernel of :func:`ntkspec.models.mlp` with the
        same arguments.
      quad_order: Gauss–Hermite nodes per dimension for quadrature activations (2..256): the
        starting order, doubled (up to 256) until the estimated ``quadrature_error`` is at
        most ``quad_tol``.
      quad_tol: largest accepted ``Kernel.quadrature_error`` (relative to κ(1)); in (0, 1).

    Returns:
      A :class:`Kernel`.

    Raises:
      ValueError: invalid arguments; layer variances that overflow or vanish; or a quadrature
        activation that order 256 cannot resolve to ``quad_tol`` at the network's variances
        (the message names the variance and the order, and what to do).

    Two-layer bias-free ReLU: NTK(t) = t k0(t) + k1(t), NTK(1) = 2, NNGP(0) = 1/π; sine at
    SIREN scale, first-layer variance q = ω0² = 900: NNGP(t) = e^{-q} sinh(qt):

    >>> k = mlp_kernel(1)
    >>> float(k.ntk(1.0)), round(float(k.nngp(0.0)) * np.pi, 6)
    (2.0, 1.0)
    >>> s = mlp_kernel(1, "sin", first_layer_var=900.0)
    >>> bool(np.isclose(float(s.nngp(0.99)), 0.5 * np.exp(-9.0), rtol=1e-5, atol=0))
    True
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    # numpy's Gauss–Hermite weights overflow to NaN beyond order ~370.
    quad_order = check_int("quad_order", quad_order, minimum=2, maximum=MAX_QUAD_ORDER)
    quad_tol = check_positive("quad_tol", quad_tol)
    if quad_tol >= 1.0:
        raise ValueError(f"Expected quad_tol < 1 (a relative error); got {quad_tol!r}.")
    name, phi, sine = _resolve_activation(activation)
    if weight_var is None:
        weight_var = 2.0 if name == "relu" else 1.0
    weight_var = check_positive("weight_var", weight_var)
    bias_var = check_positive("bias_var", bias_var, allow_zero=True)
    trained_bias = check_positive("trained_bias", trained_bias, allow_zero=True)
    first_layer_var = 1.0 if first_layer_var is None else first_layer_var
    first_layer_var = check_positive("first_layer_var", first_layer_var)
    if phi is not None:
        _check_activation(phi)
    args = (depth, weight_var, bias_var, first_layer_var)
    error = 0.0
    if phi is not None:
        quad_order, error = _resolve_quad_order(name, phi, args, trained_bias, quad_order, quad_tol)
    variances = _variances(name, phi, sine, *args, quad_order)
    return Kernel(
        depth, name, weight_var, bias_var, first_layer_var, quad_order, phi, variances,
        sine, trained_bias, error,
    )  # fmt: skip


def _resolve_activation(activation) -> tuple[str, Callable | None, tuple | None]:
    """(name, φ for quadrature or None, (a, b, c) of a sine or None) of an activation."""
    if isinstance(activation, Sine):
        sine = (activation.a, activation.b, activation.c)
        names = {(1.0, 1.0, 0.0): "sin", (1.0, 1.0, np.pi / 2): "cos"}
        return names.get(sine, "sine"), None, sine
    if callable(activation):
        return "custom", activation, None
    if isinstance(activation, str) and activation in ACTIVATIONS:
        fn = _CLOSED_FORM_ACTIVATIONS.get(activation)
        if isinstance(fn, Sine):
            return activation, None, (fn.a, fn.b, fn.c)
        return activation, _QUADRATURE_ACTIVATIONS.get(activation), None
    raise ValueError(
        f"Expected activation to be one of {list(ACTIVATIONS)}, an ntkspec.activations.Sine or "
        f"a JAX callable; got {activation!r}."
    )


def _variances(name, phi, sine, depth, sw, sb, sw0, order) -> tuple[float, ...]:
    """q_0..q_L: q_0 = σ_w0² + σ_b², q_l = σ_w² E[φ(√q_{l-1} z)²] + σ_b² (float64)."""
    qs = [sw0 + sb]
    for _ in range(depth):
        q = qs[-1]
        if sine is not None:
            second = Sine(*sine).second_moment(q)
        elif name == "relu":
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
                f"of layer {len(qs) - 1} is {qs[-1]:g}. {_variance_advice(qs[-1])}"
            )
    return tuple(qs)


def _variance_advice(q: float) -> str:
    """What to change when a layer variance overflows (lower) or vanishes (raise)."""
    if np.isfinite(q) and q <= 1.0:  # zero: underflow
        return "Raise weight_var, bias_var or first_layer_var, or lower depth (it vanishes)."
    return "Lower weight_var, first_layer_var or depth (it overflows)."


# ----------------------------------------------------------------------------- GH error
#: Values of t at which the Gauss–Hermite kernels of three orders are compared: t = 1 first
#: (κ(1) scales the error), t = -1, and 31 angles spread by the golden ratio (no symmetric
#: points such as t = 0, where odd integrands are exact for every rule).
_ERROR_T = np.concatenate([[1.0, -1.0], np.cos(np.pi * ((np.arange(1, 32) * 0.6180339887) % 1.0))])


def _resolve_quad_order(name, phi, args, beta2, order, tol) -> tuple[int, float]:
    """The lowest order ``order·2^j <= 256`` whose error estimate is ``<= tol``, and it.

    Raises ValueError (naming the largest pre-activation variance and the order) when even
    order 256 is not enough.
    """
    while True:
        error = max(
            _quadrature_error(phi, args, beta2, order), 4.0 * _moment_error(name, phi, args, order)
        )
        if error <= tol:
            return order, error
        if order >= MAX_QUAD_ORDER:
            break
        order = min(2 * order, MAX_QUAD_ORDER)
    depth, sw, sb, sw0 = args
    qs = _variances(name, phi, None, depth, sw, sb, sw0, order)
    layer = int(np.argmax(qs[:-1]))
    raise ValueError(
        f"Gauss–Hermite quadrature cannot resolve the {name} activation at this network's "
        f"pre-activation variance q = {qs[layer]:g} (layer {layer}): the estimated relative "
        f"kernel error is {error:.2g} at quad_order = {order} (the largest), above quad_tol = "
        f"{tol:g}. Lower first_layer_var or weight_var, use a closed-form activation (relu, "
        "erf, identity, sin, cos or ntkspec.activations.Sine(a, b, c) for a·sin(b·u + c)), or "
        "pass a larger quad_tol to accept this error (a kink or jump in the activation or its "
        "derivative, as in a ReLU written as a callable, converges slowly at any variance)."
    )


def _quadrature_error(phi, args, beta2, order) -> float:
    """Estimated max |κ_n − κ| / κ(1) of the Gauss–Hermite kernels (NNGP and NTK) at order n.

    With d1 = max |κ_n − κ_{3n/4}| and d2 = max |κ_n − κ_{n/2}| over ``_ERROR_T`` (relative to
    κ_n(1)) and r = d1/d2, the estimate is ``d1·8r/(1 − 2r)``: it exceeds the error of order
    n both for geometric convergence (error ≈ d1·r/(1 − r)) and for algebraic convergence
    n^{-p}, p >= 1/2 (error <= 6.5·d1 while 8r/(1 − 2r) >= 8). Differences at the rounding
    level (<= 1e-13) are returned as they are; r >= 1/2 (no convergence seen) gives
    ``max(d1, d2)·16``.
    """
    ref = _quadrature_kernel_np(phi, args, beta2, order)
    diffs = []
    for low in (max(2, (3 * order) // 4), max(2, order // 2)):
        other = _quadrature_kernel_np(phi, args, beta2, low)
        d = 0.0
        for k_ref, k_low in zip(ref, other, strict=True):
            scale = abs(k_ref[0])  # κ(1): _ERROR_T[0] = 1
            diff = np.max(np.abs(k_ref - k_low)) / scale if scale > 0 else np.inf
            d = max(d, float(diff) if np.isfinite(diff) else np.inf)
        diffs.append(d)
    d1, d2 = diffs
    if not np.isfinite(d1 + d2):
        return np.inf
    if max(d1, d2) <= _ROUNDING_LEVEL:
        return max(d1, d2)
    r = d1 / d2 if d2 > 0 else np.inf
    if r >= 0.5:
        return 16.0 * max(d1, d2)
    return max(d1 * 8.0 * r / (1.0 - 2.0 * r), _ROUNDING_LEVEL)


def _moment_error(name, phi, args, order) -> float:
    """Largest relative error of the Gauss–Hermite E[φ(√q z)²] and E[φ'(√q z)²] at every layer.

    The reference is a composite 8-point Gauss–Legendre rule with 2048 panels on z ∈ [-12, 12]
    (a different family of rule: it does not alias with Gauss–Hermite when φ oscillates faster
    than the Hermite nodes can resolve). These second moments are the kernel and its
    derivative kernel at ρ = 1, where the 2-D integrands have their highest frequency.
    """
    depth, sw, sb, sw0 = args
    qs = _variances(name, phi, None, depth, sw, sb, sw0, order)[:-1]
    zh, wh = _hermite_rule(order)
    zg, wg = _legendre_reference()
    error = 0.0
    with np.errstate(all="ignore"):
        for q in qs:
            f, df = _values_and_slopes(phi, np.sqrt(q) * np.concatenate([zh, zg]))
            for vals in (f, df):
                gh = np.sum(wh * vals[:order] ** 2)
                ref = np.sum(wg * vals[order:] ** 2)
                rel = abs(gh - ref) / abs(ref) if ref > 0 else (0.0 if gh == 0 else np.inf)
                error = max(error, float(rel) if np.isfinite(rel) else np.inf)
    return error


@functools.lru_cache(maxsize=1)
def _legendre_reference() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (normal density included) of the reference rule of ``_moment_error``."""
    x, w = np.polynomial.legendre.leggauss(8)
    edges = np.linspace(-12.0, 12.0, 2049)
    half = np.diff(edges)[:, None] / 2.0
    z = (edges[:-1, None] + half * (x + 1.0)).ravel()
    weights = (half * w).ravel() * np.exp(-(z**2) / 2.0) / np.sqrt(2.0 * np.pi)
    return z, weights


#: Kernel differences at or below this (relative) are float64 rounding, not quadrature error.
_ROUNDING_LEVEL = 1e-13


_CHUNK = 1 << 15


def _values_and_slopes(phi, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """φ(x), φ'(x) in float64, in chunks of one fixed size (eager ops compile once per size)."""
    n = x.size
    padded = np.zeros(-(-n // _CHUNK) * _CHUNK)
    padded[:n] = x
    f, df = [], []
    with _compat.enable_x64():
        for chunk in padded.reshape(-1, _CHUNK):
            c = jnp.asarray(chunk, jnp.float64)
            y, dy = jax.jvp(phi, (c,), (jnp.ones_like(c),))
            f.append(np.asarray(y, dtype=np.float64))
            df.append(np.asarray(dy, dtype=np.float64))
    return np.concatenate(f)[:n], np.concatenate(df)[:n]


def _quadrature_kernel_np(phi, args, beta2, order) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) at ``_ERROR_T`` by the Gauss–Hermite recursion at ``order``, float64 NumPy.

    An independent, eager implementation of the layer maps (variances at the same order)
    used only to estimate the quadrature error.
    """
    depth, sw, sb, sw0 = args
    z, w = _hermite_rule(order)
    t = _ERROR_T
    q, sigma = sw0 + sb, sw0 * t + sb
    theta = sigma + beta2
    with _compat.enable_x64(), np.errstate(all="ignore"):
        for l in range(depth):
            rho = np.clip(sigma / q, -1.0, 1.0)[:, None, None]
            v = np.sqrt(q) * (rho * z[None, :, None] + np.sqrt(1.0 - rho**2) * z[None, None, :])
            f, df = _values_and_slopes(phi, np.concatenate([np.sqrt(q) * z, v.ravel()]))
            fu, dfu, fv, dfv = f[:order], df[:order], f[order:], df[order:]
            fv, dfv = fv.reshape(v.shape), dfv.reshape(v.shape)
            e = np.einsum("i,j,i,kij->k", w, w, fu, fv)
            ed = np.einsum("i,j,i,kij->k", w, w, dfu, dfv)
            q = sw * float(np.sum(w * fu * fu)) + sb
            sigma = sw * e + sb
            theta = theta * sw * ed + sigma + (beta2 if l < depth - 1 else 0.0)
    return sigma, theta


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
