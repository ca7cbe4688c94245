"""Infinite-width kernels of residual MLPs, Fourier-feature networks and SIREN, as zonal kernels.

Every kernel here follows the :class:`~ntkspec.kernels.ZonalKernel` protocol, so ``spectrum``,
``gram``, the certified error bars and (where the Taylor coefficients are nonnegative) the
series route work for all of them. Networks, in NTK parametrization, width m → ∞, inputs on
S^{d−1}, t = <x, x'> (docs/theory.md §6.7):

- **Residual MLP** (:func:`resnet_kernel`), L blocks, branch scale α:
  ``h_0 = σ_0 A x``, ``h_l = h_{l−1} + α m^{−1/2} V_l φ(m^{−1/2} W_l h_{l−1})``,
  ``f = m^{−1/2} vᵀ h_L``, all weights N(0, 1) and trained. With ``E_l = E[φ(u)φ(v)]``,
  ``Ė_l = E[φ'(u)φ'(v)]`` at (u, v) ~ N(0, [[D, K], [K, D]]) of block l's input:

      K_0 = σ_0² t,  D_0 = σ_0²,  K_l = K_{l−1} + α² E_l,  D_l = D_{l−1} + α² E_l(ρ = 1)
      B_L = 1,  B_{l−1} = B_l (1 + α² Ė_l)
      NNGP = K_L,  NTK = K_L + B_0 K_0 + Σ_l α² B_l (E_l + Ė_l K_{l−1}).

  For φ = √2·relu, ``E_l = D_{l−1} k1(ρ_{l−1})``, ``Ė_l = k0(ρ_{l−1})``, ``D_l = σ_0²(1 + α²)^l``
  and ``NTK(1) = 2σ_0²(1 + α²)^{L−1}(1 + α² + Lα²)``. The correlation is carried as the pair
  ``(1 − ρ, 1 + ρ)``, updated as nonnegative weighted means, so values near t = ±1 keep full
  float64 precision (as :mod:`ntkspec.kernels` does for MLPs).
- **Fourier features** (:func:`fourier_kernel`): frozen ``γ(x) = M^{−1/2}[cos b_j·x, sin b_j·x]``,
  ``b_j ~ N(0, β I_d)``, ``<γ(x), γ(x')> → κ_FF(t) = exp(−β(1 − t))``. A network on top sees
  κ_FF(t) as its input inner product (variance 1 at t = 1): its kernel is the inner kernel
  evaluated at ``s = κ_FF(t)``, with ``1 − s = −expm1(−β(1 − t))`` exact. Without a network
  (a linear readout: random-features regression) NTK = NNGP = κ_FF, whose eigenvalues are
  ``λ_k = Γ(d/2) (2/β)^{(d−2)/2} e^{−β} I_{k+(d−2)/2}(β)``.
- **Power-law embedding on S^1** (:func:`power_law_kernel`): ``γ(θ) = [a_j cos jθ, a_j sin jθ]``,
  ``a_j ∝ j^{−p}`` (j = 1..J), ``Σ a_j² = 1`` (Tancik et al. 2020, 1-D): κ(θ) = Σ a_j² cos jθ,
  eigenvalues ``λ_k = a_k²/2`` on S^1.
- **SIREN** (:func:`siren_kernel`): sine activations, Gaussian first layer of variance ω0².

References: Belfer, Geifman, Galun & Basri 2021; Huang, Wang, Tao & Zhao 2020; Tancik et al.
2020; Sitzmann et al. 2020.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ntkspec import taylor
from ntkspec._validate import check_int, check_positive
from ntkspec.kernels import (
    Kernel,
    ZonalKernel,
    layer_map,
    layer_variance,
    mlp_kernel,
)
from ntkspec.limits import MAX_DEPTH, MAX_FEATURES, MAX_SERIES_ORDER

__all__ = [
    "ALPHA_RULES",
    "FourierKernel",
    "PowerLawKernel",
    "ResNetKernel",
    "architecture_kernel",
    "fourier_kernel",
    "power_law_kernel",
    "resnet_kernel",
    "resolve_alpha",
    "siren_kernel",
]

#: Depth-dependent branch scales accepted by :func:`resnet_kernel` (``alpha=`` a string).
ALPHA_RULES = {"1/sqrt(L)": lambda L: 1.0 / math.sqrt(L), "1/L": lambda L: 1.0 / L}


def _clamp(x, lo, hi):
    """Clamp with derivative 1 at the boundary (``jnp.clip`` halves it at ties: a wrong
    derivative at t = ±1)."""
    return jnp.where(x < lo, lo, jnp.where(x > hi, hi, x))


def _prepare(t, a, b):
    t, a, b = jnp.asarray(t), jnp.asarray(a), jnp.asarray(b)
    dtype = jnp.result_type(t, a, b, float)
    a = _clamp(a.astype(dtype), 0.0, 2.0)
    b = _clamp(b.astype(dtype), 0.0, 2.0)
    return t.astype(dtype), a, b


# ----------------------------------------------------------------------------- residual MLP
@dataclasses.dataclass(frozen=True)
class ResNetKernel(ZonalKernel):
    """NNGP and NTK of a residual MLP (module docstring). Build it with :func:`resnet_kernel`.

    Attributes:
      depth: number of residual blocks L (>= 1).
      alpha: the branch scale α (resolved: a float).
      first_layer_var: σ_0² of the input layer h_0 = σ_0 A x (no 1/d).
      branch: the bias-free depth-1 MLP :class:`~ntkspec.kernels.Kernel` whose activation and
        σ_w² define the branch nonlinearity ``√σ_w² φ`` (relu: σ_w² = 2, i.e. √2·relu).
      variances: the diagonal ``D_0..D_L`` (float64).
      branch_variances: ``E_l(ρ = 1)``, the variance added by block l = 1..L.
      alpha_rule: the depth rule α came from (``"1/sqrt(L)"``, ``"1/L"``) or ``None``.
    """

    depth: int
    alpha: float
    first_layer_var: float
    branch: Kernel
    variances: tuple[float, ...] = dataclasses.field(repr=False)
    branch_variances: tuple[float, ...] = dataclasses.field(repr=False)
    alpha_rule: str | None = None

    @property
    def activation(self) -> str:
        return self.branch.activation

    def evaluate(self, t, one_minus_t, one_plus_t):
        """(NNGP, NTK) given ``t``, ``1 − t``, ``1 + t`` (full precision near ±1)."""
        t, a, b = _prepare(t, one_minus_t, one_plus_t)
        al2 = self.alpha**2
        K0 = self.first_layer_var * t
        D = np.asarray(self.variances, dtype=np.float64)
        # Per block, as arrays: a scan compiles once whatever the depth (an unrolled loop of
        # 64 blocks took minutes to compile, once per input shape).
        xs = tuple(jnp.asarray(v, t.dtype) for v in (
            D[:-1], D[:-1] / D[1:], al2 * np.asarray(self.branch_variances) / D[1:],
            np.asarray(self.branch_variances),
        ))  # fmt: skip

        def block(carry, x):
            K, a, b = carry
            d_in, w_old, w_br, q_br = x
            e, ed, ea, eb = layer_map(self.branch, d_in, q_br, K / d_in, a, b)
            # 1 ∓ ρ_l = (D_{l−1}(1 ∓ ρ_{l−1}) + α² q_br (1 ∓ ρ_br)) / D_l: nonnegative terms.
            return (K + al2 * e, w_old * a + w_br * ea, w_old * b + w_br * eb), (K, e, ed)

        (K, _, _), (Ks, Es, Eds) = jax.lax.scan(block, (K0, a, b), xs)

        def back(carry, x):  # blocks L..1: B_{l−1} = B_l (1 + α² Ė_l)
            ntk, B = carry
            K_in, e, ed = x
            return (ntk + al2 * B * (e + ed * K_in), B * (1.0 + al2 * ed)), None

        (ntk, B), _ = jax.lax.scan(back, (K, jnp.ones_like(K)), (Ks, Es, Eds), reverse=True)
        return K, ntk + B * K0

    def supports_series(self, dim: int | None = None) -> bool:
        """Nonnegative series: always (closed-form branches); not for ReLU on S^1, S^2."""
        return dim is None or dim > 3 or self.activation != "relu"

    def taylor(self, which: str = "ntk", order: int = 256) -> taylor.TaylorSeries:
        """Nonnegative Taylor coefficients at t = 0 (:func:`ntkspec.taylor.resnet_series`)."""
        return _finish(self, which, order, self.series_with_input, 2 * self.depth + 1)

    def series_with_input(self, which: str, inputs):
        """Coefficients of the kernel whose first layer sees a series input (composition)."""
        return taylor.resnet_series(self, which, inputs)


def resolve_alpha(alpha: float | str, depth: int) -> tuple[float, str | None]:
    """``(α, rule)`` from a float α >= 0 or a rule name in ``ALPHA_RULES`` at depth L."""
    if isinstance(alpha, str):
        if alpha not in ALPHA_RULES:
            raise ValueError(
                f"Expected alpha to be a number >= 0 or one of {list(ALPHA_RULES)}; got {alpha!r}."
            )
        return float(ALPHA_RULES[alpha](depth)), alpha
    return check_positive("alpha", alpha, allow_zero=True), None


def resnet_kernel(
    depth: int,
    alpha: float | str = 1.0,
    activation: str | Callable = "relu",
    weight_var: float | None = None,
    first_layer_var: float = 1.0,
) -> ResNetKernel:
    """Infinite-width NNGP/NTK of a residual MLP with ``depth`` blocks (module docstring).

    Args:
      depth: number of residual blocks L, 1 <= L <= 100.
      alpha: branch scale α >= 0, or a depth rule: ``"1/sqrt(L)"`` (Belfer et al. 2021, Huang
        et al. 2020: the kernel keeps its shape as L grows) or ``"1/L"``.
      activation: a closed-form activation of :func:`~ntkspec.kernels.mlp_kernel` (relu, erf,
        identity, sin, cos or an :class:`~ntkspec.activations.Sine`).
      weight_var: σ_w² multiplying the branch activation's second moment (default 2 for relu —
        the branch nonlinearity is then √2·relu — else 1).
      first_layer_var: σ_0² of the input layer (default 1; no 1/d).

    Returns:
      A :class:`ResNetKernel`.

    Raises:
      ValueError: invalid arguments, a Gauss–Hermite activation, or a diverging diagonal.

    ReLU, L = 3, α = 0.7: NTK(1) = 2(1 + α²)^{L−1}(1 + α² + Lα²):

    >>> k = resnet_kernel(3, 0.7)
    >>> a2 = 0.49
    >>> bool(np.isclose(k.kappa_one(), 2 * (1 + a2) ** 2 * (1 + a2 + 3 * a2), rtol=1e-14))
    True
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    alpha, rule = resolve_alpha(alpha, depth)
    first_layer_var = check_positive("first_layer_var", first_layer_var)
    branch = mlp_kernel(1, activation, weight_var, 0.0, 1.0)
    if not branch.exact_gram:
        raise ValueError(
            "Expected a closed-form activation for resnet_kernel (relu, erf, identity, sin, cos "
            f"or an ntkspec.activations.Sine); got {branch.activation!r} (Gauss–Hermite)."
        )
    variances, added = [first_layer_var], []
    for _ in range(depth):
        q_br = layer_variance(branch, variances[-1])
        added.append(q_br)
        variances.append(variances[-1] + alpha**2 * q_br)
        if not (np.isfinite(variances[-1]) and variances[-1] > 0):
            raise ValueError(
                f"Expected finite block variances; got {variances[-1]:g} at block "
                f"{len(added)}. Lower alpha, weight_var or depth."
            )
    return ResNetKernel(depth, alpha, first_layer_var, branch, tuple(variances), tuple(added), rule)


