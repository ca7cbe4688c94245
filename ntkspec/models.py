"""Plain fully connected networks in NTK parametrization, as pure ``init``/``apply`` functions.

The parametrization is the one whose infinite-width kernels are exactly
:func:`ntkspec.kernels.mlp_kernel` with the same arguments (docs/theory.md §2). With
``depth`` = L hidden layers of ``width`` m, weight variance σ_w², bias variance σ_b², first-layer
weight variance σ_w0², all parameters standard normal and

    h_0 = σ_w0 · x W_0 + σ_b · b_0                     (no 1/√d: Σ_0 = σ_w0² <x, x'> + σ_b²)
    h_l = √(σ_w²/m) · φ(h_{l-1}) W_l + σ_b · b_l       (l = 1, …, L-1)
    f   = √(σ_w²/m) · φ(h_{L-1}) w_out + σ_b · b_out   (scalar readout)

the NNGP Cov[f(x), f(x')] and the NTK at initialization converge to ``mlp_kernel(...).nngp`` and
``.ntk`` as m → ∞ (Jacot et al. 2018), with fluctuations of order 1/√m. There are L + 1 weight
matrices; a two-layer network has ``depth = 1``.

``trained_bias`` = β² > 0 adds a trained bias initialized at zero (Basri et al. 2019) to every
hidden layer h_0..h_{L-1} (not to the readout): their bias term becomes ``√(σ_b² + β²)·b_l``
with ``b_l ~ N(0, σ_b²/(σ_b² + β²))`` at initialization (all zeros when σ_b² = 0). The output
at initialization is unchanged in law (the NNGP does not see β²), while the gradient with
respect to b_l carries σ_b² + β²: the NTK is ``mlp_kernel(..., trained_bias=β²).ntk``.

Parameters are a list of ``depth + 1`` dicts ``{"w": (fan_in, fan_out), "b": (fan_out,)}``; the
readout has ``fan_out = 1``. Biases are always present (so the pytree does not depend on σ_b²);
with ``bias_var = 0`` they are multiplied by 0 and neither the output nor the NTK sees them.

``centered=True`` uses the antisymmetric trick: the parameters are a pair ``(p_plus, p_minus)``
of identical copies and ``f = (f(p_plus) - f(p_minus)) / √2``. The output is exactly 0 at
initialization (so the gradient-descent residual starts at ``-y``, docs/theory.md §3) and the NTK is
``(Θ(p_plus) + Θ(p_minus)) / 2``, which at initialization equals the uncentered NTK exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ntkspec import _compat
from ntkspec._validate import check_float_dtype, check_int, check_positive
from ntkspec.kernels import Kernel, activation_fn, mlp_kernel
from ntkspec.limits import MAX_DEPTH

__all__ = ["MLP", "mlp"]

Params = Any  # list of {"w", "b"} dicts, or a pair of such lists when centered


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Static (hashable) configuration of an :func:`mlp`; usable as a jit static argument."""

    depth: int
    width: int
    phi: Callable
    weight_var: float
    bias_var: float
    first_layer_var: float
    centered: bool
    trained_bias: float = 0.0

    @property
    def bias_scales(self) -> tuple[float, ...]:
        """Scale of the bias of each layer 0..L: √(σ_b² + β²) for hidden layers, σ_b readout."""
        hidden = math.sqrt(self.bias_var + self.trained_bias)
        return (hidden,) * self.depth + (math.sqrt(self.bias_var),)

    @property
    def bias_grad_vars(self) -> tuple[float, ...]:
        """Squared bias scales of layers 0..L (σ_b² + β² hidden, σ_b² readout), exact sums."""
        return (self.bias_var + self.trained_bias,) * self.depth + (self.bias_var,)

    @property
    def feature_columns(self) -> int:
        """Columns of the per-layer features (memory estimate of the structured NTK)."""
        return self.width * (self.depth + 1)

    def input_dim(self, params) -> int:
        return int(jnp.shape(params[0]["w"])[0])

    def check_params(self, params) -> list:
        """The copies of ``params`` (one, or two when centered), checked."""
        return _check_params(self, params)

    def forward(self, params, X) -> jax.Array:
        """Outputs ``(n,)`` of one copy."""
        return _forward(self, params, X)

    def layer_features(self, params, X) -> list[tuple[jax.Array, jax.Array]]:
        """Per-layer ``(A_l, G_l)`` of one copy (structured empirical NTK)."""
        return _layer_features(self, params, X)

    @property
    def bias_init_std(self) -> float:
        """Standard deviation of the hidden-layer bias parameters at initialization."""
        total = self.bias_var + self.trained_bias
        return math.sqrt(self.bias_var / total) if total > 0 else 1.0


