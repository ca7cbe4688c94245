"""The ``ntkspec`` command line.

    ntkspec spectrum --dim 3 --depth 2 --kmax 100 --json
    ntkspec spectrum --dim 3 --depth 4 --kmax 30 --plot spectrum.png

Structure (to add a subcommand): write ``_add_<name>(subparsers)`` that creates its parser
with ``subparsers.add_parser(...)``, adds its arguments (``_add_kernel_arguments`` gives the
shared kernel flags) and calls ``set_defaults(run=_run_<name>)``; write
``_run_<name>(args) -> int`` that calls the public API and prints; append ``_add_<name>`` to
``_COMMANDS``. :func:`main` handles errors for every subcommand: a ``ValueError``,
``TypeError`` or ``OSError`` (bad input, unwritable path) and every argparse error become one
line ``ntkspec: error: <message>`` on stderr and exit status 2, never a traceback. Warnings
raised while a command runs are printed as one ``ntkspec: warning: <message>`` line each.

matplotlib is imported only when a figure is requested.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from ntkspec import __version__
from ntkspec._io import atomic_write_json
from ntkspec.kernels import ACTIVATIONS, mlp_kernel
from ntkspec.sphere import multiplicity
from ntkspec.spectrum import spectrum

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
    g.add_argument("--dim", type=int, required=True, metavar="D",
                   help="ambient dimension d >= 2 (points on the sphere S^(d-1))")
    g.add_argument("--depth", type=int, required=True, metavar="L",
                   help="number of hidden layers L >= 1 (a two-layer network has depth 1)")
    g.add_argument("--activation", default="relu", choices=ACTIVATIONS, metavar="NAME",
                   help=f"activation, one of {', '.join(ACTIVATIONS)} (default: relu)")
    g.add_argument("--kernel", default="ntk", choices=("ntk", "nngp"),
                   help="which kernel to decompose (default: ntk)")
    g.add_argument("--weight-var", type=float, default=None, metavar="W",
                   help="hidden/readout weight variance sigma_w^2 (default: 2 for relu, else 1)")
    g.add_argument("--bias-var", type=float, default=0.0, metavar="B",
                   help="bias variance sigma_b^2 (default: 0)")
    g.add_argument("--first-layer-var", type=float, default=None, metavar="V",
                   help="first-layer weight variance sigma_w0^2, no 1/d (default: 1)")


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


def _fmt(x: float) -> str:
    return f"{x:.3g}"


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
    p.add_argument("--kmax", type=int, default=20, metavar="K",
                   help="highest degree (default: 20)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of the table")
    p.add_argument("--plot", metavar="FILE.png", default=None,
                   help="also write a log-log plot of lambda_k (format from the suffix)")
    p.add_argument("--out", metavar="FILE.json|FILE.npz", default=None,
                   help="also save the spectrum (.json: the --json object; .npz: arrays)")
    p.set_defaults(run=_run_spectrum)


def _fit_range(kmax: int) -> tuple[int, int]:
    """Degrees used for the fitted decay exponent: the upper half of 1..kmax."""
    return max(1, kmax // 2), kmax


def _decay(s) -> dict | None:
    kmin, kmax = _fit_range(s.kmax)
    if kmax < kmin + 1:
        return None
    try:
        exponent = s.decay_exponent(kmin, kmax)
    except ValueError:  # fewer than two resolvable eigenvalues in the range
        return None
    return {"kmin": kmin, "kmax": kmax, "exponent": exponent}


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
    unresolved = False
    for i, k in enumerate(s.degrees):
        lam = float(s.eigenvalues[i])
        flag = ""
        if abs(lam) <= s.error[i]:
            flag, unresolved = " *", True
        frac = cum[i] / s.trace if s.trace else float("nan")
        lines.append(
            f"{int(k):>6} {multiplicity(d, int(k)):>14} {lam:>22.14e} "
            f"{float(weighted[i]):>22.14e} {frac:>10.6f}{flag}"
        )
    if unresolved:
        lines.append("# * |lambda_k| <= its error estimate: zero to quadrature accuracy")
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


# ----------------------------------------------------------------------------- main
# One entry per subcommand; each adds its parser and sets ``run`` (see the module docstring).
_COMMANDS = (_add_spectrum,)


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
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = args.run(args)
        for w in caught:
            print(f"{_PROG}: warning: {_one_line(str(w.message))}", file=sys.stderr)
        return status
    except (ValueError, TypeError, OSError) as e:
        _print_error(str(e) or type(e).__name__)
        return _USAGE_EXIT
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
