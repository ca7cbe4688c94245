"""Trainable residual MLPs, Fourier-feature networks and SIRENs, as pure ``init``/``apply``.

Each network's infinite-width kernels are those of :mod:`ntkspec.architectures` with the same
arguments (``model.kernel()``), in NTK parametrization (docs/theory.md §6.7):

- :func:`resnet`: ``h_0 = σ_0 x A``,
  ``h_l = h_{l−1} + α m^{−1/2} √σ_w² φ(m^{−1/2} h_{l−1} W_l) V_l``, ``f = m^{−1/2} h_L v``;
  A (d, m), W_l, V_l (m, m), v (m,), all N(0, 1) and trained.
  Parameters: ``{"A", "W": (L, m, m), "V": (L, m, m), "v"}``.
- :func:`fourier_net`: frozen features ``γ(x) = M^{−1/2}[cos(x Bᵀ), sin(x Bᵀ)]``,
  B (M, d) ~ N(0, β), drawn once from a key when the model is built (they are part of the
  model, not of the parameters), then a linear readout ``f = γ(x)·w`` (w (2M,) ~ N(0, 1)) or
  any :func:`ntkspec.models.mlp` / :func:`resnet` applied to γ(x).
- :func:`siren`: ``ntkspec.models.mlp(depth, width, "sin", 2.0, 0.0, ω0²)``, whose kernel is
  :func:`ntkspec.architectures.siren_kernel` (a Gaussian first layer: zonal).

``centered=True`` is the antisymmetric trick of :mod:`ntkspec.models`: a pair of identical
copies, ``f = (f(p₊) − f(p₋))/√2``, output 0 at initialization, same NTK.

The apply functions carry a static spec with ``layer_features``, so
:func:`ntkspec.empirical.empirical_ntk` computes their NTK by the layer-wise Gram trick
(``method="structured"``): every weight matrix M with input rows ``a`` and output gradient
rows ``g`` contributes ``(a a'ᵀ) ∘ (g g'ᵀ)`` — for a residual block, W_l has input
``h_{l−1}/√m`` and gradient ``δ_l = α m^{−1/2} (g_l V_lᵀ) ∘ √σ_w² φ'(z_l)``, V_l has input
``α √σ_w² φ(z_l)/√m`` and gradient ``g_l = ∂f/∂h_l``, and ``g_{l−1} = g_l + m^{−1/2} δ_l W_lᵀ``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ntkspec import _compat
from ntkspec._validate import check_float_dtype, check_int, check_positive
from ntkspec.architectures import (
    FourierKernel,
    PowerLawKernel,
    ResNetKernel,
    fourier_kernel,
    power_law_kernel,
    resnet_kernel,
    resolve_alpha,
)
from ntkspec.kernels import activation_fn
from ntkspec.limits import MAX_DEPTH
from ntkspec.models import MLP, mlp

__all__ = ["FourierNet", "ResNet", "fourier_net", "power_law_net", "resnet", "siren"]

Params = Any


def _check_key(key) -> None:
    if not isinstance(key, jax.Array):
        raise TypeError(f"Expected a JAX PRNG key; got {type(key).__name__}.")


def _copies(centered: bool, params) -> list:
    if not centered:
        return [params]
    if not isinstance(params, (tuple, list)) or len(params) != 2:
        raise ValueError(
            "Expected params of a centered network to be a pair (p_plus, p_minus) as returned by "
            f"init; got {type(params).__name__}."
        )
    return list(params)


def _check_x(X, d: int) -> jax.Array:
    X = jnp.asarray(X)
    if X.ndim not in (1, 2) or X.shape[-1] != d:
        raise ValueError(f"Expected X of shape (n, {d}) or ({d},); got shape {X.shape}.")
    return X


# ----------------------------------------------------------------------------- residual MLP
@dataclasses.dataclass(frozen=True)
class _ResSpec:
    """Static configuration of a :func:`resnet` (hashable: a jit static argument)."""

    depth: int
    width: int
    alpha: float
    phi: Callable
    weight_var: float
    first_layer_var: float
    centered: bool

    @property
    def feature_columns(self) -> int:
        return self.width * (2 * self.depth + 2)

    @property
    def bias_grad_vars(self) -> tuple[float, ...]:
        """No biases: zeros for the 2L + 2 weight matrices."""
        return (0.0,) * (2 * self.depth + 2)

    def input_dim(self, p) -> int:
        return int(jnp.shape(p["A"])[0])

    def check_params(self, params) -> list:
        copies = _copies(self.centered, params)
        m, L = self.width, self.depth
        for p in copies:
            if not isinstance(p, dict) or set(p) != {"A", "W", "V", "v"}:
                raise ValueError("Expected params to be a dict with keys A, W, V, v from init.")
            shapes = {k: tuple(jnp.shape(v)) for k, v in p.items()}
            want = {"A": (shapes["A"][0], m), "W": (L, m, m), "V": (L, m, m), "v": (m,)}
            if shapes != want:
                raise ValueError(f"Expected parameter shapes {want}; got {shapes}.")
        return copies

    def forward(self, p, X) -> jax.Array:
        m = self.width
        s, gain = 1.0 / math.sqrt(m), math.sqrt(self.weight_var)
        h = math.sqrt(self.first_layer_var) * (X @ p["A"])
        for l in range(self.depth):
            h = h + (self.alpha * s * gain) * (self.phi(s * (h @ p["W"][l])) @ p["V"][l])
        return s * (h @ p["v"])

    def layer_features(self, p, X) -> list[tuple[jax.Array, jax.Array]]:
        """``(a, g)`` per weight matrix (module docstring): Θ = Σ (a a'ᵀ) ∘ (g g'ᵀ)."""
        m = self.width
        s, gain, al = 1.0 / math.sqrt(m), math.sqrt(self.weight_var), self.alpha
        x0 = math.sqrt(self.first_layer_var) * X
        hs, zs = [x0 @ p["A"]], []
        for l in range(self.depth):
            z = s * (hs[-1] @ p["W"][l])
            zs.append(z)
            hs.append(hs[-1] + (al * s * gain) * (self.phi(z) @ p["V"][l]))
        feats = [(s * hs[-1], jnp.ones((X.shape[0], 1), hs[-1].dtype))]  # readout v
        g = jnp.broadcast_to(s * p["v"], hs[-1].shape)  # ∂f/∂h_L
        for l in range(self.depth - 1, -1, -1):
            act, dact = jax.jvp(self.phi, (zs[l],), (jnp.ones_like(zs[l]),))
            feats.append((al * s * gain * act, g))  # V_l
            delta = (al * s * gain) * (g @ p["V"][l].T) * dact
            feats.append((s * hs[l], delta))  # W_l
            g = g + s * (delta @ p["W"][l].T)
        feats.append((x0, g))  # A
        return feats


@dataclasses.dataclass(frozen=True)
class _Apply:
    """``apply(params, X)`` of a network here; carries the static spec (structured NTK)."""

    spec: Any

    def __call__(self, params: Params, X: ArrayLike) -> jax.Array:
        copies = self.spec.check_params(params)
        X = _check_x(X, self.spec.input_dim(copies[0]))
        batch = X if X.ndim == 2 else X[None]
        outs = [self.spec.forward(p, batch) for p in copies]
        f = outs[0] if len(outs) == 1 else (outs[0] - outs[1]) / math.sqrt(2.0)
        return f if X.ndim == 2 else f[0]


@dataclasses.dataclass(frozen=True)
class _ResInit:
    spec: _ResSpec
    dtype: Any

    def __call__(self, key: jax.Array, d: int) -> Params:
        d = check_int("d", d, minimum=1)
        _check_key(key)
        m, L = self.spec.width, self.spec.depth
        with _compat.random_streams():
            ka, kw, kv, ko = jax.random.split(key, 4)
            p = {
                "A": jax.random.normal(ka, (d, m), self.dtype),
                "W": jax.random.normal(kw, (L, m, m), self.dtype),
                "V": jax.random.normal(kv, (L, m, m), self.dtype),
                "v": jax.random.normal(ko, (m,), self.dtype),
            }
        return (p, jax.tree.map(jnp.copy, p)) if self.spec.centered else p


class ResNet(NamedTuple):
    """A residual MLP (module docstring). ``init(key, d)``, ``apply(params, X)``, ``kernel()``."""

    init: Callable
    apply: Callable
    depth: int
    width: int
    alpha: float | str
    activation: str | Callable
    weight_var: float | None
    first_layer_var: float
    centered: bool
    dtype: Any

    def kernel(self) -> ResNetKernel:
        """The infinite-width :class:`~ntkspec.architectures.ResNetKernel` of this network."""
        return resnet_kernel(
            self.depth, self.alpha, self.activation, self.weight_var, self.first_layer_var
        )


def resnet(
    depth: int,
    width: int,
    alpha: float | str = 1.0,
    activation: str | Callable = "relu",
    weight_var: float | None = None,
    first_layer_var: float = 1.0,
    *,
    centered: bool = False,
    dtype=jnp.float32,
) -> ResNet:
    """A residual MLP with ``depth`` blocks of ``width`` whose kernel is ``resnet_kernel``.

    Arguments as :func:`ntkspec.architectures.resnet_kernel` (α a float or ``"1/sqrt(L)"``;
    σ_w² = 2 for relu — the branch is √2·relu — else 1), plus the width m, ``centered``
    (antisymmetric pair, output 0 at init) and the parameter ``dtype``.

    >>> net = resnet(2, 256, alpha=0.5)
    >>> p = net.init(jax.random.key(0), 3)
    >>> net.apply(p, jnp.eye(3)).shape
    (3,)
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = check_int("width", width, minimum=1)
    value, _ = resolve_alpha(alpha, depth)
    kernel = resnet_kernel(depth, alpha, activation, weight_var, first_layer_var)
    if not isinstance(centered, bool):
        raise TypeError(f"Expected centered to be a bool; got {centered!r}.")
    spec = _ResSpec(
        depth, width, value, activation_fn(activation), kernel.branch.weight_var,
        kernel.first_layer_var, centered,
    )  # fmt: skip
    dtype = check_float_dtype(dtype, "the parameters")
    return ResNet(
        _ResInit(spec, dtype), _Apply(spec), depth, width, alpha, activation, weight_var,
        kernel.first_layer_var, centered, dtype,
    )  # fmt: skip


