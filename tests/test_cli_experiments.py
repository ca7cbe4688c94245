"""`ntkspec compare` with a sectioned configuration (TOML [sections] or the section flags)."""

import json
import re
import textwrap

import numpy as np
import pytest

from ntkspec import checkpoint, rundir
from ntkspec.cli import main
from ntkspec.experiments import load_config

FACTORY = """
    import equinox as eqx
    import jax
    from ntkspec.interop.modules import from_equinox

    def make(key, dim):
        return from_equinox(eqx.nn.MLP(dim, "scalar", 512, 1, jax.nn.relu, key=key))
"""

TOML = """
    [model]
    factory = "cli_usermodel_h10:make"
    [data]
    n = 64
    [target]
    degrees = [1, 2]
    [optimizer]
    kind = "momentum"
    beta = 0.9
    [run]
    steps = 60
"""


def test_equinox_factory_through_compare_config(tmp_path, monkeypatch, capsys):
    pytest.importorskip("equinox")
    (tmp_path / "cli_usermodel_h10.py").write_text(textwrap.dedent(FACTORY))
    (tmp_path / "exp.toml").write_text(textwrap.dedent(TOML))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--config", "exp.toml", "--out", "run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "empirical-NTK prediction carries the comparison" in out
    report = (tmp_path / "run" / "report.md").read_text()
    assert "![per-degree decay](decay.png)" in report and (tmp_path / "run" / "decay.png").exists()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    err = np.asarray(metrics["max_abs_error"]["empirical"], dtype=float)
    assert np.all(err < 0.02), err
    assert metrics["optimizer"] == {"name": "momentum", "lr": metrics["lr"], "beta": 0.9}
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "done" and info["config"] == load_config("exp.toml").to_dict()
    # A finished run is not resumed; the same --out with another config is refused.
    assert main(["compare", "--resume", "run"]) == 2
    assert "Nothing to resume" in capsys.readouterr().err
    assert main(["compare", "--config", "exp.toml", "--out", "run", "--steps", "7"]) == 2
    assert "different run" in capsys.readouterr().err


