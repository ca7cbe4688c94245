"""Architectures in the experiments layer and the CLI (issue 14): [model] arch, compare, cost,
learnability, ``--arch`` flags.

References: the closed forms of docs/theory.md §6.7 (Fourier features at depth 0: Bessel
eigenvalues; the power-law embedding on S^1: λ_k = a_k²/2), XLA's own FLOP count, and the
empirical NTK. Tolerances: a wide (lazy) network follows its empirical-NTK linearization to
O(1/√width) (Lee et al. 2019); as in tests/test_experiments_compare.py, 0.02 per degree is a
wide margin on the measured errors (<= 1e-3 here).
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ive

from ntkspec.architectures import (
    fourier_kernel,
    power_law_kernel,
    resnet_kernel,
    siren_kernel,
)
from ntkspec.cli import main
from ntkspec.empirical import empirical_ntk
from ntkspec.experiments import compare, load_config
from ntkspec.experiments.cost import estimate_cost
from ntkspec.experiments.learnability import check_config
from ntkspec.experiments.model import build_model, model_kernel
from ntkspec.kernels import mlp_kernel
from ntkspec.spectrum import spectrum


# ----------------------------------------------------------------------------- [model]
@pytest.mark.parametrize(
    ("model", "match"),
    [
        ({"arch": "mlp", "alpha": 0.5}, r"no model\.alpha with model\.arch = 'mlp'"),
        ({"arch": "mlp", "beta": 2.0}, r"no model\.beta with model\.arch = 'mlp'"),
        ({"arch": "mlp", "depth": 0}, r"model\.depth >= 1"),
        ({"arch": "resnet", "depth": 0}, r"model\.depth >= 1"),
        ({"arch": "resnet", "bias_var": 1.0}, r"no model\.bias_var with model\.arch = 'resnet'"),
        ({"arch": "resnet", "alpha": "1/x"}, r"model\.alpha to be a number >= 0 or one of"),
        ({"arch": "resnet", "alpha": -1.0}, r"model\.alpha"),
        ({"arch": "resnet", "activation": "gelu"}, r"model: .*closed-form activation"),
        ({"arch": "fourier", "features": 8}, r"model\.beta \(the variance"),
        ({"arch": "fourier", "beta": 2.0}, r"model\.features \(the number"),
        ({"arch": "fourier", "beta": 2.0, "features": 8, "power": 1.0}, r"no model\.power"),
        (
            {"arch": "fourier", "beta": 2.0, "features": 8, "depth": 0, "activation": "erf"},
            r"no model\.activation with model\.arch = 'fourier', which is a linear readout",
        ),
        ({"arch": "fourier", "beta": -2.0, "features": 8}, r"model\.beta"),
        ({"arch": "power_law", "features": 8}, r"model\.power \(the exponent"),
        ({"arch": "siren", "activation": "relu"}, r"model\.activation other than 'sin'"),
        ({"arch": "siren", "first_layer_var": 4.0}, r"no model\.first_layer_var"),
        ({"arch": "siren", "omega0": 0.0}, r"model\.omega0"),
        ({"arch": "transformer"}, r"model\.arch"),
    ],
)
def test_model_errors_are_one_line_and_name_the_key(model, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        load_config({"model": model})
    assert "\n" not in str(info.value)


def test_model_defaults_and_round_trip():
    cfg = load_config({"model": {"arch": "resnet", "depth": 3}})
    assert cfg.model.alpha == 1.0 and cfg.model.activation == "relu"
    cfg = load_config({"model": {"arch": "siren"}})
    assert (cfg.model.omega0, cfg.model.activation) == (30.0, "sin")
    cfg = load_config({"model": {"arch": "fourier", "beta": 4, "features": 16, "depth": 0}})
    assert cfg.model.depth == 0 and cfg.model.activation is None  # a linear readout
    for model in (
        {"arch": "resnet", "depth": 2, "alpha": "1/sqrt(L)"},
        {"arch": "fourier", "beta": 4.0, "features": 16, "depth": 2, "alpha": 0.5},
        {"arch": "power_law", "power": 1.0, "features": 8, "depth": 0},
        {"arch": "siren", "omega0": 3.0, "bias_var": 0.5},
    ):
        cfg = load_config({"model": model})
        assert load_config(cfg) == cfg  # validated configs re-validate unchanged
        assert load_config(cfg.to_dict()) == cfg


def test_model_kernel_is_the_architecture_kernel():
    """Each arch's kernel, built independently from ntkspec.architectures / mlp_kernel."""

    def kern(model, dim=3):
        return model_kernel(load_config({"model": model, "data": {"dim": dim}}).model, dim)

    assert kern({"arch": "resnet", "depth": 3, "alpha": "1/sqrt(L)"}) == resnet_kernel(
        3, "1/sqrt(L)"
    )
    assert kern({"arch": "fourier", "beta": 4.0, "features": 9, "depth": 0}) == fourier_kernel(4.0)
    assert kern({"arch": "fourier", "beta": 4.0, "features": 9, "depth": 2}) == fourier_kernel(
        4.0, mlp_kernel(2)
    )
    assert kern(
        {"arch": "fourier", "beta": 4.0, "features": 9, "depth": 2, "alpha": 0.5}
    ) == fourier_kernel(4.0, resnet_kernel(2, 0.5))
    assert kern({"arch": "siren", "depth": 2, "omega0": 5.0}) == siren_kernel(2, 5.0)
    siren_bias = kern({"arch": "siren", "depth": 1, "omega0": 5.0, "bias_var": 0.5})
    assert siren_bias == mlp_kernel(1, "sin", 2.0, 0.5, 25.0)
    pl = kern({"arch": "power_law", "power": 1.0, "features": 8, "depth": 1}, dim=2)
    assert pl == power_law_kernel(1.0, 8, mlp_kernel(1))
    with pytest.raises(ValueError, match=r"data\.dim = 2 for model\.arch = 'power_law'"):
        kern({"arch": "power_law", "power": 1.0, "features": 8}, dim=3)


