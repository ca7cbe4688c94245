"""Input validation shared by the public API (eager, never inside jit)."""

from __future__ import annotations

import numbers

import jax
import numpy as np

__all__ = ["check_points", "check_int", "check_positive", "check_choice", "check_weights"]


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise a ``TypeError``/``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Expected {name} to be an integer; got {value!r} of type {type(value).__name__}."
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"Expected {name} >= {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"Expected {name} <= {maximum}; got {value}.")
    return value


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (or >= 0), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Expected {name} to be a real number; got {value!r} of type {type(value).__name__}."
        )
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Expected a finite {name} {bound}; got {value!r}.")
    return v


def check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"Expected {name} to be one of {sorted(choices)}; got {value!r}.")
    return value


def check_points(X, *, name: str = "X", dim: int | None = None) -> np.ndarray:
    """Validate points on the unit sphere S^{d-1}; return them as a float64 NumPy array.

    Raises ``ValueError`` naming the offending shape, entry or norm. Under a JAX transformation
    (a traced ``X``) only the shape can be checked; the values are then returned as ``None``.
    """
    try:
        arr = np.asarray(X)
    except jax.errors.TracerArrayConversionError:
        shape = np.shape(X)
        if len(shape) != 2 or shape[1] < 2 or (dim is not None and shape[1] != dim):
            raise ValueError(
                f"Expected {name} of shape (n, d) with d >= 2"
                f"{'' if dim is None else f' and d = {dim}'}; got shape {shape}."
            ) from None
        return None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(
            f"Expected {name} to be a real array of shape (n, d); got dtype {arr.dtype}."
        )
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 2:
        raise ValueError(
            f"Expected {name} of shape (n, d) with n >= 1 and d >= 2 (points on S^(d-1)); "
            f"got shape {arr.shape}."
        )
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"Expected {name} with d = {dim} columns; got shape {arr.shape}.")
    finite = np.isfinite(arr)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise ValueError(f"Expected finite points in {name}; got NaN/inf at row {row}.")
    arr64 = arr.astype(np.float64)
    norms = np.linalg.norm(arr64, axis=1)
    tol = 1e-5 if arr.dtype in (np.float32, np.float16) else 1e-8
    bad = np.abs(norms - 1.0) > tol
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"Expected points of shape (n, d) with unit norm in {name}; got norm "
            f"{norms[row]:.6g} at row {row}. Normalize the rows (X / ‖X‖) or use sample_sphere."
        )
    # Rows within tolerance are renormalized in float64, so float32 points pass later checks.
    return arr64 / norms[:, None]


def check_weights(weights, n: int) -> np.ndarray:
    """Quadrature weights of n sample points as float64 ``(n,)`` (default uniform ``1/n``)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    c = np.asarray(weights, dtype=np.float64)
    if c.shape != (n,) or not np.isfinite(c).all() or (c < 0).any():
        raise ValueError(
            f"Expected weights of shape ({n},), finite and non-negative; got shape {c.shape}."
        )
    return c
