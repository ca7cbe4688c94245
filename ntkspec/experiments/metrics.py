"""Agreement between a measured and a predicted per-degree curve (docs/theory.md §6.6).

A degree is compared only on records after step 0 whose predicted factor is at least
:data:`COMPARE_FLOOR` (below it relative errors are dominated by what is left of the other
degrees and by float32 training noise), and only if there are at least
:data:`MIN_COMPARED_RECORDS` such records; otherwise its error is NaN ("not compared").
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COMPARE_FLOOR",
    "MIN_COMPARED_RECORDS",
    "compared_records",
    "half_time_ratio",
    "max_abs_error",
]

#: Compare a degree only while its predicted residual factor is at least this.
COMPARE_FLOOR = 0.05
#: A degree's max error is reported only if compared on at least this many records after 0.
MIN_COMPARED_RECORDS = 2


def compared_records(times: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per degree, the records after step 0 with ``predicted >= COMPARE_FLOOR``: int64 ``(K,)``.

    >>> compared_records(np.array([0, 1, 2]), np.array([[1.0], [0.5], [0.01]])).tolist()
    [1]
    """
    keep = (predicted >= COMPARE_FLOOR) & (np.asarray(times)[:, None] > 0)
    return keep.sum(axis=0).astype(np.int64)


def max_abs_error(times, measured, predicted) -> np.ndarray:
    """Max ``|measured − predicted|`` over the compared records, float64 ``(K,)`` (NaN: too few).

    A NaN measurement on a compared record counts as an infinite error (never as agreement).
    """
    mask = predicted >= COMPARE_FLOOR
    gap = np.where(mask, np.abs(np.nan_to_num(measured - predicted, nan=np.inf)), 0.0)
    few = compared_records(times, predicted) < MIN_COMPARED_RECORDS
    return np.where(few, np.nan, gap.max(axis=0))


def half_time_ratio(times, measured, predicted) -> np.ndarray:
    """``measured / predicted`` half-times where both are finite and resolved, else NaN.

    Log-linear interpolation between records resolves a half-time h when at least two
    records after step 0 lie within ``2h``.

    >>> half_time_ratio(np.arange(0, 40), np.array([12.0]), np.array([10.0])).tolist()
    [1.2]
    """
    t = np.asarray(times)[:, None]
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    resolved = (
        np.isfinite(measured)
        & np.isfinite(predicted)
        & (predicted > 0)
        & (((t > 0) & (t <= 2 * predicted)).sum(axis=0) >= 2)
    )
    ratio = np.full(measured.shape, np.nan)
    ratio[resolved] = measured[resolved] / predicted[resolved]
    return ratio
