"""Monte-Carlo standard errors of empirical-NTK spectra: ``ntkspec ntk`` and ``width_study``.

The per-degree estimates of an empirical NTK Gram (:func:`ntkspec.spectrum.gram_spectrum`) carry
a standard error over the draw of the points; the ``ntk`` command prints it (a ± column, noise
shown as noise) and saves it, and :func:`ntkspec.experiments.width.width_study` carries it
through its mean over initializations. The errors are checked against the spread of the
estimates over independent draws (one network is fixed for the first check; the second
redraws points and initializations, as ``width_study`` claims to cover both).

All runs share n = 96 points on S^2 and width 64, so the empirical-NTK blocks compile once.
"""

import json

import jax
import numpy as np

from ntkspec import empirical_ntk, mlp_kernel
from ntkspec.cli import main
from ntkspec.experiments.width import mlp_for, ntk_sample, sample_points, width_study
from ntkspec.spectrum import gram_spectrum

N, WIDTH, KMAX = 96, 64, 5


def _run_ntk(tmp_path, capsys, seed: int):
    out = tmp_path / f"ntk{seed}"
    argv = ["ntk", "--dim", "3", "--depth", "1", "--width", str(WIDTH), "--n", str(N),
            "--kmax", str(KMAX), "--seed", str(seed), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    data = json.loads((out / "gram_spectrum.json").read_text())
    with np.load(out / "gram.npz") as z:
        K, X = z["K"], z["X"]
    return printed, data, K, X


def test_ntk_command_prints_and_saves_the_stderr(tmp_path, capsys):
    printed, data, K, X = _run_ntk(tmp_path, capsys, seed=0)
    # The saved values are gram_spectrum's, recomputed from the saved Gram and points.
    ref = gram_spectrum(K, X, KMAX)
    np.testing.assert_allclose(data["empirical"], ref.eigenvalues, rtol=1e-12, atol=0)
    np.testing.assert_allclose(data["stderr"], ref.stderr, rtol=1e-12, atol=0)
    lam, se = np.asarray(data["empirical"]), np.asarray(data["stderr"])
    assert se.shape == (KMAX + 1,) and np.all(se > 0)
    noise = np.asarray(data["noise"])
    np.testing.assert_array_equal(noise, (np.abs(lam) <= 2 * se) | (lam < 0))
    # Bias-free two-layer ReLU: λ_0..λ_2 are resolved; λ_3, λ_5 vanish at infinite width (and
    # in expectation over the initialization), so at width 64 they are noise.
    assert not noise[:3].any() and noise[3] and noise[5], (lam, se)
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["k", "empirical"])
    assert "+/- stderr" in lines[header]
    rows = [line.split() for line in lines[header + 1 : header + 2 + KMAX]]
    assert [int(r[0]) for r in rows] == list(range(KMAX + 1))
    for k, r in enumerate(rows):
        assert float(r[2]) == float(f"{se[k]:.2e}")  # the +/- column
        assert (r[-1] == "*") == (k in (3, 5))  # infinite width: zero within certified error
        if noise[k]:
            assert r[1] == "noise"  # never printed as an eigenvalue
        else:
            assert float(r[1]) == float(f"{lam[k]:.6e}") > 0
    assert any(line.startswith("# noise:") for line in lines)
    assert any(line.startswith("# * |lambda_k| <= its certified error") for line in lines)