# ----------------------------------------------------------------------------- Fourier features
@dataclasses.dataclass(frozen=True, eq=False)
class _FourierSpec:
    """Frozen frequencies B (M, d) and the network on top (its spec, or None: readout).

    Hashed by identity (B is an array): reuse the same model to reuse compilations.
    """

    frequencies: np.ndarray
    inner: Any
    centered: bool

    def embed(self, X) -> jax.Array:
        proj = X @ jnp.asarray(self.frequencies, X.dtype).T
        scale = 1.0 / math.sqrt(self.frequencies.shape[0])
        return scale * jnp.concatenate([jnp.cos(proj), jnp.sin(proj)], axis=-1)

    @property
    def width(self) -> int:
        return 2 * self.frequencies.shape[0] if self.inner is None else self.inner.width

    @property
    def depth(self) -> int:
        return 0 if self.inner is None else self.inner.depth

    @property
    def feature_columns(self) -> int:
        if self.inner is None:
            return 2 * self.frequencies.shape[0] + 1
        return getattr(self.inner, "feature_columns", self.inner.width * (self.inner.depth + 1))

    @property
    def bias_grad_vars(self) -> tuple[float, ...]:
        return (0.0,) if self.inner is None else self.inner.bias_grad_vars

    def input_dim(self, _p) -> int:
        return self.frequencies.shape[1]

    def check_params(self, params) -> list:
        if self.inner is None:
            copies = _copies(self.centered, params)
            for p in copies:
                if (
                    not isinstance(p, dict)
                    or set(p) != {"w"}
                    or jnp.shape(p["w"]) != (2 * self.frequencies.shape[0],)
                ):
                    raise ValueError(
                        f"Expected params {{'w': ({2 * self.frequencies.shape[0]},)}} from init."
                    )
            return copies
        return self.inner.check_params(params)

    def forward(self, p, X) -> jax.Array:
        if self.inner is None:
            return self.embed(X) @ p["w"]
        return self.inner.forward(p, self.embed(X))

    def layer_features(self, p, X) -> list:
        g = self.embed(X)
        if self.inner is None:
            return [(g, jnp.ones((X.shape[0], 1), g.dtype))]
        return self.inner.layer_features(p, g)


