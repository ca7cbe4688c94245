"""Theory versus practice: predicted and measured per-degree residual decay of real GD.

:func:`compare` runs one configuration end to end:

1. the infinite-width spectrum λ_k of ``mlp_kernel`` (Funk–Hecke);
2. three linearized predictions of the per-degree residual ``‖Π_k r_t‖ / ‖Π_k r_0‖``:
   the operator (``|1 - ηλ_k|^t``), the infinite-width Gram on the sample and the empirical
   NTK at initialization on the sample;
3. a real, JIT-compiled full-batch GD run of a centered MLP in NTK parametrization;
4. agreement metrics per degree.

Fair defaults (THEORY.md §3): the network is centered (antisymmetric init, f_0 ≡ 0, so
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
from typing import NamedTuple

import jax
import numpy as np

from ntkspec import _compat
from ntkspec._io import atomic_write_json, json_floats
from ntkspec._validate import check_choice, check_int, check_positive
from ntkspec.dynamics import max_stable_lr, predict_residual, predict_residual_gram
from ntkspec.empirical import empirical_ntk
from ntkspec.kernels import ACTIVATIONS, mlp_kernel
from ntkspec.models import mlp
from ntkspec.spectrum import Spectrum, spectrum
from ntkspec.sphere import _circle, degree_energy, random_harmonic, sample_sphere
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

#: Compare a degree only while its predicted residual factor is at least this.
COMPARE_FLOOR = 0.05
#: Seeds are 32-bit: with JAX x64 off, ``jax.random.key`` keeps only the low 32 bits.
MAX_SEED = 2**32 - 1
#: compare holds several dense n × n float64 matrices and diagonalizes them (O(n³)).
MAX_POINTS = 16384
#: Targets stay in the lazy regime only when small; this bound only refuses absurd values.
MAX_AMPLITUDE = 1e6
#: A degree's max error is reported only if it was compared on at least this many records
#: after step 0 (at step 0 every prediction equals the measurement, 1, by construction).
MIN_COMPARED_RECORDS = 2


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
        degrees = _int_tuple("degrees", self.degrees)
        if not degrees or len(set(degrees)) != len(degrees):
            raise ValueError(f"Expected a non-empty list of distinct degrees; got {degrees}.")
        if sampling == "equispaced" and max(degrees) >= n / 2:
            raise ValueError(
                f"Expected degrees below the Nyquist degree n/2 = {n / 2:g}; got {max(degrees)}."
            )
        amps = _float_tuple("amplitudes", self.amplitudes)
        if len(amps) == 1:
            amps = amps * len(degrees)
        if len(amps) != len(degrees):
            raise ValueError(
                f"Expected one amplitude per degree ({len(degrees)}) or a single one; "
                f"got {len(amps)}."
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


def _int_tuple(name, value) -> tuple[int, ...]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, list | tuple):
        raise TypeError(f"Expected {name} to be a list of integers; got {value!r}.")
    return tuple(check_int(f"{name} entry", v, minimum=0, maximum=10_000) for v in value)


def _float_tuple(name, value) -> tuple[float, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, list | tuple) or not value:
        raise TypeError(f"Expected {name} to be a non-empty list of numbers; got {value!r}.")
    values = tuple(check_positive(f"{name} entry", v) for v in value)
    if max(values) > MAX_AMPLITUDE:
        raise ValueError(
            f"Expected {name} <= {MAX_AMPLITUDE:g} (the target should be small: ~0.1 keeps "
            f"training lazy); got {max(values)!r}."
        )
    return values


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
        return _circle(cfg.n)  # equispaced_circle's points, float64 under any x64 setting
    X = np.asarray(sample_sphere(key, cfg.n, cfg.dim, dtype=np.float32), dtype=np.float64)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _target(cfg: CompareConfig, X: np.ndarray, key) -> np.ndarray:
    """Σ_k A_k h_k with unit-norm random harmonics h_k (on S^1: √2 sin(kθ + φ_k))."""
    y = np.zeros(len(X))
    with _compat.random_streams():
        keys = jax.random.split(key, len(cfg.degrees))
    for k, amp, kk in zip(cfg.degrees, cfg.amplitudes, keys, strict=True):
        if cfg.sampling == "equispaced":
            with _compat.random_streams():
                phase = float(jax.random.uniform(kk, (), minval=0.0, maxval=2 * np.pi))
            theta = np.arctan2(X[:, 1], X[:, 0])
            h = np.sqrt(2.0) * np.sin(k * theta + phase) if k else np.ones(len(X))
        else:
            h = random_harmonic(kk, X, k)
        y += amp * h
    return y


class CostEstimate(NamedTuple):
    """What :func:`compare` will cost (:func:`estimate_cost`): FLOPs and, if calibrated, time.

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


def _step_flops(n: int, d: int, depth: int, width: int) -> float:
    """One GD step of the centered MLP: 2 copies × (forward + backward ≈ 3 forward)."""
    return 2 * 3 * 2.0 * n * (d * width + (depth - 1) * width**2 + width)