# ----------------------------------------------------------------------------- features
def _inner_series_ok(inner, dim) -> bool:
    return (
        inner is None
        or callable(getattr(inner, "series_with_input", None))
        and bool(inner.supports_series(dim))
    )


class _FeatureKernel(ZonalKernel):
    """A kernel of frozen features ``(s, 1 − s, 1 + s) = features(t, 1 − t, 1 + t)`` under an
    optional ``inner`` network kernel (``None``: a linear readout, NTK = NNGP = s)."""

    inner: ZonalKernel | None = None

    def evaluate(self, t, one_minus_t, one_plus_t):
        s, sm, sp = self.features(t, one_minus_t, one_plus_t)
        return (s, s) if self.inner is None else self.inner.evaluate(s, sm, sp)

    @property
    def quadrature_error(self) -> float:  # type: ignore[override]
        return 0.0 if self.inner is None else self.inner.quadrature_error

    @property
    def exact_gram(self) -> bool:  # type: ignore[override]
        return True if self.inner is None else self.inner.exact_gram


@dataclasses.dataclass(frozen=True)
class FourierKernel(_FeatureKernel):
    """Gaussian random Fourier features, optionally under a network: ``inner(κ_FF(t))``.

    Build it with :func:`fourier_kernel`.

    Attributes:
      beta: β, the variance of the frequencies b_j ~ N(0, β I_d).
      inner: the kernel of the network on top (``None``: linear readout, NTK = NNGP = κ_FF).
    """

    beta: float
    inner: ZonalKernel | None = None

    def features(self, t, one_minus_t, one_plus_t):
        """``(s, 1 − s, 1 + s)`` with s = κ_FF(t) = e^{−β(1 − t)}, each without cancellation."""
        t, a, b = _prepare(t, one_minus_t, one_plus_t)
        s = jnp.exp(-self.beta * a)
        return s, -jnp.expm1(-self.beta * a), 1.0 + s

    def supports_series(self, dim: int | None = None) -> bool:
        """e^{−β(1−t)} = e^{−β} Σ βⁿtⁿ/n! is nonnegative; composed with a nonnegative series."""
        return _inner_series_ok(self.inner, dim)

    def taylor(self, which: str = "ntk", order: int = 256) -> taylor.TaylorSeries:
        """Nonnegative Taylor coefficients at t = 0 of the composite kernel."""
        depth = 0 if self.inner is None else 2 * getattr(self.inner, "depth", 1) + 1
        series = _finish(self, which, order, self.series_with_input, depth + 1)
        if self.inner is not None:
            return series
        # Depth 0: a_n = e^{−β} βⁿ/n!; Cauchy at r = 2 (a_n 2ⁿ <= κ(2) = e^{β}), no margin.
        log_bound = self.beta - (order + 1) * np.log(2.0) + np.log(2.0)
        tail = np.exp(log_bound) * (1 + 1e-12)
        return series._replace(tail=np.minimum(series.tail, tail))

    def series_with_input(self, which: str, inputs):
        x, xm, rel = inputs
        n = x.shape[0]
        ld = np.longdouble
        # e^{−β(1 − x)} = e^{−β(1 − x_0)} Σ_m (β (x − x_0))^m / m!: exponential of a series.
        beta = ld(self.beta)
        s = np.zeros(n, dtype=ld)
        s[0] = np.exp(-beta * ld(xm))
        dx = np.asarray(x, dtype=ld)[1:] * np.arange(1, n, dtype=ld) * beta  # β x'
        for m in range(n - 1):  # s' = β x' s
            s[m + 1] = np.dot(dx[: m + 1], s[m::-1]) / (m + 1)
        s_rel = rel * n + 16 * n * float(np.finfo(ld).eps)
        sm = -np.expm1(-beta * ld(xm))
        if self.inner is None:
            return s, s_rel
        return self.inner.series_with_input(which, (s, sm, s_rel))


