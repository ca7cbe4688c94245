import importlib
import json
from fractions import Fraction
from pathlib import Path

import jax
import mpmath
import numpy as np
import pytest
from scipy.special import gammaln, spherical_in

from ntkspec import Spectrum, mlp_kernel, multiplicity, sample_sphere, spectrum

spectrum_module = importlib.import_module("ntkspec.spectrum")

DATA = Path(__file__).parent / "data" / "spectra_reference.json"
REFERENCE = json.loads(DATA.read_text())
HIGHDIM = json.loads((DATA.parent / "spectra_highdim.json").read_text())


def _case_id(c):
    return f"{c['activation']}-{c['kernel']}-d{c['dim']}-L{c['depth']}-b{c['bias_var']}"


def _spectrum_of(case, kmax=100):
    kernel = mlp_kernel(
        case["depth"],
        case["activation"],
        weight_var=case["weight_var"],
        bias_var=case["bias_var"],
        first_layer_var=case["first_layer_var"],
    )
    return spectrum(kernel, case["dim"], kmax, which=case["kernel"])


@pytest.mark.precision
@pytest.mark.parametrize("case", REFERENCE["cases"], ids=_case_id)
def test_against_mpmath_reference(case):
    """The bar of the foundation issue: rel ≤ 1e-10 where λ_k ≥ 1e-6·λ_max, abs ≤ 1e-14·λ_max.

    λ_max is λ_0, or λ_1 for the bias-free erf kernels, which are odd (every even λ_k = 0).
    """
    ref = np.array([float(Fraction(x)) for x in case["eigenvalues"]])
    s = _spectrum_of(case)
    scale = np.abs(ref).max()
    np.testing.assert_array_less(np.abs(s.eigenvalues - ref), 1e-14 * scale)
    # Relative 1e-10 down to λ_k = 3e-6·λ_max. Between 1e-6 and 3e-6·λ_max the float64 floor
    # of the θ rule (~1.5e-16·λ_max: node rounding amplified by the oscillation of P_k) lets
    # 3 of the 168 cases reach 1.0–2.2e-10 at one degree each; see BENCHMARKS.md.
    rel = np.abs(s.eigenvalues - ref) / np.where(ref == 0, np.inf, np.abs(ref))
    assert rel[np.abs(ref) >= 3e-6 * scale].max(initial=0) <= 1e-10
    assert rel[np.abs(ref) >= 1e-6 * scale].max(initial=0) <= 2.5e-10
    assert s.trace == pytest.approx(float(case["kappa_one"]), rel=1e-14)
    # The error is a true bound (rule difference plus rounding floor), never 0 off exact values.
    np.testing.assert_array_less(np.abs(s.eigenvalues - ref), s.error)


@pytest.mark.precision
def test_exact_two_layer_values_d3():
    s = spectrum(mlp_kernel(1), 3, 8)
    exact = [1 / 2, 1 / 3, 5 / 64, 0, 1 / 192, 0, 23 / 16384, 0]
    np.testing.assert_allclose(s.eigenvalues[:8], exact, rtol=0, atol=1e-16)
    for d in (2, 3, 4, 7, 50, 100):
        assert spectrum(mlp_kernel(1), d, 1).eigenvalues[1] == pytest.approx(1 / d, rel=1e-13)


@pytest.mark.precision
def test_parity_bias_free_two_layer_vs_deeper_or_biased():
    for which in ("ntk", "nngp"):
        odd = spectrum(mlp_kernel(1), 3, 30, which).eigenvalues[3::2]
        assert np.abs(odd).max() < 1e-16
        assert spectrum(mlp_kernel(2), 3, 30, which).eigenvalues[3::2].min() > 1e-8
        assert spectrum(mlp_kernel(1, bias_var=0.1), 3, 30, which).eigenvalues[3::2].min() > 1e-8


@pytest.mark.precision
@pytest.mark.parametrize("d", [2, 3, 5, 10])
@pytest.mark.parametrize("n", [0, 1, 4, 7, 20])
def test_monomials_closed_form(d, n):
    """λ_k(t^n) = n!/(n-k)! Γ(d/2) Γ((n-k+1)/2) / (√π 2^k Γ((n+k+d)/2)) for n ≥ k, n ≡ k mod 2."""
    s = spectrum(lambda t: t**n, d, 25)
    for k in range(26):
        if k > n or (n - k) % 2:
            ref = 0.0
        else:
            ref = np.exp(
                gammaln(n + 1)
                - gammaln(n - k + 1)
                + gammaln(d / 2)
                + gammaln((n - k + 1) / 2)
                - 0.5 * np.log(np.pi)
                - k * np.log(2)
                - gammaln((n + k + d) / 2)
            )
        # abs: the float64 floor of the rule, a few ulps of λ_max (= λ_0 for these).
        assert s.eigenvalues[k] == pytest.approx(ref, rel=1e-13, abs=4e-16 * s.eigenvalues.max())
    assert s.kernel == "custom"


