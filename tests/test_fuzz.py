"""Fuzzing the config parser and the command line: no input may give a traceback or a hang.

(a) :func:`ntkspec.experiments.load_config` on random mappings (the flat 0.1 keys and junk
keys, values of every type) and on random TOML text (arbitrary text, bytes and near-valid
TOML): it returns a valid :class:`ExperimentConfig` or raises ``ValueError``/``TypeError``.

(b) ``ntkspec.cli.main`` on random argument lists built from the real subcommands and flags
(read from the parser) with random values, and on lists of arbitrary strings: the exit status
is 0, 1 or 2, nothing escapes, stderr never holds a traceback, and a failure is one
``ntkspec: error:`` line. The heavy steps of ``compare`` (data and model, spectrum,
empirical NTK, training) and the sampling of ``ntk`` are replaced by a stub that raises
:class:`Reached`, so every example stops once its input is validated and its seed made into a
key. The ``spectrum`` subcommand runs for real, with valid values from small pools; examples
whose valid size would take more than a few seconds are skipped (the CLI accepts kmax up to
100000, which takes about a minute: O(kmax²)). Every example runs under a 20 s alarm.
"""

import argparse
import contextlib
import importlib
import io
import os
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ntkspec import cli
from ntkspec.experiments.config import FLAT_KEYS, PRESETS, ExperimentConfig, load_config

# The package exports functions named like these modules: get the modules themselves.
compare_module = importlib.import_module("ntkspec.experiments.compare")
sphere_module = importlib.import_module("ntkspec.sphere")

FIELDS = list(FLAT_KEYS)  # the flat 0.1 keys (mapped onto sections)
TIMEOUT_S = 20
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Reached(Exception):
    """The CLI validated its input and called the (stubbed) heavy computation."""


class Hang(BaseException):
    """An example ran past TIMEOUT_S (BaseException: no library ``except Exception`` hides it)."""


@contextlib.contextmanager
def alarm(what):
    def on_alarm(signum, frame):
        raise Hang(what)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIMEOUT_S)
    try:
        yield
    except Hang:
        pytest.fail(f"no result within {TIMEOUT_S} s for {what!r}", pytrace=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ----------------------------------------------------------------------------- (a) config
def _huge_floats():
    return st.sampled_from([1e308, -1e308, 5e-324, float("nan"), float("inf"), -float("inf")])


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-3, max_value=70),
    st.floats(allow_nan=True, allow_infinity=True),
    _huge_floats(),
    st.text(max_size=12),
    st.sampled_from(["relu", "erf", "uniform", "equispaced", "3", "1,2"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=3),
    ),
    max_leaves=8,
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=10), st.integers(-2, 2))


def _check_config_result(make):
    try:
        cfg = make()
    except (ValueError, TypeError) as e:
        assert str(e), "empty error message"
        event(f"refused: {type(e).__name__}")
        return
    event("a valid config")
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.validated() == cfg  # what load_config returns is already valid


# A valid value per field (with the tiny preset's sizes), to build nearly valid mappings.
GOOD = {
    "dim": st.sampled_from([2, 3, 5]),
    "depth": st.sampled_from([1, 2]),
    "activation": st.sampled_from(["relu", "erf", "tanh"]),
    "weight_var": st.sampled_from([None, 0.5, 2.0]),
    "bias_var": st.sampled_from([0, 0.1]),
    "first_layer_var": st.sampled_from([None, 1.0]),
    "width": st.sampled_from([8, 1024]),
    "n": st.sampled_from([16, 64]),
    "sampling": st.just("uniform"),
    "degrees": st.sampled_from([[1], [1, 2, 4], 3]),
    "amplitudes": st.sampled_from([[0.1], 0.5]),
    "lr": st.sampled_from([None, 0.1]),
    "lr_fraction": st.sampled_from([0.25, 0.9]),
    "allow_unstable": st.booleans(),
    "steps": st.sampled_from([1, 100]),
    "record_every": st.sampled_from([1, 10]),
    "seed": st.sampled_from([0, 7]),
}
near_valid = st.fixed_dictionaries(
    {}, optional={k: st.one_of(v, v, v, values) for k, v in GOOD.items() if k in FIELDS}
)


@FUZZ
@given(
    mapping=st.one_of(st.dictionaries(keys, values, max_size=6), near_valid),
    preset=st.one_of(st.none(), st.sampled_from(sorted(PRESETS)), st.text(max_size=6)),
    overrides=st.one_of(st.none(), st.dictionaries(st.sampled_from(FIELDS), values, max_size=3)),
)
def test_load_config_random_mapping(mapping, preset, overrides):
    with alarm(("load_config", mapping, preset, overrides)):
        _check_config_result(lambda: load_config(mapping, preset=preset, overrides=overrides))


