"""Real full-batch gradient descent, JIT-compiled, recording the per-degree residual.

Convention (DESIGN.md, THEORY.md §3): plain GD ``θ ← θ − η ∇_θ L`` on one of

- ``"mse"``:      ``L = (1/2n) Σ_i r_i²``          (lazy dynamics ``r ← (I − η K/n) r``),
- ``"weighted"``: ``L = (1/2) Σ_i c_i r_i²``       (``r ← (I − η K C) r``, C = diag(c)),
- ``"sobolev"``:  ``L = (1/2) rᵀ S r``             (``r ← (I − η K S) r``, S from
  :func:`ntkspec.dynamics.sobolev_matrix`),

with ``r = f(X) − y``. For a model linear in its parameters, ``f(x) = φ(x)·θ``, the residual
follows these recursions exactly with ``K = Φ Φᵀ``; for a wide network, approximately
(``ntkspec.dynamics`` predicts them).

Steps run inside ``jax.lax.scan`` in chunks of ``record_every``; one jitted chunk function
(cached per model/optimizer/loss/chunk length) is reused, and params/optimizer state buffers are
donated to it. The residual is recorded at the end of each chunk; per-degree energies are
computed on the host afterwards with :func:`ntkspec.sphere.degree_energy` in float64. Training
runs in the dtype of ``params``/``X`` (float32 unless JAX x64 is on and float64 arrays are
passed).

Checkpoints (``checkpoint=``): at chunk boundaries ``train`` writes, atomically, one ``.npz``
holding the params, the optimizer state, the step, the records so far, the divergence flag and
a fingerprint (SHA-256 of X, y, the loss matrix/weights, the initial params, lr, loss and
``record_every``). A later call with the same arguments and the same path continues from it and
returns exactly what the uninterrupted call returns: the chunks and their compiled programs are
the same. Full-batch GD draws no random numbers, so there is no PRNG state to carry.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike

from ntkspec._io import atomic_savez, atomic_write_json, json_floats
from ntkspec._validate import (
    as_real_array,
    check_choice,
    check_int,
    check_points,
    check_positive,
    check_weights,
)
from ntkspec.dynamics import _load, _steps_to_fraction
from ntkspec.sphere import MAX_DEGREE, degree_energy

__all__ = ["TrainRecord", "train"]

_LOSSES = ("mse", "weighted", "sobolev")


@dataclasses.dataclass(frozen=True)
class TrainRecord:
    """What :func:`train` recorded, float64 on the host.

    Attributes:
      times: int64 ``(T,)`` steps at which records were taken, starting at 0.
      loss: float64 ``(T,)`` training loss at those steps.
      residual: float64 ``(T, n)`` residual vectors ``f_t(X) − y``.
      energies: float64 ``(T, kmax + 1)`` per-degree energies ``‖Π_k r_t‖²`` (degree_energy,
        with the quadrature ``weights`` when given).
      degrees: int64 ``(kmax + 1,)``.
      diverged: True when the loss became NaN/inf; training stopped and the records (and the
        returned params) end at the last record before that.
      objective: ``"mse"``, ``"weighted"`` or ``"sobolev"``.
      lr: the GD step η (NaN when an optax optimizer was used).
    """

    times: np.ndarray
    loss: np.ndarray
    residual: np.ndarray
    energies: np.ndarray
    degrees: np.ndarray
    diverged: bool
    objective: str
    lr: float

    @property
    def norms(self) -> np.ndarray:
        """Per-degree residual norms ``sqrt(energies)``, ``(T, kmax + 1)``."""
        return np.sqrt(np.maximum(self.energies, 0.0))

    def steps_to_fraction(self, fraction: float) -> np.ndarray:
        """Per degree, the first step where the norm is ``<= fraction ×`` its initial value.

        Log-linear interpolation between records; ``inf`` if never, ``NaN`` for zero initial
        norm (same rule as :meth:`ntkspec.dynamics.Prediction.steps_to_fraction`).
        """
        n = self.norms
        return _steps_to_fraction(self.times, n, n[0], fraction)

    def to_dict(self) -> dict:
        """JSON-ready dict (use ``.npz`` via :meth:`save` for large residuals)."""
        return {
            "times": [int(t) for t in self.times],
            "loss": json_floats(self.loss),
            "residual": json_floats(self.residual),
            "energies": json_floats(self.energies),
            "degrees": [int(k) for k in self.degrees],
            "diverged": bool(self.diverged),
            "objective": self.objective,
            "lr": json_floats(self.lr),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as ``.json`` (default) or ``.npz`` (by the suffix)."""
        path = Path(path)
        if path.suffix == ".npz":
            return atomic_savez(
                path, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
            )
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainRecord:
        """Read a file written by :meth:`save`."""
        d = _load(path)
        T, K = len(d["times"]), len(d["degrees"])
        return cls(
            times=np.asarray(d["times"], dtype=np.int64),
            loss=np.asarray(d["loss"], dtype=np.float64),
            residual=np.asarray(d["residual"], dtype=np.float64).reshape(T, -1),
            energies=np.asarray(d["energies"], dtype=np.float64).reshape(T, K),
            degrees=np.asarray(d["degrees"], dtype=np.int64),
            diverged=bool(d["diverged"]),
            objective=str(d["objective"]),
            lr=float(np.float64(d["lr"])),
        )


