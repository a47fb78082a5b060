"""Column time accumulator (netlists/time_accumulator.sp): 16 group column voltages -> one code.

Topology (documented choice; see the netlist header for the diagram):

* **VTC** (one per sub-array s and group g, 16 per column): a per-column ramp falls from vdd at
  ~0.24 V/ns; two comparators (nfet lvt pair, pfet lvt mirror) compare it with the group column
  voltage V[s,g] and with the reference column's V_ref[s,g]. Both pulses start at the first
  crossing and end a fixed delay td after their own crossing: the sink pulse lasts T+ + td, the
  source pulse T- + td, so their difference is (V_ref - V) / slope with no runt pulses at 0. Signed weights are stored offset-binary (w + 128) and the reference column holds code
  8 in both groups, so the pulse carries sum_r x_r (c_rg - 8): the 128 x sum(x) pedestal is
  cancelled *before* any gain error can multiply it.
* **Time accumulation**: the positive pulse steers an always-on 16^g x I0 nfet sink, the
  negative one a 16^g x I0 pfet source, onto one accumulation capacitor C_acc (MIM) reset to
  ``vmid`` (otherwise into a dummy node at ``vmid``): the net charge 16^g I0 T[s,g] is the
  time-domain sum with the group weights 2^(4g) and the sign.
* **TDC**: after the ramp, a unit pfet source charges C_acc up until a comparator (C_acc >
  ``vhi``) stops the column's counter: code = floor(t_stop / t_lsb), saturating at 2^bits - 1.

Approximations (stated, not hidden): the bias reference current and ``vmid``/``vhi`` are
ideal sources (macro-level references); the reference column voltages V_ref[s,g] are low-
impedance sources (the reference column is buffered onto its shared lines); control phases
(reset, run, conv) are ideal logic levels; the counter is digital: its code is the number of
whole ``t_lsb`` clock periods between conv and the SPICE stop edge (computed in Python).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ....errors import ParameterError
from ....paths import netlist_path
from ....spice.measure import crossing, integrate, value_at
from ....spice.runner import SimResult
from ....spice.testbench import Testbench
from .design import TADesign

__all__ = ["VtcTestbench", "AccumulatorTestbench", "PipelinedColumnTestbench", "TdcTestbench", "ComparatorNoiseTestbench", "VtcInputTestbench"]


def _pwl(points: list[tuple[float, float]]) -> str:
    return "pwl(" + " ".join(f"{t:.6g} {v:.6g}" for t, v in points) + ")"


def _phases(d: TADesign, conversions: int = 1) -> dict[str, str]:
    """The control phases (ideal logic levels) of `conversions` conversions back to back, one
    every ``t_total``, as the pipelined macro runs them: rstb / rst (ramp and accumulator reset),
    run (ramp), conv (TDC). The first starts from the DC operating point in reset; each later one
    ends the previous TDC phase and resets within ``t_reset``."""
    e, vdd = d.t_edge, d.vdd
    tr = d.t_reset - 2 * e
    rstb, rst, run, conv = [(0.0, 0.0)], [(0.0, vdd)], [(0.0, 0.0)], [(0.0, 0.0)]
    for k in range(conversions):
        t0 = k * d.t_total
        if k:  # the previous conversion's TDC phase ends, this one's reset begins
            rstb += [(t0, vdd), (t0 + e, 0.0)]
            rst += [(t0, 0.0), (t0 + e, vdd)]
            conv += [(t0, vdd), (t0 + e, 0.0)]
        rstb += [(t0 + tr, 0.0), (t0 + tr + e, vdd)]
        rst += [(t0 + tr, vdd), (t0 + tr + e, 0.0)]
        run += [(t0 + d.t_run, 0.0), (t0 + d.t_run + e, vdd), (t0 + d.t_run + d.t_ramp, vdd),
                (t0 + d.t_run + d.t_ramp + e, 0.0)]
        conv += [(t0 + d.t_conv, 0.0), (t0 + d.t_conv + e, vdd)]
    return {"rstb": _pwl(rstb), "rst": _pwl(rst), "run": _pwl(run), "conv": _pwl(conv)}


def _core(d: TADesign, conversions: int = 1, bias: str = "xb", ramp: str = "xr") -> list[str]:
    """Supply, bias, control phases, the column's ramp (bias, ramp: their instance names)."""
    ph = _phases(d, conversions)
    return [netlist_path(d.netlist).read_text(),
            f"vdd vdd 0 {d.vdd}", f"{bias} vbn vbp vdd 0 aimc_ta_bias i0={d.i0:.6g}",
            f"vrstb rstb 0 {ph['rstb']}", f"vrst rst 0 {ph['rst']}", f"vrun run 0 {ph['run']}",
            f"vdum vdum 0 {d.vmid}", f"vconv conv 0 {ph['conv']}", f"vhi vhi 0 {d.vhi}",
            f"{ramp} ramp rstb run vbn vdd 0 aimc_ta_ramp mr={d.mr} cw={d.cr_w} cl={d.cr_w}"]