@pytest.mark.parametrize(
    "model",
    [
        {"arch": "resnet", "depth": 2, "width": 16, "alpha": 0.5},
        {"arch": "fourier", "beta": 2.0, "features": 8, "depth": 0},
        {"arch": "fourier", "beta": 2.0, "features": 8, "depth": 1, "width": 16},
        {"arch": "fourier", "beta": 2.0, "features": 8, "depth": 1, "width": 16, "alpha": 1.0},
        {"arch": "siren", "depth": 2, "width": 16, "omega0": 2.0, "bias_var": 0.1},
    ],
)
def test_built_models_are_centered_and_structured(model):
    """Output 0 at init (centered) and the structured empirical NTK equals the Jacobian one."""
    cfg = load_config({"model": model})
    net = build_model(cfg.model, jax.random.key(0), 3)
    X = jnp.asarray(np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0], jnp.float32)
    assert np.all(np.asarray(net.apply(net.params, X)) == 0)
    fast = empirical_ntk(net.apply, net.params, X, method="structured")
    slow = empirical_ntk(net.apply, net.params, X, method="jacobian")
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5 * float(np.max(np.abs(slow))))


# ----------------------------------------------------------------------------- compare
_S2 = {"data": {"n": 64}, "target": {"degrees": [1, 2]}, "run": {"steps": 60}}


@pytest.mark.parametrize(
    "model",
    [
        {"arch": "resnet", "depth": 2, "alpha": "1/sqrt(L)", "width": 128},
        {"arch": "fourier", "depth": 0, "beta": 4.0, "features": 256},
        {"arch": "siren", "depth": 1, "omega0": 2.0, "width": 128, "bias_var": 0.5},
    ],
)
def test_compare_follows_the_empirical_ntk_for_each_arch(model):
    exp = compare({**_S2, "model": model})
    assert set(exp.predictions.curves) >= {"operator", "gram", "empirical"}
    err = exp.agreement.max_abs_error["empirical"]
    assert np.all(np.isfinite(err)) and np.all(err < 0.02), err
    assert np.all(exp.agreement.compared_records["empirical"] >= 2)
    assert np.isfinite(exp.init_kernel_error) and exp.spectrum is not None
    assert exp.model.startswith("centered ")
    if model["arch"] == "fourier":  # depth 0: λ_k = √(π/(2β)) e^{−β} I_{k+1/2}(β) on S^2
        want = np.sqrt(np.pi / 8) * ive(np.arange(3) + 0.5, 4.0)
        np.testing.assert_allclose(exp.spectrum.eigenvalues[:3], want, rtol=1e-10)


def test_power_law_reverses_the_learning_order_on_the_circle():
    """a_j ∝ j^{+1}: λ_k = a_k²/2 grows with k, so degree 4 is learned before degree 1."""
    cfg = {
        "data": {"n": 64, "dim": 2, "distribution": "equispaced"},
        "target": {"degrees": [1, 2, 4]},
        "model": {"arch": "power_law", "depth": 0, "power": -1.0, "features": 8},
        "run": {"steps": 60},
    }
    exp = compare(cfg)
    w = np.arange(1, 9.0) ** 2
    np.testing.assert_allclose(exp.spectrum.eigenvalues[[1, 2, 4]], w[[0, 1, 3]] / w.sum() / 2)
    assert np.all(exp.agreement.max_abs_error["empirical"] < 0.02)
    norms = exp.measured.normalized()[-1]  # residual left per degree at the end
    assert norms[2] < norms[1] < norms[0]


