"""Figures: what is drawn (lines, styles, data), atomic saving, and input validation."""

import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

from ntkspec import Spectrum, TrainRecord, mlp_kernel, predict_residual, spectrum
from ntkspec.plot import check_figure_path, plot_decay, plot_heatmap, plot_spectrum

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def relu2():
    """Two-layer bias-free ReLU NTK on S^2: λ_3 = λ_5 = … = 0 exactly."""
    return spectrum(mlp_kernel(1), 3, 12)


def _record(prediction, wiggle=0.1):
    """A TrainRecord whose per-degree norms are the prediction's, perturbed (deterministic)."""
    t = prediction.times
    norms = prediction.norms * (1.0 + wiggle * np.sin(t[:, None] / 7.0))
    T = len(t)
    return TrainRecord(
        times=t,
        loss=np.zeros(T),
        residual=np.zeros((T, 4)),
        energies=norms**2,
        degrees=prediction.degrees,
        diverged=False,
        objective="mse",
        lr=prediction.lr,
    )


# ----------------------------------------------------------------------------- spectrum
def test_plot_spectrum_draws_resolved_values_and_marks_zeros(relu2):
    fig = plot_spectrum(relu2, fit=(4, 12))
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    curve, zeros, fitted = ax.lines  # eigenvalues, zero markers, fit
    k = relu2.degrees
    odd = (k % 2 == 1) & (k >= 3)
    np.testing.assert_array_equal(curve.get_xdata(), k[~odd])
    np.testing.assert_array_equal(curve.get_ydata(), relu2.eigenvalues[~odd])
    np.testing.assert_array_equal(zeros.get_xdata(), k[odd])
    assert fitted.get_linestyle() == ":"
    slope = relu2.decay_exponent(4, 12)
    assert f"{slope:.2f}" in fitted.get_label()
    # The fitted line passes through the least-squares power law (slope in log-log).
    x, y = fitted.get_xdata(), fitted.get_ydata()
    np.testing.assert_allclose(np.log(y[1] / y[0]) / np.log(x[1] / x[0]), slope, rtol=1e-12)
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "NTK, d=3" and len(labels) == 3


def test_plot_spectrum_several_on_given_axes():
    s1 = spectrum(mlp_kernel(1), 3, 8)
    s2 = spectrum(mlp_kernel(1, bias_var=0.5), 3, 8, "nngp")  # biases: no exact zeros
    fig = Figure()
    ax = fig.add_subplot()
    out = plot_spectrum([s1, s2], labels=["a", "b"], ax=ax)
    assert out is fig
    names = [line.get_label() for line in ax.lines]
    assert names[0] == "a" and names[-1] == "b" and len(ax.lines) == 3  # a, a's zeros, b
    assert ax.lines[0].get_color() != ax.lines[-1].get_color()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"spectra": "not a spectrum"}, TypeError),
        ({"spectra": []}, ValueError),
        ({"labels": ["a", "b"]}, ValueError),
        ({"fit": 3}, TypeError),
        ({"fit": (0, 5)}, ValueError),
        ({"fit": (5, 5)}, ValueError),
        ({"fit": (2, 99)}, ValueError),
        ({"path": "figure.unknown-format"}, ValueError),
    ],
)
def test_plot_spectrum_rejects_bad_input(relu2, kwargs, error):
    kwargs = {"spectra": relu2, **kwargs}
    with pytest.raises(error):
        plot_spectrum(**kwargs)


