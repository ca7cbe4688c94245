"""The model of an experiment: ntkspec's centered MLP, a user factory, or a given network.

A :class:`Model` is ``(apply, params)`` plus the infinite-width kernel when one is known (only
for ntkspec's own MLP in NTK parametrization), or the reason there is none.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any, NamedTuple

import jax

from ntkspec.experiments.config import ModelConfig
from ntkspec.kernels import Kernel, mlp_kernel
from ntkspec.models import mlp

__all__ = ["Model", "as_apply_params", "build_model", "load_factory"]


class Model(NamedTuple):
    """A trainable network and, where known, its infinite-width kernel.

    Attributes:
      apply: ``apply(params, X) -> (n,)``; params: its pytree.
      kernel: the :class:`~ntkspec.kernels.Kernel` of the infinite-width limit, or ``None``.
      reason: why there is no kernel (empty when there is one).
      label: a short description for reports.
    """

    apply: Any
    params: Any
    kernel: Kernel | None
    reason: str
    label: str


@contextlib.contextmanager
def _cwd_on_path():
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def load_factory(spec: str):
    """Import ``"package.module:function"`` (the working directory is searched first)."""
    module_name, _, attr = spec.partition(":")
    with _cwd_on_path():
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise ValueError(f"Cannot import model.factory module {module_name!r}: {e}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"Expected model.factory {spec!r} to name a function; it does not.")
    return fn


def as_apply_params(model) -> tuple[Any, Any]:
    """``(apply_fn, params)`` from a pair, an Equinox module or a Flax NNX module.

    A Flax Linen module comes as the pair ``(module, variables)``.
    """
    from ntkspec.interop import modules

    if isinstance(model, tuple) and len(model) == 2:
        first, second = model
        linen = sys.modules.get("flax.linen")
        if linen is not None and isinstance(first, linen.Module):
            return modules.from_linen(first, second)
        if callable(first):
            return first, second
    eqx = sys.modules.get("equinox")
    if eqx is not None and isinstance(model, eqx.Module):
        return modules.from_equinox(model)
    nnx = sys.modules.get("flax.nnx")
    if nnx is not None and isinstance(model, nnx.Module):
        return modules.from_nnx(model)
    raise TypeError(
        "Expected model to be an (apply_fn, params) pair, an Equinox module, a Flax NNX module "
        f"or a (Linen module, variables) pair; got {type(model).__name__}."
    )


def build_model(cfg: ModelConfig, key: jax.Array, dim: int, model=None) -> Model:
    """The experiment's network: ``model`` if given, else ``cfg.factory``, else the MLP."""
    if model is not None:
        apply, params = as_apply_params(model)
        return Model(apply, params, None, "a user model has no known infinite-width kernel",
                     type(model).__name__)  # fmt: skip
    if cfg.factory is not None:
        out = load_factory(cfg.factory)(key, dim)
        if not (isinstance(out, tuple) and len(out) == 2 and callable(out[0])):
            raise TypeError(f"Expected model.factory {cfg.factory!r} to return (apply_fn, params).")
        reason = f"model.factory {cfg.factory!r} has no known infinite-width kernel"
        return Model(out[0], out[1], None, reason, cfg.factory)
    args = (cfg.depth, cfg.activation, cfg.weight_var, cfg.bias_var, cfg.first_layer_var)
    net = mlp(cfg.depth, cfg.width, cfg.activation, cfg.weight_var, cfg.bias_var,
              cfg.first_layer_var, centered=True)  # fmt: skip
    label = f"centered MLP depth {cfg.depth}, width {cfg.width}, {cfg.activation}"
    return Model(net.apply, net.init(key, dim), mlp_kernel(*args), "", label)
