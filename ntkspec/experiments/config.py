"""The experiment configuration: six small sections instead of one flat record.

An :class:`ExperimentConfig` holds frozen sections ``model``, ``data``, ``target``, ``loss``,
``optimizer`` and ``run`` — one TOML table each::

    [model]                 # ntkspec's centered MLP (with its infinite-width kernel) ...
    arch = "mlp"
    depth = 1
    width = 4096
    activation = "relu"
    # factory = "mymodels:make"   # ... or a user function (key, dim) -> (apply_fn, params)

    [data]
    n = 512
    dim = 3
    distribution = "vmf"    # uniform | equispaced | vmf | mixture | cap | warped_circle | file
    kappa = 3.0

    [target]
    degrees = [1, 2, 4]
    amplitudes = [0.1]

    [loss]
    kind = "weighted"       # mse | weighted | sobolev
    weights = "voronoi"     # lsq | kernel | voronoi | density | spacing | a .npy/.csv file

    [optimizer]
    kind = "momentum"       # gd | momentum | nesterov | sgd | adam
    beta = 0.9
    lr_fraction = 0.25      # of the stability limit for this loss and optimizer (or lr = ...)

    [run]
    steps = 1500
    record_every = 10
    seed = 0

Every error is one line naming ``section.key``. A flat 0.1 configuration (the fields of the
old ``CompareConfig``: ``dim``, ``depth``, ``n``, ``sampling``, ``lr``, …) is still accepted
and mapped by :data:`FLAT_KEYS` (``sampling`` becomes ``data.distribution``); mixing flat keys
with sections is refused with a one-line migration message.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ntkspec._validate import check_choice, check_int, check_positive, check_real
from ntkspec.limits import (
    MAX_AMPLITUDE,
    MAX_GRID_DEGREE,
    MAX_LIST_ENTRY,
    MAX_POINTS,
    MAX_SEED,
    MAX_STEPS,
    MAX_TRAIN_DEPTH,
    MAX_TRAIN_DIM,
    MAX_TRAIN_FEATURES,
    MAX_WEIGHT_DEGREE,
    MAX_WIDTH,
)

__all__ = [
    "FLAT_KEYS",
    "PRESETS",
    "SECTIONS",
    "DataConfig",
    "ExperimentConfig",
    "LossConfig",
    "ModelConfig",
    "OptimizerConfig",
    "RunConfig",
    "TargetConfig",
    "degrees_and_amplitudes",
    "float_tuple",
    "from_flat",
    "int_tuple",
    "load_config",
]

ARCHS = ("mlp", "resnet", "fourier", "power_law", "siren")
#: Architectures on frozen features: depth 0 is a linear readout on them.
FEATURE_ARCHS = ("fourier", "power_law")
_NET_KEYS = ("activation", "weight_var", "bias_var", "first_layer_var")
#: The [model] keys each architecture uses (beyond arch, depth, width and factory).
ARCH_KEYS = {
    "mlp": _NET_KEYS,
    "resnet": ("activation", "weight_var", "first_layer_var", "alpha"),
    "fourier": (*_NET_KEYS, "alpha", "beta", "features"),
    "power_law": (*_NET_KEYS, "alpha", "power", "features"),
    "siren": ("activation", "weight_var", "bias_var", "omega0"),
}
_REQUIRED = {
    "beta": "the variance of the Fourier frequencies",
    "features": "the number of frequencies",
    "power": "the exponent p of the amplitudes a_j ∝ j^(-p)",
}
#: Keys whose default is None (bias_var defaults to 0): given means not None.
_ARCH_ONLY = tuple(sorted({k for keys in ARCH_KEYS.values() for k in keys} - {"bias_var"}))
DISTRIBUTIONS = ("uniform", "equispaced", "vmf", "mixture", "cap", "warped_circle", "file", "grid")
LOSSES = ("mse", "weighted", "sobolev")
WEIGHT_METHODS = ("lsq", "kernel", "voronoi", "density", "spacing", "design")
OPTIMIZERS = ("gd", "momentum", "nesterov", "sgd", "adam")
PROJECTIONS = ("auto", "mean", *WEIGHT_METHODS)


def _bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"Expected {name} to be true or false; got {value!r}.")
    return value


def _opt(check, name, value, **kw):
    return None if value is None else check(name, value, **kw)


def int_tuple(name: str, value) -> tuple[int, ...]:
    """``value`` (an integer or a list of them, each in 0..10000) as a tuple; else an error."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, list | tuple):
        raise TypeError(f"Expected {name} to be a list of integers; got {value!r}.")
    return tuple(check_int(f"{name} entry", v, minimum=0, maximum=MAX_LIST_ENTRY) for v in value)


