import dataclasses

import jax
import numpy as np
import pytest
from scipy.linalg import expm
from scipy.special import roots_legendre

from ntkspec import losses, optimizers
from ntkspec._compat import enable_x64
from ntkspec.dynamics import (
    Prediction,
    max_stable_lr,
    predict_residual,
    predict_residual_gram,
    predict_residual_vectors,
    sobolev_matrix,
    sobolev_weights,
    steps_to_fit,
)
from ntkspec.kernels import mlp_kernel
from ntkspec.spectrum import spectrum
from ntkspec.sphere import degree_energy, equispaced_circle, sample_sphere

# Float64 NumPy predictions whatever the x64 flag: all re-run with x64 off (test_precision.py).
pytestmark = pytest.mark.precision


@pytest.fixture(scope="module")
def spec3():
    # Two-layer ReLU NTK on S^2: λ_0..λ_6 = 1/2, 1/3, 5/64, 0, 1/192, 0, 23/16384
    # (docs/theory.md §2.7).
    return spectrum(mlp_kernel(1), 3, 8)


def _gram64(kernel, X):
    with enable_x64():
        return np.asarray(kernel.gram(np.asarray(X, dtype=np.float64)), dtype=np.float64)


def _uniform_points(n, d, seed=0):
    with enable_x64():
        X = np.asarray(sample_sphere(jax.random.key(seed), n, d, dtype=np.float64))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- spectral
def test_predict_residual_gd_matches_repeated_multiplication(spec3):
    E = np.array([0.3, 1.0, 2.0, 0.5, 0.25])
    lr, steps = 1.5, 12
    p = predict_residual(spec3, E, lr, steps)
    assert isinstance(p, Prediction) and p.source == "spectrum"
    assert p.norms.shape == (steps + 1, 5) and p.norms.dtype == np.float64
    np.testing.assert_array_equal(p.times, np.arange(steps + 1))
    lam = np.array([1 / 2, 1 / 3, 5 / 64, 0.0, 1 / 192])
    z = np.sqrt(E)
    for t in range(steps + 1):
        np.testing.assert_allclose(p.norms[t], np.abs(z), rtol=1e-12, atol=1e-15)
        z = (1 - lr * lam) * z  # an independent recursion on the exact eigenvalues
    np.testing.assert_array_equal(p.initial, np.sqrt(E))


def test_flow_is_limit_of_gd(spec3):
    # gd with step η for t steps vs flow for time τ = η t: error O(η λ² τ).
    E = np.ones(6)
    tau = 4.0
    errs = []
    for eta in (0.1, 0.01, 0.001):
        steps = int(round(tau / eta))
        gd = predict_residual(spec3, E, eta, steps, times=[steps])
        fl = predict_residual(spec3, E, eta, steps, times=[steps], method="flow")
        np.testing.assert_allclose(fl.norms[0], np.exp(-spec3.eigenvalues[:6] * tau), rtol=1e-12)
        errs.append(np.max(np.abs(gd.norms - fl.norms)))
    assert errs[0] > 0
    np.testing.assert_allclose(np.array(errs[:-1]) / np.array(errs[1:]), 10.0, rtol=0.05)


def test_sobolev_rates_and_bias_direction():
    d = 2
    sp = spectrum(mlp_kernel(2), d, 20)  # depth 2: all λ_k > 0 on S^1
    k = np.arange(1, 21)
    lam = sp.eigenvalues[1:]
    for s in (-1.0, 0.5, 2.0):
        lr = 0.9 * max_stable_lr(sp, loss="sobolev", s=s)
        p = predict_residual(sp, np.ones(21), lr, 1, loss="sobolev", s=s)
        w = (1.0 + k**2) ** s  # (1 + k(k + d − 2))^s with d = 2
        np.testing.assert_allclose(p.norms[1, 1:], np.abs(1 - lr * lam * w), rtol=1e-13)
    np.testing.assert_allclose(sobolev_weights(4, [0, 1, 2], 0.5), np.sqrt([1, 4, 9]))
    slope = {
        s: np.polyfit(np.log(k[4:]), np.log(lam[4:] * (1.0 + k[4:] ** 2) ** s), 1)[0]
        for s in (-1.0, 0.0, 1.0, 2.0)
    }
    assert slope[-1.0] < slope[0.0] < -1.5  # s < 0: stronger bias than plain L²
    assert abs(slope[1.0]) < 0.3  # 2s = d: flat
    assert slope[2.0] > 1.5  # reversed


