"""The ``ntkspec`` command: JSON and table output, files, and one-line errors with exit 2.

Most runs call ``main(argv)`` in-process (fast); two run ``python -m ntkspec.cli`` for real.
"""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ntkspec
from ntkspec import Spectrum, mlp_kernel, spectrum
from ntkspec.cli import main
from ntkspec.cli import spectrum as spectrum_command

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BASE = ["spectrum", "--dim", "3", "--depth", "1", "--kmax", "6"]


def run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_two_layer_relu_exact(capsys):
    rc, out, err = run(capsys, [*BASE, "--json"])
    assert rc == 0
    obj = json.loads(out)  # the whole of stdout is one JSON object
    assert out.count("\n") == 1
    expected_keys = {"dim", "kernel", "degrees", "eigenvalues", "multiplicities", "config"}
    assert expected_keys | {"trace", "error"} <= set(obj)
    assert obj["dim"] == 3 and obj["kernel"] == "ntk"
    assert obj["degrees"] == list(range(7))
    assert obj["multiplicities"] == [1, 3, 5, 7, 9, 11, 13]
    assert all(type(m) is int for m in obj["multiplicities"])
    assert obj["config"] == {
        "depth": 1,
        "activation": "relu",
        "weight_var": 2.0,
        "bias_var": 0.0,
        "first_layer_var": 1.0,
    }
    assert obj["trace"] == 2.0
    # Bitwise the library's values (JSON floats are repr-exact) ...
    ref = spectrum(mlp_kernel(1), 3, 6).eigenvalues
    assert obj["eigenvalues"] == [float(x) for x in ref]
    # ... and the closed forms (docs/theory.md §2).
    exact = [1 / 2, 1 / 3, 5 / 64, 0, 1 / 192, 0, 23 / 16384]
    np.testing.assert_allclose(obj["eigenvalues"], exact, rtol=0, atol=1e-15)
    assert obj["sum_rule_residual"] == pytest.approx(
        2 - sum(m * x for m, x in zip(obj["multiplicities"], obj["eigenvalues"], strict=True)),
        abs=1e-15,
    )


def test_json_nngp_and_options(capsys):
    argv = [
        "spectrum",
        "--dim",
        "4",
        "--depth",
        "2",
        "--kmax",
        "5",
        "--kernel",
        "nngp",
        "--activation",
        "erf",
        "--bias-var",
        "0.25",
        "--weight-var",
        "1.5",
        "--first-layer-var",
        "0.5",
        "--json",
    ]
    rc, out, _ = run(capsys, argv)
    assert rc == 0
    obj = json.loads(out)
    assert obj["kernel"] == "nngp" and obj["dim"] == 4
    assert obj["config"] == {
        "depth": 2,
        "activation": "erf",
        "weight_var": 1.5,
        "bias_var": 0.25,
        "first_layer_var": 0.5,
    }
    k = mlp_kernel(2, "erf", weight_var=1.5, bias_var=0.25, first_layer_var=0.5)
    ref = spectrum(k, 4, 5, "nngp")
    assert obj["eigenvalues"] == ref.eigenvalues.tolist()
    assert obj["trace"] == ref.trace == k.kappa_one("nngp")


