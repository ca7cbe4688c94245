"""ntkspec: spectral bias on the hypersphere, from theory to real gradient descent.

Public API (see README.md): sphere geometry, infinite-width kernels, Funk–Hecke spectra.
"""

from ntkspec.compare import CompareConfig, Comparison, compare
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
from ntkspec.kernels import Kernel, mlp_kernel
from ntkspec.models import mlp
from ntkspec.spectrum import Spectrum, spectrum
from ntkspec.sphere import (
    degree_energy,
    equispaced_circle,
    gegenbauer,
    multiplicity,
    random_harmonic,
    sample_sphere,
)
from ntkspec.train import TrainRecord, train

__version__ = "0.1.0"

__all__ = [
    "CompareConfig",
    "Comparison",
    "Kernel",
    "Prediction",
    "Spectrum",
    "TrainRecord",
    "compare",
    "degree_energy",
    "empirical_ntk",
    "equispaced_circle",
    "gegenbauer",
    "max_stable_lr",
    "mlp",
    "mlp_kernel",
    "multiplicity",
    "predict_residual",
    "predict_residual_gram",
    "random_harmonic",
    "sample_sphere",
    "sobolev_matrix",
    "sobolev_weights",
    "spectrum",
    "steps_to_fit",
    "train",
    "__version__",
]