@dataclasses.dataclass(frozen=True, eq=False)
class _PowerLawSpec(_FourierSpec):
    """The power-law embedding on S^1: ``frequencies[:, 0]`` holds j = 1..J (d = 2), and
    ``amplitudes`` a_j (Σ a_j² = 1)."""

    amplitudes: np.ndarray = None

    def embed(self, X) -> jax.Array:
        theta = jnp.arctan2(X[..., 1], X[..., 0])[..., None]
        j = jnp.asarray(self.frequencies[:, 0], X.dtype)
        a = jnp.asarray(self.amplitudes, X.dtype)
        return jnp.concatenate([a * jnp.cos(j * theta), a * jnp.sin(j * theta)], axis=-1)


@dataclasses.dataclass(frozen=True, eq=False)
class _FourierInit:
    spec: _FourierSpec
    net: Any
    dtype: Any

    def __call__(self, key: jax.Array, d: int) -> Params:
        d = check_int("d", d, minimum=1)
        _check_key(key)
        if d != self.spec.frequencies.shape[1]:
            raise ValueError(
                f"Expected d = {self.spec.frequencies.shape[1]} (the frequencies' dimension); "
                f"got {d}."
            )
        M2 = 2 * self.spec.frequencies.shape[0]
        if self.net is not None:
            return self.net.init(key, M2)
        with _compat.random_streams():
            p = {"w": jax.random.normal(key, (M2,), self.dtype)}
        return (p, jax.tree.map(jnp.copy, p)) if self.spec.centered else p