@dataclasses.dataclass(frozen=True)
class _Apply:
    """``apply(params, X)`` of an :func:`mlp`. Hashable; carries its :class:`_Spec` so that
    :func:`ntkspec.empirical.empirical_ntk` can recognise it and use the layer-wise NTK."""

    spec: _Spec

    def __call__(self, params: Params, X: ArrayLike) -> jax.Array:
        spec = self.spec
        X = jnp.asarray(X)
        copies = _check_params(spec, params)
        d = copies[0][0]["w"].shape[0]
        if X.ndim not in (1, 2) or X.shape[-1] != d:
            raise ValueError(
                f"Expected X of shape (n, {d}) or ({d},) to match the first layer of params; "
                f"got shape {X.shape}."
            )
        if not (jnp.issubdtype(X.dtype, jnp.floating) or jnp.issubdtype(X.dtype, jnp.integer)):
            raise TypeError(f"Expected a real array X; got dtype {X.dtype}.")
        batch = X if X.ndim == 2 else X[None]
        outs = [_forward(spec, p, batch) for p in copies]
        f = outs[0] if len(outs) == 1 else (outs[0] - outs[1]) / math.sqrt(2.0)
        return f if X.ndim == 2 else f[0]


@dataclasses.dataclass(frozen=True)
class _Init:
    """``init(key, d)`` of an :func:`mlp`."""

    spec: _Spec
    dtype: Any

    def __call__(self, key: jax.Array, d: int) -> Params:
        d = check_int("d", d, minimum=1)
        if not isinstance(key, jax.Array):
            raise TypeError(f"Expected a JAX PRNG key; got {type(key).__name__}.")
        fans = (d,) + (self.spec.width,) * self.spec.depth + (1,)
        with _compat.random_streams():  # same parameters for a key on every JAX version
            params = _init_layers(key, fans, self.dtype)
        if self.spec.trained_bias > 0:  # zero-initialized (or shrunk) trained hidden biases
            std = self.spec.bias_init_std
            for layer in params[:-1]:
                layer["b"] = layer["b"] * jnp.asarray(std, self.dtype)
        if self.spec.centered:
            # Two identical copies in distinct buffers (safe under buffer donation).
            return (params, jax.tree.map(jnp.copy, params))
        return params


@functools.partial(jax.jit, static_argnums=(1, 2))
def _init_layers(key, fans: tuple[int, ...], dtype) -> list[dict[str, jax.Array]]:
    """Standard-normal ``w`` (fan_in, fan_out) and ``b`` (fan_out,) for every layer.

    One flat draw (a single RNG op compiles much faster than one per layer), cut layer by
    layer into a (fan_in + 1, fan_out) block: rows ``[:-1]`` are ``w``, the last row is ``b``.
    The draw has even length (threefry makes pairs; odd lengths take a much slower path).
    """
    blocks = [(fan_in + 1, fan_out) for fan_in, fan_out in zip(fans[:-1], fans[1:], strict=True)]
    total = sum(r * c for r, c in blocks)
    z = jax.random.normal(key, (total + total % 2,), dtype)
    params, start = [], 0
    for r, c in blocks:
        block = z[start : start + r * c].reshape(r, c)
        start += r * c
        params.append({"w": block[:-1], "b": block[-1]})
    return params


