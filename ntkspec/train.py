"""Training: one jitted ``lax.scan`` loop, pluggable recorders and checkpoints.

Convention (docs/theory.md §3): the optimizer (:mod:`ntkspec.optimizers`, or any optax
``GradientTransformation``) minimizes a quadratic loss ``(1/2) rᵀ M r`` of the residual
``r = f(X) − y`` (:mod:`ntkspec.losses`):

- ``mse()``:        ``(1/2n) Σ_i r_i²``     (lazy GD dynamics ``r ← (I − η K/n) r``),
- ``weighted(c)``:  ``(1/2) Σ_i c_i r_i²``  (``r ← (I − η K C) r``, C = diag(c)),
- ``sobolev(s)``:   ``(1/2) rᵀ S r``        (``r ← (I − η K S) r``, S from
  :func:`ntkspec.losses.sobolev_matrix`).

For a model linear in its parameters, ``f(x) = φ(x)·θ``, the residual follows the optimizer's
linear recursion exactly with ``K = Φ Φᵀ``; for a wide network, approximately
(:mod:`ntkspec.dynamics` predicts it). Mini-batch SGD draws an independent uniform batch each
step from an explicit ``key`` and minimizes ``(1/2) Σ_{j∈J} (n/b) M_jj r_j²``, unbiased for a
diagonal M.

Layout. :func:`fit` trains on *any* inputs X ``(n, ...)`` (one row per sample): preparation and
validation, then the loop, which runs the steps inside ``jax.lax.scan`` in chunks of
``record_every`` (one jitted chunk function, cached per model/optimizer/loss/chunk length;
params and optimizer state are donated to it). At each chunk end it evaluates the streams the
recorders need: the training loss, the training residual, residuals on held-out points. The
recorders then turn the stacked streams into results on the host: :func:`record_loss`,
:func:`record_residual`, :func:`record_test_residual`, and, for points on the sphere only,
:func:`record_degrees` and :func:`record_test_degrees` (per-degree curves,
:class:`~ntkspec.curves.DegreeCurves`, float64). :func:`train` is the older entry point: fit
plus the per-degree record of the training residual, returned as a :class:`TrainRecord`.

Checkpoints (``checkpoint=``, format in :mod:`ntkspec.checkpoint`): at chunk boundaries the loop
writes the params, the optimizer state (with the PRNG key of a stochastic run), the records so
far and a fingerprint of the run. A later call with the same arguments and path continues from
it and returns exactly what the uninterrupted call returns: the chunks and their compiled
programs are the same.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike

from ntkspec import checkpoint as _ckpt
from ntkspec._io import atomic_savez, atomic_write_json, json_floats
from ntkspec._validate import (
    as_real_array,
    check_int,
    check_key,
    check_points,
    check_positive,
    check_weights,
)
from ntkspec.curves import DegreeCurves, load_entries
from ntkspec.limits import MAX_DEGREE
from ntkspec.losses import Loss, mse, normalized_weights, sample_loss
from ntkspec.optimizers import Optimizer
from ntkspec.sphere import degree_energy

__all__ = [
    "TrainRecord",
    "Run",
    "Recorder",
    "train",
    "fit",
    "record_loss",
    "record_residual",
    "record_test_residual",
    "record_degrees",
    "record_test_degrees",
]


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True, eq=False, init=False)
class TrainRecord(DegreeCurves):
    """What :func:`train` recorded, float64 on the host (a :class:`DegreeCurves`).

    ``TrainRecord(times, loss, residual, energies, degrees, diverged, objective, lr)``;
    ``norms = sqrt(energies)`` and ``initial = norms[0]`` are derived.

    Attributes:
      times: int64 ``(T,)`` steps at which records were taken, starting at 0.
      loss: float64 ``(T,)`` training loss at those steps.
      residual: float64 ``(T, n)`` residual vectors ``f_t(X) − y``.
      energies: float64 ``(T, kmax + 1)`` per-degree energies ``‖Π_k r_t‖²`` (degree_energy,
        with the quadrature ``weights`` when given).
      degrees: int64 ``(kmax + 1,)``.
      diverged: True when the loss became NaN/inf; training stopped and the records (and the
        returned params) end at the last record before that.
      objective: ``"mse"``, ``"weighted"``, ``"sobolev"`` or ``"quadratic"``.
      lr: the step η (NaN when a raw optax optimizer was used).
    """

    loss: np.ndarray
    residual: np.ndarray
    energies: np.ndarray
    diverged: bool
    objective: str
    lr: float

    def __init__(
        self, times, loss, residual, energies, degrees, diverged, objective, lr, *,
        source: str = "measured", label: str = "", meta: dict | None = None,
    ):  # fmt: skip
        energies = np.asarray(energies, dtype=np.float64)
        norms = np.sqrt(np.maximum(energies, 0.0))
        values = dict(
            times=np.asarray(times), degrees=np.asarray(degrees), norms=norms,
            initial=norms[0] if norms.shape[0] else np.zeros(norms.shape[1:]),
            source=source, label=label, meta={} if meta is None else dict(meta),
            loss=np.asarray(loss), residual=np.asarray(residual), energies=energies,
            diverged=bool(diverged), objective=objective, lr=lr,
        )  # fmt: skip
        for name, value in values.items():
            object.__setattr__(self, name, value)

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
            names = ("times", "loss", "residual", "energies", "degrees", "diverged")
            arrays = {k: np.asarray(getattr(self, k)) for k in names}
            arrays.update(objective=np.asarray(self.objective), lr=np.asarray(self.lr))
            return atomic_savez(path, **arrays)
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainRecord:
        """Read a file written by :meth:`save`."""
        d = load_entries(path)
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


class Run(NamedTuple):
    """What :func:`fit` returns.

    Attributes:
      params: the trained params (at the last record if the run diverged).
      times: int64 ``(T,)`` record steps, starting at 0.
      records: ``{recorder name: its result}``.
      diverged: whether the loss became NaN/inf (training then stopped).
    """

    params: Any
    times: np.ndarray
    records: dict
    diverged: bool


class Recorder(NamedTuple):
    """Something :func:`fit` records at every chunk end (build with the ``record_*`` functions).

    ``stream`` names what the jitted loop evaluates: ``"loss"`` (training loss, scalar),
    ``"residual"`` (training residual ``(n,)``) or ``"test"`` (the residual on ``data =
    (X_test, y_test)``). ``finish(times, stacked)`` turns the float64 stack ``(T, ...)`` into the
    recorder's result on the host. ``rows``: the number of training samples the recorder was
    built for (checked by :func:`fit` before training), or ``None``.
    """

    name: str
    stream: str
    data: tuple
    finish: Callable[[np.ndarray, np.ndarray], Any]
    rows: int | None = None


def _keep(times, stacked):
    del times
    return stacked


def record_loss(name: str = "loss") -> Recorder:
    """The training loss at every record, float64 ``(T,)``."""
    return Recorder(name, "loss", (), _keep)


def record_residual(name: str = "residual") -> Recorder:
    """The training residual ``f_t(X) − y`` at every record, float64 ``(T, n)``."""
    return Recorder(name, "residual", (), _keep)


def _check_pair(X, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    Xa = as_real_array(f"{what} inputs", X)
    if Xa.ndim < 1 or Xa.shape[0] < 1:
        raise ValueError(f"Expected {what} inputs with at least one row; got shape {Xa.shape}.")
    ya = as_real_array(f"{what} targets", y)
    n = Xa.shape[0]
    if ya.shape != (n,) or not np.isfinite(ya).all():
        raise ValueError(f"Expected finite {what} targets of shape ({n},); got {ya.shape}.")
    return Xa, ya


def record_test_residual(X_test: ArrayLike, y_test: ArrayLike, name="test_residual") -> Recorder:
    """The held-out residual ``f_t(X_test) − y_test`` at every record, float64 ``(T, m)``.

    ``X_test`` may be any inputs the model takes (rows = samples).
    """
    Xa, ya = _check_pair(X_test, y_test, "held-out")
    return Recorder(name, "test", (Xa, ya), _keep)


def _degree_finish(X, kmax, weights, label):
    def finish(times, R):
        E = degree_energy(X, R.T, kmax, weights=weights)
        norms = np.sqrt(np.maximum(E, 0.0))
        return DegreeCurves(
            times=np.asarray(times, dtype=np.int64), degrees=np.arange(kmax + 1),
            norms=norms, initial=norms[0], source="measured", label=label,
        )  # fmt: skip

    return finish


def record_degrees(
    X: ArrayLike, kmax: int, *, weights: ArrayLike | None = None, name: str = "degrees"
) -> Recorder:
    """Per-degree norms of the training residual, a :class:`DegreeCurves` (label "train").

    ``X`` must be the training points, on the unit sphere (``(n, d)``); energies as
    :func:`ntkspec.sphere.degree_energy` (with quadrature ``weights`` when given).
    """
    Xn = check_points(X)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    if weights is not None:
        weights = normalized_weights(weights, Xn.shape[0])
    finish = _degree_finish(Xn, kmax, weights, "train")
    return Recorder(name, "residual", (), finish, rows=Xn.shape[0])


def record_test_degrees(
    X_test: ArrayLike,
    y_test: ArrayLike,
    kmax: int,
    *,
    weights: ArrayLike | None = None,
    name: str = "test_degrees",
) -> Recorder:
    """Per-degree norms of the held-out residual on points of the sphere (label "test")."""
    Xn = check_points(X_test, name="X_test")
    _, ya = _check_pair(X_test, y_test, "held-out")
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    if weights is not None:
        weights = normalized_weights(weights, Xn.shape[0])
    data = (np.asarray(X_test), ya)
    return Recorder(name, "test", data, _degree_finish(Xn, kmax, weights, "test"))


# ----------------------------------------------------------------------------- jitted core
def _gd_update(grads, lr, params):
    """Plain GD as an optax-style update; the state *is* the (traced) step size."""
    del params
    return jax.tree.map(lambda g: -lr.astype(g.dtype) * g, grads), lr


def _residual(apply, params, X, y):
    return jnp.reshape(apply(params, X), y.shape) - y


def _streams(apply, objective, params, X, y, aux, tests):
    """Training residual, loss and held-out residuals at ``params``."""
    r = _residual(apply, params, X, y)
    extra = tuple(_residual(apply, params, Xt, yt) for Xt, yt in tests)
    return r, objective(r, aux), extra


@functools.partial(jax.jit, static_argnames=("apply", "objective"))
def _evaluate(params, X, y, aux, tests, *, apply, objective):
    return _streams(apply, objective, params, X, y, aux, tests)


def _batch_grad(apply, params, X, y, ew, key_data, batch):
    """Loss and gradient on an independent uniform mini-batch; the advanced key data."""
    size, replace = batch
    key, sub = jax.random.split(jax.random.wrap_key_data(key_data))
    n = y.shape[0]
    idx = jax.random.choice(sub, n, (size,), replace=replace)
    w = ew[idx] * (n / size)

    def loss_fn(p):
        r = _residual(apply, p, X[idx], y[idx])
        return 0.5 * jnp.sum(w * r * r)

    value, grads = jax.value_and_grad(loss_fn)(params)
    return value, grads, jax.random.key_data(key)


@functools.partial(
    jax.jit,
    static_argnames=("apply", "update", "objective", "length", "batch"),
    donate_argnames=("params", "state"),
)
def _chunk(params, state, X, y, aux, ew, tests, *, apply, update, objective, length, batch):
    """``length`` steps in one ``lax.scan``; then the recorded streams at the end.

    If any loss in the chunk (or at its end) is non-finite, the *input* params/state are
    returned, so a diverged run ends at its last good record. With ``batch = (size, replace)``
    the state is ``(optimizer state, key data)`` and each step draws its mini-batch.
    """

    def loss_fn(p):
        return objective(_residual(apply, p, X, y), aux)

    def step(carry, _):
        p, st, bad = carry
        if batch is None:
            value, grads = jax.value_and_grad(loss_fn)(p)
            updates, st = update(grads, st, p)
        else:
            value, grads, key_data = _batch_grad(apply, p, X, y, ew, st[1], batch)
            updates, opt_state = update(grads, st[0], p)
            st = (opt_state, key_data)
        p = jax.tree.map(lambda a, u: (a + u).astype(a.dtype), p, updates)
        return (p, st, bad | ~jnp.isfinite(value)), None

    (p, st, bad), _ = jax.lax.scan(
        step, (params, state, jnp.zeros((), dtype=bool)), None, length=length
    )
    r, value, extra = _streams(apply, objective, p, X, y, aux, tests)
    bad = bad | ~jnp.isfinite(value) | ~jnp.all(jnp.isfinite(r))
    keep = functools.partial(jnp.where, bad)
    p = jax.tree.map(lambda new, old: keep(old, new), p, params)
    st = jax.tree.map(lambda new, old: keep(old, new), st, state)
    return p, st, r, value, extra, bad


# ----------------------------------------------------------------------------- preparation
class _Plan(NamedTuple):
    """Everything the loop needs, validated and placed on devices."""

    apply: Callable
    update: Callable
    objective: Callable
    batch: tuple | None
    X: jax.Array
    y: jax.Array
    aux: jax.Array
    ew: jax.Array | None
    tests: tuple
    steps: int
    record_every: int
    times: tuple | None
    callback: Callable | None
    checkpoint: Path | None
    checkpoint_every: int | None
    fingerprint: str | None


def _check_times(times, steps: int) -> tuple:
    """An explicit record schedule: strictly increasing integer steps, with 0 and ``steps``."""
    t = np.asarray(times)
    if t.ndim != 1 or t.size == 0 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(
            f"Expected times to be a non-empty 1-D array of integer steps; got {t.dtype} array "
            f"of shape {t.shape}."
        )
    if (np.diff(t) <= 0).any() or t[0] < 0 or t[-1] > steps:
        shown = t.tolist() if t.size <= 20 else f"{t[:10].tolist()} ..."
        raise ValueError(
            f"Expected strictly increasing times in [0, steps = {steps}]; got {shown}."
        )
    return tuple(sorted({0, steps, *(int(v) for v in t)}))


def _check_run_args(steps, record_every, times, callback, checkpoint, checkpoint_every, mesh):
    steps = check_int("steps", steps, minimum=0)
    if times is not None:
        if record_every is not None:
            raise ValueError("Expected either record_every or times, not both.")
        times = _check_times(times, steps)
        record_every = 1  # checkpoints are not rounded to a record multiple
    else:
        every = 1 if record_every is None else record_every
        record_every = check_int("record_every", every, minimum=1)
    if callback is not None and not callable(callback):
        raise TypeError(
            f"Expected callback to be callable as callback(step, total); got "
            f"{type(callback).__name__}."
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
    return steps, record_every, times, checkpoint, checkpoint_every


def _check_output(apply, params, X, n) -> None:
    out = jax.eval_shape(apply, params, X)
    if not hasattr(out, "shape") or out.shape not in ((n,), (n, 1)):
        raise ValueError(
            f"Expected apply(params, X) to return shape ({n},) or ({n}, 1); "
            f"got {getattr(out, 'shape', type(out).__name__)}."
        )


def _shard(mesh, n, X, y, aux, ew, params, state, shard_aux):
    """Rows of X, y (and the loss data) over the mesh's first axis; params replicated."""
    axis = mesh.axis_names[0]
    size = mesh.shape[axis]
    if n % size:
        raise ValueError(f"Expected n = {n} divisible by the size {size} of mesh axis {axis!r}.")
    rows = NamedSharding(mesh, PartitionSpec(axis))
    repl = NamedSharding(mesh, PartitionSpec())
    X, y = jax.device_put(X, rows), jax.device_put(y, rows)
    if shard_aux:
        aux = jax.device_put(aux, rows)
    if ew is not None:
        ew = jax.device_put(ew, rows)
    return X, y, aux, ew, jax.device_put(params, repl), jax.device_put(state, repl)