def fourier_kernel(beta: float, inner: ZonalKernel | None = None) -> FourierKernel:
    """Kernel of a network on frozen Gaussian Fourier features of scale β (module docstring).

    Args:
      beta: β > 0, the variance of the frequencies (the knee of the spectrum is near k ≈ √β).
      inner: the kernel of the network on top of the features, e.g. ``mlp_kernel(2)`` or
        ``resnet_kernel(3, 0.7)`` (its first layer sees ``<γ(x), γ(x')>`` with variance 1);
        ``None`` (default) for a linear readout (depth 0: random-features regression).

    Returns:
      A :class:`FourierKernel`.

    Depth 0 on S^2: λ_k = √(π/(2β)) e^{−β} I_{k+1/2}(β):

    >>> from scipy.special import ive
    >>> from ntkspec.spectrum import spectrum
    >>> lam = spectrum(fourier_kernel(4.0), 3, 6).eigenvalues
    >>> bool(np.allclose(lam, np.sqrt(np.pi / 8) * ive(np.arange(7) + 0.5, 4.0), rtol=1e-12))
    True
    """
    beta = check_positive("beta", beta)
    if inner is not None and not callable(getattr(inner, "evaluate", None)):
        raise TypeError(
            "Expected inner to be a zonal kernel (mlp_kernel, resnet_kernel, …) or None; got "
            f"{type(inner).__name__}."
        )
    return FourierKernel(beta, inner)


