"""One result type for per-degree curves ``‖Π_k r_t‖``, measured or predicted.

A :class:`DegreeCurves` holds the residual norm of each spherical-harmonic degree k at recorded
steps t (L²(σ) norms, σ the normalized uniform measure, as :func:`ntkspec.sphere.degree_energy`
estimates them), the norms at t = 0, where they came from (``source``) and free-form JSON
metadata. Predictions (:class:`ntkspec.dynamics.Prediction`) and training records
(:class:`ntkspec.train.TrainRecord`) are subclasses, so every consumer (plots, metrics,
``steps_to_fraction``) reads one shape.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from ntkspec._io import atomic_savez, atomic_write_json, json_floats
from ntkspec._validate import check_positive
from ntkspec.spectrum import load_fields

__all__ = ["DegreeCurves", "steps_to_fraction", "check_fraction", "load_entries"]


def check_fraction(fraction) -> float:
    """``fraction`` as a float in (0, 1), else ``ValueError``."""
    f = check_positive("fraction", fraction)
    if not f < 1.0:
        raise ValueError(f"Expected fraction in (0, 1); got {fraction!r}.")
    return f


def load_entries(path: str | os.PathLike) -> dict:
    """Entries of a file written by a result's ``save`` (``ValueError`` naming a missing one)."""
    return load_fields(Path(path))


def steps_to_fraction(times, norms, initial, fraction: float) -> np.ndarray:
    """Per degree, the first time t with ``norms[t, k] <= fraction × initial[k]``.

    Between two records the crossing is interpolated linearly in ``log(norm)`` (exact for a
    geometric decay), so the result is a float. ``inf`` where the threshold is never reached
    within the records, ``NaN`` where the initial norm is 0 (nothing to fit). A record at t = 0
    is taken from ``initial`` when ``times`` does not start at 0.

    Args:
      times: ``(T,)`` increasing record times.
      norms: ``(T, K)`` norms at those times.
      initial: ``(K,)`` norms at t = 0.
      fraction: in (0, 1).

    Returns:
      float64 ``(K,)``.

    >>> steps_to_fraction([0, 1, 2], [[1.0], [0.5], [0.25]], [1.0], 0.5).tolist()
    [1.0]
    """
    fraction = check_fraction(fraction)
    t = np.asarray(times, dtype=np.float64)
    N = np.asarray(norms, dtype=np.float64)
    init = np.asarray(initial, dtype=np.float64)
    if t.size == 0 or t[0] != 0:
        t = np.concatenate([[0.0], t])
        N = np.concatenate([init[None, :], N], axis=0)
    out = np.full(init.shape, np.inf)
    thr = fraction * init
    for k in range(init.shape[0]):
        if not init[k] > 0:
            out[k] = np.nan
            continue
        below = np.flatnonzero(N[:, k] <= thr[k])
        if below.size == 0:
            continue
        j = int(below[0])
        if j == 0:  # only when a record at t = 0 disagrees with `initial`
            out[k] = t[0]
        elif N[j, k] == 0.0:
            out[k] = t[j]
        else:
            la, lb = np.log(N[j - 1, k]), np.log(N[j, k])
            out[k] = t[j - 1] + (np.log(thr[k]) - la) / (lb - la) * (t[j] - t[j - 1])
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class DegreeCurves:
    """Per-degree residual norms ``‖Π_k r_t‖_{L²(σ)}`` at recorded times.

    Attributes:
      times: int64 ``(T,)`` record times (steps; for gradient flow the flow time is η·t).
      degrees: int64 ``(K,)``.
      norms: float64 ``(T, K)``.
      initial: float64 ``(K,)``, the norms at t = 0 (whether or not 0 is in ``times``).
      source: where the curves come from, e.g. ``"measured"``, ``"spectrum"``, ``"gram"``.
      label: a free label (for legends).
      meta: JSON-ready metadata (optimizer, loss, …).
    """

    times: np.ndarray
    degrees: np.ndarray
    norms: np.ndarray
    initial: np.ndarray
    source: str = "measured"
    label: str = ""
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        T, K = np.shape(self.times), np.shape(self.degrees)
        if len(T) != 1 or len(K) != 1 or np.shape(self.norms) != (*T, *K):
            raise ValueError(
                f"Expected times (T,), degrees (K,) and norms (T, K); got {T}, {K} and "
                f"{np.shape(self.norms)}."
            )
        if np.shape(self.initial) != K:
            raise ValueError(f"Expected initial of shape {K}; got {np.shape(self.initial)}.")

    def normalized(self) -> np.ndarray:
        """``norms / initial`` ``(T, K)``; NaN for degrees whose initial norm is 0."""
        init = np.asarray(self.initial, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(init > 0, self.norms / np.where(init > 0, init, 1.0), np.nan)

    def steps_to_fraction(self, fraction: float) -> np.ndarray:
        """For each degree, the first time its norm is ``<= fraction × initial``.

        See :func:`steps_to_fraction` (log-linear interpolation; inf = never, NaN = nothing
        to fit). Returns float64 ``(K,)``.
        """
        return steps_to_fraction(self.times, self.norms, self.initial, fraction)

    def to_curves(self) -> DegreeCurves:
        """The plain :class:`DegreeCurves` view (drops a subclass' extra fields into ``meta``)."""
        return DegreeCurves(
            times=np.asarray(self.times),
            degrees=np.asarray(self.degrees),
            norms=np.asarray(self.norms),
            initial=np.asarray(self.initial),
            source=self.source,
            label=self.label,
            meta=dict(self.meta),
        )

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite floats as the strings ``"inf"``/``"nan"``)."""
        return {
            "times": [int(t) for t in self.times],
            "degrees": [int(k) for k in self.degrees],
            "norms": json_floats(self.norms),
            "initial": json_floats(self.initial),
            "source": self.source,
            "label": self.label,
            "meta": self.meta,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as ``.json`` (default) or ``.npz`` (by the suffix)."""
        path = Path(path)
        if path.suffix == ".npz":
            d = self.to_dict()
            arrays = {k: np.asarray(getattr(self, k)) for k in ("times", "degrees", "norms")}
            arrays["initial"] = np.asarray(self.initial)
            for k in ("source", "label"):
                arrays[k] = np.asarray(d[k])
            arrays["meta"] = np.asarray(json.dumps(d["meta"]))
            return atomic_savez(path, **arrays)
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> DegreeCurves:
        """Read a file written by :meth:`save` (``ValueError`` if it is not one)."""
        d = load_entries(path)
        try:
            T, K = len(d["times"]), len(d["degrees"])
            meta = d.get("meta", {})
            if not isinstance(meta, dict):
                meta = json.loads(str(meta))
            return DegreeCurves(
                times=np.asarray(d["times"], dtype=np.int64),
                degrees=np.asarray(d["degrees"], dtype=np.int64),
                norms=np.asarray(d["norms"], dtype=np.float64).reshape(T, K),
                initial=np.asarray(d["initial"], dtype=np.float64),
                source=str(d["source"]),
                label=str(d.get("label", "")),
                meta=meta,
            )
        except (ValueError, TypeError) as e:
            raise ValueError(f"Cannot load DegreeCurves from {path}: {e}") from None
