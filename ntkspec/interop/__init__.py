"""Optional adapters to other libraries (each imports its library lazily).

``ntkspec.interop.neural_tangents``: :func:`from_stax` (a neural-tangents ``stax`` kernel as a
zonal kernel for :func:`ntkspec.spectrum.spectrum`) and :func:`to_stax` (the ``stax`` network
of an :func:`ntkspec.kernels.mlp_kernel` configuration). Install with ``pip install 'ntkspec[nt]'``.
"""

from ntkspec.interop.neural_tangents import StaxKernel, from_stax, stax_params, to_stax

__all__ = ["StaxKernel", "from_stax", "stax_params", "to_stax"]