toml_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.integers(-3, 70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "+inf", "1e999", "-0.0", "1_000", "0x10", "1e3"]),
    st.sampled_from(["true", "false", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z"]),
    st.text(max_size=8).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(['"relu"', "'erf'", '"uniform"', '"equispaced"', '"unterminated', "'''x'''"]),
    st.lists(st.integers(-3, 20).map(str), max_size=4).map(lambda v: "[" + ", ".join(v) + "]"),
    st.sampled_from(["[1, 2, 4]", "[0.1]", '[1, "a"]', "[[1]]", "[]", "{ a = 1 }", "[1,", "="]),
)
toml_line = st.one_of(
    st.tuples(st.sampled_from(FIELDS), toml_values).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.tuples(st.text(max_size=8), toml_values).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(FIELDS).map(lambda k: f"[{k}]"),
    st.sampled_from(["# comment", "", "[table]", "[[array]]", "dim = 3 = 4", "dim"]),
    st.text(max_size=20),
)
toml_text = st.lists(toml_line, max_size=8).map(lambda lines: "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@FUZZ
@given(content=st.one_of(toml_text, st.text(max_size=200), st.binary(max_size=200)))
def test_load_config_random_toml(workdir, content):
    path = workdir / "fuzz.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
    with alarm(("load_config file", content)):
        _check_config_result(lambda: load_config(path))


# ----------------------------------------------------------------------------- (b) CLI
def _subcommands():
    """{name: {flag: action}} read from the real parser."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {s: a for a in p._actions for s in a.option_strings if s.startswith("--")}
        for name, p in sub.choices.items()
    }


COMMANDS = _subcommands()
PATH_FLAGS = ("--out", "--plot", "--config", "--resume")

BOUNDARY_INTS = [0, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**25, 65537, 1 << 20, 100001]
ints = st.one_of(
    st.integers(-3, 5),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.sampled_from(BOUNDARY_INTS),
).map(str)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "0.5", "2", "1e-400", "1e400", "nan", "inf", "-0.0", "0x10"]),
)
junk = st.one_of(st.text(max_size=10), st.sampled_from(["", "-", "--", "-1", "1,", ",", " "]))

# Valid values come from small pools so that the real `spectrum` runs stay cheap (each new
# kernel configuration compiles once); invalid ones from everywhere.
VALID = {
    "--dim": ["2", "3"],
    "--depth": ["1", "2"],
    "--kmax": ["0", "3"],
    "--activation": ["relu", "erf"],
    "--kernel": ["ntk", "nngp"],
    "--weight-var": ["0.5", "2"],
    "--bias-var": ["0", "0.5"],
    "--first-layer-var": ["1", "0.5"],
    "--method": ["auto", "jacobian"],
    "--sampling": ["uniform", "equispaced"],
    "--preset": sorted(PRESETS),
    "--width": ["8", "16"],
    "--n": ["8", "16"],
    "--seed": ["0", "1"],
    "--steps": ["10"],
    "--record-every": ["5"],
    "--checkpoint-every": ["5"],
    "--lr": ["0.1"],
    "--lr-fraction": ["0.5"],
    "--degrees": ["1,2", "1"],
    "--amplitudes": ["0.1"],
}
INVALID = {
    "--activation": ["swishy", "Relu", "tanh ", ""],
    "--kernel": ["ntkk"],
    "--method": ["nope"],
    "--sampling": ["grid"],
    "--preset": ["nope"],
}
BASE = {
    "spectrum": ["--dim", "3", "--depth", "1", "--kmax", "3"],
    "ntk": ["--dim", "3", "--depth", "1", "--kmax", "2", "--n", "8", "--width", "8"],
    "compare": ["--preset", "tiny", "--n", "16", "--width", "8", "--steps", "10"],
}


def _path_values(root):
    names = [
        "out",
        "s.json",
        "s.npz",
        "fig.png",
        "fig.txt",
        "s.csv",
        "a-file",
        "a-file/x.json",
        "a-file/fig.png",
        "good.toml",
        "bad.toml",
        "garbage.toml",
        "missing.toml",
        "other-run",
        "garbled-run",
        "",
    ]
    safe_text = st.text(max_size=10).map(lambda s: s.replace(os.sep, "_").replace("\x00", ""))
    return st.one_of(
        st.sampled_from(names).map(lambda n: str(root / n) if n else ""),
        safe_text.map(lambda s: str(root / ("x" + s))),
    )


def _value(flag, root):
    """Mostly a valid value; else a wrong one of the right type, or junk."""
    if flag in PATH_FLAGS:
        return _path_values(root)
    action = COMMANDS_ALL[flag]
    wrong = [junk]
    if action.type is int:
        wrong += [ints, st.sampled_from(BOUNDARY_INTS).map(str)]
    elif action.type is float:
        wrong.append(floats)
    elif flag in ("--degrees", "--amplitudes"):
        wrong.append(st.lists(st.one_of(ints, floats), max_size=4).map(",".join))
    if flag in INVALID:
        wrong.append(st.sampled_from(INVALID[flag]))
    if flag not in VALID:
        return st.one_of(*wrong)
    return st.one_of(*[st.sampled_from(VALID[flag])] * len(wrong), *wrong)


COMMANDS_ALL = {flag: a for flags in COMMANDS.values() for flag, a in flags.items()}


@st.composite
def argv_from_parser(draw, root):
    """A real subcommand, a mostly valid base, then 0-4 flags with random values."""
    command = draw(
        st.sampled_from([*sorted(COMMANDS) * 4, "", "frobnicate", "--version", "--help"])
    )
    argv = [command] if command else []
    if command in BASE and draw(st.integers(0, 4)):
        argv += BASE[command]
    flags = COMMANDS.get(command, COMMANDS_ALL)
    pool = [*sorted(flags), "--frobnicate", "-x"]
    for flag in draw(st.lists(st.sampled_from(pool), max_size=3)):
        action = COMMANDS_ALL.get(flag)
        argv.append(flag)
        if action is None or action.nargs == 0:  # store_true / store_const / help
            continue
        if draw(st.integers(0, 19)) == 0:
            continue  # a flag without its value
        argv.append(draw(_value(flag, root)))
    return argv


@pytest.fixture(scope="module")
def cli_sandbox():
    """A temporary working directory with config files and run directories, heavy calls
    stubbed (training, model building), cwd inside it so relative paths land there."""
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        root = Path(d)
        (root / "good.toml").write_text("dim = 2\nsampling = 'equispaced'\nn = 64\n")
        (root / "bad.toml").write_text("dim = [\n")
        (root / "garbage.toml").write_bytes(b"\x00\xff\xfe" + bytes(range(256)))
        (root / "a-file").write_text("")
        (root / "other-run").mkdir()
        (root / "other-run" / "run.json").write_text('{"status": "done", "config": {"dim": 5}}')
        (root / "garbled-run").mkdir()
        (root / "garbled-run" / "run.json").write_text("{not json")

        def heavy(*args, **kwargs):
            raise Reached

        # compare: the config is resolved and its seed made into a key, then the first heavy
        # step (the data) stops the run; ntk: the same at the first sampling.
        for name in ("prepare_data", "spectrum", "empirical_ntk", "fit"):
            mp.setattr(compare_module, name, heavy)
        mp.setattr(sphere_module, "sample_sphere", heavy)
        mp.chdir(root)
        yield root


def _run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with alarm(argv), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(argv)
        except Reached:
            rc = None
    err = err.getvalue()
    command = argv[0] if argv and argv[0] in COMMANDS else "other"
    event(f"{command}: {'reached the stub' if rc is None else f'exit {rc}'}")
    assert "Traceback" not in err, (argv, err)
    if rc is None:  # validated and reached the stub
        return
    assert rc in (0, 1, 2), (argv, rc, err)
    if rc == 2:
        errors = [ln for ln in err.splitlines() if ln.startswith("ntkspec: error: ")]
        assert len(errors) == 1 and err.splitlines()[-1] == errors[0], (argv, err)


def _last_int(argv, flag, default):
    values = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]
    try:
        return int(values[-1]) if values else default
    except ValueError:
        return default


def _spectrum_cost(argv):
    """~ quadrature nodes x degrees of a `spectrum` run: (kmax + dim) * kmax.

    Valid but large sizes are slow by design (kmax = 20000 takes seconds, kmax = 100000 about
    a minute: O(kmax^2)), so the fuzz skips the band between cheap and refused.
    """
    if not argv or argv[0] != "spectrum":
        return 0
    kmax, dim = _last_int(argv, "--kmax", 20), _last_int(argv, "--dim", 3)
    if not (0 <= kmax <= 100_000 and 2 <= dim <= 100_000):
        return 0  # refused before any work
    return (kmax + dim) * (kmax + 1)


@FUZZ
@given(data=st.data())
def test_cli_random_arguments(cli_sandbox, data):
    argv = data.draw(argv_from_parser(cli_sandbox))
    assume(_spectrum_cost(argv) <= 4 * 10**8)
    _run_cli(argv)


def _not_a_path_flag(token):
    # argparse accepts unique prefixes (--ou) and --flag=value: never let random text pick a
    # path outside the sandbox.
    name = token.split("=", 1)[0]
    return not (name.startswith("--") and any(f.startswith(name) for f in PATH_FLAGS))


@FUZZ
@given(
    argv=st.lists(
        st.one_of(st.text(max_size=12), st.sampled_from(sorted(COMMANDS) + sorted(COMMANDS_ALL))),
        max_size=8,
    ).filter(lambda a: all(map(_not_a_path_flag, a)))
)
def test_cli_random_strings(cli_sandbox, argv):
    assume(_spectrum_cost(argv) <= 4 * 10**8)
    _run_cli(argv)


def test_fuzz_strategies_reach_the_commands():
    """The argument generator is not vacuous: it produces every real subcommand and flag."""
    assert set(COMMANDS) >= {"spectrum", "compare", "ntk"}
    assert {"--dim", "--depth", "--kmax", "--out"} <= set(COMMANDS["spectrum"])
    assert {"--config", "--degrees", "--lr", "--out", "--force"} <= set(COMMANDS["compare"])
