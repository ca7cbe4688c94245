"""The ``ntkspec`` command line.

    ntkspec spectrum --dim 3 --depth 2 --kmax 100 --json
    ntkspec spectrum --dim 3 --depth 4 --kmax 30 --plot spectrum.png

Structure (to add a subcommand): write ``_add_<name>(subparsers)`` that creates its parser
with ``subparsers.add_parser(...)``, adds its arguments (``_add_kernel_arguments`` gives the
shared kernel flags) and calls ``set_defaults(run=_run_<name>)``; write
``_run_<name>(args) -> int`` that calls the public API and prints; append ``_add_<name>`` to
``_COMMANDS``. :func:`main` handles errors for every subcommand: a ``ValueError``,
``TypeError`` or ``OSError`` (bad input, unwritable path) and every argparse error become one
line ``ntkspec: error: <message>`` on stderr and exit status 2, never a traceback. Ctrl-C
(SIGINT) and SIGTERM stop a command with ``ntkspec: interrupted`` and status 130 (143 for
SIGTERM); once one arrived, further ones are ignored so that the cleanup (run.json status,
the resume hint) finishes and no second traceback is printed.
``RuntimeWarning``/``UserWarning`` raised while a command runs are printed as one
``ntkspec: warning: <message>`` line each (other warnings are hidden).

matplotlib is imported only when a figure is requested.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ntkspec import __version__
from ntkspec._io import atomic_write_json
from ntkspec.kernels import ACTIVATIONS, mlp_kernel
from ntkspec.spectrum import spectrum
from ntkspec.sphere import multiplicity

__all__ = ["main", "build_parser"]

_PROG = "ntkspec"
_USAGE_EXIT = 2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line ``ntkspec: error: …`` and exit status 2."""

    def error(self, message: str):
        hint = f" (see '{self.prog} --help')"
        _print_error(message + hint)
        self.exit(_USAGE_EXIT)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _print_error(message: str) -> None:
    print(f"{_PROG}: error: {_one_line(message)}", file=sys.stderr)


# ----------------------------------------------------------------------------- shared arguments
def _add_kernel_arguments(p: argparse.ArgumentParser) -> None:
    """The infinite-width MLP kernel flags (mapped onto :func:`ntkspec.mlp_kernel`)."""
    g = p.add_argument_group("kernel")
    g.add_argument(
        "--dim",
        type=int,
        required=True,
        metavar="D",
        help="ambient dimension d >= 2 (points on the sphere S^(d-1))",
    )
    g.add_argument(
        "--depth",
        type=int,
        required=True,
        metavar="L",
        help="number of hidden layers L >= 1 (a two-layer network has depth 1)",
    )
    g.add_argument(
        "--activation",
        default="relu",
        choices=ACTIVATIONS,
        metavar="NAME",
        help=f"activation, one of {', '.join(ACTIVATIONS)} (default: relu)",
    )
    g.add_argument(
        "--kernel",
        default="ntk",
        choices=("ntk", "nngp"),
        help="which kernel to decompose (default: ntk)",
    )
    g.add_argument(
        "--weight-var",
        type=float,
        default=None,
        metavar="W",
        help="hidden/readout weight variance sigma_w^2 (default: 2 for relu, else 1)",
    )
    g.add_argument(
        "--bias-var",
        type=float,
        default=0.0,
        metavar="B",
        help="bias variance sigma_b^2 (default: 0)",
    )
    g.add_argument(
        "--first-layer-var",
        type=float,
        default=None,
        metavar="V",
        help="first-layer weight variance sigma_w0^2, no 1/d (default: 1)",
    )


def _kernel_from_args(args: argparse.Namespace):
    return mlp_kernel(
        args.depth,
        args.activation,
        weight_var=args.weight_var,
        bias_var=args.bias_var,
        first_layer_var=args.first_layer_var,
    )


def _kernel_config(kernel) -> dict:
    return {
        "depth": kernel.depth,
        "activation": kernel.activation,
        "weight_var": kernel.weight_var,
        "bias_var": kernel.bias_var,
        "first_layer_var": kernel.first_layer_var,
    }


def _check_suffix(flag: str, path: str, suffixes: Sequence[str]) -> None:
    if Path(path).suffix.lower() not in suffixes:
        raise ValueError(f"Expected {flag} to end in {' or '.join(suffixes)}; got {path!r}.")


def _print_json(obj) -> None:
    """Exactly one JSON object on stdout (floats repr-exact, no NaN/inf)."""
    sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")