@pytest.mark.precision
def test_exponential_kernel_is_spherical_bessel_on_s2():
    # κ(t) = e^{βt} on S^2: λ_k = i_k(β) (modified spherical Bessel function) — scipy reference.
    beta = 2.5
    s = spectrum(lambda t: np.exp(beta * t), 3, 40)
    mpmath.mp.dps = 30
    ref = [
        float(mpmath.sqrt(mpmath.pi / (2 * beta)) * mpmath.besseli(k + 0.5, beta))
        for k in range(41)
    ]
    np.testing.assert_allclose(spherical_in(np.arange(10), beta), ref[:10], rtol=1e-14)
    # rtol where λ_k is well above the float64 floor (~1e-16·λ_0), atol below it.
    np.testing.assert_allclose(s.eigenvalues, ref, rtol=1e-12, atol=2e-16 * ref[0])
    assert abs(s.sum_rule_residual()) < 1e-13 * s.trace  # e^{βt} is entire: no tail left at k=40
    t = np.linspace(-1, 1, 21)
    np.testing.assert_allclose(s.reconstruct(t), np.exp(beta * t), rtol=1e-13)


@pytest.mark.parametrize("act", ["relu", "erf", "gelu"])
@pytest.mark.parametrize("which", ["ntk", "nngp"])
def test_sum_rule_positivity_and_mercer(act, which):
    d = 3
    kernel = mlp_kernel(3, act, bias_var=0.1)
    s = spectrum(kernel, d, 400, which)
    # Positivity (Schoenberg): every NNGP/NTK eigenvalue is ≥ 0 up to the error estimate.
    assert np.all(s.eigenvalues >= -10 * s.error - 2e-16 * s.eigenvalues.max())
    # Sum rule: partial sums approach κ(1) from below; the remainder is the tail.
    residual = s.sum_rule_residual()
    assert -1e-13 * s.trace <= residual < 0.02 * s.trace
    half = Spectrum(
        d, s.degrees[:201], s.eigenvalues[:201], s.multiplicities[:201], s.trace, s.error[:201]
    )
    assert half.sum_rule_residual() > residual - 1e-14 * s.trace  # rounding: erf closes the sum
    # Mercer reconstruction away from t = 1 (where the tail converges slowest).
    t = np.linspace(-1, 0.9, 39)
    tol = 1e-12 if act != "relu" else 2e-4
    np.testing.assert_allclose(s.reconstruct(t), np.asarray(kernel(t, which)), atol=tol * s.trace)


@pytest.mark.precision
def test_decay_exponents():
    # NTK ~ k^{-d}, NNGP ~ k^{-d-2} (Bietti & Mairal 2019), fitted over k in [60, 200].
    for d in (2, 3, 5):
        ntk = spectrum(mlp_kernel(2), d, 200)
        nngp = spectrum(mlp_kernel(2), d, 200, "nngp")
        assert ntk.decay_exponent(60, 200) == pytest.approx(-d, abs=0.1)
        assert nngp.decay_exponent(60, 200) == pytest.approx(-d - 2, abs=0.15)
    two_layer = spectrum(mlp_kernel(1), 3, 200)
    assert two_layer.decay_exponent(60, 200, parity="even") == pytest.approx(-3, abs=0.1)
    with pytest.raises(ValueError, match="resolvable"):
        two_layer.decay_exponent(60, 200, parity="odd")


def test_gram_matrix_eigenvalues_cluster_at_lambda_k():
    """Eigenvalues of K/n for n = 2000 uniform points on S^2 cluster near λ_k with multiplicity N.

    Monte-Carlo error of each cluster mean is O(1/√n) relative; tolerance 8%.
    """
    X = sample_sphere(jax.random.key(0), 2000, 3)
    kernel = mlp_kernel(1)
    mu = np.sort(np.linalg.eigvalsh(np.asarray(kernel.gram(X)) / 2000))[::-1]
    lam = spectrum(kernel, 3, 6).eigenvalues
    start = 0
    for k in (0, 1, 2, 4, 6):  # descending λ_k; odd k >= 3 vanish
        N = multiplicity(3, k)
        block = mu[start : start + N]
        assert block.mean() == pytest.approx(lam[k], rel=0.08)
        start += N


