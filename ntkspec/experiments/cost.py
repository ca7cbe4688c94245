"""What a theory-versus-practice run costs: FLOPs by part and a calibrated time estimate.

The one home of the cost model printed before training by ``ntkspec compare`` (both the
sectioned path, :func:`ntkspec.experiments.compare`, and the 0.1 front-end
:func:`ntkspec.compare.estimate_cost`). The FLOP model is that of ntkspec's centered MLP.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import NamedTuple

import jax
import numpy as np

from ntkspec import _compat
from ntkspec.experiments.config import ExperimentConfig, load_config
from ntkspec.experiments.model import build_model
from ntkspec.experiments.schedule import record_schedule
from ntkspec.sphere import sample_sphere

__all__ = ["CostEstimate", "estimate_cost", "step_flops"]


class CostEstimate(NamedTuple):
    """What a compare run will cost (:func:`estimate_cost`): FLOPs and, if calibrated, time.

    Attributes:
      flops_train: GD training, ``steps × 12 n (d·m + (L−1)·m² + m)``: forward (2 flops per
        multiply-add) plus backward (twice the forward) of both copies of the centered MLP
        (depth L, width m) on n points.
      flops_ntk: the two empirical NTKs (at init and after training), structured method:
        features as in one training step, plus per copy ``2 n² (d + 2 L m + 1)`` for the
        per-layer Gram products.
      flops_linalg: the dense n × n work on the host: one ``eigvalsh`` (stability limit,
        ≈ 4n³/3), two ``eigh`` with vectors (the ∞-Gram and empirical-NTK predictions,
        ≈ 9n³ each; Golub & Van Loan) and the per-degree energies of every record
        (``2 n² (kmax + 1)`` each).
      flops: the total.
      step_seconds: estimated seconds per training step (NaN if not calibrated).
      seconds: estimated total seconds, every FLOP at the rate a timed calibration step
        achieved, plus its compilation time for each program compiled (NaN if not
        calibrated). A rough guide (figures, host work and other processes are not
        modelled), not a bound.
    """

    flops_train: float
    flops_ntk: float
    flops_linalg: float
    flops: float
    step_seconds: float
    seconds: float


def step_flops(n: int, d: int, depth: int, width: int) -> float:
    """One GD step of the centered MLP: 2 copies × (forward + backward ≈ 3 forward)."""
    return 2 * 3 * 2.0 * n * (d * width + (depth - 1) * width**2 + width)


def estimate_cost(
    config: ExperimentConfig | Mapping | None = None, *, calibrate: bool = True
) -> CostEstimate:
    """FLOPs of a compare run of ``config`` and, with ``calibrate``, a time estimate.

    The calibration compiles one GD step of the configured MLP, reduced to at most 256
    points and width 2048 to stay quick, times three runs of it and scales by FLOPs; the
    formulas are in :class:`CostEstimate`.

    Raises:
      ValueError: ``model.factory`` is set (a user network has no FLOP model here).

    >>> est = estimate_cost({"data": {"n": 100, "dim": 3}, "model": {"width": 10},
    ...                      "run": {"steps": 10}}, calibrate=False)
    >>> est.flops_train == 10 * 12 * 100 * (3 * 10 + 10)
    True
    """
    cfg = config.validated() if isinstance(config, ExperimentConfig) else load_config(config)
    if cfg.model.factory is not None:
        raise ValueError(
            f"Expected ntkspec's MLP for a cost estimate; model.factory {cfg.model.factory!r} "
            "has no FLOP model."
        )
    n, d, L, m = cfg.data.n, cfg.data.dim, cfg.model.depth, cfg.model.width
    step = step_flops(n, d, L, m)
    kmax = max(cfg.target.degrees) + 1
    schedule = record_schedule(cfg.run.steps, cfg.run.record_every)
    flops_train = cfg.run.steps * step
    flops_ntk = 2 * (step / 3 + 2 * 2.0 * n * n * (d + 2 * L * m + 1))
    flops_linalg = (4 / 3 + 2 * 9) * float(n) ** 3 + 2.0 * n * n * (kmax + 1) * len(schedule)
    total = flops_train + flops_ntk + flops_linalg
    if not calibrate:
        return CostEstimate(flops_train, flops_ntk, flops_linalg, total, np.nan, np.nan)
    small_n, small_m = min(n, 256), min(m, 2048)
    net = build_model(dataclasses.replace(cfg.model, width=small_m), jax.random.key(0), d)
    with _compat.random_streams():
        X = sample_sphere(jax.random.key(1), small_n, d, dtype=jax.numpy.float32)

    def loss(p):
        return 0.5 * jax.numpy.mean(net.apply(p, X) ** 2)

    grad = jax.jit(jax.value_and_grad(loss))
    t0 = time.perf_counter()
    jax.block_until_ready(grad(net.params))  # compile
    compile_seconds = time.perf_counter() - t0
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        jax.block_until_ready(grad(net.params))
        times.append(time.perf_counter() - t0)
    rate = step_flops(small_n, d, L, small_m) / max(float(np.median(times)), 1e-9)
    # Compilation: one program per distinct chunk length of the schedule, plus the NTKs'.
    programs = len(np.unique(np.diff(schedule))) + 2
    step_seconds, seconds = step / rate, total / rate + programs * compile_seconds
    return CostEstimate(flops_train, flops_ntk, flops_linalg, total, step_seconds, seconds)
