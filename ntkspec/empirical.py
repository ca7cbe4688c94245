"""Empirical (finite-width) NTK Gram matrix of a scalar-output JAX model.

For a model ``f(θ, x)`` the empirical NTK is ``Θ(x, x') = <∂_θ f(θ, x), ∂_θ f(θ, x')>``, the
sum over every parameter leaf. At initialization of a wide :func:`ntkspec.models.mlp` it
approaches ``mlp_kernel(...).gram`` (Jacot et al. 2018; Novak et al. 2022, "Fast finite width
neural tangent kernel", for the three ways of computing it used here).

Methods of :func:`empirical_ntk`:

- ``"jacobian"``: per-example gradients ``vmap(grad)``, contracted leaf by leaf
  (``Σ_leaves J1 J2ᵀ``), blocked over rows of X1 and X2.
- ``"ntk_vp"``: NTK-vector products ``Θ v = J1 (J2ᵀ v)`` by ``jax.vjp`` then ``jax.jvp``,
  applied to the identity columns of each block (no per-example ``grad``; the b VJP results of
  one block are held at a time).
- ``"structured"``: only for ``mlp`` models and those of :mod:`ntkspec.arch_models` (residual
  MLPs, Fourier-feature networks, SIREN) — the layer-wise factorization
  ``Θ = Σ_l (A_l A_l'ᵀ + σ_b²) ∘ (G_l G_l'ᵀ)`` from forward inputs ``A_l`` and back-propagated
  signals ``G_l = ∂f/∂h_l``, computed per block (memory O(block·width·depth), no parameter
  Jacobian); a centered net averages the kernels of its two copies.
- ``"auto"`` (default): ``"structured"`` for those models, else ``"jacobian"``.

Several devices: with a ``jax.sharding.Mesh`` the rows of every block are sharded over its
first axis (params and the column block replicated), so each device computes its share of the
Gram's rows; the result is identical to the single-device one. On several hosts, call
``jax.distributed.initialize()`` first and run the same code on every host; each host then
computes its rows of each block and the blocks are gathered on every host.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike

from ntkspec._validate import check_choice, check_int

__all__ = ["empirical_ntk", "METHODS"]

METHODS = ("auto", "jacobian", "ntk_vp", "structured")

# Working-memory budget per block (bytes) used to choose the default block size.
_MEMORY_BUDGET = 2**30
# ntk_vp batches a VJP over the b columns of a block, which costs O(b²·width) temporaries.
_MAX_NTK_VP_BLOCK = 256


def empirical_ntk(
    apply_fn: Callable,
    params,
    X1: ArrayLike,
    X2: ArrayLike | None = None,
    *,
    method: str = "auto",
    block_size: int | None = None,
    mesh: Mesh | None = None,
) -> jax.Array:
    """Empirical NTK ``Θ[i, j] = Σ_leaves <∂f(x1_i)/∂θ, ∂f(x2_j)/∂θ>`` of shape ``(n1, n2)``.

    Args:
      apply_fn: ``apply_fn(params, X) -> (n,)``, a scalar-output model applied to a batch whose
        rows are independent examples. For a network from :func:`ntkspec.models.mlp` pass
        ``model.apply`` (or the ``MLP`` itself): it carries the network's static configuration,
        which enables the ``"structured"`` method. ``apply_fn`` is a static argument of the
        jitted blocks: pass the same function object to reuse their compilation.
      params: the parameter pytree.
      X1: inputs ``(n1, ...)`` (a leading batch axis; any trailing shape), finite.
      X2: inputs ``(n2, ...)`` with the same trailing shape (default ``X1``; the result is then
        exactly symmetric).
      method: ``"auto"`` (default: ``"structured"`` for networks of :mod:`ntkspec.models` and
        :mod:`ntkspec.arch_models`, else ``"jacobian"``), ``"jacobian"``, ``"ntk_vp"`` or
        ``"structured"`` (the module docstring describes each).
      block_size: rows (and columns) per block. Default: chosen so that one block's working
        memory stays near 1 GB (``"ntk_vp"`` is also capped at 256).
      mesh: a ``jax.sharding.Mesh`` whose first axis shards the rows of every block (module
        docstring). Default: a 1-D mesh over all local devices when there are several, else no
        sharding.

    Returns:
      ``(n1, n2)`` array in the dtype of the model's outputs. All methods agree to rounding
      (tested: 1e-5 relative in float32, 1e-10 in float64).

    Raises:
      ValueError / TypeError: for malformed inputs, an unknown method, a model whose output is
        not ``(n,)``, or ``"structured"`` with a model that is not an ``mlp``.

    >>> from ntkspec.models import mlp
    >>> net = mlp(2, 64)
    >>> p = net.init(jax.random.key(0), 3)
    >>> X = jnp.eye(3)
    >>> K1 = empirical_ntk(net.apply, p, X)
    >>> K2 = empirical_ntk(net.apply, p, X, method="jacobian")
    >>> bool(jnp.allclose(K1, K2, rtol=1e-5))
    True
    """
    check_choice("method", method, METHODS)
    if block_size is not None:
        block_size = check_int("block_size", block_size, minimum=1)
    apply_fn, spec, method = _resolve_method(apply_fn, method)
    _check_params(params)
    x1 = _check_batch(X1, "X1")
    symmetric = X2 is None
    x2 = x1 if symmetric else _check_batch(X2, "X2", trailing=x1.shape[1:])
    out_dtype = _check_output(apply_fn, params, x1)
    plan = _block_plan(method, apply_fn, spec, params, jnp.dtype(out_dtype).itemsize)
    b = block_size or _clip(plan.block, x1.shape[0], x2.shape[0])
    return _blocked_gram(plan, params, x1, x2, b, symmetric, out_dtype, mesh)


def _resolve_method(apply_fn, method: str):
    """(apply function, structured spec or None, concrete method) for ``empirical_ntk``."""
    if isinstance(apply_fn, tuple) and callable(getattr(apply_fn, "apply", None)):
        apply_fn = apply_fn.apply  # a model (MLP, ResNet, FourierNet): its apply function
    spec = _structured_spec(apply_fn)
    if not callable(apply_fn):
        raise TypeError(
            f"Expected apply_fn to be a function apply_fn(params, X) -> (n,); got "
            f"{type(apply_fn).__name__}."
        )
    if method == "structured" and spec is None:
        raise TypeError(
            "method='structured' needs the apply function of a network built by "
            "ntkspec.models.mlp or ntkspec.arch_models (resnet, fourier_net, siren; pass "
            "model.apply); use method='jacobian' or 'ntk_vp' otherwise."
        )
    if method == "auto":
        method = "structured" if spec is not None else "jacobian"
    return apply_fn, spec, method


class _BlockPlan(NamedTuple):
    """The jitted block functions of one method, their static argument and a block size."""

    static: object  # apply_fn, or the structured spec
    block: int  # default block size from the memory budget
    offdiag: Callable
    ondiag: Callable


def _block_plan(method: str, apply_fn, spec, params, itemsize: int) -> _BlockPlan:
    """Block functions and the memory-budget block size of ``method``."""
    if method == "structured":
        spec.check_params(params)
        # Per block: features O(b·width·(depth+1)) for both sides plus a few (b, b) products.
        per_feature_row = 4 * itemsize * (spec.feature_columns + 2)
        b = min(math.isqrt(_MEMORY_BUDGET // (8 * itemsize)), _MEMORY_BUDGET // per_feature_row)
        # the structured block functions take the static spec, not apply_fn
        return _BlockPlan(spec, b, _structured_block, _structured_diag_block)
    n_params = sum(int(np.prod(jnp.shape(leaf))) for leaf in jax.tree.leaves(params))
    b = _MEMORY_BUDGET // max(1, 2 * n_params * itemsize)
    if method == "jacobian":
        return _BlockPlan(apply_fn, b, _jacobian_block, _jacobian_diag_block)
    return _BlockPlan(apply_fn, min(b, _MAX_NTK_VP_BLOCK), _ntk_vp_block, _ntk_vp_diag_block)


def _blocked_gram(plan: _BlockPlan, params, x1, x2, b, symmetric, out_dtype, mesh):
    """The ``(n1, n2)`` Gram from ``b × b`` blocks, rows sharded over ``mesh`` when given."""
    n1, n2 = x1.shape[0], x2.shape[0]
    b1, b2 = min(b, n1), min(b, n2)
    rows, replicated = _shardings(mesh)
    if rows is not None:
        shards = rows.mesh.shape[rows.spec[0]]
        b1 = b2 = -(-max(b1, b2) // shards) * shards  # one block size, divisible by the mesh
        params = jax.device_put(params, replicated)
    p1, p2 = _pad(x1, b1), _pad(x2, b2)

    def place(x, sharding):
        return x if sharding is None else jax.device_put(x, sharding)

    def block(i, j, diag):
        x1_block = place(p1[i : i + b1], rows)
        if diag:
            return plan.ondiag(plan.static, params, x1_block)
        return plan.offdiag(plan.static, params, x1_block, place(p2[j : j + b2], replicated))

    return _assemble(block, n1, n2, b1, b2, symmetric, out_dtype)


# ----------------------------------------------------------------------------- validation
def _check_batch(X, name: str, trailing: tuple | None = None) -> jax.Array:
    """A real, finite batch ``(n, ...)`` with n >= 1 (same trailing shape as X1 for X2)."""
    try:
        arr = np.asarray(X)
    except Exception as e:  # pragma: no cover - exotic array-likes
        raise TypeError(f"Expected {name} to be an array of shape (n, d); got {type(X)}.") from e
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(
            f"Expected {name} to be a real array of shape (n, d); got dtype {arr.dtype}."
        )
    if arr.ndim < 2 or arr.shape[0] < 1:
        raise ValueError(
            f"Expected {name} of shape (n, d) (a batch of n >= 1 inputs); got shape {arr.shape}."
        )
    if trailing is not None and arr.shape[1:] != tuple(trailing):
        raise ValueError(
            f"Expected {name} of shape (n, {', '.join(map(str, trailing))}) to match X1; "
            f"got shape {arr.shape}."
        )
    finite = np.isfinite(arr)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise ValueError(f"Expected finite inputs in {name}; got NaN/inf at row {row}.")
    return jnp.asarray(X)


def _check_params(params) -> None:
    """``TypeError`` unless params is a pytree with at least one floating-point array leaf."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    if not leaves:
        raise TypeError(
            "Expected params to be a pytree of floating-point arrays (e.g. model.init(key, d)); "
            f"got {type(params).__name__} with no array leaves."
        )
    for path, leaf in leaves:
        where = jax.tree_util.keystr(path) or "(the root)"
        if isinstance(leaf, jax.core.Tracer):
            continue
        if isinstance(leaf, bool) or not isinstance(leaf, jax.Array | np.ndarray | float):
            raise TypeError(
                f"Expected params to be a pytree of floating-point arrays; the leaf at {where} "
                f"is of type {type(leaf).__name__}."
            )
        dtype = np.dtype(type(leaf)) if isinstance(leaf, float) else leaf.dtype
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"Expected params to be a pytree of floating-point arrays; the leaf at {where} "
                f"has dtype {dtype} (gradients need floating point)."
            )


