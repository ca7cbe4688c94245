"""``ntkspec curve``: per-degree learning curves of kernel regression (theory, and a
measurement with ``--trials``)."""

from __future__ import annotations

import argparse

from ntkspec._io import atomic_write_json
from ntkspec.cli.common import (
    add_kernel_arguments,
    float_list,
    int_list,
    kernel_config,
    kernel_from_args,
    kernel_label,
    print_json,
)

__all__ = ["add", "run"]


def add(subparsers) -> None:
    """The ``curve`` subcommand and its flags on ``subparsers``."""
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
    add_kernel_arguments(p)
    p.add_argument("--degrees", type=int_list, required=True, help="target degrees, e.g. 1,2,4")
    p.add_argument(
        "--amplitudes",
        type=float_list,
        default=[1.0],
        help="amplitude A_k of each degree's unit-norm harmonic, one or one per degree "
        "(default: 1)",
    )
    p.add_argument(
        "--n", type=float_list, default=[10, 30, 100, 300], help="sample sizes, e.g. 10,30,100"
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``ntkspec curve`` for the parsed ``args``; the exit status."""
    from ntkspec.curve_report import curve_payload, curve_table, run_curve, write_curve_report
    from ntkspec.rundir import check_output_dir, run_info, running

    kernel = kernel_from_args(args)
    config = {
        **kernel_config(kernel),
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
        print_json(curve_payload(result))
    else:
        t = result.theory.truncation
        print(
            f"# learning curve: {args.kernel} of {kernel_label(kernel)} on "
            f"S^{args.dim - 1}; degrees {args.degrees}; sums to K = {t.kmax}, tail {t.tail:.3g}"
        )
        print(curve_table(result))
        if out is not None:
            print(f"saved: {', '.join(str(p) for p in paths.values())}")
    return 0
