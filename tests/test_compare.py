"""The compare pipeline and the `ntkspec compare` command: files, keys, config handling.

Flat 0.1 flags and keys (``--dim``, ``--n``, ``{"width": ...}``) run through the one
experiments pipeline (:func:`ntkspec.experiments.compare`), mapped by ``FLAT_KEYS``.
"""

import json

import numpy as np
import pytest

from ntkspec import compare
from ntkspec.cli import main
from ntkspec.experiments import load_config
from ntkspec.experiments.schedule import record_schedule

FAST = [
    "--preset",
    "tiny",
    "--steps",
    "60",
    "--record-every",
    "20",
    "--width",
    "256",
    "--n",
    "64",
    "--quiet",
]


def test_cli_compare_writes_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["compare", *FAST, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rec operator" in printed and "report:" in printed
    files = {p.name for p in out.iterdir()}
    assert {
        "metrics.json",
        "run.json",
        "report.md",
        "spectrum.png",
        "decay.png",
        "heatmap.png",
    } <= files
    assert not any(name.endswith(".tmp") for name in files)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "config",
        "degrees",
        "measured",
        "predictions",
        "max_abs_error",
        "kernel_drift",
    ):
        assert key in metrics
    assert set(metrics["predictions"]) == {"operator", "gram", "empirical"}
    assert set(metrics["max_abs_error"]) == {"operator", "gram", "empirical"}
    times = metrics["measured"]["times"]
    assert metrics["degrees"] == [1, 2, 4] and times[-1] == 60
    assert np.asarray(metrics["measured"]["norms"]).shape == (len(times), 3)
    # The flat flags are aliases of section keys: the config is the sectioned one.
    assert metrics["config"]["model"]["width"] == 256 and metrics["config"]["data"]["n"] == 64
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done" and run["config"] == metrics["config"] and run["devices"]
    for png in ("spectrum.png", "decay.png", "heatmap.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Same config again into the same directory: allowed; a different one is refused.
    assert main(["compare", *FAST, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["compare", *FAST, "--seed", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different run" in err[0]
    assert main(["compare", *FAST, "--seed", "3", "--out", str(out), "--force"]) == 0


def test_same_seed_same_metrics(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["compare", *FAST, "--out", str(a)]) == 0
    assert main(["compare", *FAST, "--out", str(b)]) == 0
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()


@pytest.mark.parametrize(
    "extra, text",
    [
        (["--degrees", "1,x"], "integers"),
        (["--degrees", "1,1"], "distinct"),
        (["--width", "0"], "width >= 1"),
        (["--lr", "-1"], "lr"),
        (["--lr-fraction", "1.5"], "lr_fraction"),
        (["--activation", "swishy"], "activation"),
        (["--sampling", "equispaced"], "data.dim = 2"),
        (["--sampling", "vmf", "--distribution", "uniform"], "give one of them"),
        (["--preset", "nope"], "invalid choice"),
        (["--config", "/nonexistent/file.toml"], "Cannot read config"),
        (["--amplitudes", "0.1,0.2"], "one amplitude per degree"),
        (["--steps", "0"], "steps >= 1"),
    ],
)
def test_cli_compare_bad_input_one_line(tmp_path, capsys, extra, text):
    assert main(["compare", *FAST, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("ntkspec: error:")
    assert text in err and "Traceback" not in err
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("dim = [\n")
    with pytest.raises(ValueError, match="Invalid TOML"):
        load_config(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("dimension = 3\n")
    with pytest.raises(ValueError, match="Unknown config key"):
        load_config(unknown)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('dim = "three"\n')
    with pytest.raises(TypeError, match="data.dim"):
        load_config(wrong)
    good = tmp_path / "good.toml"  # a flat 0.1 file
    good.write_text("dim = 2\nsampling = 'equispaced'\nn = 64\ndegrees = [1, 3]\n")
    cfg = load_config(good, overrides={"steps": 10})
    assert cfg.data.dim == 2 and cfg.target.degrees == (1, 3) and cfg.run.steps == 10
    assert cfg.data.distribution == "equispaced" and cfg.target.amplitudes == (0.1, 0.1)


def test_compare_api_accepts_flat_mapping_and_rejects_other():
    c = compare({"width": 128, "n": 32, "steps": 20, "record_every": 10})
    assert c.config.model.width == 128 and c.config.data.n == 32
    assert c.measured.norms.shape == (len(record_schedule(20, 10)), 3)
    assert np.isfinite(c.kernel_drift)
    with pytest.raises(TypeError, match="Expected config to be a TOML path, a mapping"):
        compare([1, 2])
    with pytest.raises(ValueError, match="Nyquist"):
        load_config({"dim": 2, "sampling": "equispaced", "n": 8, "degrees": [1, 4]})


def test_width_study_error_falls_like_inverse_sqrt_width():
    import jax

    from ntkspec.experiments.width import width_study

    w = width_study([128, 2048], key=jax.random.key(0), n=96, kmax=4, seeds=2)
    # ~C/√width: 16× the width should cut the error ~4×; require at least 2.5× (2 seeds).
    assert w.relative_error[1] < w.relative_error[0] / 2.5
    # The per-degree spectrum of the wide network approaches the infinite-width one.
    gap = np.abs(w.gram_spectra - w.infinite_gram_spectrum).max(axis=1)
    assert gap[1] < gap[0]
    assert w.eigenvalues[0] == pytest.approx(0.5, rel=1e-14)
    with pytest.raises(ValueError, match="positive widths"):
        width_study([0], key=jax.random.key(0))
    with pytest.raises(TypeError, match="mlp_kernel"):
        width_study([8], "relu", key=jax.random.key(0))


def test_cli_ntk(tmp_path, capsys):
    out = tmp_path / "ntk"
    argv = [
        "ntk",
        "--dim",
        "3",
        "--depth",
        "1",
        "--width",
        "256",
        "--n",
        "64",
        "--kmax",
        "4",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    data = json.loads((out / "gram_spectrum.json").read_text())
    assert data["degrees"] == [0, 1, 2, 3, 4] and 0 < data["relative_error"] < 0.5
    with np.load(out / "gram.npz") as z:
        assert z["K"].shape == (64, 64) and np.allclose(z["K"], z["K"].T)
    capsys.readouterr()
    assert main([*argv[:-2], "--method", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ntkspec: error:") and len(err.strip().splitlines()) == 1
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done" and run["config"] == data["config"]
    assert main([*argv, "--seed", "1"]) == 2  # another run into the same directory
    assert "different run" in capsys.readouterr().err
    assert main([*argv, "--seed", "1", "--force"]) == 0
