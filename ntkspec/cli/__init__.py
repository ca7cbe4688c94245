"""The ``ntkspec`` command line.

    ntkspec spectrum --dim 3 --depth 2 --kmax 100 --json
    ntkspec spectrum --dim 3 --depth 4 --kmax 30 --plot spectrum.png

Structure (to add a subcommand): write a module ``ntkspec/cli/<name>.py`` with
``add(subparsers)``, which creates its parser with ``subparsers.add_parser(...)``, adds its
arguments (:func:`ntkspec.cli.common.add_kernel_arguments` gives the shared kernel flags) and
calls ``set_defaults(run=run)``, and ``run(args) -> int``, which calls the public API and
prints; append its ``add`` to ``_COMMANDS``. What subcommands share lives in
:mod:`ntkspec.cli.common`. :func:`main` handles errors for every subcommand: a ``ValueError``,
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
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

from ntkspec import __version__
from ntkspec.cli import compare, curve, ntk, spectrum
from ntkspec.cli.common import PROG, USAGE_EXIT, Parser, one_line, print_error

__all__ = ["main", "build_parser"]

# One entry per subcommand; each adds its parser and sets ``run`` (see the module docstring).
_COMMANDS = (spectrum.add, compare.add, ntk.add, curve.add)


def build_parser() -> argparse.ArgumentParser:
    """The ``ntkspec`` argument parser with every subcommand in ``_COMMANDS``."""
    parser = Parser(
        prog=PROG,
        description="Spectral bias on the hypersphere: NTK/NNGP spectra, predictions, training.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
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
        return e.code if isinstance(e.code, int) else (0 if e.code is None else USAGE_EXIT)
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
        for message in dict.fromkeys(one_line(str(w.message)) for w in caught):
            print(f"{PROG}: warning: {message}", file=sys.stderr)
        return status
    except BrokenPipeError:  # `ntkspec spectrum ... | head`: the reader is gone, stay quiet
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the interpreter flushes it at exit)
        return 141
    except OSError as e:
        print_error(_os_error(e))
        return USAGE_EXIT
    except (ValueError, TypeError) as e:
        print_error(str(e) or type(e).__name__)
        return USAGE_EXIT
    except KeyboardInterrupt:
        if received and received[0] == signal.SIGTERM:
            print(f"{PROG}: terminated", file=sys.stderr)
            return 143
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