# ----------------------------------------------------------------------------- the loop
@dataclasses.dataclass
class _History:
    """The records so far (host float64), as they go into checkpoints."""

    times: list
    loss: list
    residual: list
    tests: list
    diverged: bool = False

    def append(self, step, r, value, extra) -> None:
        self.times.append(step)
        self.loss.append(float(value))
        self.residual.append(np.asarray(r, dtype=np.float64))
        for lst, e in zip(self.tests, extra, strict=True):
            lst.append(np.asarray(e, dtype=np.float64))

    def to_records(self) -> dict:
        out = {
            "times": np.asarray(self.times, dtype=np.int64),
            "loss": np.asarray(self.loss, dtype=np.float64),
            "residual": np.stack(self.residual),
        }
        out.update({f"test_{i}": np.stack(t) for i, t in enumerate(self.tests)})
        return out

    @classmethod
    def from_records(cls, records: dict, n_tests: int, diverged: bool) -> _History:
        return cls(
            times=[int(t) for t in records["times"]],
            loss=[float(v) for v in records["loss"]],
            residual=list(records["residual"]),
            tests=[list(records[f"test_{i}"]) for i in range(n_tests)],
            diverged=diverged,
        )


def _start(plan: _Plan, params, state) -> _History:
    r, value, extra = _evaluate(
        params, plan.X, plan.y, plan.aux, plan.tests, apply=plan.apply, objective=plan.objective
    )
    r = np.asarray(r, dtype=np.float64)
    if not np.isfinite(float(value)) or not np.isfinite(r).all():
        raise ValueError("Expected a finite initial loss; the model output at params is NaN/inf.")
    history = _History([], [], [], [[] for _ in plan.tests])
    history.append(0, r, value, extra)
    return history