def test_learnability_with_arch_kernels():
    odd = {"model": {"arch": "siren", "omega0": 2.0}, "target": {"degrees": [1, 2]}}
    with pytest.raises(ValueError, match=r"degree 2: lambda_2 = .* is zero within its error"):
        check_config(load_config(odd))
    with_bias = load_config({**odd, "model": {**odd["model"], "bias_var": 0.5}})
    assert check_config(with_bias).tolist() == [True, True]
    cfg = load_config({"model": {"arch": "fourier", "beta": 1.0, "features": 8, "depth": 0}})
    assert check_config(cfg).all()


# ----------------------------------------------------------------------------- cost
@pytest.mark.parametrize(
    ("model", "dim"),
    [
        ({"arch": "resnet", "width": 48, "depth": 2}, 3),
        ({"arch": "fourier", "depth": 0, "beta": 2.0, "features": 64}, 3),
        ({"arch": "fourier", "depth": 1, "beta": 2.0, "features": 32, "width": 48}, 4),
        ({"arch": "fourier", "depth": 2, "beta": 2.0, "features": 32, "width": 48, "alpha": 1}, 4),
        ({"arch": "power_law", "depth": 1, "power": 1.0, "features": 16, "width": 40}, 2),
        ({"arch": "siren", "depth": 2, "width": 48, "omega0": 2.0}, 3),
    ],
)
def test_training_flops_match_xla_cost_analysis_for_each_arch(model, dim):
    """The FLOP model against XLA's count of one compiled GD step (points as an argument)."""
    cfg = load_config({"model": model, "data": {"n": 20, "dim": dim}, "run": {"steps": 7}})
    est = estimate_cost(cfg, calibrate=False)
    net = build_model(cfg.model, jax.random.key(0), dim)
    X = jnp.ones((20, dim), jnp.float32) / np.sqrt(dim)

    def loss(p, X):
        return 0.5 * jnp.mean(net.apply(p, X) ** 2)

    cost = jax.jit(jax.value_and_grad(loss)).lower(net.params, X).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    assert est.flops_train == pytest.approx(7 * cost["flops"], rel=0.25)
    assert est.flops == est.flops_train + est.flops_ntk + est.flops_linalg


# ----------------------------------------------------------------------------- width
def test_resnet_empirical_ntk_converges_like_one_over_sqrt_width():
    """RMS of (empirical − infinite-width NTK)/κ(1) over 3 fixed seeds at m = 256, 1024, 4096:
    each 4× in width should halve it, 256 → 4096 divide it by 4 (measured over seeds 0–2 and
    3–5: ratios 1.6–2.0 per step, 2.8–3.6 overall); accepted 1.3–2.9 per step, 2.2–6 overall."""
    from ntkspec.arch_models import resnet

    X = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))[0]
    k = resnet_kernel(1, 0.7)
    t = np.clip(X @ X.T, -1, 1)
    ref = np.asarray(k.ntk(t), np.float64)
    rms = []
    for m in (256, 1024, 4096):
        net = resnet(1, m, 0.7)
        errs = [
            np.asarray(empirical_ntk(net, net.init(jax.random.key(s), 4), jnp.asarray(X, "f4")))
            - ref
            for s in range(3)
        ]
        rms.append(np.sqrt(np.mean(np.square(errs))) / k.kappa_one())
    ratios = np.asarray(rms[:-1]) / np.asarray(rms[1:])
    assert np.all((ratios > 1.3) & (ratios < 2.9)), (rms, ratios)
    assert 2.2 < rms[0] / rms[-1] < 6, rms


# ----------------------------------------------------------------------------- CLI
def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("ntkspec: error:") and "\n" not in err, err
    return err