def _vtc_lines(d: TADesign, i: int, acc: str, name: str | None = None) -> list[str]:
    """Channel i's level sources (set per point by ``alter``) and its VTC pumping into `acc`
    (name: the VTC's instance name, default ``xv<i>``)."""
    return [f"vv{i} v{i} 0 {d.vmid}", f"vvref{i} vref{i} 0 {d.vmid}",
            f"{name or f'xv{i}'} v{i} vref{i} ramp {acc} vdum vbn vbp vdd 0 aimc_ta_vtc mg={d.weight(i % d.groups)}"]


def _tdc_line(d: TADesign, name: str, acc: str, v_reset: str, stop: str, bias: tuple[str, str] = ("vbn", "vbp")) -> str:
    return (f"{name} {acc} rst conv {v_reset} vhi {stop} {bias[0]} {bias[1]} vdd 0 aimc_ta_tdc md={d.md} "
            f"cw={d.cacc_w} cl={d.cacc_w}")


def _energy(sim: SimResult, d: TADesign, t_end: float) -> float:
    """Energy drawn from vdd over [0, t_end] (J)."""
    return -d.vdd * integrate(sim.scale, sim["vdd#branch"], 0.0, t_end)


def _stop_time(t: np.ndarray, stop: np.ndarray, d: TADesign, t0: float = 0.0) -> float:
    """Stop edge (s after TDC start) of the conversion starting at `t0`: 0 if the comparator is
    already tripped at TDC start (the accumulator is above vhi), inf if it never trips within the
    full scale."""
    start = t0 + d.t_conv
    if value_at(t, stop, start) > d.vdd / 2:
        return 0.0
    try:
        ts = crossing(t, stop, d.vdd / 2, rising=True, after=start) - start
    except ValueError:
        return float("inf")
    return ts if ts <= d.t_tdc else float("inf")


def _check_levels(name: str, v: Any, n: int, vdd: float) -> tuple[float, ...]:
    a = np.asarray(v, dtype=float)
    if a.shape != (n,):
        raise ParameterError(f"{name} has shape {a.shape}; expected ({n},)")
    if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > vdd:
        raise ParameterError(f"{name} must be finite levels in [0, {vdd}] V; got {a.tolist()}")
    return tuple(float(x) for x in a)


