"""Typed calibration of the time-accumulator variant ``pump_single_slope``
(``calibration/time_accumulator/pump_single_slope.json``, written by :mod:`.characterize`)."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ....calibration_file import Calibration, CalibrationError, Fitted
from .design import TADesign

__all__ = ["TACalibration"]

_V, _A, _T = "vtc.params.", "accumulator.params.", "tdc.params."


def _k(name: str, meaning: str) -> Fitted:
    return Fitted(_V + name + ".value", "C/V", meaning, 0.0, 1e-9, lo_open=True)


class TACalibration(Calibration):
    """The VTC + pump charge model, the accumulator and TDC transfer, Monte Carlo statistics,
    comparator noise, energy per conversion and the conversion timing."""

    family: ClassVar[str] = "time_accumulator"
    variant: ClassVar[str] = "pump_single_slope"
    version: ClassVar[int] = 4
    design_class = TADesign
    fitted: ClassVar[dict[str, Fitted]] = {
        "k0p": _k("k0p", "group-0 pump charge per ramp volt, V below V_ref"),
        "k0n": _k("k0n", "group-0 pump charge per ramp volt, V above V_ref"),
        "k1p": _k("k1p", "group-1 pump charge per ramp volt, V below V_ref"),
        "k1n": _k("k1n", "group-1 pump charge per ramp volt, V above V_ref"),
        **{f"{k}{g}": Fitted(_V + f"{k}{g}.value", "C", f"group-{g} pulse-pair constant charge ({k})", -1e-12, 1e-12)
           for k in "ce" for g in (0, 1)},
        **{f"a{g}": Fitted(_V + f"a{g}.value", "C/V", f"group-{g} extra gain near zero difference", -1e-9, 1e-9)
           for g in (0, 1)},
        "w": Fitted(_V + "w.value", "V", "width of the near-zero term", 0.0, 1.0, lo_open=True),
        "b2": Fitted(_V + "b2.value", "1/V", "ramp curvature, second order", -5.0, 5.0),
        "b3": Fitted(_V + "b3.value", "1/V^2", "ramp curvature, third order", -5.0, 5.0),
        "c_acc": Fitted(_A + "c_acc.value", "F", "accumulation capacitance", 0.0, 1e-10, lo_open=True),
        "acc_a2": Fitted(_A + "a2.value", "1/V", "accumulator nonlinearity", -10.0, 10.0),
        "dv0": Fitted(_A + "dv0.value", "V", "accumulator offset", -0.5, 0.5),
        "beta": Fitted(_A + "beta.value", "", "crossing-order term", -1.0, 1.0),
        "gamma": Fitted(_A + "gamma.value", "", "reference-level term", -5.0, 5.0),
        "dw": Fitted(_A + "dw.value", "V", "overlap width of the crossing-order term", 0.0, 1.0, lo_open=True),
        "t0": Fitted(_T + "t0.value", "s", "TDC offset", -1e-8, 1e-8),
        "t1": Fitted(_T + "t1.value", "s/V", "TDC ramp: stop time per volt", 0.0, 1e-5, lo_open=True),
        "tdc_c2": Fitted(_T + "c2.value", "1/V", "TDC ramp nonlinearity", -10.0, 10.0),
        "kick_q0": Fitted("vtc_input.fit.q0", "C", "charge a floating column line gives the VTC input before its "
                          "crossing, at V = vdd", -1e-13, 1e-13),
        "kick_q1": Fitted("vtc_input.fit.q1", "C/V", "its change per volt of ramp travel (vdd - V)", -1e-13, 1e-13),
        "c_in": Fitted("vtc_input.fit.c_in_f", "F", "VTC input capacitance while the ramp waits at vdd, at V_C0",
                       0.0, 1e-12),
        "c_swing": Fitted("vtc_input.swing.fit.c_swing_f", "F", "charge the VTC input takes as its line falls from "
                          "vdd to V_C0 (the ramp at vdd), / (vdd - V_C0): the data column lines' end load",
                          0.0, 1e-12, lo_open=True),
        "sigma_offset": Fitted("mismatch.sigma_offset_v_by_group", "V", "VTC input offset sigma, by group", 0.0, 0.2,
                               shape=(-1,)),
        "sigma_gain": Fitted("mismatch.sigma_gain_rel_by_group", "", "VTC per-sign gain sigma, by group", 0.0, 0.5,
                             shape=(-1,)),
        "sigma_tdc_gain": Fitted("tdc.standalone.mc_sigma_gain_rel", "", "TDC gain sigma (Monte Carlo)", 0.0, 0.5),
        "sigma_vtc_v": Fitted("noise.vtc_pulse_sigma_v", "V", "VTC comparator noise per pulse (input-referred)",
                              0.0, 0.1),
        "sigma_tdc_s": Fitted("noise.tdc_jitter_s", "s", "TDC stop-edge jitter", 0.0, 1e-9),
        "e_conversion": Fitted("energy.e_conversion_j.mean", "J", "energy per column conversion", 0.0, 1e-9),
        "t_reset_s": Fitted("timing.t_reset_s", "s", "reset phase", 0.0, 1e-6, lo_open=True),
        "t_ramp_s": Fitted("timing.t_ramp_s", "s", "ramp phase", 0.0, 1e-6, lo_open=True),
        "t_gap_s": Fitted("timing.t_gap_s", "s", "ramp end -> TDC start", 0.0, 1e-6, lo_open=True),
        "t_conversion_s": Fitted("timing.t_conversion_s", "s", "one conversion", 0.0, 1e-5, lo_open=True),
    }
    c_acc: float
    kick_q0: float
    kick_q1: float
    c_in: float
    c_swing: float
    dw: float
    t1: float
    sigma_offset: np.ndarray
    sigma_gain: np.ndarray
    sigma_tdc_gain: float
    sigma_vtc_v: float
    sigma_tdc_s: float
    e_conversion: float
    t_reset_s: float
    t_ramp_s: float
    t_gap_s: float
    t_conversion_s: float

    def check(self) -> None:
        g = self.design.groups
        for name in ("sigma_offset", "sigma_gain"):
            if getattr(self, name).shape != (g,):
                raise CalibrationError(f"{self.source}: {self.fitted[name].path} has {getattr(self, name).size} "
                                       f"entries; the design has {g} groups")
        if self.t_ramp_s + self.t_reset_s + self.t_gap_s > self.t_conversion_s:
            raise CalibrationError(f"{self.source}: timing: reset + ramp + gap exceeds t_conversion_s")

    @property
    def p_vtc(self) -> dict[str, float]:
        """The VTC charge model's parameters (:data:`.model.VTC_KEYS`)."""
        from .model import VTC_KEYS

        return {k: getattr(self, k) for k in VTC_KEYS}

    @property
    def p_acc(self) -> dict[str, float]:
        return {"c_acc": self.c_acc, "a2": self.acc_a2, "dv0": self.dv0, "beta": self.beta, "gamma": self.gamma,
                "dw": self.dw}

    @property
    def p_tdc(self) -> dict[str, float]:
        return {"t0": self.t0, "t1": self.t1, "c2": self.tdc_c2}

    @property
    def output_range(self) -> dict[float, dict[str, np.ndarray]]:
        """The characterized TDC settings: {charge-up current (units of i0): {'vhi', 't0', 't1',
        't1c2'}: arrays over the stop thresholds, sorted}; each value range-checked."""
        sec = self.section("output_range")
        out: dict[float, list] = {}
        for k, st in enumerate(sec.get("settings", [])):
            try:
                vals = [float(st[n]) for n in ("tdc_current", "vhi", "t0", "t1", "c2")]
            except (KeyError, TypeError, ValueError):
                raise CalibrationError(f"{self.source}: output_range.settings[{k}] needs numeric tdc_current, vhi, "
                                       f"t0, t1 and c2") from None
            md, vhi, t0, t1, c2 = vals
            if not (np.all(np.isfinite(vals)) and md > 0 and 0 < vhi < self.design.vdd and t1 > 0
                    and abs(t0) < 1e-8 and abs(c2) < 10):
                raise CalibrationError(f"{self.source}: output_range.settings[{k}] = (tdc_current {md}, vhi {vhi}, "
                                       f"t0 {t0}, t1 {t1}, c2 {c2}); allowed: current > 0, 0 < vhi < vdd, t1 > 0, "
                                       f"|t0| < 10 ns, |c2| < 10 /V")
            out.setdefault(md, []).append((vhi, t0, t1, t1 * c2))
        res = {}
        for md, rows in out.items():
            a = np.array(sorted(rows))
            res[md] = {"vhi": a[:, 0], "t0": a[:, 1], "t1": a[:, 2], "t1c2": a[:, 3]}
        return res
