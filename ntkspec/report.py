"""Write a :class:`~ntkspec.compare.Comparison` to a directory: metrics, summary and figures.

Files (all written atomically): ``metrics.json`` (the numbers), ``run.json`` (resolved config,
versions, devices, status), ``report.md`` (human summary with the figures inlined),
``spectrum.png``, ``decay.png`` and ``heatmap.png``.

Only ``metrics.json``, ``report.md`` and ``run.json`` are essential: a figure or the spectrum
fit that cannot be made (e.g. a spectrum with fewer than two resolvable degrees to fit) is
reported as "not available" with its reason in ``report.md``, never an error after training.
``run.json`` and its statuses belong to :mod:`ntkspec.rundir` (re-exported here).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ntkspec._io import atomic_write_json, atomic_write_text
from ntkspec.compare import Comparison
from ntkspec.experiments.metrics import COMPARE_FLOOR, MIN_COMPARED_RECORDS
from ntkspec.experiments.summary import (
    heatmap_figure,
    optional_figure,
    save_figure,
    spectrum_figure,
)
from ntkspec.rundir import check_output_dir, run_info, running

__all__ = [
    "write_report",
    "summary_table",
    "decay_figure",
    "run_info",
    "running",
    "check_output_dir",
]


def summary_table(c: Comparison) -> str:
    """Markdown table of the per-degree agreement.

    "records" is the number of records after step 0 where the operator prediction is at least
    the comparison floor; a max error shows "—" where a prediction was compared on fewer than
    two (no comparison happened), a half-time "—" where it is not reached/resolvable.
    Degrees that cannot be learned (λ_k = 0 within error) are marked † .
    """

    def f(x, fmt):
        return "—" if not np.isfinite(x) else format(x, fmt)

    lines = [
        "| k | λ_k | records | half-time measured | half-time predicted | ratio "
        "| max err (operator) | max err (∞ Gram) | max err (emp. NTK) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lam = c.spectrum.eigenvalues[c.degrees]
    for i, k in enumerate(c.degrees):
        mark = "" if c.learnable[i] else " †"
        lines.append(
            f"| {k}{mark} | {lam[i]:.4g} | {int(c.compared_records[i])} | "
            f"{f(c.half_time[i], '.1f')} | {f(c.half_time_predicted[i], '.1f')} | "
            f"{f(c.half_time_ratio[i], '.3f')} | {f(c.max_abs_error[i], '.4f')} | "
            f"{f(c.max_abs_error_gram[i], '.4f')} | {f(c.max_abs_error_empirical[i], '.4f')} |"
        )
    if not c.learnable.all():
        bad = [int(k) for k, ok in zip(c.degrees, c.learnable, strict=True) if not ok]
        lines.append("")
        lines.append(
            f"† cannot be learned: λ_k = 0 within error for degree(s) {bad} (trained anyway, "
            "allow_unlearnable); their residual is not expected to decay."
        )
    return "\n".join(lines)


#: Line styles of the decay figure, shared by the lines and the legend.
_STYLES = {
    "measured (GD)": dict(ls="-", lw=2.0),
    "operator (1−ηλ_k)^t": dict(ls="--", lw=1.0),
    "∞-width Gram": dict(ls="-.", lw=1.0),
    "empirical NTK at init": dict(ls=":", lw=1.2),
}


def decay_figure(c: Comparison, path: str | os.PathLike | None = None):
    """Per-degree residual decay: measured and the three predictions, one colour per degree.

    Line styles: measured (GD) solid, operator ``|1 − ηλ_k|^t`` dashed, infinite-width Gram
    dash-dotted, empirical NTK at initialization dotted; the comparison floor 0.05 is a grey
    line. The legend names every colour (degree, "cannot be learned" where λ_k = 0) and
    every style. Returns the matplotlib Figure (also written as PNG to ``path`` if given).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(7.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    series = (c.measured, c.predicted, c.predicted_gram, c.predicted_empirical)
    handles = []
    for i, k in enumerate(c.degrees):
        color = f"C{i % 10}"
        for curve, style in zip(series, _STYLES.values(), strict=True):
            y = np.where(curve[:, i] > 0, curve[:, i], np.nan)
            ax.plot(c.times, y, color=color, **style)
        label = f"k = {k}" + ("" if c.learnable[i] else " (cannot be learned)")
        handles.append(Line2D([], [], color=color, lw=2, label=label))
    handles += [Line2D([], [], color="0.3", label=name, **st) for name, st in _STYLES.items()]
    ax.axhline(COMPARE_FLOOR, color="0.5", lw=0.8)
    handles.append(Line2D([], [], color="0.5", lw=0.8, label=f"comparison floor {COMPARE_FLOOR:g}"))
    ax.text(1.0, COMPARE_FLOOR, f"comparison floor {COMPARE_FLOOR:g} ", color="0.4", fontsize=7,
            ha="right", va="bottom", transform=ax.get_yaxis_transform())  # fmt: skip
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, max(1, int(c.times[-1])))
    ax.set_ylim(1e-3, 1.5)
    ax.set_xlabel("GD step t")
    ax.set_ylabel("‖Π_k r_t‖ / ‖Π_k r_0‖")
    ax.set_title("per-degree residual: measured vs NTK predictions", fontsize=9)
    ax.legend(handles=handles, fontsize=7, ncol=2, loc="lower left")
    if path is not None:
        save_figure(fig, path)
    return fig


