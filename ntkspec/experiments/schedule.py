"""When an experiment records its per-degree residuals: log-spaced early, then uniformly.

The record schedule of :func:`ntkspec.experiments.compare` (and of ``ntkspec compare``).
"""

from __future__ import annotations

import numpy as np

from ntkspec._validate import check_int

__all__ = ["record_schedule"]


def record_schedule(steps: int, record_every: int) -> np.ndarray:
    """The steps an experiment records: log-spaced early, then every ``record_every``.

    ``0, 1, 2, 3, 4, 6, 8, 12, 16, …`` (two per octave, ``2^j`` and ``3·2^(j-1)``) below
    ``record_every``, then the multiples of ``record_every``, then ``steps``. A degree whose
    residual halves every h steps thus gets records from t ≈ h on, whatever h is, while the
    gaps between early records (the compiled chunk lengths of
    :func:`ntkspec.train.train`) are only powers of two.

    Returns:
      int64 ``(T,)``, strictly increasing, from 0 to ``steps``.

    >>> record_schedule(40, 10).tolist()
    [0, 1, 2, 3, 4, 6, 8, 10, 20, 30, 40]
    """
    steps = check_int("steps", steps, minimum=0)
    record_every = check_int("record_every", record_every, minimum=1)
    limit = min(record_every, steps + 1)
    early = {1} | {m << j for j in range(limit.bit_length()) for m in (2, 3)}
    times = [0, *sorted(t for t in early if t < limit)]
    times += range(record_every, steps, record_every)
    if times[-1] != steps:
        times.append(steps)
    return np.asarray(times, dtype=np.int64)