class MLP(NamedTuple):
    """A fully connected network in NTK parametrization: pure functions plus static config.

    Build it with :func:`mlp`. ``init(key, d)`` returns parameters for inputs in R^d (same key,
    same parameters); ``apply(params, X)`` maps ``X`` of shape ``(n, d)`` to outputs ``(n,)``,
    or a single ``x`` of shape ``(d,)`` to a scalar. Both are jit/vmap/grad compatible.

    Attributes:
      init, apply: the pure functions.
      depth, width: number of hidden layers L and their width m.
      activation: the activation as given (name or callable); ``phi`` its function.
      weight_var, bias_var, first_layer_var: σ_w², σ_b², σ_w0² (defaults resolved).
      centered: whether the antisymmetric (zero-output) initialization is used.
      dtype: parameter dtype.
      trained_bias: β² of the zero-initialized trained hidden-layer biases (module docstring).
    """

    init: Callable[[jax.Array, int], Params]
    apply: Callable[[Params, ArrayLike], jax.Array]
    depth: int
    width: int
    activation: str | Callable
    phi: Callable
    weight_var: float
    bias_var: float
    first_layer_var: float
    centered: bool
    dtype: Any
    trained_bias: float = 0.0

    def kernel(self, **kwargs) -> Kernel:
        """The infinite-width :class:`~ntkspec.kernels.Kernel` of this network.

        Keyword arguments (e.g. ``quad_order``) are passed on to :func:`mlp_kernel`.
        """
        return mlp_kernel(
            self.depth,
            self.activation,
            self.weight_var,
            self.bias_var,
            self.first_layer_var,
            trained_bias=self.trained_bias,
            **kwargs,
        )