@dataclasses.dataclass(frozen=True)
class PowerLawKernel(_FeatureKernel):
    """Deterministic power-law Fourier embedding on S^1, optionally under a network.

    ``κ(θ) = Σ_{j=1..J} w_j cos jθ``, ``w_j = j^{−2p}/Σ_i i^{−2p}`` (a_j² of the embedding).
    A zonal kernel on S^1 only: on S^{d−1}, d > 2, ``Σ w_j T_j(t)`` is in general not
    positive definite. Build it with :func:`power_law_kernel`.

    Attributes:
      p: the decay exponent of the amplitudes a_j ∝ j^{−p}.
      weights: ``(w_1, …, w_J)``, summing to 1.
      inner: the kernel of the network on top (``None``: linear readout).
    """

    p: float
    weights: tuple[float, ...]
    inner: ZonalKernel | None = None

    def check_dim(self, dim: int | None) -> None:
        """``ValueError`` unless ``dim`` is 2 (or None): a kernel of S^1 only (class docstring)."""
        if dim is not None and dim != 2:
            raise ValueError(
                f"Expected dim = 2 for a power-law embedding kernel (a kernel of S^1; on "
                f"S^{dim - 1} it is in general not positive definite); got dim = {dim}."
            )

    def supports_series(self, dim: int | None = None) -> bool:
        """No series route; ``ValueError`` on S^{dim−1}, dim > 2 (:meth:`check_dim`)."""
        self.check_dim(dim)
        return False

    def features(self, t, one_minus_t, one_plus_t):
        """``(s, 1 − s, 1 + s)`` = (Σ w_j cos jθ, Σ 2 w_j sin²(jθ/2), Σ 2 w_j cos²(jθ/2))."""
        t, a, b = _prepare(t, one_minus_t, one_plus_t)
        theta = 2.0 * jnp.arctan2(jnp.sqrt(a), jnp.sqrt(b))  # accurate at both ends
        j = jnp.arange(1, len(self.weights) + 1, dtype=theta.dtype)
        w = jnp.asarray(self.weights, theta.dtype)
        half = 0.5 * theta[..., None] * j
        s = jnp.sum(w * jnp.cos(2.0 * half), axis=-1)
        sm = jnp.sum(2.0 * w * jnp.sin(half) ** 2, axis=-1)
        sp = jnp.sum(2.0 * w * jnp.cos(half) ** 2, axis=-1)
        return s, sm, sp


