"""Shared by the behavioral models: input-code checks and calibration-file loading."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AimcError, ParameterError
from ..paths import CALIBRATION_DIR

__all__ = ["check_int_codes", "read_calibration"]


def check_int_codes(name: str, a: Any, hi: int, lo: int = 0) -> np.ndarray:
    """Integer codes lo..hi (ints, or floats with integral values) as int64; ParameterError
    naming the bad value and the allowed range otherwise (nothing is clipped or rounded)."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"{name} contains NaN or inf; allowed: integers {lo}..{hi}")
        frac = arr != np.round(arr)
        if np.any(frac):
            raise ParameterError(f"{name} contains the non-integer {float(arr[frac].ravel()[0])!r}; "
                                 f"allowed: integers {lo}..{hi}")
    elif arr.dtype.kind not in "iu":
        raise ParameterError(f"{name} must be integers {lo}..{hi} (got dtype {arr.dtype})")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr.min() if arr.min() < lo else arr.max()
        raise ParameterError(f"{name} contains {bad}; allowed: integers {lo}..{hi}")
    return arr.astype(np.int64)


def read_calibration(block: str, path: Path | str | None) -> dict[str, Any]:
    """The JSON calibration of `block` (default calibration/<block>.json); AimcError naming the
    file and the command that regenerates it when it is missing or not JSON."""
    path = Path(path) if path else CALIBRATION_DIR / (block.replace("-", "_") + ".json")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AimcError(f"no {block} calibration at {path}; run `aimc calibrate --block {block}`") from None
    except ValueError as exc:
        raise AimcError(f"{block} calibration {path} is not valid JSON ({exc})") from None