def float_tuple(name: str, value) -> tuple[float, ...]:
    """``value`` (a positive number or a non-empty list, each <= MAX_AMPLITUDE) as a tuple."""
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


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """``[model]``: one of ntkspec's architectures (``arch``) or a user ``factory``.

    Every architecture is built centered (output 0 at initialization), in NTK parametrization,
    with its infinite-width kernel (docs/theory.md §6.7):

    - ``"mlp"``: :func:`ntkspec.models.mlp` (``depth`` hidden layers of ``width``).
    - ``"resnet"``: :func:`ntkspec.arch_models.resnet`, ``depth`` residual blocks with branch
      scale ``alpha`` (a number >= 0, or a depth rule ``"1/sqrt(L)"`` or ``"1/L"``; default 1).
      No biases; closed-form activations only (relu, erf, identity, sin, cos).
    - ``"fourier"``: :func:`ntkspec.arch_models.fourier_net`, ``features`` (M) frozen Gaussian
      Fourier features with frequency variance ``beta``, under an MLP of ``depth`` layers, a
      residual MLP when ``alpha`` is given, or a linear readout when ``depth = 0``
      (random-features regression). The kernel is the M → ∞ one.
    - ``"power_law"`` (S^1 only, ``data.dim = 2``): :func:`ntkspec.arch_models.power_law_net`,
      the embedding ``a_j [cos jθ, sin jθ]``, a_j ∝ j^(−power), j <= ``features``; on top as
      for ``"fourier"``. Its kernel is exact at any ``features``.
    - ``"siren"``: :func:`ntkspec.arch_models.siren` with a Gaussian first layer of variance
      ``omega0``² (default ω0 = 30), sine activations (``weight_var`` default 2) and, with
      ``bias_var`` > 0, Gaussian biases (without them every even degree has λ_k = 0).

    Attributes:
      arch: one of ``ARCHS``.
      depth, width, activation, weight_var, bias_var, first_layer_var: the (inner) network;
        ``activation`` defaults to relu (sin for siren, which takes no other).
      alpha, beta, omega0, features, power: the architecture's own keys (above); a key given
        to an architecture that has no use for it is an error.
      factory: ``"package.module:function"``, a function ``(key, dim) -> (apply_fn, params)``
        importable from the working directory. It replaces the network; there is then no
        infinite-width kernel (the empirical-NTK prediction carries the comparison).
    """

    arch: str = "mlp"
    depth: int = 1
    width: int = 8192
    activation: str | None = None
    weight_var: float | None = None
    bias_var: float = 0.0
    first_layer_var: float | None = None
    alpha: float | str | None = None
    beta: float | None = None
    omega0: float | None = None
    features: int | None = None
    power: float | None = None
    factory: str | None = None

    def validated(self) -> ModelConfig:
        from ntkspec.experiments.model import model_kernel
        from ntkspec.kernels import ACTIVATIONS

        arch = check_choice("model.arch", self.arch, ARCHS)
        if self.factory is not None and (
            not isinstance(self.factory, str) or self.factory.count(":") != 1
        ):
            raise ValueError(
                f"Expected model.factory as 'package.module:function'; got {self.factory!r}."
            )
        if self.activation is not None and (
            not isinstance(self.activation, str) or self.activation not in ACTIVATIONS
        ):
            raise ValueError(
                f"Expected model.activation to be one of {list(ACTIVATIONS)}; "
                f"got {self.activation!r}."
            )
        low = 0 if arch in FEATURE_ARCHS else 1
        depth = check_int("model.depth", self.depth, minimum=low, maximum=MAX_TRAIN_DEPTH)
        width = check_int("model.width", self.width, minimum=1, maximum=MAX_WIDTH)
        out = dataclasses.replace(self, depth=depth, width=width)._arch_keys()
        try:
            model_kernel(out)
        except (TypeError, ValueError) as e:
            raise type(e)(f"model: {e}") from None
        return out

    def _arch_keys(self) -> ModelConfig:
        """The architecture's keys checked (one line naming ``model.<key>``) and defaulted."""
        arch, depth = self.arch, self.depth
        uses = set(ARCH_KEYS[arch])
        if arch in FEATURE_ARCHS and depth == 0:  # a linear readout: no network on top
            uses -= {"activation", "weight_var", "bias_var", "first_layer_var", "alpha"}
        if arch in FEATURE_ARCHS and self.alpha is not None:  # a residual MLP on top
            uses -= {"bias_var"}
        given = {k for k in _ARCH_ONLY if getattr(self, k) is not None}
        given |= {"bias_var"} if self.bias_var != 0 else set()
        for key in sorted(given - uses):
            why = "a linear readout (depth = 0)" if arch in FEATURE_ARCHS and depth == 0 else ""
            raise ValueError(
                f"Expected no model.{key} with model.arch = {arch!r}"
                f"{', which is ' + why if why else ''}; got {getattr(self, key)!r}."
            )
        for key in ("beta", "features") if arch == "fourier" else ("power", "features"):
            if arch in FEATURE_ARCHS and getattr(self, key) is None:
                raise ValueError(
                    f"Expected model.{key} ({_REQUIRED[key]}) for model.arch = {arch!r}."
                )
        if arch == "siren" and self.activation not in (None, "sin"):
            raise ValueError(
                f"Expected no model.activation other than 'sin' with model.arch = 'siren'; "
                f"got {self.activation!r}."
            )
        alpha = self.alpha
        if isinstance(alpha, str):
            from ntkspec.architectures import ALPHA_RULES

            if alpha not in ALPHA_RULES:
                raise ValueError(
                    f"Expected model.alpha to be a number >= 0 or one of {list(ALPHA_RULES)}; "
                    f"got {alpha!r}."
                )
        elif alpha is not None:
            alpha = check_positive("model.alpha", alpha, allow_zero=True)
        features = _opt(
            check_int, "model.features", self.features, minimum=1, maximum=MAX_TRAIN_FEATURES
        )
        default_act = ("sin" if arch == "siren" else "relu") if "activation" in uses else None
        return dataclasses.replace(
            self,
            activation=self.activation or default_act,
            alpha=1.0 if alpha is None and arch == "resnet" else alpha,
            beta=_opt(check_positive, "model.beta", self.beta),
            omega0=30.0 if arch == "siren" and self.omega0 is None else
            _opt(check_positive, "model.omega0", self.omega0),
            features=features,
            power=_opt(check_real, "model.power", self.power),
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """``[data]``: n points on S^{dim-1} from a distribution (:mod:`ntkspec.distributions`).

    Attributes:
      n, dim: sample size and ambient dimension.
      distribution: one of ``uniform``, ``equispaced`` (S^1), ``vmf`` (``kappa``, ``mean``),
        ``mixture`` (``components``: tables with ``name`` and parameters, ``weights``),
        ``cap`` (``height``, ``mass``, ``mean``), ``warped_circle`` (``a``), ``file``
        (``path``, .npy/.csv; then ``n`` must not exceed the file's rows), ``grid``
        (design points: :func:`ntkspec.quadrature.gauss_grid` exact to ``degree``, with its
        exact weights as ``"design"`` weights; ``n`` must equal the grid's size).
    """

    n: int = 512
    dim: int = 3
    distribution: str = "uniform"
    kappa: float | None = None
    mean: tuple[float, ...] | None = None
    height: float | None = None
    mass: float | None = None
    a: float | None = None
    path: str | None = None
    components: tuple | None = None
    weights: tuple[float, ...] | None = None
    degree: int | None = None

    def params(self) -> dict:
        """The keyword arguments of :func:`ntkspec.distributions.distribution`."""
        name = self.distribution
        out = {k: getattr(self, k) for k in ("kappa", "height", "mass", "a", "path",
               "components", "weights") if getattr(self, k) is not None}  # fmt: skip
        if self.mean is not None:
            out["mean"] = list(self.mean)
        if name in ("uniform", "vmf", "cap") and "mean" not in out:
            out["dim"] = self.dim
        if name == "mixture":
            out["components"] = [dict(c) for c in self.components or ()]
        return out

    def validated(self) -> DataConfig:
        from ntkspec.distributions import distribution

        n = check_int("data.n", self.n, minimum=2, maximum=MAX_POINTS)
        dim = check_int("data.dim", self.dim, minimum=2, maximum=MAX_TRAIN_DIM)
        name = check_choice("data.distribution", self.distribution, DISTRIBUTIONS)
        if name in ("equispaced", "warped_circle") and dim != 2:
            raise ValueError(f"Expected data.dim = 2 for data.distribution = {name!r} (S^1).")
        cfg = dataclasses.replace(self, n=n, dim=dim)
        if name == "grid":
            return cfg._validated_grid()
        if self.degree is not None:
            raise ValueError("Expected data.degree only with data.distribution = 'grid'.")
        try:
            dist = distribution(name, **cfg.params())
        except (TypeError, ValueError) as e:
            raise type(e)(f"data: {e}") from None
        if dist.dim != dim:
            raise ValueError(f"Expected data.dim = {dist.dim} (the distribution's); got {dim}.")
        return cfg

    def _validated_grid(self) -> DataConfig:
        from ntkspec.quadrature import gauss_grid

        if self.degree is None:
            raise ValueError("Expected data.degree (the exactness degree) for a grid.")
        degree = check_int("data.degree", self.degree, minimum=0, maximum=MAX_GRID_DEGREE)
        try:
            size = gauss_grid(self.dim, degree).points.shape[0]
        except ValueError as e:
            raise ValueError(f"data: {e}") from None
        if size != self.n:
            raise ValueError(
                f"Expected data.n = {size}, the size of the degree-{degree} grid on "
                f"S^{self.dim - 1}; got {self.n}."
            )
        return dataclasses.replace(self, degree=degree)


@dataclasses.dataclass(frozen=True)
class TargetConfig:
    """``[target]``: Σ_k A_k h_k with unit-norm random harmonics h_k of the given degrees."""

    degrees: tuple[int, ...] = (1, 2, 4)
    amplitudes: tuple[float, ...] = (0.1,)

    def validated(self) -> TargetConfig:
        return TargetConfig(*degrees_and_amplitudes(self.degrees, self.amplitudes, "target."))


def degrees_and_amplitudes(degrees, amplitudes, prefix: str = ""):
    """Validated ``(degrees, amplitudes)`` tuples, one amplitude per degree (a single one repeats).

    ``prefix`` (``"target."`` here, ``""`` for the flat 0.1 config) names the keys in errors.
    """
    degrees = int_tuple(f"{prefix}degrees", degrees)
    if not degrees or len(set(degrees)) != len(degrees):
        raise ValueError(f"Expected a non-empty list of distinct {prefix}degrees; got {degrees}.")
    amps = float_tuple(f"{prefix}amplitudes", amplitudes)
    if len(amps) == 1:
        amps = amps * len(degrees)
    if len(amps) != len(degrees):
        raise ValueError(
            f"Expected one amplitude per degree ({len(degrees)}) or a single one; "
            f"got {len(amps)} {prefix}amplitudes."
        )
    return degrees, amps


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """``[loss]``: ``mse``, ``weighted`` (quadrature ``weights``) or ``sobolev`` (``s``).

    Attributes:
      kind: ``"mse"``, ``"weighted"`` or ``"sobolev"``.
      weights: a :func:`ntkspec.quadrature.quadrature_weights` method (``lsq``, ``kernel``,
        ``voronoi``, ``density``, ``spacing``) or a ``.npy``/``.csv`` file of n weights.
        Required for ``weighted``; for ``sobolev`` ``None`` means "the run's projection
        weights" (uniform mean on uniform data).
      s: the Sobolev exponent (``sobolev`` only).
      degree, nonnegative, base: passed to ``quadrature_weights`` (``lsq``).
    """

    kind: str = "mse"
    weights: str | None = None
    s: float | None = None
    degree: int | None = None
    nonnegative: bool = False
    base: str | None = None

    def validated(self) -> LossConfig:
        kind = check_choice("loss.kind", self.kind, LOSSES)
        if kind == "mse" and (self.weights is not None or self.s is not None):
            raise ValueError("Expected no loss.weights or loss.s with loss.kind = 'mse'.")
        if kind == "weighted" and self.weights is None:
            raise ValueError(
                "Expected loss.weights (a method or a file) for loss.kind = 'weighted'."
            )
        if kind != "sobolev" and self.s is not None:
            raise ValueError(f"Expected loss.s only with loss.kind = 'sobolev'; got {kind!r}.")
        if kind == "sobolev" and self.s is None:
            raise ValueError("Expected loss.s (the Sobolev exponent) for loss.kind = 'sobolev'.")
        if self.weights is not None and not isinstance(self.weights, str):
            raise TypeError(
                f"Expected loss.weights to be a method or a path; got {self.weights!r}."
            )
        s = _opt(check_real, "loss.s", self.s)
        degree = _opt(check_int, "loss.degree", self.degree, minimum=0, maximum=MAX_WEIGHT_DEGREE)
        _bool("loss.nonnegative", self.nonnegative)
        if self.base is not None:
            check_choice("loss.base", self.base, ("voronoi", "spacing", "density"))
        return dataclasses.replace(self, kind=kind, s=s, degree=degree)


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """``[optimizer]``: kind and hyperparameters (:mod:`ntkspec.optimizers`).

    Attributes:
      kind: ``gd``, ``momentum``, ``nesterov``, ``sgd`` or ``adam``.
      lr: the step; ``None`` = ``lr_fraction`` × the stability limit for the chosen loss and
        optimizer (not for Adam, which has no linear stability limit: give ``lr``).
      beta: momentum coefficient (momentum, nesterov); batch_size: sgd; b1, b2, eps: Adam.
    """

    kind: str = "gd"
    lr: float | None = None
    lr_fraction: float = 0.25
    beta: float = 0.9
    batch_size: int | None = None
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def validated(self) -> OptimizerConfig:
        kind = check_choice("optimizer.kind", self.kind, OPTIMIZERS)
        lr = _opt(check_positive, "optimizer.lr", self.lr)
        frac = check_positive("optimizer.lr_fraction", self.lr_fraction)
        if frac >= 1:
            raise ValueError(f"Expected optimizer.lr_fraction < 1 (of the limit); got {frac}.")
        if kind == "adam" and lr is None:
            raise ValueError("Expected optimizer.lr for Adam (it has no linear stability limit).")
        if kind == "sgd" and self.batch_size is None:
            raise ValueError("Expected optimizer.batch_size for optimizer.kind = 'sgd'.")
        batch = _opt(check_int, "optimizer.batch_size", self.batch_size, minimum=1)
        if batch is not None and kind != "sgd":
            raise ValueError("Expected optimizer.batch_size only with optimizer.kind = 'sgd'.")
        for name in ("beta", "b1", "b2"):
            v = check_positive(f"optimizer.{name}", getattr(self, name), allow_zero=True)
            if v >= 1:
                raise ValueError(f"Expected optimizer.{name} in [0, 1); got {v}.")
        eps = check_positive("optimizer.eps", self.eps)
        return dataclasses.replace(self, kind=kind, lr=lr, lr_fraction=frac, batch_size=batch,
                                   eps=eps)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """``[run]``: length, record schedule, seed, and the two explicit permissions.

    Attributes:
      steps, record_every, seed: as in 0.1 (records log-spaced below ``record_every``).
      allow_unstable: accept an explicit ``lr`` above the stability limit.
      allow_unlearnable: train even if a target degree has λ_k = 0 within error.
      projection: the quadrature weights of the per-degree projection ``‖Π_k r‖``:
        ``"auto"`` (the plain mean on uniform/equispaced data; else Voronoi on S^2,
        density weights elsewhere), ``"mean"`` or a quadrature method.
    """

    steps: int = 1500
    record_every: int = 10
    seed: int = 0
    allow_unstable: bool = False
    allow_unlearnable: bool = False
    projection: str = "auto"

    def validated(self) -> RunConfig:
        steps = check_int("run.steps", self.steps, minimum=1, maximum=MAX_STEPS)
        every = check_int("run.record_every", self.record_every, minimum=1)
        seed = check_int("run.seed", self.seed, minimum=0, maximum=MAX_SEED)
        _bool("run.allow_unstable", self.allow_unstable)
        _bool("run.allow_unlearnable", self.allow_unlearnable)
        check_choice("run.projection", self.projection, PROJECTIONS)
        return dataclasses.replace(self, steps=steps, record_every=every, seed=seed)


#: The section names and their dataclasses, in TOML order.
SECTIONS = _SECTIONS = {
    "model": ModelConfig,
    "data": DataConfig,
    "target": TargetConfig,
    "loss": LossConfig,
    "optimizer": OptimizerConfig,
    "run": RunConfig,
}


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: the six sections (module docstring). Build with :func:`load_config`."""

    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    target: TargetConfig = TargetConfig()
    loss: LossConfig = LossConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    run: RunConfig = RunConfig()

    def validated(self) -> ExperimentConfig:
        """Every section validated, plus the checks that span sections."""
        out = ExperimentConfig(**{k: getattr(self, k).validated() for k in _SECTIONS})
        if out.data.distribution == "equispaced" and max(out.target.degrees) >= out.data.n / 2:
            raise ValueError(
                f"Expected target.degrees below the Nyquist degree data.n/2 = "
                f"{out.data.n / 2:g}; got {max(out.target.degrees)}."
            )
        if out.optimizer.batch_size is not None and out.optimizer.batch_size > out.data.n:
            raise ValueError("Expected optimizer.batch_size <= data.n.")
        if out.optimizer.kind == "sgd" and out.loss.kind == "sobolev":
            raise ValueError(
                "Expected loss.kind mse or weighted with sgd (a Sobolev batch is biased)."
            )
        return out

    def to_dict(self) -> dict:
        """Nested JSON/TOML-ready dict (``None`` values omitted, tuples as lists)."""
        out = {}
        for name in _SECTIONS:
            sec = dataclasses.asdict(getattr(self, name))
            out[name] = {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in sec.items() if v is not None}  # fmt: skip
        return out


#: Where each flat 0.1 key (``CompareConfig`` field) lives now: ``flat -> (section, key)``.
FLAT_KEYS: dict[str, tuple[str, str]] = {
    "dim": ("data", "dim"),
    "n": ("data", "n"),
    "sampling": ("data", "distribution"),
    "depth": ("model", "depth"),
    "width": ("model", "width"),
    "activation": ("model", "activation"),
    "weight_var": ("model", "weight_var"),
    "bias_var": ("model", "bias_var"),
    "first_layer_var": ("model", "first_layer_var"),
    "degrees": ("target", "degrees"),
    "amplitudes": ("target", "amplitudes"),
    "lr": ("optimizer", "lr"),
    "lr_fraction": ("optimizer", "lr_fraction"),
    "allow_unstable": ("run", "allow_unstable"),
    "allow_unlearnable": ("run", "allow_unlearnable"),
    "steps": ("run", "steps"),
    "record_every": ("run", "record_every"),
    "seed": ("run", "seed"),
}


def from_flat(values: Mapping) -> dict:
    """Map a flat 0.1 configuration (``CompareConfig`` fields) to nested sections."""
    unknown = sorted(set(values) - set(FLAT_KEYS), key=repr)
    if unknown:
        raise ValueError(
            f"Unknown config key(s) {unknown}; expected sections {sorted(_SECTIONS)} "
            f"(or the flat 0.1 keys {sorted(FLAT_KEYS)})."
        )
    out: dict = {}
    for key, value in values.items():
        section, name = FLAT_KEYS[key]
        out.setdefault(section, {})[name] = value
    return out


def _nested(values: Mapping) -> dict:
    """Sections as dicts; flat keys mapped; a mix refused with a migration message."""
    flat = [k for k in values if k not in _SECTIONS]
    if flat and len(flat) < len(values):
        hint = ", ".join(f"{k} -> [{FLAT_KEYS[k][0]}] {FLAT_KEYS[k][1]}"
                         for k in flat if k in FLAT_KEYS)  # fmt: skip
        raise ValueError(
            f"Expected either sections or flat 0.1 keys, not both; move {flat} into their "
            f"sections ({hint or 'see FLAT_KEYS'})."
        )
    if flat:
        return from_flat(values)
    for name, sec in values.items():
        if not isinstance(sec, Mapping):
            raise TypeError(f"Expected [{name}] to be a table; got {sec!r}.")
    return {k: dict(v) for k, v in values.items()}


def _merge(base: dict, extra: Mapping) -> dict:
    for section, sec in _nested(extra).items():
        base.setdefault(section, {}).update(sec)
    return base


def load_toml(path) -> dict:
    """The tables of a TOML file (``ValueError`` naming the file if unreadable or invalid)."""
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is skipped.
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"Invalid TOML in {path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"Cannot read config file {path}: {e}") from None


def _build(values: dict) -> ExperimentConfig:
    sections = {}
    for name, cls in _SECTIONS.items():
        sec = dict(values.get(name, {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(sec) - known)
        if unknown:
            raise ValueError(
                f"Unknown key(s) {[f'{name}.{k}' for k in unknown]}; "
                f"[{name}] takes {sorted(known)}."
            )
        for k, v in sec.items():  # TOML arrays -> tuples (frozen, hashable sections)
            if isinstance(v, list):
                sec[k] = tuple(dict(x) if isinstance(x, Mapping) else x for x in v)
        sections[name] = cls(**sec)
    return ExperimentConfig(**sections).validated()


#: Named configurations (``--preset``).
PRESETS: dict[str, dict] = {
    # Two-layer ReLU on S^2, uniform samples, degrees 1, 2, 4 (odd k >= 3 vanish).
    "sphere3": {},
    # The circle: equispaced points, sines; the DFT makes the degree projection exact.
    "circle": {
        "data": {"dim": 2, "n": 256, "distribution": "equispaced"},
        "target": {"degrees": [1, 2, 4, 8]},
        "run": {"steps": 2000},
    },
    # A fast configuration for tests and smoke runs.
    "tiny": {"model": {"width": 1024}, "data": {"n": 128}, "run": {"steps": 300}},
    # Nonuniform data repaired by quadrature weights (Yu, Yang & Townsend 2023).
    "vmf": {
        "model": {"width": 4096},
        "data": {"distribution": "vmf", "kappa": 3.0},
        "loss": {"kind": "weighted", "weights": "voronoi"},
    },
}


def load_config(
    source: str | os.PathLike | Mapping | ExperimentConfig | None = None,
    *,
    preset: str | None = None,
    overrides: Mapping | None = None,
) -> ExperimentConfig:
    """Resolve a configuration: preset, then a TOML file or mapping, then overrides.

    Args:
      source: a TOML path, a mapping (sections or flat 0.1 keys), an
        :class:`ExperimentConfig`, or ``None``.
      preset: a name in :data:`PRESETS` (default ``"sphere3"``).
      overrides: ``{"section.key": value}`` or ``{section: {key: value}}``; ``None`` values are
        skipped (unset command-line flags).

    Raises:
      ValueError, TypeError: one line naming ``section.key``.

    >>> cfg = load_config({"optimizer": {"kind": "momentum"}}, preset="tiny")
    >>> cfg.optimizer.kind, cfg.model.width, cfg.optimizer.beta
    ('momentum', 1024, 0.9)
    >>> load_config({"n": 64}).data.n    # a flat 0.1 key
    64
    """
    if preset is not None and (not isinstance(preset, str) or preset not in PRESETS):
        raise ValueError(f"Expected preset to be one of {sorted(PRESETS)}; got {preset!r}.")
    values = _merge({}, PRESETS[preset or "sphere3"])
    if isinstance(source, ExperimentConfig):
        _merge(values, source.to_dict())
    elif isinstance(source, Mapping):
        _merge(values, source)
    elif isinstance(source, str | os.PathLike):
        _merge(values, load_toml(source))
    elif source is not None:
        raise TypeError(
            "Expected config to be a TOML path, a mapping or an ExperimentConfig; "
            f"got {type(source).__name__}."
        )
    dotted: dict = {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            dotted.setdefault(key, {}).update(value)
        elif isinstance(key, str) and key.count(".") == 1:
            section, name = key.split(".")
            dotted.setdefault(section, {})[name] = value
        else:
            dotted[key] = value  # a flat 0.1 key
    if dotted:
        _merge(values, dotted)
    return _build(values)