# ----------------------------------------------------------------------------- spectrum
def _add_spectrum(subparsers) -> None:
    p = subparsers.add_parser(
        "spectrum",
        help="Funk-Hecke eigenvalues of an infinite-width MLP kernel on the sphere",
        description=(
            "Eigenvalues lambda_k (k = 0..kmax) of the integral operator of an infinite-width "
            "MLP kernel on S^(d-1), with the normalized uniform measure, and their "
            "multiplicities N(d, k); sum rule sum_k N(d,k) lambda_k = kappa(1)."
        ),
    )
    _add_kernel_arguments(p)
    p.add_argument("--kmax", type=int, default=20, metavar="K", help="highest degree (default: 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        default=None,
        help="also write a log-log plot of lambda_k (format from the suffix)",
    )
    p.add_argument(
        "--out",
        metavar="FILE.json|FILE.npz",
        default=None,
        help="also save the spectrum (.json: the --json object; .npz: arrays)",
    )
    p.set_defaults(run=_run_spectrum)


def _decay(s) -> dict | None:
    """:meth:`Spectrum.decay_fit` over its default range (the upper half of 1..kmax), the
    same fit as the compare report's; ``None`` if fewer than two degrees are resolvable."""
    try:
        fit = s.decay_fit()
    except ValueError:  # kmax < 2, or fewer than two resolvable eigenvalues in the range
        return None
    return {
        "kmin": fit.kmin,
        "kmax": fit.kmax,
        "exponent": fit.exponent,
        "degrees": [int(k) for k in fit.degrees],
    }


def _spectrum_payload(s, kernel) -> dict:
    out = s.to_dict()
    out["config"] = _kernel_config(kernel)
    out["sum_rule_residual"] = s.sum_rule_residual()
    out["decay"] = _decay(s)
    return out


def _spectrum_table(s, kernel) -> str:
    cfg = _kernel_config(kernel)
    d = s.dim
    lines = [
        f"# {s.kernel.upper()} of a depth-{cfg['depth']} {cfg['activation']} MLP "
        f"(weight_var={cfg['weight_var']:g}, bias_var={cfg['bias_var']:g}, "
        f"first_layer_var={cfg['first_layer_var']:g}) on S^{d - 1} in R^{d}: Funk-Hecke "
        f"eigenvalues, normalized measure, trace kappa(1) = {s.trace:.12g}",
        f"{'k':>6} {'N(d,k)':>14} {'lambda_k':>22} {'N*lambda_k':>22} {'cum.frac':>10}",
    ]
    weighted = s.multiplicities * s.eigenvalues
    cum = weighted.cumsum()
    zero = s.zero_within_error()
    for i, k in enumerate(s.degrees):
        lam = float(s.eigenvalues[i])
        flag = " *" if zero[i] else ""
        frac = cum[i] / s.trace if s.trace else float("nan")
        lines.append(
            f"{int(k):>6} {multiplicity(d, int(k)):>14} {lam:>22.14e} "
            f"{float(weighted[i]):>22.14e} {frac:>10.6f}{flag}"
        )
    if zero.any():
        lines.append(
            "# * |lambda_k| <= its certified error bound: zero to working accuracy"
        )
    lines.append(
        f"# sum-rule residual kappa(1) - sum_(k<={s.kmax}) N*lambda_k = "
        f"{s.sum_rule_residual():.6e} (the trace beyond k = {s.kmax})"
    )
    decay = _decay(s)
    if decay is None:
        lines.append("# decay exponent: n/a (needs two resolvable eigenvalues with k >= 1)")
    else:
        lines.append(
            f"# fitted decay lambda_k ~ k^{decay['exponent']:.4f} "
            f"(least squares, k in [{decay['kmin']}, {decay['kmax']}])"
        )
    return "\n".join(lines)


def _run_spectrum(args: argparse.Namespace) -> int:
    if args.out is not None:
        _check_suffix("--out", args.out, (".json", ".npz"))
    if args.plot is not None:
        from ntkspec.plot import check_figure_path

        check_figure_path(args.plot)
    kernel = _kernel_from_args(args)
    s = spectrum(kernel, args.dim, args.kmax, args.kernel)
    payload = _spectrum_payload(s, kernel)
    # Files first, so that a failed write leaves stdout empty.
    if args.out is not None:
        if Path(args.out).suffix.lower() == ".npz":
            s.save(args.out)
        else:
            atomic_write_json(args.out, payload)
    if args.plot is not None:
        from ntkspec.plot import plot_spectrum

        decay = payload["decay"]
        fit = None if decay is None else (decay["kmin"], decay["kmax"])
        plot_spectrum(s, path=args.plot, fit=fit)
    if args.json:
        _print_json(payload)
    else:
        print(_spectrum_table(s, kernel))
    return 0


