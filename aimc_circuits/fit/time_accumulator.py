"""Time-accumulator model functions and their lmfit fits.

VTC + charge pump (one sub-array s, group g): with d(u) = vdd - u (how far the ramp has
fallen when it crosses u) and the ramp's crossing time t(u) = D(d) / S,
D(d) = d (1 + b2 d + b3 d^2) (the ramp's slope changes as its sink's Vds and the comparator
gate load change), the two pulses carry the net charge of `vtc_charge` (k = 16^g I0 / S for the
sink (positive) and source (negative) pumps). Accumulation: V_acc = vmid - Q / C_acc (1 + a2 Q / C_acc), Q = sum of q.
The pumps' charge also depends on the accumulator voltage they see: x = (Q + beta F) / C_acc with
F = sum_ch 16^g Q_before(ch) (the charge of the channels that cross earlier on the ramp).
TDC: t_stop = t0 + (vhi - V_acc) C_acc / I_d (1 + c2 (vhi - V_acc)); code = floor(t_stop / t_lsb).
"""
from __future__ import annotations

from typing import Any

import lmfit
import numpy as np

from .common import minimize, params_to_dict, quality

__all__ = ["ramp_d", "vtc_charge", "vtc_terms", "fit_vtc", "fit_vtc_quality", "fit_accumulator_order", "order_charge", "V_C0", "acc_voltage", "fit_accumulator", "fit_tdc", "tdc_time", "VTC_KEYS", "V_FIT_MAX"]

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


def order_charge(q: np.ndarray, v: np.ndarray, vref: np.ndarray, group: np.ndarray, dw: float) -> np.ndarray:
    """F = sum over channels ch of 16^g(ch) x (charge the other channels put on the accumulator
    before ch's pulses), the channel axes (..., n_sub, groups) last. The ramp falls from vdd, so a
    channel's pulses start when it reaches L = max(V, V_ref); a channel ch' counts as before ch by
    s = clip(1/2 + (L_ch' - L_ch) / (2 dw), 0, 1): fully when it crosses more than dw (V of ramp,
    about one pulse duration) earlier, half when they cross together (overlapping pulses)."""
    q, v, vref = (np.asarray(a, dtype=float) for a in (q, v, vref))
    shape = np.broadcast_shapes(q.shape, v.shape, vref.shape)
    lead = shape[:-2]
    qf = np.broadcast_to(q, shape).reshape(lead + (-1,))
    lv = np.maximum(np.broadcast_to(v, shape), np.broadcast_to(vref, shape)).reshape(lead + (-1,))
    w = np.broadcast_to(16.0 ** np.asarray(group, dtype=float), shape[-2:]).reshape(-1)
    s = np.clip(0.5 + (lv[..., None, :] - lv[..., :, None]) / (2 * dw), 0.0, 1.0)  # [..., ch, ch']
    n = w.size
    s = s * (1 - np.eye(n))
    return np.einsum("c,...cd,...d->...", w, s, qf)


#: centre of the reference-level term of the accumulator model (V)
V_C0 = 1.5


def acc_voltage(p: dict[str, float], q_sum: np.ndarray, vmid: float, f_order: np.ndarray | float = 0.0,
                v_c: np.ndarray | float = V_C0) -> np.ndarray:
    """Accumulator voltage (V) at TDC start for a total pump charge q_sum (C), the order term
    f_order (C, :func:`order_charge`: each pump's charge changes with the accumulator voltage it
    sees, i.e. with the charge accumulated before it) and the column's mean reference level v_c
    (V: where on the ramp the channels cross together; gamma is its measured offset)."""
    x = (np.asarray(q_sum, dtype=float) + p.get("beta", 0.0) * np.asarray(f_order, dtype=float)) / p["c_acc"]
    return vmid + p["dv0"] + p.get("gamma", 0.0) * (np.asarray(v_c, dtype=float) - V_C0) - x * (1 + p["a2"] * x)


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


def tdc_time(p: dict[str, float], v_acc: np.ndarray, vhi: float) -> np.ndarray:
    """Stop time (s from TDC start) of the charge-up TDC; 0 when V_acc >= vhi (already tripped)."""
    x = vhi - np.asarray(v_acc, dtype=float)
    t = p["t0"] + p["t1"] * x * (1 + p["c2"] * x)
    return np.where(x > 0, np.maximum(t, 0.0), 0.0)


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
