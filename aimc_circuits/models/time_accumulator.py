"""Behavioral model of the column time accumulator, built from calibration/time_accumulator.json.

Vectorized numpy over any leading (batch, column) axes: the 16 group column voltages of a column
(n_sub x groups) and the reference column's voltages -> VTC charges -> accumulated charge ->
accumulator voltage -> TDC stop time -> output code. Noise (comparator noise as VTC and TDC
jitter) is drawn from an explicit ``rng``; per-column mismatch (VTC input offsets and per-sign
gains, TDC gain) is one ``TAChip`` draw, folded once per chip instance.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..blocks.time_accumulator import TADesign
from ..errors import AimcError, ParameterError
from ..fit.time_accumulator import V_C0, VTC_KEYS, acc_voltage, order_charge, tdc_time, vtc_terms
from .common import read_calibration

__all__ = ["TAChip", "TimeAccumulatorModel"]


@dataclass(frozen=True)
class TAChip:
    """One chip instance's accumulator mismatch for ``n_out`` columns: VTC input offsets (V) and
    per-sign relative gains, shape (n_out, n_sub, groups); TDC relative gain, shape (n_out,)."""

    offset_v: np.ndarray
    gain_pos: np.ndarray
    gain_neg: np.ndarray
    tdc_gain: np.ndarray


class TimeAccumulatorModel:
    """Fitted time-accumulator model. ``TimeAccumulatorModel.load()`` reads the shipped calibration."""

    def __init__(self, calibration: dict[str, Any]):
        try:
            self.design = TADesign(**calibration["design"])
            self.p_vtc = {k: float(calibration["vtc"]["params"][k]["value"]) for k in VTC_KEYS}
            self.p_acc = {k: float(v["value"]) for k, v in calibration["accumulator"]["params"].items()}
            self.p_tdc = {k: float(v["value"]) for k, v in calibration["tdc"]["params"].items()}
            mm = calibration["mismatch"]
            self.sigma_offset = np.asarray(mm["sigma_offset_v_by_group"], dtype=float)
            self.sigma_gain = np.asarray(mm["sigma_gain_rel_by_group"], dtype=float)
            self.sigma_tdc_gain = float(calibration["tdc"]["standalone"].get("mc_sigma_gain_rel", 0.0))
            nz = calibration["noise"]
            self.sigma_vtc_v = float(nz["vtc_pulse_sigma_v"])
            self.sigma_tdc_s = float(nz["tdc_jitter_s"])
            self.e_conversion = float(calibration["energy"]["e_conversion_j"]["mean"])
        except (KeyError, TypeError) as exc:
            raise AimcError(f"time-accumulator calibration is missing or malformed ({exc!r}); regenerate it "
                            f"with `aimc calibrate --block time-accumulator`") from exc
        self.calibration = calibration
        d = self.design
        self.group = np.arange(d.groups)  # channel (s, g) has group g: broadcasts over (..., n_sub, groups)

    @classmethod
    def load(cls, path: Path | str | None = None) -> "TimeAccumulatorModel":
        """Read a calibration JSON (default: calibration/time_accumulator.json)."""
        return cls(read_calibration("time-accumulator", path))

    @property
    def n_codes(self) -> int:
        return 2**self.design.output_bits

    # -- mismatch ----------------------------------------------------------------------
    def draw_chip(self, rng: np.random.Generator, n_out: int) -> TAChip:
        """Independent per-channel offsets and gains (sigma per group, from Monte Carlo) and a
        per-column TDC gain for `n_out` columns."""
        d = self.design
        if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out < 1:
            raise ParameterError(f"n_out={n_out!r} must be an integer >= 1 (columns)")
        shape = (n_out, d.n_sub, d.groups)
        return TAChip(offset_v=rng.standard_normal(shape) * self.sigma_offset,
                      gain_pos=rng.standard_normal(shape) * self.sigma_gain,
                      gain_neg=rng.standard_normal(shape) * self.sigma_gain,
                      tdc_gain=rng.standard_normal(n_out) * self.sigma_tdc_gain)

    # -- the model ---------------------------------------------------------------------
    def _levels(self, name: str, a: Any) -> np.ndarray:
        d = self.design
        arr = np.asarray(a, dtype=float)
        if arr.ndim < 2 or arr.shape[-2:] != (d.n_sub, d.groups):
            raise ParameterError(f"{name} must have trailing axes (n_sub, groups) = ({d.n_sub}, {d.groups}); "
                                 f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"{name} contains NaN or inf; allowed: levels in [0, {d.vdd}] V")
        if arr.size and (arr.min() < 0 or arr.max() > d.vdd):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ParameterError(f"{name} contains {bad!r} V; allowed: levels in [0, {d.vdd}] V")
        return arr

    def charges(self, v: Any, vref: Any, chip: TAChip | None = None,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """Net charge (C) each VTC channel removes from the accumulator, shape of v
        (..., n_sub, groups); vref broadcasts against v (e.g. (B, 1, n_sub, groups) for one
        reference column per batch row). chip: mismatch (its columns on v's second-to-last-but-
        two axis); rng: comparator noise on both crossings."""
        d = self.design
        v = self._levels("v", v)
        vref = self._levels("vref", vref)
        if chip is not None:
            if v.ndim < 3 or v.shape[-3] != chip.offset_v.shape[0]:
                raise ParameterError(f"v has shape {v.shape}: its column axis (third from last) must match the "
                                     f"chip's {chip.offset_v.shape[0]} columns")
            v = v + chip.offset_v
        if rng is not None:
            v = v + self.sigma_vtc_v * rng.standard_normal(np.broadcast_shapes(v.shape, vref.shape))
        const, lin, near0, x = vtc_terms(self.p_vtc, v, vref, self.group, d.vdd)
        if chip is None:
            return const + lin + near0
        # per-channel gains: the pump term by its sign (the Monte Carlo extraction measures them at
        # |dV| = 0.1..0.3 V, where that term dominates), the near-zero term with their mean
        return (const + lin * (1 + np.where(x >= 0, chip.gain_pos, chip.gain_neg))
                + near0 * (1 + (chip.gain_pos + chip.gain_neg) / 2))

    def accumulate(self, q_sum: Any, f_order: Any = 0.0, v_c: Any = V_C0) -> np.ndarray:
        """Accumulator voltage (V) at TDC start for a total charge (C), the crossing-order term
        (C, :func:`aimc_circuits.fit.time_accumulator.order_charge`) and the column's mean
        reference level v_c (V)."""
        return acc_voltage(self.p_acc, q_sum, self.design.vmid, f_order, v_c)

    def stop_time(self, v_acc: Any, chip: TAChip | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """TDC stop time (s from TDC start), (..., n_out); 0 when V_acc is at or above vhi."""
        t = tdc_time(self.p_tdc, v_acc, self.design.vhi)
        if chip is not None:
            t = t * (1 + chip.tdc_gain)
        if rng is not None:
            t = np.maximum(t + self.sigma_tdc_s * rng.standard_normal(np.shape(t)), 0.0)
        return t

    def codes(self, t_stop: Any) -> np.ndarray:
        """Counter code: whole t_lsb periods before the stop edge, saturating at 2^bits - 1 (the
        counter stops counting; ``convert`` reports which columns saturated)."""
        c = np.floor(np.asarray(t_stop, dtype=float) / self.design.t_lsb)
        return np.minimum(c, self.n_codes - 1).astype(np.int64)

    def convert(self, v: Any, vref: Any, chip: TAChip | None = None,
                rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """Group column voltages (..., n_sub, groups) -> {'q' (C, per channel), 'q_sum',
        'v_acc', 't_stop', 'code', 'saturated' (code at full scale or V_acc at/above vhi)}."""
        q = self.charges(v, vref, chip, rng)
        q_sum = q.sum(axis=(-2, -1))
        v_cross = np.asarray(v, dtype=float) + (chip.offset_v if chip is not None else 0.0)  # comparator offsets move the crossing
        v_acc = self.accumulate(q_sum, order_charge(q, v_cross, vref, self.group, self.p_acc.get("dw", 0.06)),
                                np.broadcast_to(vref, q.shape).mean(axis=(-2, -1)))
        t = self.stop_time(v_acc, chip, rng)
        code = self.codes(t)
        return {"q": q, "q_sum": q_sum, "v_acc": v_acc, "t_stop": t, "code": code,
                "saturated": (code >= self.n_codes - 1) | (t <= 0)}
