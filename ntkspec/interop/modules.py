"""Adapters from neural-network libraries to ``(apply_fn, params)`` for ntkspec.

``apply_fn(params, X) -> (n,)`` maps a batch of inputs to scalar outputs and ``params`` is the
pytree of trainable arrays, which is what :func:`ntkspec.empirical.empirical_ntk` and
:func:`ntkspec.train.train` take. The libraries are optional: each adapter imports its library
lazily and raises ``ImportError`` naming the package to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["from_equinox", "from_linen", "from_nnx"]


def _scalar_outputs(out, n: int) -> jax.Array:
    out = jnp.asarray(out)
    if out.shape == (n, 1):
        return out[:, 0]
    if out.shape != (n,):
        raise ValueError(
            f"Expected the model to return one scalar per example, shape ({n},) or ({n}, 1); "
            f"got {out.shape}."
        )
    return out


def _require(name: str):
    try:
        return __import__(name)
    except ImportError:
        raise ImportError(f"This adapter needs `{name}`: pip install {name}") from None


def from_equinox(module) -> tuple[Any, Any]:
    """An Equinox module mapping ONE input ``x`` to a scalar (or shape-(1,)) output.

    Params are the module's inexact arrays (``eqx.partition(module, eqx.is_inexact_array)``);
    the rest is static. ``apply_fn`` vmaps the module over the batch.
    """
    eqx = _require("equinox")
    if not isinstance(module, eqx.Module):
        raise TypeError(f"Expected an equinox.Module; got {type(module).__name__}.")
    params, static = eqx.partition(module, eqx.is_inexact_array)

    def apply_fn(params, X):
        model = eqx.combine(params, static)
        X = jnp.asarray(X)
        return _scalar_outputs(jax.vmap(model)(X).reshape(X.shape[0], -1), X.shape[0])

    return apply_fn, params


def from_linen(module, variables) -> tuple[Any, Any]:
    """A Flax Linen module applied to a batch, with ``variables = module.init(...)``.

    Params are ``variables["params"]``; other collections (e.g. ``batch_stats``) are held fixed.
    """
    _require("flax")
    from flax import linen

    if not isinstance(module, linen.Module):
        raise TypeError(f"Expected a flax.linen.Module; got {type(module).__name__}.")
    if not isinstance(variables, Mapping):
        raise TypeError(
            f"Expected variables to be the mapping returned by module.init(...); got "
            f"{type(variables).__name__}."
        )
    variables = dict(variables)
    if "params" not in variables:
        raise ValueError("Expected Linen variables with a 'params' collection (module.init(...)).")
    params = variables.pop("params")

    def apply_fn(params, X):
        X = jnp.asarray(X)
        return _scalar_outputs(module.apply({"params": params, **variables}, X), X.shape[0])

    return apply_fn, params


def from_nnx(module) -> tuple[Any, Any]:
    """A Flax NNX module applied to a batch. Params are its ``nnx.Param`` state."""
    _require("flax")
    from flax import nnx

    if not isinstance(module, nnx.Module):
        raise TypeError(f"Expected a flax.nnx.Module; got {type(module).__name__}.")
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)

    def apply_fn(params, X):
        X = jnp.asarray(X)
        return _scalar_outputs(nnx.merge(graphdef, params, rest)(X), X.shape[0])

    return apply_fn, params
