"""Why a channel's charge depends on the accumulator voltage: testbenches for the pump study
(``scripts/ta_pump_study.py``).

The accumulator model needs a crossing-order term because each channel's net charge depends on
the accumulator voltage V_acc during its pulse, i.e. on the channels that crossed before it. Two
mechanisms can cause that: the mirrors' output conductance, and the steering switches' common
node. That node sits at the dump level ``vdum`` (= vmid) between pulses and is pulled to V_acc
when its switch steers the current onto the accumulator, so every pulse moves C_node (vmid -
V_acc) of charge onto C_acc, and both pumps of every channel fire for at least the pulse
extension td.

The testbenches here separate the two (at the transient setting STUDY_TSTEP, STUDY_OPTIONS). :class:`PumpStudyVtcTestbench` is :class:`VtcTestbench`
with the accumulator nodes held at a chosen level ``v_acc``, the dump node at ``v_dump`` (both
ideal sources, None: vmid), and two circuit alternatives made as edits of the shipped netlist for
this study only:

* ``cascode=(vcn, vcp)``: a cascode device between each mirror and its switches, its gate on an
  ideal reference (vcn for the nfet sink, vcp for the pfet source). This raises the output
  resistance of the sources by the cascode's gain;
* ``switch_scale=(kn, kp)``: the steering switches' widths scaled by kn (nfet) and kp (pfet);
* ``share``: which of the column's ramp generator and bias cell the channels share (``both``, as
  shipped; ``ramp``, ``bias``, ``none``: the others copied per channel), to find what couples them;
* ``bias_decap_um``: a MIM decoupling capacitor of that side on each shared bias line.

:class:`PumpStudyColumnTestbench` is the whole column of :class:`AccumulatorTestbench`. With
``track_dump`` it drives the dump node from the accumulator through an ideal unity buffer (a
named ideal part), instead of from the vmid source.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ....errors import ParameterError
from ....paths import netlist_path
from .testbench import AccumulatorTestbench, VtcTestbench

__all__ = ["PumpStudyVtcTestbench", "PumpStudyColumnTestbench", "pump_netlist", "SHARES"]

#: the shipped VTC's pump devices (netlists/time_accumulator.sp), as the study edits them
_SINK = "xsn ns vbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn} mult={mg} m={mg}"
_SOURCE = "xsq ps vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp} mult={mg} m={mg}"
_SWITCHES_N = ("xss acc pa ns vss", "xsd vdum pd ns vss")
_SWITCHES_P = ("xsp acc nd ps vdd", "xsr vdum na ps vdd")
_HEADER = ".subckt aimc_ta_vtc v vref ramp acc vdum vbn vbp vdd vss mg=1"
#: the study's transient setting: 2.4 ps / 190 uV from a 2 ps, reltol 1e-5 reference on whole columns
#: (benchmarks/ta_step_tolerance.py), against 20.8 ps / 423 uV for the characterization's 10 ps at the
#: default tolerance: the study compares charges of a few fC
STUDY_TSTEP, STUDY_OPTIONS = 50e-12, "klu reltol=1e-5"
CASCODE_W_L = (2.0, 4.0, 0.5)
SWITCH_W_UM = (0.84, 2.52)  #: the shipped steering switches' widths per unit of group weight (nfet, pfet)
MIN_WIDTH_UM = 0.42  #: sky130's minimum transistor width  #: the study's cascode devices: nfet width, pfet width, length (um), per unit


def pump_netlist(cascode: bool, switch_scale: tuple[float, float]) -> str:
    """The shipped time-accumulator netlist with the study's edits of the VTC's pumps: cascode
    devices (gates on the added ports vcn, vcp) and scaled steering-switch widths."""
    text = netlist_path("time_accumulator").read_text()
    widths = tuple(f"w={{{w}*mg}} l=0.15" for w in SWITCH_W_UM)
    for piece in (_SINK, _SOURCE, _HEADER, *_SWITCHES_N, *_SWITCHES_P, *widths):
        if piece not in text:
            raise RuntimeError(f"the study's netlist edit no longer matches netlists/time_accumulator.sp: {piece!r}")
    (wn0, wp0), (kn, kp) = SWITCH_W_UM, switch_scale
    text = text.replace(f"w={{{wn0}*mg}} l=0.15", f"w={{{wn0 * kn:.6g}*mg}} l=0.15")
    text = text.replace(f"w={{{wp0}*mg}} l=0.15", f"w={{{wp0 * kp:.6g}*mg}} l=0.15")
    if cascode:
        wn, wp, lk = CASCODE_W_L
        for old in _SWITCHES_N:
            text = text.replace(old, old.replace(" ns vss", " nc vss"))
        for old in _SWITCHES_P:
            text = text.replace(old, old.replace(" ps vdd", " pc vdd"))
        text = text.replace(_SINK, f"{_SINK}\nxkn nc vcn ns vss sky130_fd_pr__nfet_01v8 w={wn} l={lk} mult={{mg}} m={{mg}}")
        text = text.replace(_SOURCE, f"{_SOURCE}\nxkp pc vcp ps vdd sky130_fd_pr__pfet_01v8 w={wp} l={lk} mult={{mg}} m={{mg}}")
        text = text.replace(_HEADER, _HEADER.replace(" vbn vbp vdd vss", " vbn vbp vcn vcp vdd vss"))
    return text


def _edit(tb: Any, body: str) -> str:
    """`body` (a shipped testbench's) with the study's netlist and ideal cascode references."""
    if tb.cascode is None and tuple(tb.switch_scale) == (1.0, 1.0):
        return body
    body = body.replace(netlist_path("time_accumulator").read_text(), pump_netlist(tb.cascode is not None, tb.switch_scale))
    if tb.cascode is not None:
        body = re.sub(r"( vdum vbn vbp) (vdd 0 aimc_ta_vtc)", r"\1 vcn vcp \2", body)
        body += (f"* ideal references: the nfet and pfet cascodes' gates\nvcn vcn 0 {tb.cascode[0]}\n"
                 f"vcp vcp 0 {tb.cascode[1]}\n")
    return body


def _check(tb: Any) -> None:
    vdd = tb.design.vdd
    for name in ("v_acc", "v_dump"):
        v = getattr(tb, name, None)
        if v is not None and not 0.0 < v < vdd:
            raise ParameterError(f"{name}={v} V must be within 0..{vdd} V (or None: vmid)")
    if tb.cascode is not None and not (len(tb.cascode) == 2 and all(0.0 < v < vdd for v in tb.cascode)):
        raise ParameterError(f"cascode={tb.cascode!r} must be (vcn, vcp) gate levels within 0..{vdd} V, or None")
    lo = tuple(MIN_WIDTH_UM / w for w in SWITCH_W_UM)  # the group-0 switches (mg = 1) at sky130's minimum width
    if not (len(tb.switch_scale) == 2 and all(m <= k <= 4.0 for k, m in zip(tb.switch_scale, lo))):
        raise ParameterError(f"switch_scale={tb.switch_scale!r} must be two width factors (nfet, pfet) in "
                             f"{lo[0]:.3g}..4 and {lo[1]:.3g}..4 (the group-0 switches' {SWITCH_W_UM} um at "
                             f"sky130's {MIN_WIDTH_UM} um minimum width)")


SHARES = ("both", "ramp", "bias", "none")  #: which of the column's ramp and bias lines the channels share


def _isolate(body: str, share: str, n_ch: int) -> str:
    """`body` with each channel on its own copy of the column's bias cell and/or ramp generator
    (share: what stays shared, :data:`SHARES`), so that the channels meet only on ideal sources
    (supply, controls, references) and on what `share` keeps."""
    if share == "both":
        return body
    bias = re.search(r"^xb vbn vbp vdd 0 aimc_ta_bias .*$", body, re.M)
    ramp = re.search(r"^xr ramp rstb run vbn vdd 0 aimc_ta_ramp .*$", body, re.M)
    if bias is None or ramp is None:
        raise RuntimeError("the VTC testbench's bias or ramp instance was not found")
    own_bias, own_ramp = share in ("ramp", "none"), share in ("bias", "none")
    lines = ["* the study's isolation: each channel's own bias cell and/or ramp generator"]
    for i in range(n_ch):
        bn, bp = (f"vbn{i}", f"vbp{i}") if own_bias else ("vbn", "vbp")
        rp = f"ramp{i}" if own_ramp else "ramp"
        if own_bias:
            lines.append(bias.group(0).replace("xb vbn vbp", f"xb{i} {bn} {bp}", 1))
        if own_ramp:
            lines.append(ramp.group(0).replace("xr ramp rstb run vbn", f"xr{i} {rp} rstb run {bn}", 1))
        body, k = re.subn(rf"^(xv{i} v{i} vref{i}) ramp (acc{i} vdum) vbn vbp ", rf"\g<1> {rp} \g<2> {bn} {bp} ", body,
                          flags=re.M)
        if k != 1:
            raise RuntimeError(f"channel {i}'s VTC instance was not found")
    return body + "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PumpStudyVtcTestbench(VtcTestbench):
    """:class:`VtcTestbench` with the accumulator nodes at ``v_acc`` and the dump node at ``v_dump``
    (V; None: vmid), optionally with cascoded pumps, scaled switches, per-channel bias cells or ramp
    generators, or decoupled bias lines (see the module doc)."""

    name = "ta_vtc_pump_study"
    tstep: float = STUDY_TSTEP
    options: str = STUDY_OPTIONS
    v_acc: float | None = None
    v_dump: float | None = None
    cascode: tuple[float, float] | None = None
    switch_scale: tuple[float, float] = (1.0, 1.0)
    share: str = "both"  #: which of the column's ramp and bias lines the channels share (SHARES)
    bias_decap_um: float = 0.0  #: side (um) of a MIM decoupling capacitor on each shared bias line (0: none)

    def __post_init__(self):
        _check(self)
        if self.share not in SHARES:
            raise ParameterError(f"share={self.share!r}; allowed: {', '.join(SHARES)}")
        if not 0.0 <= self.bias_decap_um <= 100.0 or (self.bias_decap_um and self.share != "both"):
            raise ParameterError(f"bias_decap_um={self.bias_decap_um!r} must be a MIM side in 0..100 um, on the "
                                 "shared bias lines (share='both')")

    def body(self, s):
        d = self.design
        b = _isolate(super().body(s), self.share, self.n_ch)
        if self.bias_decap_um:  # vbn to ground, vbp to the supply: the lines' references
            w = f"{self.bias_decap_um:.6g}"
            b += (f"* the study's bias decoupling: a MIM capacitor on each bias line\n"
                  f"xdcn vbn 0 sky130_fd_pr__cap_mim_m3_1 w={w} l={w}\nxdcp vbp vdd sky130_fd_pr__cap_mim_m3_1 w={w} l={w}\n")
        b = re.sub(r"^(vacc\d+ acc\d+ 0) \S+$", rf"\g<1> {d.vmid if self.v_acc is None else self.v_acc}", b, flags=re.M)
        b = re.sub(r"^vdum vdum 0 \S+$", f"vdum vdum 0 {d.vmid if self.v_dump is None else self.v_dump}", b, flags=re.M)
        return _edit(self, b)


@dataclass(frozen=True)
class PumpStudyColumnTestbench(AccumulatorTestbench):
    """:class:`AccumulatorTestbench`; ``track_dump``: the dump node driven from the accumulator by an
    ideal unity buffer (named) instead of the vmid source; cascode / switch_scale as
    :class:`PumpStudyVtcTestbench`."""

    name = "ta_column_pump_study"
    tstep: float = STUDY_TSTEP
    options: str = STUDY_OPTIONS
    track_dump: bool = False
    cascode: tuple[float, float] | None = None
    switch_scale: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self):
        super().__post_init__()
        _check(self)

    def body(self, s):
        b = super().body(s)
        if self.track_dump:
            b, n = re.subn(r"^vdum vdum 0 \S+$", "* ideal unity buffer: the dump node tracks the accumulator\nevdum vdum 0 acc 0 1",
                           b, flags=re.M)
            if n != 1:
                raise RuntimeError("the column testbench's dump source was not found")
        return _edit(self, b)
