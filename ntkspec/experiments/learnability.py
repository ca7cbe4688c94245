"""Which target degrees a kernel can learn: λ_k = 0 within error means never.

The one home of the learnability refusal of :func:`ntkspec.experiments.compare` and of the
CLI's early check (docs/theory.md, gradient descent per degree).
"""

from __future__ import annotations

import numpy as np

from ntkspec.spectrum import spectrum

__all__ = ["check_config", "learnable_mask", "unlearnable_degrees"]


def unlearnable_degrees(kernel, dim: int, degrees) -> dict[int, str]:
    """Target degrees whose eigenvalue is zero within error, with the reason, by degree.

    Gradient descent in the kernel regime multiplies degree k's residual by ``1 − ηλ_k`` per
    step: where ``λ_k = 0`` it never decays. For bias-free kernels a whole parity class
    vanishes (the odd degrees k >= 3 of a two-layer ReLU NTK, the even degrees of an odd
    activation such as ``identity``, ``erf`` or ``sin``); the reason then says so.

    Args:
      kernel: a zonal kernel (:class:`ntkspec.kernels.ZonalKernel`: an MLP, residual MLP,
        Fourier-feature or SIREN kernel); its NTK is used.
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


def learnable_mask(kernel, dim: int, degrees, *, allow: bool, flag: str) -> np.ndarray:
    """Per target degree, whether it can be learned; refuse unlearnable ones unless ``allow``.

    Args:
      kernel, dim, degrees: as :func:`unlearnable_degrees`.
      allow: train anyway (the caller's ``allow_unlearnable``).
      flag: the setting's name as the user spells it (``"allow_unlearnable"`` or
        ``"run.allow_unlearnable"``), for the error message.

    Raises:
      ValueError: naming each degree with λ_k = 0 within error and the reason, unless ``allow``.

    Returns:
      bool ``(K,)``, indexed like ``degrees``.
    """
    bad = unlearnable_degrees(kernel, dim, degrees)
    if bad and not allow:
        listed = "; ".join(f"degree {k}: {why}" for k, why in bad.items())
        raise ValueError(
            f"Expected target degrees that this kernel can learn; {listed}. Drop these "
            f"degrees, or set {flag} = true (--allow-unlearnable) to train anyway."
        )
    return np.asarray([int(k) not in bad for k in degrees], dtype=bool)


def check_config(cfg) -> np.ndarray | None:
    """:func:`learnable_mask` of an :class:`~ntkspec.experiments.config.ExperimentConfig`.

    Cheap (no network is built): the CLI calls it to refuse an unlearnable target before it
    spends time on a cost estimate. ``None`` for a ``model.factory`` (no known kernel).
    """
    from ntkspec.experiments.model import model_kernel

    kernel = model_kernel(cfg.model, cfg.data.dim)
    if kernel is None:
        return None
    allow, flag = cfg.run.allow_unlearnable, "run.allow_unlearnable"
    return learnable_mask(kernel, cfg.data.dim, cfg.target.degrees, allow=allow, flag=flag)
