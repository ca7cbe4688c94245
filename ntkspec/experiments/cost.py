"""What a theory-versus-practice run costs: FLOPs by part and a calibrated time estimate.

The one home of the cost model printed before training by ``ntkspec compare``
(:func:`ntkspec.experiments.compare`). The FLOP model counts the multiply-adds of the
configured architecture (``[model] arch``: mlp, resnet, fourier, power_law, siren; see
:func:`model_macs`); a user network (``model.factory``) has none.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import NamedTuple

import jax
import numpy as np

from ntkspec import _compat
from ntkspec.experiments.config import ExperimentConfig, ModelConfig, load_config
from ntkspec.experiments.model import build_model
from ntkspec.experiments.schedule import record_schedule
from ntkspec.sphere import sample_sphere

__all__ = ["CostEstimate", "estimate_cost", "model_macs", "step_flops"]


class CostEstimate(NamedTuple):
    """What a compare run will cost (:func:`estimate_cost`): FLOPs and, if calibrated, time.

    Attributes:
      flops_train: GD training, ``steps × 12 n × macs``: forward (2 flops per multiply-add)
        plus backward (twice the forward) of both copies of the centered network on n points,
        ``macs`` of :func:`model_macs` (the MLP: ``d·m + (L−1)·m² + m``).
      flops_ntk: the two empirical NTKs (at init and after training), structured method:
        features as in one training step, plus per copy ``2 n² × columns`` (:func:`model_macs`;
        the MLP: ``d + 2 L m + 1``) for the per-layer Gram products.
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


def model_macs(cfg: ModelConfig, d: int) -> tuple[float, float]:
    """``(multiply-adds per point of one GD step / 3, NTK Gram columns)`` of ``[model]``.

    Per copy of the centered network on inputs in R^d (``L = depth``, ``m = width``), the
    forward pass of a weight matrix costs its size and its backward twice that: 3 forward
    passes in all. Exceptions: the frozen Fourier projection (``d·M``, forward only) and the
    first layer on the features (no input gradient: 2 passes) count 1/3 and 2/3.

    - mlp, siren: ``d·m + (L−1)·m² + m``; Gram columns ``d + 2Lm + 1`` (every weight
      matrix contributes its input and output widths, :mod:`ntkspec.empirical`).
    - resnet: ``d·m + 2L·m² + m`` (two m × m matrices per block); columns ``d + (4L+2)m + 1``.
    - fourier (M = features): ``d·M/3 + (2/3)·2M·m`` plus the rest of the network on top (an
      MLP, a resnet when ``alpha`` is set), or ``d·M/3 + (2/3)·2M`` for the readout (depth 0).
    - power_law (J = features): as fourier with a negligible embedding, on ``2J`` inputs.
    """
    L, m = cfg.depth, cfg.width
    feats = cfg.arch in ("fourier", "power_law")
    d_in = 2 * cfg.features if feats else d
    embed = d * cfg.features / 3 if cfg.arch == "fourier" else 0.0
    first = (2 / 3 if feats else 1.0) * d_in * (m if L else 1)
    if feats and L == 0:
        return embed + first, float(d_in + 1)
    if cfg.arch == "resnet" or cfg.alpha is not None:
        return embed + first + 2 * L * m * m + m, float(d_in + (4 * L + 2) * m + 1)
    return embed + first + (L - 1) * m * m + m, float(d_in + 2 * L * m + 1)


def step_flops(n: int, d: int, depth: int, width: int, model: ModelConfig | None = None) -> float:
    """One GD step of the centered network: 2 copies × (forward + backward ≈ 3 forward).

    ``model`` (default: the MLP of ``depth`` and ``width``) selects the architecture.
    """
    if model is None:
        model = ModelConfig(depth=depth, width=width)
    return 2 * 3 * 2.0 * n * model_macs(model, d)[0]


def estimate_cost(
    config: ExperimentConfig | Mapping | None = None, *, calibrate: bool = True
) -> CostEstimate:
    """FLOPs of a compare run of ``config`` and, with ``calibrate``, a time estimate.

    The calibration compiles one GD step of the configured network, reduced to at most 256
    points, width 2048 and 2048 features to stay quick, times three runs of it and scales by
    FLOPs; the formulas are in :class:`CostEstimate`.

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
    step = step_flops(n, d, L, m, cfg.model)
    columns = model_macs(cfg.model, d)[1]
    kmax = max(cfg.target.degrees) + 1
    schedule = record_schedule(cfg.run.steps, cfg.run.record_every)
    flops_train = cfg.run.steps * step
    flops_ntk = 2 * (step / 3 + 2 * 2.0 * n * n * columns)
    flops_linalg = (4 / 3 + 2 * 9) * float(n) ** 3 + 2.0 * n * n * (kmax + 1) * len(schedule)
    total = flops_train + flops_ntk + flops_linalg
    if not calibrate:
        return CostEstimate(flops_train, flops_ntk, flops_linalg, total, np.nan, np.nan)
    small_n, small = min(n, 256), dataclasses.replace(cfg.model, width=min(m, 2048))
    if small.features is not None:
        small = dataclasses.replace(small, features=min(small.features, 2048))
    net = build_model(small, jax.random.key(0), d)
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
    rate = step_flops(small_n, d, L, small.width, small) / max(float(np.median(times)), 1e-9)
    # Compilation: one program per distinct chunk length of the schedule, plus the NTKs'.
    programs = len(np.unique(np.diff(schedule))) + 2
    step_seconds, seconds = step / rate, total / rate + programs * compile_seconds
    return CostEstimate(flops_train, flops_ntk, flops_linalg, total, step_seconds, seconds)
