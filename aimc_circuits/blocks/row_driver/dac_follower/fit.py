"""lmfit fits of the row-driver variant ``dac_follower``'s models (:mod:`.model`) to SPICE data."""
from __future__ import annotations

from typing import Any

import lmfit
import numpy as np

from ....fitting import minimize, params_to_dict, quality
from .model import BITS, DYNAMIC_PARAMS, dynamic_error, static_level

__all__ = ["fit_static", "inl_dnl", "static_stats", "settle_time", "fit_dynamic", "fit_energy"]

def fit_static(v: np.ndarray) -> dict[str, Any]:
    """Fit the static model to a 256-code transfer; quality in LSB (endpoint LSB)."""
    v = np.asarray(v, dtype=float)
    codes = np.arange(v.size)
    lsb = (v[-1] - v[0]) / (v.size - 1)
    p = lmfit.Parameters()
    p.add("v0", value=v[0])
    p.add("u", value=lsb)
    p.add("a2", value=0.0)
    for k in range(1, BITS):
        p.add(f"eps{k}", value=0.0, min=-0.5, max=0.5)

    def resid(pp):
        eps = [0.0] + [pp[f"eps{k}"].value for k in range(1, BITS)]
        return (static_level(codes, pp["v0"].value, pp["u"].value, pp["a2"].value, eps) - v) / lsb

    res = minimize(resid, p)
    r = resid(res.params)
    out = {"params": params_to_dict(res.params), "rms_lsb": float(np.sqrt(np.mean(r**2))),
           "max_lsb": float(np.max(np.abs(r))), "n": int(v.size),
           # what the smooth model leaves (V per code): the behavioral model adds it back, so the
           # nominal transfer is reproduced exactly and mismatch acts on top of it
           "residual_v": -r * lsb}
    out["params"]["eps0"] = {"value": 0.0, "stderr": None}
    return out


def inl_dnl(v: np.ndarray) -> dict[str, Any]:
    """Endpoint INL and DNL (LSB) of a transfer curve, and its LSB (V)."""
    v = np.asarray(v, dtype=float)
    n = v.size - 1
    lsb = (v[-1] - v[0]) / n
    inl = (v - (v[0] + lsb * np.arange(v.size))) / lsb
    dnl = np.diff(v) / lsb - 1
    return {"lsb_v": float(lsb), "v_zero": float(v[0]), "v_full": float(v[-1]), "inl_lsb": inl, "dnl_lsb": dnl,
            "inl_max_lsb": float(np.max(np.abs(inl))), "dnl_max_lsb": float(np.max(np.abs(dnl))),
            "monotonic": bool(np.all(np.diff(v) > 0))}


def static_stats(v: np.ndarray, v_ref: np.ndarray) -> dict[str, float]:
    """Gain, offset, INL/DNL of a transfer `v` and its deviation from the reference transfer."""
    s = inl_dnl(v)
    ref = inl_dnl(v_ref)
    return {"gain_rel": s["lsb_v"] / ref["lsb_v"], "v_zero": s["v_zero"], "v_full": s["v_full"],
            "inl_max_lsb": s["inl_max_lsb"], "dnl_max_lsb": s["dnl_max_lsb"],
            "max_dev_from_tt27_lsb": float(np.max(np.abs(v - v_ref)) / ref["lsb_v"])}


def settle_time(t: np.ndarray, v: np.ndarray, target: float, tol: float) -> float:
    """Time from which |v - target| <= tol holds to the end of `t` (inf if not at the end)."""
    bad = np.nonzero(np.abs(np.asarray(v) - target) > tol)[0]
    if bad.size == 0:
        return 0.0
    if bad[-1] == len(t) - 1:
        return float("inf")
    return float(t[bad[-1] + 1])


def _dyn_args(data: dict[str, np.ndarray]):
    return (data["v_target"], data["v_prev"], data["x"], data["c_sel"] + data["c_wire"], data["r_line"])


def fit_dynamic(data: dict[str, np.ndarray], held_out: dict[str, np.ndarray], lsb: float) -> dict[str, Any]:
    """Fit the dynamic-error model to loaded conversions; quality in LSB on fit and held-out points."""
    target = data["v"] - data["v_target"]
    p = lmfit.Parameters()
    for name in DYNAMIC_PARAMS:
        p.add(name, value=0.0)

    def model(pp, d):
        return dynamic_error({k: pp[k].value for k in DYNAMIC_PARAMS}, *_dyn_args(d))

    res = minimize(lambda pp: (model(pp, data) - target) / lsb, p)
    raw = {"fit": quality(target, lsb), "held_out": quality(held_out["v"] - held_out["v_target"], lsb)}
    out = {"params": params_to_dict(res.params),
           "fit": quality(model(res.params, data) - target, lsb),
           "held_out": quality(model(res.params, held_out) - (held_out["v"] - held_out["v_target"]), lsb),
           "unmodeled_error": raw,
           "units": "quality in % of one LSB (rms_pct_fs / 100 = LSB)"}
    return out


def fit_energy(data: dict[str, np.ndarray]) -> dict[str, Any]:
    """Supply energy per conversion: E = e0 + e1 V + e2 (C_sel + C_w) V + e3 (C_sel + C_w) Vp (J);
    e0 holds the static bias and DAC power over the conversion."""
    # conversions are stored once per line position (e_vdd split evenly): take one row each
    n_pos = int(round(1 / np.diff(np.unique(data["x"]))[0])) + 1
    sel = slice(0, None, n_pos)
    e = data["e_vdd"][sel] * n_pos
    v, vp, c = data["v_target"][sel], data["v_prev"][sel], (data["c_sel"] + data["c_wire"])[sel]
    a = np.column_stack([np.ones_like(v), v, c * v, c * vp])
    coef, *_ = np.linalg.lstsq(a, e, rcond=None)
    pred = a @ coef
    return {"params": {k: {"value": float(c_), "stderr": None} for k, c_ in zip(("e0", "e1", "e2", "e3"), coef)},
            "fit": quality(pred - e, np.max(e)), "n": int(e.size),
            "model": "E = e0 + e1 V + e2 C V + e3 C Vp (J), C = C_sel + C_wire (F), V/Vp levels (V); "
                     "quality in % of the largest energy"}
