# ruff: noqa: E501  (the case tables keep one case per line)
"""Bad input at every boundary (issue #7): the public API and every CLI option.

API: a ``ValueError``/``TypeError`` whose message says what was expected and what was got
(each case pins the exception type and a regex on the message). CLI: exit status 2 and exactly
one line ``ntkspec: error: …`` on stderr, never a traceback. Every case is cheap: CLI cases
must fail in validation, so the heavy calls (training, a huge model) are replaced by a guard
that fails the test if validation let the input through.

Cases commented ``# LEAD:`` fail until cli.py/compare.py/train.py get the fix named there.
"""

import importlib
import json
import os
import re
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec import (
    Prediction,
    Spectrum,
    TrainRecord,
    compare,
    degree_energy,
    empirical_ntk,
    equispaced_circle,
    gegenbauer,
    max_stable_lr,
    mlp,
    mlp_kernel,
    multiplicity,
    predict_residual,
    predict_residual_gram,
    random_harmonic,
    sample_sphere,
    sobolev_matrix,
    sobolev_weights,
    spectrum,
    steps_to_fit,
    train,
)
from ntkspec.cli import main
from ntkspec.experiments import load_config
from ntkspec.interop import from_stax, stax_params, to_stax
from ntkspec.interop.modules import from_equinox, from_linen, from_nnx
from ntkspec.plot import check_figure_path, plot_decay, plot_heatmap, plot_spectrum
from ntkspec.spectrum import gram_spectrum

# ``ntkspec.experiments.compare`` is shadowed by the function of the same name in its package
# namespace: get the module itself.
compare_module = importlib.import_module("ntkspec.experiments.compare")
models_module = importlib.import_module("ntkspec.models")


V, T = ValueError, TypeError


def api(call, exc, pattern, id, marks=()):
    """``call(env, tmp_path)`` must raise ``exc`` with a message matching ``pattern``."""
    return pytest.param(call, exc, pattern, id=id, marks=marks)


def cli(argv, pattern, id, marks=()):
    """``main(argv)`` ({tmp}: the test's directory) must fail with one line matching ``pattern``."""
    return pytest.param(argv, pattern, id=id, marks=marks)


@pytest.fixture(scope="module")
def env():
    key = jax.random.key(0)
    X = np.asarray(sample_sphere(key, 8, 3), dtype=np.float64)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    kernel = mlp_kernel(1)
    net = mlp(1, 16)
    return SimpleNamespace(
        key=key,
        X=X,
        kernel=kernel,
        spec=spectrum(kernel, 3, 4),
        K=np.asarray(kernel.gram(X), dtype=np.float64),
        r0=np.ones(8),
        net=net,
        params=net.init(key, 3),
    )


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


class ValidationMissed(AssertionError):
    """A heavy call was reached: the CLI let a bad input through its validation."""


def _no_training(step, total):
    raise ValidationMissed("training started: the bad input was not refused up front")


def _record():
    z = np.zeros((2, 3))
    return TrainRecord(np.arange(2), np.ones(2), z, z + 1.0, np.arange(3), False, "mse", 0.1)


def _linen_dense():
    from flax import linen

    return linen.Dense(1)