@dataclass(frozen=True)
class _Channels(Testbench):
    """Shared point handling: ``n_ch`` channels, each a (v, vref) pair of levels (V)."""

    design: TADesign = field(default_factory=TADesign)
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (spice.resolve)
    n_ch: int = 16
    tstep: float = 10e-12
    options: str = "klu"  #: .options (benchmarks/ta_step_tolerance.py measures step and tolerance against a tight reference)
    levels = ("v", "vref")

    def normalize(self, point: Mapping[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in point.items() if k not in self.levels}
        p = super().normalize(rest)
        for k in self.levels:
            if k not in point:
                raise ParameterError(f"a {self.name} point needs {k!r} ({self.n_ch} levels)")
            p[k] = _check_levels(k, point[k], self.n_ch, self.design.vdd)
        return p

    def point_commands(self, p: Mapping[str, Any]) -> tuple[list[str], bool]:
        return [f"alter v{k}{i} dc={x!r}" for k in self.levels for i, x in enumerate(p[k])], False

    @property
    def t_end(self) -> float:
        """Simulated time (s): the whole conversion, TDC full scale included."""
        return self.design.t_total

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran {self.tstep:.6g} {self.t_end:.6g}"


@dataclass(frozen=True)
class VtcTestbench(_Channels):
    """VTC + charge pump transfer: ``n_ch`` channels (group ``i % groups``) on one ramp, each
    pumping into its own node held at ``vmid`` by a source. Measures, per channel, ``q`` (C,
    net charge removed from the accumulator: positive = positive product), ``t_pos`` /
    ``t_neg`` (s, pulse widths) and ``e_vdd`` (J, whole testbench over the conversion)."""

    name = "ta_vtc"
    bias_name, ramp_name = "xb", "xr"  #: instance names of the column's bias and ramp

    def vtc_name(self, i: int) -> str:
        """Channel i's VTC instance name."""
        return f"xv{i}"

    @property
    def t_end(self) -> float:  # the VTC is done when the TDC would start
        return self.design.t_conv

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"vacc{i}#branch" for i in range(self.n_ch)) + tuple(
            f"{self.vtc_name(i)}.{s}" for i in range(self.n_ch) for s in ("pa", "nd")) + ("vdd#branch", "ramp")

    def body(self, s: Mapping[str, Any]) -> str:
        d = self.design
        out = _core(d, bias=self.bias_name, ramp=self.ramp_name)
        for i in range(self.n_ch):
            out += [f"vacc{i} acc{i} 0 {d.vmid}"] + _vtc_lines(d, i, f"acc{i}", self.vtc_name(i))
        return "\n".join(out) + "\n"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, t = self.design, sim.scale
        hi = d.vdd / 2
        q = -np.array([integrate(t, sim[f"vacc{i}#branch"], 0.0, d.t_conv) for i in range(self.n_ch)])
        t_pos = np.array([integrate(t, (sim[f"{self.vtc_name(i)}.pa"] > hi).astype(float), 0.0, d.t_conv) for i in range(self.n_ch)])
        t_neg = np.array([integrate(t, (sim[f"{self.vtc_name(i)}.nd"] < hi).astype(float), 0.0, d.t_conv) for i in range(self.n_ch)])
        return {"q": q, "t_pos": t_pos, "t_neg": t_neg,
                "ramp_slope": (value_at(t, sim["ramp"], d.t_run + 0.25 * d.t_ramp)
                               - value_at(t, sim["ramp"], d.t_run + 0.75 * d.t_ramp)) / (0.5 * d.t_ramp),
                "e_vdd": _energy(sim, d, d.t_conv)}


@dataclass(frozen=True)
class AccumulatorTestbench(_Channels):
    """One whole column: n_sub x groups VTCs on one ramp into one C_acc, then the TDC.
    Point: ``v`` and ``vref`` (n_sub x groups levels, sub-array-major). Measures ``v_acc`` (V at
    TDC start), ``t_stop`` (s from TDC start to the stop edge; inf: never within full scale),
    ``e_vdd`` (J over the whole conversion)."""

    name = "ta_column"

    def __post_init__(self):
        if self.n_ch != self.design.n_sub * self.design.groups:
            raise ParameterError(f"n_ch={self.n_ch} must be n_sub x groups = {self.design.n_sub * self.design.groups}")

    keep = ("acc", "tdc_stop", "vdd#branch")

    def body(self, s: Mapping[str, Any]) -> str:
        d = self.design
        out = _core(d) + [f"vmid vmid 0 {d.vmid}", _tdc_line(d, "xt", "acc", "vmid", "tdc_stop")]
        for i in range(self.n_ch):
            out += _vtc_lines(d, i, "acc")
        return "\n".join(out) + "\n"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, t = self.design, sim.scale
        return {"v_acc": value_at(t, sim["acc"], d.t_conv), "t_stop": _stop_time(t, sim["tdc_stop"], d),
                "e_vdd": _energy(sim, d, d.t_total)}