# ----------------------------------------------------------------------------- compare
def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _add_compare(subparsers) -> None:
    from ntkspec.compare import PRESETS as FLAT_PRESETS
    from ntkspec.experiments.config import PRESETS

    PRESETS = {**FLAT_PRESETS, **PRESETS}
    p = subparsers.add_parser(
        "compare",
        help="theory vs practice: predicted vs measured per-degree residual decay of real GD",
        description=(
            "Train a centered MLP with full-batch GD on a target made of chosen spherical-harmonic "
            "degrees, and compare the per-degree residual with the NTK predictions (operator, "
            "infinite-width Gram, empirical NTK). Writes metrics.json, run.json, report.md and "
            "figures to --out. Precedence: --preset, then --config, then explicit flags."
        ),
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="named configuration (default: sphere3)",
    )
    p.add_argument(
        "--config",
        metavar="FILE.toml",
        default=None,
        help="TOML file: [model] [data] [target] [loss] [optimizer] [run] sections (any model, "
        "distribution, loss, optimizer), or the flat 0.1 CompareConfig fields",
    )
    p.add_argument(
        "--out", metavar="DIR", default=None, help="output directory (default: ntkspec-out)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite an output directory that holds a different or unfinished run",
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the interrupted run in DIR from its last checkpoint (its configuration "
        "comes from DIR/run.json; give no other configuration option)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help="checkpoint training every N steps into DIR/checkpoint.npz (default: ~20 per run)",
    )
    p.add_argument(
        "--allow-unstable",
        action="store_const",
        const=True,
        default=None,
        help="run an --lr above the stability limit 2/lambda_max anyway (refused by default)",
    )
    p.add_argument(
        "--allow-unlearnable",
        action="store_const",
        const=True,
        default=None,
        help="train even if a target degree has lambda_k = 0 within error (refused by default: "
        "it cannot be learned)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no cost estimate and no progress (bar or lines)"
    )
    for flag, typ, hlp in [
        ("--dim", int, "ambient dimension d"),
        ("--depth", int, "hidden layers"),
        ("--activation", str, f"one of {', '.join(ACTIVATIONS)}"),
        ("--weight-var", float, "sigma_w^2"),
        ("--bias-var", float, "sigma_b^2"),
        ("--first-layer-var", float, "sigma_w0^2"),
        ("--width", int, "hidden width"),
        ("--n", int, "training points"),
        ("--sampling", str, "uniform or equispaced (S^1)"),
        ("--degrees", _int_list, "target degrees, e.g. 1,2,4"),
        ("--amplitudes", _float_list, "per-degree amplitudes (one or one per degree)"),
        ("--lr", float, "GD step (default: lr-fraction x 2/lambda_max)"),
        ("--lr-fraction", float, "fraction of the stability limit"),
        ("--steps", int, "GD steps"),
        ("--record-every", int, "late record interval (early records are log-spaced)"),
        ("--seed", int, "random seed"),
    ]:
        p.add_argument(flag, type=typ, default=None, help=hlp)
    _add_experiment_flags(p)
    p.set_defaults(run=_run_compare)


#: Flags of the sectioned configuration (ntkspec.experiments): flag dest -> "section.key".
#: Any of them (or a TOML file with sections) runs compare through ntkspec.experiments.
_EXPERIMENT_FLAGS = {
    "arch": "model.arch",
    "factory": "model.factory",
    "distribution": "data.distribution",
    "kappa": "data.kappa",
    "mean": "data.mean",
    "height": "data.height",
    "mass": "data.mass",
    "warp": "data.a",
    "points": "data.path",
    "grid_degree": "data.degree",
    "loss": "loss.kind",
    "weights": "loss.weights",
    "s": "loss.s",
    "quadrature_degree": "loss.degree",
    "nonnegative": "loss.nonnegative",
    "optimizer": "optimizer.kind",
    "momentum": "optimizer.beta",
    "batch_size": "optimizer.batch_size",
    "b1": "optimizer.b1",
    "b2": "optimizer.b2",
    "eps": "optimizer.eps",
    "projection": "run.projection",
}


def _add_experiment_flags(p: argparse.ArgumentParser) -> None:
    """The [model]/[data]/[loss]/[optimizer]/[run] flags of the sectioned configuration."""
    g = p.add_argument_group(
        "sections (ntkspec.experiments; any of these, or a TOML file with [sections], runs "
        "the sectioned experiment: any model, distribution, loss and optimizer)"
    )
    for flag, typ, hlp in [
        ("--arch", str, "[model] arch: mlp"),
        ("--factory", str, "[model] factory 'package.module:function', (key, dim) -> "
         "(apply_fn, params), importable from the working directory"),
        ("--distribution", str, "[data] uniform, equispaced, vmf, mixture, cap, "
         "warped_circle, file or grid"),
        ("--kappa", float, "[data] vMF concentration"),
        ("--mean", _float_list, "[data] vMF/cap mean direction, e.g. 0,0,1"),
        ("--height", float, "[data] cap height"),
        ("--mass", float, "[data] cap mass"),
        ("--warp", float, "[data] a of the warped circle θ = u + a sin u"),
        ("--points", str, "[data] path of a .npy/.csv point file (distribution = file)"),
        ("--grid-degree", int, "[data] exactness degree of a Gauss grid (distribution = grid)"),
        ("--loss", str, "[loss] mse, weighted or sobolev"),
        ("--weights", str, "[loss] lsq, kernel, voronoi, density, spacing, design (grid) or a "
         ".npy/.csv file"),
        ("--s", float, "[loss] Sobolev exponent"),
        ("--quadrature-degree", int, "[loss] degree L of lsq weights"),
        ("--optimizer", str, "[optimizer] gd, momentum, nesterov, sgd or adam"),
        ("--momentum", float, "[optimizer] beta of momentum/nesterov"),
        ("--batch-size", int, "[optimizer] sgd batch size"),
        ("--b1", float, "[optimizer] Adam b1"),
        ("--b2", float, "[optimizer] Adam b2"),
        ("--eps", float, "[optimizer] Adam eps"),
        ("--projection", str, "[run] weights of the per-degree projection: auto, mean or a "
         "quadrature method"),
    ]:  # fmt: skip
        g.add_argument(flag, type=typ, default=None, help=hlp)
    g.add_argument("--nonnegative", action="store_const", const=True, default=None,
                   help="[loss] nonnegative lsq weights")  # fmt: skip


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes}m{sec:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _progress(quiet: bool, what: str = "training", *, every: float = 0.05):
    """A ``callback(step, total)`` reporting progress with an ETA on stderr (None if quiet).

    On a terminal: one bar redrawn in place. Otherwise (a log file, a pipe): one line each
    time another ``every`` of the total is done, and at the end. The ETA extrapolates the
    rate since the first call (which excludes compilation of the first chunk).
    """
    import time

    if quiet:
        return None
    tty = sys.stderr.isatty()
    state = {"t0": None, "s0": 0, "next": every}

    def callback(step: int, total: int) -> None:
        now = time.perf_counter()
        if state["t0"] is None:  # the first chunk includes compilation: time from here
            state["t0"], state["s0"] = now, step
        frac = step / max(total, 1)
        rate = (step - state["s0"]) / (now - state["t0"]) if now > state["t0"] else 0.0
        eta = (total - step) / rate if rate > 0 else float("nan")
        tail = "done" if step >= total else f"ETA {_duration(eta)}"
        if tty:
            width = 30
            done = int(width * frac)
            end = "\n" if step >= total else ""
            print(
                f"\r{what} [{'#' * done}{'.' * (width - done)}] {step}/{total} {tail}   ",
                end=end,
                file=sys.stderr,
                flush=True,
            )
        elif frac >= state["next"] or step >= total:
            print(f"{what} {100 * frac:3.0f}% ({step}/{total}) {tail}", file=sys.stderr, flush=True)
            state["next"] = (np.floor(frac / every) + 1) * every

    return callback


_COMPARE_FIELDS = (
    "dim",
    "depth",
    "activation",
    "weight_var",
    "bias_var",
    "first_layer_var",
    "width",
    "n",
    "sampling",
    "degrees",
    "amplitudes",
    "lr",
    "lr_fraction",
    "allow_unstable",
    "allow_unlearnable",
    "steps",
    "record_every",
    "seed",
)


def _resolve_compare(args: argparse.Namespace):
    """``(config, out directory)`` for a new run or for ``--resume``."""
    from ntkspec._validate import check_int
    from ntkspec.compare import load_config
    from ntkspec.rundir import prepare, resume

    if args.checkpoint_every is not None:
        check_int("checkpoint_every", args.checkpoint_every, minimum=1)
    for flag in ("out", "resume"):
        if getattr(args, flag) == "":
            raise ValueError(f"Expected a directory after --{flag}; got an empty string.")
    if args.resume is None:
        overrides = {k: getattr(args, k) for k in _COMPARE_FIELDS}
        cfg = load_config(args.config, preset=args.preset, overrides=overrides)
        out = prepare(args.out or "ntkspec-out", cfg.to_dict(), steps=cfg.steps, force=args.force)
        return cfg, out
    given = [k for k in _COMPARE_FIELDS if getattr(args, k) is not None]
    given += [k for k in ("preset", "config", "out") if getattr(args, k) is not None]
    given += ["force"] if args.force else []
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(f"--resume DIR takes the configuration from DIR/run.json; drop {flags}.")
    return load_config(resume(args.resume)), Path(args.resume)


def _flops(x: float) -> str:
    return f"{x:.2g}".replace("e+", "e")


def _print_compare_cost(cfg) -> None:
    """One stderr line: FLOPs by part and a calibrated time estimate (or why there is none)."""
    from ntkspec.experiments.config import ExperimentConfig
    from ntkspec.experiments.cost import estimate_cost

    try:
        est = estimate_cost(cfg if isinstance(cfg, ExperimentConfig) else cfg.to_dict())
    except ValueError as e:  # a user network (model.factory): no FLOP model
        print(f"cost: not available ({_one_line(str(e))})", file=sys.stderr, flush=True)
        return
    print(
        f"cost: ~{_flops(est.flops)} FLOP (training {_flops(est.flops_train)}, 2 empirical "
        f"NTKs {_flops(est.flops_ntk)}, Gram/eigendecompositions {_flops(est.flops_linalg)}); "
        f"estimated {_duration(est.seconds)} on this machine (calibrated on a timed step)",
        file=sys.stderr,
        flush=True,
    )


def _run_compare(args: argparse.Namespace) -> int:
    from ntkspec.compare import check_learnable, compare
    from ntkspec.report import running, summary_table, write_report
    from ntkspec.rundir import CHECKPOINT, checkpoint_step

    if _sectioned(args):
        return _run_experiment(args)
    cfg, out = _resolve_compare(args)
    ckpt = out / CHECKPOINT
    if args.resume is not None:
        step = checkpoint_step(out)
        start = "step 0 (no checkpoint)" if step is None else f"step {step}"
        print(f"resuming {out} from {start} of {cfg.steps}", file=sys.stderr)
    try:
        with running(out, cfg.to_dict()):
            if not args.quiet:
                check_learnable(cfg)  # refuse before spending time on the estimate
                _print_compare_cost(cfg)
            result = compare(
                cfg,
                callback=_progress(args.quiet),
                checkpoint=ckpt,
                checkpoint_every=args.checkpoint_every,
            )
    except BaseException:
        step = checkpoint_step(out)
        if step is not None:
            print(
                f"{_PROG}: run stopped; step {step} is checkpointed: continue with "
                f"'ntkspec compare --resume {out}'",
                file=sys.stderr,
            )
        raise
    paths = write_report(result, out)
    ckpt.unlink(missing_ok=True)  # the run is complete: metrics.json holds the records
    print(summary_table(result))
    print(
        f"kernel drift {result.kernel_drift:.4f}, init kernel error "
        f"{result.init_kernel_error:.4f}, lr {result.lr:.4g} (limit {result.lr_limit:.4g})"
    )
    print(f"report: {paths['report.md']}")
    if result.diverged:
        _print_error(
            f"training diverged (lr {result.lr:.4g} vs the stability limit 2/lambda_max = "
            f"{result.lr_limit:.4g}); lower --lr"
        )
        return 1
    return 0


def _sectioned(args: argparse.Namespace) -> bool:
    """Whether this compare runs through ntkspec.experiments (sections, new flags or preset)."""
    from ntkspec.compare import PRESETS as FLAT_PRESETS
    from ntkspec.experiments.config import SECTIONS, load_toml
    from ntkspec.rundir import read_run

    if any(getattr(args, k) is not None for k in _EXPERIMENT_FLAGS):
        return True
    if args.preset is not None and args.preset not in FLAT_PRESETS:
        return True
    if args.config is not None:
        tables = load_toml(args.config).items()
        return any(k in SECTIONS and isinstance(v, dict) for k, v in tables)
    if args.resume is not None and Path(args.resume, "run.json").is_file():
        return isinstance(read_run(args.resume)["config"].get("model"), dict)
    return False


def _experiment_config(args: argparse.Namespace):
    """``(ExperimentConfig, out directory)`` for a new sectioned run or for ``--resume``."""
    from ntkspec._validate import check_int
    from ntkspec.experiments import load_config
    from ntkspec.experiments.config import FLAT_KEYS
    from ntkspec.rundir import prepare, resume

    if args.checkpoint_every is not None:
        check_int("checkpoint_every", args.checkpoint_every, minimum=1)
    overrides = {"{}.{}".format(*FLAT_KEYS[k]): getattr(args, k) for k in _COMPARE_FIELDS}
    overrides.update({v: getattr(args, k) for k, v in _EXPERIMENT_FLAGS.items()})
    if args.resume is None:
        cfg = load_config(args.config, preset=args.preset, overrides=overrides)
        out = prepare(args.out or "ntkspec-out", cfg.to_dict(), steps=cfg.run.steps,
                      force=args.force)  # fmt: skip
        return cfg, out
    given = [k for k, v in overrides.items() if v is not None]
    given += [k for k in ("preset", "config", "out") if getattr(args, k) is not None]
    if given or args.force:
        raise ValueError(f"--resume DIR takes the configuration from DIR/run.json; drop {given}.")
    return load_config(resume(args.resume)), Path(args.resume)


def _run_experiment(args: argparse.Namespace) -> int:
    """compare through ntkspec.experiments: metrics.json, report.md, run.json in --out."""
    from ntkspec._io import atomic_write_text
    from ntkspec.experiments import compare, format_experiment
    from ntkspec.experiments.learnability import check_config
    from ntkspec.experiments.summary import write_figures
    from ntkspec.rundir import CHECKPOINT, checkpoint_step, finish, running

    cfg, out = _experiment_config(args)
    if args.resume is not None:
        step = checkpoint_step(out)
        start = "step 0 (no checkpoint)" if step is None else f"step {step}"
        print(f"resuming {out} from {start} of {cfg.run.steps}", file=sys.stderr)
    with running(out, cfg.to_dict()):
        if not args.quiet:
            check_config(cfg)  # refuse before spending time on the estimate
            _print_compare_cost(cfg)
        exp = compare(cfg, callback=_progress(args.quiet), checkpoint=out / CHECKPOINT,
                      checkpoint_every=args.checkpoint_every)  # fmt: skip
        exp.save(out / "metrics.json")
        text = format_experiment(exp)
        figures = "\n".join(write_figures(exp, out))  # optional: never fail a finished run
        atomic_write_text(
            out / "report.md", f"# ntkspec compare\n\n```\n{text}\n```\n\n{figures}\n"
        )
    finish(out, cfg.to_dict(), diverged=exp.diverged)
    print(text)
    print(f"report: {out / 'report.md'}")
    if exp.diverged:
        _print_error(f"training diverged (lr {exp.setting.lr:.4g}); lower --lr")
        return 1
    return 0


# ----------------------------------------------------------------------------- ntk
def _add_ntk(subparsers) -> None:
    p = subparsers.add_parser(
        "ntk",
        help="empirical NTK Gram of an MLP at init and its per-degree spectrum",
        description=(
            "Initialize an MLP (NTK parametrization), compute its empirical NTK Gram on n uniform "
            "points of S^(d-1), and compare its per-degree spectrum (zonal projection) with the "
            "infinite-width Funk-Hecke eigenvalues. Writes DIR/gram.npz (K, X) and "
            "DIR/gram_spectrum.json."
        ),
    )
    _add_kernel_arguments(p)
    p.add_argument("--width", type=int, default=1024, help="hidden width (default: 1024)")
    p.add_argument("--n", type=int, default=512, help="number of points (default: 512)")
    p.add_argument("--kmax", type=int, default=8, metavar="K", help="highest degree (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--method",
        default="auto",
        choices=("auto", "structured", "jacobian", "ntk_vp"),
        help="empirical NTK method (default: auto)",
    )
    p.add_argument("--out", metavar="DIR", default="ntkspec-ntk", help="output directory")
    p.add_argument(
        "--force", action="store_true", help="overwrite an output directory holding another run"
    )
    p.add_argument("--quiet", action="store_true", help="no cost estimate and no stage lines")
    p.set_defaults(run=_run_ntk)


def _ntk_flops(n: int, d: int, depth: int, width: int, n_params: int, method: str) -> dict:
    """FLOPs of `ntkspec ntk` by stage (2 flops per multiply-add).

    Structured (auto): per-layer features, forward + backward ≈ 3 forwards
    ``3 · 2n (d·m + (L−1)·m² + m)``, then the per-layer Gram products ``2n² (d + 2Lm + 1)``.
    jacobian / ntk_vp: per-example gradients ``3 · 2n · P`` and their contraction ``2n² P``
    (P parameters). The infinite-width Gram costs ~20 flops per entry and layer, the
    per-degree spectrum ``2n²`` per degree (plus the Gegenbauer recursion).
    """
    forward = 2.0 * n * (d * width + (depth - 1) * width**2 + width)
    if method in ("auto", "structured"):
        emp = 3 * forward + 2.0 * n * n * (d + 2 * depth * width + 1)
    else:
        emp = 3 * 2.0 * n * n_params + 2.0 * n * n * n_params
    return {"empirical NTK": emp, "infinite-width Gram": 20.0 * depth * n * n}


def _matmul_rate() -> float:
    """FLOP/s of a compiled 256 x 256 float32 matrix product on the default device."""
    import time

    import jax
    import jax.numpy as jnp

    a = jnp.ones((256, 256), dtype=jnp.float32)
    f = jax.jit(lambda x: x @ x)
    jax.block_until_ready(f(a))
    t0 = time.perf_counter()
    for _ in range(5):
        jax.block_until_ready(f(a))
    return 5 * 2 * 256**3 / max(time.perf_counter() - t0, 1e-9)


class _Stages:
    """Stage lines on stderr: ``ntk [i/N] what ...`` then ``done in T`` (nothing if quiet)."""

    def __init__(self, names: Sequence[str], quiet: bool):
        self.names, self.quiet, self.i = list(names), quiet, 0

    def __enter__(self):
        import time

        self.i += 1
        self.t0 = time.perf_counter()
        if not self.quiet:
            name = self.names[self.i - 1]
            print(f"ntk [{self.i}/{len(self.names)}] {name} ...", file=sys.stderr, flush=True)
        return self

    def __exit__(self, *exc):
        import time

        if not self.quiet and exc[0] is None:
            took = _duration(time.perf_counter() - self.t0)
            print(f"ntk [{self.i}/{len(self.names)}] done in {took}", file=sys.stderr, flush=True)
        return False


def _run_ntk(args: argparse.Namespace) -> int:
    import jax

    from ntkspec import _compat
    from ntkspec._io import atomic_savez
    from ntkspec._validate import check_int
    from ntkspec.compare import MAX_POINTS, MAX_SEED
    from ntkspec.experiments.width import mlp_for, ntk_sample, sample_points
    from ntkspec.rundir import check_output_dir, run_info, running

    if args.kernel != "ntk":
        raise ValueError("Expected --kernel ntk: `ntkspec ntk` computes the empirical NTK.")
    kernel = _kernel_from_args(args)
    n = check_int("n", args.n, minimum=2, maximum=MAX_POINTS)
    kmax = check_int("kmax", args.kmax, minimum=0, maximum=10_000)
    seed = check_int("seed", args.seed, minimum=0, maximum=MAX_SEED)
    width = check_int("width", args.width, minimum=1, maximum=1 << 20)
    config = {
        **_kernel_config(kernel),
        "dim": args.dim,
        "width": width,
        "n": n,
        "seed": seed,
        "method": args.method,
    }
    out = check_output_dir(args.out, config, force=args.force)
    stage = _Stages(["empirical NTK", "infinite-width Gram", "spectra"], args.quiet)
    with running(out, config):
        with _compat.random_streams():
            k_points, k_init = jax.random.split(jax.random.key(seed))
        X = sample_points(k_points, n, args.dim)
        if not args.quiet:
            model = mlp_for(kernel, width)
            n_params = sum(int(np.size(v)) for v in jax.tree.leaves(model.init(k_init, args.dim)))
            parts = _ntk_flops(n, args.dim, kernel.depth, width, n_params, args.method)
            parts["spectra"] = 2.0 * n * n * (kmax + 2)
            total = sum(parts.values())
            detail = ", ".join(f"{k} {_flops(v)}" for k, v in parts.items())
            print(
                f"cost: ~{_flops(total)} FLOP ({detail}); arithmetic ~"
                f"{_duration(total / _matmul_rate())} at this machine's matmul rate, plus "
                "compilation (a few seconds)",
                file=sys.stderr,
                flush=True,
            )
        sample = ntk_sample(kernel, width, X, k_init, kmax, method=args.method,
                            stage=lambda: stage)  # fmt: skip
        K, emp, inf, error = sample.K, sample.empirical, sample.infinite, sample.relative_error
        atomic_savez(out / "gram.npz", K=K, X=X)
        payload = {
            "config": config,
            "degrees": [int(k) for k in emp.degrees],
            "empirical": [float(x) for x in emp.eigenvalues],
            "infinite_width": [float(x) for x in inf.eigenvalues],
            "relative_error": error,
        }
        atomic_write_json(out / "gram_spectrum.json", payload)
    atomic_write_json(out / "run.json", run_info(config, "done"))
    print(
        f"# empirical NTK of a depth-{kernel.depth} width-{args.width} {kernel.activation} MLP "
        f"on {n} points of S^{args.dim - 1}; ||K - K_inf||/||K_inf|| = {error:.4g}"
    )
    print(f"{'k':>4} {'empirical':>14} {'infinite width':>16}")
    for k in range(kmax + 1):
        print(f"{k:>4} {emp.eigenvalues[k]:>14.6e} {inf.eigenvalues[k]:>16.6e}")
    print(f"saved: {out / 'gram.npz'}, {out / 'gram_spectrum.json'}")
    return 0


# ----------------------------------------------------------------------------- curve
def _add_curve(subparsers) -> None:
    p = subparsers.add_parser(
        "curve",
        help="learning curve per degree: eigenlearning theory (and kernel-regression measurement)",
        description=(
            "Predict the test and train MSE of kernel ridge regression with the infinite-width "
            "kernel, per spherical-harmonic degree, for each n (eigenlearning; docs/theory.md, "
            "'Learning curves'). --trials > 0 also measures it by kernel regression on random "
            "draws. With --out, writes curve.json, report.md and learning_curve.png there."
        ),
    )
    _add_kernel_arguments(p)
    p.add_argument("--degrees", type=_int_list, required=True, help="target degrees, e.g. 1,2,4")
    p.add_argument(
        "--amplitudes",
        type=_float_list,
        default=[1.0],
        help="amplitude A_k of each degree's unit-norm harmonic, one or one per degree "
        "(default: 1)",
    )
    p.add_argument(
        "--n", type=_float_list, default=[10, 30, 100, 300], help="sample sizes, e.g. 10,30,100"
    )
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance (default: 0)")
    p.add_argument("--ridge", type=float, default=0.0, help="ridge delta, (K + delta I)^-1")
    p.add_argument(
        "--trials", type=int, default=0, help="kernel-regression draws to measure (default: 0)"
    )
    p.add_argument("--test-points", type=int, default=1000, help="held-out points per draw")
    p.add_argument("--seed", type=int, default=0, help="random seed of the draws (default: 0)")
    p.add_argument(
        "--tail-tol", type=float, default=1e-2, help="spectrum truncation tolerance (default: 0.01)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--out", metavar="DIR", default=None, help="write a report into DIR")
    p.add_argument(
        "--force", action="store_true", help="overwrite an output directory holding another run"
    )
    p.set_defaults(run=_run_curve)


def _run_curve(args: argparse.Namespace) -> int:
    from ntkspec.curve_report import curve_payload, curve_table, run_curve, write_curve_report
    from ntkspec.report import check_output_dir, run_info, running

    kernel = _kernel_from_args(args)
    config = {
        **_kernel_config(kernel),
        "dim": args.dim,
        "kernel": args.kernel,
        "degrees": args.degrees,
        "amplitudes": args.amplitudes,
        "n": args.n,
        "noise": args.noise,
        "ridge": args.ridge,
        "trials": args.trials,
        "test_points": args.test_points,
        "seed": args.seed,
        "tail_tol": args.tail_tol,
    }
    out = None if args.out is None else check_output_dir(args.out, config, force=args.force)

    def run():
        return run_curve(
            kernel,
            args.dim,
            args.degrees,
            args.amplitudes,
            args.n,
            which=args.kernel,
            noise=args.noise,
            ridge=args.ridge,
            trials=args.trials,
            test_points=args.test_points,
            seed=args.seed,
            tail_tol=args.tail_tol,
        )

    if out is None:
        result = run()
    else:
        with running(out, config):
            result = run()
            paths = write_curve_report(result, out)
        atomic_write_json(out / "run.json", run_info(config, "done"))
    if args.json:
        _print_json(curve_payload(result))
    else:
        t = result.theory.truncation
        print(
            f"# learning curve: depth-{kernel.depth} {kernel.activation} {args.kernel} on "
            f"S^{args.dim - 1}; degrees {args.degrees}; sums to K = {t.kmax}, tail {t.tail:.3g}"
        )
        print(curve_table(result))
        if out is not None:
            print(f"saved: {', '.join(str(p) for p in paths.values())}")
    return 0


# ----------------------------------------------------------------------------- main
# One entry per subcommand; each adds its parser and sets ``run`` (see the module docstring).
_COMMANDS = (_add_spectrum, _add_compare, _add_ntk, _add_curve)


def build_parser() -> argparse.ArgumentParser:
    """The ``ntkspec`` argument parser with every subcommand in ``_COMMANDS``."""
    parser = _Parser(
        prog=_PROG,
        description="Spectral bias on the hypersphere: NTK/NNGP spectra, predictions, training.",
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ntkspec`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 on success; 2 on bad input (argparse errors and any ``ValueError``/``TypeError``/
    ``OSError`` from the library), reported as one ``ntkspec: error: …`` line on stderr.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help/--version (0) or a usage error (2, already printed)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else _USAGE_EXIT)
    received: list[int] = []
    previous = _catch_signals(received)
    try:
        return _dispatch(args, received)
    finally:
        if previous and not received:  # after a real signal the process is ending: stay deaf
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _catch_signals(received: list[int]) -> dict:
    """Turn the first SIGINT/SIGTERM into ``KeyboardInterrupt`` and ignore any later one."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    sigs = (signal.SIGINT, signal.SIGTERM)

    def handler(signum, frame):
        received.append(signum)
        for sig in sigs:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in sigs}
    for sig in sigs:
        signal.signal(sig, handler)
    return previous


def _os_error(e: OSError) -> str:
    """One line naming the path: "Cannot access PATH: Permission denied." (no bare errno)."""
    if e.filename is not None and e.strerror:
        return f"Cannot access {e.filename}: {e.strerror}."
    return str(e) or type(e).__name__


def _dispatch(args: argparse.Namespace, received: list[int]) -> int:
    try:
        with warnings.catch_warnings(record=True) as caught:
            # Show what concerns the user's result (e.g. an unmet quadrature tolerance);
            # hide deprecation noise from dependencies.
            warnings.simplefilter("ignore")
            warnings.simplefilter("always", RuntimeWarning)
            warnings.simplefilter("always", UserWarning)
            status = args.run(args)
        for message in dict.fromkeys(_one_line(str(w.message)) for w in caught):
            print(f"{_PROG}: warning: {message}", file=sys.stderr)
        return status
    except OSError as e:
        _print_error(_os_error(e))
        return _USAGE_EXIT
    except (ValueError, TypeError) as e:
        _print_error(str(e) or type(e).__name__)
        return _USAGE_EXIT
    except KeyboardInterrupt:
        if received and received[0] == signal.SIGTERM:
            print(f"{_PROG}: terminated", file=sys.stderr)
            return 143
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
