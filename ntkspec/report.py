"""Write an :class:`~ntkspec.experiments.compare.Experiment` to a directory: numbers and figures.

Files (all written atomically): ``metrics.json`` (:meth:`Experiment.to_dict`), ``report.md``
(the setting, the per-degree table of :func:`~ntkspec.experiments.summary.format_experiment`,
what the columns mean, the figures inlined), ``spectrum.png``, ``decay.png`` and
``heatmap.png``.

Only ``metrics.json`` and ``report.md`` are essential: a figure or the spectrum fit that cannot
be made (no infinite-width kernel, no linear prediction, fewer than two resolvable degrees to
fit) is reported as "not available" with its reason in ``report.md``, never an error after
training. ``run.json`` and its statuses belong to :mod:`ntkspec.rundir`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ntkspec._io import atomic_write_json, atomic_write_text
from ntkspec.experiments.metrics import COMPARE_FLOOR, MIN_COMPARED_RECORDS
from ntkspec.experiments.summary import format_experiment, write_figures

__all__ = ["write_report"]

_COLUMNS = f"""Per degree k: "t1/2 meas" is the measured half-time (steps until ‖Π_k r_t‖ is half
of ‖Π_k r_0‖, log-interpolated between records; "never" if not reached); per prediction,
"rec" counts the records after step 0 where the prediction is ≥ {COMPARE_FLOOR:g}, "err" is
the max over them of the absolute difference of the normalized residuals ‖Π_k r_t‖/‖Π_k r_0‖
("—" when fewer than {MIN_COMPARED_RECORDS} records were compared) and "ratio" is measured /
predicted half-time ("—" where not resolved). *operator* is the infinite-width Funk–Hecke
prediction for this loss and optimizer; *gram* the infinite-width kernel on the sample;
*empirical* the network's own NTK at initialization. Low degrees are learned first
(half-times grow like 1/λ_k). At finite width the kernel differs from its limit by
~1/√width and drifts during training, which hurts high degrees (small λ_k) most; the
empirical-NTK columns isolate the drift."""


def write_report(exp, out: str | os.PathLike) -> dict[str, Path]:
    """Write ``metrics.json``, the figures and ``report.md`` of ``exp`` into ``out``.

    ``metrics.json`` is written first. A figure (or the spectrum fit) that cannot be made is
    left out and ``report.md`` says "not available" with the reason; only OS errors (an
    unwritable directory) raise.

    Returns:
      The written paths by file name (figures that are not available are absent).
    """
    out = Path(out)
    paths = {"metrics.json": out / "metrics.json", "report.md": out / "report.md"}
    atomic_write_json(paths["metrics.json"], exp.to_dict())
    figures = write_figures(exp, out)
    for name in ("spectrum.png", "decay.png", "heatmap.png"):
        if any(line.endswith(f"]({name})") for line in figures):
            paths[name] = out / name
    status = "diverged" if exp.diverged else "done"
    s = exp.setting
    lr = f"Step η = {s.lr:.4g}"
    if s.lr_limit == s.lr_limit:  # a linear optimizer: its stability limit is known
        lr += f" ({s.lr / s.lr_limit:.2f} of the stability limit {s.lr_limit:.4g})"
    init = exp.init_kernel_error
    init = f"{init:.4f}" if init == init else "— (no infinite-width kernel)"
    text = "\n".join([
        "# ntkspec compare: theory vs practice", "",
        f"Status: **{status}**. {lr}; kernel drift ‖K_T − K_0‖/‖K_0‖ = "
        f"{exp.kernel_drift:.4f}; empirical NTK at init vs infinite width "
        f"‖K_0 − K_∞‖/‖K_∞‖ = {init}.", "",
        "```text", format_experiment(exp), "```", "", _COLUMNS, "", *figures, "",
    ])  # fmt: skip
    atomic_write_text(paths["report.md"], text)
    return paths