def _loop(plan: _Plan, params, state, history: _History):
    """Run the chunks from ``history``'s last step to ``plan.steps`` (or divergence)."""
    done = saved = history.times[-1]
    while done < plan.steps and not history.diverged:
        if plan.times is None:
            length = min(plan.record_every, plan.steps - done)
        else:
            length = plan.times[bisect.bisect_right(plan.times, done)] - done
        params, state, r, value, extra, bad = _chunk(
            params, state, plan.X, plan.y, plan.aux, plan.ew, plan.tests, apply=plan.apply,
            update=plan.update, objective=plan.objective, length=length, batch=plan.batch,
        )  # fmt: skip
        history.diverged = bool(bad)
        if not history.diverged:
            done += length
            history.append(done, r, value, extra)
        if plan.checkpoint is not None and (
            history.diverged or done == plan.steps or done - saved >= plan.checkpoint_every
        ):
            _ckpt.save(
                plan.checkpoint, plan.fingerprint, params, state, history.to_records(),
                history.diverged,
            )  # fmt: skip
            saved = done
        if plan.callback is not None and not history.diverged:
            plan.callback(done, plan.steps)
    return params, history


def _execute(plan: _Plan, params, state, mesh, shard_aux: bool):
    """Resume from the checkpoint or start, place on the mesh, run the loop."""
    history = None
    if plan.checkpoint is not None and plan.checkpoint.exists():
        params, state, records, diverged = _ckpt.load(
            plan.checkpoint, plan.fingerprint, params, state
        )
        history = _History.from_records(records, len(plan.tests), diverged)
        if history.times[-1] > plan.steps:
            raise ValueError(
                f"Checkpoint {plan.checkpoint} is at step {history.times[-1]}, beyond steps = "
                f"{plan.steps}; pass steps >= that or delete the checkpoint."
            )
    if mesh is not None:
        X, y, aux, ew, params, state = _shard(
            mesh, plan.y.shape[0], plan.X, plan.y, plan.aux, plan.ew, params, state, shard_aux
        )
        plan = plan._replace(X=X, y=y, aux=aux, ew=ew)
    if history is None:
        history = _start(plan, params, state)
    return _loop(plan, params, state, history)


