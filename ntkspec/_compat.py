"""The one place where differences between supported JAX versions live.

Supported: the newest JAX and jax 0.4.38 (the newest release neural-tangents 0.6.5 runs on).
Only public JAX API is used.
"""

from __future__ import annotations

import contextlib

import jax

__all__ = ["enable_x64", "random_streams"]


def enable_x64():
    """Context manager that enables 64-bit JAX types *locally* (never flips global config).

    Newer JAX exposes ``jax.enable_x64(True)``; jax 0.4.38 has ``jax.experimental.enable_x64()``.
    """
    if jax.config.jax_enable_x64:
        return contextlib.nullcontext()
    new = getattr(jax, "enable_x64", None)
    if new is not None and callable(new):
        return new(True)
    from jax.experimental import enable_x64 as _old  # jax < 0.5

    return _old()


def random_streams():
    """Context manager under which every ``jax.random`` call draws the newest JAX's numbers.

    "Same key, same result" must hold across supported versions. JAX >= 0.5 defaults to the
    partitionable threefry (``jax_threefry_partitionable=True``); jax 0.4.38 defaults to the old
    one, whose ``split``/``normal``/``uniform`` give different numbers for the same key. This
    scopes the new behaviour locally (never flips global config); it is part of the jit cache
    key, so jitted functions must be *called* (not only defined) inside it.
    """
    if jax.config.jax_threefry_partitionable:
        return contextlib.nullcontext()
    return jax.threefry_partitionable(True)
