"""lmfit fits of the cell variant ``mom_bottom_plate``'s column model (:mod:`.model`) to SPICE data."""
from __future__ import annotations

from typing import Any

import lmfit
import numpy as np

from ....fitting import minimize, params_to_dict, quality
from .model import column_voltage, full_scale

__all__ = ["fit_column", "fit_column_subset", "fit_energy", "fit_mismatch"]


def fit_column(data: dict[str, np.ndarray], max_code: int, vr: float, v_fs: float,
               held_out: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Fit COLUMN_PARAMS to SPICE column voltages (`data`: s, n, rows, vcol arrays) and report
    residuals in % of each column's full scale, on the fit points and on `held_out` points."""
    params = lmfit.Parameters()
    params.add("p_row", value=0.5, min=0, max=20)
    params.add("p_fix", value=5.0, min=0, max=1e4)
    for name in ("v_ft", "q_inj", "q_2", "q_c", "a2"):
        params.add(name, value=0.0)

    def resid(pars, dd):
        v = pars.valuesdict()
        return column_voltage(dd["s"], dd["n"], dd["rows"], max_code, vr, v) - dd["vcol"]

    res = minimize(resid, params, args=(data,))
    v = res.params.valuesdict()

    def q(dd):
        return quality(resid(res.params, dd), full_scale(dd["rows"], max_code, v_fs, v["p_row"], v["p_fix"]))

    out = {"params": params_to_dict(res.params), "fit": q(data), "redchi": float(res.redchi),
           "rows": sorted({int(r) for r in data["rows"]})}
    if held_out is not None:
        out["held_out"] = q(held_out)
        out["held_out_per_rows"] = {str(int(r)): q({k: a[held_out["rows"] == r] for k, a in held_out.items()})
                                    for r in np.unique(held_out["rows"])}
    return out


def fit_column_subset(data: dict[str, np.ndarray], max_code: int, vr: float, base: dict[str, float],
                      vary: tuple[str, ...], weight: np.ndarray | float = 1.0) -> dict[str, float]:
    """Refit only the column-model parameters `vary` to `data` (s, n, rows, vcol), the others held
    at `base` (the reference fit), each column's residual times `weight`: {name: value} of every
    parameter."""
    params = lmfit.Parameters()
    for name, value in base.items():
        bounds = {"min": 0.0} if name in ("p_row", "p_fix") else {}
        params.add(name, value=value, vary=name in vary, **bounds)

    def resid(pars):
        return weight * (column_voltage(data["s"], data["n"], data["rows"], max_code, vr, pars.valuesdict())
                         - data["vcol"])

    return {k: float(v) for k, v in minimize(resid, params).params.valuesdict().items()}


def fit_energy(s: np.ndarray, n: np.ndarray, rows: np.ndarray, energy: np.ndarray) -> dict[str, Any]:
    """Supply energy per cycle of a column (J) = e_s * s + e_n * n + e_r * rows, where s is
    the sampled code*V sum and n the selected unit count (both summed over groups)."""
    params = lmfit.Parameters()
    for name in ("e_s_fj", "e_n_fj", "e_r_fj"):
        params.add(name, value=1.0)
    ef = energy * 1e15

    def model(p):
        return p["e_s_fj"].value * s + p["e_n_fj"].value * n + p["e_r_fj"].value * rows

    res = minimize(lambda p: model(p) - ef, params)
    par = {k[:-3]: {"value": v["value"] * 1e-15, "stderr": None if v["stderr"] is None else v["stderr"] * 1e-15}
           for k, v in params_to_dict(res.params).items()}
    return {"params": par, "fit": quality(model(res.params) - ef, float(np.max(np.abs(ef))))}


def fit_mismatch(bits: np.ndarray, rel_err: np.ndarray) -> dict[str, Any]:
    """sigma_k^2 = sigma_u^2 / 2^k + sigma_0^2 from relative capacitor errors of bit k
    (bits, rel_err: one entry per measured capacitor: bit index and C/C_mean - 1).
    Fitted on variances, each weighted by its sampling error var*sqrt(2/(n-1))."""
    ks = np.unique(bits)
    var = np.array([np.var(rel_err[bits == k], ddof=1) for k in ks])
    n = np.array([np.sum(bits == k) for k in ks])
    params = lmfit.Parameters()
    params.add("var_u", value=float(var[0]), min=0)
    params.add("var_0", value=0.0, min=0)

    def model(p):
        return p["var_u"].value / 2.0**ks + p["var_0"].value

    res = minimize(lambda p: (model(p) - var) / (var * np.sqrt(2 / (n - 1))), params)
    vu, v0 = res.params["var_u"], res.params["var_0"]
    su = float(np.sqrt(vu.value))
    return {"params": {"sigma_u": {"value": su, "stderr": None if vu.stderr is None else float(vu.stderr / (2 * su))},
                       "sigma_0": {"value": float(np.sqrt(v0.value)), "stderr": None}},
            "sigma_per_bit": np.sqrt(var).tolist(), "n_per_bit": n.tolist(),
            "model_per_bit": np.sqrt(model(res.params)).tolist()}