def _copy(params):
    """A copy of the params, so that donation never deletes the caller's arrays."""
    return jax.tree.map(lambda a: jnp.array(a, copy=True), params)


# ----------------------------------------------------------------------------- optimizer set-up
def _optimizer_setup(optimizer, lr, params, dtype, key):
    """``(update, state, batch, settings)`` for plain GD (``lr``), an Optimizer or raw optax."""
    if optimizer is None:
        if lr is None:
            raise ValueError("Expected lr > 0 for plain gradient descent (or pass optimizer=).")
        lr = check_positive("lr", lr)
        if key is not None:
            raise ValueError("Got key= for a deterministic optimizer; only sgd(...) draws batches.")
        return _gd_update, jnp.asarray(lr, dtype=dtype), None, float(lr)
    if lr is not None:
        raise ValueError(
            "Expected lr=None with optimizer= (the optax transformation sets its own "
            f"learning rate); got lr = {lr!r}."
        )
    if isinstance(optimizer, Optimizer):
        if optimizer.transform is None:
            raise ValueError(
                f"Expected an optimizer that can train; {optimizer.name!r} is prediction-only "
                "(gradient flow). Use optimizers.gd(lr) with a small lr."
            )
        transform, settings = optimizer.transform, tuple(sorted(optimizer.to_dict().items()))
    elif hasattr(optimizer, "init") and hasattr(optimizer, "update"):
        transform, settings = optimizer, None
    else:
        raise TypeError(
            "Expected optimizer to be an optax GradientTransformation (init/update) or an "
            f"ntkspec.optimizers.Optimizer; got {type(optimizer).__name__}."
        )
    state = transform.init(params)
    batch = None
    if isinstance(optimizer, Optimizer) and optimizer.batch_size is not None:
        if key is None:
            raise ValueError("Expected key= (a jax.random.key) for mini-batch SGD.")
        k = check_key(key)
        data = jax.random.key_data(k) if jax.dtypes.issubdtype(k.dtype, jax.dtypes.prng_key) else k
        state = (state, jnp.array(data, copy=True))  # donated: never the caller's key
        batch = (optimizer.batch_size, optimizer.replace)
    elif key is not None:
        raise ValueError("Got key= for a deterministic optimizer; only sgd(...) draws batches.")
    return transform.update, state, batch, settings