def _check_output(apply_fn, params, x) -> np.dtype:
    """Check ``apply_fn(params, x[:1])`` has shape (1,) (abstractly); return its dtype."""
    try:
        out = jax.eval_shape(apply_fn, params, x[:1])
    except (ValueError, TypeError):
        raise
    except Exception as e:
        raise TypeError(
            f"Expected apply_fn(params, X) to evaluate on a batch of shape {(1, *x.shape[1:])} "
            f"with these params; it failed with {type(e).__name__}: {e}"
        ) from None
    if not hasattr(out, "shape") or tuple(out.shape) != (1,):
        got = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            "Expected apply_fn(params, X) to return shape (n,) for a batch of n inputs (a "
            f"scalar-output model); got {got} for n = 1. Wrap a (n, 1) model as "
            "lambda p, x: f(p, x)[:, 0]."
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(f"Expected a floating-point model output; got dtype {out.dtype}.")
    return out.dtype


# ----------------------------------------------------------------------------- devices
def _shardings(mesh: Mesh | None):
    """(row sharding, replicated sharding) for a mesh, or (None, None) on one device."""
    if mesh is None:
        devices = jax.local_devices()
        if len(devices) < 2:
            return None, None
        mesh = Mesh(np.array(devices), ("rows",))
    if not isinstance(mesh, Mesh):
        raise TypeError(f"Expected mesh to be a jax.sharding.Mesh or None; got {type(mesh)}.")
    axis = mesh.axis_names[0]
    return NamedSharding(mesh, PartitionSpec(axis)), NamedSharding(mesh, PartitionSpec())


