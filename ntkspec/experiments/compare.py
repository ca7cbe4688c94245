"""Theory versus practice for any model, loss and optimizer: :func:`compare`.

:func:`compare` is a short composition of steps, each a small function of its sections:

1. data: points from ``[data]``'s distribution, the target of ``[target]``, the weights of the
   per-degree projection (:mod:`ntkspec.experiments.data`);
2. model: ntkspec's centered MLP with its kernel, a user factory or a given network
   (:mod:`ntkspec.experiments.model`);
3. theory: the Funk–Hecke spectrum and the learnability check (only with a kernel);
4. loss and step: the :class:`~ntkspec.losses.Loss` of ``[loss]``, the stability limit for
   that loss *and* optimizer on the reference Gram (∞-width if known, else the empirical NTK)
   and the step ``lr`` (or ``lr_fraction`` × limit);
5. predictions with the optimizer's transfer: ``operator`` (λ_k w_k of the chosen loss),
   ``gram`` (∞-width Gram) and ``empirical`` (empirical NTK at init); next to a weighted or
   Sobolev loss also the plain-MSE ones, so the distortion and its repair are visible:
   ``gram_mse`` (the plain loss on the same, possibly nonuniform, sample: density-distorted
   rates) and, for Sobolev, ``operator_mse`` (λ_k, the unreweighted bias). Absent ones are
   listed in ``Predictions.absent`` with the reason (no kernel; a nonlinear optimizer such as
   Adam has no linear prediction at all);
6. training with :func:`ntkspec.train.fit` and a per-degree recorder;
7. agreement metrics (:mod:`ntkspec.experiments.metrics`).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntkspec import _compat, optimizers
from ntkspec._io import atomic_write_json, json_floats
from ntkspec.curves import DegreeCurves
from ntkspec.dynamics import max_stable_lr, predict_residual, predict_residual_gram
from ntkspec.empirical import empirical_ntk
from ntkspec.experiments import metrics
from ntkspec.experiments.config import ExperimentConfig, OptimizerConfig, load_config
from ntkspec.experiments.data import (
    Data,
    build_loss,
    make_target,
    projection_weights,
    sample_data,
)
from ntkspec.experiments.learnability import learnable_mask
from ntkspec.experiments.model import Model, build_model
from ntkspec.experiments.schedule import record_schedule
from ntkspec.losses import Loss, quadratic
from ntkspec.spectrum import Spectrum, spectrum
from ntkspec.sphere import degree_energy
from ntkspec.train import Run, fit, record_degrees, record_loss

__all__ = ["Agreement", "Experiment", "Predictions", "Setting", "compare", "make_optimizer"]


class Setting(NamedTuple):
    """The optimizer and loss as run: ``lr`` and the limit it was measured against.

    ``lr_limit`` is the stability limit of this loss and optimizer on the reference Gram
    (NaN for Adam, which has none); ``reference`` names that Gram (``"gram"``/``"empirical"``).
    """

    optimizer: optimizers.Optimizer
    loss: Loss
    lr: float
    lr_limit: float
    reference: str
    kmax: int


class Predictions(NamedTuple):
    """Predicted curves by name (target degrees only) and, for absent ones, the reason."""

    curves: dict[str, DegreeCurves]
    absent: dict[str, str]


class Agreement(NamedTuple):
    """Per prediction name, per target degree: max error, records compared, half-time ratio.

    ``half_time`` is the measured one (steps to 1/2, log-interpolated between records);
    ``half_time_predicted[name]`` the same for the prediction; ratios are NaN where not
    resolved (:func:`ntkspec.experiments.metrics.half_time_ratio`).
    """

    max_abs_error: dict[str, np.ndarray]
    compared_records: dict[str, np.ndarray]
    half_time: np.ndarray
    half_time_predicted: dict[str, np.ndarray]
    half_time_ratio: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What :func:`compare` returns: a few nested results.

    Attributes:
      config: the resolved :class:`~ntkspec.experiments.config.ExperimentConfig`.
      model: a description of the trained model (and why it has no kernel, if so).
      degrees: int64 ``(K,)`` target degrees; ``learnable``: bool ``(K,)``.
      spectrum: the Funk–Hecke spectrum, or ``None`` without an infinite-width kernel.
      setting: the optimizer, loss, step and stability limit.
      measured: the measured :class:`~ntkspec.curves.DegreeCurves` (target degrees).
      predictions, agreement: see :class:`Predictions`, :class:`Agreement`.
      kernel_drift: ``‖K_T − K_0‖_F / ‖K_0‖_F`` of the empirical NTK.
      init_kernel_error: ``‖K_0 − K_∞‖_F / ‖K_∞‖_F`` (NaN without a kernel).
      diverged: whether training diverged; notes: sentences the report must show.
      run: the :class:`ntkspec.train.Run` (params, records).
    """

    config: ExperimentConfig
    model: str
    degrees: np.ndarray
    learnable: np.ndarray
    spectrum: Spectrum | None
    setting: Setting
    measured: DegreeCurves
    predictions: Predictions
    agreement: Agreement
    kernel_drift: float
    init_kernel_error: float
    diverged: bool
    notes: tuple[str, ...]
    run: Run

    def to_dict(self) -> dict:
        """The ``metrics.json`` content (JSON-ready; non-finite floats as strings)."""
        fl, ag = json_floats, self.agreement
        return {
            "config": self.config.to_dict(),
            "model": self.model,
            "degrees": [int(k) for k in self.degrees],
            "learnable": [bool(v) for v in self.learnable],
            "eigenvalues": None
            if self.spectrum is None
            else fl(self.spectrum.eigenvalues[self.degrees]),
            "optimizer": self.setting.optimizer.to_dict(),
            "loss": self.setting.loss.to_dict(),
            "lr": float(self.setting.lr),
            "lr_limit": fl(self.setting.lr_limit),
            "measured": self.measured.to_dict(),
            "predictions": {k: c.to_dict() for k, c in self.predictions.curves.items()},
            "absent": dict(self.predictions.absent),
            "max_abs_error": {k: fl(v) for k, v in ag.max_abs_error.items()},
            "compared_records": {k: v.tolist() for k, v in ag.compared_records.items()},
            "half_time": fl(ag.half_time),
            "half_time_predicted": {k: fl(v) for k, v in ag.half_time_predicted.items()},
            "half_time_ratio": {k: fl(v) for k, v in ag.half_time_ratio.items()},
            "kernel_drift": fl(self.kernel_drift),
            "init_kernel_error": fl(self.init_kernel_error),
            "diverged": bool(self.diverged),
            "notes": list(self.notes),
            "compare_floor": metrics.COMPARE_FLOOR,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` atomically as JSON."""
        return atomic_write_json(path, self.to_dict())


# ----------------------------------------------------------------------------- steps
def prepare_data(cfg: ExperimentConfig, k_points, k_target) -> Data:
    """Step 1: points, target and projection weights."""
    X, dist, design = sample_data(cfg.data, k_points)
    y = make_target(cfg.target, X, k_target)
    weights, method = projection_weights(cfg.run, X, dist, design)
    return Data(X, y, dist, weights, method, design)


def theory(net: Model, cfg: ExperimentConfig, kmax: int):
    """Step 3: the spectrum and per-degree learnability (``None``/all True without a kernel)."""
    degrees = cfg.target.degrees
    if net.kernel is None:
        return None, np.ones(len(degrees), dtype=bool)
    allow = cfg.run.allow_unlearnable
    learnable = learnable_mask(
        net.kernel, cfg.data.dim, degrees, allow=allow, flag="run.allow_unlearnable"
    )
    # Up to k = 64 (at least kmax): the report's spectrum figure and decay fit use it too.
    return spectrum(net.kernel, cfg.data.dim, max(64, kmax)), learnable


def grams(net: Model, X: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """The infinite-width Gram (or ``None``) and the empirical NTK at init, float64."""
    K_inf = None
    if net.kernel is not None:
        with _compat.enable_x64():
            K_inf = np.asarray(net.kernel.gram(X), dtype=np.float64)
    K0 = np.asarray(empirical_ntk(net.apply, net.params, jnp.asarray(X, jnp.float32)),
                    dtype=np.float64)  # fmt: skip
    return K_inf, 0.5 * (K0 + K0.T)


def make_optimizer(cfg: OptimizerConfig, lr: float) -> optimizers.Optimizer:
    """The :class:`~ntkspec.optimizers.Optimizer` of ``[optimizer]`` with step ``lr``."""
    if cfg.kind in ("momentum", "nesterov"):
        return getattr(optimizers, cfg.kind)(lr, cfg.beta)
    if cfg.kind == "sgd":
        return optimizers.sgd(lr, cfg.batch_size)
    if cfg.kind == "adam":
        return optimizers.adam(lr, cfg.b1, cfg.b2, cfg.eps)
    return optimizers.gd(lr)


def step_size(cfg: ExperimentConfig, K_ref, reference, loss: Loss, X, kmax) -> Setting:
    """Step 4: the stability limit of this loss and optimizer, and the step."""
    oc = cfg.optimizer
    if oc.kind == "adam":
        return Setting(make_optimizer(oc, oc.lr), loss, oc.lr, np.nan, reference, kmax)
    template = make_optimizer(oc, 1.0)
    limit = max_stable_lr(K_ref, loss=loss, optimizer=template, X=X, kmax=kmax)
    lr = oc.lr if oc.lr is not None else oc.lr_fraction * limit
    if lr > limit:
        message = (
            f"optimizer.lr = {lr:.6g} is above the stability limit {limit:.6g} of {oc.kind} "
            f"with the {loss.kind} loss on this sample's {reference} NTK: training will "
            "likely diverge"
        )
        if not cfg.run.allow_unstable:
            raise ValueError(
                f"{message}. Lower optimizer.lr (--lr), or set run.allow_unstable = true "
                "(--allow-unstable) to run it anyway."
            )
        warnings.warn(message + ".", UserWarning, stacklevel=3)
    return Setting(make_optimizer(oc, lr), loss, float(lr), float(limit), reference, kmax)


def _select(curves: DegreeCurves, degrees: np.ndarray, label: str) -> DegreeCurves:
    idx = np.searchsorted(curves.degrees, degrees)
    return DegreeCurves(
        times=np.asarray(curves.times), degrees=degrees, norms=curves.norms[:, idx],
        initial=np.asarray(curves.initial)[idx], source=curves.source, label=label,
        meta=dict(curves.meta),
    )  # fmt: skip


def predict(data: Data, r0, spec, K_inf, K0, setting: Setting, degrees, times, steps):
    """Step 5: every available prediction (target degrees) and the reasons for the others.

    Above the stability limit (``run.allow_unstable``) a prediction whose residual overflows
    float64 is absent, with the reason, instead of stopping the run before training.
    """
    opt, loss, kmax = setting.optimizer, setting.loss, setting.kmax
    if opt.transfer is None:
        why = f"optimizer {opt.name!r} has no linear transfer: there is no linear prediction"
        return Predictions({}, dict.fromkeys(("operator", "gram", "empirical"), why))
    kw = {"times": times, "allow_unstable": True}
    makers = {}
    if spec is not None:
        # A quadrature projection of a degree the target lacks can come out as -1e-22 (rounding
        # of Σ c_i c_j r_i r_j P_k); energies are nonnegative, so clip before predicting.
        e0 = np.maximum(degree_energy(data.X, r0, kmax, weights=data.projection), 0.0)
        makers["operator"] = (
            f"operator ({loss.kind})",
            lambda: predict_residual(spec, e0, opt, steps, loss=loss, **kw),
        )
        if loss.kind == "sobolev":
            makers["operator_mse"] = (
                "operator (plain mse)",
                lambda: predict_residual(spec, e0, opt, steps, loss="mse", **kw),
            )
    gkw = {"kmax": kmax, "weights": data.projection, "loss": loss, **kw}
    if K_inf is not None:
        makers["gram"] = (
            "infinite-width Gram",
            lambda: predict_residual_gram(K_inf, data.X, r0, opt, steps, **gkw),
        )
        if loss.kind != "mse":  # the plain loss on the same sample: the distortion
            makers["gram_mse"] = (
                "infinite-width Gram (plain mse)",
                lambda: predict_residual_gram(
                    K_inf, data.X, r0, opt, steps, **{**gkw, "loss": "mse"}
                ),
            )
    makers["empirical"] = (
        "empirical NTK at init",
        lambda: predict_residual_gram(K0, data.X, r0, opt, steps, **gkw),
    )
    curves, absent = {}, {}
    if spec is None:
        absent["operator"] = absent["gram"] = "no infinite-width kernel for this model"
    for name, (label, make) in makers.items():
        try:
            curves[name] = _select(make(), degrees, label)
        except ValueError:
            if not setting.lr > setting.lr_limit:
                raise
            absent[name] = "its residual overflows float64 (lr far above the stability limit)"
    return Predictions(curves, absent)


def measure(net: Model, data: Data, setting: Setting, cfg: ExperimentConfig, key, **train_kw):
    """Step 6: train with :func:`ntkspec.train.fit`; the run and per-degree measured curves."""
    recorders = (record_degrees(data.X, setting.kmax, weights=data.projection), record_loss())
    loss = setting.loss
    if loss.kind == "sobolev":  # its matrix from the float64 points (fit sees float32 ones)
        loss = quadratic(loss.metric(data.X, kmax=setting.kmax))
    run = fit(
        net.apply, net.params, jnp.asarray(data.X, jnp.float32), data.y.astype(np.float32),
        optimizer=setting.optimizer, steps=cfg.run.steps, loss=loss,
        times=record_schedule(cfg.run.steps, cfg.run.record_every), recorders=recorders,
        kmax=setting.kmax, key=key if setting.optimizer.name == "sgd" else None, **train_kw,
    )  # fmt: skip
    return run, _select(run.records["degrees"], np.asarray(cfg.target.degrees), "measured")


def agree(measured: DegreeCurves, preds: Predictions) -> Agreement:
    """Step 7: max errors, compared records and half-time ratios per prediction.

    Compared on the measured records: a diverged run stops early, so its records are the
    first ones of the schedule the predictions were made on.
    """
    t, m = measured.times, measured.normalized()
    half = measured.steps_to_fraction(0.5)
    errs, counts, halves, ratios = {}, {}, {}, {}
    for name, c in preds.curves.items():
        p = c.normalized()[np.searchsorted(c.times, t)]
        errs[name] = metrics.max_abs_error(t, m, p)
        counts[name] = metrics.compared_records(t, p)
        halves[name] = c.steps_to_fraction(0.5)
        ratios[name] = metrics.half_time_ratio(t, half, halves[name])
    return Agreement(errs, counts, half, halves, ratios)


def _notes(net: Model, setting: Setting, preds: Predictions, data: Data) -> tuple[str, ...]:
    notes = []
    if net.kernel is None:
        notes.append(f"No infinite-width kernel ({net.reason}): the operator and infinite-"
                     "width Gram predictions are absent; the empirical-NTK prediction carries "
                     "the comparison.")  # fmt: skip
    if setting.optimizer.transfer is None:
        notes.append(f"{setting.optimizer.name} is nonlinear: there is no linear prediction; "
                     "only measured curves are shown.")  # fmt: skip
    if setting.optimizer.name == "sgd":
        notes.append("Mini-batch SGD: the predictions are of the expected residual.")
    if data.projection is not None:
        name = data.distribution.name if data.design is None else "grid"
        notes.append(f"Per-degree norms use {data.projection_method} quadrature weights "
                     f"(data: {name}).")  # fmt: skip
    return tuple(notes)


def compare(
    config: ExperimentConfig | Mapping | str | os.PathLike | None = None,
    model: Any = None,
    *,
    callback: Callable[[int, int], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
) -> Experiment:
    """Run one theory-versus-practice experiment (module docstring).

    Args:
      config: an :class:`~ntkspec.experiments.config.ExperimentConfig`, a mapping (sections
        or flat 0.1 keys), a TOML path, or ``None`` (preset ``sphere3``).
      model: optional network replacing ``[model]``: an ``(apply_fn, params)`` pair, an
        Equinox or Flax NNX module, or a ``(Linen module, variables)`` pair.
      callback, checkpoint, checkpoint_every: forwarded to :func:`ntkspec.train.fit`.

    Raises:
      ValueError: invalid config; an unlearnable target degree without
        ``run.allow_unlearnable``; an explicit lr above the limit without
        ``run.allow_unstable``. All before any training.
    """
    cfg = config.validated() if isinstance(config, ExperimentConfig) else load_config(config)
    with _compat.random_streams():
        k_points, k_target, k_init, k_batch = jax.random.split(jax.random.key(cfg.run.seed), 4)
    data = prepare_data(cfg, k_points, k_target)
    net = build_model(cfg.model, k_init, cfg.data.dim, model)
    degrees = np.asarray(cfg.target.degrees, dtype=np.int64)
    kmax = int(degrees.max()) + 1
    spec, learnable = theory(net, cfg, kmax)
    loss = build_loss(cfg.loss, data)
    K_inf, K0 = grams(net, data.X)
    reference = "infinite-width" if K_inf is not None else "empirical"
    setting = step_size(cfg, K_inf if K_inf is not None else K0, reference, loss, data.X, kmax)
    Xj = jnp.asarray(data.X, jnp.float32)
    r0 = np.asarray(net.apply(net.params, Xj), dtype=np.float64).reshape(-1) - data.y
    times = record_schedule(cfg.run.steps, cfg.run.record_every)
    preds = predict(data, r0, spec, K_inf, K0, setting, degrees, times, cfg.run.steps)
    run, measured = measure(net, data, setting, cfg, k_batch, callback=callback,
                            checkpoint=checkpoint, checkpoint_every=checkpoint_every)  # fmt: skip
    KT = np.asarray(empirical_ntk(net.apply, run.params, Xj), dtype=np.float64)
    init_err = np.nan if K_inf is None else np.linalg.norm(K0 - K_inf) / np.linalg.norm(K_inf)
    return Experiment(
        config=cfg, model=net.label, degrees=degrees, learnable=learnable, spectrum=spec,
        setting=setting, measured=measured, predictions=preds, agreement=agree(measured, preds),
        kernel_drift=float(np.linalg.norm(KT - K0) / np.linalg.norm(K0)),
        init_kernel_error=float(init_err), diverged=bool(run.diverged),
        notes=_notes(net, setting, preds, data), run=run,
    )  # fmt: skip
