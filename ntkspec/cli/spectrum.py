"""``ntkspec spectrum``: the Funk-Hecke eigenvalues of an infinite-width kernel, as a table, JSON,
a file or a plot."""

from __future__ import annotations

import argparse
from pathlib import Path

from ntkspec._io import atomic_write_json
from ntkspec.cli.common import (
    add_kernel_arguments,
    check_suffix,
    kernel_config,
    kernel_from_args,
    kernel_label,
    print_json,
)
from ntkspec.spectrum import spectrum
from ntkspec.sphere import multiplicity

__all__ = ["add", "run"]


def add(subparsers) -> None:
    p = subparsers.add_parser(
        "spectrum",
        help="Funk-Hecke eigenvalues of an infinite-width kernel (MLP, resnet, Fourier "
        "features, SIREN) on the sphere",
        description=(
            "Eigenvalues lambda_k (k = 0..kmax) of the integral operator of an infinite-width "
            "kernel (an MLP, or --arch resnet, fourier, power_law, siren) on S^(d-1), with the "
            "normalized uniform measure, and their "
            "multiplicities N(d, k); sum rule sum_k N(d,k) lambda_k = kappa(1)."
        ),
    )
    add_kernel_arguments(p)
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
    p.set_defaults(run=run)


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
    out["config"] = kernel_config(kernel)
    out["sum_rule_residual"] = s.sum_rule_residual()
    out["decay"] = _decay(s)
    return out


def _spectrum_table(s, kernel) -> str:
    d = s.dim
    lines = [
        f"# {s.kernel.upper()} of {kernel_label(kernel)} on S^{d - 1} in R^{d}: Funk-Hecke "
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
        lines.append("# * |lambda_k| <= its certified error bound: zero to working accuracy")
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


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_suffix("--out", args.out, (".json", ".npz"))
    if args.plot is not None:
        from ntkspec.plot import check_figure_path

        check_figure_path(args.plot)
    kernel = kernel_from_args(args)
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
        print_json(payload)
    else:
        print(_spectrum_table(s, kernel))
    return 0