@dataclass(frozen=True)
class PipelinedColumnTestbench(AccumulatorTestbench):
    """The whole column of :class:`AccumulatorTestbench` converting the same levels
    ``conversions`` times back to back, one conversion every ``t_total`` (the pipelined macro's
    cycle): each conversion after the first starts from the state the previous one left (the ramp
    near its bottom, C_acc charged up by the TDC) and resets within ``t_reset``. Measures, per
    conversion: ``v_acc`` (V at TDC start), ``t_stop`` (s), ``v_ramp_start`` / ``v_acc_start`` (the
    ramp and C_acc at the ramp's start: vdd and vmid when the reset is complete), and the
    previous conversion's end state ``v_ramp_end`` / ``v_acc_end`` (V, just before its reset), and
    ``v_bias_start``: the shared nfet bias line (vbn, every comparator tail, pump and the ramp sink)
    at the ramp's start (V)."""

    name = "ta_column_pipelined"
    conversions: int = 2
    keep = ("acc", "ramp", "vbn", "tdc_stop", "vdd#branch")

    def body(self, s: Mapping[str, Any]) -> str:
        d = self.design
        out = _core(d, self.conversions) + [f"vmid vmid 0 {d.vmid}", _tdc_line(d, "xt", "acc", "vmid", "tdc_stop")]
        for i in range(self.n_ch):
            out += _vtc_lines(d, i, "acc")
        return "\n".join(out) + "\n"

    @property
    def t_end(self) -> float:
        return self.conversions * self.design.t_total

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, t = self.design, sim.scale
        t0 = np.arange(self.conversions) * d.t_total
        return {"v_acc": np.array([value_at(t, sim["acc"], k + d.t_conv) for k in t0]),
                "t_stop": np.array([_stop_time(t, sim["tdc_stop"], d, k) for k in t0]),
                "v_ramp_start": np.array([value_at(t, sim["ramp"], k + d.t_run) for k in t0]),
                "v_acc_start": np.array([value_at(t, sim["acc"], k + d.t_run) for k in t0]),
                "v_ramp_end": np.array([value_at(t, sim["ramp"], k) for k in t0]),
                "v_acc_end": np.array([value_at(t, sim["acc"], k) for k in t0]),
                "v_bias_start": np.array([value_at(t, sim["vbn"], k + d.t_run) for k in t0])}


@dataclass(frozen=True)
class TdcTestbench(_Channels):
    """TDC transfer: ``n_ch`` TDCs, each reset to its own level ``v_init`` (V), then charged
    up from TDC start. Measures ``t_stop`` (s from TDC start, per channel; inf: not within full
    scale) and ``e_vdd`` (J, whole testbench)."""

    name = "ta_tdc"
    levels = ("v_init",)

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"tdc_stop{i}" for i in range(self.n_ch)) + ("vdd#branch",)

    def body(self, s: Mapping[str, Any]) -> str:
        d = self.design
        out = _core(d)
        for i in range(self.n_ch):
            out += [f"vv_init{i} vi{i} 0 {d.vmid}", _tdc_line(d, f"xt{i}", f"acc{i}", f"vi{i}", f"tdc_stop{i}")]
        return "\n".join(out) + "\n"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, t = self.design, sim.scale
        ts = np.array([_stop_time(t, sim[f"tdc_stop{i}"], d) for i in range(self.n_ch)])
        return {"t_stop": ts, "e_vdd": _energy(sim, d, d.t_total)}


@dataclass(frozen=True)
class ComparatorNoiseTestbench(Testbench):
    """Input-referred noise of one comparator balanced at ``v_cm`` (V), ``.noise``
    at its first-stage output: ``vn_in`` (V rms, input-referred, integrated 1 kHz..1 GHz, the
    comparator's bandwidth; above it the input-referred density is not meaningful)."""

    design: TADesign = field(default_factory=TADesign)
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (spice.resolve)
    v_cm: float = 1.3
    name = "ta_cmp_noise"
    params = {}
    keep = None

    def body(self, s: Mapping[str, Any]) -> str:
        d = self.design
        return "\n".join([netlist_path(d.netlist).read_text(), f"vdd vdd 0 {d.vdd}",
                          f"xb vbn vbp vdd 0 aimc_ta_bias i0={d.i0:.6g}",
                          f"vinp inp 0 dc {self.v_cm} ac 1", f"vinn inn 0 {self.v_cm}",
                          "xc inp inn c cb vbn vdd 0 aimc_ta_cmp"]) + "\n"

    def analysis(self, p: Mapping[str, Any]) -> str:
        return "noise v(xc.o1) vinp dec 20 1e3 1e9"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"vn_in": float(np.asarray(sim["inoise_total"]).ravel()[0])}


