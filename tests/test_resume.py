"""Resumable runs: checkpoints in ``train``, ``ntkspec compare --resume``, a SIGKILLed CLI run,
and the refusal of a step above the stability limit.

The kill-and-resume test runs the real command in subprocesses: an uninterrupted run, a run
killed with SIGKILL right after its first checkpoint, and ``--resume`` of the killed one; the
two ``metrics.json`` files must be identical byte for byte.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from ntkspec import compare, mlp, sample_sphere, train
from ntkspec.cli import main

REPO = Path(__file__).resolve().parents[1]
FIELDS = ("times", "loss", "residual", "energies", "diverged")


class _Stop(Exception):
    pass


@pytest.fixture(scope="module")
def problem():
    model = mlp(1, 128)
    params = model.init(jax.random.key(1), 3)
    X = sample_sphere(jax.random.key(2), 48, 3, dtype=np.float32)
    y = np.asarray(X[:, 0] * X[:, 1] + 0.3 * X[:, 2], dtype=np.float32)
    return model.apply, params, X, y


def _train(problem, **kw):
    apply, params, X, y = problem
    kw = {"lr": 0.5, "steps": 120, "record_every": 10, "kmax": 3, **kw}
    return train(apply, params, X, y, **kw)


def _stop_at(step):
    def callback(done, total):
        if done == step:
            raise _Stop

    return callback


def test_train_resumes_exactly(problem, tmp_path):
    ref_params, ref = _train(problem)
    ckpt = tmp_path / "ckpt.npz"
    with pytest.raises(_Stop):
        _train(problem, checkpoint=ckpt, checkpoint_every=30, callback=_stop_at(70))
    with np.load(ckpt) as z:
        assert int(z["times"][-1]) == 60  # the last multiple of 30 before the interruption
    params, rec = _train(problem, checkpoint=ckpt)
    for f in FIELDS:
        assert np.array_equal(getattr(rec, f), getattr(ref, f)), f
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ref_params), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    # A finished checkpoint answers at once with the same records (no step is taken).
    calls = []
    _, again = _train(problem, checkpoint=ckpt, callback=lambda s, t: calls.append(s))
    assert calls == [] and np.array_equal(again.residual, ref.residual)
    # ... and can be extended: 120 -> 150 steps equals a 150-step run.
    _, longer = _train(problem, checkpoint=ckpt, steps=150)
    _, ref150 = _train(problem, steps=150)
    assert np.array_equal(longer.residual, ref150.residual)


def test_train_checkpoint_with_optax_state(problem, tmp_path):
    optax = pytest.importorskip("optax")
    opt = optax.adam(1e-2)
    _, ref = _train(problem, lr=None, optimizer=opt)
    ckpt = tmp_path / "adam.npz"
    with pytest.raises(_Stop):
        _train(problem, lr=None, optimizer=opt, checkpoint=ckpt, checkpoint_every=10,
               callback=_stop_at(50))  # fmt: skip
    _, rec = _train(problem, lr=None, optimizer=opt, checkpoint=ckpt)
    assert np.array_equal(rec.residual, ref.residual)


def test_train_checkpoint_refuses_another_run(problem, tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    _train(problem, checkpoint=ckpt)
    apply, params, X, y = problem
    for kw in (
        {"lr": 0.4},
        {"record_every": 20},
        {"loss": "weighted", "weights": np.full(48, 1 / 48)},
    ):
        with pytest.raises(ValueError, match="belongs to a different run"):
            _train(problem, checkpoint=ckpt, **kw)
    with pytest.raises(ValueError, match="different run"):
        train(apply, params, X, -y, lr=0.5, steps=120, record_every=10, kmax=3, checkpoint=ckpt)
    with pytest.raises(ValueError, match="beyond steps"):
        _train(problem, checkpoint=ckpt, steps=50)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="Cannot read checkpoint"):
        _train(problem, checkpoint=garbage)
    with pytest.raises(ValueError, match=r"ending in \.npz"):
        _train(problem, checkpoint=tmp_path / "ckpt.json")
    with pytest.raises(ValueError, match="checkpoint_every without checkpoint"):
        _train(problem, checkpoint_every=10)
    with pytest.raises(ValueError, match="checkpoint_every >= 1"):
        _train(problem, checkpoint=tmp_path / "x.npz", checkpoint_every=0)


def test_train_checkpoint_records_divergence(problem, tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    _, rec = _train(problem, lr=500.0, checkpoint=ckpt)
    assert rec.diverged and np.isfinite(rec.loss).all()
    with np.load(ckpt) as z:
        assert bool(z["diverged"])
    _, again = _train(problem, lr=500.0, checkpoint=ckpt)
    assert again.diverged and np.array_equal(again.residual, rec.residual)


def _cli(*args):
    return [sys.executable, "-m", "ntkspec.cli", "compare", *args]


_RUN = ["--preset", "tiny", "--steps", "2000", "--checkpoint-every", "100", "--quiet"]


def test_sigkill_then_resume_gives_identical_metrics(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_cli(*_RUN, "--out", str(full)), check=True, env=env, cwd=REPO,
                   capture_output=True)  # fmt: skip

    proc = subprocess.Popen(_cli(*_RUN, "--out", str(killed)), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while not (killed / "checkpoint.npz").exists():
            assert proc.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((killed / "run.json").read_text())["status"] == "running"
    assert not (killed / "metrics.json").exists()
    with np.load(killed / "checkpoint.npz") as z:  # complete (atomic), and mid-run
        assert 0 < int(z["times"][-1]) < 2000
    # Nothing but the checkpoint and run.json under real names (a write the kill interrupted
    # can only leave a hidden ``.name.*.tmp`` file, never a truncated result).
    names = sorted(p.name for p in killed.iterdir() if not p.name.startswith("."))
    assert names == ["checkpoint.npz", "run.json"]

    # Re-running the same command without --resume does not silently start over.
    again = subprocess.run(_cli(*_RUN, "--out", str(killed)), env=env, cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 2 and "--resume" in again.stderr
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr

    resumed = subprocess.run(_cli("--resume", str(killed), "--quiet"), env=env, cwd=REPO,
                             capture_output=True, text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert (killed / "metrics.json").read_bytes() == (full / "metrics.json").read_bytes()
    info = json.loads((killed / "run.json").read_text())
    assert info["status"] == "done" and info == json.loads((full / "run.json").read_text())
    assert not (killed / "checkpoint.npz").exists()


FAST = ["--preset", "tiny", "--width", "64", "--n", "32", "--steps", "20", "--quiet"]


def _one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.startswith("ntkspec: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_resume_usage_errors(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["compare", *FAST, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["compare", "--resume", str(out)]) == 2
    assert "Nothing to resume" in _one_error_line(capsys)
    assert main(["compare", "--resume", str(out), "--steps", "30", "--out", "x"]) == 2
    assert "drop --steps, --out" in _one_error_line(capsys)
    assert main(["compare", "--resume", str(tmp_path / "missing")]) == 2
    assert "not a directory" in _one_error_line(capsys)
    (tmp_path / "empty").mkdir()
    assert main(["compare", "--resume", str(tmp_path / "empty")]) == 2
    assert "no run.json" in _one_error_line(capsys)
    (tmp_path / "empty" / "run.json").write_text("{not json")
    assert main(["compare", "--resume", str(tmp_path / "empty")]) == 2
    assert "unreadable" in _one_error_line(capsys)


def test_resume_of_a_failed_run_without_checkpoint_starts_at_zero(tmp_path, capsys):
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert main(["compare", *FAST, "--out", str(ref)]) == 0
    info = json.loads((ref / "run.json").read_text())
    out.mkdir()
    (out / "run.json").write_text(json.dumps({**info, "status": "failed"}))
    capsys.readouterr()
    assert main(["compare", "--resume", str(out)]) == 0
    assert "from step 0" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == (ref / "metrics.json").read_bytes()


def test_lr_above_stability_limit_refused_unless_allowed(tmp_path, capsys):
    cfg = {"width": 64, "n": 32, "steps": 40, "record_every": 10, "lr": 50.0}
    with pytest.raises(
        ValueError, match=r"above the stability limit [\d.]+ of gd .*allow_unstable"
    ):
        compare(cfg)
    out = tmp_path / "o"
    assert main(["compare", *FAST, "--lr", "50", "--out", str(out)]) == 2
    assert "--allow-unstable" in _one_error_line(capsys)
    assert not (out / "metrics.json").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    # Forced: a warning with the limit, the run diverges, is saved as such and exits 1.
    rc = main(["compare", *FAST, "--steps", "200", "--lr", "50", "--allow-unstable",
               "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1
    assert "ntkspec: warning: optimizer.lr = 50 is above the stability limit" in err
    assert "training diverged (lr 50 vs the stability limit" in err and "Traceback" not in err
    assert json.loads((out / "run.json").read_text())["status"] == "diverged"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["diverged"] is True and metrics["lr"] == 50.0


def test_resume_of_a_flat_0_1_run(tmp_path, capsys):
    """A run.json written by 0.1 (a flat config): mapped by FLAT_KEYS and run from step 0, the
    same as the sectioned run; with a 0.1 checkpoint it is refused with a migration line."""
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert main(["compare", *FAST, "--out", str(ref)]) == 0
    info = json.loads((ref / "run.json").read_text())
    flat = {"width": 64, "n": 32, "steps": 20, "weight_var": None, "sampling": "uniform"}
    out.mkdir()
    (out / "run.json").write_text(json.dumps({**info, "status": "interrupted", "config": flat}))
    (out / "checkpoint.npz").write_bytes(b"a 0.1 checkpoint")
    capsys.readouterr()
    assert main(["compare", "--resume", str(out)]) == 2
    assert "started by ntkspec 0.1" in _one_error_line(capsys)
    (out / "checkpoint.npz").unlink()
    assert main(["compare", "--resume", str(out), "--quiet"]) == 0
    assert "from step 0" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == (ref / "metrics.json").read_bytes()
    assert json.loads((out / "run.json").read_text())["config"] == info["config"]
