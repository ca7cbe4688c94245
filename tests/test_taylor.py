"""ntkspec.taylor: Taylor coefficients of MLP kernels, monomial transforms, tail bounds."""

import mpmath
import numpy as np
import pytest

from ntkspec import mlp_kernel, spectrum
from ntkspec._compat import enable_x64
from ntkspec.taylor import (
    kernel_taylor,
    monomial_eigenvalue,
    monomial_sup,
    monomial_table,
    series_eigenvalues,
)


def _arcsin_coeffs(n):
    """arcsin(x) = Σ_m c_m x^{2m+1}, c_m = (2m)! / (4^m (m!)² (2m+1)) (mpmath, exact-ish)."""
    return [
        mpmath.factorial(2 * m) / (4**m * mpmath.factorial(m) ** 2 * (2 * m + 1)) for m in range(n)
    ]


def _relu_depth1_reference(N):
    """Coefficients of k0 = 1/2 + arcsin(t)/π and k1 = 1/π + t/2 + (√(1-t²) - 1 + t arcsin t)/π."""
    mpmath.mp.dps = 40
    c = _arcsin_coeffs(N)
    k0 = [mpmath.mpf(0)] * (N + 1)
    k1 = [mpmath.mpf(0)] * (N + 1)
    k0[0], k1[0], k1[1] = mpmath.mpf(1) / 2, 1 / mpmath.pi, mpmath.mpf(1) / 2
    for m in range((N - 1) // 2 + 1):
        k0[2 * m + 1] += c[m] / mpmath.pi
    for m in range(1, N // 2 + 1):
        k1[2 * m] += ((-1) ** m * mpmath.binomial(0.5, m) + c[m - 1]) / mpmath.pi
    ntk = [k1[n] + (k0[n - 1] if n else 0) for n in range(N + 1)]
    return np.array([float(x) for x in k1]), np.array([float(x) for x in ntk])


@pytest.mark.precision
def test_two_layer_relu_coefficients_closed_form():
    N = 200
    nngp_ref, ntk_ref = _relu_depth1_reference(N)
    for which, ref in (("nngp", nngp_ref), ("ntk", ntk_ref)):
        a = np.asarray(kernel_taylor(mlp_kernel(1), which, N).coefficients, dtype=np.float64)
        nz = ref != 0
        np.testing.assert_allclose(a[nz], ref[nz], rtol=1e-15)
        # Parity zeros are exact zeros (no cancellation anywhere in the recurrences).
        assert np.all(a[~nz] == 0)


@pytest.mark.precision
def test_erf_coefficients_closed_form():
    # Two-layer erf, σ_w² = 1, q_0 = 1: NNGP = (2/π) arcsin(2t/3).
    mpmath.mp.dps = 40
    c = _arcsin_coeffs(60)
    ref = np.zeros(121)
    for m in range(60):
        ref[2 * m + 1] = float(2 / mpmath.pi * c[m] * mpmath.mpf(2 / 3) ** (2 * m + 1))
    a = np.asarray(kernel_taylor(mlp_kernel(1, "erf"), "nngp", 120).coefficients, np.float64)
    np.testing.assert_allclose(a[1::2], ref[1::2], rtol=1e-14)
    assert np.all(a[0::2] == 0)


@pytest.mark.precision
@pytest.mark.parametrize(
    "kernel",
    [
        mlp_kernel(4),
        mlp_kernel(3, bias_var=0.1),
        mlp_kernel(3, "erf", bias_var=0.2),
        mlp_kernel(2, "identity", bias_var=0.3),
        mlp_kernel(2, "sin", bias_var=0.1, first_layer_var=4.0),
        mlp_kernel(2, "cos"),
    ],
    ids=["relu-L4", "relu-L3-b", "erf-L3-b", "identity-L2-b", "sin-L2-b", "cos-L2"],
)
@pytest.mark.parametrize("which", ["ntk", "nngp"])
def test_series_sums_to_the_kernel(kernel, which):
    """Σ a_n tⁿ reproduces the layer recursion inside the disk; coefficients are >= 0."""
    s = kernel_taylor(kernel, which, 1024)
    a = np.asarray(s.coefficients, dtype=np.float64)
    assert np.all(a >= 0)  # Schoenberg
    t = np.linspace(-0.8, 0.8, 17)
    approx = np.polynomial.polynomial.polyval(t, a)
    with enable_x64():  # the layer recursion in float64 whatever the global flag
        exact = np.asarray(kernel(np.asarray(t, np.float64), which), np.float64)
    np.testing.assert_allclose(approx, exact, rtol=0, atol=1e-14 * kernel.kappa_one(which))
    # Tail bounds are nonnegative and, with the partial sums, close κ(1) and κ(-1).
    even, odd = a[0::2].sum(), a[1::2].sum()
    assert np.all(s.tail >= 0)
    k1 = kernel.kappa_one(which)
    with enable_x64():
        km1 = float(kernel(np.float64(-1.0), which))
    slack = 1e-14 * k1  # κ(±1) in float64
    assert even <= 0.5 * (k1 + km1) + s.tail[0] + slack
    assert odd <= 0.5 * (k1 - km1) + s.tail[1] + slack


@pytest.mark.precision
@pytest.mark.skipif(
    np.finfo(np.longdouble).maxexp <= 1024, reason="needs an extended-range np.longdouble"
)
@pytest.mark.parametrize("q", [1.0, 100.0, 900.0])
def test_two_layer_sine_coefficients_closed_form(q):
    # NNGP = e^{-q} sinh(qt): a_n = e^{-q} qⁿ/n! (odd n); NTK adds qt·e^{-q} cosh(qt).
    # At SIREN scale (q = 900) e^{-q} underflows float64: the series runs in extended precision.
    mpmath.mp.dps = 30
    N = 2048
    kernel = mlp_kernel(1, "sin", first_layer_var=q)
    nngp = kernel_taylor(kernel, "nngp", N).coefficients
    ntk = kernel_taylor(kernel, "ntk", N).coefficients
    for n in (1, 3, 7, 99, 101, 901, 1501):
        a_n = mpmath.exp(-q) * mpmath.mpf(q) ** n / mpmath.factorial(n)
        b_n = mpmath.exp(-q) * q * mpmath.mpf(q) ** (n - 1) / mpmath.factorial(n - 1)
        for got, want in ((nngp[n], a_n), (ntk[n], a_n + b_n)):
            want = np.longdouble(mpmath.nstr(want, 25))  # extended range: e^{-900} ≈ 1e-391
            assert float(abs(got - want) / want) < 1e-13
    assert np.all(nngp[0::2] == 0)


@pytest.mark.precision
def test_monomial_transforms_against_mpmath():
    def ref(k, n, d):
        if n < k or (n - k) % 2:
            return mpmath.mpf(0)
        return (
            mpmath.factorial(n)
            / mpmath.factorial(n - k)
            * mpmath.gamma(mpmath.mpf(d) / 2)
            * mpmath.gamma(mpmath.mpf(n - k + 1) / 2)
            / (mpmath.sqrt(mpmath.pi) * 2**k * mpmath.gamma(mpmath.mpf(n + k + d) / 2))
        )

    mpmath.mp.dps = 30
    for d in (2, 3, 10, 784, 10000):
        table = monomial_table(30, 400, d)
        for k in (0, 1, 7, 30):
            for n in (k, k + 2, k + 50, k + 300):
                want = ref(k, n, d)
                got = table[k, (n - k) // 2]
                assert float(got) == pytest.approx(float(want), rel=1e-15, abs=0)
                assert monomial_eigenvalue(k, n, d) == pytest.approx(float(want), rel=1e-11)
                # The ratio recurrence the tail bound relies on.
                r = ref(k, n + 2, d) / want
                assert float(r) == pytest.approx((n + 2) * (n + 1) / ((n + 2 - k) * (n + k + d)))
        assert monomial_eigenvalue(3, 4, d) == 0 and table[5, -1] == 0  # parity, n > nmax


@pytest.mark.parametrize("d", [2, 3, 10, 100, 3072])
def test_monomial_sup_is_the_supremum(d):
    nmax = 60
    got = monomial_sup(40, nmax, d)
    for k in range(41):
        n = np.arange(nmax + 1, nmax + 20001)
        n = n[(n >= k) & ((n - k) % 2 == 0)]
        brute = monomial_eigenvalue(k, n, d).max()
        assert got[k] >= brute
        assert got[k] <= brute * (1 + 1e-9)


@pytest.mark.precision
def test_series_route_agrees_with_quadrature_where_both_are_accurate():
    kernel = mlp_kernel(2, bias_var=0.1)
    d = 10
    lam_s, err_s = series_eigenvalues(kernel_taylor(kernel, "ntk", 1024), d, 12)

    def kappa(t):
        with enable_x64():
            return np.asarray(kernel(t), np.float64)

    q = spectrum(kappa, d, 12)  # a plain callable: quadrature only
    assert set(q.method) == {"quadrature"}
    assert np.all(np.abs(lam_s - q.eigenvalues) <= err_s + q.error)
    assert np.all(err_s[:3] < 1e-10 * lam_s[:3])  # the tail bound grows with k at low d


def test_validation():
    with pytest.raises(ValueError, match=r"activation in .*'relu'.* or a sine; got 'tanh'"):
        kernel_taylor(mlp_kernel(1, "tanh", quad_order=16), "ntk", 10)
    with pytest.raises(ValueError, match="order"):
        kernel_taylor(mlp_kernel(1), "ntk", 0)
    with pytest.raises(ValueError, match="which"):
        kernel_taylor(mlp_kernel(1), "foo", 10)


@pytest.mark.precision
def test_siren_scale_spectrum_routes_agree():
    # Two-layer sine kernel at ω0 = 10 (q = 100) on S^2: both routes, within their errors.
    kernel = mlp_kernel(1, "sin", first_layer_var=100.0)
    series = spectrum(kernel, 3, 60, method="series")
    quad = spectrum(kernel, 3, 60, method="quadrature")
    assert np.all(np.abs(series.eigenvalues - quad.eigenvalues) <= series.error + quad.error)
    assert np.all(series.error <= 1e-12 * np.abs(series.eigenvalues).max())
    assert np.all(series.eigenvalues[0::2] == 0)  # odd kernel


@pytest.mark.precision
@pytest.mark.parametrize("d", [2, 3, 5])
def test_cauchy_tail_makes_low_dimensional_erf_exact(d):
    # erf kernels are analytic beyond t = 1: a_n <= κ(r)/rⁿ bounds the tail with no rounding
    # margin, so every λ_k, k <= 100, is certified to ~1e-13 even where λ_k ≈ 1e-40·λ_1.
    s = spectrum(mlp_kernel(2, "erf"), d, 100)
    odd = s.eigenvalues[1::2]
    assert np.all(s.error[1::2] <= 1e-13 * odd) and odd[-1] < 1e-30 * odd[0]
    assert np.all(s.method[3::2] == "series")
    # Cauchy's estimate itself: a_n r^n <= κ(r), checked with r = 1.25 on the coefficients.
    a = kernel_taylor(mlp_kernel(2, "erf"), "ntk", 1024)
    assert a.tail[0] < 1e-90 and a.tail[1] < 1e-90


def test_kernel_taylor_method_delegates():
    k = mlp_kernel(2, bias_var=0.1)
    a, b = k.taylor("nngp", 64), kernel_taylor(k, "nngp", 64)
    np.testing.assert_array_equal(a.coefficients, b.coefficients)
    np.testing.assert_array_equal(a.tail, b.tail)
