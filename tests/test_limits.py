"""ntkspec.limits: the one home of input limits (issue #12).

Every constant is a positive number; no limit is a literal or a public constant elsewhere in the
package; representative functions, config keys and CLI flags accept the limit and refuse
limit + 1 with a one-line message naming the argument and the limit.
"""

import re
from pathlib import Path

import jax
import pytest

from ntkspec import limits
from ntkspec.cli import main
from ntkspec.curve_report import run_curve
from ntkspec.experiments.config import load_config
from ntkspec.kernels import mlp_kernel
from ntkspec.spectrum import spectrum

PACKAGE = Path(limits.__file__).parent


def test_every_limit_is_a_positive_number_and_listed():
    defined = {n for n in vars(limits) if n.startswith("MAX_")}
    assert defined == set(limits.__all__)
    for name in limits.__all__:
        value = getattr(limits, name)
        assert isinstance(value, int | float) and not isinstance(value, bool), name
        assert value > 0, name


def test_each_limit_says_why():
    """Every constant has a ``#:`` comment right above it (the reason for its value)."""
    lines = (PACKAGE / "limits.py").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"MAX_\w+ = ", line):
            assert lines[i - 1].startswith("#: "), line


def test_training_limits_are_within_the_kernel_limits():
    """A trained model's config must also pass the kernel it is compared with."""
    assert limits.MAX_TRAIN_DIM <= limits.MAX_DIM
    assert limits.MAX_TRAIN_DEPTH <= limits.MAX_DEPTH
    assert limits.MAX_TRAIN_FEATURES <= limits.MAX_FEATURES
    assert limits.MAX_NTK_DEGREE <= limits.MAX_DEGREE
    assert limits.MAX_EIG_DEGREE <= limits.MAX_DEGREE
    assert limits.MAX_KRR_DEGREE <= limits.MAX_DEGREE
    assert limits.MAX_GRID_DEGREE <= limits.MAX_DEGREE
    assert limits.MAX_SEED == 2**32 - 1  # jax.random.key keeps 32 bits with x64 off


def test_no_limit_lives_outside_limits():
    """No ``maximum=<literal>`` and no public ``MAX_*`` constant defined in another module."""
    literal = re.compile(r"maximum=\s*(\d|\(?\s*\d|1\s*<<|2\s*\*\*)")
    constant = re.compile(r"^MAX_\w+\s*=", re.M)
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "limits.py":
            continue
        text = path.read_text()
        rel = path.relative_to(PACKAGE.parent)
        bad += [f"{rel}: {m.group(0)}" for m in literal.finditer(text)]
        bad += [f"{rel}: {m.group(0)}" for m in constant.finditer(text)]
    assert not bad, "limits outside ntkspec.limits:\n" + "\n".join(bad)


def _refuses(fn, name, limit):
    with pytest.raises(ValueError) as info:
        fn(limit + 1)
    text = str(info.value)
    assert f"Expected {name} <= {limit}; got {limit + 1}." in text, text
    assert "\n" not in text


@pytest.mark.parametrize(
    "fn, name, limit",
    [
        (lambda v: spectrum(mlp_kernel(1), v, 2), "dim", limits.MAX_DIM),
        (lambda v: spectrum(mlp_kernel(1), 3, v), "kmax", limits.MAX_DEGREE),
        (lambda v: spectrum(mlp_kernel(1), 3, 2, panels=v), "panels", limits.MAX_PANELS),
        (lambda v: mlp_kernel(v), "depth", limits.MAX_DEPTH),
        (lambda v: mlp_kernel(1, "erf", quad_order=v), "quad_order", limits.MAX_QUAD_ORDER),
        (lambda v: load_config({"data": {"dim": v}}), "data.dim", limits.MAX_TRAIN_DIM),
        (lambda v: load_config({"model": {"depth": v}}), "model.depth", limits.MAX_TRAIN_DEPTH),
        (lambda v: load_config({"run": {"seed": v}}), "run.seed", limits.MAX_SEED),
        (
            lambda v: run_curve(mlp_kernel(1), 3, [1], [0.1], [4], trials=0, seed=v),
            "seed",
            limits.MAX_SEED,
        ),
    ],
    ids=[
        "spectrum-dim", "spectrum-kmax", "spectrum-panels", "mlp_kernel-depth",
        "mlp_kernel-quad_order", "data.dim", "model.depth", "run.seed", "run_curve-seed",
    ],
)  # fmt: skip
def test_limit_plus_one_is_refused_by_name(fn, name, limit):
    _refuses(fn, name, limit)


def test_the_limit_itself_is_accepted():
    assert mlp_kernel(limits.MAX_DEPTH).depth == limits.MAX_DEPTH
    cfg = load_config({"data": {"dim": limits.MAX_TRAIN_DIM}, "run": {"seed": limits.MAX_SEED}})
    assert (cfg.data.dim, cfg.run.seed) == (limits.MAX_TRAIN_DIM, limits.MAX_SEED)
    deep = limits.MAX_TRAIN_DEPTH
    assert load_config({"model": {"depth": deep}}).model.depth == deep
    jax.random.key(limits.MAX_SEED)  # the largest seed is a valid key


@pytest.mark.parametrize(
    "flag, name, limit",
    [("--width", "width", limits.MAX_WIDTH), ("--kmax", "kmax", limits.MAX_NTK_DEGREE)],
)
def test_cli_ntk_refuses_limit_plus_one(capsys, flag, name, limit):
    argv = ["ntk", "--dim", "3", "--depth", "1", "--n", "8", "--width", "8", "--kmax", "2"]
    argv[argv.index(flag) + 1] = str(limit + 1)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"ntkspec: error: Expected {name} <= {limit}; got {limit + 1}.\n", err