@pytest.mark.precision
def test_large_kmax_and_node_rule_accuracy():
    s = spectrum(mlp_kernel(4), 3, 2000)
    assert np.all(np.isfinite(s.eigenvalues)) and s.error.max() < 1e-14 * s.trace
    assert s.decay_exponent(500, 2000) == pytest.approx(-3, abs=0.05)
    # The hard-coded 32-point Gauss–Legendre rule is correctly rounded (mpmath, 40 digits).
    mpmath.mp.dps = 40
    for u, w in zip(spectrum_module._U, spectrum_module._W, strict=True):
        x = mpmath.findroot(lambda x: mpmath.legendre(32, x), 2 * u - 1)
        dp = mpmath.diff(lambda x: mpmath.legendre(32, x), x)
        assert abs(float((x + 1) / 2) - u) <= 1e-17
        assert abs(float(1 / ((1 - x * x) * dp * dp)) - w) <= 2e-18


def test_save_load_roundtrip(tmp_path):
    # A ReLU spectrum at d = 3 holds all routes' labels ("parts" beyond the first degrees).
    relu = spectrum(mlp_kernel(2), 3, 40)
    assert {"quadrature", "parts"} <= set(relu.method)
    for name in ("r.json", "r.npz"):
        relu.save(tmp_path / name)
        np.testing.assert_array_equal(Spectrum.load(tmp_path / name).method, relu.method)
    s = spectrum(mlp_kernel(2, "erf"), 5, 12)
    for name in ("s.json", "s.npz"):
        s.save(tmp_path / name)
        back = Spectrum.load(tmp_path / name)
        np.testing.assert_array_equal(back.eigenvalues, s.eigenvalues)
        np.testing.assert_array_equal(back.multiplicities, s.multiplicities)
        assert back.dim == 5 and back.trace == s.trace and back.kernel == "ntk"
        np.testing.assert_array_equal(back.error, s.error)
        np.testing.assert_array_equal(back.method, s.method)
    d = json.loads((tmp_path / "s.json").read_text())
    # A file written before the method field existed still loads (method None).
    del d["method"]
    (tmp_path / "old.json").write_text(json.dumps(d))
    old = Spectrum.load(tmp_path / "old.json")
    assert old.method is None and old.zero_within_error().shape == (s.kmax + 1,)
    d["method"] = ["bogus"] * (s.kmax + 1)
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="method"):
        Spectrum.load(tmp_path / "bad.json")
    assert d["multiplicities"][:3] == [1, 5, 14]
    assert d["eigenvalues"] == [float(x) for x in s.eigenvalues]


