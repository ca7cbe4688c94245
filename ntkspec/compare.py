"""Theory versus practice: predicted and measured per-degree residual decay of real GD.

:func:`compare` runs one configuration end to end:

1. the infinite-width spectrum λ_k of ``mlp_kernel`` (Funk–Hecke);
2. three linearized predictions of the per-degree residual ``‖Π_k r_t‖ / ‖Π_k r_0‖``:
   the operator (``|1 - ηλ_k|^t``), the infinite-width Gram on the sample and the empirical
   NTK at initialization on the sample;
3. a real, JIT-compiled full-batch GD run of a centered MLP in NTK parametrization;
4. agreement metrics per degree.

Fair defaults (docs/theory.md §3.4): the network is centered (antisymmetric init, f_0 ≡ 0, so
r_0 = -y exactly), the target is small (amplitude 0.1 per degree, keeping training in the lazy
regime), the step is a quarter of the stability limit 2/λ_max, and a degree is compared only
while its predicted factor is ≥ 0.05 (below that, relative errors are dominated by what is
left of the other degrees and by float32 training noise).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import jax
import numpy as np

from ntkspec import _compat
from ntkspec._io import atomic_write_json, json_floats
from ntkspec._validate import check_choice, check_int, check_positive
from ntkspec.dynamics import max_stable_lr, predict_residual, predict_residual_gram
from ntkspec.empirical import empirical_ntk
from ntkspec.experiments import cost as experiment_cost
from ntkspec.experiments import metrics
from ntkspec.experiments import width as experiment_width
from ntkspec.experiments.config import (
    MAX_POINTS,
    MAX_SEED,
    TargetConfig,
    degrees_and_amplitudes,
    int_tuple,
)
from ntkspec.experiments.cost import CostEstimate
from ntkspec.experiments.data import make_target
from ntkspec.experiments.learnability import learnable_mask, unlearnable_degrees
from ntkspec.experiments.metrics import COMPARE_FLOOR, MIN_COMPARED_RECORDS  # noqa: F401 (0.1 names)
from ntkspec.experiments.schedule import record_schedule
from ntkspec.experiments.width import WidthStudy
from ntkspec.kernels import ACTIVATIONS, mlp_kernel
from ntkspec.models import mlp
from ntkspec.spectrum import Spectrum, spectrum
from ntkspec.sphere import circle_points, degree_energy
from ntkspec.train import TrainRecord, train

__all__ = [
    "PRESETS",
    "CompareConfig",
    "Comparison",
    "CostEstimate",
    "WidthStudy",
    "check_learnable",
    "compare",
    "estimate_cost",
    "load_config",
    "record_schedule",
    "unlearnable_degrees",
    "width_study",
]


@dataclasses.dataclass(frozen=True)
class CompareConfig:
    """One theory-versus-practice experiment (all fields validated by :meth:`validated`).

    Attributes:
      dim: ambient dimension d (points on S^{d-1}).
      depth, activation, weight_var, bias_var, first_layer_var: the MLP and its kernel
        (as :func:`ntkspec.kernels.mlp_kernel`; ``weight_var=None`` means the default).
      width: hidden width of the trained network.
      n: number of training points.
      sampling: ``"uniform"`` (iid uniform on the sphere) or ``"equispaced"`` (S^1 only).
      degrees: the harmonic degrees present in the target.
      amplitudes: L²(σ) norm of each degree's component (one per degree, or one for all).
      lr: GD step; ``None`` = ``lr_fraction`` × the stability limit 2/λ_max(K/n).
      lr_fraction: see ``lr``.
      allow_unstable: accept an explicit ``lr`` above the stability limit 2/λ_max (with a
        warning); by default :func:`compare` refuses it.
      allow_unlearnable: train even if some target degree has λ_k = 0 within error (it cannot
        be learned: its residual never decays); by default :func:`compare` refuses it. The
        report then marks those degrees.
      steps: length of training.
      record_every: the spacing of late records: the residual is recorded at the log-spaced
        steps 1, 2, 3, 4, 6, 8, 12, … below ``record_every`` (so that fast degrees are
        compared too), then every ``record_every`` steps, and at ``steps``
        (:func:`record_schedule`).
      seed: integer seed of every random draw (points, target, init).
    """

    dim: int = 3
    depth: int = 1
    activation: str = "relu"
    weight_var: float | None = None
    bias_var: float = 0.0
    first_layer_var: float | None = None
    width: int = 8192
    n: int = 512
    sampling: str = "uniform"
    degrees: tuple[int, ...] = (1, 2, 4)
    amplitudes: tuple[float, ...] = (0.1,)
    lr: float | None = None
    lr_fraction: float = 0.25
    allow_unstable: bool = False
    allow_unlearnable: bool = False
    steps: int = 1500
    record_every: int = 10
    seed: int = 0

    def validated(self) -> CompareConfig:
        """Return a copy with types normalized; raise ``ValueError``/``TypeError`` if invalid."""
        dim = check_int("dim", self.dim, minimum=2, maximum=1000)
        depth = check_int("depth", self.depth, minimum=1, maximum=64)
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise ValueError(
                f"Expected activation to be one of {list(ACTIVATIONS)}; got {self.activation!r}."
            )
        width = check_int("width", self.width, minimum=1, maximum=1 << 20)
        n = check_int("n", self.n, minimum=2, maximum=MAX_POINTS)
        sampling = check_choice("sampling", self.sampling, ("uniform", "equispaced"))
        if sampling == "equispaced" and dim != 2:
            raise ValueError(f"Expected dim = 2 for sampling='equispaced' (S^1); got dim = {dim}.")
        degrees, amps = degrees_and_amplitudes(self.degrees, self.amplitudes)
        if sampling == "equispaced" and max(degrees) >= n / 2:
            raise ValueError(
                f"Expected degrees below the Nyquist degree n/2 = {n / 2:g}; got {max(degrees)}."
            )
        lr = None if self.lr is None else check_positive("lr", self.lr)
        frac = check_positive("lr_fraction", self.lr_fraction)
        if frac >= 1:
            raise ValueError(f"Expected lr_fraction < 1 (of the stability limit); got {frac}.")
        for flag in ("allow_unstable", "allow_unlearnable"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(
                    f"Expected {flag} to be true or false; got {getattr(self, flag)!r}."
                )
        steps = check_int("steps", self.steps, minimum=1, maximum=10**7)
        record_every = check_int("record_every", self.record_every, minimum=1)
        seed = check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        # Validates activation/variances exactly as the kernel does.
        mlp_kernel(depth, self.activation, self.weight_var, self.bias_var, self.first_layer_var)
        return dataclasses.replace(
            self,
            dim=dim,
            depth=depth,
            width=width,
            n=n,
            sampling=sampling,
            degrees=degrees,
            amplitudes=amps,
            lr=lr,
            lr_fraction=frac,
            steps=steps,
            record_every=record_every,
            seed=seed,
        )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["degrees"], d["amplitudes"] = list(self.degrees), list(self.amplitudes)
        return d


#: Named configurations for ``ntkspec compare --preset``.
PRESETS: dict[str, CompareConfig] = {
    # Two-layer ReLU on S^2, uniform samples, harmonics of degree 1, 2, 4 (odd k >= 3 vanish
    # for this kernel, so they would never be learned).
    "sphere3": CompareConfig(),
    # The circle: equispaced points, sines; the DFT makes the degree projection exact.
    "circle": CompareConfig(dim=2, n=256, sampling="equispaced", degrees=(1, 2, 4, 8), steps=2000),
    # A fast configuration for tests and smoke runs.
    "tiny": CompareConfig(width=1024, n=128, steps=300, record_every=10),
}


def load_config(
    source: str | os.PathLike | Mapping | None = None,
    *,
    preset: str | None = None,
    overrides: Mapping | None = None,
) -> CompareConfig:
    """Resolve a configuration: preset, then a TOML file or mapping, then overrides.

    Unknown keys, wrong types and invalid values raise ``ValueError``/``TypeError``; a TOML
    syntax error raises ``ValueError`` naming the file.
    """
    if preset is not None and (not isinstance(preset, str) or preset not in PRESETS):
        raise ValueError(f"Expected preset to be one of {sorted(PRESETS)}; got {preset!r}.")
    base = PRESETS[preset or "sphere3"]
    values: dict = {}
    if source is not None:
        if isinstance(source, Mapping):
            values.update(source)
        elif not isinstance(source, str | os.PathLike):
            raise TypeError(
                "Expected config to be a TOML file path or a mapping of CompareConfig fields; "
                f"got {type(source).__name__}."
            )
        else:
            path = Path(source)
            try:
                # utf-8-sig: a byte-order mark (as some Windows editors write) is skipped.
                values.update(tomllib.loads(path.read_text(encoding="utf-8-sig")))
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"Invalid TOML in {path}: {e}") from None
            except (OSError, UnicodeDecodeError) as e:
                raise ValueError(f"Cannot read config file {path}: {e}") from None
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in dataclasses.fields(CompareConfig)}
    unknown = sorted(set(values) - known, key=repr)
    if unknown:
        raise ValueError(f"Unknown config key(s) {unknown}; expected some of {sorted(known)}.")
    return dataclasses.replace(base, **values).validated()


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`: predictions, measurement and agreement metrics.

    Per-degree arrays are indexed like ``degrees`` (the target's degrees); curves are the
    normalized residual ``‖Π_k r_t‖ / ‖Π_k r_0‖`` at ``times``.

    Attributes:
      config: the resolved :class:`CompareConfig`.
      spectrum: infinite-width Funk–Hecke spectrum (k = 0..max(64, kmax)).
      degrees: int64 ``(K,)``; times: int64 ``(T,)``.
      measured, predicted, predicted_gram, predicted_empirical: float64 ``(T, K)``.
      max_abs_error, max_abs_error_gram, max_abs_error_empirical: float64 ``(K,)``, the max over
        times with predicted ≥ 0.05 of |measured − prediction|; NaN where fewer than
        ``MIN_COMPARED_RECORDS`` = 2 records after step 0 have predicted ≥ 0.05 (no
        comparison happened).
      compared_records: int64 ``(K,)``, per degree the number of records after step 0 where
        the operator prediction is ≥ 0.05 (those the operator error is taken over).
      learnable: bool ``(K,)``, False where λ_k = 0 within error (the degree cannot be
        learned; only with ``allow_unlearnable``).
      half_time, half_time_predicted: float64 ``(K,)``, steps until the degree's residual is
        1/2 of its start: measured (log-interpolated between records) and from the operator
        (+inf where the operator predicts no decay, |1 − ηλ_k| >= 1).
      half_time_ratio: float64 ``(K,)``, measured / predicted half-time; NaN where either is
        not finite or fewer than two records fall within twice the predicted half-time (not
        resolvable).
      kernel_drift: ``‖K_T − K_0‖_F / ‖K_0‖_F`` of the empirical NTK.
      init_kernel_error: ``‖K_0 − K_∞‖_F / ‖K_∞‖_F`` (empirical vs infinite-width at init).
      lr: the step used; lr_limit: 2/λ_max(K_∞/n).
      diverged: the training run diverged.
      train_record: the full :class:`~ntkspec.train.TrainRecord`.
    """

    config: CompareConfig
    spectrum: Spectrum
    degrees: np.ndarray
    times: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    predicted_gram: np.ndarray
    predicted_empirical: np.ndarray
    max_abs_error: np.ndarray
    max_abs_error_gram: np.ndarray
    max_abs_error_empirical: np.ndarray
    compared_records: np.ndarray
    learnable: np.ndarray
    half_time: np.ndarray
    half_time_predicted: np.ndarray
    half_time_ratio: np.ndarray
    kernel_drift: float
    init_kernel_error: float
    lr: float
    lr_limit: float
    diverged: bool
    train_record: TrainRecord

    def to_dict(self) -> dict:
        """The ``metrics.json`` content (JSON-ready, full-precision floats).

        Non-finite values are written as the strings ``"inf"``/``"-inf"``/``"nan"``, as in every
        ntkspec JSON file (``float(s)`` reads them back): an infinite half-time means "never
        reached", NaN means "not resolvable" (or, for an error, "not compared").
        """
        fl = json_floats

        def curves(a):
            return [fl(row) for row in a]

        return {
            "config": self.config.to_dict(),
            "degrees": [int(k) for k in self.degrees],
            "times": [int(t) for t in self.times],
            "measured": curves(self.measured),
            "predicted": curves(self.predicted),
            "predicted_gram": curves(self.predicted_gram),
            "predicted_empirical": curves(self.predicted_empirical),
            "max_abs_error": fl(self.max_abs_error),
            "max_abs_error_gram": fl(self.max_abs_error_gram),
            "max_abs_error_empirical": fl(self.max_abs_error_empirical),
            "compared_records": [int(v) for v in self.compared_records],
            "learnable": [bool(v) for v in self.learnable],
            "half_time": fl(self.half_time),
            "half_time_predicted": fl(self.half_time_predicted),
            "half_time_ratio": fl(self.half_time_ratio),
            "kernel_drift": fl(self.kernel_drift),
            "init_kernel_error": fl(self.init_kernel_error),
            "lr": float(self.lr),
            "lr_limit": float(self.lr_limit),
            "eigenvalues": fl(self.spectrum.eigenvalues[self.degrees]),
            "diverged": bool(self.diverged),
            "compare_floor": COMPARE_FLOOR,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` atomically as JSON."""
        return atomic_write_json(path, self.to_dict())


def _points(cfg: CompareConfig, key) -> np.ndarray:
    if cfg.sampling == "equispaced":
        return circle_points(cfg.n)  # float64 under any x64 setting
    return experiment_width.sample_points(key, cfg.n, cfg.dim)


def _target(cfg: CompareConfig, X: np.ndarray, key) -> np.ndarray:
    """Σ_k A_k h_k with unit-norm random harmonics h_k (on S^1 equispaced: √2 sin(kθ + φ_k))."""
    target = TargetConfig(cfg.degrees, cfg.amplitudes)
    return make_target(target, X, key, sines=cfg.sampling == "equispaced")


def estimate_cost(
    config: CompareConfig | Mapping | None = None, *, calibrate: bool = True
) -> CostEstimate:
    """FLOPs of :func:`compare` for ``config`` and, with ``calibrate``, a time estimate.

    The 0.1 front-end of :func:`ntkspec.experiments.cost.estimate_cost` (formulas in
    :class:`~ntkspec.experiments.cost.CostEstimate`).

    >>> est = estimate_cost({"n": 100, "width": 10, "steps": 10, "dim": 3}, calibrate=False)
    >>> est.flops_train == 10 * 12 * 100 * (3 * 10 + 10)
    True
    """
    return experiment_cost.estimate_cost(_resolve(config).to_dict(), calibrate=calibrate)


def check_learnable(config: CompareConfig | Mapping | None = None) -> np.ndarray:
    """Per target degree, whether it can be learned (:func:`unlearnable_degrees`).

    Raises:
      ValueError: naming each degree with λ_k = 0 within error and the reason, unless the
        config sets ``allow_unlearnable``.

    Returns:
      bool ``(K,)``, indexed like ``config.degrees``.
    """
    cfg = _resolve(config)
    kernel = mlp_kernel(
        cfg.depth, cfg.activation, cfg.weight_var, cfg.bias_var, cfg.first_layer_var
    )
    return learnable_mask(
        kernel, cfg.dim, cfg.degrees, allow=cfg.allow_unlearnable, flag="allow_unlearnable"
    )


def _normalized(norms: np.ndarray, initial: np.ndarray, degrees) -> np.ndarray:
    init = initial[degrees]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(init > 0, norms[:, degrees] / np.where(init > 0, init, 1.0), np.nan)


def _half_times(factor: np.ndarray) -> np.ndarray:
    """Steps until ``factor^t = 1/2``: +inf where nothing decays (factor >= 1), 0 at factor 0."""
    out = np.full(factor.shape, np.inf)
    decays = factor < 1
    with np.errstate(divide="ignore"):
        out[decays] = np.log(0.5) / np.log(factor[decays])
    return out


def compare(
    config: CompareConfig | Mapping | None = None,
    *,
    callback: Callable[[int, int], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
) -> Comparison:
    """Run one theory-versus-practice comparison (see the module docstring).

    Args:
      config: a :class:`CompareConfig`, a mapping of its fields, or ``None`` (preset
        ``sphere3``).
      callback: progress ``callback(step, total)`` forwarded to :func:`ntkspec.train.train`.
      checkpoint, checkpoint_every: forwarded to :func:`ntkspec.train.train`: training
        checkpoints there and continues from a matching checkpoint. Everything else is
        recomputed from the seed, so a resumed comparison equals the uninterrupted one.

    Raises:
      ValueError: invalid config; a target degree the kernel cannot learn (λ_k = 0 within
        error) without ``allow_unlearnable``; an explicit ``lr`` above the stability limit
        without ``allow_unstable``. All before any training.

    Returns:
      A :class:`Comparison`.
    """
    cfg = _resolve(config)
    kernel = mlp_kernel(
        cfg.depth, cfg.activation, cfg.weight_var, cfg.bias_var, cfg.first_layer_var
    )
    learnable = check_learnable(cfg)
    with _compat.random_streams():
        k_points, k_target, k_init = jax.random.split(jax.random.key(cfg.seed), 3)
    degrees = np.asarray(cfg.degrees, dtype=np.int64)
    kmax = int(degrees.max()) + 1
    # Up to k = 64 (at least kmax): the report's spectrum figure and decay fit use it too.
    spec = spectrum(kernel, cfg.dim, max(64, kmax))
    X = _points(cfg, k_points)
    y = _target(cfg, X, k_target)
    r0 = -y

    with _compat.enable_x64():
        K_inf = np.asarray(kernel.gram(np.asarray(X, dtype=np.float64)), dtype=np.float64)
    lr_limit = max_stable_lr(K_inf)
    lr = _step_size(cfg, lr_limit)
    model, params = _model(cfg, k_init)
    Xj = jax.numpy.asarray(X, dtype=jax.numpy.float32)
    K0 = np.asarray(empirical_ntk(model.apply, params, Xj), dtype=np.float64)
    K0 = 0.5 * (K0 + K0.T)

    params_T, record = train(
        model.apply,
        params,
        Xj,
        y.astype(np.float32),
        lr=lr,
        steps=cfg.steps,
        times=record_schedule(cfg.steps, cfg.record_every),
        kmax=kmax,
        callback=callback,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )
    times = record.times
    measured = _normalized(record.norms, record.norms[0], degrees)

    e0 = degree_energy(X, r0, kmax)
    operator = predict_residual(spec, e0, lr, cfg.steps, times=times, allow_unstable=True)
    gram = predict_residual_gram(
        K_inf, X, r0, lr, cfg.steps, kmax=kmax, times=times, allow_unstable=True
    )
    emp = predict_residual_gram(
        K0, X, r0, lr, cfg.steps, kmax=kmax, times=times, allow_unstable=True
    )
    curves = {
        name: _normalized(p.norms, p.initial, degrees)
        for name, p in (("op", operator), ("gram", gram), ("emp", emp))
    }

    KT = np.asarray(empirical_ntk(model.apply, params_T, Xj), dtype=np.float64)
    drift = float(np.linalg.norm(KT - K0) / np.linalg.norm(K0))
    init_err = float(np.linalg.norm(K0 - K_inf) / np.linalg.norm(K_inf))

    half_measured = record.steps_to_fraction(0.5)[degrees]
    half_predicted = _half_times(np.abs(1.0 - lr * spec.eigenvalues[degrees]))
    return Comparison(
        config=cfg,
        spectrum=spec,
        degrees=degrees,
        times=times,
        measured=measured,
        predicted=curves["op"],
        predicted_gram=curves["gram"],
        predicted_empirical=curves["emp"],
        max_abs_error=metrics.max_abs_error(times, measured, curves["op"]),
        max_abs_error_gram=metrics.max_abs_error(times, measured, curves["gram"]),
        max_abs_error_empirical=metrics.max_abs_error(times, measured, curves["emp"]),
        compared_records=metrics.compared_records(times, curves["op"]),
        learnable=learnable,
        half_time=half_measured,
        half_time_predicted=half_predicted,
        half_time_ratio=metrics.half_time_ratio(times, half_measured, half_predicted),
        kernel_drift=drift,
        init_kernel_error=init_err,
        lr=float(lr),
        lr_limit=float(lr_limit),
        diverged=bool(record.diverged),
        train_record=record,
    )


def _resolve(config) -> CompareConfig:
    if config is None or isinstance(config, Mapping):
        return load_config(config)
    if isinstance(config, CompareConfig):
        return config.validated()
    raise TypeError(f"Expected a CompareConfig or a mapping; got {type(config).__name__}.")


def _step_size(cfg: CompareConfig, lr_limit: float) -> float:
    lr = cfg.lr if cfg.lr is not None else cfg.lr_fraction * lr_limit
    if lr > lr_limit:
        message = (
            f"lr = {lr:.6g} is above the stability limit 2/lambda_max = {lr_limit:.6g} of this "
            "sample's infinite-width NTK: gradient descent will likely diverge"
        )
        if not cfg.allow_unstable:
            raise ValueError(
                f"{message}. Lower lr, or set allow_unstable = true (--allow-unstable) to run "
                "it anyway."
            )
        warnings.warn(message + ".", UserWarning, stacklevel=3)
    return lr


def _model(cfg: CompareConfig, key):
    model = mlp(
        cfg.depth,
        cfg.width,
        cfg.activation,
        cfg.weight_var,
        cfg.bias_var,
        cfg.first_layer_var,
        centered=True,
    )
    return model, model.init(key, cfg.dim)


def width_study(
    widths,
    *,
    key: jax.Array,
    dim: int = 3,
    depth: int = 1,
    activation: str = "relu",
    weight_var: float | None = None,
    bias_var: float = 0.0,
    first_layer_var: float | None = None,
    n: int = 256,
    kmax: int = 8,
    seeds: int = 2,
) -> WidthStudy:
    """How fast the empirical NTK of :func:`ntkspec.models.mlp` approaches ``mlp_kernel``.

    Draws n uniform points on S^{dim-1} and, for each width, ``seeds`` initializations; the
    relative Frobenius error is expected to fall like ~1/√width (Jacot et al. 2018).
    """
    widths = np.asarray(int_tuple("widths", tuple(widths) if not np.isscalar(widths) else widths))
    if widths.size == 0 or (widths < 1).any():
        raise ValueError(f"Expected positive widths; got {widths.tolist()}.")
    seeds = check_int("seeds", seeds, minimum=1)
    kernel = mlp_kernel(depth, activation, weight_var, bias_var, first_layer_var)
    return experiment_width.width_study(
        widths, kernel, key=key, dim=dim, n=n, kmax=kmax, seeds=seeds
    )