def _check_batch(batch, loss: Loss, n: int) -> None:
    if batch is None:
        return
    if not loss.diagonal:
        raise ValueError(
            f"Expected an mse or weighted loss with mini-batch SGD; a {loss.kind} loss couples "
            "samples, so a mini-batch of it is not an unbiased estimate."
        )
    if batch[0] > n and not batch[1]:
        raise ValueError(
            f"Expected batch_size <= n = {n} for batches drawn without replacement; got {batch[0]}."
        )


def _train_core(apply, params, Xj, yj, loss, objective, optimizer, lr, key, tests, args, head):
    """Shared by :func:`fit` and :func:`train`: optimizer set-up, fingerprint, plan, loop.

    ``args = (steps, record_every, times, callback, checkpoint, checkpoint_every, mesh)`` as
    validated by :func:`_check_run_args`; ``head`` starts the fingerprinted settings.
    """
    steps, record_every, times, callback, checkpoint, checkpoint_every, mesh = args
    n = yj.shape[0]
    params = _copy(params)
    _check_output(apply, params, Xj, n)
    update, state, batch, opt_settings = _optimizer_setup(optimizer, lr, params, yj.dtype, key)
    _check_batch(batch, loss, n)
    ew = None if batch is None else jnp.asarray(objective.example_weights, dtype=yj.dtype)
    fingerprint = None
    if checkpoint is not None:
        schedule = record_every if times is None else times
        arrays = (Xj, yj, objective.data, *(a for pair in tests for a in pair))
        fingerprint = _ckpt.fingerprint(params, arrays, (*head, schedule, opt_settings))
    plan = _Plan(apply, update, objective.fn, batch, Xj, yj, objective.data, ew, tests,
                 steps, record_every, times, callback, checkpoint, checkpoint_every,
                 fingerprint)  # fmt: skip
    return _execute(plan, params, state, mesh, shard_aux=loss.kind != "mse")


