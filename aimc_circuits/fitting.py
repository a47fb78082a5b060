"""Shared helpers: lmfit results to JSON-ready dicts, fit-quality summaries."""
from __future__ import annotations

from typing import Any

import lmfit
import numpy as np

__all__ = ["params_to_dict", "quality", "minimize"]


def params_to_dict(params: lmfit.Parameters) -> dict[str, dict[str, float | None]]:
    """{name: {value, stderr}} (stderr None when lmfit could not estimate it)."""
    out = {}
    for name, p in params.items():
        err = None if p.stderr is None or not np.isfinite(p.stderr) else float(p.stderr)
        out[name] = {"value": float(p.value), "stderr": err}
    return out


def quality(residual: np.ndarray, full_scale: np.ndarray | float) -> dict[str, float]:
    """RMS and max |residual| in % of full scale, and the point count."""
    r = 100 * np.asarray(residual) / np.asarray(full_scale)
    return {"rms_pct_fs": float(np.sqrt(np.mean(r**2))), "max_pct_fs": float(np.max(np.abs(r))), "n": int(r.size)}


def minimize(residual, params: lmfit.Parameters, **kw: Any) -> lmfit.minimizer.MinimizerResult:
    """lmfit least squares; raises RuntimeError naming the message when the fit fails."""
    res = lmfit.minimize(residual, params, method="leastsq", **kw)
    if not res.success:
        raise RuntimeError(f"fit failed: {res.message}")
    return res
