"""Input validation shared by the public API (eager, never inside jit)."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "as_real_array",
    "check_choice",
    "check_float_dtype",
    "check_int",
    "check_key",
    "check_points",
    "check_positive",
    "check_real",
    "check_weights",
    "norm_tolerance",
]


def _scalar(value):
    """A 0-d NumPy or concrete JAX array as its Python scalar (as NumPy scalars are accepted)."""
    if isinstance(value, np.ndarray | jax.Array) and not isinstance(value, jax.core.Tracer):
        if value.ndim == 0 and value.dtype != object:
            return value.item()
    return value


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise a ``TypeError``/``ValueError`` naming it.

    Python and NumPy integers and 0-d integer arrays (NumPy or JAX) are accepted; booleans are
    not.
    """
    value = _scalar(value)
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


def _as_float(value) -> float:
    """``float(value)``; an integer too large for a float becomes ``inf`` (then refused)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (or >= 0), else raise (0-d arrays accepted)."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Expected {name} to be a real number; got {value!r} of type {type(value).__name__}."
        )
    v = _as_float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Expected a finite {name} {bound}; got {value!r}.")
    return v


def check_real(name: str, value) -> float:
    """Return ``value`` as a finite float, else raise a ``TypeError``/``ValueError`` naming it."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Expected {name} to be a real number; got {value!r} of type {type(value).__name__}."
        )
    v = _as_float(value)
    if not np.isfinite(v):
        raise ValueError(f"Expected a finite {name}; got {value!r}.")
    return v


def check_float_dtype(dtype, purpose: str = ""):
    """``np.dtype(dtype)`` if it is a floating dtype, else a ``TypeError`` saying what it is for."""
    try:
        resolved = jnp.dtype(dtype)
        floating = jnp.issubdtype(resolved, jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        what = f" for {purpose}" if purpose else ""
        raise TypeError(f"Expected a floating dtype{what} (e.g. jnp.float32); got {dtype!r}.")
    return resolved


def check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"Expected {name} to be one of {sorted(choices)}; got {value!r}.")
    return value


def check_key(key, name: str = "key") -> jax.Array:
    """Check that ``key`` is a JAX PRNG key (``jax.random.key(seed)`` or a legacy uint32 pair)."""
    typed = isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    legacy = (
        isinstance(key, jax.Array | np.ndarray)
        and key.dtype == np.uint32
        and key.shape[-1:] == (2,)
    )
    if not (typed or legacy):
        got = type(key).__name__
        if isinstance(key, jax.Array | np.ndarray):
            got = f"an array of dtype {key.dtype} and shape {key.shape}"
        raise TypeError(
            f"Expected {name} to be a JAX PRNG key; got {got}. Make one with jax.random.key(seed)."
        )
    return key


def _real(name: str, value, what: str) -> np.ndarray:
    """``np.asarray(value)`` in its own dtype; ``TypeError`` unless it is real and numeric."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):  # ragged nested sequences
        raise TypeError(
            f"Expected {name} to be {what}; got a {type(value).__name__} that cannot be "
            "converted to one (ragged or mixed entries)."
        ) from None
    # jnp.issubdtype also knows the ml_dtypes floats (bfloat16) NumPy calls non-floating.
    if arr.dtype == object or not (
        jax.numpy.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"Expected {name} to be {what}; got dtype {arr.dtype}.")
    return arr


def as_real_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 NumPy array; ``TypeError`` naming it if it is not real and numeric.

    Booleans, strings, objects, complex numbers and ragged sequences are refused.
    """
    if value is None:
        raise TypeError(f"Expected {name} to be a real array; got None.")
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"Expected {name} to be a concrete array; got a traced value (call this outside jit)."
        )
    return _real(name, value, "a real array").astype(np.float64)


def check_points(X, *, name: str = "X", dim: int | None = None) -> np.ndarray:
    """Validate points on the unit sphere S^{d-1}; return them as a float64 NumPy array.

    Raises ``ValueError`` naming the offending shape, entry or norm. Under a JAX transformation
    (a traced ``X``) only the shape can be checked; the values are then returned as ``None``.
    """
    if isinstance(X, jax.core.Tracer):
        shape = np.shape(X)
        if len(shape) != 2 or shape[1] < 2 or (dim is not None and shape[1] != dim):
            raise ValueError(
                f"Expected {name} of shape (n, d) with d >= 2"
                f"{'' if dim is None else f' and d = {dim}'}; got shape {shape}."
            )
        return None
    arr = _real(name, X, "a real array of shape (n, d)")
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
    tol = norm_tolerance(arr.dtype)
    bad = np.abs(norms - 1.0) > tol
    if bad.any():
        row = int(np.argmax(bad))
        hint = "Normalize the rows (X / ‖X‖) or use sample_sphere."
        if abs(norms[row] - 1.0) < 1e-5:  # e.g. float32 points cast to float64
            hint = f"Renormalize the rows in {arr.dtype} (X / ‖X‖) after any dtype cast."
        raise ValueError(
            f"Expected points of shape (n, d) with unit norm in {name}; got norm "
            f"{norms[row]:.6g} (|norm - 1| = {abs(norms[row] - 1.0):.2g} > {tol:g}) at row "
            f"{row}. {hint}"
        )
    # Rows within tolerance are renormalized in float64, so float32 points pass later checks.
    return arr64 / norms[:, None]


def norm_tolerance(dtype) -> float:
    """How far from 1 a unit vector's norm may be in ``dtype``: 1e-8 for float64, 1e-5 for
    float32, four units of roundoff for float16 (3.9e-3) and bfloat16 (3.1e-2)."""
    if not jax.numpy.issubdtype(dtype, np.floating):
        return 1e-8  # integer entries: only exact unit vectors (±e_i) pass
    eps = float(jax.numpy.finfo(dtype).eps)
    return 1e-8 if eps < 1e-12 else max(1e-5, 4.0 * eps)


#: Quadrature weights must sum to 1 within this tolerance times n.
WEIGHTS_SUM_TOLERANCE = 1e-8


def check_weights(weights, n: int) -> np.ndarray:
    """Quadrature weights of n sample points as float64 ``(n,)`` (default uniform ``1/n``).

    Weights approximate the normalized measure, ``Σ_i c_i g(x_i) ≈ ∫ g dσ`` with
    σ(S^{d-1}) = 1, so they must sum to 1 (within ``1e-8·n``): weights summing to s would
    silently scale every energy by s². Others are refused with a ``ValueError`` that says to
    pass ``weights / weights.sum()``.
    """
    if weights is None:
        return np.full(n, 1.0 / n)
    c = as_real_array("weights", weights)
    if c.shape != (n,):
        raise ValueError(
            f"Expected weights of shape ({n},) (one per point), finite and non-negative; "
            f"got shape {c.shape}."
        )
    bad = ~np.isfinite(c) | (c < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"Expected finite, non-negative weights; got weights[{i}] = {float(c[i])!r}."
        )
    if not c.sum() > 0:
        raise ValueError("Expected weights with a positive sum; got all zeros.")
    total = float(np.sum(c))
    if abs(total - 1.0) > WEIGHTS_SUM_TOLERANCE * n:
        raise ValueError(
            f"Expected quadrature weights that sum to 1 (Σ c_i g(x_i) ≈ ∫ g dσ, σ normalized); "
            f"got sum {total!r}. Pass weights / weights.sum()."
        )
    return c