# ----------------------------------------------------------------------------- public API
def fit(
    apply: Callable[[Any, jax.Array], jax.Array],
    params: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    optimizer: Optimizer | Any,
    steps: int,
    loss: Loss | None = None,
    record_every: int | None = None,
    times: ArrayLike | None = None,
    recorders: Sequence[Recorder] | None = None,
    kmax: int | None = None,
    key: jax.Array | None = None,
    callback: Callable[[int, int], None] | None = None,
    mesh: Mesh | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
) -> Run:
    """Train ``apply`` on ``(X, y)`` with any optimizer and loss, recording what the recorders ask.

    Args:
      apply: pure ``apply(params, X) -> (n,)`` or ``(n, 1)`` model outputs.
      params: pytree of arrays (not modified: training works on a copy).
      X: inputs ``(n, ...)``, any shape the model takes (rows = samples); on the unit sphere
        only for a Sobolev loss or per-degree recorders.
      y: targets ``(n,)``.
      optimizer: an :class:`~ntkspec.optimizers.Optimizer` (``gd``, ``momentum``, ``nesterov``,
        ``sgd``, ``adam``) or any optax ``GradientTransformation``.
      steps: number of steps (>= 0).
      loss: a :class:`~ntkspec.losses.Loss` (default ``mse()``).
      record_every: record (and call ``callback``) every this many steps (default 1); ``steps``
        is always recorded. Each chunk between two records is one ``lax.scan``.
      times: alternatively, the exact steps to record (strictly increasing integers in
        [0, steps]; 0 and ``steps`` are always recorded). Each distinct gap between records
        compiles its own chunk, so prefer few distinct gaps.
      recorders: what to record (default ``(record_loss(), record_residual())``).
      kmax: the highest degree of a ``sobolev(s)`` loss without its own kmax.
      key: a JAX PRNG key, required by ``sgd`` (and refused otherwise).
      callback: ``callback(step, total)`` called on the host after each chunk.
      mesh: a ``jax.sharding.Mesh``; rows of X, y and the loss data are sharded over its first
        axis (n divisible by its size), params and held-out data replicated.
      checkpoint, checkpoint_every: as in :func:`train`.

    Returns:
      A :class:`Run` (params, times, ``records`` by recorder name, diverged).
    """
    if not callable(apply):
        raise TypeError(f"Expected apply to be callable; got {type(apply).__name__}.")
    steps, record_every, times, checkpoint, checkpoint_every = _check_run_args(
        steps, record_every, times, callback, checkpoint, checkpoint_every, mesh
    )
    loss = mse() if loss is None else loss
    if not isinstance(loss, Loss):
        raise TypeError(f"Expected loss to be an ntkspec.losses.Loss; got {type(loss).__name__}.")
    recorders = (record_loss(), record_residual()) if recorders is None else tuple(recorders)
    for rec in recorders:
        if not isinstance(rec, Recorder):
            raise TypeError(f"Expected Recorder values (record_*); got {type(rec).__name__}.")
    Xa, ya = _check_pair(X, y, "training")
    for rec in recorders:
        if rec.rows is not None and rec.rows != Xa.shape[0]:
            raise ValueError(
                f"Expected the recorder {rec.name!r} to be built for the {Xa.shape[0]} training "
                f"points; it was built for {rec.rows}."
            )
    Xj = jnp.asarray(X)
    dtype = Xj.dtype if jnp.issubdtype(Xj.dtype, jnp.floating) else jnp.asarray(1.0).dtype
    objective = loss.bind(Xa, kmax=kmax, dtype=dtype)
    tests = tuple((jnp.asarray(r.data[0]), jnp.asarray(r.data[1], dtype)) for r in recorders
                  if r.stream == "test")  # fmt: skip
    args = (steps, record_every, times, callback, checkpoint, checkpoint_every, mesh)
    params, history = _train_core(
        apply, params, Xj, jnp.asarray(ya, dtype=dtype), loss, objective, optimizer, None, key,
        tests, args, ("fit", loss.to_dict()),
    )  # fmt: skip
    return Run(params, np.asarray(history.times, dtype=np.int64),
               _finish(recorders, history), history.diverged)  # fmt: skip


