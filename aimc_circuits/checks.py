"""Input checks shared by the behavioral models and the macro: integer codes in a range."""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = ["check_int_codes"]


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
