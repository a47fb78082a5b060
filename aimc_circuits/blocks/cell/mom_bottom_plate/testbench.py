"""Capacitor-grouped multi-bit cell and its sub-array column (netlists/cell.sp).

Topology (documented choice): **bottom-plate sampling with a top-plate column reset**.
Each weight group of a cell holds binary-weighted unit MOM capacitors (2^k x Cu for bit k,
Cu = sky130_fd_pr__cap_vpp_01p8x01p8_m1m2_noshield, 0.78 fF, one instance per unit so each
unit draws its own PDK mismatch). Top plates (c1) sit on the group column line; bottom
plates (c0, the terminal with the substrate parasitic) are switched:

* phase S (sample, ``t_sample``): the column is held at ``vr`` by one pfet reset switch per
  column; bottom plates of bits = 1 connect to the row line (transmission gate, V_in), bits = 0
  to ground (nfet).
* the column reset opens **first** (its charge injection is data-independent: the column sits
  at ``vr`` whatever the data), then the sampling gates open, a non-overlap gap ``t_gap``.
* phase G (``t_ground``): every bottom plate goes to ground. Charge conservation on the
  floating column gives ``V_col = vr - sum_i sum_k C_ik b_ik V_i / C_col``.

Sampling-switch charge injection and feedthrough land on bottom plates that are then driven
to ground, so they cancel; this is why the naive nfet-switch column's 1-3 % FS error does not
appear. What remains is the reset switch's (constant) injection, the column parasitic
(attenuation), capacitor mismatch, kT/C noise and incomplete settling.

The weight bits are ideal logic levels (DC sources), and the gating ``s_k = phs AND b_k``,
``g_k = phg OR NOT b_k`` is ideal logic (B-sources) at the switch gates; every switch, its
junctions and gate load, the capacitors and the column wire are real sky130 devices / RC.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ....errors import ParameterError
from ....paths import netlist_path
from ....spice.measure import integrate, value_at
from ....spice.runner import SimResult
from ....spice.testbench import Testbench
from .design import CellDesign
from .netlist import cell_netlist

__all__ = ["ColumnTestbench", "GateEnergyTestbench"]


@dataclass(frozen=True)
class ColumnTestbench(Testbench):
    """A sub-array column of ``rows`` cells x ``groups`` group columns, one charge-sharing cycle.

    Point parameters (tuples, one entry per row; groups flattened row-major):
    ``vin`` row levels (V) and ``codes`` group codes (0..2^bits-1), applied with ``alter``
    (no model reload). Two identical cycles are simulated; the second starts from the first's
    column voltage, so an incomplete column reset shows. Measures per group g: ``vcol{g}``
    (V, end of cycle 2), ``vcol_first{g}`` (V, end of cycle 1), ``settle_g{g}`` (s: phase-G
    settling to 0.1 mV), and ``q_row`` (C, per row, charge drawn from each row source in
    cycle 2), ``q_reset`` (C, from vr in cycle 2), ``settle_s`` (s: row 0's MSB bottom plate
    within 0.1 mV of V_in in phase S; NaN when that bit is 0).
    """

    design: CellDesign = CellDesign()
    rows: int = 8
    tstep: float = 50e-12  #: transient step (s), also the maximum internal step
    options: str = "klu reltol=1e-5"  #: .options; default reltol 1e-3 leaves ~5 mV charge error on the floating column
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (7 x faster at 32 rows)
    name = "cell_column"
    structural = {}
    params = {}

    def __post_init__(self):
        if not isinstance(self.rows, int) or not 1 <= self.rows <= 1024:
            raise ParameterError(f"rows={self.rows!r} must be an integer in 1..1024")

    # -- netlist -----------------------------------------------------------------------
    def body(self, s: Mapping[str, Any]) -> str:
        d, R, G, B = self.design, self.rows, self.design.groups, self.design.bits_per_group
        e, T, gap = d.t_edge, d.period, d.t_gap
        # per cycle: 0 reset on, G off | gap: S on | gap+t_sample: reset off | 2gap+t_s: S off | 3gap+t_s: G on
        phrb = f"pulse({d.vdd} 0 0 {e:.6g} {e:.6g} {gap + d.t_sample - e:.6g} {T:.6g})"
        phs = f"pulse(0 {d.vdd} {gap:.6g} {e:.6g} {e:.6g} {d.t_sample + gap - e:.6g} {T:.6g})"
        phg = f"pulse({d.vdd} 0 0 {e:.6g} {e:.6g} {d.t_phase_g - e:.6g} {T:.6g})"
        cell = netlist_path("cell").read_text() if B == 4 else cell_netlist(B)
        out = [cell,
               f"vdd vdd 0 {d.vdd}", f"vr vr 0 {d.vr}",
               f"vphs phs 0 {phs}", f"vphg phg 0 {phg}", f"vphrb phrb 0 {phrb}"]
        for g in range(G):
            out.append(f"xrst{g} c{g}_0 vr phrb vdd aimc_col_reset w={d.w_reset} l={d.l_sw}")
            for i in range(R):
                out.append(f"rw{g}_{i} c{g}_{i} c{g}_{i + 1} {d.r_wire}")
                out.append(f"cw{g}_{i} c{g}_{i} 0 {d.c_wire}")
            out.append(f"cload{g} c{g}_{R} 0 {d.c_load}")
        for i in range(R):
            out.append(f"vrow{i} row{i} 0 dc 0")
            for g in range(G):
                gates = []
                for k in range(B):
                    b = f"b{i}_{g}_{k}"
                    out += [f"v{b} {b} 0 dc 0",
                            f"bs{b} s{b} 0 v={{v({b})*v(phs)/{d.vdd}}}",
                            f"bsb{b} sb{b} 0 v={{{d.vdd}-v({b})*v(phs)/{d.vdd}}}",
                            f"bg{b} g{b} 0 v={{{d.vdd}-v({b})*({d.vdd}-v(phg))/{d.vdd}}}"]
                    gates.append(f"s{b} sb{b} g{b}")
                out.append(f"xcell{i}_{g} row{i} c{g}_{i + 1} 0 vdd {' '.join(gates)} aimc_cell_group{B} "
                           f"wn={d.w_sw} wp={d.w_sw} wg={d.w_gnd} l={d.l_sw}")
        return "\n".join(out) + "\n"

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        G, R = self.design.groups, self.rows
        return (tuple(f"c{g}_{R}" for g in range(G)) + ("xcell0_0.bp" + str(self.design.bits_per_group - 1),
                "vr#branch") + tuple(f"vrow{i}#branch" for i in range(R)))

    # -- points ------------------------------------------------------------------------
    def normalize(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``vin`` (rows levels, V) and ``codes`` (rows x groups ints) on top of the base checks."""
        rest = {k: v for k, v in point.items() if k not in ("vin", "codes")}
        p = super().normalize(rest)
        d, R = self.design, self.rows
        if "vin" not in point or "codes" not in point:
            raise ParameterError("a cell column point needs 'vin' (one level per row) and 'codes' (rows x groups)")
        vin = np.asarray(point["vin"], dtype=float)
        codes = np.asarray(point["codes"])
        if vin.shape != (R,):
            raise ParameterError(f"vin has shape {vin.shape}; expected ({R},) for rows={R}")
        if not np.all(np.isfinite(vin)) or vin.min() < 0 or vin.max() > d.vdd:
            raise ParameterError(f"vin must be finite levels in [0, {d.vdd}] V; got min {vin.min()}, max {vin.max()}")
        if codes.shape != (R, d.groups):
            raise ParameterError(f"codes has shape {codes.shape}; expected ({R}, {d.groups})")
        if not np.issubdtype(codes.dtype, np.integer):
            raise ParameterError(f"codes must be integers (got dtype {codes.dtype})")
        if codes.min() < 0 or codes.max() > d.max_code:
            raise ParameterError(f"codes must be in 0..{d.max_code}; got min {codes.min()}, max {codes.max()}")
        p["vin"] = tuple(float(v) for v in vin)
        p["codes"] = tuple(tuple(int(c) for c in row) for row in codes)
        return p

    def point_commands(self, p: Mapping[str, Any]) -> tuple[list[str], bool]:
        d = self.design
        cmds = [f"alter vrow{i} dc={v!r}" for i, v in enumerate(p["vin"])]
        for i, row in enumerate(p["codes"]):
            for g, code in enumerate(row):
                cmds += [f"alter vb{i}_{g}_{k} dc={d.vdd if (code >> k) & 1 else 0.0}"
                         for k in range(d.bits_per_group)]
        return cmds, False

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran {self.tstep:.6g} {2 * self.design.period:.6g}"

    # -- measurement -------------------------------------------------------------------
    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, R, t, T = self.design, self.rows, sim.scale, self.design.period
        out: dict[str, Any] = {}
        for g in range(d.groups):
            v = sim[f"c{g}_{R}"]
            final = float(v[-1])
            out[f"vcol{g}"] = final  # second cycle: the column started from the first cycle's result
            out[f"vcol_first{g}"] = value_at(t, v, T)  # first cycle: the column started at vr (op point)
            out[f"settle_g{g}"] = _settle_time(t, v, final, 1e-4, T + d.t_phase_g)
        msb = d.bits_per_group - 1
        if (p["codes"][0][0] >> msb) & 1:
            bp = sim[f"xcell0_0.bp{msb}"]
            out["settle_s"] = _settle_time(t, bp, p["vin"][0], 1e-4, T + d.t_gap, until=T + d.t_gap + d.t_sample)
        else:
            out["settle_s"] = float("nan")
        out["q_row"] = np.array([-_charge(t, sim[f"vrow{i}#branch"], T, 2 * T) for i in range(R)])
        out["q_reset"] = -_charge(t, sim["vr#branch"], T, 2 * T)
        return out