# ----------------------------------------------------------------------------- blocking
def _clip(b: int, n1: int, n2: int) -> int:
    return int(max(1, min(b, max(n1, n2))))


def _pad(x, b: int):
    """Pad the batch to a multiple of ``b`` by repeating its last row (one compile per shape)."""
    pad = -x.shape[0] % b
    if pad == 0:
        return x
    return jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)], axis=0)


def _assemble(block, n1, n2, b1, b2, symmetric, dtype) -> jax.Array:
    """Fill an (n1, n2) result block by block; for X2 = X1 only blocks j >= i, mirrored."""
    out = np.empty((n1, n2), dtype=dtype)
    for i in range(0, n1, b1):
        r = min(b1, n1 - i)
        for j in range(i if symmetric else 0, n2, b2):
            c = min(b2, n2 - j)
            diag = symmetric and i == j
            B = np.asarray(block(i, j, diag))[:r, :c]
            if diag:  # exact symmetry: keep the upper triangle and mirror it
                B = np.triu(B) + np.triu(B, 1).T
            out[i : i + r, j : j + c] = B
            if symmetric and not diag:
                out[j : j + c, i : i + r] = B.T
    return jnp.asarray(out)


# ----------------------------------------------------------------------------- jacobian
def _per_example_grads(apply_fn, params, x) -> list[jax.Array]:
    """Per-example gradients, one ``(b, *leaf.shape)`` array per parameter leaf."""

    def single(p, xi):
        return apply_fn(p, xi[None])[0]

    return jax.tree.leaves(jax.vmap(jax.grad(single), in_axes=(None, 0))(params, x))


