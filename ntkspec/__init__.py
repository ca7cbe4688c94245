"""ntkspec: spectral bias on the hypersphere, from theory to real gradient descent.

Public API (see README.md): sphere geometry, infinite-width kernels, Funk–Hecke spectra.
"""

from ntkspec.dynamics import (
    Prediction,
    max_stable_lr,
    predict_residual,
    predict_residual_gram,
    sobolev_matrix,
    sobolev_weights,
    steps_to_fit,
)
from ntkspec.kernels import Kernel, mlp_kernel
from ntkspec.sphere import (
    degree_energy,
    equispaced_circle,
    gegenbauer,
    multiplicity,
    random_harmonic,
    sample_sphere,
)
from ntkspec.spectrum import Spectrum, spectrum
from ntkspec.train import TrainRecord, train

__version__ = "0.1.0"

__all__ = [
    "Kernel",
    "Prediction",
    "Spectrum",
    "TrainRecord",
    "degree_energy",
    "equispaced_circle",
    "gegenbauer",
    "max_stable_lr",
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