def test_acceptance_command_in_subprocess():
    """The issue's acceptance command, run for real (x64 off: the default for users)."""
    cmd = [
        sys.executable,
        "-m",
        "ntkspec.cli",
        "spectrum",
        "--dim",
        "3",
        "--depth",
        "2",
        "--kmax",
        "100",
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert len(obj["eigenvalues"]) == 101 and obj["degrees"] == list(range(101))
    assert obj["multiplicities"][100] == 201
    lam = np.asarray(obj["eigenvalues"])
    assert (lam > 0).all()  # depth >= 2 ReLU NTK: every degree is present
    assert obj["trace"] == 3.0  # NTK(1) = L + 1
    # Sum rule: the missing trace is the tail beyond k = 100 (≈ k^-d decay: small, positive).
    assert 0 < obj["sum_rule_residual"] < 0.05
    assert obj["decay"]["exponent"] == pytest.approx(-3.0, abs=0.1)  # λ_k ~ k^-d
    assert "Traceback" not in proc.stderr


def test_table(capsys):
    rc, out, err = run(capsys, ["spectrum", "--dim", "3", "--depth", "1", "--kmax", "8"])
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("# NTK of a depth-1 relu MLP") and "S^2" in lines[0]
    assert lines[1].split() == ["k", "N(d,k)", "lambda_k", "N*lambda_k", "cum.frac"]
    rows = [ln.split() for ln in lines if not ln.startswith("#")][1:]
    assert len(rows) == 9
    ref = spectrum(mlp_kernel(1), 3, 8)
    cum = np.cumsum(ref.multiplicities * ref.eigenvalues) / ref.trace
    for k, row in enumerate(rows):
        assert int(row[0]) == k and int(row[1]) == 2 * k + 1
        assert float(row[2]) == pytest.approx(ref.eigenvalues[k], rel=1e-13, abs=1e-30)
        assert float(row[4]) == pytest.approx(cum[k], abs=1e-6)
        assert (row[-1] == "*") == (k in (3, 5, 7))  # zero within error
    assert any("sum-rule residual" in ln for ln in lines[-3:])
    slope = ref.decay_exponent(4, 8)
    assert f"k^{slope:.4f}" in lines[-1]


def test_table_without_enough_degrees_for_a_fit(capsys):
    rc, out, _ = run(capsys, ["spectrum", "--dim", "3", "--depth", "1", "--kmax", "0"])
    assert rc == 0
    assert "decay exponent: n/a" in out.splitlines()[-1]


def test_plot_and_out_files(capsys, tmp_path):
    png, js, npz = tmp_path / "fig" / "s.png", tmp_path / "s.json", tmp_path / "s.npz"
    rc, out, err = run(capsys, [*BASE, "--plot", str(png), "--out", str(js)])
    assert rc == 0 and err == ""
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    loaded = Spectrum.load(js)
    ref = spectrum(mlp_kernel(1), 3, 6)
    np.testing.assert_array_equal(loaded.eigenvalues, ref.eigenvalues)
    assert json.loads(js.read_text())["config"]["depth"] == 1
    assert run(capsys, [*BASE, "--out", str(npz), "--json"])[0] == 0
    np.testing.assert_array_equal(Spectrum.load(npz).eigenvalues, ref.eigenvalues)


def test_version_and_help(capsys):
    rc, out, _ = run(capsys, ["--version"])
    assert rc == 0 and out == f"ntkspec {ntkspec.__version__}\n"
    rc, out, _ = run(capsys, ["--help"])
    assert rc == 0 and "spectrum" in out
    rc, out, _ = run(capsys, ["spectrum", "--help"])
    assert rc == 0 and "--kmax" in out and "--first-layer-var" in out


def test_warnings_become_one_line(capsys, monkeypatch):
    def noisy(*args, **kwargs):
        warnings.warn("quadrature error estimate\nexceeds tol", RuntimeWarning, stacklevel=2)
        return spectrum(*args, **kwargs)

    monkeypatch.setattr(spectrum_command, "spectrum", noisy)
    rc, out, err = run(capsys, [*BASE, "--json"])
    assert rc == 0
    json.loads(out)
    assert err == "ntkspec: warning: quadrature error estimate exceeds tol\n"


BAD_INPUTS = [
    pytest.param([], id="no-subcommand"),
    pytest.param(["frobnicate"], id="unknown-subcommand"),
    pytest.param(["spectrum", "--depth", "1"], id="missing-dim"),
    pytest.param(["spectrum", "--dim", "1", "--depth", "1"], id="dim-1"),
    pytest.param(["spectrum", "--dim", "x", "--depth", "1"], id="dim-not-int"),
    pytest.param(["spectrum", "--dim", "3.5", "--depth", "1"], id="dim-float"),
    pytest.param([*BASE[:5], "0"], id="depth-0"),
    pytest.param([*BASE[:5], "1", "--kmax", "-1"], id="kmax-negative"),
    pytest.param([*BASE[:5], "1", "--kmax", "100001"], id="kmax-too-large"),
    pytest.param([*BASE, "--activation", "swishy"], id="unknown-activation"),
    pytest.param([*BASE, "--kernel", "foo"], id="unknown-kernel"),
    pytest.param([*BASE, "--weight-var", "-1"], id="weight-var-negative"),
    pytest.param([*BASE, "--bias-var", "nan"], id="bias-var-nan"),
    pytest.param([*BASE, "--first-layer-var", "inf"], id="first-layer-var-inf"),
    pytest.param([*BASE, "--first-layer-var", "0"], id="first-layer-var-zero"),
    pytest.param([*BASE, "--plot", "figure.txt"], id="plot-bad-format"),
    pytest.param([*BASE, "--plot", "{blocked}/x.png"], id="plot-unwritable"),
    pytest.param([*BASE, "--out", "spectrum.csv"], id="out-bad-suffix"),
    pytest.param([*BASE, "--out", "{blocked}/s.json", "--json"], id="out-unwritable"),
    pytest.param([*BASE, "extra"], id="extra-argument"),
]


@pytest.mark.parametrize("argv", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv):
    blocked = tmp_path / "a-regular-file"  # a path *under* a file can't be created, even by root
    blocked.write_text("")
    argv = [a.format(blocked=blocked) for a in argv]
    rc, out, err = run(capsys, argv)
    assert rc == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("ntkspec: error: ")
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-regular-file"]  # nothing written


def test_bad_input_in_subprocess_and_lazy_matplotlib():
    """A real failing run: exit 2, the error as the last stderr line, no traceback.

    ``-X importtime`` lists every imported module on stderr: matplotlib must not be among
    them when no figure is asked for (keeps ``ntkspec --help`` fast).
    """
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "ntkspec.cli",
        "spectrum",
        "--dim",
        "1",
        "--depth",
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[-1] == "ntkspec: error: Expected dim >= 2; got 1."
    assert "Traceback" not in proc.stderr
    imported = [ln.split("|")[-1].strip() for ln in lines if ln.startswith("import time:")]
    assert "ntkspec.spectrum" in imported  # the listing works
    assert not [m for m in imported if m.startswith("matplotlib")]
