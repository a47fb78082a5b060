"""Behavioral model of the cell column and its lmfit fits.

Column voltage of one group column with R rows, by charge conservation on the floating
column, in units of the effective unit capacitance Cu (s in Cu*V):

    C     = R * (M + p_row) + p_fix                      column capacitance (Cu)
    s     = sum_i code_i * V_i                           sampled charge (Cu*V)
    n     = sum_i code_i                                 selected unit caps
    sw    = s / C                                        ideal column swing (V)
    V_col = vr + v_ft + q_inj/C + q_2/C^2 + q_c*n/C^2 - sw - a2*sw^2/C

M = 2^bits - 1. p_row: column parasitic per row (wire; expected c_wire/Cu); p_fix: fixed
column load (reset-switch junction, VTC input); v_ft, q_inj, q_2: the reset switch's
feedthrough and charge injection, whose split between column and reference depends on C;
q_c: the part of that split set by which caps (switch impedances) hold the bottom plates;
a2: the voltage dependence of the fixed (junction) capacitance. Full scale of a column =
v_fs * R*M/C. Parameters are fitted over several R so the model extrapolates in R.
"""
from __future__ import annotations

from typing import Any

import lmfit
import numpy as np

from .common import minimize, params_to_dict, quality

__all__ = ["COLUMN_PARAMS", "column_voltage", "column_voltage_c", "full_scale", "fit_column", "fit_energy", "fit_mismatch"]

COLUMN_PARAMS = ("p_row", "p_fix", "v_ft", "q_inj", "q_2", "q_c", "a2")


def column_voltage(s: np.ndarray, n: np.ndarray, rows: np.ndarray | int, max_code: int, vr: float,
                   p: dict[str, float]) -> np.ndarray:
    """V_col (V) for sampled charge `s` (code*V summed over rows, Cu*V) and selected unit
    count `n`, for columns with `rows` rows; `p` holds COLUMN_PARAMS. Broadcasts."""
    c = np.asarray(rows, dtype=float) * (max_code + p["p_row"]) + p["p_fix"]
    return column_voltage_c(s, n, c, vr, p)


def column_voltage_c(s, n, c, vr: float, p: dict[str, float]):
    """Same as :func:`column_voltage` with the column capacitance `c` (Cu) given directly
    (e.g. including one chip's capacitor mismatch). Broadcasts."""
    sw = s / c
    return vr + p["v_ft"] + p["q_inj"] / c + (p["q_2"] + p["q_c"] * n) / c**2 - sw - p["a2"] * sw**2 / c


def full_scale(rows: np.ndarray | int, max_code: int, v_fs: float, p_row: float, p_fix: float) -> np.ndarray:
    """Column swing (V) at all codes = M and all inputs = v_fs."""
    rows = np.asarray(rows, dtype=float)
    return v_fs * rows * max_code / (rows * (max_code + p_row) + p_fix)


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
