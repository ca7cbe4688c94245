"""Adapter between ntkspec and neural-tangents ``stax`` (optional: ``pip install 'ntkspec[nt]'``).

Scaling (docs/theory.md §2.9). neural-tangents (NT) divides the first layer's covariance by the
fan-in:
``Dense(m, W_std=σ)`` on an input ``x ∈ R^d`` has pre-activation covariance ``σ² <x, x'>/d + b²``.
ntkspec's convention has no ``1/d``: ``σ_w0² <x, x'> + σ_b²`` on unit-norm ``x``. So an NT
kernel on the scaled inputs ``√d·x`` equals the ntkspec kernel on ``x``; both functions here
apply that mapping (``from_stax`` scales its evaluation points, ``to_stax`` expects ``√d·x``).

- :func:`from_stax` turns an NT ``kernel_fn`` into a zonal kernel ``κ(t)`` that
  :func:`ntkspec.spectrum.spectrum` accepts, after checking that it is zonal on the sphere.
- :func:`to_stax` builds the NT network ``(init_fn, apply_fn, kernel_fn)`` whose infinite-width
  kernels are :func:`ntkspec.kernels.mlp_kernel` with the same arguments.

neural-tangents 0.6.5 (the last release) runs only on ``jax==0.4.38``; the ``nt`` extra pins
it, and ``make test-nt`` runs the cross-checks in that environment. neural-tangents is
imported lazily, so importing this module never needs it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ntkspec import _compat
from ntkspec._validate import check_choice, check_int, check_positive

__all__ = ["StaxKernel", "from_stax", "stax_params", "to_stax"]

_INSTALL_HINT = (
    "neural-tangents is needed for ntkspec.interop.neural_tangents: "
    "pip install 'ntkspec[nt]' (neural-tangents 0.6.5 runs only on jax==0.4.38)."
)


def _import_nt():
    try:
        import neural_tangents as nt
        from neural_tangents import stax
    except ImportError as e:  # also catches a broken install (e.g. a JAX version it can't use)
        raise ImportError(f"{_INSTALL_HINT} Importing it failed with: {e}") from None
    return nt, stax


# ----------------------------------------------------------------------------- from_stax
@dataclasses.dataclass(frozen=True)
class StaxKernel:
    """A neural-tangents ``kernel_fn`` seen as a zonal kernel ``κ(t)`` on S^{dim-1}.

    Build it with :func:`from_stax`. Calling it maps ``t`` (any shape, values in [-1, 1]) to a
    float64 NumPy array of the same shape: ``κ(t) = kernel_fn(√d·x, √d·y, which)`` for any
    ``x, y`` on the unit sphere with ``<x, y> = t`` (here ``x = e_1`` and
    ``y = t e_1 + √((1-t)(1+t)) e_2``). Always evaluated in float64 (x64 scoped locally,
    never flipped globally). Next to t = ±1 NT's values are accurate to ~√ε relative only (it
    takes arccos of a rounded correlation); the Funk–Hecke integrals do not feel this
    (``spectrum`` of ``from_stax(to_stax(...))`` matches ``mlp_kernel`` to ~1e-12).

    Attributes:
      kernel_fn: the NT ``kernel_fn(x1, x2, get)``.
      dim: ambient dimension d.
      which: ``"ntk"`` or ``"nngp"``.
    """

    kernel_fn: Callable = dataclasses.field(repr=False)
    dim: int
    which: str = "ntk"

    def __call__(self, t) -> np.ndarray:
        t = np.clip(np.asarray(t, dtype=np.float64), -1.0, 1.0)
        flat = t.reshape(-1)
        if flat.size == 0:
            return np.zeros(t.shape)
        d = self.dim
        x = np.zeros((1, d))
        x[0, 0] = 1.0
        y = np.zeros((flat.size, d))
        y[:, 0] = flat
        y[:, 1] = np.sqrt((1.0 - flat) * (1.0 + flat))
        vals = _evaluate(self.kernel_fn, self.which, x, y)  # (1, n)
        return np.asarray(vals, dtype=np.float64).reshape(t.shape)

    def kappa_one(self) -> float:
        """κ(1), the kernel's diagonal (float64)."""
        return float(self(np.ones(1))[0])