@pytest.mark.parametrize(
    "args, kwargs, exc, msg",
    [
        ((mlp_kernel(1), 1, 5), {}, ValueError, "dim >= 2"),
        ((mlp_kernel(1), 3, -1), {}, ValueError, "kmax >= 0"),
        ((mlp_kernel(1), 3, 10**7), {}, ValueError, "kmax <= 100000"),
        ((mlp_kernel(1), 3, 5), {"which": "ntj"}, ValueError, "which"),
        (("relu", 3, 5), {}, TypeError, "callable"),
        ((lambda t: t[:2], 3, 5), {}, ValueError, "shape"),
        ((lambda t: np.where(t > 0.5, np.inf, t), 3, 5), {}, ValueError, "finite"),
        ((mlp_kernel(1), 3.0, 5), {}, TypeError, "integer"),
        ((mlp_kernel(1), 3, 5), {"tol": -1.0}, ValueError, "tol"),
        ((mlp_kernel(1), 3, 5), {"method": "exact"}, ValueError, "method"),
        ((lambda t: t, 3, 5), {"method": "series"}, ValueError, "method='series'"),
    ],
)
def test_validation(args, kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        spectrum(*args, **kwargs)


def test_gram_spectrum_converges_to_funk_hecke():
    from ntkspec.spectrum import gram_spectrum

    kernel = mlp_kernel(2, bias_var=0.1)
    exact = spectrum(kernel, 3, 8)
    errs = []
    for n in (400, 1600):
        X = sample_sphere(jax.random.key(n), n, 3)
        est = gram_spectrum(np.asarray(kernel.gram(X)), X, 8)
        errs.append(np.abs(est.eigenvalues - exact.eigenvalues).max() / exact.eigenvalues[0])
        assert est.kernel == "gram" and est.trace == pytest.approx(exact.trace, rel=1e-12)
    # Monte-Carlo error ~ 1/√n: a few percent of λ_0 at n = 400, about half that at 1600.
    assert errs[1] < 0.03 and errs[1] < errs[0]


@pytest.mark.precision
def test_gram_spectrum_exact_with_quadrature_weights():
    from ntkspec.spectrum import gram_spectrum

    # Product Gauss grid on S^2, exact for polynomials of degree <= 31 in each variable: the
    # weighted estimate of a polynomial kernel's λ_k is exact (up to the missing diagonal).
    x, wx = np.polynomial.legendre.leggauss(24)
    phi = 2 * np.pi * np.arange(48) / 48
    T, P = np.meshgrid(x, phi, indexing="ij")
    s = np.sqrt(1 - T**2)
    X = np.stack([s * np.cos(P), s * np.sin(P), T], -1).reshape(-1, 3)
    c = np.repeat(wx, 48) / 2 / 48
    kappa = lambda t: 1 + t + t**2 + 0.5 * t**5  # noqa: E731
    K = kappa(np.clip(X @ X.T, -1, 1))
    est = gram_spectrum(K, X, 6, weights=c)
    # Leaving out the diagonal removes c_i² κ(1) P_k(1) from the V-statistic; add it back.
    exact = spectrum(kappa, 3, 6).eigenvalues
    vstat = est.eigenvalues * (1 - np.sum(c * c)) + np.sum(c * c) * kappa(1.0)
    np.testing.assert_allclose(vstat, exact, atol=1e-13)


@pytest.mark.precision
def test_eig_degrees_on_circle():
    from ntkspec.spectrum import eig_degrees

    n = 64
    X = np.asarray(ns_circle(n))
    K = np.asarray(mlp_kernel(2, bias_var=0.1).gram(X))
    eig = eig_degrees(K, X, 10)
    # Top eigenvector is the constant (degree 0); then pairs of degree 1, 2, 3 ...
    assert list(eig.degree[:7]) == [0, 1, 1, 2, 2, 3, 3]
    np.testing.assert_allclose(eig.fractions[:7].max(axis=1), 1.0, atol=1e-9)
    assert np.all(np.diff(eig.eigenvalues) <= 1e-12)


def ns_circle(n):
    from ntkspec import equispaced_circle

    return equispaced_circle(n)


@pytest.mark.precision
def test_decay_fit_skips_exact_parity_zeros():
    # Bias-free two-layer ReLU: λ_k = 0 for odd k >= 3, λ_k ~ k^{-3} for even k (d = 3).
    # A parity zero must never enter the fit (it used to give +1.39).
    s = spectrum(mlp_kernel(1), 3, 64)
    fit = s.decay_fit(16, 64)
    assert fit.exponent == pytest.approx(-3, abs=0.15)
    assert (fit.kmin, fit.kmax) == (16, 64)
    np.testing.assert_array_equal(fit.degrees, np.arange(16, 65, 2))
    assert s.decay_exponent(16, 64) == fit.exponent
    # Default range: the upper half of 1..kmax.
    assert s.decay_fit().kmin == 32 and s.decay_fit().kmax == 64
    # Odd activation (bias-free erf): even degrees vanish, the odd ones are used.
    odd = spectrum(mlp_kernel(2, "erf"), 3, 40)
    assert np.all(odd.decay_fit(5, 40).degrees % 2 == 1)
    with pytest.raises(ValueError, match=r"k in \[20, 40\] with even parity"):
        odd.decay_fit(20, 40, parity="even")


@pytest.mark.precision
def test_routes_and_exact_parity_zeros():
    # Bias-free two-layer ReLU: odd k >= 3 vanish; bias-free erf: even k vanish. Both routes
    # report them as zero within their error, and never as resolvable.
    for kernel, zero in (
        (mlp_kernel(1), lambda k: k % 2 == 1 and k >= 3),
        (mlp_kernel(2, "erf"), lambda k: k % 2 == 0),
    ):
        for d in (3, 10, 784):
            for method in ("auto", "quadrature", "series"):
                s = spectrum(kernel, d, 30, method=method)
                mask = np.array([zero(k) for k in range(31)])
                assert np.all(s.zero_within_error()[mask]), (d, method)
                assert not np.any(s.resolvable()[mask])
                if method != "auto":
                    assert set(s.method) == {method}
    auto = spectrum(mlp_kernel(3), 100, 40)
    assert np.all(auto.method[1:] == "series")  # high d: the series wins every degree k >= 1
    # low-d ReLU: the θ rule, and integration by parts where it cancels too much
    assert set(spectrum(mlp_kernel(3), 3, 40).method) == {"quadrature", "parts"}


@pytest.mark.precision
def test_tiny_eigenvalues_in_high_dimension_are_not_declared_zero():
    # d = 3072: λ_15 ≈ 1e-50·λ_0 is far below the quadrature floor but exact by the series.
    s = spectrum(mlp_kernel(3), 3072, 20)
    assert not s.zero_within_error().any()
    assert np.all(s.eigenvalues > 0) and np.all(s.error < 1e-12 * s.eigenvalues)
    fit = s.decay_fit(2, 20)
    assert np.array_equal(fit.degrees, np.arange(2, 21))


@pytest.mark.precision
@pytest.mark.parametrize("d", [10, 100, 3072])
def test_sum_rule_with_its_tail(d):
    # erf kernels are analytic beyond ±1: the trace closes to within the certified errors;
    # ReLU kernels leave a positive tail.
    erf = spectrum(mlp_kernel(2, "erf", bias_var=0.1), d, 100)
    assert abs(erf.sum_rule_residual()) <= erf.sum_rule_error() + 1e-20 * erf.trace
    relu = spectrum(mlp_kernel(2), d, 60, "nngp")
    assert relu.sum_rule_residual() > relu.sum_rule_error()  # a certified positive tail
    assert relu.sum_rule_error() < 1e-8 * relu.trace


@pytest.mark.precision
@pytest.mark.parametrize("case", HIGHDIM["cases"], ids=_case_id)
def test_against_highdim_reference(case):
    """d = 10 … 10⁴ (tests/data/spectra_highdim.json, an mpmath θ quadrature at ≥ 95 digits)."""
    ref = np.array([float(Fraction(x)) for x in case["eigenvalues"]])
    d = case["dim"]
    s = _spectrum_of(case, kmax=len(ref) - 1)
    true = np.abs(s.eigenvalues - ref)
    # The reported error is never below the true error, exact zeros included.
    np.testing.assert_array_less(true, s.error)
    rel = true / np.where(ref == 0, np.inf, ref)
    assert rel.max() <= 1e-10, (d, int(np.argmax(rel)))  # every degree, ReLU at d = 10, 30 too
    assert np.all(s.eigenvalues[ref > 0] > 0)  # Schoenberg: no negative noise
    assert s.trace == pytest.approx(float(case["kappa_one"]), rel=1e-14)


LOWDIM = json.loads((DATA.parent / "spectra_lowdim.json").read_text())


@pytest.mark.precision
@pytest.mark.parametrize("case", LOWDIM["cases"], ids=_case_id)
def test_relu_high_degree_low_dimension_against_mpmath(case):
    """d = 2, 3, 5, 9 up to k = 1000 (tests/data/spectra_lowdim.json, 25-digit mpmath θ rule
    with integer fixed-point Gegenbauer sums): every stored λ_k within 1e-10 relative, the
    reported error never below the true error, parity zeros zero within their error."""
    degrees = np.asarray(case["degrees"])
    ref = np.array([float(Fraction(x)) for x in case["eigenvalues"]])
    s = _spectrum_of(case, kmax=int(degrees.max()))
    lam, err = s.eigenvalues[degrees], s.error[degrees]
    true = np.abs(lam - ref)
    np.testing.assert_array_less(true, err)
    nonzero = ref != 0
    rel = true[nonzero] / ref[nonzero]
    assert rel.max() <= 1e-10, (case["dim"], int(degrees[nonzero][np.argmax(rel)]))
    assert np.all(err[nonzero] <= 1e-10 * ref[nonzero])  # certified, not only true
    assert np.all(s.zero_within_error()[degrees[~nonzero]])
    assert np.all(lam[nonzero] > 0)


@pytest.mark.precision
def test_funk_hecke_constant_in_high_dimension():
    # The gammaln difference used before lost ~1e-11 at d = 10⁴ (a systematic error of
    # every quadrature eigenvalue there, caught by the high-d reference).
    mpmath.mp.dps = 40
    for d in (2, 3, 4, 5, 50, 4001, 10_000, 99_999, 100_000):
        ref = mpmath.gamma(mpmath.mpf(d) / 2) / (
            mpmath.sqrt(mpmath.pi) * mpmath.gamma(mpmath.mpf(d - 1) / 2)
        )
        assert spectrum_module.funk_hecke_constant(d) == pytest.approx(float(ref), rel=4e-16)


def test_decay_fit_stops_at_the_noise_floor_without_selection_bias():
    """d = 4, depth-2 ReLU NNGP as a plain callable (θ rule only, no series and no
    integration by parts): λ_k ~ k^-6 reaches the quadrature floor near k ≈ 360.

    Keeping only the degrees that happen to clear 100 × error beyond that point selects
    upward fluctuations and flattens the slope (−5.92 before the fix); the fit must stop at
    the first unresolved degree, and every degree it used must be resolvable.
    """
    kernel = mlp_kernel(2)
    s = spectrum(lambda t: np.asarray(kernel.nngp(t)), 4, 400)
    fit = s.decay_fit(100, 400)
    assert abs(fit.exponent + 6.0) < 0.04, fit.exponent
    used = np.zeros(s.kmax + 1, dtype=bool)
    used[fit.degrees] = True
    first_bad = np.flatnonzero(~s.resolvable()[100:] & ~s.zero_within_error()[100:])
    assert first_bad.size, "the test needs a range that reaches the noise floor"
    assert fit.degrees.max() < 100 + first_bad[0]
    assert np.all(s.resolvable()[used])


def test_gauss_hermite_discretization_enters_the_error():
    """A tanh kernel is only as accurate as its Gauss–Hermite layer maps: the spectrum's error
    includes ``quadrature_error · κ(1)``, and it bounds the distance to a more accurate kernel
    (a higher quadrature order with a tighter tolerance)."""
    coarse = mlp_kernel(2, "tanh", first_layer_var=2.0, quad_order=32, quad_tol=1e-4)
    fine = mlp_kernel(2, "tanh", first_layer_var=2.0, quad_order=256, quad_tol=1e-9)
    assert coarse.quadrature_error > 0
    s, ref = spectrum(coarse, 3, 12), spectrum(fine, 3, 12)
    assert np.all(s.error >= coarse.quadrature_error * s.trace)
    np.testing.assert_array_less(np.abs(s.eigenvalues - ref.eigenvalues), s.error + ref.error)


def test_gram_spectrum_stderr_matches_spread_over_draws():
    from ntkspec.spectrum import gram_spectrum

    # Funk–Hecke λ_k of the depth-1 ReLU NTK as the truth; 30 independent uniform samples.
    kernel, n, kmax, draws = mlp_kernel(1), 300, 6, 30
    exact = spectrum(kernel, 3, kmax).eigenvalues
    z = np.empty((draws, kmax + 1))
    for s in range(draws):
        X = sample_sphere(jax.random.key(1000 + s), n, 3)
        est = gram_spectrum(kernel.gram(X), X, kmax)
        assert np.all(est.stderr > 0) and np.all(est.error == 0)
        z[s] = (est.eigenvalues - exact) / est.stderr
    # A calibrated standard error gives E z² = 1. The estimator is conservative by design (the
    # shared-point term is clipped at 0 and here, for a zonal kernel on uniform points, its true
    # value is 0), which measured ~1.5x over in variance: E z² ≈ 0.67. Sampling sd of the pooled
    # mean of 210 correlated z² is ~0.1, of one degree's 30 z² ~0.2. So: pooled in [0.45, 1.3]
    # (fails if the stderr is off by 1.5x in either direction beyond that), each in [0.25, 2].
    msz = np.mean(z**2, axis=0)
    assert 0.45 <= np.mean(msz) <= 1.3, msz
    assert np.all((msz >= 0.25) & (msz <= 2.0)), msz
    # Not just a bias: the 1/n degenerate rate, so z cannot be dominated by a mean offset.
    assert np.all(np.abs(z.mean(axis=0)) < 3 / np.sqrt(draws) * np.sqrt(msz) + 0.1), z.mean(0)


def test_gram_spectrum_flags_parity_zeros_as_noise(tmp_path):
    from ntkspec.spectrum import gram_spectrum

    kernel = mlp_kernel(1)
    X = sample_sphere(jax.random.key(7), 400, 3)
    est = gram_spectrum(kernel.gram(X), X, 7)
    exact = spectrum(kernel, 3, 7)
    assert np.all(exact.zero_within_error()[3::2])  # the truth: odd k >= 3 vanish
    noise = est.noise()
    assert np.all(noise[3::2]), (est.eigenvalues, est.stderr)
    assert not np.any(noise[:3]), (est.eigenvalues, est.stderr)  # λ_0, λ_1, λ_2 are resolved
    assert np.all(est.noise(z=1e-9) == (est.eigenvalues == 0))
    with pytest.raises(ValueError, match="stderr"):
        exact.noise()
    with pytest.raises(ValueError, match="z"):
        est.noise(z=-1.0)
    for suffix in (".json", ".npz"):
        back = Spectrum.load(est.save(tmp_path / f"g{suffix}"))
        np.testing.assert_array_equal(back.stderr, est.stderr)
        np.testing.assert_array_equal(back.eigenvalues, est.eigenvalues)
        np.testing.assert_array_equal(back.noise(), noise)
        assert back.kernel == "gram" and back.method is None
    assert Spectrum.load(exact.save(tmp_path / "fh.json")).stderr is None
    bad = est.to_dict() | {"stderr": [-1.0] * 8}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="stderr"):
        Spectrum.load(tmp_path / "bad.json")


