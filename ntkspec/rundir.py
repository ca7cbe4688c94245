"""A run directory: ``run.json`` (config, versions, status), ``--force``, ``--resume``, checkpoint.

The one owner of a run's on-disk life cycle; the CLI asks this module, never reads checkpoint
keys itself (the checkpoint format belongs to :mod:`ntkspec.checkpoint`).

``run.json`` statuses: ``running``; ``done`` or ``diverged`` (finished); ``interrupted``
(KeyboardInterrupt or SIGTERM: resumable); ``failed`` (an error, with its one-line message
under ``"error"``; resumable when a checkpoint exists).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from pathlib import Path

import jax
import numpy as np

from ntkspec import checkpoint as _checkpoint_format
from ntkspec._io import atomic_write_json

__all__ = [
    "CHECKPOINT",
    "FINISHED",
    "check_output_dir",
    "checkpoint_step",
    "finish",
    "prepare",
    "read_run",
    "resume",
    "run_info",
    "running",
]

#: The training checkpoint's file name inside a run directory.
CHECKPOINT = "checkpoint.npz"
#: Statuses of a finished run (nothing to resume).
FINISHED = ("done", "diverged")


def run_info(config: dict, status: str, *, error: str | None = None) -> dict:
    """Self-description of a run: config, versions, devices, status (and the error if failed)."""
    import ntkspec

    extra = {} if error is None else {"error": " ".join(str(error).split())}
    return {
        "status": status,
        **extra,
        "config": config,
        "ntkspec_version": ntkspec.__version__,
        "jax_version": jax.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "devices": [str(d) for d in jax.devices()],
    }


@contextlib.contextmanager
def running(out: Path, config: dict):
    """Mark ``out/run.json`` ``running`` for the block; ``interrupted`` or ``failed`` if it raises.

    ``KeyboardInterrupt`` (Ctrl-C; the CLI turns SIGTERM into one) gives ``interrupted``, any
    other exception ``failed`` with its message. The caller writes the final status
    (:func:`finish`) once its results are written.
    """
    atomic_write_json(out / "run.json", run_info(config, "running"))
    try:
        yield
    except KeyboardInterrupt:
        atomic_write_json(out / "run.json", run_info(config, "interrupted"))
        raise
    except BaseException as e:
        message = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        atomic_write_json(out / "run.json", run_info(config, "failed", error=message))
        raise


def finish(out: Path, config: dict, *, diverged: bool) -> None:
    """Write the final status (``done``/``diverged``) and drop the finished run's checkpoint."""
    atomic_write_json(out / "run.json", run_info(config, "diverged" if diverged else "done"))
    (Path(out) / CHECKPOINT).unlink(missing_ok=True)


def check_output_dir(out: str | os.PathLike, config: dict, *, force: bool = False) -> Path:
    """Create ``out`` (or accept it) unless it already holds a *different* run.

    Raises ``ValueError`` when ``out/run.json`` describes another configuration (pass
    ``force=True`` to overwrite), unless that run failed before writing any result, and
    ``OSError`` when the directory cannot be written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"Expected --out to be a directory; {out} is a file.")
    previous = out / "run.json"
    if previous.exists() and not force:
        try:
            info = json.loads(previous.read_text())
            old, status = info.get("config"), info.get("status")
        except (OSError, ValueError, AttributeError):
            old, status = None, None
        # A run stopped before producing anything (e.g. refused input) holds no results.
        empty = status in ("failed", "interrupted") and not any(
            (out / name).exists() for name in ("metrics.json", CHECKPOINT)
        )
        if old != config and not empty:
            raise ValueError(
                f"{out} already holds a different run (see {previous}); choose another --out "
                "or pass --force to overwrite it."
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(
            f"Cannot create output directory {out} ({e.strerror or e}); choose a writable path."
        ) from None
    if not os.access(out, os.W_OK):
        raise OSError(f"Output directory {out} is not writable.")
    return out


def checkpoint_step(out: str | os.PathLike) -> int | None:
    """The step the run in ``out`` has checkpointed, or ``None`` (no readable checkpoint)."""
    return _checkpoint_format.step_of(Path(out) / CHECKPOINT)


def prepare(out: str | os.PathLike, config: dict, *, steps: int, force: bool = False) -> Path:
    """A directory for a new run: :func:`check_output_dir`, and no unfinished run of it.

    An unfinished run of the same configuration (a checkpoint) is refused with the
    ``--resume`` command to continue it, unless ``force`` (the checkpoint is then removed).
    """
    out = check_output_dir(out, config, force=force)
    ckpt = out / CHECKPOINT
    if ckpt.exists():
        if not force:
            step = checkpoint_step(out)
            at = "" if step is None else f" (checkpoint at step {step} of {steps})"
            raise ValueError(
                f"{out} holds an unfinished run of this configuration{at}; continue it with "
                f"'ntkspec compare --resume {out}' or pass --force to start over."
            )
        ckpt.unlink()
    return out


def read_run(out: str | os.PathLike) -> dict:
    """``out/run.json`` of a previous run, or a ``ValueError`` saying why it cannot be resumed."""
    out = Path(out)
    path = out / "run.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"Cannot resume {out}: no run.json there (not an ntkspec run).") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot resume {out}: unreadable {path} ({e}).") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise ValueError(f"Cannot resume {out}: {path} has no 'config' object.")
    return info


def resume(out: str | os.PathLike) -> dict:
    """The configuration (a dict) of the unfinished run in ``out``; ``ValueError`` if none."""
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"Cannot resume {out}: not a directory.")
    info = read_run(out)
    if info.get("status") in FINISHED:
        raise ValueError(
            f"Nothing to resume: {out} holds a finished run (status {info['status']}); see "
            f"{out / 'report.md'}."
        )
    if not os.access(out, os.W_OK):
        raise OSError(f"Output directory {out} is not writable.")
    return info["config"]
