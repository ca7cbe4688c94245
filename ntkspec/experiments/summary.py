"""Plain-text summary of an :class:`~ntkspec.experiments.compare.Experiment` (formatting only).

Nothing is computed here beyond formatting what :func:`~ntkspec.experiments.compare` returned:
no kernel, spectrum or prediction is rebuilt.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "decay_figure",
    "format_experiment",
    "heatmap_figure",
    "optional_figure",
    "save_figure",
    "spectrum_figure",
    "write_figures",
]

#: Line style per curve name (measured solid; predictions dashed/dotted).
STYLES = {
    "measured": {"ls": "-", "lw": 2.0},
    "operator": {"ls": "--", "lw": 1.0},
    "operator_mse": {"ls": (0, (5, 1, 1, 1)), "lw": 0.8},
    "gram": {"ls": "-.", "lw": 1.0},
    "gram_mse": {"ls": (0, (1, 2)), "lw": 0.8},
    "empirical": {"ls": ":", "lw": 1.3},
}


def _num(x: float, fmt: str = ".3g") -> str:
    x = float(x)
    if np.isnan(x):
        return "—"
    if np.isinf(x):
        return "never" if x > 0 else "-inf"
    return format(x, fmt)


def _header(exp) -> list[str]:
    c, s = exp.config, exp.setting
    opt = ", ".join(f"{k}={v}" for k, v in s.optimizer.to_dict().items() if k != "name")
    loss = ", ".join(f"{k}={v}" for k, v in s.loss.to_dict().items() if k != "kind")
    data = f"n={c.data.n} on S^{c.data.dim - 1}, {c.data.distribution}"
    return [
        f"model:     {exp.model}",
        f"data:      {data}; target degrees {list(map(int, exp.degrees))}",
        f"loss:      {s.loss.kind}"
        + (f" ({loss})" if loss else "")
        + (f", weights {c.loss.weights}" if c.loss.weights else ""),
        f"optimizer: {s.optimizer.name} ({opt}); stability limit {_num(s.lr_limit)} "
        f"on the {s.reference} NTK",
        f"steps:     {c.run.steps}; diverged: {exp.diverged}; kernel drift "
        f"{_num(exp.kernel_drift)}; init kernel error {_num(exp.init_kernel_error)}",
    ]


def format_experiment(exp) -> str:
    """The report of one experiment: setting, per-degree table, absent predictions, notes.

    Per degree: λ_k (if a kernel is known), the measured half-time and, per prediction, the
    records compared (after step 0, prediction >= the floor), the max |measured − predicted|
    over them and the half-time ratio measured / predicted ("—": fewer than
    ``MIN_COMPARED_RECORDS`` records / not resolved; † marks a degree trained with
    ``run.allow_unlearnable``, explained below the table).
    """
    ag, names = exp.agreement, list(exp.predictions.curves)
    lines = _header(exp)
    cols = ["k", "lambda_k", "t1/2 meas"]
    for name in names:
        cols += [f"rec {name}", f"err {name}", f"ratio {name}"]
    rows = [cols]
    for i, k in enumerate(exp.degrees):
        lam = "—" if exp.spectrum is None else _num(exp.spectrum.eigenvalues[k])
        row = [f"{int(k)}{'' if exp.learnable[i] else '†'}", lam, _num(ag.half_time[i], ".1f")]
        for name in names:
            row += [
                str(int(ag.compared_records[name][i])),
                _num(ag.max_abs_error[name][i], ".3f"),
                _num(ag.half_time_ratio[name][i], ".2f"),
            ]
        rows.append(row)
    widths = [max(len(r[j]) for r in rows) for j in range(len(cols))]
    lines.append("")
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if not np.all(exp.learnable):
        bad = [int(k) for k, ok in zip(exp.degrees, exp.learnable, strict=True) if not ok]
        lines.append(
            f"† cannot be learned: lambda_k = 0 within error for degree(s) {bad} (trained "
            "anyway, run.allow_unlearnable); their residual is not expected to decay."
        )
    for name, why in exp.predictions.absent.items():
        lines.append(f"no {name} prediction: {why}")
    lines += [f"note: {n}" for n in exp.notes]
    return "\n".join(lines)


def decay_figure(exp, path=None):
    """Per-degree ``‖Π_k r_t‖ / ‖Π_k r_0‖``: measured and every prediction, one colour per degree.

    Line styles by curve (:data:`STYLES`): measured solid, ``operator`` dashed, ``gram``
    dash-dotted, ``empirical`` dotted, the plain-loss ones thinner; the comparison floor is a
    grey line. The legend names every colour (the degree, "cannot be learned" where
    λ_k = 0), every style and the floor. Returns the matplotlib Figure (also written as PNG
    to ``path`` if given).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ntkspec.experiments.metrics import COMPARE_FLOOR

    fig = Figure(figsize=(7.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    curves = {"measured": exp.measured, **exp.predictions.curves}
    top = 1.5
    for i in range(len(exp.degrees)):
        for name, c in curves.items():
            y = c.normalized()[:, i]
            ok = np.isfinite(y) & (y > 0)
            top = max(top, 1.5 * float(y[ok].max(initial=0.0)))
            ax.plot(c.times, np.where(ok, y, np.nan), color=f"C{i % 10}", **STYLES[name])
    handles = [Line2D([], [], color=f"C{i % 10}", lw=2, label=f"k = {int(k)}" + (
                   "" if exp.learnable[i] else " (cannot be learned)"))
               for i, k in enumerate(exp.degrees)]  # fmt: skip
    handles += [Line2D([], [], color="0.3", label=name, **STYLES[name]) for name in curves]
    floor = f"comparison floor {COMPARE_FLOOR:g}"
    # A reference, not a curve: a collection, so ``ax.lines`` holds exactly the curves.
    ax.hlines(COMPARE_FLOOR, 0, 1, transform=ax.get_yaxis_transform(), color="0.5", lw=0.8)
    handles.append(Line2D([], [], color="0.5", lw=0.8, label=floor))
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, max(1, int(exp.measured.times[-1])))
    ax.set_ylim(1e-3, top)  # below 1e-3: float32 noise; above 1 only if something grows
    ax.set_xlabel(f"{exp.setting.optimizer.name} step t")
    ax.set_ylabel("‖Π_k r_t‖ / ‖Π_k r_0‖")
    ax.set_title("per-degree residual: measured vs NTK predictions", fontsize=9)
    ax.legend(handles=handles, fontsize=7, ncol=2, loc="lower left")
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path) -> None:
    """Write a matplotlib Figure atomically as PNG (dpi 110)."""
    import io
    from pathlib import Path

    from ntkspec._io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(Path(path), buf.getvalue())