def test_gram_spectrum_stderr_weighted_reduces_to_uniform():
    from ntkspec.spectrum import gram_spectrum

    # Equal weights are the uniform estimator; an independent O(n³) loop over the
    # Hoeffding terms checks the weighted variance formula on a small non-zonal Gram.
    rng = np.random.default_rng(3)
    n, kmax = 12, 3
    X = np.asarray(sample_sphere(jax.random.key(3), n, 3))
    M = rng.normal(size=(n, n))
    K = M @ M.T / n
    c = rng.uniform(0.5, 1.5, n)
    c /= c.sum()
    a = gram_spectrum(K, X, kmax)
    b = gram_spectrum(K, X, kmax, weights=np.full(n, 1.0 / n))
    np.testing.assert_allclose(b.stderr, a.stderr, rtol=1e-12)
    w = gram_spectrum(K, X, kmax, weights=c)
    from scipy.special import eval_legendre

    G = np.clip(X @ X.T, -1, 1)
    norm = c.sum() ** 2 - np.sum(c * c)
    for k in range(kmax + 1):
        H = K * eval_legendre(k, G)
        lam = sum(c[i] * c[j] * H[i, j] for i in range(n) for j in range(n) if i != j) / norm
        A = H - lam
        pair = sum(
            c[i] ** 2 * c[j] ** 2 * A[i, j] ** 2 for i in range(n) for j in range(n) if i != j
        )
        shared = sum(
            c[m] ** 2 * c[j] * c[l] * A[m, j] * A[m, l]
            for m in range(n)
            for j in range(n)
            for l in range(n)
            if len({m, j, l}) == 3
        )
        assert w.eigenvalues[k] == pytest.approx(lam, rel=1e-12)
        se = np.sqrt(2 * pair + 4 * max(shared, 0.0)) / norm
        assert w.stderr[k] == pytest.approx(se, rel=1e-10)


@pytest.mark.precision
def test_relu_kernel_derivatives_match_autodiff():
    """kernel_derivatives.relu_derivative (Taylor-mode layer maps) against nested jax.grad of
    Kernel.nngp/ntk, with biases, trained biases and depth 2, at interior points."""
    from ntkspec import _compat
    from ntkspec.kernel_derivatives import relu_derivative

    t = np.array([-0.99, -0.5, 0.0, 0.3, 0.9, 0.999])
    for kernel in (mlp_kernel(2, bias_var=0.1, trained_bias=0.3),):
        for which in ("nngp", "ntk"):
            with _compat.enable_x64():
                g = kernel.nngp if which == "nngp" else kernel.ntk
                for m in range(4):
                    want = np.asarray(jax.jit(jax.vmap(g))(jax.numpy.asarray(t)))
                    got = relu_derivative(kernel, which, m, t, 1 - t, 1 + t)
                    np.testing.assert_allclose(
                        got, want, rtol=1e-12, atol=1e-14 * np.abs(want).max()
                    )
                    g = jax.grad(g)