def _finish(recorders, history: _History) -> dict:
    records = history.to_records()
    out, t = {}, 0
    for rec in recorders:
        if rec.stream == "test":
            stacked, t = records[f"test_{t}"], t + 1
        else:
            stacked = records[rec.stream]
        out[rec.name] = rec.finish(records["times"], stacked)
    return out


def train(
    apply: Callable[[Any, jax.Array], jax.Array],
    params: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | None = None,
    steps: int,
    record_every: int | None = None,
    times: ArrayLike | None = None,
    kmax: int,
    loss: str | Loss = "mse",
    weights: ArrayLike | None = None,
    sobolev: ArrayLike | None = None,
    optimizer: Any = None,
    key: jax.Array | None = None,
    callback: Callable[[int, int], None] | None = None,
    mesh: Mesh | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
) -> tuple[Any, TrainRecord]:
    """Train on points of the sphere, recording the residual per degree (see :func:`fit`).

    Args:
      apply: pure ``apply(params, X) -> (n,)`` or ``(n, 1)`` model outputs.
      params: pytree of arrays (not modified: training works on a copy).
      X: points ``(n, d)`` on the unit sphere.
      y: targets ``(n,)``.
      lr: GD step η > 0; required without ``optimizer`` and must be ``None`` with one.
      steps: number of steps (>= 0).
      record_every, times: when to record, as in :func:`fit` (default: every step).
      kmax: highest degree of the recorded energies (and of a ``sobolev(s)`` loss value).
      loss: a :class:`~ntkspec.losses.Loss`, or ``"mse"`` (``(1/2n) Σ r²``), ``"weighted"``
        (``(1/2) Σ c_i r_i²``, needs ``weights``) or ``"sobolev"`` (``(1/2) rᵀ S r``, needs
        ``sobolev``).
      weights: quadrature weights c ``(n,)`` summing to 1; also used for the recorded energies.
      sobolev: the matrix S ``(n, n)`` of :func:`ntkspec.losses.sobolev_matrix`.
      optimizer: an :class:`~ntkspec.optimizers.Optimizer` or an optax
        ``GradientTransformation`` used instead of plain GD (its learning rate is its own;
        pass ``lr=None``).
      key: PRNG key for ``optimizers.sgd``.
      callback, mesh: as in :func:`fit` (rows of X, y, weights and S are sharded).
      checkpoint: path of a ``.npz`` checkpoint (:mod:`ntkspec.checkpoint`). If it exists and
        matches this run, training continues from it; if it belongs to another run,
        ``ValueError``. It is rewritten every ``checkpoint_every`` steps (rounded up to a
        multiple of ``record_every``; default about 20 per run), on divergence and at the end
        (a finished checkpoint makes a repeated call return at once).

    Returns:
      ``(params, record)``: the trained params (at the last record if the run diverged) and a
      :class:`TrainRecord`.
    """
    if not callable(apply):
        raise TypeError(f"Expected apply to be callable; got {type(apply).__name__}.")
    Xn = check_points(X)
    n = Xn.shape[0]
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    steps, record_every, times, checkpoint, checkpoint_every = _check_run_args(
        steps, record_every, times, callback, checkpoint, checkpoint_every, mesh
    )
    name, value = sample_loss(loss, n, weights=weights, sobolev=sobolev)
    if weights is not None:
        weights = check_weights(weights, n)  # the string API's rule (Loss values need sum 1)
    elif value.kind == "weighted":
        weights = value.weights
    Xj = jnp.asarray(X)
    dtype = Xj.dtype
    yv = as_real_array("targets y", y)
    if yv.shape != (n,) or not np.isfinite(yv).all():
        raise ValueError(f"Expected finite targets y of shape ({n},); got shape {yv.shape}.")
    yj = jnp.asarray(yv, dtype=dtype)
    objective = value.bind(Xn, kmax=kmax, dtype=dtype)
    args = (steps, record_every, times, callback, checkpoint, checkpoint_every, mesh)
    params, history = _train_core(
        apply, params, Xj, yj, value, objective, optimizer, lr, key, (), args, (name,)
    )
    return params, _record(history, X, kmax, weights, name, lr, optimizer)


def _record(history: _History, X, kmax, weights, name, lr, optimizer) -> TrainRecord:
    """The :class:`TrainRecord` of a finished history (per-degree energies on the host)."""
    R = np.stack(history.residual)
    if optimizer is None:
        lr = float(lr)
    else:
        lr = float(optimizer.lr) if isinstance(optimizer, Optimizer) else np.nan
    return TrainRecord(
        times=np.asarray(history.times, dtype=np.int64),
        loss=np.asarray(history.loss, dtype=np.float64),
        residual=R,
        energies=degree_energy(np.asarray(X), R.T, kmax, weights=weights),
        degrees=np.arange(kmax + 1, dtype=np.int64),
        diverged=history.diverged,
        objective=name,
        lr=lr,
        meta={"optimizer": optimizer.to_dict()} if isinstance(optimizer, Optimizer) else {},
    )