def test_empirical_ntk_stderr_matches_spread_over_points():
    """For one fixed network the stderr describes the spread of λ̂_k over the points."""
    kernel, draws = mlp_kernel(1), 30
    key = jax.random.key(5)
    lam, se = np.empty((draws, KMAX + 1)), np.empty((draws, KMAX + 1))
    for s in range(draws):
        X = sample_points(jax.random.key(100 + s), N, 3)
        r = ntk_sample(kernel, WIDTH, X, key, KMAX)  # same key: the same network every time
        lam[s], se[s] = r.empirical.eigenvalues, r.empirical.stderr
    # The same network: ntk_sample's Gram is the model's empirical NTK.
    model = mlp_for(kernel, WIDTH)
    K = empirical_ntk(model.apply, model.init(key, 3), X.astype(np.float32))
    np.testing.assert_allclose(r.K, np.asarray(K, dtype=np.float64), rtol=1e-6)
    # Ratio of the spread over draws to the mean reported variance: 1 if calibrated. The
    # estimator is conservative (measured ~0.7-0.9 here). With 30 draws one degree's sample
    # variance has a relative sd of ~0.26, the pooled ratio of 6 degrees less; so: pooled in
    # [0.45, 1.4], each degree in [0.3, 2] (fails if the stderr is 1.7x off either way).
    ratio = np.var(lam, axis=0, ddof=1) / np.mean(se**2, axis=0)
    assert 0.45 <= ratio.mean() <= 1.4, ratio
    assert np.all((ratio >= 0.3) & (ratio <= 2.0)), ratio


def test_width_study_stderr_matches_spread_over_points_and_inits():
    kernel, draws = mlp_kernel(1), 16
    g, gs = np.empty((draws, KMAX + 1)), np.empty((draws, KMAX + 1))
    for s in range(draws):
        w = width_study([WIDTH], kernel, key=jax.random.key(200 + s), dim=3, n=N, kmax=KMAX,
                        seeds=2)  # fmt: skip
        g[s], gs[s] = w.gram_spectra[0], w.gram_stderr[0]
        assert w.gram_stderr.shape == w.gram_spectra.shape == (1, KMAX + 1)
        assert w.infinite_gram_stderr.shape == (KMAX + 1,) and np.all(w.infinite_gram_stderr > 0)
    # The seed mean's stderr covers both the points and the initializations (measured ratio
    # ~0.4-0.9: conservative, the point part is bounded by the mean of the seeds' variances).
    # 16 draws: one degree's sample variance has a relative sd of ~0.37, so each degree in
    # [0.15, 2.5] and the pooled ratio in [0.3, 1.6].
    ratio = np.var(g, axis=0, ddof=1) / np.mean(gs**2, axis=0)
    assert 0.3 <= ratio.mean() <= 1.6, ratio
    assert np.all((ratio >= 0.15) & (ratio <= 2.5)), ratio


def test_plot_spectrum_draws_gram_noise_as_noise():
    from matplotlib.container import ErrorbarContainer

    from ntkspec import sample_sphere, spectrum
    from ntkspec.plot import plot_spectrum

    kernel = mlp_kernel(1)
    X = sample_sphere(jax.random.key(7), 400, 3)
    est = gram_spectrum(kernel.gram(X), X, 7)
    noise = est.noise() | (est.eigenvalues < 0)
    assert noise[3::2].all() and not noise[:3].any()  # odd k >= 3 vanish for this kernel
    ax = plot_spectrum([spectrum(kernel, 3, 7), est], ["exact", "Gram"]).axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1 and bars[0].get_label() == "Gram"  # only the estimate has bars
    drawn = bars[0].lines[0]
    np.testing.assert_array_equal(drawn.get_xdata(), est.degrees[~noise])
    np.testing.assert_array_equal(drawn.get_ydata(), est.eigenvalues[~noise])
    segments = bars[0].lines[2][0].get_segments()  # the ± 1 stderr bars, one per drawn degree
    half = np.array([(seg[1, 1] - seg[0, 1]) / 2 for seg in segments])
    np.testing.assert_allclose(half, est.stderr[~noise], rtol=1e-12)
    marks = [line for line in ax.get_lines() if line.get_marker() == "x"]
    xs = sorted(x for line in marks for x in line.get_xdata())
    # exact zeros of the Funk–Hecke spectrum and noise degrees of the estimate: both odd k >= 3
    assert xs == sorted([3, 5, 7] + [int(k) for k in est.degrees[noise]])
    assert any(line.get_label().startswith("noise") for line in marks)
