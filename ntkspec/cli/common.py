"""What the subcommands share: the one-line-error parser, the kernel flags, list parsers,
durations and the progress callback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ntkspec._validate import check_int
from ntkspec.architectures import FourierKernel, PowerLawKernel, ResNetKernel, architecture_kernel
from ntkspec.kernels import ACTIVATIONS

__all__ = [
    "PROG",
    "USAGE_EXIT",
    "ARCHS",
    "ARCH_FLAGS",
    "Parser",
    "one_line",
    "print_error",
    "add_kernel_arguments",
    "kernel_from_args",
    "kernel_config",
    "kernel_label",
    "check_suffix",
    "print_json",
    "int_list",
    "alpha_value",
    "float_list",
    "duration",
    "progress",
    "flops",
]

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
#: Architectures of the kernel flags (docs/theory.md §6.7), as ``[model] arch`` of compare.
ARCHS = ("mlp", "resnet", "fourier", "power_law", "siren")
#: Each architecture flag and the architectures that take it.
ARCH_FLAGS = {
    "alpha": ("resnet", "fourier", "power_law"),
    "beta": ("fourier",),
    "omega0": ("siren",),
    "features": ("power_law",),
    "power": ("power_law",),
}
#: The flags of the network (on top of the features for fourier/power_law).
_NET_FLAGS = ("activation", "weight_var", "bias_var", "first_layer_var")
#: Subcommands whose work needs an MLP model (``ntk``: its empirical NTK): mlp and siren.
_MLP_ONLY = {"ntk": ("mlp", "siren")}


def add_kernel_arguments(p: argparse.ArgumentParser) -> None:
    """The infinite-width kernel flags: an MLP (:func:`ntkspec.mlp_kernel`) or another ``--arch``
    (:mod:`ntkspec.architectures`)."""
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
        help="number of hidden layers L >= 1 (a two-layer network has depth 1); resnet: "
        "blocks; fourier/power_law: layers on the features, 0 = a linear readout",
    )
    g.add_argument(
        "--activation",
        default=None,
        choices=ACTIVATIONS,
        metavar="NAME",
        help=f"activation, one of {', '.join(ACTIVATIONS)} (default: relu; siren: sin)",
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
        help="hidden/readout weight variance sigma_w^2 (default: 2 for relu and siren, else 1)",
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
    _add_arch_arguments(p)


def _add_arch_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("architecture (docs/theory.md section 6.7)")
    g.add_argument(
        "--arch",
        default="mlp",
        choices=ARCHS,
        metavar="ARCH",
        help="mlp (default), resnet (residual MLP), fourier (Gaussian Fourier features, "
        "M -> infinity), power_law (power-law embedding of S^1, --dim 2) or siren",
    )
    g.add_argument("--alpha", type=alpha_value, default=None, metavar="A",
                   help="resnet branch scale: a number >= 0, 1/sqrt(L) or 1/L (default 1); "
                   "fourier/power_law: a residual MLP on top")  # fmt: skip
    g.add_argument("--beta", type=float, default=None, metavar="BETA",
                   help="fourier: variance of the frequencies b_j ~ N(0, beta I)")  # fmt: skip
    g.add_argument("--omega0", type=float, default=None, metavar="W0",
                   help="siren: first-layer frequency omega0 (default 30)")  # fmt: skip
    g.add_argument("--features", type=int, default=None, metavar="J",
                   help="power_law: number of frequencies J")  # fmt: skip
    g.add_argument("--power", type=float, default=None, metavar="P",
                   help="power_law: amplitudes a_j ~ j^(-P)")  # fmt: skip


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_arch_flags(args: argparse.Namespace, arch: str) -> None:
    """One-line errors for a flag the architecture does not take, or one it lacks."""
    allowed = _MLP_ONLY.get(getattr(args, "command", None))
    if allowed is not None and arch not in allowed:
        raise ValueError(
            f"Expected --arch {' or '.join(allowed)} for `ntkspec {args.command}`; got "
            f"{arch!r} (its empirical NTK: `ntkspec compare --arch {arch}`)."
        )
    if arch == "fourier" and getattr(args, "features", None) is not None:
        raise ValueError("Expected no --features with --arch fourier: its kernel is that of "
                         "infinitely many features (M -> infinity).")  # fmt: skip
    if args.depth == 0 and arch not in ("fourier", "power_law"):
        raise ValueError(f"Expected --depth >= 1 with --arch {arch} (--depth 0, a linear "
                         "readout, is for --arch fourier or power_law).")  # fmt: skip
    for name, archs in ARCH_FLAGS.items():
        if getattr(args, name, None) is not None and arch not in archs:
            raise ValueError(f"Expected no {_flag(name)} with --arch {arch}; it is for "
                             f"--arch {' or '.join(archs)}.")  # fmt: skip
    required = {"fourier": ("beta",), "power_law": ("power", "features")}.get(arch, ())
    for name in required:
        if getattr(args, name, None) is None:
            raise ValueError(f"Expected {_flag(name)} for --arch {arch}.")
    unused = []
    if arch in ("fourier", "power_law") and args.depth == 0:
        unused = [*_NET_FLAGS, "alpha"]
    elif arch == "resnet" or getattr(args, "alpha", None) is not None:
        unused = ["bias_var"]
    elif arch == "siren":
        unused = ["first_layer_var"]
    for name in unused:
        value = getattr(args, name, None)
        if value is not None and not (name == "bias_var" and value == 0):
            where = "a linear readout (--depth 0)" if args.depth == 0 else f"--arch {arch}"
            if arch == "siren" and name == "first_layer_var":
                where += " (its first-layer variance is omega0^2)"
            raise ValueError(f"Expected no {_flag(name)} with {where}; got {value!r}.")
    if arch == "siren" and args.activation not in (None, "sin"):
        raise ValueError(f"Expected no --activation other than sin with --arch siren; got "
                         f"{args.activation!r}.")  # fmt: skip


def kernel_from_args(args: argparse.Namespace):
    """The zonal kernel of the kernel flags (``--arch`` and its flags; default an MLP)."""
    arch = getattr(args, "arch", "mlp")
    _check_arch_flags(args, arch)
    if arch in ("fourier", "power_law"):
        check_int("depth", args.depth, minimum=0)
    if arch == "power_law" and args.dim != 2:
        raise ValueError(
            f"Expected --dim 2 for --arch power_law (an embedding of S^1); got {args.dim}."
        )
    return architecture_kernel(
        arch, args.depth, activation=args.activation or "relu", weight_var=args.weight_var,
        bias_var=args.bias_var, first_layer_var=args.first_layer_var, alpha=args.alpha,
        beta=args.beta, power=args.power, features=args.features,
        omega0=30.0 if args.omega0 is None else args.omega0,
    )  # fmt: skip


def kernel_config(kernel) -> dict:
    """The kernel's parameters for JSON (an MLP: depth, activation and variances)."""
    if isinstance(kernel, ResNetKernel):
        return {
            "arch": "resnet",
            "depth": kernel.depth,
            "alpha": kernel.alpha_rule or kernel.alpha,
            "activation": kernel.activation,
            "weight_var": kernel.branch.weight_var,
            "first_layer_var": kernel.first_layer_var,
        }
    if isinstance(kernel, FourierKernel | PowerLawKernel):
        inner = None if kernel.inner is None else kernel_config(kernel.inner)
        if isinstance(kernel, FourierKernel):
            return {"arch": "fourier", "beta": kernel.beta, "network": inner}
        return {"arch": "power_law", "power": kernel.p, "features": len(kernel.weights),
                "network": inner}  # fmt: skip
    return {
        "depth": kernel.depth,
        "activation": kernel.activation,
        "weight_var": kernel.weight_var,
        "bias_var": kernel.bias_var,
        "first_layer_var": kernel.first_layer_var,
    }