def test_steps_to_fraction_and_steps_to_fit(spec3):
    E = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    lr = 1.0
    for every in (None, 7):
        p = predict_residual(spec3, E, lr, 400, record_every=every)
        got = p.steps_to_fraction(0.1)
        factor = np.abs(1 - lr * spec3.eigenvalues[:5])
        with np.errstate(divide="ignore"):
            expected = np.log(0.1) / np.log(factor)
        np.testing.assert_allclose(got[:3], expected[:3], rtol=1e-10)
        assert got[3] == np.inf  # λ_3 = 0: never fit
        assert np.isnan(got[4])  # no initial energy
        np.testing.assert_allclose(steps_to_fit(spec3, [0, 1, 2], 0.1, lr), expected[:3])
    assert steps_to_fit(spec3, 3, 0.5, lr) == np.inf
    assert steps_to_fit(spec3, 0, 0.5, 2.0) == 1.0  # factor exactly 0
    np.testing.assert_allclose(
        steps_to_fit(spec3, 1, 0.5, 0.3, method="flow"), np.log(2) / (0.3 / 3), rtol=1e-12
    )


def test_times_and_record_every(spec3):
    p = predict_residual(spec3, np.ones(3), 1.0, 10, record_every=4)
    np.testing.assert_array_equal(p.times, [0, 4, 8, 10])
    q = predict_residual(spec3, np.ones(3), 1.0, 10, times=[3, 10])
    full = predict_residual(spec3, np.ones(3), 1.0, 10)
    np.testing.assert_array_equal(p.norms, full.norms[[0, 4, 8, 10]])
    np.testing.assert_array_equal(q.norms, full.norms[[3, 10]])
    np.testing.assert_array_equal(q.initial, full.norms[0])
    assert predict_residual(spec3, np.ones(3), 1.0, 0).norms.shape == (1, 3)