class FourierNet(NamedTuple):
    """A network on frozen Gaussian Fourier features (module docstring).

    Attributes:
      init, apply: pure functions (``init(key, d)``; ``d`` must match the frequencies).
      frequencies: B (M, d), float64 NumPy, frozen.
      beta: β, the variance of the frequencies.
      net: the network on top (``ntkspec.models.MLP`` / :class:`ResNet`) or ``None``.
      embed: ``embed(X) -> (n, 2M)``, the features γ(X).
      power: p of a :func:`power_law_net` (then ``frequencies[:, 0]`` = 1..J, β is None).
    """

    init: Callable
    apply: Callable
    frequencies: np.ndarray
    beta: float
    net: Any
    embed: Callable
    power: float | None = None

    def kernel(self) -> FourierKernel | PowerLawKernel:
        """The infinite-width kernel ``fourier_kernel(β, net.kernel())`` (M → ∞ features), or
        ``power_law_kernel(p, J, net.kernel())`` (exact) for :func:`power_law_net`."""
        inner = None if self.net is None else self.net.kernel()
        if self.power is not None:
            return power_law_kernel(self.power, self.frequencies.shape[0], inner)
        return fourier_kernel(self.beta, inner)


def fourier_net(
    key: jax.Array,
    d: int,
    features: int,
    beta: float,
    net: MLP | ResNet | None = None,
    *,
    centered: bool = False,
    dtype=jnp.float32,
) -> FourierNet:
    """A network on M frozen Fourier features ``b_j ~ N(0, β I_d)`` drawn from ``key``.

    Args:
      key: PRNG key of the frozen frequencies (not of the trained parameters).
      d: input dimension (points on S^{d−1}).
      features: M >= 1 (2M features: cos and sin).
      beta: β > 0.
      net: the network on top, built with its input dimension free (``mlp(...)`` or
        ``resnet(...)``; its own ``centered``/``dtype`` apply), or ``None`` for a linear
        readout (random-features regression: NTK = NNGP = ``<γ(x), γ(x')>``).
      centered, dtype: of the linear readout (ignored when ``net`` is given).

    >>> model = fourier_net(jax.random.key(0), 3, 512, 4.0)
    >>> p = model.init(jax.random.key(1), 3)
    >>> model.apply(p, jnp.eye(3)).shape
    (3,)
    """
    _check_key(key)
    d = check_int("d", d, minimum=1)
    features = check_int("features", features, minimum=1)
    beta = check_positive("beta", beta)
    if net is not None and not isinstance(net, (MLP, ResNet)):
        raise TypeError(
            f"Expected net to be an ntkspec.models.mlp or a resnet, or None; got "
            f"{type(net).__name__}."
        )
    with _compat.random_streams(), _compat.enable_x64():
        B = np.asarray(jax.random.normal(key, (features, d), jnp.float64)) * math.sqrt(beta)
    inner = None if net is None else net.apply.spec
    spec = _FourierSpec(B, inner, centered if net is None else net.centered)
    return FourierNet(
        _FourierInit(spec, net, check_float_dtype(dtype, "the parameters")),
        _Apply(spec),
        B,
        beta,
        net,
        spec.embed,
    )