def kernel_label(kernel) -> str:
    """A one-phrase description of the kernel's network, for table headers (``a depth-1 …``)."""
    if isinstance(kernel, ResNetKernel):
        alpha = f"{kernel.alpha:g}" + (f" = {kernel.alpha_rule}" if kernel.alpha_rule else "")
        return (
            f"a depth-{kernel.depth} {kernel.activation} residual MLP (alpha={alpha}, weight_var="
            f"{kernel.branch.weight_var:g}, first_layer_var={kernel.first_layer_var:g})"
        )
    if isinstance(kernel, FourierKernel | PowerLawKernel):
        top = "a linear readout" if kernel.inner is None else kernel_label(kernel.inner)
        if isinstance(kernel, FourierKernel):
            return f"Gaussian Fourier features (beta={kernel.beta:g}, M -> infinity) under {top}"
        return (
            f"the power-law embedding (p={kernel.p:g}, J={len(kernel.weights)}) of S^1 under {top}"
        )
    net, extra = f"{kernel.activation} MLP", ""
    if kernel.activation == "sin" and kernel.first_layer_var != 1:  # a SIREN: ω0² = σ_w0²
        net, extra = "SIREN-style sin MLP", f"omega0={np.sqrt(kernel.first_layer_var):g}, "
    return (
        f"a depth-{kernel.depth} {net} ({extra}weight_var={kernel.weight_var:g}, "
        f"bias_var={kernel.bias_var:g}, first_layer_var={kernel.first_layer_var:g})"
    )


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
