"""lmfit fits of the time-accumulator variant ``pump_single_slope``'s models (:mod:`.model`) to SPICE data."""
from __future__ import annotations

from typing import Any

import lmfit
import numpy as np

from ....fitting import minimize, params_to_dict, quality
from .model import V_C0, V_FIT_MAX, acc_voltage, tdc_time, vtc_charge

__all__ = ["fit_vtc", "fit_vtc_quality", "fit_accumulator", "fit_accumulator_order", "fit_tdc"]

FC = 1e-15
def fit_vtc(v, vref, group, q, vdd: float, held_out: tuple | None = None) -> dict[str, Any]:
    """Fit the VTC charge model to SPICE channel charges (levels above V_FIT_MAX are left out and
    reported separately); quality in % of each group's charge per volt of ramp (k[g, +] x 1 V)."""
    v, vref, group = (np.asarray(a, dtype=float) for a in (v, vref, group))
    q = np.asarray(q, dtype=float) / FC  # fitted in fC (leastsq steps are relative to the values)
    inside = np.maximum(v, vref) <= V_FIT_MAX
    p = lmfit.Parameters()
    g1 = group == 1
    diff0 = vref - v
    for g, sel in ((0, ~g1 & inside), (1, g1 & inside)):
        k = float(np.sum(q[sel] * diff0[sel]) / np.sum(diff0[sel] ** 2))
        p.add(f"k{g}p", value=k, min=0)
        p.add(f"k{g}n", value=k, min=0)
        for key in "cea":
            p.add(f"{key}{g}", value=0.0)
    p.add("w", value=0.02, min=0.002, max=0.2)
    p.add("b2", value=0.0, min=-1, max=1)
    p.add("b3", value=0.0, min=-1, max=1)

    def fs(pp, grp):
        return np.where(np.asarray(grp) == 1, pp["k1p"], pp["k0p"]) * 1.0

    def resid(pp, sel=inside):
        vals = pp.valuesdict() if hasattr(pp, "valuesdict") else pp
        return ((vtc_charge(vals, v, vref, group, vdd) - q) / fs(vals, group))[sel]

    res = minimize(resid, p)
    params = params_to_dict(res.params)
    for k, e in params.items():  # back to SI (C, C/V)
        if k[0] in "kcea":
            params[k] = {"value": e["value"] * FC, "stderr": None if e["stderr"] is None else e["stderr"] * FC}
    vals = {k: e["value"] for k, e in params.items()}
    vals_fc = res.params.valuesdict()
    out = {"params": params, "fit": quality(resid(vals_fc), 1.0), "v_fit_max": V_FIT_MAX,
           "model": "q = c[g] + e[g] (vdd - Vref) + k[g,sign] x + a[g] w tanh(x / w), x = D(vdd-V) - D(vdd-Vref), "
                    "D(d) = d (1 + b2 d + b3 d^2) (C, V)",
           "quality_units": "% of the group's charge per volt of ramp (k[g, +] x 1 V)"}
    if np.any(~inside):
        out["above_v_fit_max"] = quality(resid(vals_fc, ~inside), 1.0)
    out["nonlinearity_pct_of_range"] = _vtc_nonlinearity(vals, vdd)
    out["group_weight_ratio"] = {"sink": vals["k1p"] / vals["k0p"], "source": vals["k1n"] / vals["k0n"]}
    out["group_weight_error_pct"] = {k: 100 * (r / 16.0 - 1) for k, r in out["group_weight_ratio"].items()}
    out["sign_asymmetry_pct"] = {"g0": 100 * (vals["k0n"] / vals["k0p"] - 1), "g1": 100 * (vals["k1n"] / vals["k1p"] - 1)}
    if held_out is not None:
        hv, hr, hg, hq = (np.asarray(a, dtype=float) for a in held_out)
        hin = np.maximum(hv, hr) <= V_FIT_MAX
        out["held_out"] = quality(((vtc_charge(vals, hv, hr, hg, vdd) - hq) / fs(vals, hg))[hin], 1.0)
    out["residual_c"] = (vtc_charge(vals, v, vref, group, vdd) - q * FC)
    return out


def fit_vtc_quality(fit: dict[str, Any], v, vref, group, q, vdd: float) -> dict[str, float]:
    """Quality of a :func:`fit_vtc` result on other points (same units; levels <= V_FIT_MAX)."""
    vals = {k: e["value"] for k, e in fit["params"].items()}
    v, vref, group, q = (np.asarray(a, dtype=float) for a in (v, vref, group, q))
    inside = np.maximum(v, vref) <= V_FIT_MAX
    fs = np.where(group == 1, vals["k1p"], vals["k0p"])
    out = quality(((vtc_charge(vals, v, vref, group, vdd) - q) / fs)[inside], 1.0)
    out["rms_fc_by_group"] = [float(np.sqrt(np.mean((vtc_charge(vals, v, vref, group, vdd) - q)[inside & (group == g)] ** 2)) / FC)
                              for g in (0, 1)]
    return out


def _vtc_nonlinearity(p: dict[str, float], vdd: float, span: float = 0.96) -> float:
    """Max deviation of D(d) from its end-point line over d in 0..span, in % of span."""
    d = np.linspace(0, span, 200)
    D = d * (1 + p["b2"] * d + p["b3"] * d * d)
    line = D[-1] * d / span
    return float(100 * np.max(np.abs(D - line)) / D[-1])