def _heatmap_figure(c: Comparison, path: Path) -> None:
    title = "NTK prediction: 1 − |1 − ηλ_k|^t"
    heatmap_figure(c.times, c.degrees, c.measured, c.predicted, path, predicted_title=title)


def _spectrum_figure(c: Comparison, path: Path) -> str:
    """The kernel's spectrum with its decay fit; returns the fit's line for report.md."""
    cfg = c.config  # compare's spectrum, to k >= 64: nothing is recomputed here
    label = f"NTK, depth {cfg.depth}, {cfg.activation}, S^{cfg.dim - 1}"
    return spectrum_figure(c.spectrum, label, path)


def write_report(c: Comparison, out: str | os.PathLike) -> dict[str, Path]:
    """Write metrics, run description, figures and ``report.md`` into ``out``.

    ``metrics.json`` is written first. A figure (or the spectrum fit) that cannot be made is
    left out, and ``report.md`` says "not available" with the reason; only OS errors (an
    unwritable directory) raise.

    Returns:
      A dict of the written paths (figures that are not available are absent).
    """
    out = Path(out)
    cfg = c.config
    paths = {name: out / name for name in ("metrics.json", "run.json", "report.md")}
    atomic_write_json(paths["metrics.json"], c.to_dict())
    notes, fit_line, figures = [], "", []
    for name, make in (
        ("spectrum.png", _spectrum_figure),
        ("decay.png", decay_figure),
        ("heatmap.png", _heatmap_figure),
    ):
        ok, text = optional_figure(lambda path, make=make: make(c, path), out / name)
        if ok:
            paths[name] = out / name
            figures.append(f"![{name[:-4]}]({name})")
            fit_line = text if name == "spectrum.png" else fit_line
        else:
            notes.append(text)
    if "spectrum.png" not in paths:
        fit_line = "Spectrum decay fit: not available (see below)."
    status = "diverged" if c.diverged else "done"
    unavailable = "\n".join(f"- {n}" for n in notes)
    text = f"""# ntkspec compare: theory vs practice

Configuration: d = {cfg.dim} (S^{cfg.dim - 1}), {cfg.n} {cfg.sampling} points, {cfg.activation}
MLP with {cfg.depth} hidden layer(s) of width {cfg.width} (NTK parametrization, centered),
target degrees {list(cfg.degrees)} with amplitudes {list(cfg.amplitudes)}, full-batch GD with
η = {c.lr:.4g} ({c.lr / c.lr_limit:.2f} of the stability limit 2/λ_max = {c.lr_limit:.4g}),
{cfg.steps} steps recorded at {len(c.times)} log-spaced-then-uniform steps, seed {cfg.seed}.
Status: **{status}**.

Kernel drift ‖K_T − K_0‖/‖K_0‖ = {c.kernel_drift:.4f}; empirical NTK at init vs infinite width:
‖K_0 − K_∞‖/‖K_∞‖ = {c.init_kernel_error:.4f}. {fit_line}

{summary_table(c)}

Errors are the max over recorded steps (while the prediction is ≥ {COMPARE_FLOOR}) of the
absolute difference of normalized per-degree residuals ‖Π_k r_t‖/‖Π_k r_0‖; "records" counts
those steps (after step 0) for the operator, and an error shows "—" when fewer than
{MIN_COMPARED_RECORDS} records were compared. *Operator* is the infinite-width Funk–Hecke
prediction |1 − ηλ_k|^t; *∞ Gram* the infinite-width kernel on the sample; *emp. NTK* the
network's own NTK at initialization. Low degrees are learned first (half-times grow like
1/λ_k). At finite width the kernel differs from its limit by ~1/√width and drifts during
training, which hurts high degrees (small λ_k) most; the empirical-NTK column isolates the
drift.

{(chr(10) * 2).join(figures)}
{"" if not notes else chr(10) + "Not available:" + chr(10) + chr(10) + unavailable + chr(10)}"""
    atomic_write_text(paths["report.md"], text)
    atomic_write_json(paths["run.json"], run_info(cfg.to_dict(), status))
    return paths
