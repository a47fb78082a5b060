"""Supply law of the time-accumulator variant ``pump_single_slope``: the operating points' VTC +
pump transfer (``VtcTestbench``, 16 channels) and whole columns (``AccumulatorTestbench``, 16
VTCs into C_acc, then the TDC) at tt / 27 C on every supply of
:func:`aimc_circuits.blocks.supply.supply_grid`, -> the calibration's ``supply`` section.

The ramp starts at vdd and the cell columns reset to vdd, so the VTC inputs move with the rail:
every level is simulated at the same distance below vdd as at the reference supply (the ramp
travel the macro's columns ask for). Shifted by the law: the four VTC charge factors of the
operating-point law (mul, refitted on the channels' charges), the accumulator's offset ``dv0``
(add: the mean of the whole columns' accumulator level against the model with those charges) and
the energy per conversion (mul, the whole columns' supply energy). The TDC is held at the
reference: on the whole columns, the reference TDC fit converts SPICE's accumulator level to
SPICE's stop time on every supply (the ``column_tdc`` check). Held at the reference, as in the
operating points: the ramp's curvature, the accumulator's gain and crossing order, the VTC
input's kick, mismatch, noise."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ....spice.sweep import combined_provenance, run_sweep
from ...operating_point import check_entry
from ...supply import build_supply_section, summarize_supply, supply_grid, supply_key
from .characterize import COLUMN_SEED_OFFSET, _column_levels
from .model import tdc_time, vtc_charge
from .operating_points import COLUMN_RUNS, OP_PARAMS, OP_SEED, VTC_TERMS, op_levels, vtc_term_matrix
from .testbench import AccumulatorTestbench, VtcTestbench

__all__ = ["SUPPLY_PARAMS", "characterize_supply"]

SUPPLY_PARAMS = {**{k: OP_PARAMS[k] for k in VTC_TERMS},
                 "dv0": ("add", "V", "accumulator offset (its level at TDC start above vmid, at zero charge)"),
                 "e_conversion": ("mul", "J", "supply energy per column conversion")}


def _shifted(levels: dict[str, np.ndarray], dv: float) -> dict[str, np.ndarray]:
    return {k: np.asarray(a, dtype=float) + dv for k, a in levels.items()}


def _with_charges(model: Any, design: Any, factors: np.ndarray) -> Any:
    """`model` on `design` with its VTC charge terms scaled by `factors` (VTC_TERMS' order)."""
    m = copy.copy(model)
    m.design = design
    m.p_vtc = {**model.p_vtc, **{k: model.p_vtc[k] * f for f, keys in zip(factors, VTC_TERMS.values()) for k in keys}}
    return m


def _convert(m: Any, cols: list[dict[str, np.ndarray]], what: str) -> np.ndarray:
    d = m.design
    return np.array([m.convert(c["v"].reshape(d.n_sub, d.groups), c["vref"].reshape(d.n_sub, d.groups))[what]
                     for c in cols])


def characterize_supply(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate the VTC and whole columns of `model`'s design on every supply at tt / 27 C, refit,
    and return the ``supply`` section (law, refits, checks against SPICE)."""
    d = model.design
    n_ch = d.n_sub * d.groups
    group = np.arange(n_ch) % d.groups
    lv0 = op_levels(np.random.default_rng(OP_SEED), n_ch)
    crng = np.random.default_rng(OP_SEED + COLUMN_SEED_OFFSET)
    cols0 = [_column_levels(crng, d.n_sub, d.groups) for _ in range(COLUMN_RUNS)]
    fit_v, held_v = supply_grid(d.vdd)
    tt = {"corner": "tt", "temp": 27.0}
    q, col, refits, levels, sweeps = {}, {}, {}, {}, []
    for v in sorted({*fit_v, *held_v}):
        dv = d.at_supply(v)
        lv, cols = _shifted(lv0, v - d.vdd), [_shifted(c, v - d.vdd) for c in cols0]
        res = [run_sweep(tb, points=pts, progress=progress, retry_failed=True) for tb, pts in (
            (VtcTestbench(design=dv, n_ch=n_ch), [dict(lv, **tt)]),
            (AccumulatorTestbench(design=dv, n_ch=n_ch), [dict(c, **tt) for c in cols]))]
        failed = [r for x in res for r in x.failed]
        if failed:
            raise RuntimeError(f"time-accumulator supply sweep failed at vdd={v} V: {failed[0].error}")
        sweeps += res
        levels[v] = (lv, cols)
        q[v] = np.asarray(res[0].records[0].measures["q"], dtype=float)
        col[v] = {k: np.array([r.measures[k] for r in res[1].records]) for k in ("t_stop", "e_vdd", "v_acc")}
        factors = np.linalg.lstsq(vtc_term_matrix(model.p_vtc, lv["v"], lv["vref"], group, dv.vdd), q[v], rcond=None)[0]
        dv0 = model.p_acc["dv0"] + float(np.mean(col[v]["v_acc"] - _convert(_with_charges(model, dv, factors), cols,
                                                                             "v_acc")))
        refits[v] = {**{k: float(f) for k, f in zip(VTC_TERMS, factors)}, "dv0": dv0,
                     "e_conversion": float(np.mean(col[v]["e_vdd"]))}
    section = build_supply_section(SUPPLY_PARAMS, refits, d.vdd)
    probe = model.with_operating_points(section, "supply")
    moved = {v: probe.at_operating_point("tt", 27.0, v, warn=False) for v in q}
    q_ref = vtc_charge(model.p_vtc, lv0["v"], lv0["vref"], group, d.vdd)
    q_scale = float(np.max(np.abs(q[d.vdd]))) / 100
    col_ref = _convert(model, levels[d.vdd][1], "t_stop")
    e_ref = col[d.vdd]["e_vdd"]
    checks: dict[str, dict[str, Any]] = {"vtc": {}, "column": {}, "column_tdc": {}, "energy": {}}
    for v, m in moved.items():
        key, (lv, cols) = supply_key(v), levels[v]
        checks["vtc"][key] = check_entry(vtc_charge(m.p_vtc, lv["v"], lv["vref"], group, m.design.vdd), q[v], q_ref,
                                         q[d.vdd], q_scale, "% of the largest charge")
        checks["column"][key] = check_entry(_convert(m, cols, "t_stop"), col[v]["t_stop"], col_ref,
                                            col[d.vdd]["t_stop"], d.t_lsb, "LSB")
        checks["column_tdc"][key] = check_entry(tdc_time(m.p_tdc, col[v]["v_acc"], d.vhi), col[v]["t_stop"],
                                                tdc_time(model.p_tdc, col[d.vdd]["v_acc"], d.vhi),
                                                col[d.vdd]["t_stop"], d.t_lsb, "LSB")
        checks["energy"][key] = check_entry(np.full(len(cols), m.e_conversion), col[v]["e_vdd"],
                                            np.full(len(cols), model.e_conversion), e_ref,
                                            float(np.mean(e_ref)) / 100, "% of the energy per conversion")
    section.update(checks=checks, summary={k: summarize_supply(c, d.vdd) for k, c in checks.items()},
                   checked="vtc: the 16 channels' charges (% of the largest charge at the reference); column: "
                           f"{COLUMN_RUNS} whole columns at the macro's levels, stop time (LSB; the reference "
                           "model's own error included in rms/max); column_tdc: the whole columns' TDC (held at the "
                           "reference) on SPICE's accumulator level against SPICE's stop time (LSB); energy: per "
                           "conversion; model on the supply vs SPICE, levels at the same distance below vdd; "
                           "shift_*: the error of the change from the reference supply",
                   held_at_reference="the TDC, the ramp curvature, the accumulator's gain and crossing order, the VTC "
                                     "input's kick, mismatch, noise",
                   provenance={**combined_provenance(sweeps), "corner": "tt", "temperature_c": 27.0,
                               "random_seed": OP_SEED})
    return section
