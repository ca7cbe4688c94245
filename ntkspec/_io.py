"""Atomic file writes: a temporary file in the same directory, fsync, then rename.

A killed process therefore never leaves a truncated JSON/NPZ behind: readers see either the old
file or the complete new one. An operating-system error (unwritable directory, a path under a
regular file, a full disk) is re-raised as the same ``OSError`` subclass with a one-line
message naming the user's path, never the temporary file or a bare errno.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_savez",
    "json_floats",
    "path_error",
]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (creating missing parent directories)."""
    path = Path(path)
    try:
        return _write(path, data)
    except OSError as e:
        raise path_error(e, path, "write") from None


def path_error(e: OSError, path: str | os.PathLike, action: str) -> OSError:
    """``e`` as the same ``OSError`` subclass with the message "Cannot <action> <path>: <why>."."""
    why = e.strerror or type(e).__name__
    if isinstance(e, PermissionError | IsADirectoryError | NotADirectoryError | FileExistsError):
        why += "; choose a writable path"
    cls = type(e) if issubclass(type(e), OSError) else OSError
    try:
        return cls(f"Cannot {action} {os.fspath(path)}: {why}.")
    except TypeError:  # an OSError subclass with another constructor
        return OSError(f"Cannot {action} {os.fspath(path)}: {why}.")


def _write(path: Path, data: bytes) -> Path:
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """JSON with full-precision floats (``repr``) and a trailing newline."""
    return atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def atomic_savez(path: str | os.PathLike, **arrays) -> Path:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def json_floats(a):
    """float64 array/scalar → nested lists, non-finite values as ``"inf"``/``"-inf"``/``"nan"``.

    The one convention of every ntkspec JSON file: strict JSON has no NaN/inf, and ``null``
    would lose the difference between "never" (inf) and "undefined" (NaN); ``float(s)`` or
    ``np.float64(s)`` reads the strings back.
    """
    arr = np.asarray(a, dtype=np.float64)
    if np.isfinite(arr).all():
        return arr.tolist()
    obj = arr.astype(object)
    bad = ~np.isfinite(arr)
    obj[bad] = [str(v) for v in arr[bad]]
    return obj.tolist()
