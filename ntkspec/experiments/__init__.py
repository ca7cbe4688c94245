"""The experiments layer: configuration, data, models, compare and metrics.

:func:`compare` runs one theory-versus-practice experiment for any model, loss and optimizer
from an :class:`ExperimentConfig` (sections ``model``, ``data``, ``target``, ``loss``,
``optimizer``, ``run``; :func:`load_config` reads TOML, presets and flat 0.1 keys).
"""

from ntkspec.experiments.compare import (
    Agreement,
    Experiment,
    Predictions,
    Setting,
    compare,
    make_optimizer,
)
from ntkspec.experiments.config import (
    PRESETS,
    DataConfig,
    ExperimentConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    TargetConfig,
    load_config,
)
from ntkspec.experiments.summary import format_experiment

__all__ = [
    "PRESETS",
    "Agreement",
    "DataConfig",
    "Experiment",
    "ExperimentConfig",
    "LossConfig",
    "ModelConfig",
    "OptimizerConfig",
    "Predictions",
    "RunConfig",
    "Setting",
    "TargetConfig",
    "compare",
    "format_experiment",
    "load_config",
    "make_optimizer",
]
