"""Time-accumulator model functions and their lmfit fits.

VTC + charge pump (one sub-array s, group g): with d(u) = vdd - u (how far the ramp has
fallen when it crosses u) and the ramp's crossing time t(u) = D(d) / S,
D(d) = d (1 + b2 d + b3 d^2) (the ramp's slope changes as its sink's Vds and the comparator
gate load change), the two pulses carry the net charge of `vtc_charge` (k = 16^g I0 / S for the
sink (positive) and source (negative) pumps). Accumulation: V_acc = vmid - Q / C_acc (1 + a2 Q / C_acc), Q = sum of q.
TDC: t_stop = t0 + (vhi - V_acc) C_acc / I_d (1 + c2 (vhi - V_acc)); code = floor(t_stop / t_lsb).
"""
from __future__ import annotations

from typing import Any

import lmfit
import numpy as np

from .common import minimize, params_to_dict, quality

__all__ = ["ramp_d", "vtc_charge", "vtc_terms", "fit_vtc", "acc_voltage", "fit_accumulator", "fit_tdc", "tdc_time", "VTC_KEYS", "V_FIT_MAX"]

FC = 1e-15
VTC_KEYS = ("k0p", "k0n", "k1p", "k1n", "c0", "c1", "e0", "e1", "a0", "a1", "w", "b2", "b3")
#: the VTC model is fitted and specified for levels up to this (V): crossings in the first ~0.4 ns
#: of the ramp, while the comparators are still leaving saturation, are not reproduced
V_FIT_MAX = 1.7


def ramp_d(u: np.ndarray, vdd: float, b2: float, b3: float) -> np.ndarray:
    d = vdd - np.asarray(u, dtype=float)
    return d * (1 + b2 * d + b3 * d * d)


def vtc_charge(p: dict[str, float], v: np.ndarray, vref: np.ndarray, group: np.ndarray, vdd: float) -> np.ndarray:
    """Charge (C) each channel's pulses remove from the accumulator; broadcasts (group: 0/1 per
    channel). With x = D(vdd - V) - D(vdd - V_ref) (ramp volts between the two crossings):

        q = c[g] + e[g] (vdd - V_ref) + k[g, sign(x)] x + a[g] w tanh(x / w)

    c, e: the constant charge of the two td-extended pulses (sink/source mismatch x td, and its
    drift along the ramp); k: the pump current / ramp slope per sign; the tanh term: the extra
    gain near x = 0 where both pulses' edges move (comparator interaction)."""
    const, lin, near0, _ = vtc_terms(p, v, vref, group, vdd)
    return const + lin + near0


def vtc_terms(p: dict[str, float], v: np.ndarray, vref: np.ndarray, group: np.ndarray, vdd: float):
    """The three terms of :func:`vtc_charge` (constant, pump k x, near-zero a w tanh(x/w)) and x."""
    vref = np.asarray(vref, dtype=float)
    x = ramp_d(v, vdd, p["b2"], p["b3"]) - ramp_d(vref, vdd, p["b2"], p["b3"])
    g1 = np.asarray(group) == 1

    def by_g(key):
        return np.where(g1, p[key + "1"], p[key + "0"])

    k = np.where(x >= 0, np.where(g1, p["k1p"], p["k0p"]), np.where(g1, p["k1n"], p["k0n"]))
    return by_g("c") + by_g("e") * (vdd - vref), k * x, by_g("a") * p["w"] * np.tanh(x / p["w"]), x


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


def _vtc_nonlinearity(p: dict[str, float], vdd: float, span: float = 0.96) -> float:
    """Max deviation of D(d) from its end-point line over d in 0..span, in % of span."""
    d = np.linspace(0, span, 200)
    D = d * (1 + p["b2"] * d + p["b3"] * d * d)
    line = D[-1] * d / span
    return float(100 * np.max(np.abs(D - line)) / D[-1])


def acc_voltage(p: dict[str, float], q_sum: np.ndarray, vmid: float) -> np.ndarray:
    """Accumulator voltage (V) at TDC start for a total pump charge q_sum (C)."""
    x = np.asarray(q_sum, dtype=float) / p["c_acc"]
    return vmid + p["dv0"] - x * (1 + p["a2"] * x)


def fit_accumulator(q_sum: np.ndarray, v_acc: np.ndarray, vmid: float, held_out: tuple | None = None) -> dict[str, Any]:
    """V_acc = vmid - Q / C (1 + a2 Q / C): fit C (F) and a2 (1/V) to column runs; quality in %
    of the accumulator's 1 V swing."""
    q_sum, v_acc = np.asarray(q_sum, float), np.asarray(v_acc, float)
    p = lmfit.Parameters()
    c0 = float(np.sum(q_sum**2) / np.sum(q_sum * (vmid - v_acc))) if np.any(q_sum) else 2e-13
    p.add("c_acc", value=c0, min=1e-15)
    p.add("a2", value=0.0, min=-2, max=2)
    p.add("dv0", value=0.0, min=-0.2, max=0.2)

    res = minimize(lambda pp: acc_voltage(pp.valuesdict(), q_sum, vmid) - v_acc, p)
    vals = res.params.valuesdict()
    out = {"params": params_to_dict(res.params), "fit": quality(acc_voltage(vals, q_sum, vmid) - v_acc, 1.0),
           "model": "V_acc = vmid + dv0 - x (1 + a2 x), x = Q / c_acc (V, C)", "quality_units": "% of 1 V"}
    if held_out is not None:
        hq, hv = (np.asarray(a, float) for a in held_out)
        out["held_out"] = quality(acc_voltage(vals, hq, vmid) - hv, 1.0)
    return out


def tdc_time(p: dict[str, float], v_acc: np.ndarray, vhi: float) -> np.ndarray:
    """Stop time (s from TDC start) of the charge-up TDC; 0 when V_acc >= vhi (already tripped)."""
    x = vhi - np.asarray(v_acc, dtype=float)
    t = p["t0"] + p["t1"] * x * (1 + p["c2"] * x)
    return np.where(x > 0, np.maximum(t, 0.0), 0.0)


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
