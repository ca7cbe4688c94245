"""compare and its report never mislead (issue 11, part 3).

Unlearnable degrees are refused before training; nothing fails after training; half-times are
+inf where nothing decays; no warning leaks; every degree is compared on records; the figures
say what each line is; run.json tells an interrupted run from a failed one.
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace as dataclasses_replace
from pathlib import Path

import numpy as np
import pytest

from ntkspec import compare
from ntkspec.cli import main
from ntkspec.experiments.learnability import unlearnable_degrees
from ntkspec.experiments.metrics import COMPARE_FLOOR
from ntkspec.experiments.schedule import record_schedule
from ntkspec.experiments.summary import decay_figure, format_experiment
from ntkspec.kernels import mlp_kernel
from ntkspec.report import write_report
from ntkspec.rundir import running
from ntkspec.spectrum import spectrum

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(width=256, n=64, steps=60, record_every=10)


def _no_training(step, total):
    raise AssertionError("training started")


# ----------------------------------------------------------------------------- learnability
@pytest.mark.parametrize(
    ("kernel", "degrees", "bad"),
    [
        (dict(depth=1, activation="relu"), (1, 2, 3, 4, 5), {3, 5}),  # odd k >= 3 vanish
        (dict(depth=2, activation="relu"), (1, 2, 3, 4, 5), set()),  # deep ReLU: all learnable
        (dict(depth=1, activation="erf"), (1, 2, 3, 4), {2, 4}),  # odd activation: even k
        (dict(depth=2, activation="sin"), (0, 1, 2), {0, 2}),
        (dict(depth=1, activation="identity"), (1, 2, 3), {2, 3}),  # linear kernel: k >= 2
        (dict(depth=1, activation="relu", bias_var=0.5), (1, 2, 3), set()),
    ],
)
def test_unlearnable_degrees_are_the_zero_eigenvalues(kernel, degrees, bad):
    found = unlearnable_degrees(mlp_kernel(**kernel), 3, degrees)
    assert set(found) == bad
    for k, reason in found.items():
        assert f"lambda_{k}" in reason and "zero within its error" in reason


def test_parity_reason_named():
    (reason,) = unlearnable_degrees(mlp_kernel(1), 3, [3]).values()
    assert "every odd degree >= 3" in reason and "parity" in reason
    (reason,) = unlearnable_degrees(mlp_kernel(1, "erf"), 3, [2]).values()
    assert "every even degree >= 0" in reason


def test_unlearnable_degree_refused_before_training():
    with pytest.raises(ValueError, match=r"degree 3: lambda_3 .* run\.allow_unlearnable"):
        compare(dict(SMALL, degrees=(1, 3)), callback=_no_training)
    with pytest.raises(ValueError, match=r"degree 2: "):
        compare(dict(SMALL, activation="sin", degrees=(1, 2)), callback=_no_training)


@pytest.fixture(scope="module")
def forced():
    """Degree 3 of two-layer ReLU cannot be learned; trained anyway (allow_unlearnable)."""
    return compare(dict(SMALL, degrees=(1, 2, 3, 8), allow_unlearnable=True))


def test_allowed_unlearnable_run_is_marked_and_never_minus_inf(forced):
    c, ag = forced, forced.agreement
    assert c.learnable.tolist() == [True, True, False, True]
    # Nothing decays at k = 3 (|1 - ηλ_3| = 1): the half-time is never reached, +inf.
    for name in ("operator", "gram"):
        assert ag.half_time_predicted[name][2] == np.inf, name
        assert np.isnan(ag.half_time_ratio[name][2]), name
    assert np.all(ag.half_time_predicted["operator"] > 0)
    rows = {line.split()[0]: line for line in format_experiment(c).splitlines()[6:]}
    assert "3†" in rows and "cannot be learned" in format_experiment(c)
    metrics = c.to_dict()
    assert metrics["learnable"] == [True, True, False, True]
    assert metrics["half_time_predicted"]["operator"][2] == "inf"


# ----------------------------------------------------------------------------- records
@pytest.mark.parametrize(("steps", "every"), [(0, 10), (5, 10), (40, 10), (1500, 10), (999, 100)])
def test_record_schedule_is_log_spaced_then_uniform(steps, every):
    t = record_schedule(steps, every)
    assert t[0] == 0 and t[-1] == steps and np.all(np.diff(t) > 0)
    early = t[(t > 0) & (t < every)]
    gaps = np.diff(np.concatenate([[0], early]))
    assert np.all((gaps & (gaps - 1)) == 0)  # powers of two: few compiled chunk lengths
    assert set(range(1, min(every, steps + 1), 1)) >= set(early.tolist())
    assert set(t[t >= every].tolist()) >= set(range(every, steps, every))
    # Two records per octave early on: every factor-2 window [h, 2h] below every holds one.
    for h in range(1, min(every, steps) // 2):
        assert ((t >= h) & (t <= 2 * h)).any()


def test_every_degree_compared_on_records(forced):
    c, ag = forced, forced.agreement
    op = c.predictions.curves["operator"]
    # Expected count: records after 0 where the operator prediction is >= the floor.
    expected = ((op.normalized() >= COMPARE_FLOOR) & (op.times[:, None] > 0)).sum(axis=0)
    assert ag.compared_records["operator"].tolist() == expected.tolist()
    # Degree 1 halves in ~2 steps: with records at 1, 2, 3, 4, 6, 8 it is compared now
    # (on a uniform grid of 10 it was compared on none and showed "max err 0.0000").
    assert ag.half_time_predicted["operator"][0] < 3 and ag.compared_records["operator"][0] >= 3
    assert np.isfinite(ag.max_abs_error["operator"]).all()


def _with_agreement(exp, **changes):
    """``exp`` with some agreement entries replaced (to exercise the formatting)."""
    import dataclasses

    return dataclasses.replace(exp, agreement=exp.agreement._replace(**changes))


def test_too_few_records_show_a_dash(forced):
    ag = forced.agreement
    few = _with_agreement(
        forced,
        compared_records={**ag.compared_records, "operator": np.array([1, 6, 10, 10])},
        max_abs_error={**ag.max_abs_error, "operator": np.array([np.nan, 0.1, 0.2, 0.3])},
    )
    header, row = (line.split() for line in format_experiment(few).splitlines()[6:8])
    # Columns: k, lambda_k, t1/2 meas (two words in the header), then rec/err/ratio operator.
    assert header[4:8] == ["rec", "operator", "err", "operator"], header
    assert row[3] == "1" and row[4] == "—" and "0.000" not in row[4]


def test_max_error_nan_when_not_compared():
    # lr = 1/λ_1: degree 1 is gone after one step, never compared after step 0.
    c0 = compare(dict(SMALL, degrees=(1, 2), steps=20))
    lam1 = c0.spectrum.eigenvalues[1]
    c = compare(dict(SMALL, degrees=(1, 2), steps=20, lr=float(1 / lam1)))
    rec, err = c.agreement.compared_records["operator"], c.agreement.max_abs_error["operator"]
    assert rec[0] < 2 and np.isnan(err[0])
    assert np.isfinite(err[1]) and rec[1] >= 2


# ----------------------------------------------------------------------------- figures
def test_decay_figure_legend_names_every_line(forced):
    fig = decay_figure(forced)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for name in ("measured", "operator", "gram", "empirical"):
        assert name in labels, (name, labels)
    assert f"comparison floor {COMPARE_FLOOR:g}" in labels
    assert "k = 3 (cannot be learned)" in labels
    # Four curves per degree (measured, operator, ∞ Gram, empirical); the floor is a reference
    # line at COMPARE_FLOOR across the axes.
    assert len(ax.get_lines()) == 4 * len(forced.degrees)
    (floor,) = ax.collections
    assert np.allclose(floor.get_segments()[0][:, 1], COMPARE_FLOOR)
    styles = {line.get_linestyle() for line in ax.get_lines()}
    assert {"-", "--", "-.", ":"} <= styles


def test_report_degrades_when_fit_or_figure_fails(forced, tmp_path):
    # A figure that cannot be drawn (decreasing times) is "not available"; the run finishes.
    m = forced.measured
    broken = dataclasses_replace(forced, measured=dataclasses_replace(m, times=m.times[::-1]))
    paths = write_report(broken, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "not available" in text and "heatmap.png: not available" in text
    assert "heatmap.png" not in paths and (tmp_path / "metrics.json").exists()
    assert "Status: **done**" in text
    # The report's fit is Spectrum.decay_fit, the same code as `ntkspec spectrum`'s fit.
    fit = spectrum(mlp_kernel(1), 3, 64).decay_fit()
    assert f"λ_k ∝ k^{fit.exponent:.2f}" in text and round(fit.exponent) == -3


def test_cli_run_finishes_and_report_says_fit_unavailable(tmp_path, capsys):
    # identity: λ_k = 0 for k >= 2, nothing to fit in [32, 64] (this raised after training,
    # as sin/softplus did, leaving run.json "running" and --resume replaying the crash).
    out = tmp_path / "identity"
    argv = ["compare", "--preset", "tiny", "--activation", "identity", "--degrees", "1"]
    assert main([*argv, "--width", "128", "--n", "48", "--steps", "40", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert json.loads((out / "run.json").read_text())["status"] == "done"
    assert "Spectrum decay fit: not available" in (out / "report.md").read_text()
    assert not (out / "checkpoint.npz").exists()


# ----------------------------------------------------------------------------- statuses
def test_running_distinguishes_interrupted_from_failed(tmp_path):
    for exc, status in ((KeyboardInterrupt, "interrupted"), (RuntimeError, "failed")):
        with pytest.raises(exc), running(tmp_path, {"a": 1}):
            raise exc("boom")
        info = json.loads((tmp_path / "run.json").read_text())
        assert info["status"] == status
        assert ("error" in info) == (status == "failed")
    assert info["error"] == "RuntimeError: boom"


def _cli(*args):
    return [sys.executable, "-m", "ntkspec.cli", "compare", *args]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_twice_no_traceback_then_resume_completes(tmp_path, sig):
    """First signal: status interrupted, exit 130/143; a second one is ignored (no traceback).

    Progress goes to a pipe here: the lines every few percent tell when training runs.
    """
    out = tmp_path / "run"
    run = ["--preset", "tiny", "--steps", "3000", "--width", "256", "--n", "64", "--degrees",
           "1,2", "--checkpoint-every", "50"]  # fmt: skip
    proc = subprocess.Popen(_cli(*run, "--out", str(out)), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines = []
    deadline = time.monotonic() + 240
    while not any(line.startswith("training") for line in lines):
        assert time.monotonic() < deadline and proc.poll() is None, lines
        lines.append(proc.stderr.readline())
    while not (out / "checkpoint.npz").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    proc.send_signal(sig)
    time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    err = "".join(lines) + err
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert "--resume" in err
    resumed = subprocess.run(_cli("--resume", str(out), "--quiet"), cwd=REPO,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "done"


# ----------------------------------------------------------------------------- warnings
def test_cli_in_subprocess_leaks_no_warning(tmp_path):
    """The run that leaked "invalid value encountered in divide": stderr holds only progress."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    cmd = _cli("--preset", "tiny", "--degrees", "1,2,3,8", "--allow-unlearnable", "--width",
               "128", "--n", "48", "--steps", "40", "--out", str(tmp_path / "o"))  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    other = [ln for ln in proc.stderr.splitlines() if not ln.startswith(("training", "cost"))]
    assert other == [], proc.stderr
