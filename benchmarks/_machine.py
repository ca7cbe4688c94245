"""The machine description every benchmark writes into its JSON (one copy for all scripts)."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

import jax


def cpuinfo(field: str) -> str | None:
    """The first ``field`` entry of /proc/cpuinfo (e.g. ``"model name"``, ``"flags"``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    return None


def machine(**extra) -> dict:
    """CPU model, cores, Python/JAX versions, backend, load average; plus ``extra`` entries."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpuinfo("model name") or "unknown",
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "loadavg_start": os.getloadavg(),
        **extra,
    }