def estimate_cost(
    config: CompareConfig | Mapping | None = None, *, calibrate: bool = True
) -> CostEstimate:
    """FLOPs of :func:`compare` for ``config`` and, with ``calibrate``, a time estimate.

    The calibration compiles one GD step of the configured network, reduced to at most 256
    points and width 2048 to stay quick, times three runs of it and scales by FLOPs; the
    formulas are in :class:`CostEstimate`.

    >>> est = estimate_cost({"n": 100, "width": 10, "steps": 10, "dim": 3}, calibrate=False)
    >>> est.flops_train == 10 * 12 * 100 * (3 * 10 + 10)
    True
    """
    import time

    cfg = _resolve(config)
    n, d, L, m = cfg.n, cfg.dim, cfg.depth, cfg.width
    step = _step_flops(n, d, L, m)
    kmax = max(cfg.degrees) + 1
    records = len(record_schedule(cfg.steps, cfg.record_every))
    flops_train = cfg.steps * step
    flops_ntk = 2 * (step / 3 + 2 * 2.0 * n * n * (d + 2 * L * m + 1))
    flops_linalg = (4 / 3 + 2 * 9) * float(n) ** 3 + 2.0 * n * n * (kmax + 1) * records
    total = flops_train + flops_ntk + flops_linalg
    if not calibrate:
        return CostEstimate(flops_train, flops_ntk, flops_linalg, total, np.nan, np.nan)
    small = dataclasses.replace(cfg, n=min(n, 256), width=min(m, 2048))
    model, params = _model(small, jax.random.key(0))
    with _compat.random_streams():
        X = sample_sphere(jax.random.key(1), small.n, d, dtype=jax.numpy.float32)
    y = jax.numpy.zeros(small.n, dtype=jax.numpy.float32)

    def loss(p):
        return 0.5 * jax.numpy.mean((model.apply(p, X) - y) ** 2)

    grad = jax.jit(jax.value_and_grad(loss))
    t0 = time.perf_counter()
    jax.block_until_ready(grad(params))  # compile
    compile_seconds = time.perf_counter() - t0
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        jax.block_until_ready(grad(params))
        times.append(time.perf_counter() - t0)
    rate = _step_flops(small.n, d, L, small.width) / max(float(np.median(times)), 1e-9)
    # Compilation: one program per distinct chunk length of the schedule, plus the NTKs'.
    programs = len(np.unique(np.diff(record_schedule(cfg.steps, cfg.record_every)))) + 2
    step_seconds, seconds = step / rate, total / rate + programs * compile_seconds
    return CostEstimate(flops_train, flops_ntk, flops_linalg, total, step_seconds, seconds)


def record_schedule(steps: int, record_every: int) -> np.ndarray:
    """The steps :func:`compare` records: log-spaced early, then every ``record_every``.

    ``0, 1, 2, 3, 4, 6, 8, 12, 16, …`` (two per octave, ``2^j`` and ``3·2^(j-1)``) below
    ``record_every``, then the multiples of ``record_every``, then ``steps``. A degree whose
    residual halves every h steps thus gets records from t ≈ h on, whatever h is, while the
    gaps between early records (the compiled chunk lengths of
    :func:`ntkspec.train.train`) are only powers of two.

    Returns:
      int64 ``(T,)``, strictly increasing, from 0 to ``steps``.

    >>> record_schedule(40, 10).tolist()
    [0, 1, 2, 3, 4, 6, 8, 10, 20, 30, 40]
    """
    steps = check_int("steps", steps, minimum=0)
    record_every = check_int("record_every", record_every, minimum=1)
    limit = min(record_every, steps + 1)
    early = {1} | {m << j for j in range(limit.bit_length()) for m in (2, 3)}
    times = [0, *sorted(t for t in early if t < limit)]
    times += range(record_every, steps, record_every)
    if times[-1] != steps:
        times.append(steps)
    return np.asarray(times, dtype=np.int64)


def unlearnable_degrees(kernel, dim: int, degrees) -> dict[int, str]:
    """Target degrees whose eigenvalue is zero within error, with the reason, by degree.

    Gradient descent in the kernel regime multiplies degree k's residual by ``1 − ηλ_k`` per
    step: where ``λ_k = 0`` it never decays. For bias-free kernels a whole parity class
    vanishes (the odd degrees k >= 3 of a two-layer ReLU NTK, the even degrees of an odd
    activation such as ``identity``, ``erf`` or ``sin``); the reason then says so.

    Args:
      kernel: a :class:`ntkspec.kernels.Kernel` (its NTK is used).
      dim: ambient dimension d.
      degrees: the target degrees.

    Returns:
      ``{k: reason}`` for every degree that cannot be learned (empty if all can).
    """
    degrees = [int(k) for k in degrees]
    probe = spectrum(kernel, dim, max(max(degrees) + 2, 9))
    zero = probe.zero_within_error()
    out = {}
    for k in degrees:
        if not zero[k]:
            continue
        reason = (
            f"lambda_{k} = {probe.eigenvalues[k]:.3g} is zero within its error "
            f"{probe.error[k]:.2g}, so gradient descent never reduces its residual"
        )
        same = np.arange(k % 2, probe.kmax + 1, 2)
        nonzero = same[~zero[same]]
        first = int(nonzero.max()) + 2 if nonzero.size else k % 2  # zero from here on
        if k >= first and (same >= first).sum() >= 2:
            parity = "odd" if k % 2 else "even"
            reason += f" (every {parity} degree >= {first} vanishes for this kernel"
            if getattr(kernel, "bias_var", None) == 0:
                reason += ": a parity zero of a bias-free kernel; bias_var > 0 or another "
                reason += "activation or depth may change it"
            reason += ")"
        out[k] = reason
    return out


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
    bad = unlearnable_degrees(kernel, cfg.dim, cfg.degrees)
    if bad and not cfg.allow_unlearnable:
        listed = "; ".join(f"degree {k}: {why}" for k, why in bad.items())
        raise ValueError(
            f"Expected target degrees that this kernel can learn; {listed}. Drop these "
            "degrees, or set allow_unlearnable = true (--allow-unlearnable) to train anyway."
        )
    return np.asarray([k not in bad for k in cfg.degrees], dtype=bool)