def fit_accumulator(q_sum: np.ndarray, v_acc: np.ndarray, vmid: float, f_order: np.ndarray,
                    v_c: np.ndarray, held_out: tuple | None = None) -> dict[str, Any]:
    """V_acc = vmid + dv0 - x (1 + a2 x), x = (Q + beta F) / C: fit C (F), a2 (1/V), dv0 (V) and
    beta to whole-column runs (Q: sum of the channel charges, F: :func:`order_charge`); quality
    in % of the accumulator's 1 V swing. Held out: (Q, V_acc, F, v_c)."""
    q_sum, v_acc, f_order, v_c = (np.asarray(a, float) for a in (q_sum, v_acc, f_order, v_c))
    p = lmfit.Parameters()
    # start from the linear solution V = v0 + s Q + t F (leastsq finds a poor local minimum otherwise)
    (v0, slope, t, gam), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(q_sum), q_sum, f_order, v_c - V_C0]),
                                              v_acc, rcond=None)
    c0 = -1.0 / slope if slope < 0 else 3e-13
    p.add("c_acc", value=c0, min=1e-15)
    p.add("a2", value=0.0, min=-2, max=2)
    p.add("dv0", value=float(np.clip(v0 - vmid, -0.19, 0.19)), min=-0.2, max=0.2)
    p.add("beta", value=float(np.clip(t / slope, -0.09, 0.09)) if slope < 0 else 0.0, min=-0.1, max=0.1)
    p.add("gamma", value=float(np.clip(gam, -0.9, 0.9)), min=-1, max=1)

    res = minimize(lambda pp: acc_voltage(pp.valuesdict(), q_sum, vmid, f_order, v_c) - v_acc, p)
    vals = res.params.valuesdict()
    no_order = dict(vals, beta=0.0, gamma=0.0)
    out = {"params": params_to_dict(res.params),
           "fit": quality(acc_voltage(vals, q_sum, vmid, f_order, v_c) - v_acc, 1.0),
           "model": "V_acc = vmid + dv0 + gamma (v_c - 1.5) - x (1 + a2 x), x = (Q + beta F) / c_acc, "
                    "F = sum_ch 16^g Q_before(ch), v_c = mean reference level (V, C)", "quality_units": "% of 1 V"}
    if held_out is not None:
        hq, hv, hf, hc = (np.asarray(a, float) for a in held_out)
        out["held_out"] = quality(acc_voltage(vals, hq, vmid, hf, hc) - hv, 1.0)
        out["held_out_without_order_and_level_terms"] = quality(acc_voltage(no_order, hq, vmid) - hv, 1.0)
    return out


def fit_accumulator_order(q_sum, v_acc, vmid: float, f_of_dw, v_c, held_out=None,
                          dws: tuple[float, ...] = (0.02, 0.04, 0.06, 0.08, 0.1)) -> dict[str, Any]:
    """:func:`fit_accumulator` with the order term's overlap width dw (V) chosen from `dws` by the
    fit residual; f_of_dw(dw) -> (F of the fit runs, F of the held-out runs); v_c: (fit, held out)."""
    best = None
    for dw in dws:
        ff, fh = f_of_dw(dw)
        out = fit_accumulator(q_sum, v_acc, vmid, ff, v_c[0],
                              held_out=None if held_out is None else (held_out[0], held_out[1], fh, v_c[1]))
        if best is None or out["fit"]["rms_pct_fs"] < best[1]["fit"]["rms_pct_fs"]:
            best = (dw, out)
    dw, out = best
    out["params"]["dw"] = {"value": dw, "stderr": None, "note": f"chosen from {list(dws)} V by the fit residual"}
    return out


def fit_tdc(v_init: np.ndarray, t_stop: np.ndarray, vhi: float, held_out: tuple | None = None) -> dict[str, Any]:
    """Fit the TDC ramp to finite stop times of levels below vhi; quality in % of full-scale time."""
    v_init, t_stop = np.asarray(v_init, float), np.asarray(t_stop, float)
    ok = np.isfinite(t_stop) & (v_init < vhi - 0.02)
    x = vhi - v_init[ok]
    p = lmfit.Parameters()
    slope = float(np.polyfit(x, t_stop[ok], 1)[0])
    p.add("t0", value=0.0)
    p.add("t1", value=slope, min=0)
    p.add("c2", value=0.0, min=-2, max=2)
    res = minimize(lambda pp: tdc_time(pp.valuesdict(), v_init[ok], vhi) - t_stop[ok], p)
    vals = res.params.valuesdict()
    t_fs = float(np.max(t_stop[ok]))
    out = {"params": params_to_dict(res.params), "fit": quality(tdc_time(vals, v_init[ok], vhi) - t_stop[ok], t_fs),
           "model": "t_stop = t0 + t1 x (1 + c2 x), x = vhi - V_acc (s, V)", "quality_units": "% of the largest stop time"}
    if held_out is not None:
        hv, ht = (np.asarray(a, float) for a in held_out)
        hok = np.isfinite(ht) & (hv < vhi - 0.02)
        out["held_out"] = quality(tdc_time(vals, hv[hok], vhi) - ht[hok], t_fs)
    return out
