"""Cost you can see (issue 11, part 5): FLOP estimates and progress lines, no timing thresholds."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec.cli import main
from ntkspec.experiments import load_config
from ntkspec.experiments.cost import estimate_cost, step_flops
from ntkspec.experiments.schedule import record_schedule
from ntkspec.models import mlp


@pytest.mark.parametrize(("depth", "width", "n", "dim"), [(1, 64, 32, 3), (2, 48, 20, 5)])
def test_training_flops_match_xla_cost_analysis(depth, width, n, dim):
    """The formula against XLA's own count of one compiled GD step (an independent count)."""
    cfg = load_config({"depth": depth, "width": width, "n": n, "dim": dim, "steps": 7})
    est = estimate_cost(cfg, calibrate=False)
    model = mlp(depth, width, centered=True)
    params = model.init(jax.random.key(0), dim)
    X = jnp.ones((n, dim), dtype=jnp.float32) / np.sqrt(dim)

    def loss(p):
        return 0.5 * jnp.mean(model.apply(p, X) ** 2)

    cost = jax.jit(jax.value_and_grad(loss)).lower(params).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    assert est.flops_train == pytest.approx(7 * cost["flops"], rel=0.25)
    assert est.flops == est.flops_train + est.flops_ntk + est.flops_linalg
    assert np.isnan(est.seconds) and np.isnan(est.step_seconds)


def test_linear_algebra_flops_formula():
    cfg = load_config({"n": 100, "width": 10, "steps": 40, "record_every": 10, "degrees": [1, 2]})
    est = estimate_cost(cfg, calibrate=False)
    records = len(record_schedule(40, 10))
    assert est.flops_linalg == pytest.approx((4 / 3 + 18) * 100**3 + 2 * 100**2 * 4 * records)


def test_calibrated_estimate_is_positive_and_finite():
    est = estimate_cost({"n": 32, "width": 64, "steps": 10})
    assert 0 < est.step_seconds < est.seconds < np.inf


_PROGRESS = re.compile(r"^training +\d+% \(\d+/\d+\) (ETA \S+|done)$")


def test_compare_prints_cost_then_progress_lines_when_not_a_terminal(tmp_path, capsys):
    argv = ["compare", "--preset", "tiny", "--width", "64", "--n", "32", "--steps", "100",
            "--record-every", "10", "--out", str(tmp_path / "a")]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("cost: ~") and "FLOP" in err[0] and "estimated" in err[0]
    progress = err[1:]
    assert progress and all(_PROGRESS.match(line) for line in progress), progress
    assert progress[-1].endswith("(100/100) done")
    percents = [int(line.split()[1].rstrip("%")) for line in progress]
    assert np.all(np.diff(percents) > 0) and len(progress) <= 21  # a line every >= 5 %
    assert main([*argv[:-1], str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_ntk_prints_cost_and_stages(tmp_path, capsys):
    argv = ["ntk", "--dim", "3", "--depth", "1", "--n", "16", "--width", "32", "--kmax", "2"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("cost: ~") and "empirical NTK" in err[0]
    assert [line.split(" ...")[0] for line in err[1::2]] == [
        "ntk [1/3] empirical NTK",
        "ntk [2/3] infinite-width Gram",
        "ntk [3/3] spectra",
    ]
    assert all(re.match(r"ntk \[\d/3\] done in \S+$", line) for line in err[2::2])
    assert main([*argv, "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_flat_keys_give_the_sectioned_estimate():
    """One cost model: a flat 0.1 mapping and its sections give the same FLOPs."""
    flat = {"n": 40, "width": 24, "depth": 2, "dim": 4, "steps": 30, "degrees": [1, 3]}
    nested = {"data": {"n": 40, "dim": 4}, "model": {"width": 24, "depth": 2},
              "target": {"degrees": [1, 3]}, "run": {"steps": 30}}  # fmt: skip
    a = estimate_cost(flat, calibrate=False)
    b = estimate_cost(nested, calibrate=False)
    assert a[:4] == b[:4] and a.flops_train == 30 * step_flops(40, 4, 2, 24)
    assert step_flops(40, 4, 2, 24) == 12 * 40 * (4 * 24 + 24**2 + 24)


def test_sectioned_estimate_refuses_a_user_network():
    with pytest.raises(ValueError, match=r"model.factory 'pkg.mod:make' has no FLOP model"):
        estimate_cost({"model": {"factory": "pkg.mod:make"}}, calibrate=False)


def test_sectioned_compare_prints_cost_then_progress(tmp_path, capsys):
    argv = ["compare", "--preset", "tiny", "--width", "64", "--n", "32", "--steps", "40",
            "--optimizer", "momentum", "--out", str(tmp_path / "a")]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("cost: ~") and "estimated" in err[0], err
    assert err[1:] and all(_PROGRESS.match(line) for line in err[1:]), err
    assert main([*argv[:-1], str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_sectioned_compare_refuses_an_unlearnable_target_before_the_estimate(tmp_path, capsys):
    argv = ["compare", "--preset", "tiny", "--optimizer", "momentum", "--degrees", "1,3",
            "--out", str(tmp_path / "a")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "degree 3: lambda_3" in err and "run.allow_unlearnable" in err
    assert "cost:" not in err  # refused before any time was spent on the estimate
