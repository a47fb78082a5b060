"""Behavioral model of the time-accumulator variant ``pump_single_slope``, from its calibration
(``calibration/time_accumulator/pump_single_slope.json``); numpy only.

VTC + charge pump (one sub-array s, group g): with d(u) = vdd - u (how far the ramp has
fallen when it crosses u) and the ramp's crossing time t(u) = D(d) / S,
D(d) = d (1 + b2 d + b3 d^2) (the ramp's slope changes as its sink's Vds and the comparator
gate load change), the two pulses carry the net charge of `vtc_charge` (k = 16^g I0 / S for the
sink (positive) and source (negative) pumps). Accumulation: V_acc = vmid - Q / C_acc (1 + a2 Q / C_acc), Q = sum of q.
The pumps' charge also depends on the accumulator voltage they see: x = (Q + beta F) / C_acc with
F = sum_ch 16^g Q_before(ch) (the charge of the channels that cross earlier on the ramp).
TDC: t_stop = t0 + (vhi - V_acc) C_acc / I_d (1 + c2 (vhi - V_acc)); code = floor(t_stop / t_lsb).

``TimeAccumulatorModel`` evaluates it vectorized over any leading (batch, column) axes: the 16
group column voltages of a column (n_sub x groups) and the reference column's voltages -> VTC
charges -> accumulated charge -> accumulator voltage -> TDC stop time -> output code. Noise
(comparator noise as VTC and TDC jitter) is drawn from an explicit ``rng``; per-column mismatch
(VTC input offsets and per-sign gains, TDC gain) is one ``TAChip`` draw.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ....constants import ZERO_CELSIUS_K
from ....errors import ParameterError
from ...model import BlockModel
from .calibration import TACalibration

__all__ = ["TAChip", "TAFold", "TimeAccumulatorModel", "VTC_KEYS", "V_C0", "V_FIT_MAX", "acc_voltage", "order_charge",
           "ramp_d", "tdc_time", "vtc_charge", "vtc_terms"]

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
    x = (np.asarray(q_sum, dtype=float) + p["beta"] * np.asarray(f_order, dtype=float)) / p["c_acc"]
    return vmid + p["dv0"] + p["gamma"] * (np.asarray(v_c, dtype=float) - V_C0) - x * (1 + p["a2"] * x)


def tdc_time(p: dict[str, float], v_acc: np.ndarray, vhi: float) -> np.ndarray:
    """Stop time (s from TDC start) of the charge-up TDC; 0 when V_acc >= vhi (already tripped)."""
    x = vhi - np.asarray(v_acc, dtype=float)
    t = p["t0"] + p["t1"] * x * (1 + p["c2"] * x)
    return np.where(x > 0, np.maximum(t, 0.0), 0.0)


@dataclass(frozen=True)
class TAChip:
    """One chip instance's accumulator mismatch for ``n_out`` columns: VTC input offsets (V) and
    per-sign relative gains, shape (n_out, n_sub, groups); TDC relative gain, shape (n_out,), and
    optionally each TDC's stop-threshold offset (V, shape (n_out,)). ``draw_chip`` leaves the
    threshold offset out (None: zero): the calibration's Monte Carlo TDC spread is one relative
    number; a chip read back from a SPICE draw (:mod:`aimc_circuits.validate.chip_readback`) has it."""

    offset_v: np.ndarray
    gain_pos: np.ndarray
    gain_neg: np.ndarray
    tdc_gain: np.ndarray
    tdc_offset_v: np.ndarray | None = None


@dataclass(frozen=True)
class TAFold:
    """The time accumulators of one chip as the macro folds them, per channel (s, g) of column j:
    VTC charge q = k(sign) x + a w tanh(x / w) + c[g] + e[g] d_ref with the ramp curvature
    x = D(d) - D(d_ref), D(d) = d (1 + b2 d + b3 d^2), d = vdd - V; the accumulator and TDC
    transfer (see the module docstring) with the terms switched off set to zero."""

    weights: np.ndarray  #: (G,) group weights 2^(bits_per_group g)
    k_pos: np.ndarray  #: (S, G, J) charge per ramp volt for V below V_ref (C/V), the chip's gains included
    k_neg: np.ndarray  #: (S, G, J) the same for V above V_ref
    a_near0: np.ndarray  #: (S, G, J) near-zero term amplitude (C/V)
    w: float  #: near-zero term width (V)
    c_g: np.ndarray  #: (G,) pulse-pair constant charge (C)
    e_g: np.ndarray  #: (G,) its drift with the reference level (C/V)
    b2: float
    b3: float
    offset_v: np.ndarray | None  #: (S, J, G) VTC input offsets (V), acting on V
    tdc_gain: np.ndarray | None  #: (J,) per-column TDC gain (1 + mismatch)
    vtc_var_v2: float  #: VTC comparator noise per channel (V^2), 0 when off
    tdc_sigma_s: np.ndarray  #: (J,) TDC stop-edge jitter (s; it scales with t1), 0 when off
    c_acc: float
    acc_a2: float
    v_acc0: float  #: vmid + dv0 - gamma V_C0 (V)
    gamma: float
    beta: float  #: crossing-order term
    dw: float  #: its overlap width (V)
    t0: np.ndarray  #: (J,) TDC transfer of each column at its setting (s)
    t1: np.ndarray  #: (J,) s/V
    tdc_c2: np.ndarray  #: (J,) 1/V
    vdd: float
    vhi: float  #: the design's stop threshold (V)
    t_lsb: float
    dvhi: np.ndarray  #: (J,) each column's stop threshold minus vhi (V): its output window's position
    c_end: float = 0.0  #: the VTC input as a data column line's end load in the cells' phase (F, large-signal); 0: off
    kick_q0: float = 0.0  #: charge the input takes from its floating line before the crossing (C) ...
    kick_q1: float = 0.0  #: ... plus this per volt of ramp travel vdd - V (C/V)


class TimeAccumulatorModel(BlockModel):
    """Fitted time-accumulator model of one calibration. ``TimeAccumulatorModel.load()`` reads the shipped one."""

    calibration_class = TACalibration
    op_params = {"k_pos": "mul", "k_neg": "mul", "q_const": "mul", "near0": "mul", "t0": "add", "t1": "mul",
                 "c2": "add"}
    supply_params = {"k_pos": "mul", "k_neg": "mul", "q_const": "mul", "near0": "mul", "dv0": "add", "e_conversion": "mul"}
    #: the VTC model's parameters each operating-point charge factor scales
    _charge_terms = {"k_pos": ("k0p", "k1p"), "k_neg": ("k0n", "k1n"), "q_const": ("c0", "c1", "e0", "e1"),
                     "near0": ("a0", "a1")}

    def setup(self) -> None:
        cal = self.calibration
        d = self.design
        self.p_vtc, self.p_acc, self.p_tdc = cal.p_vtc, cal.p_acc, cal.p_tdc
        self.sigma_offset, self.sigma_gain, self.sigma_tdc_gain = cal.sigma_offset, cal.sigma_gain, cal.sigma_tdc_gain
        self.sigma_vtc_v, self.sigma_tdc_s = cal.sigma_vtc_v, cal.sigma_tdc_s
        self.e_conversion = cal.e_conversion
        self.kick_q0, self.kick_q1, self.c_end = cal.kick_q0, cal.kick_q1, cal.c_swing
        self._range = cal.output_range
        self.group = np.arange(d.groups)  # channel (s, g) has group g: broadcasts over (..., n_sub, groups)
        self._tdc_move = (0.0, 1.0, 0.0)  # the operating point's TDC offset (s), relative time per volt, curvature

    def _apply_operating_point(self, table, shifts) -> None:
        """The VTC's charge terms and the TDC transfer at the operating point; the comparator and
        TDC noise scaled as sqrt(T) (thermal); the rest stays at the reference."""
        self._move_charges_and_tdc(table, shifts)
        kelvin = (self.temperature_c + ZERO_CELSIUS_K) / (self.calibration.temperature_c + ZERO_CELSIUS_K)
        self.sigma_vtc_v, self.sigma_tdc_s = self.sigma_vtc_v * kelvin**0.5, self.sigma_tdc_s * kelvin**0.5

    def _apply_supply(self, table, shifts) -> None:
        """The VTC's charge terms, the accumulator's offset dv0 and the energy per conversion as the
        supply law moves them (the ramp starts at the design's vdd); the TDC stays at the reference."""
        self._move_charges(table, shifts)
        self.p_acc = {**self.p_acc, "dv0": table.moved("dv0", self.p_acc["dv0"], shifts)}
        self.e_conversion = table.moved("e_conversion", self.e_conversion, shifts)

    def _move_charges(self, table, shifts) -> None:
        p_vtc = dict(self.p_vtc)
        for factor, keys in self._charge_terms.items():
            for k in keys:
                p_vtc[k] = table.moved(factor, p_vtc[k], shifts)
        self.p_vtc = p_vtc

    def _move_charges_and_tdc(self, table, shifts) -> None:
        self._move_charges(table, shifts)
        self.p_tdc = {**self.p_tdc, **{k: table.moved(k, self.p_tdc[k], shifts) for k in ("t0", "t1", "c2")}}
        t0, r1, c2 = self._tdc_move
        self._tdc_move = (t0 + table.moved("t0", 0.0, shifts), r1 * table.moved("t1", 1.0, shifts),
                          c2 + table.moved("c2", 0.0, shifts))

    @property
    def t_vtc_s(self) -> float:
        """Reset, ramp and gap before the TDC starts (s): the column lines must hold this long."""
        c = self.calibration
        return c.t_reset_s + c.t_ramp_s + c.t_gap_s

    @property
    def t_conversion_s(self) -> float:
        """One conversion, VTC phase and full-scale TDC (s): the shortest conversion the TDC model covers."""
        return self.calibration.t_conversion_s

    @property
    def n_codes(self) -> int:
        return 2**self.design.output_bits

    def kicked_levels(self, v: Any, c_line_f: Any) -> np.ndarray:
        """The level a floating column line at `v` (V, its value when the ramp starts) has when the
        ramp crosses it: lower by the charge the VTC input takes from it meanwhile over the line's
        capacitance `c_line_f` (F; broadcasts), q = kick_q0 + kick_q1 (vdd - v)."""
        v = np.asarray(v, dtype=float)
        return v - (self.kick_q0 + self.kick_q1 * (self.design.vdd - v)) / np.asarray(c_line_f, dtype=float)

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

    # -- the macro's folded form -------------------------------------------------------
    def fold(self, n_sub: int, n_cols: int, groups: int, bits_per_group: int, chip: TAChip | None, *,
             nonlinearity: bool = True, group_weight_error: bool = True, acc_tdc_nonlinearity: bool = True,
             vtc_noise: bool = True, tdc_noise: bool = True, input_load: bool = True,
             tdc_current: float | None = None, vhi: Any = None) -> TAFold:
        """:class:`TAFold` for `n_sub` sub-arrays x `groups` groups per column and `n_cols` columns.
        The fitted VTC model has the design's groups; another grouping is folded only linearly
        (every fitted VTC and accumulator term off: the channels' mean gain, weighted exactly).
        tdc_current, vhi: the output range (:meth:`tdc_transfer`; None: the design's md, vhi; vhi
        may be one per column)."""
        d, pv = self.design, self.p_vtc
        S, J, G = n_sub, n_cols, groups
        weights = 2.0 ** (bits_per_group * np.arange(G))
        if G != d.groups and (nonlinearity or group_weight_error or acc_tdc_nonlinearity or chip is not None):
            raise ParameterError(f"{G} capacitor groups: the time-accumulator model was fitted for {d.groups}; only "
                                 f"its linear part (vtc_nonlinearity, group_weight_error, acc_tdc_nonlinearity and "
                                 f"ta_mismatch off) can be folded for another grouping")
        if nonlinearity:
            kp = np.array([pv["k0p"], pv["k1p"]])
            kn = np.array([pv["k0n"], pv["k1n"]])
            a_g = np.array([pv["a0"], pv["a1"]])
            c_g, e_g, b2, b3 = np.array([pv["c0"], pv["c1"]]), np.array([pv["e0"], pv["e1"]]), pv["b2"], pv["b3"]
        elif G == d.groups:
            kp = kn = np.array([(pv["k0p"] + pv["k0n"]) / 2, (pv["k1p"] + pv["k1n"]) / 2])
            a_g, c_g, e_g, b2, b3 = np.zeros(G), np.zeros(G), np.zeros(G), 0.0, 0.0
        else:
            kp = kn = (pv["k0p"] + pv["k0n"]) / 2 * weights
            a_g, c_g, e_g, b2, b3 = np.zeros(G), np.zeros(G), np.zeros(G), 0.0, 0.0
        if not group_weight_error and G == d.groups:  # each group's gain exactly weights[g] x group 0's
            scale = weights * (kp[0] + kn[0]) / (kp + kn)
            scale[0] = 1.0
            kp, kn, a_g = kp * scale, kn * scale, a_g * scale
        gp = gn = np.zeros((S, G, J))
        if chip is not None:
            gp = np.transpose(chip.gain_pos[:, :S], (1, 2, 0))
            gn = np.transpose(chip.gain_neg[:, :S], (1, 2, 0))
        pa = dict(self.p_acc)
        vhi_j = np.broadcast_to(np.asarray(d.vhi if vhi is None else vhi, dtype=float), (J,))
        t0, t1, c2 = self.tdc_transfer(tdc_current, vhi_j)
        if not acc_tdc_nonlinearity:
            pa.update(a2=0.0, dv0=0.0, beta=0.0, gamma=0.0)
            t0, c2 = np.zeros(J), np.zeros(J)
        return TAFold(
            weights=weights, k_pos=kp[None, :, None] * (1 + gp), k_neg=kn[None, :, None] * (1 + gn),
            a_near0=a_g[None, :, None] * (1 + (gp + gn) / 2), w=pv["w"], c_g=c_g.astype(float), e_g=e_g.astype(float),
            b2=b2, b3=b3,
            offset_v=None if chip is None else np.transpose(chip.offset_v, (1, 0, 2))[:S],
            tdc_gain=None if chip is None else 1 + chip.tdc_gain,
            vtc_var_v2=self.sigma_vtc_v**2 if vtc_noise else 0.0,
            tdc_sigma_s=self.sigma_tdc_s * t1 / self.p_tdc["t1"] if tdc_noise else np.zeros(J),
            c_acc=pa["c_acc"], acc_a2=pa["a2"], v_acc0=d.vmid + pa["dv0"] - pa["gamma"] * V_C0, gamma=pa["gamma"],
            beta=pa["beta"], dw=pa["dw"], t0=t0, t1=t1, tdc_c2=c2, vdd=d.vdd, vhi=d.vhi,
            dvhi=vhi_j - d.vhi + (chip.tdc_offset_v if chip is not None and chip.tdc_offset_v is not None else 0.0),
            t_lsb=d.t_lsb, c_end=self.c_end if input_load else 0.0, kick_q0=self.kick_q0 if input_load else 0.0,
            kick_q1=self.kick_q1 if input_load else 0.0)

    # -- the output range ----------------------------------------------------------------
    @property
    def tdc_currents(self) -> tuple[float, ...]:
        """The characterized TDC charge-up currents (units of i0) of the output range."""
        return tuple(sorted(self._range))

    def threshold_range(self, tdc_current: float | None = None) -> tuple[float, float]:
        """The characterized stop thresholds (V) at `tdc_current` (None: the design's)."""
        v = self._setting(tdc_current)["vhi"]
        return float(v[0]), float(v[-1])

    def _setting(self, tdc_current: float | None) -> dict[str, np.ndarray]:
        md = self.design.md if tdc_current is None else float(tdc_current)
        if md not in self._range:
            raise ParameterError(f"tdc_current={tdc_current!r}; characterized: {', '.join(f'{m:g}' for m in self.tdc_currents)}"
                                 f" (units of i0)")
        return self._range[md]

    def tdc_transfer(self, tdc_current: float | None, vhi: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t0, t1, c2) of the TDC at charge-up current `tdc_current` (None: the design's) and
        stop threshold(s) `vhi` (V): the design's setting is the whole-column fit itself; others
        add the standalone TDC's measured change (calibration ``output_range``), linear in vhi
        between the characterized thresholds. A threshold outside them is refused with the range."""
        v = np.atleast_1d(np.asarray(vhi, dtype=float))
        md = self.design.md if tdc_current is None else float(tdc_current)
        if md == self.design.md and np.all(v == self.design.vhi):
            pt = self.p_tdc
            return np.full(v.shape, pt["t0"]), np.full(v.shape, pt["t1"]), np.full(v.shape, pt["c2"])
        st = self._setting(md)
        lo, hi = float(st["vhi"][0]), float(st["vhi"][-1])
        if not np.all(np.isfinite(v)) or v.min() < lo - 1e-12 or v.max() > hi + 1e-12:
            bad = float(v[~np.isfinite(v)][0] if not np.all(np.isfinite(v)) else (v.min() if v.min() < lo else v.max()))
            raise ParameterError(f"TDC stop threshold {bad!r} V at tdc_current={md:g}; characterized: {lo:g}..{hi:g} V")
        t0, t1, t1c2 = (np.interp(v, st["vhi"], st[k]) for k in ("t0", "t1", "t1c2"))
        dt0, r1, dc2 = self._tdc_move
        return t0 + dt0, t1 * r1, t1c2 / t1 + dc2

    # -- the model ---------------------------------------------------------------------
    def _levels(self, name: str, a: Any) -> np.ndarray:
        d = self.design
        arr = np.asarray(a, dtype=float)
        if arr.ndim < 2 or arr.shape[-1] != d.groups:
            raise ParameterError(f"{name} must have trailing axes (sub-arrays, groups) with groups = {d.groups} "
                                 f"(characterized with {d.n_sub} sub-arrays); got shape {arr.shape}")
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
            if v.shape[-2] > chip.offset_v.shape[-2]:
                raise ParameterError(f"v has {v.shape[-2]} sub-arrays; the chip has {chip.offset_v.shape[-2]}")
            v = v + chip.offset_v[..., :v.shape[-2], :]
        if rng is not None:
            v = v + self.sigma_vtc_v * rng.standard_normal(np.broadcast_shapes(v.shape, vref.shape))
        const, lin, near0, x = vtc_terms(self.p_vtc, v, vref, self.group, d.vdd)
        if chip is None:
            return const + lin + near0
        # per-channel gains: the pump term by its sign (the Monte Carlo extraction measures them at
        # |dV| = 0.1..0.3 V, where that term dominates), the near-zero term with their mean
        S = v.shape[-2]  # the chip's first S sub-arrays (a slice of fewer sub-arrays than the design)
        gp, gn = chip.gain_pos[..., :S, :], chip.gain_neg[..., :S, :]
        return const + lin * (1 + np.where(x >= 0, gp, gn)) + near0 * (1 + (gp + gn) / 2)

    def accumulate(self, q_sum: Any, f_order: Any = 0.0, v_c: Any = V_C0) -> np.ndarray:
        """Accumulator voltage (V) at TDC start for a total charge (C), the crossing-order term
        (C, :func:`aimc_circuits.fit.time_accumulator.order_charge`) and the column's mean
        reference level v_c (V)."""
        return acc_voltage(self.p_acc, q_sum, self.design.vmid, f_order, v_c)

    def stop_time(self, v_acc: Any, chip: TAChip | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """TDC stop time (s from TDC start), (..., n_out); 0 when V_acc is at or above vhi."""
        vhi = self.design.vhi
        if chip is not None and chip.tdc_offset_v is not None:
            vhi = vhi + chip.tdc_offset_v
        t = tdc_time(self.p_tdc, v_acc, vhi)
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
        v_cross = np.asarray(v, dtype=float) + (chip.offset_v[..., :np.shape(v)[-2], :] if chip is not None else 0.0)  # comparator offsets move the crossing
        v_acc = self.accumulate(q_sum, order_charge(q, v_cross, vref, self.group, self.p_acc["dw"]),
                                np.broadcast_to(vref, q.shape).mean(axis=(-2, -1)))
        t = self.stop_time(v_acc, chip, rng)
        code = self.codes(t)
        return {"q": q, "q_sum": q_sum, "v_acc": v_acc, "t_stop": t, "code": code,
                "saturated": (code >= self.n_codes - 1) | (t <= 0)}