# ----------------------------------------------------------------------------- jitted core
def _gd_update(grads, lr, params):
    """Plain GD as an optax-style update; the state *is* the (traced) step size."""
    del params
    return jax.tree.map(lambda g: -lr.astype(g.dtype) * g, grads), lr


def _objective(kind: str, r, aux):
    if kind == "mse":
        return 0.5 * jnp.mean(r * r)
    if kind == "weighted":
        return 0.5 * jnp.sum(aux * r * r)
    return 0.5 * jnp.dot(r, aux @ r)


def _residual(apply, params, X, y):
    return jnp.reshape(apply(params, X), y.shape) - y


@functools.partial(jax.jit, static_argnames=("apply", "kind"))
def _evaluate(params, X, y, aux, *, apply, kind):
    r = _residual(apply, params, X, y)
    return r, _objective(kind, r, aux)


@functools.partial(
    jax.jit,
    static_argnames=("apply", "update", "kind", "length"),
    donate_argnames=("params", "state"),
)
def _chunk(params, state, X, y, aux, *, apply, update, kind, length):
    """``length`` GD steps in one ``lax.scan``; then the residual and loss at the end.

    If any loss in the chunk (or at its end) is non-finite, the *input* params/state are
    returned, so a diverged run ends at its last good record.
    """

    def loss_fn(p):
        return _objective(kind, _residual(apply, p, X, y), aux)

    def step(carry, _):
        p, st, bad = carry
        value, grads = jax.value_and_grad(loss_fn)(p)
        updates, st = update(grads, st, p)
        p = jax.tree.map(lambda a, u: (a + u).astype(a.dtype), p, updates)
        return (p, st, bad | ~jnp.isfinite(value)), None

    (p, st, bad), _ = jax.lax.scan(
        step, (params, state, jnp.zeros((), dtype=bool)), None, length=length
    )
    r = _residual(apply, p, X, y)
    value = _objective(kind, r, aux)
    bad = bad | ~jnp.isfinite(value) | ~jnp.all(jnp.isfinite(r))
    keep = functools.partial(jnp.where, bad)
    p = jax.tree.map(lambda new, old: keep(old, new), p, params)
    st = jax.tree.map(lambda new, old: keep(old, new), st, state)
    return p, st, r, value, bad


# ----------------------------------------------------------------------------- checkpoints
def _fingerprint(params, arrays, settings) -> str:
    """SHA-256 of the data, the initial params and the settings a checkpoint must match."""
    h = hashlib.sha256(repr(settings).encode())
    leaves, treedef = jax.tree.flatten(params)
    h.update(str(treedef).encode())
    for a in (*arrays, *leaves):
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.shape}{a.dtype.str}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _save_checkpoint(path, fingerprint, params, state, times, losses, residuals, diverged):
    arrays = {
        "fingerprint": np.asarray(fingerprint),
        "times": np.asarray(times, dtype=np.int64),
        "loss": np.asarray(losses, dtype=np.float64),
        "residual": np.stack(residuals),
        "diverged": np.asarray(diverged),
    }
    for prefix, tree in (("params", params), ("state", state)):
        for i, leaf in enumerate(jax.tree.leaves(tree)):
            arrays[f"{prefix}_{i}"] = np.asarray(leaf)
    atomic_savez(path, **arrays)


def _load_checkpoint(path: Path, fingerprint: str, params, state):
    """Restore ``(params, state, times, losses, residuals, diverged)`` from ``path``."""
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

    residual = data["residual"]
    return (
        restore("params", params),
        restore("state", state),
        [int(t) for t in data["times"]],
        [float(v) for v in data["loss"]],
        list(residual),
        bool(data["diverged"]),
    )


