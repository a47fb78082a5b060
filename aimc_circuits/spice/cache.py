"""Content-addressed, crash-safe store of sweep points.

One JSON file per finished point, named by the sha256 of everything that determines
its result (deck text with the model path, model hash, libngspice hash, analysis,
point commands, temperature, seed, testbench code). Files are written to a temporary
name and renamed (atomic on POSIX), so a killed sweep leaves only whole points behind
and a re-run skips them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PointCache", "content_key", "encode", "decode", "file_sha256", "libngspice_path"]


def content_key(**parts: Any) -> str:
    """sha256 of a canonical JSON rendering of `parts`."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes (memoized on path, size and mtime)."""
    st = os.stat(path)
    return _file_sha256(str(path), st.st_size, st.st_mtime_ns)


def libngspice_path() -> Path:
    """Resolved path of the libngspice shared object the runner will load (without loading it)."""
    from .runner import ngspice_library

    lib = ngspice_library()
    if os.path.isabs(lib):
        return Path(lib).resolve()
    try:
        out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    m = re.search(rf"{re.escape(lib)} \(.*?\) => (\S+)", out)
    if m:
        return Path(m.group(1)).resolve()
    from ..errors import NgspiceNotFoundError

    raise NgspiceNotFoundError(f"cannot resolve {lib!r} to a file")


def encode(value: Any) -> Any:
    """JSON-ready form of a measure: floats, ints, strings, lists and numpy arrays."""
    if isinstance(value, np.ndarray):
        if np.iscomplexobj(value):
            return {"__complex__": [value.real.tolist(), value.imag.tolist()]}
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, dict):
        if "__array__" in value:
            return np.asarray(value["__array__"], dtype=value.get("dtype", "float64"))
        if "__complex__" in value:
            re_, im = value["__complex__"]
            return np.asarray(re_) + 1j * np.asarray(im)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class PointCache:
    """Directory of finished points: ``<root>/<key[:2]>/<key>.json``."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored record, or None if absent or unreadable (a torn file is treated as absent)."""
        p = self.path(key)
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, record: dict) -> None:
        """Store `record` atomically (temporary file + rename)."""
        p = self.path(key)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".part")  # never matches *.json
        except OSError as exc:
            from ..errors import AimcError

            raise AimcError(f"cannot write a finished point to the sweep cache {self.root} ({exc.strerror}); "
                            f"make it writable or set AIMC_CACHE_DIR to a writable directory") from None
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(record, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