def _evaluate(kernel_fn, which: str, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``kernel_fn(√d X, √d Y, which)`` in float64 as an ``(n, m)`` NumPy array."""
    import jax.numpy as jnp

    scale = math.sqrt(X.shape[1])
    with _compat.enable_x64():
        try:
            out = kernel_fn(
                jnp.asarray(scale * X, jnp.float64), jnp.asarray(scale * Y, jnp.float64), which
            )
        except Exception as e:
            raise ValueError(
                f"Expected a neural-tangents kernel_fn(x1, x2, get) that accepts inputs of shape "
                f"(n, {X.shape[1]}) and get={which!r}; calling it failed with "
                f"{type(e).__name__}: {e}"
            ) from None
        out = np.asarray(out, dtype=np.float64)
    if out.shape != (X.shape[0], Y.shape[0]):
        raise ValueError(
            f"Expected kernel_fn to return a ({X.shape[0]}, {Y.shape[0]}) {which} matrix for "
            f"{X.shape[0]} and {Y.shape[0]} inputs (a scalar-output network); got shape "
            f"{out.shape}."
        )
    if not np.isfinite(out).all():
        raise ValueError(f"Expected finite {which} values from kernel_fn; got NaN or inf.")
    return out


def _random_pairs(rng: np.random.Generator, t: np.ndarray, d: int):
    """Random unit x_i and y_i with <x_i, y_i> = t_i (uniform rotations of a fixed pair)."""
    n = t.size
    x = rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    u = rng.standard_normal((n, d))
    u -= np.sum(u * x, axis=1, keepdims=True) * x
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    y = t[:, None] * x + np.sqrt((1.0 - t) * (1.0 + t))[:, None] * u
    return x, y


def _check_zonal(kappa: StaxKernel, rtol: float, seed: int = 0) -> None:
    """κ(<x, y>) must equal kernel_fn(√d x, √d y) on random pairs, and the matrix be symmetric."""
    rng = np.random.default_rng(seed)
    d = kappa.dim
    # Not t = ±1 exactly: there NT's kernels have a √(1 - t²) singularity and a correlation
    # rounded by one ulp moves them by ~√ε (≈ 1e-8), whatever the points.
    ts = np.repeat(np.array([0.999, 0.83, 0.41, 0.0, -0.37, -0.9, -0.999]), 3)
    x, y = _random_pairs(rng, ts, d)
    K = _evaluate(kappa.kernel_fn, kappa.which, x, y)  # K[i, i] = kernel at the pair i
    pair = np.diag(K)
    ref = kappa(ts)
    scale = max(np.max(np.abs(ref)), np.finfo(np.float64).tiny)
    bad = np.abs(pair - ref) > rtol * scale
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"Expected a zonal kernel on S^{d - 1} (a function of <x, x'> only, e.g. a fully "
            f"connected stax network); the {kappa.which} differs between pairs with the same "
            f"inner product t = {ts[i]:g}: {pair[i]:.17g} vs {ref[i]:.17g} (relative "
            f"{abs(pair[i] - ref[i]) / scale:.2g} > {rtol:g}). Kernels that are not rotation "
            "invariant have no Funk–Hecke spectrum."
        )
    Kt = _evaluate(kappa.kernel_fn, kappa.which, y, x)
    if np.max(np.abs(Kt - K.T)) > rtol * scale:
        raise ValueError(
            f"Expected a symmetric (zonal) kernel on S^{d - 1}; kernel_fn(x, y) differs from "
            f"kernel_fn(y, x) by {np.max(np.abs(Kt - K.T)) / scale:.2g} relative."
        )


def from_stax(
    kernel_fn: Callable, dim: int, *, which: str = "ntk", check: bool = True, rtol: float = 1e-9
) -> StaxKernel:
    """A neural-tangents ``stax`` kernel as a zonal kernel ``κ(t)`` on S^{dim-1}.

    The result is a callable for :func:`ntkspec.spectrum.spectrum` (``spectrum(from_stax(kf,
    d), d, kmax)``) or anything else that takes ``κ(t)``. It evaluates ``kernel_fn`` on pairs
    of unit vectors with inner product ``t`` *scaled by* ``√dim`` (NT divides the first layer
    by the fan-in, docs/theory.md §2.9), so the stax network of an ``mlp_kernel`` configuration (see
    :func:`to_stax`) gives exactly ``mlp_kernel(...).ntk`` (or ``.nngp``).

    Args:
      kernel_fn: the third element of a ``stax`` layer, ``kernel_fn(x1, x2, get)``, for a
        scalar-output network on inputs of shape ``(n, dim)``.
      dim: ambient dimension d >= 2 (points on S^{d-1}).
      which: ``"ntk"`` (default) or ``"nngp"``: which of NT's two kernels becomes ``κ``. To
        study both, call ``from_stax`` twice (``spectrum``'s own ``which`` argument applies
        to ``Kernel`` objects only).
      check: verify first that the kernel is zonal on the sphere: on random pairs ``(x, y)``
        with prescribed inner products t ∈ {±0.999, 0.83, 0.41, 0, -0.37, -0.9}, the values
        must equal ``κ(t)`` (and ``K(x, y) = K(y, x)``) to ``rtol`` relative to ``max|κ|``.
      rtol: tolerance of that check (float64 evaluation; the default leaves room for the
        rounding of deep kernels).

    Returns:
      A :class:`StaxKernel` (``κ(t)`` → float64 array, shape of ``t``).

    Raises:
      ValueError: the kernel is not zonal (e.g. it depends on coordinates, not only on
        ``<x, x'>``), fails on inputs of shape ``(n, dim)``, or does not return an ``(n, m)``
        matrix of finite values.
      ImportError: never from this function itself (it does not import neural-tangents); the
        ``kernel_fn`` you pass already comes from it.

    >>> from neural_tangents import stax  # doctest: +SKIP
    >>> net = stax.Dense(1, W_std=2**0.5), stax.Relu(), stax.Dense(1)  # doctest: +SKIP
    >>> *_, kf = stax.serial(*net)  # doctest: +SKIP
    >>> spectrum(from_stax(kf, 3), 3, kmax=2).eigenvalues  # 1/2, 1/3, 5/64 # doctest: +SKIP
    """
    if not callable(kernel_fn):
        raise TypeError(
            f"Expected kernel_fn to be a neural-tangents kernel_fn(x1, x2, get); got "
            f"{type(kernel_fn).__name__}."
        )
    dim = check_int("dim", dim, minimum=2)
    check_choice("which", which, ("ntk", "nngp"))
    rtol = check_positive("rtol", rtol)
    if not isinstance(check, bool):
        raise TypeError(f"Expected check to be a bool; got {check!r}.")
    kappa = StaxKernel(kernel_fn, dim, which)
    if check:
        _check_zonal(kappa, rtol)
    return kappa


# ----------------------------------------------------------------------------- to_stax
def _stax_activation(stax, name: str, phi: Callable | None, quad_order: int):
    if name == "relu":
        return stax.Relu()
    if name == "erf":
        return stax.Erf()  # a·erf(b x) + c with a = b = 1, c = 0
    if name == "gelu":
        return stax.Gelu(approximate=False)
    if name == "identity":
        return stax.Identity()
    if name == "sin":
        return stax.Sin()  # a·sin(b x + c) with a = b = 1, c = 0
    # tanh, sigmoid, softplus, silu, custom callables: NT's Gauss–Hermite layer.
    return stax.ElementwiseNumerical(phi, deg=quad_order)


def to_stax(
    depth: int,
    activation: str | Callable = "relu",
    weight_var: float | None = None,
    bias_var: float = 0.0,
    first_layer_var: float | None = None,
    *,
    width: int = 512,
    quad_order: int = 64,
) -> tuple[Any, Any, Any]:
    """The neural-tangents ``stax`` MLP of an :func:`ntkspec.kernels.mlp_kernel` configuration.

    ``stax.serial(Dense(width, √σ_w0², √σ_b²), act, [Dense(width, √σ_w², √σ_b²), act] ×
    (depth - 1), Dense(1, √σ_w², √σ_b²))`` in NT's (default) NTK parametrization. The
    arguments and their defaults are those of ``mlp_kernel`` (σ_w² = 2 for relu else 1, σ_b² = 0,
    σ_w0² = 1). Activations: relu → ``stax.Relu()``, erf → ``stax.Erf()``, gelu →
    ``stax.Gelu(approximate=False)``, identity → ``stax.Identity()``, sin, cos and
    ``ntkspec.activations.Sine(a, b, c)`` → ``stax.Sin(a, b, c)``; any
    other name or a callable → ``stax.ElementwiseNumerical(φ, deg=quad_order)`` (approximate).

    NT divides the first layer by the fan-in d, so feed the network ``√d·x`` for unit ``x``:
    then ``kernel_fn(√d X, √d Y, "ntk")`` equals ``mlp_kernel(...).gram(X, Y)``, and with the
    same standard-normal weights ``apply_fn`` equals ``ntkspec.models.mlp(...).apply`` on ``X``
    (NT's params are ``(W, b)`` per Dense and ``()`` per activation; biases are present, scaled
    by σ_b, even when σ_b² = 0, as in ``ntkspec.models``).

    Args:
      depth: number of hidden layers L >= 1.
      activation: a name in ``ntkspec.kernels.ACTIVATIONS`` or an elementwise JAX callable.
      weight_var, bias_var, first_layer_var: σ_w², σ_b², σ_w0² as in ``mlp_kernel``.
      width: hidden width of the finite network (``init_fn``/``apply_fn``); the kernel does not
        depend on it.
      quad_order: Gauss–Hermite degree for ``ElementwiseNumerical`` activations.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)`` of ``stax.serial``.

    Raises:
      ImportError: neural-tangents is not installed (``pip install 'ntkspec[nt]'``).
      ValueError / TypeError: invalid arguments (the messages of ``mlp_kernel``).
    """
    # Validate (and resolve defaults) exactly as mlp_kernel does, before importing NT.
    from ntkspec.kernels import mlp_kernel

    kernel = mlp_kernel(depth, activation, weight_var, bias_var, first_layer_var)
    width = check_int("width", width, minimum=1)
    quad_order = check_int("quad_order", quad_order, minimum=1)
    _, stax = _import_nt()
    name = kernel.activation
    phi = kernel.phi  # the callable of a quadrature activation (None for closed forms)
    w = math.sqrt(kernel.weight_var)
    b = math.sqrt(kernel.bias_var)
    w0 = math.sqrt(kernel.first_layer_var)
    layers = [stax.Dense(width, W_std=w0, b_std=b)]
    for l in range(kernel.depth):
        if kernel.sine is not None:  # sin, cos, ntkspec.activations.Sine(a, b, c)
            a, b_, c = kernel.sine
            layers.append(stax.Sin(a=a, b=b_, c=c))
        else:
            layers.append(_stax_activation(stax, name, phi, quad_order))
        out = 1 if l == kernel.depth - 1 else width
        layers.append(stax.Dense(out, W_std=w, b_std=b))
    return stax.serial(*layers)


def stax_params(params) -> list:
    """ntkspec ``mlp`` params (a list of ``{"w", "b"}``) → the params of :func:`to_stax`'s net.

    ``[(w_0, b_0), (), (w_1, b_1), (), ..., (w_L, b_L)]`` (activations have no params; NT's
    biases have shape ``(1, fan_out)``), the structure ``init_fn`` of :func:`to_stax`
    returns. Not for centered networks (their params are a pair of copies).
    """
    if isinstance(params, tuple) and len(params) == 2 and isinstance(params[0], list):
        raise ValueError(
            "Expected the params of an uncentered mlp (a list of layer dicts); got a centered "
            "pair. Convert each copy separately."
        )
    layers_ok = isinstance(params, list | tuple) and len(params) >= 2
    layers_ok = layers_ok and all(
        isinstance(layer, dict) and set(layer) == {"w", "b"} for layer in params
    )
    if not layers_ok:
        raise TypeError(
            "Expected the params of an uncentered ntkspec mlp: a list of depth + 1 "
            f"{{'w': ..., 'b': ...}} layer dicts as returned by mlp(...).init; got "
            f"{type(params).__name__}."
        )
    out = []
    for l, layer in enumerate(params):
        if l:
            out.append(())
        out.append((layer["w"], layer["b"].reshape(1, -1)))  # NT's b has shape (1, fan_out)
    return out
