"""ntkspec: spectral bias on the hypersphere, from theory to real gradient descent.

Public API (see README.md and the documentation site, ``make docs``): sphere geometry,
infinite-width kernels, certified Funk–Hecke spectra, per-degree predictions for linear
optimizers and quadratic losses, real training runs, nonuniform data and quadrature weights,
learning curves, theory-versus-practice experiments (:func:`compare`). Submodules with their
own namespaces: ``ntkspec.losses``, ``ntkspec.optimizers``, ``ntkspec.experiments``,
``ntkspec.interop``.
"""

from ntkspec import losses, optimizers
from ntkspec.activations import Sine
from ntkspec.architectures import fourier_kernel, resnet_kernel, siren_kernel
from ntkspec.curves import DegreeCurves
from ntkspec.distributions import distribution
from ntkspec.dynamics import (
    Prediction,
    max_stable_lr,
    predict_residual,
    predict_residual_gram,
    sobolev_matrix,
    sobolev_weights,
    steps_to_fit,
)
from ntkspec.empirical import empirical_ntk
from ntkspec.experiments import Experiment, ExperimentConfig, compare
from ntkspec.generalization import LearningCurve, gd_learning_curve, learning_curve
from ntkspec.kernels import Kernel, mlp_kernel
from ntkspec.krr import kernel_regression_curve
from ntkspec.models import mlp
from ntkspec.quadrature import QuadratureWeights, gauss_grid, quadrature_weights
from ntkspec.spectrum import DecayFit, Spectrum, spectrum
from ntkspec.sphere import (
    degree_energy,
    equispaced_circle,
    gegenbauer,
    multiplicity,
    random_harmonic,
    sample_sphere,
)
from ntkspec.train import TrainRecord, fit, train

__version__ = "0.1.0"

__all__ = [
    "DecayFit",
    "DegreeCurves",
    "Experiment",
    "ExperimentConfig",
    "Kernel",
    "LearningCurve",
    "Prediction",
    "QuadratureWeights",
    "Sine",
    "Spectrum",
    "TrainRecord",
    "compare",
    "degree_energy",
    "distribution",
    "empirical_ntk",
    "equispaced_circle",
    "fit",
    "fourier_kernel",
    "gauss_grid",
    "gd_learning_curve",
    "gegenbauer",
    "kernel_regression_curve",
    "learning_curve",
    "losses",
    "max_stable_lr",
    "mlp",
    "mlp_kernel",
    "multiplicity",
    "optimizers",
    "predict_residual",
    "predict_residual_gram",
    "quadrature_weights",
    "random_harmonic",
    "resnet_kernel",
    "sample_sphere",
    "siren_kernel",
    "sobolev_matrix",
    "sobolev_weights",
    "spectrum",
    "steps_to_fit",
    "train",
    "__version__",
]
