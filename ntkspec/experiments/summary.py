"""Plain-text summary of an :class:`~ntkspec.experiments.compare.Experiment` (formatting only).

Nothing is computed here beyond formatting what :func:`~ntkspec.experiments.compare` returned:
no kernel, spectrum or prediction is rebuilt.
"""

from __future__ import annotations

import numpy as np

__all__ = ["format_experiment"]


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