def test_plot_spectrum_saves_png_atomically(relu2, tmp_path):
    path = tmp_path / "sub" / "spectrum.png"
    plot_spectrum(relu2, path=path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert sorted(p.name for p in path.parent.iterdir()) == ["spectrum.png"]  # no temp left
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        plot_spectrum(relu2, path=blocker / "x.png")


def test_check_figure_path():
    assert check_figure_path("a/b.PNG") == "png"
    assert check_figure_path("b.svg") == "svg"
    with pytest.raises(ValueError, match=r"\.png"):
        check_figure_path("b")
    with pytest.raises(TypeError):
        check_figure_path(3)


# ----------------------------------------------------------------------------- decay
def test_plot_decay_theory_dashed_measured_solid(relu2):
    energies = np.array([1.0, 0.5, 0.25, 0.0, 0.1])  # degree 3: nothing to normalize
    pred = predict_residual(relu2, energies, lr=1.0, steps=40, record_every=5)
    rec = _record(pred)
    fig = plot_decay([pred, rec], degrees=[0, 1, 3, 4])
    ax = fig.axes[0]
    assert len(ax.lines) == 6  # (0, 1, 4) x (theory, measured); degree 3 skipped
    theory, measured = ax.lines[:3], ax.lines[3:]
    assert all(line.get_linestyle() == "--" for line in theory)
    assert all(line.get_linestyle() == "-" for line in measured)
    assert [line.get_color() for line in theory] == [line.get_color() for line in measured]
    for line, k in zip(theory, (0, 1, 4), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), pred.times)
        np.testing.assert_allclose(line.get_ydata(), pred.norms[:, k] / pred.initial[k])
    for line in measured:
        assert line.get_ydata()[0] == 1.0
    # Degree 1 decays exactly like (1 - λ_1)^t = (2/3)^t.
    np.testing.assert_allclose(theory[1].get_ydata(), (2 / 3) ** pred.times, rtol=1e-13)
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[-2:] == ["theory", "measured"]


def test_plot_decay_single_input_all_degrees(relu2, tmp_path):
    pred = predict_residual(relu2, np.ones(3), lr=1.0, steps=10)
    path = tmp_path / "decay.png"
    fig = plot_decay(pred, path=path)
    assert len(fig.axes[0].lines) == 3
    assert path.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("arg", "kwargs", "error"),
    [
        ("spectrum", {}, TypeError),
        ("empty", {}, ValueError),
        ("pred", {"degrees": [7]}, ValueError),
        ("pred", {"degrees": [-1]}, ValueError),
        ("pred", {"degrees": [1.5]}, TypeError),
        ("pred", {"path": "x.nope"}, ValueError),
    ],
)
def test_plot_decay_rejects_bad_input(relu2, arg, kwargs, error):
    pred = predict_residual(relu2, np.ones(3), lr=1.0, steps=3)
    obj = {"spectrum": relu2, "empty": [], "pred": pred}[arg]
    with pytest.raises(error):
        plot_decay(obj, **kwargs)


# ----------------------------------------------------------------------------- heatmap
def test_plot_heatmap_cells_and_colorbar(tmp_path):
    times = np.array([0, 10, 20, 50])
    degrees = np.arange(3)
    frac = np.linspace(0.0, 1.0, 12).reshape(4, 3)
    path = tmp_path / "heat.png"
    fig = plot_heatmap(times, degrees, frac, path=path, title="spectral bias")
    ax, cbar = fig.axes
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(3, 4), frac.T)
    assert mesh.get_clim() == (0.0, 1.0)
    assert ax.get_title() == "spectral bias"
    assert ax.get_xlim() == (-5.0, 65.0) and ax.get_ylim() == (-0.5, 2.5)  # cell edges
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_heatmap_single_record():
    fig = plot_heatmap([0], [0, 1], [[0.2, 0.9]])
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    ("times", "degrees", "frac", "error"),
    [
        ([0, 1], [0, 1], np.zeros((2, 3)), ValueError),
        ([0, 1], [0, 1], np.zeros((2,)), ValueError),
        ([1, 0], [0, 1], np.zeros((2, 2)), ValueError),
        ([0, 1], [0, 0], np.zeros((2, 2)), ValueError),
        ([], [0], np.zeros((0, 1)), ValueError),
        (["a", "b"], [0, 1], np.zeros((2, 2)), TypeError),
    ],
)
def test_plot_heatmap_rejects_bad_input(times, degrees, frac, error):
    with pytest.raises(error):
        plot_heatmap(times, degrees, frac)


def test_results_round_trip_through_plot(relu2, tmp_path):
    """A saved and reloaded Spectrum plots the same curve (the CLI's --out path)."""
    relu2.save(tmp_path / "s.json")
    again = Spectrum.load(tmp_path / "s.json")
    a = plot_spectrum(relu2).axes[0].lines[0].get_ydata()
    b = plot_spectrum(again).axes[0].lines[0].get_ydata()
    np.testing.assert_array_equal(a, b)