def _charge(t: np.ndarray, i: np.ndarray, t0: float, t1: float) -> float:
    """Charge through a source branch over [t0, t1] (C)."""
    return integrate(t, i, t0, t1)


def _settle_time(t, v, target, tol, t0, until=None) -> float:
    """Time after t0 from which |v - target| <= tol holds (up to `until`); inf if never."""
    sel = (t >= t0) & (t <= (until if until is not None else t[-1]))
    tt, err = t[sel], np.abs(v[sel] - target)
    bad = np.nonzero(err > tol)[0]
    if bad.size == 0:
        return 0.0
    if bad[-1] == tt.size - 1:
        return float("inf")
    return float(tt[bad[-1] + 1] - t0)


@dataclass(frozen=True)
class GateEnergyTestbench(Testbench):
    """Switch gate-drive energy of one cell group: every gate driven by a real voltage source
    with the cycle's phase waveform (all bits = 1, so every switch toggles once per cycle).

    Measures ``e_gate{k}`` (J per cycle for bit k: Vdd x charge each gate driver delivers on
    its charging edge, i.e. what a CMOS driver draws from its supply) and ``e_gate`` (sum).
    """

    design: CellDesign = CellDesign()
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (spice.resolve)
    name = "cell_gate_energy"
    params = {}
    keep = None
    options = "klu reltol=1e-5"

    def body(self, s: Mapping[str, Any]) -> str:
        d, B = self.design, self.design.bits_per_group
        e, T, gap = d.t_edge, d.period, d.t_gap
        wave = {
            "s": f"pulse(0 {d.vdd} {gap:.6g} {e:.6g} {e:.6g} {d.t_sample + gap - e:.6g} {T:.6g})",
            "sb": f"pulse({d.vdd} 0 {gap:.6g} {e:.6g} {e:.6g} {d.t_sample + gap - e:.6g} {T:.6g})",
            "g": f"pulse({d.vdd} 0 0 {e:.6g} {e:.6g} {d.t_phase_g - e:.6g} {T:.6g})",
        }
        cell = netlist_path("cell").read_text() if B == 4 else cell_netlist(B)
        out = [cell, f"vdd vdd 0 {d.vdd}", f"vrow row 0 {d.v_fs}", f"vcol col 0 {d.vr}"]
        for k in range(B):
            out += [f"v{n}{k} {n}{k} 0 {w}" for n, w in wave.items()]
        gates = " ".join(f"s{k} sb{k} g{k}" for k in range(B))
        out.append(f"xcell row col 0 vdd {gates} aimc_cell_group{B} wn={d.w_sw} wp={d.w_sw} wg={d.w_gnd} l={d.l_sw}")
        return "\n".join(out) + "\n"

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran 10p {2 * self.design.period:.6g}"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, t, T = self.design, sim.scale, self.design.period
        out: dict[str, Any] = {}
        for k in range(d.bits_per_group):
            e = 0.0
            for n in ("s", "sb", "g"):
                i_out = -sim[f"v{n}{k}#branch"]  # current delivered into the gate
                e += d.vdd * integrate(t, np.clip(i_out, 0, None), T, 2 * T)
            out[f"e_gate{k}"] = e
        out["e_gate"] = sum(out[f"e_gate{k}"] for k in range(d.bits_per_group))
        return out