# ----------------------------------------------------------------------------- SIREN
def siren(depth: int, width: int, omega0: float = 30.0, weight_var: float = 2.0, **kwargs) -> MLP:
    """A SIREN with a Gaussian first layer: ``mlp(depth, width, "sin", weight_var, 0, ω0²)``.

    ``model.kernel()`` is :func:`ntkspec.architectures.siren_kernel` ``(depth, ω0, weight_var)``
    (whose docstring says why the Gaussian first layer replaces SIREN's uniform one).
    Keyword arguments (``centered``, ``dtype``) go to :func:`ntkspec.models.mlp`.
    """
    omega0 = check_positive("omega0", omega0)
    return mlp(depth, width, "sin", weight_var, 0.0, omega0**2, **kwargs)


# ----------------------------------------------------------------------------- power law
def power_law_net(
    p: float,
    features: int,
    net: MLP | ResNet | None = None,
    *,
    centered: bool = False,
    dtype=jnp.float32,
) -> FourierNet:
    """A network on the power-law embedding of S^1, ``[a_j cos jθ, a_j sin jθ]_{j<=J}``.

    ``a_j ∝ j^{−p}`` with ``Σ a_j² = 1`` (Tancik et al. 2020, 1-D); inputs are points
    ``(cos θ, sin θ)`` (d = 2). The kernel, exact at any J, is
    :func:`ntkspec.architectures.power_law_kernel` ``(p, J, net.kernel())``. Arguments as
    :func:`fourier_net`.

    >>> model = power_law_net(1.0, 16)
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    >>> model.apply(model.init(jax.random.key(0), 2), X).shape
    (2,)
    """
    kernel = power_law_kernel(p, features)
    if net is not None and not isinstance(net, (MLP, ResNet)):
        raise TypeError(
            f"Expected net to be an ntkspec.models.mlp or a resnet, or None; got "
            f"{type(net).__name__}."
        )
    J = features
    freqs = np.stack([np.arange(1, J + 1, dtype=np.float64), np.zeros(J)], axis=1)
    amps = np.sqrt(np.asarray(kernel.weights))
    inner = None if net is None else net.apply.spec
    spec = _PowerLawSpec(freqs, inner, centered if net is None else net.centered, amps)
    return FourierNet(
        _FourierInit(spec, net, check_float_dtype(dtype, "the parameters")),
        _Apply(spec),
        freqs,
        None,
        net,
        spec.embed,
        kernel.p,
    )