@dataclass(frozen=True)
class VtcInputTestbench(Testbench):
    """What a VTC's signal input does to the group column line that drives it. One channel pumping
    into a node held at vmid; its reference input on an ideal source at ``vref``; its signal input
    at the level ``v`` (V), on an ideal source (``c_line`` = 0) or on a floating line of
    ``c_line`` (F) precharged to ``v`` through an ideal switch that opens 0.1 ns before the ramp
    starts (the cells' column line in the macro). Measures:

    * ``q`` (C): the net charge the pumps remove from the accumulator node (as ``VtcTestbench``);
      against the ideal-source runs at v +- a few mV it gives the level shift the floating line's
      kick amounts to;
    * ``c_in`` (F, ideal source only): the input capacitance while the ramp is held at vdd (the
      cells' phase): the charge the source delivers for a ``dv`` step at the start of the reset
      phase, until the ramp's reset switch starts to open (its gate edge kicks the ramp, and
      through the comparator the input), / dv;
    * ``v_run`` (V): the input at the ramp start.
    """

    design: TADesign = field(default_factory=TADesign)
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (spice.resolve)
    dv: float = 10e-3
    tstep: float = 10e-12
    name = "ta_vtc_input"
    params = {"v": 1.5, "vref": 1.5}
    structural = {"c_line": 0.0}
    keep = ("vv#branch", "vacc#branch", "vin")
    step_s: ClassVar[float] = 20e-12  #: the input step starts after this and lasts as long

    def __post_init__(self):
        d = self.design
        if d.t_reset - 2 * d.t_edge <= 3 * self.step_s:
            raise ParameterError(f"{type(d).__name__}.t_reset={d.t_reset:g} s leaves no window for c_in: the input "
                                 f"step ends at {2 * self.step_s:g} s and the ramp's reset switch starts to open at "
                                 f"t_reset - 2 t_edge; allowed: t_reset > {2 * d.t_edge + 3 * self.step_s:g} s")

    def body(self, s: Mapping[str, Any]) -> str:
        d, c_line = self.design, float(s["c_line"])
        e = self.step_s
        out = _core(d) + [f".param v={self.params['v']} vref={self.params['vref']}",
                          f"vv vs 0 pwl(0 {{v-{self.dv}}} {e:.6g} {{v-{self.dv}}} {2 * e:.6g} {{v}})",
                          "vvref vrefin 0 {vref}", f"vacc acc 0 {d.vmid}",
                          "xv vin vrefin ramp acc vdum vbn vbp vdd 0 aimc_ta_vtc mg=1"]
        if c_line > 0:  # an ideal switch (named) precharges the floating line, then opens
            t_open = d.t_run - 0.1e-9
            out += [f"vswc swc 0 pwl(0 1 {t_open:.6g} 1 {t_open + e:.6g} 0)",
                    ".model aimc_ideal_switch sw vt=0.5 vh=0.1 ron=10 roff=1e15", "sline vs vin swc 0 aimc_ideal_switch",
                    f"cline vin 0 {c_line:.6g}"]
        else:
            out.append("rsrc vs vin 1e-3")
        return "\n".join(out) + "\n"

    def check(self, p: Mapping[str, Any]) -> None:
        for k in ("v", "vref"):
            if not 0.0 <= p[k] <= self.design.vdd:
                raise ParameterError(f"{k}={p[k]} V must be within 0..{self.design.vdd} V")
        c = p["c_line"]
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 <= c < 1e-9:
            raise ParameterError(f"c_line={c!r} must be a capacitance in 0..1e-9 F (0: an ideal source)")

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran {self.tstep:.6g} {self.design.t_conv:.6g}"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, t = self.design, sim.scale
        return {"q": -integrate(t, sim["vacc#branch"], 0.0, d.t_conv),
                "c_in": integrate(t, -sim["vv#branch"], 0.0, d.t_reset - 2 * d.t_edge) / self.dv,
                "v_run": value_at(t, sim["vin"], d.t_run)}
