"""The model of an experiment: one of ntkspec's architectures, a user factory, or a network.

A :class:`Model` is ``(apply, params)`` plus the infinite-width kernel when one is known (for
ntkspec's own architectures in NTK parametrization: ``[model] arch`` = mlp, resnet, fourier,
power_law or siren, docs/theory.md §6.7), or the reason there is none. Every architecture is
built centered (output 0 at initialization) and its apply function carries the static spec of
the structured empirical NTK (:func:`ntkspec.empirical.empirical_ntk`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any, NamedTuple

import jax

from ntkspec import _compat, arch_models
from ntkspec.architectures import architecture_kernel
from ntkspec.experiments.config import ModelConfig
from ntkspec.kernels import ZonalKernel
from ntkspec.models import mlp

__all__ = ["Model", "as_apply_params", "build_model", "describe", "load_factory", "model_kernel"]


class Model(NamedTuple):
    """A trainable network and, where known, its infinite-width kernel.

    Attributes:
      apply: ``apply(params, X) -> (n,)``; params: its pytree.
      kernel: the zonal kernel (:class:`~ntkspec.kernels.ZonalKernel`) of the infinite-width
        limit, or ``None``.
      reason: why there is no kernel (empty when there is one).
      label: a short description for reports.
    """

    apply: Any
    params: Any
    kernel: ZonalKernel | None
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


def _check_dim(cfg: ModelConfig, dim: int | None) -> None:
    if cfg.arch == "power_law" and dim is not None and dim != 2:
        raise ValueError(
            f"Expected data.dim = 2 for model.arch = 'power_law' (an embedding of S^1); got {dim}."
        )


def model_kernel(cfg: ModelConfig, dim: int | None = None) -> ZonalKernel | None:
    """The infinite-width NTK/NNGP kernel of ``[model]`` (``None`` for a ``model.factory``).

    ``cfg`` as :meth:`ModelConfig.validated` leaves it (activation and arch defaults filled);
    ``dim`` (the data's d, if known) is checked against the architecture (power_law: d = 2).
    The same kernel as ``build_model(cfg, key, dim).kernel``, without building the network.
    """
    _check_dim(cfg, dim)
    if cfg.factory is not None:
        return None
    return architecture_kernel(
        cfg.arch, cfg.depth, activation=cfg.activation, weight_var=cfg.weight_var,
        bias_var=cfg.bias_var, first_layer_var=cfg.first_layer_var, alpha=cfg.alpha,
        beta=cfg.beta, power=cfg.power, features=cfg.features, omega0=cfg.omega0,
    )  # fmt: skip


def _inner_net(cfg: ModelConfig):
    """The centered network of ``[model]`` (on features: the one on top; None at depth 0)."""
    if cfg.depth == 0:
        return None
    if cfg.arch == "resnet" or cfg.alpha is not None:
        alpha = 1.0 if cfg.alpha is None else cfg.alpha
        flv = 1.0 if cfg.first_layer_var is None else cfg.first_layer_var
        return arch_models.resnet(cfg.depth, cfg.width, alpha, cfg.activation, cfg.weight_var,
                                  flv, centered=True)  # fmt: skip
    return mlp(cfg.depth, cfg.width, cfg.activation, cfg.weight_var, cfg.bias_var,
               cfg.first_layer_var, centered=True)  # fmt: skip


def describe(cfg: ModelConfig) -> str:
    """A short description of ``[model]`` for reports (e.g. ``centered resnet depth 2 …``)."""
    if cfg.factory is not None:
        return cfg.factory
    if cfg.depth == 0:
        top = "linear readout"
    elif cfg.arch == "resnet" or cfg.alpha is not None:
        top = f"resnet depth {cfg.depth}, width {cfg.width}, {cfg.activation}, alpha {cfg.alpha}"
    else:
        top = f"MLP depth {cfg.depth}, width {cfg.width}, {cfg.activation}"
    if cfg.arch == "fourier":
        return f"centered {top} on {cfg.features} Fourier features (beta {cfg.beta:g})"
    if cfg.arch == "power_law":
        return f"centered {top} on a power-law embedding (J = {cfg.features}, p = {cfg.power:g})"
    if cfg.arch == "siren":
        return f"centered SIREN depth {cfg.depth}, width {cfg.width}, omega0 {cfg.omega0:g}"
    return f"centered {top}"


def _arch_net(cfg: ModelConfig, key: jax.Array, dim: int):
    """``(apply, params)`` of ntkspec's architecture ``cfg.arch`` (centered)."""
    if cfg.arch == "siren":  # arch_models.siren(depth, width, ω0, σ_w²) plus biases σ_b²
        wv = 2.0 if cfg.weight_var is None else cfg.weight_var
        net = mlp(cfg.depth, cfg.width, "sin", wv, cfg.bias_var, cfg.omega0**2, centered=True)
        return net.apply, net.init(key, dim)
    if cfg.arch in ("fourier", "power_law"):
        with _compat.random_streams():
            k_freq, key = jax.random.split(key)
        inner = _inner_net(cfg)
        if cfg.arch == "fourier":
            net = arch_models.fourier_net(k_freq, dim, cfg.features, cfg.beta, inner, centered=True)
        else:
            net = arch_models.power_law_net(cfg.power, cfg.features, inner, centered=True)
        return net.apply, net.init(key, dim)
    net = _inner_net(cfg)
    return net.apply, net.init(key, dim)


def build_model(cfg: ModelConfig, key: jax.Array, dim: int, model=None) -> Model:
    """The experiment's network: ``model`` if given, else ``cfg.factory``, else ``cfg.arch``."""
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
    kernel = model_kernel(cfg, dim)
    apply, params = _arch_net(cfg, key, dim)
    return Model(apply, params, kernel, "", describe(cfg))
