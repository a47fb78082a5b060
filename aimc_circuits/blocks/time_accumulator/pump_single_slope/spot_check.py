"""Spot check of the time-accumulator variant ``pump_single_slope``: a fresh VTC run in SPICE."""
from __future__ import annotations

import numpy as np

from ....spice.sweep import run_sweep
from ...spot import SpotCheck
from .model import TimeAccumulatorModel, vtc_charge
from .testbench import VtcTestbench

__all__ = ["spot_check"]


def spot_check(model: TimeAccumulatorModel, seed: int = 123) -> SpotCheck:
    """A new random VTC run of every channel (half small realistic differences, half large ones,
    levels <= 1.7 V); channel charge error in % of the group's charge per volt of ramp.
    Tolerance 2 %: the shipped model's held-out RMS is 0.28 % (max 1.2 %)."""
    d = model.design
    n_ch = d.n_sub * d.groups
    group = np.arange(n_ch) % d.groups
    rng = np.random.default_rng(seed)
    vref = rng.uniform(1.0, 1.65, n_ch)
    small = np.arange(n_ch) < n_ch // 2
    v = np.clip(vref + np.where(small, rng.normal(0, 0.03, n_ch), rng.uniform(-0.3, 0.3, n_ch)), 0.84, 1.7)
    rec = run_sweep(VtcTestbench(design=d, n_ch=n_ch), points=[{"v": v, "vref": vref}]).records[0]
    if not rec.ok:
        raise RuntimeError(f"spot-check point failed in SPICE: {rec.error}")
    q_model = vtc_charge(model.p_vtc, v, vref, group, d.vdd)
    k = np.where(group == 1, model.p_vtc["k1p"], model.p_vtc["k0p"])
    return SpotCheck(100 * (q_model - np.asarray(rec.measures["q"])) / k, 2.0, "% of the group's charge per volt",
                     f"one VTC run of {n_ch} channels, tt, 27 C")