# (call(env, tmp_path), exception type, regex on the message[, marks])
# fmt: off
API = [
    api(lambda e, p: sample_sphere(e.key, 0, 3), V, r"Expected n >= 1; got 0", "sample_sphere-n0"),
    api(lambda e, p: sample_sphere(e.key, 4, 1), V, r"Expected d >= 2; got 1", "sample_sphere-d1"),
    api(lambda e, p: sample_sphere(e.key, 2.5, 3), T, r"Expected n to be an integer; got 2\.5", "sample_sphere-n-float"),
    api(lambda e, p: sample_sphere(0, 4, 3), T, r"Expected key to be a JAX PRNG key; got int.*jax\.random\.key", "sample_sphere-key-int"),
    api(lambda e, p: sample_sphere(e.key, 4, 3, dtype=jnp.int32), T, r"Expected a floating dtype.*got", "sample_sphere-int-dtype"),
    api(lambda e, p: equispaced_circle(0), V, r"Expected n >= 1; got 0", "equispaced_circle-n0"),
    api(lambda e, p: equispaced_circle(4, offset=float("nan")), V, r"Expected a finite offset; got nan", "equispaced_circle-offset-nan"),
    api(lambda e, p: equispaced_circle(4, offset="a"), T, r"Expected offset to be a real number; got 'a'", "equispaced_circle-offset-str"),
    api(lambda e, p: gegenbauer(-1, 3, 0.5), V, r"Expected kmax >= 0; got -1", "gegenbauer-kmax-negative"),
    api(lambda e, p: gegenbauer(10**9, 3, 0.5), V, r"Expected kmax <= 100000; got 1000000000", "gegenbauer-kmax-absurd"),
    api(lambda e, p: gegenbauer(2, 1, 0.5), V, r"Expected d >= 2; got 1", "gegenbauer-d1"),
    api(lambda e, p: gegenbauer(2, 3, float("nan")), V, r"Expected t .*finite and in \[-1, 1\]; got nan", "gegenbauer-t-nan"),
    api(lambda e, p: gegenbauer(2, 3, [0.5, 2.0]), V, r"Expected t .*in \[-1, 1\]; got 2\.0", "gegenbauer-t-outside"),
    api(lambda e, p: gegenbauer(2, 3, "a"), T, r"Expected t to be a real array; got dtype <U1", "gegenbauer-t-str"),
    api(lambda e, p: multiplicity(1, 2), V, r"Expected d >= 2; got 1", "multiplicity-d1"),
    api(lambda e, p: multiplicity(3, -1), V, r"Expected k >= 0; got -1", "multiplicity-k-negative"),
    api(lambda e, p: multiplicity(3, 1.5), T, r"Expected k to be an integer; got 1\.5", "multiplicity-k-float"),
    api(lambda e, p: multiplicity(3, np.array([0.5])), V, r"Expected non-negative integer degrees k; got", "multiplicity-k-array-float"),
    api(lambda e, p: multiplicity(10**7, 10**7), V, r"at most 100000 digits.*Pass log=True", "multiplicity-absurd"),
    api(lambda e, p: degree_energy(np.ones(3), np.ones(3), 2), V, r"Expected X of shape \(n, d\).*got shape \(3,\)", "degree_energy-X-1d"),
    api(lambda e, p: degree_energy(2 * e.X, e.r0, 2), V, r"Expected points .*unit norm.*got norm 2 \(\|norm - 1\| = 1 > 1e-08\) at row 0.*sample_sphere", "degree_energy-X-norm"),
    api(lambda e, p: degree_energy(np.where(np.eye(8, 3) > 0, np.nan, e.X), e.r0, 2), V, r"Expected finite points in X; got NaN/inf at row 0", "degree_energy-X-nan"),
    api(lambda e, p: degree_energy(np.full((2, 3), np.inf), np.ones(2), 2), V, r"Expected finite points in X; got NaN/inf", "degree_energy-X-inf"),
    api(lambda e, p: degree_energy(np.ones((4, 1)), np.ones(4), 2), V, r"d >= 2.*got shape \(4, 1\)", "degree_energy-d1"),
    api(lambda e, p: degree_energy(np.ones((0, 3)), np.ones(0), 2), V, r"n >= 1.*got shape \(0, 3\)", "degree_energy-no-points"),
    api(lambda e, p: degree_energy([[1.0, 0.0], [1.0]], np.ones(2), 2), T, r"Expected X to be a real array.*got a list", "degree_energy-X-ragged"),
    api(lambda e, p: degree_energy(e.X.astype(complex), e.r0, 2), T, r"Expected X to be a real array.*got dtype complex128", "degree_energy-X-complex"),
    api(lambda e, p: degree_energy(e.X, np.ones(7), 2), V, r"Expected values of shape \(n, \.\.\.\) with n = 8.*got shape \(7,\)", "degree_energy-values-shape"),
    api(lambda e, p: degree_energy(e.X, ["a"] * 8, 2), T, r"Expected values to be a real array; got dtype <U1", "degree_energy-values-str"),
    api(lambda e, p: degree_energy(e.X, e.r0, 10**9), V, r"Expected kmax <= 100000; got 1000000000", "degree_energy-kmax-absurd"),
    api(lambda e, p: degree_energy(e.X, e.r0, 2, weights=-np.ones(8)), V, r"Expected finite, non-negative weights; got weights\[0\] = -1\.0", "degree_energy-weights-negative"),
    api(lambda e, p: degree_energy(e.X, e.r0, 2, weights=np.zeros(8)), V, r"Expected weights with a positive sum; got all zeros", "degree_energy-weights-zero"),
    api(lambda e, p: degree_energy(e.X, e.r0, 2, weights=np.ones(3)), V, r"Expected weights of shape \(8,\).*got shape \(3,\)", "degree_energy-weights-shape"),
    api(lambda e, p: random_harmonic(e.key, e.X, -1), V, r"Expected k >= 0; got -1", "random_harmonic-k-negative"),
    api(lambda e, p: random_harmonic(e.key, e.X, 10**7), V, r"Expected k <= 100000; got 10000000", "random_harmonic-k-absurd"),
    api(lambda e, p: random_harmonic(None, e.X, 1), T, r"Expected key to be a JAX PRNG key; got NoneType", "random_harmonic-key-none"),
    api(lambda e, p: random_harmonic(e.key, e.X, 1, terms=0), V, r"Expected terms >= 1; got 0", "random_harmonic-terms0"),
    api(lambda e, p: mlp_kernel(0), V, r"Expected depth >= 1; got 0", "mlp_kernel-depth0"),
    api(lambda e, p: mlp_kernel(1.5), T, r"Expected depth to be an integer; got 1\.5 of type float", "mlp_kernel-depth-float"),
    api(lambda e, p: mlp_kernel(True), T, r"Expected depth to be an integer; got True of type bool", "mlp_kernel-depth-bool"),
    api(lambda e, p: mlp_kernel(10**9), V, r"Expected depth <= 100; got 1000000000", "mlp_kernel-depth-absurd"),
    api(lambda e, p: mlp_kernel(1, "swish"), V, r"Expected activation to be one of \['relu'.*got 'swish'", "mlp_kernel-activation-unknown"),
    api(lambda e, p: mlp_kernel(1, None), V, r"Expected activation .*got None", "mlp_kernel-activation-none"),
    api(lambda e, p: mlp_kernel(1, lambda x: jnp.log(x)), V, r"Expected activation .*finite.*got NaN or inf", "mlp_kernel-activation-nan"),
    api(lambda e, p: mlp_kernel(1, weight_var=-1.0), V, r"Expected a finite weight_var > 0; got -1\.0", "mlp_kernel-weight_var-negative"),
    api(lambda e, p: mlp_kernel(1, weight_var="2"), T, r"Expected weight_var to be a real number; got '2' of type str", "mlp_kernel-weight_var-str"),
    api(lambda e, p: mlp_kernel(1, weight_var=10**400), V, r"Expected a finite weight_var > 0; got 1000", "mlp_kernel-weight_var-huge-int"),
    api(lambda e, p: mlp_kernel(1, bias_var=float("inf")), V, r"Expected a finite bias_var >= 0; got inf", "mlp_kernel-bias_var-inf"),
    api(lambda e, p: mlp_kernel(1, first_layer_var=0.0), V, r"Expected a finite first_layer_var > 0; got 0\.0", "mlp_kernel-first_layer_var-0"),
    api(lambda e, p: mlp_kernel(1, "tanh", quad_order=1), V, r"Expected quad_order >= 2; got 1", "mlp_kernel-quad_order"),
    api(lambda e, p: mlp_kernel(1, "tanh", quad_order=400), V, r"Expected quad_order <= 256; got 400", "mlp_kernel-quad_order-huge"),
    api(lambda e, p: mlp_kernel(40, weight_var=1e300), V, r"Expected finite, positive layer variances.*weight_var = 1e\+300.*Lower weight_var", "mlp_kernel-variance-overflow"),
    api(lambda e, p: e.kernel(0.5, "foo"), V, r"Expected which to be one of \['nngp', 'ntk'\]; got 'foo'", "Kernel-call-which"),
    api(lambda e, p: e.kernel("a"), T, r"Expected t to be a real number or array .*got dtype <U1", "Kernel-call-t-str"),
    api(lambda e, p: e.kernel(float("nan")), V, r"Expected t = <x, x'> .*in \[-1, 1\]; got nan", "Kernel-call-t-nan"),
    api(lambda e, p: e.kernel(np.array([0.0, 2.0])), V, r"Expected t = <x, x'> .*got 2\.0.*Normalize", "Kernel-call-t-outside"),
    api(lambda e, p: e.kernel.gram(2 * e.X), V, r"unit norm in X; got norm 2", "Kernel-gram-X-norm"),
    api(lambda e, p: e.kernel.gram(e.X, np.eye(4)), V, r"Expected Y with d = 3 columns; got shape \(4, 4\)", "Kernel-gram-Y-dim"),
    api(lambda e, p: e.kernel.gram(e.X, which="ntkk"), V, r"Expected which .*got 'ntkk'", "Kernel-gram-which"),
    api(lambda e, p: e.kernel.kappa_one("foo"), V, r"Expected which .*got 'foo'", "Kernel-kappa_one-which"),
    api(lambda e, p: spectrum(e.kernel, 1, 4), V, r"Expected dim >= 2; got 1", "spectrum-dim1"),
    api(lambda e, p: spectrum(e.kernel, 3.0, 4), T, r"Expected dim to be an integer; got 3\.0", "spectrum-dim-float"),
    api(lambda e, p: spectrum(e.kernel, 10**9, 4), V, r"Expected dim <= 100000; got 1000000000", "spectrum-dim-absurd"),
    api(lambda e, p: spectrum(e.kernel, 3, -1), V, r"Expected kmax >= 0; got -1", "spectrum-kmax-negative"),
    api(lambda e, p: spectrum(e.kernel, 3, 10**6), V, r"Expected kmax <= 100000; got 1000000", "spectrum-kmax-absurd"),
    api(lambda e, p: spectrum(e.kernel, 3, "4"), T, r"Expected kmax to be an integer; got '4' of type str", "spectrum-kmax-str"),
    api(lambda e, p: spectrum(e.kernel, 3, 4, "foo"), V, r"Expected which .*got 'foo'", "spectrum-which"),
    api(lambda e, p: spectrum(None, 3, 4), T, r"Expected a Kernel \(see mlp_kernel\) or a callable .*got NoneType", "spectrum-kernel-none"),
    api(lambda e, p: spectrum(e.kernel, 3, 4, tol=0), V, r"Expected a finite tol > 0; got 0", "spectrum-tol0"),
    api(lambda e, p: spectrum(e.kernel, 3, 4, panels=1), V, r"Expected panels >= 2; got 1", "spectrum-panels1"),
    api(lambda e, p: spectrum(lambda t: 1.0, 3, 4), V, r"Expected the kernel callable to map t of shape \(n,\) .*got shape \(\)", "spectrum-callable-shape"),
    api(lambda e, p: spectrum(lambda t: np.where(t > 0.5, np.nan, t), 3, 4), V, r"Expected finite kernel values .*got NaN or inf", "spectrum-callable-nan"),
    api(lambda e, p: spectrum(lambda t: 1 / 0, 3, 4), T, r"Expected the kernel callable .*failed with ZeroDivisionError", "spectrum-callable-raises"),
    api(lambda e, p: spectrum(lambda t: np.full(t.shape, "a"), 3, 4), T, r"Expected the kernel callable's values to be a real array; got dtype <U1", "spectrum-callable-str"),
    api(lambda e, p: e.spec.decay_exponent(0), V, r"Expected kmin >= 1; got 0", "Spectrum-decay_exponent-kmin0"),
    api(lambda e, p: e.spec.decay_exponent(1, 100), V, r"Expected kmax <= 4; got 100", "Spectrum-decay_exponent-kmax"),
    api(lambda e, p: e.spec.decay_exponent(1, parity="foo"), V, r"Expected parity to be one of \['even', 'odd'\]; got 'foo'", "Spectrum-decay_exponent-parity"),
    api(lambda e, p: Spectrum.load(_write(p, "s.json", '{"dim": 3}')), V, r"Expected a file written by save\(\) with a 'degrees' entry; .*s\.json has none", "Spectrum-load-missing-entry"),
    api(lambda e, p: Spectrum.load(_write(p, "s.json", "[1, 2]")), V, r"Expected a JSON object in .*s\.json .*got list", "Spectrum-load-not-an-object"),
    api(lambda e, p: Spectrum.load(_write(p, "s.npz", b"garbage")), V, r"Expected a \.json or \.npz file written by save\(\); cannot parse .*s\.npz", "Spectrum-load-garbage"),
    api(lambda e, p: gram_spectrum(np.eye(3), e.X, 2), V, r"Expected a finite Gram matrix K of shape \(8, 8\) matching X; got \(3, 3\)", "gram_spectrum-K-shape"),
    api(lambda e, p: gram_spectrum(np.full((8, 8), np.nan), e.X, 2), V, r"Expected a finite Gram matrix K; got NaN or inf", "gram_spectrum-K-nan"),
    api(lambda e, p: gram_spectrum("a", e.X, 2), T, r"Expected the Gram matrix K to be a real array; got dtype <U1", "gram_spectrum-K-str"),
    api(lambda e, p: gram_spectrum(np.eye(1), e.X[:1], 2), V, r"Expected at least 2 points; got 1", "gram_spectrum-one-point"),
    api(lambda e, p: gram_spectrum(e.K, e.X, 2, weights=np.zeros(8)), V, r"positive sum; got all zeros", "gram_spectrum-weights-zero"),
    api(lambda e, p: sobolev_weights(1, np.arange(3), 1.0), V, r"Expected d >= 2; got 1", "sobolev_weights-d1"),
    api(lambda e, p: sobolev_weights(3, np.arange(3), float("nan")), V, r"Expected a finite real Sobolev exponent s; got nan", "sobolev_weights-s-nan"),
    api(lambda e, p: sobolev_weights(3, [-1, 2], 1.0), V, r"Expected non-negative integer degrees; got", "sobolev_weights-degree-negative"),
    api(lambda e, p: sobolev_weights(3, [0.5], 1.0), V, r"Expected non-negative integer degrees; got", "sobolev_weights-degree-fraction"),
    api(lambda e, p: sobolev_weights(3, np.arange(100), 1e6), V, r"Expected Sobolev weights .*fit in float64.*overflow at degree 1\b", "sobolev_weights-overflow"),
    api(lambda e, p: sobolev_matrix(e.X, 1.0), V, r"Expected kmax .*may be omitted only for equispaced", "sobolev_matrix-kmax-missing"),
    api(lambda e, p: sobolev_matrix(e.X, 1.0, 10**9), V, r"Expected kmax <= 100000; got 1000000000", "sobolev_matrix-kmax-absurd"),
    api(lambda e, p: sobolev_matrix(2 * e.X, 1.0, 3), V, r"unit norm in X; got norm 2", "sobolev_matrix-X-norm"),
    api(lambda e, p: predict_residual(e.K, [1.0], 0.1, 10), T, r"Expected a Spectrum .*got ndarray", "predict_residual-not-spectrum"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 0.0, 10), V, r"Expected a finite lr > 0; got 0\.0", "predict_residual-lr0"),
    api(lambda e, p: predict_residual(e.spec, [1.0], -1.0, 10), V, r"Expected a finite lr > 0; got -1\.0", "predict_residual-lr-negative"),
    api(lambda e, p: predict_residual(e.spec, [1.0], float("nan"), 10), V, r"Expected a finite lr > 0; got nan", "predict_residual-lr-nan"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 100.0, 10), V, r"Expected lr below the .*stability limit 2/λ_max = 4; got lr = 100\.0.*allow_unstable=True", "predict_residual-lr-unstable"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 0.1, -1), V, r"Expected steps >= 0; got -1", "predict_residual-steps-negative"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 0.1, 10**12), V, r"Expected at most 10000000 recorded times; got steps = 1000000000000.*record_every", "predict_residual-steps-absurd"),
    api(lambda e, p: predict_residual(e.spec, [-1.0], 0.1, 10), V, r"Expected r0 .*finite and non-negative", "predict_residual-r0-negative"),
    api(lambda e, p: predict_residual(e.spec, np.ones(10), 0.1, 10), V, r"1 <= K <= kmax \+ 1 = 5; got shape \(10,\)", "predict_residual-r0-long"),
    api(lambda e, p: predict_residual(e.spec, ["a"], 0.1, 10), T, r"Expected r0 to be a real array; got dtype <U1", "predict_residual-r0-str"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 0.1, 10, method="adam"), V, r"Expected method to be one of \['flow', 'gd'\]; got 'adam'", "predict_residual-method"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 0.1, 10, loss="l1"), V, r"Expected loss to be one of .*got 'l1'", "predict_residual-loss"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 0.1, 10, times=[5, 3]), V, r"Expected strictly increasing times in \[0, steps = 10\]; got \[5, 3\]", "predict_residual-times"),
    api(lambda e, p: predict_residual(e.spec, [1.0], 0.1, 10).steps_to_fraction(1.5), V, r"Expected fraction in \(0, 1\); got 1\.5", "Prediction-steps_to_fraction"),
    api(lambda e, p: Prediction.load(_write(p, "p.json", '{"times": [0]}')), V, r"Cannot load a Prediction .*Expected a file written by save\(\) with a 'degrees' entry", "Prediction-load-missing-entry"),
    api(lambda e, p: _record().steps_to_fraction(0.0), V, r"Expected a finite fraction > 0; got 0\.0", "TrainRecord-steps_to_fraction"),
    api(lambda e, p: TrainRecord.load(_write(p, "r.json", "{}")), V, r"Expected a file written by save\(\) with a 'times' entry", "TrainRecord-load-missing-entry"),
    api(lambda e, p: predict_residual_gram(np.eye(3), e.X, e.r0, 0.1, 10, kmax=2), V, r"Expected K of shape \(n, n\) = \(8, 8\) to match X; got \(3, 3\)", "predict_residual_gram-K-shape"),
    api(lambda e, p: predict_residual_gram(np.triu(e.K), e.X, e.r0, 0.1, 10, kmax=2), V, r"Expected a symmetric Gram matrix; got relative asymmetry", "predict_residual_gram-K-asymmetric"),
    api(lambda e, p: predict_residual_gram(e.K, e.X, np.ones(3), 0.1, 10, kmax=2), V, r"Expected r0 .*shape \(8,\); got shape \(3,\)", "predict_residual_gram-r0-shape"),
    api(lambda e, p: predict_residual_gram(e.K, e.X, e.r0, 100.0, 10, kmax=2), V, r"stability limit 2/λ_max = .*; got lr = 100\.0", "predict_residual_gram-lr-unstable"),
    api(lambda e, p: predict_residual_gram(e.K, e.X, e.r0, 0.1, 10, kmax=2, loss="weighted"), V, r"Expected weights .*with loss='weighted'", "predict_residual_gram-weighted-no-weights"),
    api(lambda e, p: max_stable_lr(np.ones((3, 4))), V, r"Expected a square Gram matrix of shape \(n, n\); got shape \(3, 4\)", "max_stable_lr-not-square"),
    api(lambda e, p: max_stable_lr(np.full((3, 3), np.nan)), V, r"Expected a finite Gram matrix; got NaN or inf", "max_stable_lr-nan"),
    api(lambda e, p: max_stable_lr(None), T, r"Expected the Gram matrix K to be a real array; got None", "max_stable_lr-none"),
    api(lambda e, p: max_stable_lr("abc"), T, r"Expected the Gram matrix K to be a real array; got dtype <U3", "max_stable_lr-str"),
    api(lambda e, p: steps_to_fit(e.spec, 10, 0.5, 0.1), V, r"Expected k <= 4; got 10", "steps_to_fit-k-above-kmax"),
    api(lambda e, p: steps_to_fit(e.spec, 1, 1.0, 0.1), V, r"Expected fraction in \(0, 1\); got 1\.0", "steps_to_fit-fraction1"),
    api(lambda e, p: steps_to_fit(e.spec, 1, 0.5, 0.0), V, r"Expected a finite lr > 0; got 0\.0", "steps_to_fit-lr0"),
    api(lambda e, p: steps_to_fit(None, 1, 0.5, 0.1), T, r"Expected a Spectrum .*got NoneType", "steps_to_fit-no-spectrum"),
    api(lambda e, p: mlp(0, 16), V, r"Expected depth >= 1; got 0", "mlp-depth0"),
    api(lambda e, p: mlp(1, 0), V, r"Expected width >= 1; got 0", "mlp-width0"),
    api(lambda e, p: mlp(1, -5), V, r"Expected width >= 1; got -5", "mlp-width-negative"),
    api(lambda e, p: mlp(1, 16.0), T, r"Expected width to be an integer; got 16\.0", "mlp-width-float"),
    api(lambda e, p: mlp(1, 16, "swish"), V, r"Expected activation .*got 'swish'", "mlp-activation"),
    api(lambda e, p: mlp(1, 16, centered="yes"), T, r"Expected centered to be a bool; got 'yes'", "mlp-centered-str"),
    api(lambda e, p: mlp(1, 16, dtype="foo"), T, r"Expected a floating dtype for the parameters .*got 'foo'", "mlp-dtype-unknown"),
    api(lambda e, p: mlp(1, 16, dtype=jnp.int32), T, r"Expected a floating dtype for the parameters", "mlp-dtype-int"),
    api(lambda e, p: e.net.init(0, 3), T, r"Expected a JAX PRNG key; got int", "mlp-init-key-int"),
    api(lambda e, p: e.net.init(e.key, 0), V, r"Expected d >= 1; got 0", "mlp-init-d0"),
    api(lambda e, p: e.net.apply(e.params, np.ones((2, 4))), V, r"Expected X of shape \(n, 3\) or \(3,\) .*got shape \(2, 4\)", "mlp-apply-X-dim"),
    api(lambda e, p: e.net.apply(None, np.ones((2, 3))), V, r"Expected params to be a list of depth \+ 1 = 2 layer dicts .*got NoneType", "mlp-apply-params-none"),
    api(lambda e, p: empirical_ntk(e.net.apply, e.params, e.X, method="foo"), V, r"Expected method to be one of .*got 'foo'", "empirical_ntk-method"),
    api(lambda e, p: empirical_ntk(e.net.apply, e.params, np.full((2, 3), np.nan)), V, r"Expected finite inputs in X1; got NaN/inf at row 0", "empirical_ntk-X-nan"),
    api(lambda e, p: empirical_ntk(e.net.apply, e.params, np.ones(3)), V, r"Expected X1 of shape \(n, d\) .*got shape \(3,\)", "empirical_ntk-X-1d"),
    api(lambda e, p: empirical_ntk(e.net.apply, e.params, e.X, np.ones((2, 4))), V, r"Expected X2 of shape \(n, 3\) to match X1; got shape \(2, 4\)", "empirical_ntk-X2-shape"),
    api(lambda e, p: empirical_ntk(3, e.params, e.X), T, r"Expected apply_fn to be a function .*got int", "empirical_ntk-apply-not-callable"),
    api(lambda e, p: empirical_ntk(lambda q, x: x[:, 0], e.params, e.X, method="structured"), T, r"method='structured' needs .*mlp", "empirical_ntk-structured-not-mlp"),
    api(lambda e, p: empirical_ntk(lambda q, x: x, e.params, e.X), V, r"Expected apply_fn\(params, X\) to return shape \(n,\) .*got \(1, 3\)", "empirical_ntk-vector-output"),
    api(lambda e, p: empirical_ntk(lambda q, x: 1 / 0, e.params, e.X, method="jacobian"), T, r"Expected apply_fn\(params, X\) to evaluate .*failed with ZeroDivisionError", "empirical_ntk-apply-raises"),
    api(lambda e, p: empirical_ntk(e.net.apply, e.params, e.X, block_size=0), V, r"Expected block_size >= 1; got 0", "empirical_ntk-block0"),
    api(lambda e, p: empirical_ntk(e.net.apply, e.params, e.X, mesh="x"), T, r"Expected mesh to be a jax\.sharding\.Mesh or None; got", "empirical_ntk-mesh"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), lr=0.0, steps=1, kmax=2), V, r"Expected a finite lr > 0; got 0\.0", "train-lr0"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), steps=1, kmax=2), V, r"Expected lr > 0 for plain gradient descent", "train-lr-missing"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), lr=0.1, steps=-1, kmax=2), V, r"Expected steps >= 0; got -1", "train-steps-negative"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(3), lr=0.1, steps=1, kmax=2), V, r"Expected finite targets y of shape \(8,\); got shape \(3,\)", "train-y-shape"),
    api(lambda e, p: train(e.net.apply, e.params, 2 * e.X, np.zeros(8), lr=0.1, steps=1, kmax=2), V, r"unit norm in X; got norm 2", "train-X-norm"),
    api(lambda e, p: train(3, e.params, e.X, np.zeros(8), lr=0.1, steps=1, kmax=2), T, r"Expected apply to be callable; got int", "train-apply-not-callable"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), lr=0.1, steps=1, kmax=2, loss="l1" ), V, r"Expected loss to be one of .*got 'l1'", "train-loss"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), lr=0.1, steps=1, kmax=2, record_every=0 ), V, r"Expected record_every >= 1; got 0", "train-record_every0"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), steps=1, kmax=2, optimizer=3), T, r"Expected optimizer to be an optax GradientTransformation .*got int", "train-optimizer"),
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), lr=0.1, steps=1, kmax=10**9, callback=_no_training), V, r"Expected kmax <= \d+; got 1000000000", "train-kmax-absurd"),  # LEAD: train: cap kmax up front, not after training
    api(lambda e, p: train(e.net.apply, e.params, e.X, ["a"] * 8, lr=0.1, steps=1, kmax=2), T, r"Expected .*targets y .*real", "train-y-str"),  # LEAD: train: y via _validate.as_real_array
    api(lambda e, p: train(e.net.apply, e.params, e.X, np.zeros(8), lr=0.1, steps=1, kmax=2, callback=3), T, r"Expected callback to be callable.*got int", "train-callback-not-callable"),  # LEAD: train: check callable(callback) up front
    api(lambda e, p: load_config(_write(p, "c.toml", "dim = [\n")), V, r"Invalid TOML in .*c\.toml", "load_config-toml-syntax"),
    api(lambda e, p: load_config(_write(p, "c.toml", "dimension = 3\n")), V, r"Unknown config key\(s\) \['dimension'\]; expected sections .*flat 0\.1 keys \[.*'dim'", "load_config-unknown-key"),
    api(lambda e, p: load_config(_write(p, "c.toml", 'dim = "three"\n')), T, r"Expected data\.dim to be an integer; got 'three' of type str", "load_config-wrong-type"),
    api(lambda e, p: load_config(_write(p, "c.toml", "[dim]\nx = 1\n")), T, r"Expected data\.dim to be an integer; got \{'x': 1\}", "load_config-table-for-value"),
    api(lambda e, p: load_config(p / "missing.toml"), V, r"Cannot read config file .*missing\.toml", "load_config-missing-file"),
    api(lambda e, p: load_config(p), V, r"Cannot read config file", "load_config-directory"),
    api(lambda e, p: load_config(_write(p, "b.toml", b"\x00\xff\xfe\x89PNG garbage")), V, r"Cannot read config file .*b\.toml", "load_config-binary"),
    api(lambda e, p: load_config({"degrees": []}), V, r"Expected a non-empty list of distinct target\.degrees; got \(\)", "load_config-degrees-empty"),
    api(lambda e, p: load_config({"degrees": [1, 1]}), V, r"distinct target\.degrees; got \(1, 1\)", "load_config-degrees-repeated"),
    api(lambda e, p: load_config({"degrees": "1,2"}), T, r"Expected target\.degrees to be a list of integers; got '1,2'", "load_config-degrees-str"),
    api(lambda e, p: load_config({"amplitudes": [0.1, 0.2]}), V, r"Expected one amplitude per degree \(3\) or a single one; got 2", "load_config-amplitudes-count"),
    api(lambda e, p: load_config({"amplitudes": [float("nan")]}), V, r"Expected a finite target\.amplitudes entry > 0; got nan", "load_config-amplitudes-nan"),
    api(lambda e, p: load_config({"lr_fraction": 1.5}), V, r"Expected optimizer\.lr_fraction < 1 .*got 1\.5", "load_config-lr_fraction"),
    api(lambda e, p: load_config({"lr": 0}), V, r"Expected a finite optimizer\.lr > 0; got 0", "load_config-lr0"),
    api(lambda e, p: load_config({"sampling": "equispaced"}), V, r"Expected data\.dim = 2 for data\.distribution = 'equispaced' \(S\^1\)", "load_config-equispaced-dim3"),
    api(lambda e, p: load_config({"width": 0}), V, r"Expected model\.width >= 1; got 0", "load_config-width0"),
    api(lambda e, p: load_config(preset="nope"), V, r"Expected preset to be one of \['circle', 'sphere3', 'tiny', 'vmf'\]; got 'nope'", "load_config-preset"),
    api(lambda e, p: load_config(preset=["tiny"]), (T, V), r"Expected preset .*got \['tiny'\]", "load_config-preset-list"),  # LEAD: load_config: check isinstance(preset, str)
    api(lambda e, p: load_config({1: 2, "x": 3}), V, r"Unknown config key\(s\) .*'x'", "load_config-non-str-keys"),  # LEAD: load_config: sort unknown keys with key=repr (now '<' not supported)
    api(lambda e, p: load_config(3), T, r"Expected .*TOML .*mapping.*got int", "load_config-source-int"),  # LEAD: load_config: type-check source
    api(lambda e, p: load_config({"seed": 2**64}), V, r"Expected run\.seed <= \d+; got 18446744073709551616", "load_config-seed-absurd"),  # LEAD: CompareConfig: seed <= 2**63 - 1
    api(lambda e, p: load_config({"amplitudes": [1e308]}), V, r"Expected .*amplitudes.*1e\+308", "load_config-amplitudes-absurd"),  # LEAD: CompareConfig: bound amplitudes
    api(lambda e, p: load_config({"dim": 2, "sampling": "equispaced", "n": 8, "degrees": [1, 4]}), V, r"Expected target\.degrees below the Nyquist degree data\.n/2 = 4; got 4", "load_config-nyquist"),
    api(lambda e, p: compare([1, 2]), T, r"Expected config to be a TOML path, a mapping or an ExperimentConfig; got list", "compare-list"),
    api(lambda e, p: compare({"dimm": 3}), V, r"Unknown config key\(s\) \['dimm'\]", "compare-unknown-key"),
    api(lambda e, p: plot_spectrum(3), T, r"Expected a Spectrum or a sequence of them; got int", "plot_spectrum-type"),
    api(lambda e, p: plot_spectrum(e.spec, path=p / "x.txt"), V, r"Expected a figure path ending in one of .*\.png.*got '.*x\.txt'", "plot_spectrum-path-suffix"),
    api(lambda e, p: plot_spectrum(e.spec, fit=(1, 100)), V, r"Expected fit kmax <= the spectrum's kmax = 4; got 100", "plot_spectrum-fit"),
    api(lambda e, p: plot_spectrum(e.spec, labels=["a", "b"]), V, r"Expected 1 labels \(one per spectrum\); got 2", "plot_spectrum-labels"),
    api(lambda e, p: plot_decay([]), V, r"Expected at least one Prediction or TrainRecord; got an empty sequence", "plot_decay-empty"),
    api(lambda e, p: plot_heatmap([0, 1], [1], np.zeros((3, 1))), V, r"Expected fraction_learned of shape .* = \(2, 1\); got \(3, 1\)", "plot_heatmap-shape"),
    api(lambda e, p: plot_heatmap([1, 0], [1], np.zeros((2, 1))), V, r"Expected finite, strictly increasing times; got \[1, 0\]", "plot_heatmap-times"),
    api(lambda e, p: check_figure_path(None), T, r"Expected path to be a str or os\.PathLike; got NoneType", "check_figure_path-none"),
    api(lambda e, p: from_stax(3, 3), T, r"Expected kernel_fn to be a neural-tangents kernel_fn.*got int", "from_stax-not-callable"),
    api(lambda e, p: from_stax(lambda a, b, c: a @ b.T, 1), V, r"Expected dim >= 2; got 1", "from_stax-dim1"),
    api(lambda e, p: from_stax(lambda a, b, c: a @ b.T, 3, which="foo"), V, r"Expected which .*got 'foo'", "from_stax-which"),
    api(lambda e, p: from_stax(lambda a, b, c: a @ b.T, 3, check="yes"), T, r"Expected check to be a bool; got 'yes'", "from_stax-check-str"),
    api(lambda e, p: from_stax(lambda a, b, c: a[:, :1] * b[:, :1].T, 3), V, r"Expected a zonal kernel on S\^2", "from_stax-not-zonal"),
    api(lambda e, p: from_stax(lambda a, b, c: 1 / 0, 3), V, r"Expected a neural-tangents kernel_fn.*failed with ZeroDivisionError", "from_stax-raises"),
    api(lambda e, p: to_stax(0), V, r"Expected depth >= 1; got 0", "to_stax-depth0"),
    api(lambda e, p: to_stax(1, width=0), V, r"Expected width >= 1; got 0", "to_stax-width0"),
    api(lambda e, p: stax_params(None), T, r"Expected the params of an uncentered ntkspec mlp.*got NoneType", "stax_params-none"),
    api(lambda e, p: stax_params([1, 2]), T, r"Expected the params of an uncentered ntkspec mlp.*got list", "stax_params-ints"),
    api(lambda e, p: stax_params(mlp(1, 4, centered=True).init(e.key, 3)), V, r"Expected the params of an uncentered mlp .*got a centered pair", "stax_params-centered"),
    api(lambda e, p: from_equinox(3), T, r"Expected an equinox\.Module; got int", "from_equinox-not-module"),
    api(lambda e, p: from_linen(None, {}), T, r"Expected a flax\.linen\.Module; got NoneType", "from_linen-not-module"),
    api(lambda e, p: from_linen(_linen_dense(), 3), T, r"Expected variables to be the mapping returned by module\.init\(\.\.\.\); got int", "from_linen-variables-int"),
    api(lambda e, p: from_linen(_linen_dense(), {}), V, r"Expected Linen variables with a 'params' collection", "from_linen-no-params"),
    api(lambda e, p: from_nnx(3), T, r"Expected a flax\.nnx\.Module; got int", "from_nnx-not-module"),
]
# fmt: on

