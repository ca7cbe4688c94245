"""Matplotlib figures of spectra, residual decay and learned-fraction heatmaps.

Every function draws on ``ax`` when given (and returns ``ax.figure``), otherwise on a new
:class:`matplotlib.figure.Figure` created *without* pyplot, so nothing here touches pyplot's
global figure list or needs an interactive backend; nothing calls ``show``. With ``path`` the
whole figure is also written, atomically (rendered to memory, then a temporary file in the
same directory is renamed over ``path``), in the format given by the suffix (``.png``,
``.pdf``, ``.svg``, …). Inputs are validated eagerly: wrong types raise ``TypeError``, wrong
shapes, degrees or paths ``ValueError``, unwritable paths ``OSError``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, SymmetricalLogLocator
from matplotlib.transforms import blended_transform_factory

from ntkspec._io import atomic_write_bytes
from ntkspec._validate import check_int
from ntkspec.dynamics import Prediction
from ntkspec.spectrum import DecayFit, Spectrum
from ntkspec.train import TrainRecord

__all__ = ["plot_spectrum", "plot_decay", "plot_heatmap", "check_figure_path"]

_DPI = 150
_DECAY_FLOOR = 1e-16


# ----------------------------------------------------------------------------- helpers
def check_figure_path(path: str | os.PathLike) -> str:
    """Return the image format implied by ``path``'s suffix, or raise ``ValueError``.

    The format must be one matplotlib can write (``png``, ``pdf``, ``svg``, ``eps``, …).
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"Expected path to be a str or os.PathLike; got {type(path).__name__}.")
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    supported = Figure().canvas.get_supported_filetypes()
    if suffix not in supported:
        raise ValueError(
            f"Expected a figure path ending in one of "
            f"{', '.join('.' + s for s in sorted(supported))}; got {os.fspath(path)!r}."
        )
    return suffix


def _figure_and_axes(ax, figsize):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
        raise TypeError(f"Expected ax to be a matplotlib Axes; got {type(ax).__name__}.")
    return ax.figure, ax


def _save(fig: Figure, path, fmt: str | None) -> None:
    if path is None:
        return
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=_DPI)
    atomic_write_bytes(path, buf.getvalue())


def _as_list(obj, types, what: str) -> list:
    items = [obj] if isinstance(obj, types) else obj
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        names = " or ".join(t.__name__ for t in types)
        raise TypeError(f"Expected a {names} or a sequence of them; got {type(obj).__name__}.")
    items = list(items)
    if not items:
        raise ValueError(f"Expected at least one {what}; got an empty sequence.")
    for i, item in enumerate(items):
        if not isinstance(item, types):
            names = " or ".join(t.__name__ for t in types)
            raise TypeError(f"Expected item {i} to be a {names}; got {type(item).__name__}.")
    return items


def _labels(labels, n: int, default) -> list[str]:
    if labels is None:
        return [default(i) for i in range(n)]
    if isinstance(labels, str):
        labels = [labels]
    labels = [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"Expected {n} labels (one per spectrum); got {len(labels)}.")
    return labels