def optional_figure(make, path) -> tuple[bool, str]:
    """Run ``make(path)`` for an optional output: ``(ok, text)``, never raising but OS errors.

    ``text`` is what ``make`` returned if it is a string (e.g. a fit line), else ``""``; on
    failure the figure is removed (no stale file) and ``text`` is
    ``"<name>: not available (<reason>)."``.
    """
    from pathlib import Path

    path = Path(path)
    try:
        text = make(path)
        return True, text if isinstance(text, str) else ""
    except OSError:
        raise
    except Exception as e:  # an optional output must never fail a finished run
        path.unlink(missing_ok=True)
        reason = " ".join(str(e).split()) or type(e).__name__
        return False, f"{path.name}: not available ({reason})."


def spectrum_figure(spec, label: str, path) -> str:
    """The kernel's spectrum with its decay fit (as ``ntkspec spectrum``); returns the fit line.

    The fit line degrades to ``"Spectrum decay fit: not available (reason)"`` where
    :meth:`~ntkspec.spectrum.Spectrum.decay_fit` refuses (too few resolvable degrees).
    """
    from ntkspec.plot import plot_spectrum

    try:
        fit = spec.decay_fit()
        line = (
            f"Spectrum decay fit: λ_k ∝ k^{fit.exponent:.2f} (least squares over the "
            f"{len(fit.degrees)} resolvable degrees in [{fit.kmin}, {fit.kmax}])."
        )
    except ValueError as e:
        fit, line = None, f"Spectrum decay fit: not available ({e})"
    plot_spectrum(spec, [label], path=path, fit=fit)
    return line


def heatmap_figure(times, degrees, measured, predicted, path, *, predicted_title: str) -> None:
    """Learned fraction ``1 − ‖Π_k r_t‖/‖Π_k r_0‖`` per degree: measured | predicted.

    Args:
      times: ``(T,)``; degrees: ``(K,)``; measured, predicted: normalized residuals ``(T, K)``.
      path: the PNG to write; predicted_title: the right panel's title.
    """
    from matplotlib.figure import Figure

    from ntkspec.plot import plot_heatmap

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    rows = np.arange(len(degrees))  # one equal-height row per target degree
    plot_heatmap(times, rows, 1.0 - measured, ax=ax1, title="measured: learned fraction")
    plot_heatmap(times, rows, 1.0 - predicted, ax=ax2, title=predicted_title)
    for ax in (ax1, ax2):
        ax.set_yticks(rows, [str(int(k)) for k in degrees])
        ax.set_xscale("symlog", linthresh=1.0)
    save_figure(fig, path)


def write_figures(exp, out) -> list[str]:
    """``decay.png``, ``spectrum.png`` and ``heatmap.png`` of an experiment into ``out``.

    Each is optional (:func:`optional_figure`): one that cannot be made — no infinite-width
    kernel for the spectrum, no linear prediction for the heatmap, a decay fit refused — is
    reported as "not available (reason)".

    Returns:
      Markdown lines for ``report.md``: the spectrum decay-fit line, the figure links, then
      the "not available" lines.
    """
    from pathlib import Path

    out = Path(out)
    names = list(exp.predictions.curves)
    reference = "operator" if "operator" in names else (names[0] if names else None)

    def spectrum_png(path):
        if exp.spectrum is None:
            raise ValueError(exp.predictions.absent.get("operator", "no infinite-width kernel"))
        label = f"NTK of the {exp.model}, S^{exp.config.data.dim - 1}"
        return spectrum_figure(exp.spectrum, label, path)

    def heatmap_png(path):
        if reference is None:
            raise ValueError(next(iter(exp.predictions.absent.values()), "no prediction"))
        pred = exp.predictions.curves[reference]
        title = f"{reference} prediction"
        times, measured = exp.measured.times, exp.measured.normalized()
        predicted = pred.normalized()[np.searchsorted(pred.times, times)]  # a diverged run
        heatmap_figure(times, exp.degrees, measured, predicted, path, predicted_title=title)

    links, missing, fit = [], [], "Spectrum decay fit: not available (see below)."
    makers = (
        ("spectrum.png", "spectrum", spectrum_png),
        ("decay.png", "per-degree decay", lambda path: decay_figure(exp, path)),
        ("heatmap.png", "learned fraction", heatmap_png),
    )
    for name, alt, make in makers:
        ok, text = optional_figure(make, out / name)
        if ok:
            links.append(f"![{alt}]({name})")
            fit = text if name == "spectrum.png" else fit
        else:
            missing.append(f"- {text}")
    return [fit, "", *links, *(["", "Not available:", "", *missing] if missing else [])]
