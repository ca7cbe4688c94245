"""Precision independence: ntkspec's float64 results do not depend on JAX's global x64 flag.

docs/theory.md §5.6: spectra and predictions are float64 and correct whatever the user's x64 flag
is;
the library never flips the global config. The suite runs with x64 on (conftest.py); here

1. every test marked ``precision`` (spectrum values, kernels, Gegenbauer polynomials and
   degree energies, dynamics predictions, the property tests) runs again in a subprocess with
   x64 off (``NTKSPEC_TEST_X64=0``, read by conftest.py) and must pass there too;
2. spectra of several kernels and dimensions, and the other float64 outputs, computed in two
   fresh interpreters with x64 off and on, must be bit-identical.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
X64_OFF_RUN = os.environ.get("NTKSPEC_TEST_X64", "1") == "0"


def _env(**extra):
    env = dict(os.environ, **extra)
    env.pop("JAX_ENABLE_X64", None)  # the flag is set explicitly (conftest / the script)
    return env


@pytest.mark.precision
def test_x64_flag_follows_the_environment():
    """Runs in both passes: proves the subprocess pass really has x64 off."""
    x64 = os.environ.get("NTKSPEC_TEST_X64", "1") == "1"
    assert jax.config.jax_enable_x64 == x64
    assert jnp.zeros(()).dtype == (jnp.float64 if x64 else jnp.float32)


@pytest.mark.slow
@pytest.mark.skipif(X64_OFF_RUN, reason="this is the x64-off pass itself (no recursion)")
def test_precision_marked_tests_pass_with_x64_off(tmp_path):
    report = tmp_path / "x64_off.xml"
    cmd = [sys.executable, "-m", "pytest", "-m", "precision", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*cmd, f"--junit-xml={report}", "tests"],
        cwd=ROOT,
        env=_env(NTKSPEC_TEST_X64="0"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (
        f"x64-off pass failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    )
    suite = ET.parse(report).getroot().find("testsuite")
    ran = {case.get("name") for case in suite.iter("testcase")}
    assert int(suite.get("failures")) == int(suite.get("errors")) == 0
    # It ran the marked tests (not an empty selection), the flag check among them.
    assert int(suite.get("tests")) - int(suite.get("skipped")) >= 150, proc.stdout[-2000:]
    assert "test_x64_flag_follows_the_environment" in ran
    assert "test_positivity_and_mercer_reconstruction" in ran


# Run in a fresh interpreter: argv = [x64 flag "0"/"1", output .npz path].
_SCRIPT = r"""
import sys
import jax
x64 = sys.argv[1] == "1"
jax.config.update("jax_enable_x64", x64)
import jax.numpy as jnp
import numpy as np
from ntkspec import mlp_kernel, spectrum
from ntkspec.dynamics import predict_residual, sobolev_matrix
from ntkspec.spectrum import gram_spectrum
from ntkspec.sphere import degree_energy, random_harmonic, sample_sphere

assert (jnp.zeros(()).dtype == jnp.float64) == x64
CASES = {
    "relu-L3-b0.1-d3-ntk": (mlp_kernel(3, bias_var=0.1), 3, 60, "ntk"),
    "relu-L1-d2-nngp": (mlp_kernel(1), 2, 60, "nngp"),
    "relu-L5-w0.5-d50-ntk": (mlp_kernel(5, first_layer_var=0.5), 50, 20, "ntk"),
    "erf-L2-b0.2-d10-ntk": (mlp_kernel(2, "erf", bias_var=0.2), 10, 40, "ntk"),
    "erf-L1-d3-nngp": (mlp_kernel(1, "erf", weight_var=2.0), 3, 40, "nngp"),
    "tanh-L2-b0.1-d5-ntk": (mlp_kernel(2, "tanh", bias_var=0.1, quad_order=48), 5, 30, "ntk"),
    "gelu-L1-d3-nngp": (mlp_kernel(1, "gelu", quad_order=48), 3, 30, "nngp"),
    "identity-L2-b0.3-d4": (mlp_kernel(2, "identity", bias_var=0.3), 4, 8, "ntk"),
    "custom-act-d3": (mlp_kernel(1, lambda x: jnp.sin(x) + 0.5 * x, quad_order=32), 3, 20, "ntk"),
    "jnp-callable-d7": (lambda t: jnp.exp(2.0 * jnp.asarray(t)), 7, 30, "ntk"),
}
out = {}
for name, (kernel, d, kmax, which) in CASES.items():
    s = spectrum(kernel, d, kmax, which)
    out[name + "/eigenvalues"] = s.eigenvalues
    out[name + "/error"] = s.error
    out[name + "/trace"] = np.float64(s.trace)
    if hasattr(kernel, "kappa_one"):
        out[name + "/kappa_one"] = np.float64(kernel.kappa_one(which))
spec = spectrum(mlp_kernel(2), 3, 10)
out["predict_residual"] = predict_residual(spec, np.ones(11), 1.0, 20).norms
rng = np.random.default_rng(0)
X = rng.standard_normal((40, 3))
X /= np.linalg.norm(X, axis=1, keepdims=True)
f = rng.standard_normal(40)
out["degree_energy"] = degree_energy(X, f, 6)
out["sobolev_matrix"] = sobolev_matrix(X, 0.5, 4)
K = np.exp(X @ X.T)
out["gram_spectrum"] = gram_spectrum(K, X, 6).eigenvalues
out["random_harmonic"] = random_harmonic(jax.random.key(3), X, 4)
out["sample_sphere_f32"] = np.asarray(sample_sphere(jax.random.key(4), 8, 5, dtype=jnp.float32))
np.savez(sys.argv[2], **out)
"""


@pytest.mark.skipif(X64_OFF_RUN, reason="runs its own x64-off and x64-on interpreters")
def test_float64_results_bit_identical_with_x64_off_and_on(tmp_path):
    paths = {flag: tmp_path / f"x64_{flag}.npz" for flag in ("0", "1")}
    procs = {
        flag: subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, flag, str(path)],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag, path in paths.items()
    }
    for flag, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"x64={flag} run failed:\n{out}\n{err[-4000:]}"
    with np.load(paths["0"]) as off, np.load(paths["1"]) as on:
        assert off.files == on.files and len(off.files) >= 30
        for name in off.files:
            a, b = off[name], on[name]
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert np.isfinite(a).all(), name
            if a.tobytes() != b.tobytes():
                diff = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))
                pytest.fail(f"{name}: x64 off and on differ (max abs diff {diff:.3g})")
        for name in off.files:  # spectra are float64 whatever the flag
            if name.endswith("/eigenvalues"):
                assert off[name].dtype == np.float64