def test_cli_compare_fourier_depth0_and_arch_errors(tmp_path, capsys):
    argv = ["compare", "--arch", "fourier", "--beta", "4", "--features", "64", "--depth", "0",
            "--n", "32", "--steps", "20", "--degrees", "1,2", "--quiet"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "linear readout on 64 Fourier features (beta 4)" in out
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["config"]["model"]["arch"] == "fourier" and run["config"]["model"]["depth"] == 0
    for bad, match in [
        (["--arch", "mlp", "--alpha", "0.5"], "no model.alpha"),
        (["--arch", "resnet", "--alpha", "1/x"], "argument --alpha"),
        (["--arch", "fourier", "--features", "8"], "model.beta"),
        (["--arch", "siren", "--omega0", "3", "--activation", "relu"], "other than 'sin'"),
    ]:
        assert main(["compare", *bad, "--quiet", "--out", str(tmp_path / "b")]) == 2
        assert match in _one_error(capsys)


def test_cli_compare_alpha_rule_reaches_model_alpha(tmp_path, capsys):
    """--alpha 1/sqrt(L) arrives as the rule string model.alpha (refused here before any run)."""
    argv = ["compare", "--arch", "mlp", "--alpha", "1/sqrt(L)", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert "no model.alpha with model.arch = 'mlp'; got '1/sqrt(L)'" in _one_error(capsys)


@pytest.mark.parametrize(
    ("flags", "header", "kernel"),
    [
        (["--arch", "mlp"], "a depth-1 relu MLP (weight_var=2", mlp_kernel(1)),
        (
            ["--arch", "resnet", "--depth", "3", "--alpha", "1/sqrt(L)"],
            "a depth-3 relu residual MLP (alpha=0.57735 = 1/sqrt(L)",
            resnet_kernel(3, "1/sqrt(L)"),
        ),
        (
            ["--arch", "fourier", "--beta", "4", "--depth", "0"],
            "Gaussian Fourier features (beta=4, M -> infinity) under a linear readout",
            fourier_kernel(4.0),
        ),
        (
            ["--arch", "fourier", "--beta", "4", "--depth", "2", "--alpha", "0.5"],
            "under a depth-2 relu residual MLP (alpha=0.5",
            fourier_kernel(4.0, resnet_kernel(2, 0.5)),
        ),
        (
            ["--arch", "siren", "--omega0", "3"],
            "a depth-1 SIREN-style sin MLP (omega0=3, weight_var=2",
            siren_kernel(1, 3.0),
        ),
    ],
)
def test_cli_spectrum_each_arch(flags, header, kernel, capsys):
    argv = ["spectrum", "--dim", "3", "--depth", "1", "--kmax", "4"]
    assert main([*argv, *flags]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert header in first, first
    assert main([*argv, *flags, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(payload["eigenvalues"], spectrum(kernel, 3, 4).eigenvalues)


def test_cli_spectrum_power_law_and_errors(capsys):
    argv = ["spectrum", "--dim", "2", "--depth", "0", "--kmax", "4", "--arch", "power_law",
            "--power", "1", "--features", "8", "--json"]  # fmt: skip
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    w = np.arange(1, 9.0) ** -2.0
    np.testing.assert_allclose(payload["eigenvalues"][1:], w[:4] / w.sum() / 2, rtol=1e-10)
    assert payload["config"] == {"arch": "power_law", "power": 1.0, "features": 8,
                                 "network": None}  # fmt: skip
    base = ["spectrum", "--dim", "3", "--depth", "1"]
    for flags, match in [
        (["--depth", "0"], "--depth >= 1 with --arch mlp"),
        (["--arch", "resnet", "--depth", "0"], "--depth >= 1 with --arch resnet"),
        (["--arch", "mlp", "--beta", "2"], "no --beta with --arch mlp"),
        (["--arch", "fourier"], "--beta for --arch fourier"),
        (["--arch", "fourier", "--beta", "2", "--features", "9"], "infinitely many features"),
        (["--arch", "fourier", "--beta", "2", "--depth", "0", "--bias-var", "1"], "--bias-var"),
        (["--arch", "resnet", "--bias-var", "1"], "no --bias-var with --arch resnet"),
        (["--arch", "siren", "--first-layer-var", "2"], "omega0^2"),
        (["--arch", "power_law", "--power", "1", "--features", "4"], "--dim 2"),
    ]:
        assert main([*base, *flags]) == 2
        assert match in _one_error(capsys)
    assert main(["ntk", "--dim", "3", "--depth", "1", "--arch", "resnet"]) == 2
    assert "--arch mlp or siren for `ntkspec ntk`" in _one_error(capsys)


def test_power_law_kernel_refuses_higher_spheres():
    kernel = power_law_kernel(1.0, 8)
    for method in ("auto", "quadrature"):  # every route asks the kernel's check_dim
        with pytest.raises(ValueError, match=r"dim = 2 for a power-law embedding kernel"):
            spectrum(kernel, 3, 4, method=method)
    X = np.eye(3)
    with pytest.raises(ValueError, match=r"dim = 2 for a power-law embedding kernel"):
        kernel.gram(X)
    assert kernel.gram(X[:2, :2]).shape == (2, 2)  # S^1 is fine


def test_cli_curve_takes_the_arch_flags(capsys):
    argv = ["curve", "--dim", "3", "--depth", "0", "--arch", "fourier", "--beta", "4",
            "--degrees", "1,2", "--n", "10,30"]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "ntk of Gaussian Fourier features (beta=4, M -> infinity) under a linear" in first