_NEEDS = {"from_equinox": "equinox", "from_linen": "flax", "from_nnx": "flax"}


@pytest.mark.parametrize("call, exc, pattern", API)
def test_api_bad_input(env, tmp_path, request, call, exc, pattern):
    name = request.node.callspec.id.split("-")[0]
    if name in _NEEDS:
        pytest.importorskip(_NEEDS[name])
    with pytest.raises(exc, match=pattern) as info:
        call(env, tmp_path)
    assert type(info.value) in (ValueError, TypeError)  # never a subclass from deep inside


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def guard(monkeypatch):
    """Make the heavy calls fail loudly instead of running (training, a huge model)."""

    def no_training(*args, **kwargs):
        raise ValidationMissed("training started: the bad input was not refused")

    real_mlp = models_module.mlp

    def small_mlp(depth, width, *args, **kwargs):
        if isinstance(width, int) and width > 1 << 20:
            raise ValidationMissed(f"a width-{width} model was built")
        return real_mlp(depth, width, *args, **kwargs)

    monkeypatch.setattr(compare_module, "fit", no_training)
    monkeypatch.setattr(models_module, "mlp", small_mlp)


FAST = ["--preset", "tiny", "--n", "32", "--width", "32", "--steps", "10", "--quiet"]
SPEC = ["spectrum", "--dim", "3", "--depth", "1", "--kmax", "4"]
NTK = ["ntk", "--dim", "3", "--depth", "1", "--n", "8", "--width", "8", "--kmax", "2"]