# ----------------------------------------------------------------------------- spectrum
def _power_law_fit(s: Spectrum, kmin: int, kmax: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(k, C k^p, p) over the fitted range, p and its degrees from :meth:`Spectrum.decay_fit`."""
    fit = s.decay_fit(kmin, kmax)  # validates the range, raises if < 2 usable points
    k = fit.degrees.astype(np.float64)
    # Least-squares intercept for the fixed least-squares slope p, on the same degrees.
    log_c = float(np.mean(np.log(s.eigenvalues[fit.degrees]) - fit.exponent * np.log(k)))
    kk = np.array([kmin, kmax], dtype=np.float64)
    return kk, np.exp(log_c) * kk**fit.exponent, fit.exponent


def plot_spectrum(
    spectra: Spectrum | Sequence[Spectrum],
    labels: str | Sequence[str] | None = None,
    *,
    ax=None,
    path: str | os.PathLike | None = None,
    fit: tuple[int, int] | None = None,
) -> Figure:
    """Eigenvalues λ_k against degree k on logarithmic axes, one curve per spectrum.

    Only eigenvalues that are positive *and* larger than their certified error are drawn on
    the curve. Eigenvalues that are zero within that error (:meth:`Spectrum.zero_within_error`;
    e.g. the odd degrees k >= 3 of a bias-free two-layer ReLU kernel) are marked with ``x``
    along the bottom edge of the axes instead. A Gram estimate
    (:func:`~ntkspec.spectrum.gram_spectrum`, which has a ``stderr``) is drawn with ± 1
    standard-error bars, and its degrees that are sampling noise (:meth:`Spectrum.noise`, or
    negative) get the ``x`` marks instead: noise is shown as noise, not as an eigenvalue.

    The x axis is ``symlog`` (linear on [0, 1], logarithmic beyond), so λ_0 is shown and
    power laws k^p are straight lines for k >= 1.

    Args:
      spectra: a :class:`~ntkspec.spectrum.Spectrum` or a sequence of them.
      labels: one legend label per spectrum (default ``"NTK, d=3"`` etc.).
      ax: draw on this Axes (default: a new Figure).
      path: also write the figure here (format from the suffix), atomically.
      fit: ``(kmin, kmax)`` or a :class:`~ntkspec.spectrum.DecayFit` (its range): for each
        spectrum, draw the least-squares power law ``C k^p`` over ``kmin <= k <= kmax``
        (dotted, same colour; p from :meth:`Spectrum.decay_fit` on the resolvable degrees,
        shown in the legend).

    Returns:
      The Figure. Its axes hold, per spectrum, one line of eigenvalues (with error bars for a
      Gram estimate), one line of zero or noise markers (only if there are such degrees) and
      one fitted line (only with ``fit``).
    """
    items = _as_list(spectra, (Spectrum,), "Spectrum")
    names = _labels(labels, len(items), lambda i: f"{items[i].kernel.upper()}, d={items[i].dim}")
    fit = _check_fit(fit, items)
    fmt = None if path is None else check_figure_path(path)
    fig, ax = _figure_and_axes(ax, (6.0, 4.2))
    labelled: set[str] = set()  # legend entries of the zero / noise marks already shown
    for s, name in zip(items, names, strict=True):
        _draw_spectrum(ax, s, name, fit, labelled)
    _spectrum_axes(ax)
    _save(fig, path, fmt)
    return fig


def _check_fit(fit, items: list[Spectrum]) -> tuple[int, int] | None:
    """``plot_spectrum``'s ``fit``: None, or a validated ``(kmin, kmax)`` within every spectrum."""
    if isinstance(fit, DecayFit):
        fit = (fit.kmin, fit.kmax)
    if fit is None:
        return None
    if isinstance(fit, str | bytes) or not isinstance(fit, Sequence) or len(fit) != 2:
        raise TypeError(f"Expected fit to be a (kmin, kmax) pair of ints; got {fit!r}.")
    kmin = check_int("fit kmin", fit[0], minimum=1)
    kmax = check_int("fit kmax", fit[1], minimum=kmin + 1)
    for s in items:
        if kmax > s.kmax:
            raise ValueError(f"Expected fit kmax <= the spectrum's kmax = {s.kmax}; got {kmax}.")
    return kmin, kmax


def _draw_spectrum(ax, s: Spectrum, name: str, fit, labelled: set[str]) -> None:
    """One spectrum's eigenvalue line, zero (or noise) markers and fit.

    A Gram estimate (with ``stderr``) gets ± 1 standard error bars, and its degrees that are
    sampling noise (:meth:`Spectrum.noise`, or negative) are marked as noise, not drawn.
    """
    k, lam = s.degrees, s.eigenvalues
    if s.stderr is None:
        zero, mark = s.zero_within_error(), r"$\lambda_k = 0$ within error"
        shown = ~zero & (lam > 0)
        (line,) = ax.plot(k[shown], lam[shown], "o-", ms=3, lw=1.2, label=name)
    else:
        zero, mark = s.noise() | (lam < 0), r"noise: $|\hat\lambda_k| \leq 2$ std. err."
        shown = ~zero  # positive, above 2 standard errors
        bars = ax.errorbar(k[shown], lam[shown], yerr=s.stderr[shown], fmt="o-", ms=3, lw=1.2,
                           elinewidth=0.8, label=name)  # fmt: skip
        line = bars.lines[0]
    if zero.any():
        ax.plot(
            k[zero],
            np.full(int(zero.sum()), 0.03),
            "x",
            ms=5,
            color=line.get_color(),
            transform=blended_transform_factory(ax.transData, ax.transAxes),
            clip_on=False,
            label=None if mark in labelled else mark,
        )
        labelled.add(mark)
    if fit is not None:
        kk, yy, p = _power_law_fit(s, *fit)
        ax.plot(kk, yy, ":", lw=1.5, color=line.get_color(), label=rf"fit $\propto k^{{{p:.2f}}}$")


def _spectrum_axes(ax) -> None:
    """Symlog degree axis (λ_0 shown, power laws straight for k >= 1), log eigenvalue axis."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
    ax.xaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=1.0, subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.set_yscale("log")
    ax.set_xlim(left=0)
    ax.set_xlabel("degree $k$")
    ax.set_ylabel(r"eigenvalue $\lambda_k$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")


# ----------------------------------------------------------------------------- decay
def _degree_colors(degrees: list[int]):
    import matplotlib as mpl

    if len(degrees) <= 10:
        cmap = mpl.colormaps["tab10"]
        return {k: cmap(i) for i, k in enumerate(degrees)}
    cmap = mpl.colormaps["viridis"]
    return {k: cmap(i / (len(degrees) - 1)) for i, k in enumerate(degrees)}


def plot_decay(
    predictions_or_records: Prediction | TrainRecord | Sequence[Prediction | TrainRecord],
    *,
    degrees: Sequence[int] | None = None,
    ax=None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Per-degree residual norm relative to its initial value, against the GD step.

    Draws ``‖Π_k r_t‖ / ‖Π_k r_0‖`` on a log y axis: theory (:class:`~ntkspec.dynamics.Prediction`,
    initial value ``.initial``) dashed, measurements (:class:`~ntkspec.train.TrainRecord`,
    initial value the record at step 0) solid, one colour per degree shared by all inputs.
    Degrees whose initial norm is 0 have nothing to normalize and are skipped for that input;
    non-positive values are left out of the log plot, and the y axis stops at 1e-16 (float64
    round-off) when the data go below it.

    Args:
      predictions_or_records: one Prediction/TrainRecord or a sequence mixing both.
      degrees: the degrees to draw (default: every degree present in all inputs).
      ax: draw on this Axes (default: a new Figure).
      path: also write the figure here (format from the suffix), atomically.

    Returns:
      The Figure; its axes hold one line per (input, drawn degree).
    """
    items = _as_list(predictions_or_records, (Prediction, TrainRecord), "Prediction or TrainRecord")
    chosen = _decay_degrees(items, degrees)
    fmt = None if path is None else check_figure_path(path)
    fig, ax = _figure_and_axes(ax, (6.0, 4.2))
    colors = _degree_colors(chosen)
    for it in items:
        theory = isinstance(it, Prediction)
        norms = np.asarray(it.norms, dtype=np.float64)
        initial = np.asarray(it.initial if theory else norms[0], dtype=np.float64)
        column = {int(k): i for i, k in enumerate(it.degrees)}
        for k in chosen:
            j = column[k]
            if not initial[j] > 0:
                continue
            rel = norms[:, j] / initial[j]
            rel = np.where(rel > 0, rel, np.nan)
            ax.plot(it.times, rel, "--" if theory else "-", color=colors[k], lw=1.4)
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    if low < _DECAY_FLOOR < high:  # below ~1e-16 relative nothing is measurable
        ax.set_ylim(bottom=_DECAY_FLOOR)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"$\|\Pi_k r_t\| \,/\, \|\Pi_k r_0\|$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=_decay_legend(chosen, colors), fontsize="small", ncol=2)
    _save(fig, path, fmt)
    return fig


def _decay_degrees(items: list, degrees) -> list[int]:
    """The degrees ``plot_decay`` draws: the given ones (each in every input) or all shared."""
    common = set(int(k) for k in items[0].degrees)
    for it in items[1:]:
        common &= set(int(k) for k in it.degrees)
    if degrees is None:
        chosen = sorted(common)
    else:
        if isinstance(degrees, int | np.integer):
            degrees = [degrees]
        chosen = [check_int("degree", k, minimum=0) for k in degrees]
        missing = [k for k in chosen if k not in common]
        if missing:
            raise ValueError(
                f"Expected degrees present in every input (0..{max(common)}); got {missing}."
            )
        chosen = list(dict.fromkeys(chosen))
    if not chosen:
        raise ValueError("Expected the inputs to share at least one degree; they share none.")
    return chosen


def _decay_legend(chosen: list[int], colors: dict) -> list[Line2D]:
    """One entry per degree (at most 12, then a count), then the theory / measured styles."""
    handles = [Line2D([], [], color=colors[k], label=f"$k = {k}$") for k in chosen[:12]]
    if len(chosen) > 12:
        handles.append(Line2D([], [], color="none", label=f"… ({len(chosen) - 12} more)"))
    return handles + [
        Line2D([], [], color="0.3", ls="--", label="theory"),
        Line2D([], [], color="0.3", ls="-", label="measured"),
    ]


# ----------------------------------------------------------------------------- heatmap
def _edges(centers: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centers (midpoints; half a spacing beyond the ends)."""
    if centers.size == 1:
        return np.array([centers[0] - 0.5, centers[0] + 0.5])
    mid = 0.5 * (centers[1:] + centers[:-1])
    return np.concatenate([[2 * centers[0] - mid[0]], mid, [2 * centers[-1] - mid[-1]]])


def plot_heatmap(
    times,
    degrees,
    fraction_learned,
    *,
    ax=None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """Rahaman-style spectral-bias heatmap: learned fraction per (step, degree).

    Rahaman et al. (2019, "On the spectral bias of neural networks", Fig. 1): x is the
    training step, y the frequency (here the harmonic degree k), the colour the fraction of
    that degree already learned, ``1 − ‖Π_k r_t‖ / ‖Π_k r_0‖`` ∈ [0, 1] (values outside are
    drawn with the end colours, NaN blank). For a :class:`~ntkspec.train.TrainRecord`
    ``rec``: ``plot_heatmap(rec.times, rec.degrees, 1 - rec.norms / rec.norms[0])``.

    Args:
      times: ``(T,)`` strictly increasing steps.
      degrees: ``(K,)`` strictly increasing degrees.
      fraction_learned: ``(T, K)`` learned fraction.
      ax: draw on this Axes (default: a new Figure).
      path: also write the figure here (format from the suffix), atomically.
      title: axes title.

    Returns:
      The Figure (one ``QuadMesh`` on the axes plus a colourbar).
    """
    t = np.asarray(times)
    k = np.asarray(degrees)
    frac = np.asarray(fraction_learned)
    for name, arr in (("times", t), ("degrees", k), ("fraction_learned", frac)):
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"Expected {name} to be a real array; got dtype {arr.dtype}.")
    if t.ndim != 1 or k.ndim != 1 or t.size == 0 or k.size == 0:
        raise ValueError(
            f"Expected non-empty 1-D times and degrees; got shapes {t.shape} and {k.shape}."
        )
    if frac.shape != (t.size, k.size):
        raise ValueError(
            f"Expected fraction_learned of shape (len(times), len(degrees)) = "
            f"({t.size}, {k.size}); got {frac.shape}."
        )
    for name, arr in (("times", t), ("degrees", k)):
        if not np.isfinite(arr).all() or (np.diff(arr) <= 0).any():
            raise ValueError(f"Expected finite, strictly increasing {name}; got {arr.tolist()}.")
    fmt = None if path is None else check_figure_path(path)
    fig, ax = _figure_and_axes(ax, (6.4, 4.2))
    mesh = ax.pcolormesh(
        _edges(t.astype(np.float64)),
        _edges(k.astype(np.float64)),
        frac.astype(np.float64).T,
        vmin=0.0,
        vmax=1.0,
        cmap="viridis",
        shading="flat",
    )
    fig.colorbar(mesh, ax=ax, label=r"learned fraction $1 - \|\Pi_k r_t\| / \|\Pi_k r_0\|$")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("degree $k$")
    if title is not None:
        ax.set_title(str(title))
    _save(fig, path, fmt)
    return fig
