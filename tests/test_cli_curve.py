"""``ntkspec curve`` and the experiment behind it (ntkspec.curve_report).

The numbers themselves are tested in tests/test_generalization.py; here: that the command
reports exactly the library's values, writes its files, and refuses bad input with one line
and exit status 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ntkspec import mlp_kernel, spectrum
from ntkspec.cli import main
from ntkspec.curve_report import curve_payload, run_curve, write_curve_report
from ntkspec.generalization import learning_curve

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BASE = ["curve", "--dim", "3", "--depth", "2", "--degrees", "1,2,4", "--amplitudes", "1,0.5,0.3"]


def run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_run_curve_matches_learning_curve():
    r = run_curve(mlp_kernel(2), 3, [1, 2, 4], [1, 0.5, 0.3], [10, 100], noise=0.01, ridge=0.1)
    direct = learning_curve(r.spectrum, [0, 1, 0.25, 0, 0.09], [10, 100], noise=0.01, ridge=0.1)
    np.testing.assert_array_equal(r.theory.test_mse, direct.test_mse)
    assert r.measured is None and r.dense.n.size == 120
    assert r.dense.n[0] == 10 and np.isclose(r.dense.n[-1], 100)
    # The spectrum was grown until the truncation rule held.
    assert r.spectrum.kmax >= r.theory.truncation.kmax >= 4


def test_run_curve_grows_the_spectrum_for_large_n():
    r = run_curve(mlp_kernel(1), 3, [1], [1.0], [10, 1e5])
    lam = np.where(r.spectrum.zero_within_error(), 0, r.spectrum.eigenvalues)
    assert lam[r.theory.truncation.kmax + 1 :].max() <= 1e-2 * r.theory.kappa[-1]


def test_report_files(tmp_path):
    r = run_curve(mlp_kernel(1), 3, [1, 2], [1.0], [5, 20, 60], trials=2, test_points=100)
    paths = write_curve_report(r, tmp_path)
    assert paths["figure"].read_bytes()[:8] == PNG_SIGNATURE
    text = paths["report"].read_text()
    assert "Learning curve" in text and "learning_curve.png" in text and "measured" in text
    obj = json.loads(paths["json"].read_text())
    assert obj == json.loads(json.dumps(curve_payload(r)))
    assert len(obj["measured"]["test_mse_mean"]) == 3
    assert obj["theory"]["test_mse"] == [float(x) for x in r.theory.test_mse]


def test_cli_table(capsys):
    rc, out, err = run(capsys, BASE)
    assert rc == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0].startswith("# learning curve") and "L_4" in lines[1]
    assert len(lines) == 2 + 4  # header + the default n = 10, 30, 100, 300


def test_cli_json_is_the_library_value(capsys):
    rc, out, _ = run(capsys, [*BASE, "--n", "10,40", "--noise", "0.01", "--ridge", "0.5", "--json"])
    assert rc == 0 and out.count("\n") == 1
    obj = json.loads(out)
    s = spectrum(mlp_kernel(2), 3, obj["spectrum_kmax"])
    want = learning_curve(s, [0, 1, 0.25, 0, 0.09], [10, 40], noise=0.01, ridge=0.5)
    assert obj["theory"]["test_mse"] == [float(x) for x in want.test_mse]
    assert obj["theory"]["train_mse"] == [float(x) for x in want.train_mse]
    assert obj["config"]["degrees"] == [1, 2, 4]


def test_cli_out_with_trials(capsys, tmp_path):
    out_dir = tmp_path / "run"
    argv = [*BASE, "--n", "5,20", "--trials", "2", "--test-points", "100", "--out", str(out_dir)]
    rc, out, err = run(capsys, argv)
    assert rc == 0, err
    assert "measured test" in out and "saved:" in out
    for name in ("curve.json", "report.md", "learning_curve.png", "run.json"):
        assert (out_dir / name).exists(), name
    assert json.loads((out_dir / "run.json").read_text())["status"] == "done"
    # Same configuration again is accepted; a different one needs --force.
    assert run(capsys, argv)[0] == 0
    rc, _, err = run(capsys, [*argv[:-2], "--seed", "3", "--out", str(out_dir)])
    assert rc == 2 and err.startswith("ntkspec: error:") and err.count("\n") == 1


@pytest.mark.parametrize(
    "extra",
    [
        ["--n", "10,5"],
        ["--n", "0,10"],
        ["--n", "1e6", "--trials", "1"],
        ["--n", "x"],
        ["--noise", "-1"],
        ["--ridge", "nan"],
        ["--trials", "-2"],
        ["--amplitudes", "1,2"],
        ["--tail-tol", "2"],
        ["--degrees", "1,1"],
        ["--degrees", "-1"],
        ["--kernel", "nngp", "--trials", "1"],
    ],
)
def test_cli_bad_input_one_line_exit_2(capsys, extra):
    rc, out, err = run(capsys, [*BASE, *extra])
    assert rc == 2
    assert err.startswith("ntkspec: error:") and err.count("\n") == 1, err