def _compare(*extra):
    return ["compare", *FAST, "--out", "{tmp}/out", *extra]


# (argv with {tmp} placeholders, regex on the error line[, marks])
# fmt: off
CLI = [
    cli([], r"required: COMMAND|the following arguments are required", "no-subcommand"),
    cli(["frobnicate"], r"invalid choice: 'frobnicate'", "unknown-subcommand"),
    cli(_compare("--config", "{tmp}/syntax.toml"), r"Invalid TOML in .*syntax\.toml", "config-toml-syntax"),
    cli(_compare("--config", "{tmp}/unknown.toml"), r"Unknown config key\(s\) \['dimension'\]", "config-unknown-key"),
    cli(_compare("--config", "{tmp}/wrongtype.toml"), r"Expected data\.dim to be an integer; got 'three'", "config-wrong-type"),
    cli(_compare("--config", "{tmp}/missing.toml"), r"Cannot read config file .*missing\.toml", "config-missing"),
    cli(_compare("--config", "{tmp}"), r"Cannot read config file", "config-is-directory"),
    cli(_compare("--config", "{tmp}/garbage.toml"), r"Cannot read config file .*garbage\.toml", "config-binary-garbage"),
    cli(_compare("--config", "{tmp}/table.toml"), r"Expected data\.dim to be an integer; got \{\}", "config-table-for-value"),
    cli(["compare", *FAST, "--out", "{tmp}/readonly"], r"not writable", "out-unwritable", pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")),
    cli(["compare", *FAST, "--out", "{tmp}/other-run"], r"already holds a different run.*--force", "out-holds-different-run"),
    cli(["compare", *FAST, "--out", "{tmp}/garbled-run"], r"already holds a different run", "out-holds-garbled-run-json"),
    cli(["compare", *FAST, "--out", "{tmp}/a-file"], r"Expected --out to be a directory; .*a-file is a file", "out-is-a-file"),
    cli(["compare", *FAST, "--out", "{tmp}/a-file/sub"], r"a-file/sub|Not a directory", "out-under-a-file"),
    cli(_compare("--degrees", "1,x"), r"argument --degrees: expected comma-separated integers, got '1,x'", "degrees-not-int"),
    cli(_compare("--degrees", "1.5"), r"expected comma-separated integers, got '1\.5'", "degrees-float"),
    cli(_compare("--degrees", ""), r"Expected a non-empty list of distinct target\.degrees", "degrees-empty"),
    cli(_compare("--degrees", "2,2"), r"distinct target\.degrees; got \(2, 2\)", "degrees-repeated"),
    cli(_compare("--degrees", "-1"), r"Expected target\.degrees entry >= 0; got -1", "degrees-negative"),
    cli(_compare("--degrees", "99999999"), r"Expected target\.degrees entry <= 10000; got 99999999", "degrees-absurd"),
    cli(_compare("--amplitudes", "nan"), r"Expected a finite target\.amplitudes entry > 0; got nan", "amplitudes-nan"),
    cli(_compare("--amplitudes", "0.1,0.2"), r"one amplitude per degree", "amplitudes-count"),
    cli(_compare("--lr", "0"), r"Expected a finite optimizer\.lr > 0; got 0\.0", "lr-zero"),
    cli(_compare("--lr", "-1"), r"Expected a finite optimizer\.lr > 0; got -1\.0", "lr-negative"),
    cli(_compare("--lr", "inf"), r"Expected a finite optimizer\.lr > 0; got inf", "lr-inf"),
    cli(_compare("--lr", "1e6"), r"optimizer\.lr = 1e\+06 is above the stability limit [\d.]+ of gd .*--allow-unstable", "lr-above-stability-limit"),
    cli(_compare("--lr-fraction", "1.5"), r"Expected optimizer\.lr_fraction < 1", "lr-fraction-above-1"),
    cli(_compare("--dim", "1"), r"Expected data\.dim >= 2; got 1", "compare-dim-1"),
    cli(_compare("--dim", "100000"), r"Expected data\.dim <= 1000; got 100000", "compare-dim-absurd"),
    cli(_compare("--depth", "0"), r"Expected model\.depth >= 1; got 0", "compare-depth-0"),
    cli(_compare("--width", "0"), r"Expected model\.width >= 1; got 0", "compare-width-0"),
    cli(_compare("--width", "-8"), r"Expected model\.width >= 1; got -8", "compare-width-negative"),
    cli(_compare("--n", "1"), r"Expected data\.n >= 2; got 1", "compare-n-1"),
    cli(_compare("--n", "99999999999"), r"Expected data\.n <= 16384", "compare-n-absurd"),
    cli(_compare("--steps", "0"), r"Expected run\.steps >= 1; got 0", "compare-steps-0"),
    cli(_compare("--steps", "100000000"), r"Expected run\.steps <= 10000000", "compare-steps-absurd"),
    cli(_compare("--record-every", "0"), r"Expected run\.record_every >= 1; got 0", "compare-record-every-0"),
    cli(_compare("--seed", "-1"), r"Expected run\.seed >= 0; got -1", "compare-seed-negative"),
    cli(_compare("--seed", "99999999999999999999999"), r"Expected run\.seed <= \d+", "compare-seed-absurd"),  # LEAD: CompareConfig: seed <= 2**63 - 1 (OverflowError traceback)
    cli(_compare("--amplitudes", "1e308"), r"amplitude", "compare-amplitudes-absurd"),  # LEAD: CompareConfig: bound amplitudes (1e308 reaches training)
    cli(_compare("--checkpoint-every", "0"), r"Expected checkpoint_every >= 1; got 0", "compare-checkpoint-every-0"),  # LEAD: cli: check --checkpoint-every before the run starts
    cli(_compare("--weight-var", "nan"), r"Expected a finite weight_var > 0; got nan", "compare-weight-var-nan"),
    cli(_compare("--bias-var", "-1"), r"Expected a finite bias_var >= 0; got -1\.0", "compare-bias-var-negative"),
    cli(_compare("--first-layer-var", "0"), r"Expected a finite first_layer_var > 0; got 0\.0", "compare-first-layer-var-0"),
    cli(_compare("--activation", "swishy"), r"Expected model\.activation to be one of .*got 'swishy'", "compare-activation"),
    cli(_compare("--sampling", "nope"), r"Expected data\.distribution to be one of \[.*'equispaced'.*\]; got 'nope'", "compare-sampling"),
    cli(_compare("--sampling", "equispaced"), r"Expected data\.dim = 2 for data\.distribution = 'equispaced'", "compare-equispaced-on-S2"),
    cli(_compare("--preset", "nope"), r"argument --preset: invalid choice: 'nope'", "compare-preset"),
    cli(["compare", "--resume", "{tmp}/missing-dir"], r"Cannot resume .*missing-dir", "resume-missing-dir"),
    cli(["compare", "--resume", "{tmp}/garbled-run"], r"Cannot resume .*garbled-run", "resume-garbled-run-json"),
    cli(["compare", "--resume", "{tmp}/other-run", "--dim", "3"], r"--resume DIR takes the configuration from DIR/run\.json; drop --dim", "resume-with-options"),
    cli(["spectrum", "--dim", "3", "--depth", "1", "--kmax", "-5"], r"Expected kmax >= 0; got -5", "spectrum-kmax-negative"),
    cli(["spectrum", "--dim", "3", "--depth", "1", "--kmax", "1e3"], r"argument --kmax: invalid int value: '1e3'", "spectrum-kmax-not-int"),
    cli(["spectrum", "--dim", "3", "--depth", "1", "--kmax", "99999999999999999999"], r"Expected kmax <= 100000", "spectrum-kmax-absurd"),
    cli(["spectrum", "--dim", "1000000000", "--depth", "1"], r"Expected dim <= 100000; got 1000000000", "spectrum-dim-absurd"),
    cli(["spectrum", "--dim", "3", "--depth", "1000000000"], r"Expected depth <= 100; got 1000000000", "spectrum-depth-absurd"),
    cli([*SPEC, "--depth", "40", "--weight-var", "1e300"], r"Expected finite, positive layer variances", "spectrum-variance-overflow"),
    cli([*SPEC, "--out", "{tmp}/a-file/s.json"], r"a-file", "spectrum-out-under-a-file"),
    cli([*SPEC, "--out", "{tmp}/s.csv"], r"Expected --out to end in \.json or \.npz; got '.*s\.csv'", "spectrum-out-suffix"),
    cli([*SPEC, "--plot", ""], r"Expected a figure path ending in one of .*got ''", "spectrum-plot-empty"),
    cli([*NTK, "--width", "0"], r"Expected width >= 1; got 0", "ntk-width-0"),
    cli([*NTK, "--n", "1"], r"Expected n >= 2; got 1", "ntk-n-1"),
    cli([*NTK, "--n", "999999999"], r"Expected n <= 16384", "ntk-n-absurd"),
    cli([*NTK, "--kmax", "-1"], r"Expected kmax >= 0; got -1", "ntk-kmax-negative"),
    cli([*NTK, "--seed", "-1"], r"Expected seed >= 0; got -1", "ntk-seed-negative"),
    cli([*NTK, "--method", "nope"], r"(invalid choice: 'nope'|Expected method to be one of .*got 'nope')", "ntk-method"),
    cli([*NTK, "--kernel", "nngp"], r"Expected --kernel ntk", "ntk-kernel-nngp"),
    cli([*NTK, "--out", "{tmp}/a-file"], r"Expected --out to be a directory", "ntk-out-is-a-file"),
    cli([*NTK, "--width", "10000000000"], r"Expected width <= \d+", "ntk-width-absurd"),
    cli([*NTK, "--seed", "99999999999999999999999"], r"Expected seed <= \d+", "ntk-seed-absurd"),  # LEAD: cli ntk: seed <= 2**63 - 1 (OverflowError traceback)
]
# fmt: on


def _setup_tree(tmp):
    (tmp / "syntax.toml").write_text("dim = [\n")
    (tmp / "unknown.toml").write_text("dimension = 3\n")
    (tmp / "wrongtype.toml").write_text('dim = "three"\n')
    (tmp / "garbage.toml").write_bytes(b"\x00\xff\xfe\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (tmp / "table.toml").write_text("[dim]\n")
    (tmp / "a-file").write_text("")
    other = tmp / "other-run"
    other.mkdir()
    (other / "run.json").write_text(json.dumps({"status": "done", "config": {"dim": 5}}))
    garbled = tmp / "garbled-run"
    garbled.mkdir()
    (garbled / "run.json").write_text("{not json")
    readonly = tmp / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)


@pytest.mark.parametrize("argv, pattern", CLI)
def test_cli_bad_input(guard, tmp_path, capsys, argv, pattern):
    _setup_tree(tmp_path)
    try:
        argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
        rc = main(argv)
        out, err = capsys.readouterr()
    finally:
        (tmp_path / "readonly").chmod(0o700)
    assert "Traceback" not in err
    assert rc == 2, (rc, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("ntkspec: error: "), err
    assert err.splitlines()[0][len("ntkspec: error: ") :].strip(), "empty message"
    assert re.search(pattern, err), err
    assert out == ""