def power_law_kernel(p: float, features: int, inner: ZonalKernel | None = None) -> PowerLawKernel:
    """Kernel of the power-law embedding ``a_j [cos jθ, sin jθ]`` on S^1 (module docstring).

    Args:
      p: amplitude exponent, a_j ∝ j^{−p} (any real; p = 0 is a flat embedding).
      features: J >= 1, the number of frequencies.
      inner: the kernel of a network on top, or ``None`` (linear readout).

    >>> k = power_law_kernel(1.0, 4)
    >>> w = np.arange(1, 5.0) ** -2.0
    >>> ref = np.sum(w / w.sum() * np.cos(np.arange(1, 5) * np.pi / 2))  # κ at θ = π/2
    >>> bool(np.isclose(float(k.ntk(0.0)), ref))
    True
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not np.isfinite(p):
        raise TypeError(f"Expected p to be a finite real number; got {p!r}.")
    features = check_int("features", features, minimum=1, maximum=MAX_FEATURES)
    w = np.arange(1, features + 1, dtype=np.float64) ** (-2.0 * float(p))
    w = w / w.sum()
    return PowerLawKernel(float(p), tuple(float(v) for v in w), inner)


# ----------------------------------------------------------------------------- SIREN
def siren_kernel(depth: int, omega0: float = 30.0, weight_var: float = 2.0) -> Kernel:
    """NNGP/NTK of a SIREN (Sitzmann et al. 2020) with a Gaussian first layer.

    ``h_0 = ω0 W_0 x`` with W_0 ~ N(0, 1) (first-layer variance ω0², no 1/d), then sine
    layers ``sin(h)`` with σ_w² = ``weight_var`` (default 2: SIREN's hidden initialization
    U(−√(6/m)/ω0, √(6/m)/ω0) times ω0 has variance 2/m). This is
    ``mlp_kernel(depth, "sin", weight_var, first_layer_var=ω0²)``, evaluated in closed form.

    SIREN initializes the first layer uniformly, W_0 ~ U(−1/d, 1/d) per entry: the law of
    W_0 x then depends on the direction of x (it is not rotation invariant), so the kernel is
    not zonal and mixes harmonic degrees; the Gaussian first layer keeps it zonal with the
    same per-row variance scale. Only the first layer matters: for hidden layers of width
    m → ∞ the central limit theorem makes the uniform and Gaussian inits equivalent.

    >>> k = siren_kernel(1, 30.0)
    >>> bool(np.isclose(k.kappa_one("nngp"), 2 * 0.5 * (1 - np.exp(-2 * 900.0))))
    True
    """
    omega0 = check_positive("omega0", omega0)
    return mlp_kernel(depth, "sin", weight_var, 0.0, omega0**2)


def architecture_kernel(
    arch: str,
    depth: int,
    *,
    activation: str = "relu",
    weight_var: float | None = None,
    bias_var: float = 0.0,
    first_layer_var: float | None = None,
    alpha: float | str | None = None,
    beta: float | None = None,
    power: float | None = None,
    features: int | None = None,
    omega0: float = 30.0,
) -> ZonalKernel:
    """The infinite-width kernel of an architecture named as in ``[model] arch`` / ``--arch``.

    ``"mlp"`` (:func:`~ntkspec.kernels.mlp_kernel`; with an ``alpha``, a residual MLP),
    ``"resnet"`` (:func:`resnet_kernel`, ``alpha`` default 1), ``"fourier"``
    (:func:`fourier_kernel` with ``beta``) and ``"power_law"`` (:func:`power_law_kernel` with
    ``power`` and ``features``) under that network, or a linear readout at ``depth = 0``;
    ``"siren"``: sine layers with first-layer variance ``omega0²`` (:func:`siren_kernel`, plus
    ``bias_var``; ``weight_var`` default 2). The one mapping that ``ntkspec.experiments`` and
    the CLI share; each validates its own keys or flags first.

    >>> architecture_kernel("fourier", 0, beta=4.0) == fourier_kernel(4.0)
    True
    """
    if arch == "siren":
        omega0 = check_positive("omega0", omega0)
        wv = 2.0 if weight_var is None else weight_var
        return mlp_kernel(depth, "sin", wv, bias_var, omega0**2)
    network = functools.partial(
        _network_kernel, arch, depth, activation, weight_var, bias_var, first_layer_var, alpha
    )
    if arch == "fourier":
        return fourier_kernel(beta, None if depth == 0 else network())
    if arch == "power_law":
        return power_law_kernel(power, features, None if depth == 0 else network())
    return network()


def _network_kernel(arch, depth, activation, weight_var, bias_var, first_layer_var, alpha):
    """The MLP or residual MLP of :func:`architecture_kernel` (on the features, if any)."""
    if arch == "resnet" or alpha is not None:
        flv = 1.0 if first_layer_var is None else first_layer_var
        return resnet_kernel(depth, 1.0 if alpha is None else alpha, activation, weight_var, flv)
    return mlp_kernel(depth, activation, weight_var, bias_var, first_layer_var)


# ----------------------------------------------------------------------------- series
def _finish(kernel, which: str, order: int, series_with_input, depth: int):
    """A :class:`~ntkspec.taylor.TaylorSeries` with tails, from a ``series_with_input``."""
    from ntkspec._validate import check_choice

    check_choice("which", which, ("ntk", "nngp"))
    order = check_int("order", order, minimum=1, maximum=MAX_SERIES_ORDER)
    coeffs, rel = series_with_input(which, taylor.identity_input(order))
    tails = taylor.series_tails(kernel, which, coeffs, rel, depth)
    return taylor.TaylorSeries(coeffs, rel, tails)
