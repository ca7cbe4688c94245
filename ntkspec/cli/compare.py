"""``ntkspec compare``: train and compare with the predictions, from a preset, a TOML file
and flags; ``--resume`` continues an interrupted run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ntkspec.cli.common import (
    PROG,
    duration,
    float_list,
    flops,
    int_list,
    one_line,
    print_error,
    progress,
)
from ntkspec.kernels import ACTIVATIONS


def add(subparsers) -> None:
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
        ("--degrees", int_list, "target degrees, e.g. 1,2,4"),
        ("--amplitudes", float_list, "per-degree amplitudes (one or one per degree)"),
        ("--lr", float, "GD step (default: lr-fraction x 2/lambda_max)"),
        ("--lr-fraction", float, "fraction of the stability limit"),
        ("--steps", int, "GD steps"),
        ("--record-every", int, "late record interval (early records are log-spaced)"),
        ("--seed", int, "random seed"),
    ]:
        p.add_argument(flag, type=typ, default=None, help=hlp)
    _add_experiment_flags(p)
    p.set_defaults(run=run)


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


def _print_compare_cost(cfg) -> None:
    """One stderr line: FLOPs by part and a calibrated time estimate (or why there is none)."""
    from ntkspec.experiments.config import ExperimentConfig
    from ntkspec.experiments.cost import estimate_cost

    try:
        est = estimate_cost(cfg if isinstance(cfg, ExperimentConfig) else cfg.to_dict())
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


def run(args: argparse.Namespace) -> int:
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
                callback=progress(args.quiet),
                checkpoint=ckpt,
                checkpoint_every=args.checkpoint_every,
            )
    except BaseException:
        step = checkpoint_step(out)
        if step is not None:
            print(
                f"{PROG}: run stopped; step {step} is checkpointed: continue with "
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
        print_error(
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
        exp = compare(cfg, callback=progress(args.quiet), checkpoint=out / CHECKPOINT,
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
        print_error(f"training diverged (lr {exp.setting.lr:.4g}); lower --lr")
        return 1
    return 0