def test_flags_reach_every_section(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["compare", "--quiet", "--out", "flags", "--width", "256", "--n", "64",
            "--degrees", "1,2", "--steps", "20", "--distribution", "vmf", "--kappa", "2",
            "--loss", "weighted", "--weights", "voronoi", "--optimizer", "nesterov",
            "--momentum", "0.5", "--projection", "voronoi"]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((tmp_path / "flags" / "run.json").read_text())["config"]
    want = load_config({
        "model": {"width": 256}, "data": {"n": 64, "distribution": "vmf", "kappa": 2.0},
        "target": {"degrees": [1, 2]}, "loss": {"kind": "weighted", "weights": "voronoi"},
        "optimizer": {"kind": "nesterov", "beta": 0.5},
        "run": {"steps": 20, "projection": "voronoi"},
    })  # fmt: skip
    assert config == want.to_dict()


def test_section_flag_errors_are_one_line(capsys):
    assert main(["compare", "--loss", "sobolev", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "ntkspec: error: Expected loss.s (the Sobolev exponent) for loss.kind = 'sobolev'."
    )
    assert main(["compare", "--optimizer", "adam", "--quiet"]) == 2
    assert "optimizer.lr" in capsys.readouterr().err


def test_rundir_life_cycle(tmp_path):
    cfg = {"a": 1}
    out = rundir.prepare(tmp_path / "r", cfg, steps=10)
    with pytest.raises(KeyboardInterrupt), rundir.running(out, cfg):
        raise KeyboardInterrupt
    assert rundir.read_run(out)["status"] == "interrupted"
    # An interrupted run with a checkpoint: refused as a new run, resumable, step read.
    checkpoint.save(out / rundir.CHECKPOINT, "fp", {"w": np.zeros(2)}, (), {"times": np.arange(4)},
                    False)  # fmt: skip
    assert rundir.checkpoint_step(out) == 3
    with pytest.raises(ValueError, match="step 3 of 10.*--resume"):
        rundir.prepare(out, cfg, steps=10)
    assert rundir.resume(out) == cfg
    with pytest.raises(ValueError, match="different run"):
        rundir.prepare(out, {"a": 2}, steps=10)
    with pytest.raises(ValueError, match="boom"), rundir.running(out, cfg):
        raise ValueError("boom")
    assert rundir.read_run(out)["error"] == "ValueError: boom"
    rundir.finish(out, cfg, diverged=False)
    assert rundir.read_run(out)["status"] == "done"
    assert rundir.checkpoint_step(out) is None
    with pytest.raises(ValueError, match="Nothing to resume"):
        rundir.resume(out)
    assert rundir.prepare(out, {"a": 2}, steps=10, force=True) == out


def test_interrupted_sectioned_run_resumes_through_the_cli(tmp_path, capsys):
    from ntkspec.experiments import compare

    cfg = load_config({"model": {"width": 256}, "data": {"n": 48},
                       "target": {"degrees": [1, 2]}, "run": {"steps": 40}})  # fmt: skip
    out = rundir.prepare(tmp_path / "run", cfg.to_dict(), steps=40)

    def stop(step, total):
        if step >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), rundir.running(out, cfg.to_dict()):
        compare(cfg, callback=stop, checkpoint=out / rundir.CHECKPOINT, checkpoint_every=10)
    assert rundir.read_run(out)["status"] == "interrupted" and rundir.checkpoint_step(out) >= 20
    assert main(["compare", "--resume", str(out), "--quiet"]) == 0
    assert "resuming" in capsys.readouterr().err
    assert rundir.read_run(out)["status"] == "done" and rundir.checkpoint_step(out) is None
    resumed = json.loads((out / "metrics.json").read_text())["measured"]["norms"]
    np.testing.assert_array_equal(np.asarray(resumed, float), compare(cfg).measured.norms)


def metrics_records(tmp_path):
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    return metrics["compared_records"]["operator"]


def test_sectioned_report_has_the_legacy_report_parts(tmp_path, capsys):
    """Parity with the 0.1 report: spectrum + decay fit, heatmap, records column, † marks."""
    argv = ["compare", "--preset", "tiny", "--optimizer", "momentum", "--n", "48",
            "--width", "128", "--steps", "40", "--degrees", "1,3", "--allow-unlearnable",
            "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    report = (tmp_path / "run" / "report.md").read_text()
    for name in ("spectrum.png", "decay.png", "heatmap.png"):
        assert f"]({name})" in report and (tmp_path / "run" / name).is_file(), name
    assert re.search(r"Spectrum decay fit: λ_k ∝ k\^-\d\.\d\d \(least squares", report)
    header, row1, row3 = (line.split() for line in out.splitlines()[6:9])
    assert header[4:9] == ["rec", "operator", "err", "operator", "ratio"], header
    assert row1[3] == str(metrics_records(tmp_path)[0])  # the operator's records compared
    assert row1[0] == "1" and row3[0] == "3†" and "† cannot be learned" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    rec = metrics["compared_records"]["operator"]
    # Degree 3 has lambda_3 = 0: its operator factor is 1, so every record after 0 compares.
    assert rec[1] == len(metrics["measured"]["times"]) - 1


def test_sectioned_report_degrades_without_a_kernel(tmp_path, capsys):
    """Adam: no linear prediction, so no heatmap; the report says why, the run succeeds."""
    argv = ["compare", "--preset", "tiny", "--optimizer", "adam", "--lr", "0.001", "--n", "32",
            "--width", "64", "--steps", "20", "--out", str(tmp_path / "run"),
            "--quiet"]  # fmt: skip
    assert main(argv) == 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert "heatmap.png: not available (" in report and "no linear prediction" in report
    assert not (tmp_path / "run" / "heatmap.png").exists()
    assert "Spectrum decay fit: λ_k" in report  # the kernel is known even without a prediction
