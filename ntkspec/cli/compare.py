"""``ntkspec compare``: train and compare with the predictions, from a preset, a TOML file
and flags; ``--resume`` continues an interrupted run.

One path: every configuration (a preset, a sectioned or flat 0.1 TOML file, the flags) is an
:class:`~ntkspec.experiments.config.ExperimentConfig` run by
:func:`ntkspec.experiments.compare`. The 0.1 flags (``--dim``, ``--n``, ``--sampling``,
``--lr``, …) are aliases of section keys (:data:`~ntkspec.experiments.config.FLAT_KEYS`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ntkspec.cli.common import (
    PROG,
    alpha_value,
    duration,
    float_list,
    flops,
    int_list,
    one_line,
    print_error,
    progress,
)
from ntkspec.kernels import ACTIVATIONS

__all__ = ["add", "run"]


def add(subparsers) -> None:
    """The ``compare`` subcommand and its flags on ``subparsers``."""
    from ntkspec.experiments.config import PRESETS

    p = subparsers.add_parser(
        "compare",
        help="theory vs practice: predicted vs measured per-degree residual decay of real GD",
        description=(
            "Train a network (by default a centered MLP with full-batch GD) on a target made of "
            "chosen spherical-harmonic degrees, and compare the per-degree residual with the NTK "
            "predictions (operator, infinite-width Gram, empirical NTK). Writes metrics.json, "
            "run.json, report.md and figures to --out. Precedence: --preset, then --config, then "
            "explicit flags. The 0.1 flags (--dim, --n, --sampling, --lr, ...) are aliases of "
            "section keys."
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
        "distribution, loss, optimizer), or the flat 0.1 keys (dim, n, sampling, lr, ...)",
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
        help="[run] allow_unstable: run an --lr above the stability limit anyway (refused by "
        "default)",
    )
    p.add_argument(
        "--allow-unlearnable",
        action="store_const",
        const=True,
        default=None,
        help="[run] allow_unlearnable: train even if a target degree has lambda_k = 0 within "
        "error (refused by default: it cannot be learned)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no cost estimate and no progress (bar or lines)"
    )
    _add_flat_flags(p)
    _add_experiment_flags(p)
    p.set_defaults(run=run)


def _add_flat_flags(p: argparse.ArgumentParser) -> None:
    """The 0.1 flags: aliases of section keys (:data:`~ntkspec.experiments.config.FLAT_KEYS`)."""
    for flag, typ, hlp in [
        ("--dim", int, "[data] dim: ambient dimension d"),
        ("--depth", int, "[model] depth: hidden layers"),
        ("--activation", str, f"[model] activation: one of {', '.join(ACTIVATIONS)}"),
        ("--weight-var", float, "[model] weight_var: sigma_w^2"),
        ("--bias-var", float, "[model] bias_var: sigma_b^2"),
        ("--first-layer-var", float, "[model] first_layer_var: sigma_w0^2"),
        ("--width", int, "[model] width: hidden width"),
        ("--n", int, "[data] n: training points"),
        ("--sampling", str, "[data] distribution (the 0.1 name of --distribution)"),
        ("--degrees", int_list, "[target] degrees, e.g. 1,2,4"),
        ("--amplitudes", float_list, "[target] amplitudes (one or one per degree)"),
        ("--lr", float, "[optimizer] lr: the step (default: lr-fraction x the stability limit)"),
        ("--lr-fraction", float, "[optimizer] lr_fraction: fraction of the stability limit"),
        ("--steps", int, "[run] steps"),
        ("--record-every", int, "[run] record_every: late record interval (early records are "
         "log-spaced)"),
        ("--seed", int, "[run] seed: random seed"),
    ]:  # fmt: skip
        p.add_argument(flag, type=typ, default=None, help=hlp)


#: Flags of the sectioned configuration (ntkspec.experiments): flag dest -> "section.key".
#: (The 0.1 flags are mapped by ntkspec.experiments.config.FLAT_KEYS.)
_EXPERIMENT_FLAGS = {
    "arch": "model.arch",
    "factory": "model.factory",
    "alpha": "model.alpha",
    "beta": "model.beta",
    "omega0": "model.omega0",
    "features": "model.features",
    "power": "model.power",
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
        "sections (any model, distribution, loss and optimizer; flags override --config)"
    )
    for flag, typ, hlp in [
        ("--arch", str, "[model] arch: mlp, resnet, fourier, power_law (S^1) or siren"),
        ("--alpha", alpha_value, "[model] resnet branch scale: a number >= 0, 1/sqrt(L) or "
         "1/L (fourier/power_law: a residual MLP on top)"),
        ("--beta", float, "[model] fourier: variance of the frequencies b_j ~ N(0, beta I)"),
        ("--omega0", float, "[model] siren: first-layer frequency omega0 (default 30)"),
        ("--features", int, "[model] fourier: number of frequencies M; power_law: J"),
        ("--power", float, "[model] power_law: amplitudes a_j ~ j^(-power)"),
        ("--factory", str, "[model] factory 'package.module:function', (key, dim) -> "
         "(apply_fn, params), importable from the working directory"),
        ("--distribution", str, "[data] uniform, equispaced, vmf, mixture, cap, "
         "warped_circle, file or grid"),
        ("--kappa", float, "[data] vMF concentration"),
        ("--mean", float_list, "[data] vMF/cap mean direction, e.g. 0,0,1"),
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


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _overrides(args: argparse.Namespace) -> dict:
    """``{"section.key": value}`` of every flag given; an alias given twice is refused."""
    from ntkspec.experiments.config import FLAT_KEYS

    targets = {k: "{}.{}".format(*v) for k, v in FLAT_KEYS.items()}
    targets.update(_EXPERIMENT_FLAGS)
    out, by = {}, {}
    for dest, key in targets.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if key in out:
            raise ValueError(
                f"{_flag(by[key])} and {_flag(dest)} both set {key}; give one of them."
            )
        out[key], by[key] = value, dest
    return out


def _given(args: argparse.Namespace) -> list[str]:
    """The configuration flags given, as the user spelled them."""
    from ntkspec.experiments.config import FLAT_KEYS

    dests = [*FLAT_KEYS, *_EXPERIMENT_FLAGS, "preset", "config", "out"]
    given = [_flag(k) for k in dests if getattr(args, k, None) is not None]
    return given + (["--force"] if args.force else [])


def _resumed_config(out: Path):
    """The configuration of the unfinished run in ``out`` (a 0.1 flat one is mapped)."""
    from ntkspec.experiments import load_config
    from ntkspec.experiments.config import SECTIONS
    from ntkspec.rundir import CHECKPOINT, resume

    config = resume(out)
    flat = not any(isinstance(config.get(k), dict) for k in SECTIONS)
    if flat and (out / CHECKPOINT).exists():
        raise ValueError(
            f"Cannot resume {out}: it was started by ntkspec 0.1 (a flat configuration), whose "
            "checkpoints this version cannot continue (other random draws); start it again with "
            f"'ntkspec compare --config FILE.toml --out {out} --force'."
        )
    return load_config(config)


def _config(args: argparse.Namespace):
    """``(ExperimentConfig, out directory)`` for a new run or for ``--resume``."""
    from ntkspec._validate import check_int
    from ntkspec.experiments import load_config
    from ntkspec.rundir import prepare

    if args.checkpoint_every is not None:
        check_int("checkpoint_every", args.checkpoint_every, minimum=1)
    for flag in ("out", "resume"):
        if getattr(args, flag) == "":
            raise ValueError(f"Expected a directory after --{flag}; got an empty string.")
    if args.resume is not None:
        given = _given(args)
        if given:
            raise ValueError(
                f"--resume DIR takes the configuration from DIR/run.json; drop {', '.join(given)}."
            )
        out = Path(args.resume)
        return _resumed_config(out), out
    cfg = load_config(args.config, preset=args.preset, overrides=_overrides(args))
    out = prepare(args.out or "ntkspec-out", cfg.to_dict(), steps=cfg.run.steps,
                  force=args.force)  # fmt: skip
    return cfg, out


def _print_compare_cost(cfg) -> None:
    """One stderr line: FLOPs by part and a calibrated time estimate (or why there is none)."""
    from ntkspec.experiments.cost import estimate_cost

    try:
        est = estimate_cost(cfg)
    except ValueError as e:  # a user network (model.factory): no FLOP model
        print(f"cost: not available ({one_line(str(e))})", file=sys.stderr, flush=True)
        return
    print(
        f"cost: ~{flops(est.flops)} FLOP (training {flops(est.flops_train)}, 2 empirical "
        f"NTKs {flops(est.flops_ntk)}, Gram/eigendecompositions {flops(est.flops_linalg)}); "
        f"estimated {duration(est.seconds)} on this machine (calibrated on a timed step)",
        file=sys.stderr,
        flush=True,
    )


def _train(args: argparse.Namespace, cfg, out: Path):
    """Run the experiment in ``out`` (run.json: running, then failed/interrupted or done)."""
    from ntkspec.experiments import compare
    from ntkspec.experiments.learnability import check_config
    from ntkspec.report import write_report
    from ntkspec.rundir import CHECKPOINT, checkpoint_step, finish, running

    try:
        with running(out, cfg.to_dict()):
            if not args.quiet:
                check_config(cfg)  # refuse before spending time on the estimate
                _print_compare_cost(cfg)
            exp = compare(cfg, callback=progress(args.quiet), checkpoint=out / CHECKPOINT,
                          checkpoint_every=args.checkpoint_every)  # fmt: skip
            paths = write_report(exp, out)
    except BaseException:
        step = checkpoint_step(out)
        if step is not None:
            print(
                f"{PROG}: run stopped; step {step} is checkpointed: continue with "
                f"'ntkspec compare --resume {out}'",
                file=sys.stderr,
            )
        raise
    finish(out, cfg.to_dict(), diverged=exp.diverged)
    return exp, paths


def run(args: argparse.Namespace) -> int:
    """Run ``ntkspec compare`` for the parsed ``args``; the exit status (1: training diverged)."""
    from ntkspec.experiments import format_experiment
    from ntkspec.rundir import checkpoint_step

    cfg, out = _config(args)
    if args.resume is not None:
        step = checkpoint_step(out)
        start = "step 0 (no checkpoint)" if step is None else f"step {step}"
        print(f"resuming {out} from {start} of {cfg.run.steps}", file=sys.stderr)
    exp, paths = _train(args, cfg, out)
    print(format_experiment(exp))
    print(f"report: {paths['report.md']}")
    if exp.diverged:
        s = exp.setting
        print_error(
            f"training diverged (lr {s.lr:.4g} vs the stability limit {s.lr_limit:.4g}); lower --lr"
        )
        return 1
    return 0
