"""ntkspec: spectral bias on the hypersphere, from theory to real gradient descent.

Public API (see README.md): sphere geometry, infinite-width kernels, Funk–Hecke spectra.
"""

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

__version__ = "0.1.0"

__all__ = [
    "Kernel",
    "Spectrum",
    "degree_energy",
    "equispaced_circle",
    "gegenbauer",
    "mlp_kernel",
    "multiplicity",
    "random_harmonic",
    "sample_sphere",
    "spectrum",
    "__version__",
]