def _contract(J1, J2) -> jax.Array:
    """``Σ_leaves J1 J2ᵀ`` over every non-batch axis (no reshape: XLA would copy layouts)."""

    def dot(a, b):
        axes = tuple(range(1, a.ndim))
        return jax.lax.dot_general(
            a, b, ((axes, axes), ((), ())), precision=jax.lax.Precision.HIGHEST
        )

    return sum(dot(a, b) for a, b in zip(J1, J2, strict=True))


@functools.partial(jax.jit, static_argnums=0)
def _jacobian_block(apply_fn, params, x1, x2):
    return _contract(
        _per_example_grads(apply_fn, params, x1), _per_example_grads(apply_fn, params, x2)
    )


@functools.partial(jax.jit, static_argnums=0)
def _jacobian_diag_block(apply_fn, params, x):
    J = _per_example_grads(apply_fn, params, x)
    # J Jᵀ is symmetric: with the rows in p slices, only the p(p + 1)/2 slice pairs i <= j are
    # contracted (10/16 of the FLOPs for p = 4), the others are their transposes.
    b = x.shape[0]
    p = 4 if b >= 256 else 1
    cuts = [b * i // p for i in range(p + 1)]
    rows = [[a[cuts[i] : cuts[i + 1]] for a in J] for i in range(p)]
    blocks = [[None] * p for _ in range(p)]
    for i in range(p):
        for j in range(i, p):
            blocks[i][j] = _contract(rows[i], rows[j])
            blocks[j][i] = blocks[i][j].T
    return jnp.block(blocks)


# ----------------------------------------------------------------------------- ntk_vp
def _ntk_vp(apply_fn, params, x1, x2):
    """Θ(x1, x2) = [Θ e_j]_j with Θ v = J1 (J2ᵀ v): one VJP and one JVP per column e_j."""
    out2, vjp_fn = jax.vjp(lambda p: apply_fn(p, x2), params)
    eye = jnp.eye(x2.shape[0], dtype=out2.dtype)
    cotangents = jax.vmap(vjp_fn)(eye)[0]  # pytree, leading axis: columns e_j

    def column(tangent):
        return jax.jvp(lambda p: apply_fn(p, x1), (params,), (tangent,))[1]

    return jax.vmap(column)(cotangents).T


_ntk_vp_block = jax.jit(_ntk_vp, static_argnums=0)


@functools.partial(jax.jit, static_argnums=0)
def _ntk_vp_diag_block(apply_fn, params, x):
    return _ntk_vp(apply_fn, params, x, x)


# ----------------------------------------------------------------------------- structured
def _structured_spec(apply_fn):
    """The static spec behind a structured network's apply function, else None.

    A spec provides ``check_params``, ``layer_features(params, x) -> [(A_l, G_l)]`` (one
    copy), ``bias_grad_vars`` (c_l² per entry), ``centered`` and ``feature_columns``: the
    apply functions of :func:`ntkspec.models.mlp` and of :mod:`ntkspec.arch_models`.
    """
    spec = getattr(apply_fn, "spec", None)
    return spec if callable(getattr(spec, "layer_features", None)) else None


def _mlp_features(spec, params, x):
    """Per-copy, per-layer (A_l, G_l) of a structured network (``spec.layer_features``)."""
    copies = params if spec.centered else [params]
    return [spec.layer_features(p, x) for p in copies]


def _structured(spec, f1, f2):
    """Σ_l (A1 A2ᵀ + c_l²) ∘ (G1 G2ᵀ), c_l² = ``spec.bias_grad_vars[l]``, mean over copies."""
    total = 0.0
    for c1, c2 in zip(f1, f2, strict=True):
        for (a1, g1), (a2, g2), c2_l in zip(c1, c2, spec.bias_grad_vars, strict=True):
            aa = jnp.matmul(a1, a2.T, precision="highest")
            gg = jnp.matmul(g1, g2.T, precision="highest")
            total = total + (aa + c2_l) * gg
    return total / len(f1)


@functools.partial(jax.jit, static_argnums=0)
def _structured_block(spec, params, x1, x2):
    return _structured(spec, _mlp_features(spec, params, x1), _mlp_features(spec, params, x2))


@functools.partial(jax.jit, static_argnums=0)
def _structured_diag_block(spec, params, x):
    f = _mlp_features(spec, params, x)
    return _structured(spec, f, f)
