"""The training checkpoint: one ``.npz`` file, written atomically, tied to its run by a fingerprint.

Format (all entries are plain arrays, no pickles):

- ``fingerprint``: SHA-256 hex string of the data, the initial params and the settings the
  run must match (:func:`fingerprint`);
- ``times``: int64 ``(T,)`` the recorded steps so far (the last one is the checkpoint's step);
- one array per record stream (``loss``, ``residual``, ``test_0``, …), first axis T;
- ``diverged``: bool, whether the run stopped on a non-finite loss;
- ``params_<i>``, ``state_<i>``: the leaves of the params and optimizer-state pytrees in
  ``jax.tree.leaves`` order (the state includes the raw PRNG key data of stochastic runs).

A checkpoint whose fingerprint differs from the run's is refused (``ValueError``), never
silently overwritten or restarted. :func:`step_of` reads only the step, for tools (the CLI) that
report progress without loading a run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ntkspec._io import atomic_savez

__all__ = ["fingerprint", "save", "load", "step_of"]

_RESERVED = ("fingerprint", "diverged")


def fingerprint(params: Any, arrays, settings) -> str:
    """SHA-256 (hex) of ``repr(settings)``, the params' tree structure and every array's bytes.

    Args:
      params: the *initial* params pytree.
      arrays: a sequence of arrays (data, targets, loss data, …).
      settings: any value with a deterministic ``repr`` (strings, numbers, tuples).
    """
    h = hashlib.sha256(repr(settings).encode())
    leaves, treedef = jax.tree.flatten(params)
    h.update(str(treedef).encode())
    for a in (*arrays, *leaves):
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.shape}{a.dtype.str}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(
    path: str | os.PathLike,
    fingerprint: str,
    params: Any,
    state: Any,
    records: dict[str, np.ndarray],
    diverged: bool,
) -> Path:
    """Write a checkpoint atomically (``records`` must include ``"times"``)."""
    if "times" not in records or any(k in _RESERVED for k in records):
        raise ValueError(f"Expected records with 'times' and without {_RESERVED}.")
    arrays = {"fingerprint": np.asarray(fingerprint), "diverged": np.asarray(diverged)}
    arrays.update({k: np.asarray(v) for k, v in records.items()})
    for prefix, tree in (("params", params), ("state", state)):
        for i, leaf in enumerate(jax.tree.leaves(tree)):
            arrays[f"{prefix}_{i}"] = np.asarray(leaf)
    return atomic_savez(path, **arrays)


def load(path: str | os.PathLike, fingerprint: str, params: Any, state: Any):
    """Restore ``(params, state, records, diverged)`` from ``path``.

    ``params``/``state`` give the pytree structure and dtypes. ``ValueError`` (saying what to
    do) if the file is unreadable, belongs to another run or does not fit the structure.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        found = str(data["fingerprint"])
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise ValueError(
            f"Cannot read checkpoint {path} ({e}); delete it to start from step 0."
        ) from None
    if found != fingerprint:
        raise ValueError(
            f"Checkpoint {path} belongs to a different run (other points, targets, initial "
            "params, lr, loss or record_every); pass another checkpoint path or delete it."
        )

    def restore(prefix, tree):
        leaves, treedef = jax.tree.flatten(tree)
        new = []
        for i, leaf in enumerate(leaves):
            saved = data.get(f"{prefix}_{i}")
            if saved is None or saved.shape != np.shape(leaf):
                raise ValueError(
                    f"Checkpoint {path} does not match the {prefix} structure of this run; "
                    "delete it to start from step 0."
                )
            new.append(jnp.asarray(saved, dtype=jnp.asarray(leaf).dtype))
        return treedef.unflatten(new)

    records = {
        k: v
        for k, v in data.items()
        if k not in _RESERVED and not k.startswith(("params_", "state_"))
    }
    return restore("params", params), restore("state", state), records, bool(data["diverged"])


def step_of(path: str | os.PathLike) -> int | None:
    """The step a checkpoint file has reached, or ``None`` if there is no readable one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return int(z["times"][-1])
    except (OSError, ValueError, KeyError, IndexError, EOFError):
        return None
