"""Operating points of the time-accumulator variant ``pump_single_slope``: the VTC + pump transfer
(``VtcTestbench``, 16 channels on one ramp) and the TDC transfer (``TdcTestbench``, 16 TDCs) at
every corner x temperature, -> the calibration's ``operating_points`` section
(:mod:`aimc_circuits.blocks.operating_point`).

Shifted by the law (mul): the VTC model's four charge terms, each by its own factor refitted by
linear least squares on the channels' charges: the pump term for V below V_ref (``k_pos``: k0p,
k1p) and above it (``k_neg``: k0n, k1n; the sink and source pumps are nfet and pfet current
sources, which the sf / fs corners move apart), the pulse pair's constant charge (``q_const``:
c0, c1, e0, e1) and the near-zero term (``near0``: a0, a1). The TDC's offset ``t0`` (add), time
per volt ``t1`` (mul: C_acc over the charge-up current) and curvature ``c2`` (add), refitted to
the standalone TDC, move the whole-column TDC fit (and every output-range setting). Held at the
reference: the ramp's curvature (b2, b3), the accumulator (MIM capacitor, offset, crossing
order), the VTC input's kick, mismatch and energy; the comparator and TDC noise scale as sqrt(T) (thermal),
not characterized at other corners.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ....spice.sweep import combined_provenance, run_sweep
from ...operating_point import (CORNERS, FIT_TEMPS_C, HELD_OUT_TEMPS_C, T_REF_C, build_section, check_entry,
                                op_key, operating_grid, parse_op_key, summarize_checks)
from .characterize import COLUMN_SEED_OFFSET, V_COL_RANGE, _column_levels
from .fit import fit_tdc
from .model import V_FIT_MAX, tdc_time, vtc_charge, vtc_terms
from .testbench import AccumulatorTestbench, TdcTestbench, VtcTestbench

__all__ = ["OP_PARAMS", "VTC_TERMS", "characterize_operating_points", "op_levels", "vtc_term_matrix"]

OP_PARAMS = {
    "k_pos": ("mul", "C/V", "VTC pump charge per ramp volt, V below V_ref (k0p, k1p)"),
    "k_neg": ("mul", "C/V", "VTC pump charge per ramp volt, V above V_ref (k0n, k1n)"),
    "q_const": ("mul", "C", "VTC pulse pair's constant charge (c0, c1, e0, e1)"),
    "near0": ("mul", "C/V", "VTC near-zero term (a0, a1)"),
    "t0": ("add", "s", "TDC offset"),
    "t1": ("mul", "s/V", "TDC time per volt (C_acc over the charge-up current)"),
    "c2": ("add", "1/V", "TDC curvature"),
}
#: which VTC model parameters each charge factor scales
VTC_TERMS = {"k_pos": ("k0p", "k1p"), "k_neg": ("k0n", "k1n"), "q_const": ("c0", "c1", "e0", "e1"),
             "near0": ("a0", "a1")}
#: the VTC levels come from default_rng(this)
OP_SEED = 93
#: whole columns (16 VTCs into C_acc, then the TDC) at the macro's levels, at the reference and at
#: the held-out temperature of every corner: the laws checked end to end on the stop time
COLUMN_OPS = (("tt", 27.0), *((c, t) for c in CORNERS for t in HELD_OUT_TEMPS_C))
COLUMN_RUNS = 2


def op_levels(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """(V, V_ref) for the operating-point VTC runs: V_ref over the column range, V - V_ref of both
    signs in equal numbers in each group, from the few mV the macro's columns carry to 0.3 V, so
    every charge term of the VTC model is seen (both pumps alike)."""
    lo, hi = V_COL_RANGE
    mag = np.repeat([0.3, 0.1, 0.03, 0.01], 2)[: n // 2]  # per group pair: the same magnitudes
    dv = np.concatenate([mag, -mag])[:n]
    dv = rng.permutation(dv.reshape(-1, 2), axis=0).ravel()  # channel pairs (groups 0, 1) keep a magnitude
    vref = rng.uniform(lo + 0.35, V_FIT_MAX - 0.3, n)
    return {"v": vref + dv, "vref": vref}


def vtc_term_matrix(p_vtc: dict[str, float], v, vref, group, vdd: float) -> np.ndarray:
    """The VTC model's four charge terms per channel, (channels, 4) in VTC_TERMS' order."""
    const, lin, near0, x = vtc_terms(p_vtc, v, vref, group, vdd)
    return np.stack([np.where(x >= 0, lin, 0.0), np.where(x < 0, lin, 0.0), const, near0], axis=1)


def characterize_operating_points(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate the VTC and TDC transfers of `model`'s design at every operating point, refit the
    shifted parameters, and return the ``operating_points`` section (laws, refits, checks)."""
    d = model.design
    n_ch = d.n_sub * d.groups
    group = np.arange(n_ch) % d.groups
    lv = op_levels(np.random.default_rng(OP_SEED), n_ch)
    v_init = np.linspace(d.vhi - 0.4, d.vhi + 0.05, n_ch)
    grid = operating_grid()
    vres, tres = (run_sweep(tb, points=[dict(p, corner=c, temp=t) for c, t in grid], progress=progress,
                            retry_failed=True)
                  for tb, p in ((VtcTestbench(design=d, n_ch=n_ch), lv), (TdcTestbench(design=d, n_ch=n_ch),
                                                                        {"v_init": v_init})))
    failed = vres.failed + tres.failed
    if failed:
        raise RuntimeError("time-accumulator operating-point sweep failed at " +
                           ", ".join(sorted({op_key(r.point["corner"], r.point["temp"]) for r in failed})))
    q_model = vtc_charge(model.p_vtc, lv["v"], lv["vref"], group, d.vdd)
    terms = vtc_term_matrix(model.p_vtc, lv["v"], lv["vref"], group, d.vdd)
    q, t_stop, refits = {}, {}, {}
    for c, t in grid:
        key = op_key(c, t)
        q[key] = np.asarray(vres.where(corner=c, temp=t)[0].measures["q"], dtype=float)
        t_stop[key] = np.asarray(tres.where(corner=c, temp=t)[0].measures["t_stop"], dtype=float)
        tp = fit_tdc(v_init, t_stop[key], d.vhi)["params"]
        factors = np.linalg.lstsq(terms, q[key], rcond=None)[0]
        refits[key] = {**{k: float(f) for k, f in zip(VTC_TERMS, factors)},
                       **{k: tp[k]["value"] for k in ("t0", "t1", "c2")}}
    # whole columns at the macro's levels: the laws end to end on the stop time
    crng = np.random.default_rng(OP_SEED + COLUMN_SEED_OFFSET)
    cols = [_column_levels(crng, d.n_sub, d.groups) for _ in range(COLUMN_RUNS)]
    cres = run_sweep(AccumulatorTestbench(design=d, n_ch=n_ch),
                     points=[dict(lv_c, corner=c, temp=t) for c, t in COLUMN_OPS for lv_c in cols],
                     progress=progress, retry_failed=True)
    if cres.failed:
        raise RuntimeError(f"time-accumulator column check failed: {cres.failed[0].error}")

    def column(m, what):
        return np.array([m.convert(lv_c["v"].reshape(d.n_sub, d.groups), lv_c["vref"].reshape(d.n_sub, d.groups))
                         [what] for lv_c in cols])

    def spice_column(c, t, what):
        return np.array([r.measures[what] for r in cres.where(corner=c, temp=t)])

    section = build_section(OP_PARAMS, refits)
    probe = model.with_operating_points(section)
    ref = op_key("tt", T_REF_C)
    ok = (v_init < d.vhi - 0.02) & np.all([np.isfinite(ts) for ts in t_stop.values()], axis=0)
    alone_ref = {k: v["value"] for k, v in fit_tdc(v_init, t_stop[ref], d.vhi)["params"].items()}

    def tdc_alone(m):  # the standalone TDC, moved as the model moves the whole-column TDC
        return tdc_time({"t0": alone_ref["t0"] + m.p_tdc["t0"] - model.p_tdc["t0"],
                         "t1": alone_ref["t1"] * m.p_tdc["t1"] / model.p_tdc["t1"],
                         "c2": alone_ref["c2"] + m.p_tdc["c2"] - model.p_tdc["c2"]}, v_init[ok], d.vhi)

    q_scale = float(np.max(np.abs(q[ref]))) / 100
    checks: dict[str, dict[str, Any]] = {"vtc": {}, "tdc": {}}
    for key in q:
        m = probe.at_operating_point(*parse_op_key(key), warn=False)
        checks["vtc"][key] = check_entry(vtc_charge(m.p_vtc, lv["v"], lv["vref"], group, d.vdd), q[key], q_model,
                                         q[ref], q_scale, "% of the largest charge")
        checks["tdc"][key] = check_entry(tdc_alone(m), t_stop[key][ok], tdc_alone(model), t_stop[ref][ok], d.t_lsb,
                                         "LSB")
    checks["column"] = {op_key(c, t): check_entry(column(probe.at_operating_point(c, t, warn=False), "t_stop"),
                                                  spice_column(c, t, "t_stop"), column(model, "t_stop"),
                                                  spice_column("tt", T_REF_C, "t_stop"), d.t_lsb, "LSB")
                        for c, t in COLUMN_OPS}
    section.update(checks=checks, summary={k: summarize_checks(v) for k, v in checks.items()},
                   checked="vtc: the 16 channels' charges, model at the operating point vs SPICE (% of the largest "
                           "charge at tt / 27 C); tdc: the standalone TDC's stop times at 16 levels (LSB); column: "
                           f"{COLUMN_RUNS} whole columns at the macro's levels, stop time (LSB; the reference model's "
                           "own error included in rms/max); shift_*: the error of the change from tt / 27 C",
                   held_at_reference="the ramp curvature, the accumulator (offset, gain, crossing order), the VTC input's kick, mismatch, "
                                     "energy; noise scaled as sqrt(T)",
                   provenance={**combined_provenance([vres, tres, cres]), "corners": list(CORNERS),
                               "temps_c": [*FIT_TEMPS_C], "held_out_temps_c": [*HELD_OUT_TEMPS_C],
                               "random_seed": OP_SEED})
    return section