# ----------------------------------------------------------------------------- public API
def train(
    apply: Callable[[Any, jax.Array], jax.Array],
    params: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | None = None,
    steps: int,
    record_every: int = 1,
    kmax: int,
    loss: str = "mse",
    weights: ArrayLike | None = None,
    sobolev: ArrayLike | None = None,
    optimizer: Any = None,
    callback: Callable[[int, int], None] | None = None,
    mesh: Mesh | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
) -> tuple[Any, TrainRecord]:
    """Full-batch gradient descent on ``(X, y)``, recording the residual per degree.

    Args:
      apply: pure ``apply(params, X) -> (n,)`` or ``(n, 1)`` model outputs.
      params: pytree of arrays (not modified: training works on a copy).
      X: points ``(n, d)`` on the unit sphere.
      y: targets ``(n,)``.
      lr: GD step η > 0; required without ``optimizer`` and must be ``None`` with one.
      steps: number of steps (>= 0).
      record_every: record (and call ``callback``) every this many steps; ``steps`` is
        always recorded. Each chunk of ``record_every`` steps is one ``lax.scan``.
      kmax: highest degree of the recorded energies.
      loss: ``"mse"`` (``(1/2n) Σ r²``), ``"weighted"`` (``(1/2) Σ c_i r_i²``, needs
        ``weights``) or ``"sobolev"`` (``(1/2) rᵀ S r``, needs ``sobolev``).
      weights: quadrature weights c ``(n,)``; also used for the recorded energies.
      sobolev: the matrix S ``(n, n)`` of :func:`ntkspec.dynamics.sobolev_matrix`.
      optimizer: an optax ``GradientTransformation`` used instead of plain GD (its learning
        rate is its own; pass ``lr=None``).
      callback: ``callback(step, total)`` called on the host after each chunk.
      mesh: a ``jax.sharding.Mesh``; rows of X, y, weights and S are sharded over its first
        axis (n must be divisible by that axis' size), params are replicated. Results equal
        the unsharded run up to float rounding.
      checkpoint: path of a ``.npz`` checkpoint (see the module docstring). If it exists and
        matches this run, training continues from it; if it belongs to another run,
        ``ValueError``. It is rewritten every ``checkpoint_every`` steps, on divergence and at
        the end (a finished checkpoint makes a repeated call return at once).
      checkpoint_every: steps between checkpoints, rounded up to a multiple of
        ``record_every`` (default: about 20 checkpoints per run).

    Returns:
      ``(params, record)``: the trained params (at the last record if the run diverged) and a
      :class:`TrainRecord`.
    """
    if not callable(apply):
        raise TypeError(f"Expected apply to be callable; got {type(apply).__name__}.")
    Xn = check_points(X)
    n = Xn.shape[0]
    steps = check_int("steps", steps, minimum=0)
    record_every = check_int("record_every", record_every, minimum=1)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    check_choice("loss", loss, _LOSSES)
    if callback is not None and not callable(callback):
        raise TypeError(
            f"Expected callback to be callable as callback(step, total); got "
            f"{type(callback).__name__}."
        )
    if optimizer is None:
        if lr is None:
            raise ValueError("Expected lr > 0 for plain gradient descent (or pass optimizer=).")
        lr = check_positive("lr", lr)
    else:
        if lr is not None:
            raise ValueError(
                "Expected lr=None with optimizer= (the optax transformation sets its own "
                f"learning rate); got lr = {lr!r}."
            )
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise TypeError(
                "Expected optimizer to be an optax GradientTransformation (init/update); got "
                f"{type(optimizer).__name__}."
            )
    if weights is not None:
        c = check_weights(weights, n)
    elif loss == "weighted":
        raise ValueError(
            "Expected weights (quadrature weights c, shape (n,)) with loss='weighted'."
        )
    if sobolev is not None and loss != "sobolev":
        raise ValueError("Got sobolev= with loss != 'sobolev'; pass loss='sobolev'.")
    if loss == "sobolev":
        if sobolev is None:
            raise ValueError(
                "Expected sobolev= (a matrix from sobolev_matrix) with loss='sobolev'."
            )
        if np.shape(sobolev) != (n, n) or not np.isfinite(np.asarray(sobolev)).all():
            raise ValueError(
                f"Expected a finite sobolev matrix of shape ({n}, {n}); got {np.shape(sobolev)}."
            )
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if checkpoint.suffix != ".npz":
            raise ValueError(f"Expected a checkpoint path ending in .npz; got {str(checkpoint)!r}.")
        if checkpoint_every is None:
            checkpoint_every = max(1, math.ceil(steps / 20))
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=1)
        checkpoint_every = record_every * math.ceil(checkpoint_every / record_every)
    elif checkpoint_every is not None:
        raise ValueError("Got checkpoint_every without checkpoint=; pass a checkpoint path.")
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f"Expected mesh to be a jax.sharding.Mesh; got {type(mesh).__name__}.")

    Xj = jnp.asarray(X)
    dtype = Xj.dtype
    yv = as_real_array("targets y", y)
    if yv.shape != (n,) or not np.isfinite(yv).all():
        raise ValueError(f"Expected finite targets y of shape ({n},); got shape {yv.shape}.")
    yj = jnp.asarray(yv, dtype=dtype)
    if loss == "mse":
        aux = jnp.zeros((), dtype=dtype)
    elif loss == "weighted":
        aux = jnp.asarray(c, dtype=dtype)
    else:
        aux = jnp.asarray(np.asarray(sobolev), dtype=dtype)

    # Copy params so that donation never deletes the caller's arrays.
    params = jax.tree.map(lambda a: jnp.array(a, copy=True), params)
    out = jax.eval_shape(apply, params, Xj)
    if not hasattr(out, "shape") or out.shape not in ((n,), (n, 1)):
        raise ValueError(
            f"Expected apply(params, X) to return shape ({n},) or ({n}, 1); "
            f"got {getattr(out, 'shape', type(out).__name__)}."
        )
    if optimizer is None:
        update = _gd_update
        state = jnp.asarray(lr, dtype=dtype)
    else:
        update = optimizer.update
        state = optimizer.init(params)

    resumed = None
    if checkpoint is not None:
        fingerprint = _fingerprint(
            params, (Xj, yj, aux), (loss, record_every, None if optimizer else float(lr))
        )
        if checkpoint.exists():
            resumed = _load_checkpoint(checkpoint, fingerprint, params, state)
            params, state = resumed[:2]

    if mesh is not None:
        axis = mesh.axis_names[0]
        size = mesh.shape[axis]
        if n % size:
            raise ValueError(
                f"Expected n = {n} divisible by the size {size} of mesh axis {axis!r}."
            )
        rows = NamedSharding(mesh, PartitionSpec(axis))
        repl = NamedSharding(mesh, PartitionSpec())
        Xj = jax.device_put(Xj, rows)
        yj = jax.device_put(yj, rows)
        if loss != "mse":
            aux = jax.device_put(aux, rows)
        params = jax.device_put(params, repl)
        state = jax.device_put(state, repl)

    if resumed is None:
        r, value = _evaluate(params, Xj, yj, aux, apply=apply, kind=loss)
        value = float(value)
        r = np.asarray(r, dtype=np.float64)
        if not np.isfinite(value) or not np.isfinite(r).all():
            raise ValueError(
                "Expected a finite initial loss; the model output at params is NaN/inf."
            )
        times, losses, residuals, diverged = [0], [value], [r], False
    else:
        times, losses, residuals, diverged = resumed[2:]
        if times[-1] > steps:
            raise ValueError(
                f"Checkpoint {checkpoint} is at step {times[-1]}, beyond steps = {steps}; "
                "pass steps >= that or delete the checkpoint."
            )
    done = times[-1]
    saved = done
    while done < steps and not diverged:
        length = min(record_every, steps - done)
        params, state, r, value, bad = _chunk(
            params, state, Xj, yj, aux, apply=apply, update=update, kind=loss, length=length
        )
        diverged = bool(bad)
        if not diverged:
            done += length
            times.append(done)
            losses.append(float(value))
            residuals.append(np.asarray(r, dtype=np.float64))
        if checkpoint is not None and (
            diverged or done == steps or done - saved >= checkpoint_every
        ):
            _save_checkpoint(
                checkpoint, fingerprint, params, state, times, losses, residuals, diverged
            )
            saved = done
        if callback is not None and not diverged:
            callback(done, steps)

    R = np.stack(residuals)
    energies = degree_energy(np.asarray(X), R.T, kmax, weights=weights)
    record = TrainRecord(
        times=np.asarray(times, dtype=np.int64),
        loss=np.asarray(losses, dtype=np.float64),
        residual=R,
        energies=energies,
        degrees=np.arange(kmax + 1, dtype=np.int64),
        diverged=diverged,
        objective=loss,
        lr=float(lr) if optimizer is None else np.nan,
    )
    return params, record