def test_max_stable_lr(spec3):
    limit = max_stable_lr(spec3)
    assert limit == pytest.approx(2 / 0.5)
    with pytest.raises(ValueError, match="2/λ_max"):
        predict_residual(spec3, np.ones(3), 1.01 * limit, 5)
    p = predict_residual(spec3, np.ones(3), 1.01 * limit, 5, allow_unstable=True)
    assert p.norms[-1, 0] > p.norms[0, 0]
    predict_residual(spec3, np.ones(3), 10 * limit, 5, method="flow")  # flow is always stable
    w = sobolev_weights(3, spec3.degrees, 1.0)
    assert max_stable_lr(spec3, loss="sobolev", s=1.0) == pytest.approx(
        2 / np.max(spec3.eigenvalues * w)
    )
    K = _gram64(mlp_kernel(1), _uniform_points(30, 3))
    assert max_stable_lr(K) == pytest.approx(2 / np.linalg.eigvalsh(K / 30)[-1], rel=1e-12)
    c = np.linspace(0.5, 1.5, 30) / 30
    ev = np.linalg.eigvals(K @ np.diag(c)).real.max()
    assert max_stable_lr(K, loss="weighted", weights=c) == pytest.approx(2 / ev, rel=1e-10)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: predict_residual(s, np.ones(20), 1.0, 5), "kmax"),
        (lambda s: predict_residual(s, -np.ones(3), 1.0, 5), "non-negative"),
        (lambda s: predict_residual(s, np.ones(3), 0.0, 5), "lr"),
        (lambda s: predict_residual(s, np.ones(3), 1.0, -1), "steps"),
        (lambda s: predict_residual(s, np.ones(3), 1.0, 5, method="adam"), "method"),
        (lambda s: predict_residual(s, np.ones(3), 1.0, 5, s=1.0), "sobolev"),
        (lambda s: predict_residual(s, np.ones(3), 1.0, 5, times=[0, 6]), "times"),
        (lambda s: predict_residual(s, np.ones(3), 1.0, 5, times=[2, 1]), "increasing"),
        (lambda s: predict_residual(s, np.ones(3), 1.0, 5, times=[1], record_every=2), "both"),
        (lambda s: steps_to_fit(s, 1, 1.5, 1.0), "fraction"),
        (lambda s: steps_to_fit(s, 99, 0.5, 1.0), "k"),
    ],
)
def test_validation(spec3, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(spec3)


def test_prediction_save_load(spec3, tmp_path):
    p = predict_residual(spec3, np.ones(4), 1.5, 7, record_every=3)
    for name in ("p.json", "p.npz"):
        q = Prediction.load(p.save(tmp_path / name))
        for f in ("times", "degrees", "norms", "initial"):
            np.testing.assert_array_equal(getattr(q, f), getattr(p, f))
        assert (q.method, q.lr, q.loss, q.s, q.source) == (p.method, p.lr, p.loss, p.s, p.source)
    g = predict_residual_gram(
        np.eye(4),
        _uniform_points(4, 3),
        np.ones(4),
        0.5,
        2,
        kmax=2,
        loss="sobolev",
        sobolev=np.eye(4),
    )
    assert np.isnan(Prediction.load(g.save(tmp_path / "g.json")).s)


# ----------------------------------------------------------------------------- finite sample
def _explicit(K, M, r0, lr, steps):
    A = np.eye(len(r0)) - lr * K @ M
    out, r = [r0], r0
    for _ in range(steps):
        r = A @ r
        out.append(r)
    return np.array(out)


@pytest.mark.parametrize("loss", ["mse", "weighted", "sobolev"])
def test_gram_prediction_matches_matrix_powers(loss):
    n, d, steps = 40, 3, 60
    X = _uniform_points(n, d, seed=1)
    K = _gram64(mlp_kernel(2), X)
    r0 = np.random.default_rng(0).standard_normal(n)
    c = np.random.default_rng(1).uniform(0.5, 1.5, n)
    c /= c.sum()  # quadrature weights sum to 1
    S = sobolev_matrix(X, 0.5, 6, weights=c) if loss == "sobolev" else None
    M = {"mse": np.eye(n) / n, "weighted": np.diag(c), "sobolev": S}[loss]
    lr = 0.9 * max_stable_lr(K, loss=loss, weights=c, sobolev=S)
    t, R = predict_residual_vectors(K, r0, lr, steps, loss=loss, weights=c, sobolev=S)
    ref = _explicit(K, M, r0, lr, steps)
    np.testing.assert_allclose(R, ref, rtol=0, atol=1e-12 * np.abs(r0).max())
    p = predict_residual_gram(K, X, r0, lr, steps, kmax=5, loss=loss, weights=c, sobolev=S)
    E = degree_energy(X, ref.T, 5, weights=c)
    np.testing.assert_allclose(p.norms**2, E, rtol=0, atol=1e-12 * E.max())
    np.testing.assert_allclose(p.initial, p.norms[0])
    # gradient flow: r(τ) = expm(−τ K M) r0 at τ = η t.
    t, Rf = predict_residual_vectors(
        K, r0, lr, steps, loss=loss, weights=c, sobolev=S, method="flow", times=[steps]
    )
    np.testing.assert_allclose(Rf[0], expm(-lr * steps * K @ M) @ r0, atol=1e-11)


def test_gram_prediction_exact_dft_bins_on_circle():
    n, lr, steps = 64, 0.7, 50
    with enable_x64():
        X = equispaced_circle(n)
        row = np.asarray(mlp_kernel(1).gram(X[:1], X), dtype=np.float64)[0]
    # The Gram from X Xᵀ is circulant only to ~1e-8 (t = ±1 rounding under the kernel's
    # square-root singularity), so build the exactly circulant, symmetric K from one row.
    row = 0.5 * (row + row[(-np.arange(n)) % n])
    K = row[(np.arange(n)[None, :] - np.arange(n)[:, None]) % n]
    mu = np.fft.fft(row).real / n  # eigenvalues of K/n per DFT bin
    r0 = np.random.default_rng(2).standard_normal(n)
    t, R = predict_residual_vectors(K, r0, lr, steps, record_every=10)
    F0 = np.fft.fft(r0)
    for i, tt in enumerate(t):
        np.testing.assert_allclose(
            np.fft.fft(R[i]), (1 - lr * mu) ** tt * F0, rtol=0, atol=1e-10 * np.abs(F0).max()
        )
    # Sobolev on the circle: S is circulant too, bin m contracts by 1 − η μ_m w_{deg m}.
    S = sobolev_matrix(equispaced_circle(n), 1.0)
    deg = np.minimum(np.arange(n), n - np.arange(n))
    w = 1.0 + deg**2.0
    lr_s = 0.9 * max_stable_lr(K, loss="sobolev", sobolev=S)
    t, R = predict_residual_vectors(K, r0, lr_s, 20, loss="sobolev", sobolev=S, times=[20])
    np.testing.assert_allclose(
        np.fft.fft(R[0]), (1 - lr_s * mu * w) ** 20 * F0, rtol=0, atol=1e-10 * np.abs(F0).max()
    )


def test_quadrature_weights_restore_uniform_rates():
    # Warped circle θ(u) = 2πu + a sin 2πu, u equispaced: c_i = (1 + 2πa/(2π)·…)/n is the
    # trapezoid rule for ∫ g dσ, so K C ≈ the integral operator and cos(kθ) decays at λ_k.
    n, a, kmax = 256, 0.8, 8
    u = np.arange(n) / n
    theta = 2 * np.pi * u + a * np.sin(2 * np.pi * u)
    X = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    c = (1 + a * np.cos(2 * np.pi * u)) / n
    kern = mlp_kernel(2)
    K = _gram64(kern, X)
    lam = spectrum(kern, 2, kmax).eigenvalues
    lr, steps = 1.0 / lam[0], 10
    for k in (1, 2, 4, 6):
        r0 = np.cos(k * theta)
        pw = predict_residual_gram(K, X, r0, lr, steps, kmax=kmax, loss="weighted", weights=c)
        pu = predict_residual_gram(K, X, r0, lr, steps, kmax=kmax, weights=c)
        rate_w = (1 - (pw.norms[-1, k] / pw.initial[k]) ** (1 / steps)) / lr
        rate_u = (1 - (pu.norms[-1, k] / pu.initial[k]) ** (1 / steps)) / lr
        assert abs(rate_w / lam[k] - 1) < 0.02  # quadrature error of a kernel with a kink
        assert abs(rate_u / lam[k] - 1) > 5 * abs(rate_w / lam[k] - 1)


def test_sobolev_matrix_identity():
    rng = np.random.default_rng(3)
    for n in (15, 16):  # odd and even n (even: the Nyquist degree has N = 1)
        X = equispaced_circle(n, offset=0.3)
        r = rng.standard_normal(n)
        E = degree_energy(X, r, n)
        for s in (-1.0, 0.0, 1.5):
            S = sobolev_matrix(X, s)
            w = sobolev_weights(2, np.arange(n + 1), s)
            np.testing.assert_allclose(0.5 * r @ S @ r, 0.5 * np.sum(w * E), rtol=1e-13)
            np.testing.assert_allclose(S, S.T, atol=0)
        S3 = sobolev_matrix(X, 1.0, 3)  # truncation at kmax = 3
        np.testing.assert_allclose(
            r @ S3 @ r, np.sum(sobolev_weights(2, np.arange(4), 1.0) * E[:4]), rtol=1e-13
        )
    # Zonal path (S^2, uniform and quadrature weights): the identity is exact too.
    X = _uniform_points(50, 3, seed=4)
    r = rng.standard_normal(50)
    c = rng.uniform(0, 2, 50)
    c /= c.sum()
    for weights in (None, c):
        S = sobolev_matrix(X, -0.5, 7, weights=weights)
        E = degree_energy(X, r, 7, weights=weights)
        w = sobolev_weights(3, np.arange(8), -0.5)
        np.testing.assert_allclose(r @ S @ r, np.sum(w * E), rtol=1e-12)
        assert np.linalg.eigvalsh(S).min() > -1e-14 * np.abs(S).max()
    with pytest.raises(ValueError, match="kmax"):
        sobolev_matrix(X, 1.0)


def _gauss_grid_s2(m):
    """Product rule on S^2 (Gauss–Legendre in cos θ × trapezoid in φ), exact to degree 2m − 1."""
    u, wu = roots_legendre(m)
    phi = np.arange(2 * m) * np.pi / m
    ct, ph = np.meshgrid(u, phi, indexing="ij")
    st = np.sqrt(1 - ct**2)
    X = np.stack([st * np.cos(ph), st * np.sin(ph), ct], -1).reshape(-1, 3)
    return X, np.repeat(wu / 2 / (2 * m), 2 * m)  # weights of the normalized measure


def test_sobolev_gram_contraction_with_quadrature():
    # On an exact quadrature grid, S with weights is an exact weighted projection for degrees
    # <= kmax, so degree k of r ← (I − η K S) r contracts by 1 − η λ̂_k w_k where λ̂_k is the
    # Nyström (quadrature) eigenvalue of K C: λ̂_k/λ_k − 1 is the same for every s, ~1% here.
    kmax = 4
    X, c = _gauss_grid_s2(16)
    kern = mlp_kernel(2)
    K = _gram64(kern, X)
    lam = spectrum(kern, 3, kmax).eigenvalues
    z = np.array([0.36, 0.48, 0.8])
    ratios = {}
    for s in (-1.0, 1.0, 2.0):
        S = sobolev_matrix(X, s, kmax, weights=c)
        w = sobolev_weights(3, np.arange(kmax + 1), s)
        lr = 0.5 / np.max(lam * w)
        for k in range(kmax + 1):
            r0 = np.polynomial.legendre.Legendre.basis(k)(X @ z)  # zonal harmonic, ‖·‖² = 1/N
            p = predict_residual_gram(
                K, X, r0, lr, 1, kmax=kmax, loss="sobolev", sobolev=S, weights=c
            )
            np.testing.assert_allclose(p.initial[k] ** 2, 1 / (2 * k + 1), rtol=1e-12)
            ratios[s, k] = (1 - p.norms[1, k] / p.initial[k]) / (lr * lam[k] * w[k])
    for k in range(kmax + 1):
        assert abs(ratios[-1.0, k] - 1) < 0.02
        # w_k spans 1/21 (s = −1) to 441 (s = 2); the ratio must not move with it (up to
        # second-order aliasing of the grid, ~1e-7).
        np.testing.assert_allclose([ratios[1.0, k], ratios[2.0, k]], ratios[-1.0, k], rtol=1e-5)


def test_gram_validation():
    X = _uniform_points(6, 3)
    K = _gram64(mlp_kernel(1), X)
    with pytest.raises(ValueError, match="square"):
        predict_residual_vectors(K[:5], np.ones(6), 0.1, 3)
    with pytest.raises(ValueError, match="symmetric"):
        predict_residual_vectors(K + np.triu(np.ones((6, 6)), 1), np.ones(6), 0.1, 3)
    with pytest.raises(ValueError, match="r0"):
        predict_residual_vectors(K, np.ones(5), 0.1, 3)
    with pytest.raises(ValueError, match="weights"):
        predict_residual_vectors(K, np.ones(6), 0.1, 3, loss="weighted")
    with pytest.raises(ValueError, match="sobolev"):
        predict_residual_vectors(K, np.ones(6), 0.1, 3, loss="sobolev")
    with pytest.raises(ValueError, match="positive semi-definite"):
        predict_residual_vectors(K, np.ones(6), 0.1, 3, loss="sobolev", sobolev=-np.eye(6))
    with pytest.raises(ValueError, match="2/λ_max"):
        predict_residual_gram(K, X, np.ones(6), 1.1 * max_stable_lr(K), 3, kmax=2)
    with pytest.raises(ValueError, match="match X"):
        predict_residual_gram(K, X[:5], np.ones(6), 0.1, 3, kmax=2)
    p = predict_residual_gram(K, X, np.ones(6), 0.1, 3, kmax=2)
    assert p.norms.dtype == np.float64 and p.norms.shape == (4, 3)


# ----------------------------------------------------------------------------- optimizer values
def _recursion(x, beta, steps, nesterov):
    """Direct scalar recursion of optax's heavy ball / Nesterov on μθ²/2 (x = ημ)."""
    r, m, out = 1.0, 0.0, [1.0]
    for _ in range(steps):
        g = x * r  # η × gradient
        m = g + beta * m
        r = r - (g + beta * m if nesterov else m)
        out.append(r)
    return np.asarray(out)


@pytest.mark.parametrize("nest", [False, True])
def test_spectral_prediction_with_momentum(spec3, nest):
    E = np.array([0.3, 1.0, 2.0, 0.5, 0.25])
    opt = (optimizers.nesterov if nest else optimizers.momentum)(1.2, 0.8)
    p = predict_residual(spec3, E, opt, 30, loss=losses.mse())
    lam = np.array([1 / 2, 1 / 3, 5 / 64, 0.0, 1 / 192])
    for k in range(5):
        ref = np.sqrt(E[k]) * np.abs(_recursion(opt.lr * lam[k], 0.8, 30, nest))
        np.testing.assert_allclose(p.norms[:, k], ref, rtol=1e-12, atol=1e-15)
    assert (p.method, p.lr, p.loss) == (opt.name, 1.2, "mse")
    limit = max_stable_lr(spec3, optimizer=opt)
    assert limit == pytest.approx(opt.max_stable_lr(0.5), rel=1e-14)
    with pytest.raises(ValueError, match="stability limit 2\\(1 \\+ β\\)"):
        predict_residual(spec3, E, dataclasses.replace(opt, lr=1.01 * limit), 3)


def test_weighted_loss_and_loss_values_in_spectral_predictions(spec3):
    E = np.array([1.0, 1.0, 1.0])
    a = predict_residual(spec3, E, 0.5, 5)
    b = predict_residual(spec3, E, 0.5, 5, loss="weighted")  # operator rates are plain λ_k
    c = predict_residual(spec3, E, 0.5, 5, loss=losses.weighted([0.5, 0.5]))
    np.testing.assert_array_equal(a.norms, b.norms)
    np.testing.assert_array_equal(a.norms, c.norms)
    d = predict_residual(spec3, E, 0.1, 5, loss=losses.sobolev(1.0))
    e = predict_residual(spec3, E, 0.1, 5, loss="sobolev", s=1.0)
    np.testing.assert_array_equal(d.norms, e.norms)
    assert (d.loss, d.s) == ("sobolev", 1.0)
    f = predict_residual(spec3, E, optimizers.flow(0.5), 5)
    np.testing.assert_array_equal(f.norms, predict_residual(spec3, E, 0.5, 5, method="flow").norms)
    with pytest.raises(ValueError, match="No linear prediction for the 'adam'"):
        predict_residual(spec3, E, optimizers.adam(1e-3), 5)
    with pytest.raises(ValueError, match="quadratic.*has none"):
        predict_residual(spec3, E, 0.1, 5, loss=losses.quadratic(np.eye(3)))
    with pytest.raises(ValueError, match="s= with a Loss"):
        predict_residual(spec3, E, 0.1, 5, loss=losses.mse(), s=1.0)
    with pytest.raises(ValueError, match="method='flow' with an Optimizer"):
        predict_residual(spec3, E, optimizers.gd(0.1), 5, method="flow")
    with pytest.raises(ValueError, match="gd, sgd or flow"):
        steps_to_fit(spec3, 1, 0.5, optimizers.momentum(0.1, 0.5))
    assert steps_to_fit(spec3, 1, 0.5, optimizers.gd(0.3)) == steps_to_fit(spec3, 1, 0.5, 0.3)


def test_gram_momentum_on_circulant_dft_bins():
    # Circulant K: each DFT bin is an eigen-direction of K/n, so bin m must follow the
    # scalar heavy-ball recursion at x = η μ_m exactly.
    n, steps = 32, 40
    with enable_x64():
        X = equispaced_circle(n)
        row = np.asarray(mlp_kernel(1).gram(X[:1], X), dtype=np.float64)[0]
    row = 0.5 * (row + row[(-np.arange(n)) % n])
    K = row[(np.arange(n)[None, :] - np.arange(n)[:, None]) % n]
    mu = np.fft.fft(row).real / n
    opt = optimizers.momentum(0.8 * 2 * 1.9 / mu.max(), 0.9)
    r0 = np.random.default_rng(4).standard_normal(n)
    t, R = predict_residual_vectors(K, r0, opt, steps, record_every=10)
    F0 = np.fft.fft(r0)
    h = np.stack([_recursion(opt.lr * m, 0.9, steps, False)[t] for m in mu], axis=1)
    np.testing.assert_allclose(np.fft.fft(R, axis=1), h * F0, rtol=0, atol=1e-10 * np.abs(F0).max())