def mlp(
    depth: int,
    width: int,
    activation: str | Callable = "relu",
    weight_var: float | None = None,
    bias_var: float = 0.0,
    first_layer_var: float | None = None,
    *,
    trained_bias: float = 0.0,
    centered: bool = False,
    dtype=jnp.float32,
) -> MLP:
    """A ``depth``-hidden-layer MLP of ``width`` whose infinite-width kernels are ``mlp_kernel``.

    The arguments ``depth, activation, weight_var, bias_var, first_layer_var`` have the meaning
    and defaults of :func:`ntkspec.kernels.mlp_kernel` (σ_w² = 2 for relu else 1, σ_b² = 0,
    σ_w0² = 1), so ``mlp(L, m, ...).kernel()`` is ``mlp_kernel(L, ...)``. See the module
    docstring for the parametrization.

    Args:
      depth: number of hidden layers, 1 <= L <= 100.
      width: hidden width m >= 1.
      activation: a name in ``ntkspec.kernels.ACTIVATIONS`` or an elementwise JAX callable.
      weight_var: σ_w² of hidden and readout weights.
      bias_var: σ_b² of every bias.
      first_layer_var: σ_w0² of the first layer (no 1/d).
      trained_bias: β² >= 0, a trained bias initialized at zero in every hidden layer, with
        gradient scale β² (as ``mlp_kernel(..., trained_bias=β²)``; module docstring).
      centered: antisymmetric initialization (output exactly 0 at init, same NTK); the params
        are then a pair of identical copies.
      dtype: floating dtype of the parameters (default float32).

    Returns:
      An :class:`MLP`.

    At initialization the NTK diagonal of a wide bias-free ReLU net is close to ``L + 1``:

    >>> import jax.numpy as jnp
    >>> net = mlp(1, 4096)
    >>> params = net.init(jax.random.key(0), 3)
    >>> net.apply(params, jnp.ones((2, 3)) / jnp.sqrt(3.0)).shape
    (2,)
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = check_int("width", width, minimum=1)
    phi = activation_fn(activation)
    if weight_var is None:
        weight_var = 2.0 if activation == "relu" else 1.0
    weight_var = check_positive("weight_var", weight_var)
    bias_var = check_positive("bias_var", bias_var, allow_zero=True)
    first_layer_var = check_positive(
        "first_layer_var", 1.0 if first_layer_var is None else first_layer_var
    )
    trained_bias = check_positive("trained_bias", trained_bias, allow_zero=True)
    if not isinstance(centered, bool):
        raise TypeError(f"Expected centered to be a bool; got {centered!r}.")
    check_float_dtype(dtype, "the parameters")
    spec = _Spec(depth, width, phi, weight_var, bias_var, first_layer_var, centered, trained_bias)
    return MLP(
        _Init(spec, jnp.dtype(dtype)),
        _Apply(spec),
        depth,
        width,
        activation,
        phi,
        weight_var,
        bias_var,
        first_layer_var,
        centered,
        jnp.dtype(dtype),
        trained_bias,
    )


# ----------------------------------------------------------------------------- internals
def _spec_of(fn) -> _Spec | None:
    """The :class:`_Spec` behind ``model`` or ``model.apply`` of an :func:`mlp`, else None."""
    if isinstance(fn, MLP):
        fn = fn.apply
    return fn.spec if isinstance(fn, _Apply) else None


def _check_params(spec: _Spec, params) -> list:
    """Check the pytree structure and shapes (static, so fine under jit); return the copies."""
    if spec.centered:
        if not isinstance(params, (tuple, list)) or len(params) != 2:
            raise ValueError(
                "Expected params of a centered mlp to be a pair (p_plus, p_minus) as returned by "
                f"init; got {type(params).__name__}."
            )
        copies = list(params)
    else:
        copies = [params]
    for p in copies:
        if not isinstance(p, (list, tuple)) or len(p) != spec.depth + 1:
            raise ValueError(
                f"Expected params to be a list of depth + 1 = {spec.depth + 1} layer dicts as "
                f"returned by init; got {type(p).__name__} of length "
                f"{len(p) if isinstance(p, (list, tuple)) else '?'}."
            )
        d = jnp.shape(p[0]["w"])[0]
        fans = [d] + [spec.width] * spec.depth + [1]
        for l, (layer, fan_in, fan_out) in enumerate(zip(p, fans[:-1], fans[1:], strict=True)):
            shapes = (jnp.shape(layer["w"]), jnp.shape(layer["b"]))
            if shapes != ((fan_in, fan_out), (fan_out,)):
                raise ValueError(
                    f"Expected layer {l} of params to have w: {(fan_in, fan_out)}, b: "
                    f"{(fan_out,)}; got w: {shapes[0]}, b: {shapes[1]}."
                )
    return copies


def _scales(spec: _Spec) -> tuple[float, float, tuple[float, ...]]:
    """(first-layer weight scale σ_w0, hidden/readout weight scale √(σ_w²/m), bias scales)."""
    return (
        math.sqrt(spec.first_layer_var),
        math.sqrt(spec.weight_var / spec.width),
        spec.bias_scales,
    )


def _forward(spec: _Spec, params, X) -> jax.Array:
    """Outputs ``(n,)`` of one (uncentered) copy of the network."""
    s0, s, sb = _scales(spec)
    h = s0 * (X @ params[0]["w"]) + sb[0] * params[0]["b"]
    for layer, c in zip(params[1:], sb[1:], strict=True):
        h = s * (spec.phi(h) @ layer["w"]) + c * layer["b"]
    return h[:, 0]


def _layer_features(spec: _Spec, params, X) -> list[tuple[jax.Array, jax.Array]]:
    """Per-layer ``(A_l, G_l)`` of one (uncentered) copy, for the structured empirical NTK.

    ``A_l`` (n, fan_in) is the input of weight matrix l times its scale (σ_w0 x, or
    √(σ_w²/m) φ(h_{l-1})); ``G_l`` (n, fan_out) is ∂f/∂(pre-activation output of layer l),
    back-propagated analytically: G_L = 1, G_{l-1} = (G_l W_lᵀ √(σ_w²/m)) ∘ φ'(h_{l-1}).
    Then ∂f/∂W_l = A_lᵀ G_l and ∂f/∂b_l = c_l G_l per example (c_l = ``spec.bias_scales[l]``),
    so the NTK is Σ_l (A_l A_l'ᵀ + c_l²) ∘ (G_l G_l'ᵀ).
    """
    s0, s, sb = _scales(spec)
    inputs = [s0 * X]
    derivs = []
    h = s0 * (X @ params[0]["w"]) + sb[0] * params[0]["b"]
    for layer, c in zip(params[1:], sb[1:], strict=True):
        a, da = jax.jvp(spec.phi, (h,), (jnp.ones_like(h),))  # φ(h), φ'(h) (elementwise φ)
        inputs.append(s * a)
        derivs.append(da)
        h = s * (a @ layer["w"]) + c * layer["b"]
    g = jnp.ones_like(h)  # readout: ∂f/∂f = 1, shape (n, 1)
    signals = [g]
    for layer, da in zip(reversed(params[1:]), reversed(derivs), strict=True):
        g = (s * (g @ layer["w"].T)) * da
        signals.append(g)
    return list(zip(inputs, reversed(signals), strict=True))
