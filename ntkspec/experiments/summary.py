"""Plain-text summary of an :class:`~ntkspec.experiments.compare.Experiment` (formatting only).

Nothing is computed here beyond formatting what :func:`~ntkspec.experiments.compare` returned:
no kernel, spectrum or prediction is rebuilt.
"""

from __future__ import annotations

import numpy as np

__all__ = ["decay_figure", "format_experiment"]

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
    max |measured − predicted| over compared records and the half-time ratio measured /
    predicted ("—": not compared / not resolved; † marks an unlearnable degree).
    """
    ag, names = exp.agreement, list(exp.predictions.curves)
    lines = _header(exp)
    cols = ["k", "lambda_k", "t1/2 meas"]
    for name in names:
        cols += [f"err {name}", f"ratio {name}"]
    rows = [cols]
    for i, k in enumerate(exp.degrees):
        lam = "—" if exp.spectrum is None else _num(exp.spectrum.eigenvalues[k])
        row = [f"{int(k)}{'' if exp.learnable[i] else '†'}", lam, _num(ag.half_time[i], ".1f")]
        for name in names:
            row += [
                _num(ag.max_abs_error[name][i], ".3f"),
                _num(ag.half_time_ratio[name][i], ".2f"),
            ]
        rows.append(row)
    widths = [max(len(r[j]) for r in rows) for j in range(len(cols))]
    lines.append("")
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    for name, why in exp.predictions.absent.items():
        lines.append(f"no {name} prediction: {why}")
    lines += [f"note: {n}" for n in exp.notes]
    return "\n".join(lines)


def decay_figure(exp, path=None):
    """Per-degree ``‖Π_k r_t‖ / ‖Π_k r_0‖``: measured and every prediction, one colour per degree.

    Line styles by curve (:data:`STYLES`): measured solid, ``operator`` dashed, ``gram``
    dash-dotted, ``empirical`` dotted, the plain-loss ones thinner. Returns the matplotlib
    Figure (also written as PNG to ``path`` if given).
    """
    import io
    from pathlib import Path

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ntkspec._io import atomic_write_bytes

    fig = Figure(figsize=(7.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    curves = {"measured": exp.measured, **exp.predictions.curves}
    for i in range(len(exp.degrees)):
        for name, c in curves.items():
            y = c.normalized()[:, i]
            ax.plot(c.times, np.where(y > 0, y, np.nan), color=f"C{i % 10}", **STYLES[name])
    handles = [Line2D([], [], color=f"C{i % 10}", lw=2, label=f"k = {int(k)}")
               for i, k in enumerate(exp.degrees)]  # fmt: skip
    handles += [Line2D([], [], color="0.3", label=name, **STYLES[name]) for name in curves]
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, max(1, int(exp.measured.times[-1])))
    ax.set_xlabel(f"{exp.setting.optimizer.name} step t")
    ax.set_ylabel("‖Π_k r_t‖ / ‖Π_k r_0‖")
    ax.legend(handles=handles, fontsize=7, ncol=2, loc="lower left")
    if path is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        atomic_write_bytes(Path(path), buf.getvalue())
    return fig