def _normalized(norms: np.ndarray, initial: np.ndarray, degrees) -> np.ndarray:
    init = initial[degrees]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(init > 0, norms[:, degrees] / np.where(init > 0, init, 1.0), np.nan)


def _compared(times: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per degree, the number of records after step 0 where the prediction is >= the floor."""
    return ((predicted >= COMPARE_FLOOR) & (times[:, None] > 0)).sum(axis=0).astype(np.int64)


def _max_error(times, measured, predicted) -> np.ndarray:
    """Max |measured − predicted| over records with predicted >= the floor; NaN if too few."""
    mask = predicted >= COMPARE_FLOOR
    gap = np.where(mask, np.abs(np.nan_to_num(measured - predicted, nan=np.inf)), 0.0)
    few = _compared(times, predicted) < MIN_COMPARED_RECORDS
    return np.where(few, np.nan, gap.max(axis=0))


def _half_times(factor: np.ndarray) -> np.ndarray:
    """Steps until ``factor^t = 1/2``: +inf where nothing decays (factor >= 1), 0 at factor 0."""
    out = np.full(factor.shape, np.inf)
    decays = factor < 1
    with np.errstate(divide="ignore"):
        out[decays] = np.log(0.5) / np.log(factor[decays])
    return out


def _half_time_ratio(times, measured, predicted) -> np.ndarray:
    """measured / predicted half-time where both are finite and the records resolve it."""
    # Log-linear interpolation resolves the half-time given two records within twice it.
    resolved = (
        np.isfinite(measured)
        & np.isfinite(predicted)
        & (predicted > 0)
        & (((times[:, None] > 0) & (times[:, None] <= 2 * predicted)).sum(axis=0) >= 2)
    )
    ratio = np.full(measured.shape, np.nan)
    ratio[resolved] = measured[resolved] / predicted[resolved]
    return ratio


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
        max_abs_error=_max_error(times, measured, curves["op"]),
        max_abs_error_gram=_max_error(times, measured, curves["gram"]),
        max_abs_error_empirical=_max_error(times, measured, curves["emp"]),
        compared_records=_compared(times, curves["op"]),
        learnable=learnable,
        half_time=half_measured,
        half_time_predicted=half_predicted,
        half_time_ratio=_half_time_ratio(times, half_measured, half_predicted),
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


class WidthStudy(NamedTuple):
    """Empirical NTK at initialization vs its infinite-width limit, as the width grows.

    Attributes:
      widths: int64 ``(W,)``.
      relative_error: float64 ``(W,)``, ``‖Θ_emp − Θ_∞‖_F / ‖Θ_∞‖_F`` on the sample
        (mean over ``seeds`` initializations).
      gram_spectra: float64 ``(W, kmax + 1)``, per-degree eigenvalue estimates of Θ_emp/n
        (:func:`ntkspec.spectrum.gram_spectrum`, mean over seeds).
      infinite_gram_spectrum: float64 ``(kmax + 1,)``, the same estimate for Θ_∞ on the sample.
      eigenvalues: float64 ``(kmax + 1,)``, the Funk–Hecke λ_k.
    """

    widths: np.ndarray
    relative_error: np.ndarray
    gram_spectra: np.ndarray
    infinite_gram_spectrum: np.ndarray
    eigenvalues: np.ndarray


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
    widths = np.asarray(_int_tuple("widths", tuple(widths) if not np.isscalar(widths) else widths))
    if widths.size == 0 or (widths < 1).any():
        raise ValueError(f"Expected positive widths; got {widths.tolist()}.")
    seeds = check_int("seeds", seeds, minimum=1)
    kernel = mlp_kernel(depth, activation, weight_var, bias_var, first_layer_var)
    from ntkspec.experiments import width  # the computation's home (experiments layer)

    study = width.width_study(widths, kernel, key=key, dim=dim, n=n, kmax=kmax, seeds=seeds)
    return WidthStudy(*study)
