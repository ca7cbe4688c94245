"""What the subcommands share: the one-line-error parser, the kernel flags, list parsers,
durations and the progress callback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ntkspec.kernels import ACTIVATIONS, mlp_kernel

PROG = "ntkspec"
USAGE_EXIT = 2


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line ``ntkspec: error: …`` and exit status 2."""

    def error(self, message: str):
        hint = f" (see '{self.prog} --help')"
        print_error(message + hint)
        self.exit(USAGE_EXIT)


def one_line(message: str) -> str:
    return " ".join(str(message).split())


def print_error(message: str) -> None:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)


# ----------------------------------------------------------------------------- shared arguments
def add_kernel_arguments(p: argparse.ArgumentParser) -> None:
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


def kernel_from_args(args: argparse.Namespace):
    return mlp_kernel(
        args.depth,
        args.activation,
        weight_var=args.weight_var,
        bias_var=args.bias_var,
        first_layer_var=args.first_layer_var,
    )


def kernel_config(kernel) -> dict:
    return {
        "depth": kernel.depth,
        "activation": kernel.activation,
        "weight_var": kernel.weight_var,
        "bias_var": kernel.bias_var,
        "first_layer_var": kernel.first_layer_var,
    }


def check_suffix(flag: str, path: str, suffixes: Sequence[str]) -> None:
    if Path(path).suffix.lower() not in suffixes:
        raise ValueError(f"Expected {flag} to end in {' or '.join(suffixes)}; got {path!r}.")


def print_json(obj) -> None:
    """Exactly one JSON object on stdout (floats repr-exact, no NaN/inf)."""
    sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")


def int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def alpha_value(text: str) -> float | str:
    """``--alpha``: a number, or a depth rule of ``ntkspec.architectures.ALPHA_RULES``."""
    from ntkspec.architectures import ALPHA_RULES

    if text in ALPHA_RULES:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or one of {', '.join(ALPHA_RULES)}, got {text!r}"
        ) from None


def float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes}m{sec:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def progress(quiet: bool, what: str = "training", *, every: float = 0.05):
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
        tail = "done" if step >= total else f"ETA {duration(eta)}"
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


def flops(x: float) -> str:
    return f"{x:.2g}".replace("e+", "e")
