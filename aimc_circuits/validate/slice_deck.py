"""A slice of the macro as one SPICE deck, assembled from the shipped block netlists.

For a macro geometry (``S`` sub-arrays of ``R`` rows, ``C`` data columns) the deck holds:

* one row driver per input (``netlists/row_driver.sp``: DAC, replica-biased follower, its own
  bias cell with ideal reference currents, as characterized), driving its row line: a wire
  ladder with ``groups x r_cell`` / ``groups x c_cell`` per column pitch, the reference column
  next to the driver and data column j one pitch further per column;
* the cells (``netlists/cell.sp``, one ``aimc_cell_group4`` per row, column and group: 12
  transistors, 15 unit MOM capacitors) with the stored weight bits, of every data column and of the
  reference column (code 8 in both groups);
* per sub-array, group and column a column line: the reset pfet, the wire ladder (``r_wire``,
  ``c_wire`` per row pitch), the cells' top plates;
* per data column the time accumulator (``netlists/time_accumulator.sp``: a ramp, one VTC +
  charge pump per (sub-array, group) whose ``v`` input *is* the column line's end, the
  accumulator, the TDC, its bias cell), the reference column's lines reaching every column's VTCs
  through an ideal unity buffer (with the cell design's ``c_load`` as its input load).

Ideal parts, named: supplies, the references (vr, vmid, vhi, the bias currents), the phase and
code logic levels (ideal sources and B-sources), the reference column's buffer. Everything else
is a sky130 device. The deck simulates one VMM: phase G of the previous vector (the row codes
step from 0 to x at t = 0), then the cell cycle (gap, S, reset off, S off, G), the column lines
read at the ramp start, then the time accumulator's ramp, gap and full-scale TDC. The ramp and
accumulator are held in reset until the ramp starts (back-to-back VMMs are not simulated here).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..blocks.cell.mom_bottom_plate.design import CellDesign
from ..blocks.row_driver.dac_follower.design import INPUT_BITS, RowDriverDesign
from ..blocks.time_accumulator.pump_single_slope.design import TADesign
from ..errors import ParameterError
from ..paths import netlist_path
from ..spice.measure import crossing, integrate, value_at
from ..spice.runner import SimResult
from ..spice.testbench import Testbench

__all__ = ["SliceTestbench", "SliceTiming"]


@dataclass(frozen=True)
class SliceTiming:
    """Phase instants of the slice deck (s), from the block designs."""

    t_code: float  #: the row codes step from 0 to x (start of the previous vector's phase G)
    t_g_off: float  #: previous phase G ends
    t_s_on: float  #: phase S starts (bottom plates of bits = 1 on the row)
    t_reset_off: float  #: the column reset opens
    t_s_off: float  #: phase S ends: the cells sample the row (row levels measured here)
    t_g_on: float  #: phase G (bottom plates to ground)
    t_col: float  #: the column lines are read: the ramp starts
    t_offset: float  #: the time accumulator's own timeline starts here (its reset phase)
    t_conv: float  #: TDC start
    t_end: float  #: TDC full scale

    @classmethod
    def of(cls, cell: CellDesign, ta: TADesign) -> "SliceTiming":
        tg, gap, ts = cell.t_ground, cell.t_gap, cell.t_sample
        t_col = tg + cell.period
        off = t_col - ta.t_run
        return cls(t_code=0.0, t_g_off=tg, t_s_on=tg + gap, t_reset_off=tg + gap + ts, t_s_off=tg + 2 * gap + ts,
                   t_g_on=tg + 3 * gap + ts, t_col=t_col, t_offset=off, t_conv=off + ta.t_conv,
                   t_end=off + ta.t_total)


def _pwl(*pts: tuple[float, float]) -> str:
    return "pwl(" + " ".join(f"{t:.6g} {v:.6g}" for t, v in pts) + ")"


def _check_weights(w: Any, rows: int, cols: int, max_word: int) -> tuple[tuple[int, ...], ...]:
    a = np.asarray(w)
    if a.shape != (rows, cols):
        raise ParameterError(f"slice weights have shape {a.shape}; expected (n_inputs, n_outputs) = ({rows}, {cols})")
    if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() > max_word:
        raise ParameterError(f"slice weights must be offset-binary integer words 0..{max_word}")
    return tuple(tuple(int(v) for v in r) for r in a)


@dataclass(frozen=True)
class SliceTestbench(Testbench):
    """One VMM through a slice: ``n_sub`` x ``rows`` inputs, ``cols`` data columns + the reference
    column, offset-binary weight words ``weights`` (n_inputs, cols), the reference word ``ref_word``.

    Point: ``x`` (n_inputs input codes; structural: each vector is its own deck, the code bits
    wired to the shared code-step nets). Measures ``v_row_frozen`` (V, (n_inputs, cols + 1): each
    row at each column's cells when the column reset opens, the instant the column lines' charge is
    frozen, the reference column first), ``v_row`` (the same when phase S ends: the rows carry the
    kick of the reset opening by then, after the charge was frozen), ``v_col`` (V, (cols + 1,
    n_sub, groups): the column lines' ends at the ramp start, the reference column first),
    ``v_col_end`` (the same at TDC start: what the VTC comparators did to the floating lines),
    ``v_acc`` (V, per data column at TDC start), ``t_stop`` (s from TDC start; inf: beyond full
    scale; 0: tripped at TDC start), and the energy drawn from each ideal supply over the VMM
    (J): ``e_row`` (row drivers and their bias), ``e_reset`` (vr), ``e_logic`` (the phase logic
    driving the cells' switch gates), ``e_cell_well`` (the cells' n-wells), ``e_ta`` (time
    accumulators, from their ramp start to TDC full scale)."""

    cell: CellDesign = field(default_factory=CellDesign)
    row: RowDriverDesign = field(default_factory=RowDriverDesign)
    ta: TADesign = field(default_factory=TADesign)
    n_sub: int = 2
    rows: int = 4
    cols: int = 1
    weights: tuple[tuple[int, ...], ...] = ()
    ref_word: int = 136
    resolve_devices: bool = True  #: the library's devices as plain elements and model cards (spice.resolve)
    #: transient step (s; also the largest internal step) and options. On a 16-row column slice, against
    #: 10 ps (reltol 1e-5): the stop time +7.0 ps (0.027 % of the TDC full scale), the column lines 0.04 mV,
    #: at 2.4 x less time; 50 ps with reltol 1e-4 was 44 ps off (0.17 %), 25 ps with 1e-4 6.2 ps
    tstep: float = 50e-12
    options: str = "klu reltol=1e-5"
    name = "macro_slice"
    params = {}
    structural = {"x": ()}  #: the input codes are baked into the deck (ngspice's alter is slow on big decks)

    def __post_init__(self):
        for name, v, lo, hi in (("n_sub", self.n_sub, 1, 64), ("rows", self.rows, 1, 1024), ("cols", self.cols, 1, 256)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ParameterError(f"slice {name}={v!r} must be an integer in {lo}..{hi}")
        if self.cell.bits_per_group != 4:
            raise ParameterError(f"the slice deck uses netlists/cell.sp (4 bits per group); got "
                                 f"bits_per_group={self.cell.bits_per_group}")
        if self.ta.groups != self.cell.groups:
            raise ParameterError(f"time accumulator groups={self.ta.groups} != cell groups={self.cell.groups}")
        object.__setattr__(self, "weights", _check_weights(self.weights, self.n_in, self.cols,
                                                           2 ** self.cell.weight_bits - 1))

    @property
    def n_in(self) -> int:
        return self.n_sub * self.rows

    @property
    def timing(self) -> SliceTiming:
        return SliceTiming.of(self.cell, self.ta)

    # -- the deck ----------------------------------------------------------------------
    def _phases(self) -> list[str]:
        c, tm, vdd, e = self.cell, self.timing, self.cell.vdd, self.cell.t_edge
        ta = self.ta
        off, tr = tm.t_offset, ta.t_reset - 2 * ta.t_edge
        run0, run1 = off + ta.t_run, off + ta.t_run + ta.t_ramp
        phs = [(0, 0), (tm.t_s_on, 0), (tm.t_s_on + e, vdd), (tm.t_s_off, vdd), (tm.t_s_off + e, 0)]
        return [
            f"vddr vddr 0 {vdd}", f"vddc vddc 0 {vdd}", f"vddt vddt 0 {vdd}", f"vlogic vlogic 0 {vdd}",
            f"vr vr 0 {c.vr}",
            f"vphc phc 0 {_pwl((0, 0), (tm.t_code + e, vdd))}", f"vphcb phcb 0 {_pwl((0, vdd), (tm.t_code + e, 0))}",
            f"vphg phg 0 {_pwl((0, vdd), (tm.t_g_off, vdd), (tm.t_g_off + e, 0), (tm.t_g_on, 0), (tm.t_g_on + e, vdd))}",
            f"vphs phs 0 {_pwl(*phs)}", f"vphsb phsb 0 {_pwl(*((t, vdd - v) for t, v in phs))}",
            f"vphrb phrb 0 {_pwl((0, 0), (tm.t_reset_off, 0), (tm.t_reset_off + e, vdd))}",
            f"vrstb rstb 0 {_pwl((0, 0), (off + tr, 0), (off + tr + ta.t_edge, vdd))}",
            f"brst rst 0 v={{{vdd}-v(rstb)}}",
            f"vrun run 0 {_pwl((0, 0), (run0, 0), (run0 + ta.t_edge, vdd), (run1, vdd), (run1 + ta.t_edge, 0))}",
            f"vconv conv 0 {_pwl((0, 0), (tm.t_conv, 0), (tm.t_conv + ta.t_edge, vdd))}",
            f"vdum vdum 0 {ta.vmid}", f"vmid vmid 0 {ta.vmid}", f"vhi vhi 0 {ta.vhi}",
        ]

    def _rows(self, x: tuple[int, ...]) -> list[str]:
        d, c = self.row, self.cell
        G = c.groups
        out = []
        for i in range(self.n_in):
            # code bits: 1 = the shared code step (0 -> 1 at t_code), 0 = held low (ideal logic)
            on = [(x[i] >> k) & 1 for k in range(INPUT_BITS)]
            bits = " ".join("phc" if b else "0" for b in on) + " " + " ".join("phcb" if b else "vlogic" for b in on)
            out.append(f"xbias{i} vbp{i} vbn{i} vddr 0 aimc_row_bias {d.bias_params()}")
            out.append(f"xd{i} {bits} r{i}_0 vbp{i} vbn{i} vddr 0 aimc_row_driver {d.driver_params()}")
            rw, cw = G * d.r_cell, G * d.c_cell
            for col in range(self.cols + 1):  # the wire to the next column's cells
                out.append(f"cwa{i}_{col} r{i}_{col} 0 {cw / 2:.6g}")
                if col < self.cols:
                    out += [f"rwr{i}_{col} r{i}_{col} r{i}_{col + 1} {rw:.6g}", f"cwb{i}_{col} r{i}_{col + 1} 0 {cw / 2:.6g}"]
        return out

    def _columns(self) -> list[str]:
        c, R, S, G, B = self.cell, self.rows, self.n_sub, self.cell.groups, self.cell.bits_per_group
        out = []
        words = [[self.ref_word] * self.n_in] + [[self.weights[i][j] for i in range(self.n_in)] for j in range(self.cols)]
        for col in range(self.cols + 1):
            for s in range(S):
                for g in range(G):
                    k = f"k{s}_{g}_{col}"
                    out.append(f"xrs{s}_{g}_{col} {k}_0 vr phrb vddc aimc_col_reset w={c.w_reset} l={c.l_sw}")
                    for r in range(R):
                        out += [f"rk{s}_{g}_{col}_{r} {k}_{r} {k}_{r + 1} {c.r_wire}", f"ck{s}_{g}_{col}_{r} {k}_{r} 0 {c.c_wire}"]
                        i = s * R + r
                        code = (words[col][i] >> (B * g)) & c.max_code
                        gates = " ".join("phs phsb phg" if (code >> b) & 1 else "0 vlogic vlogic" for b in range(B))
                        out.append(f"xc{i}_{col}_{g} r{i}_{col} {k}_{r + 1} 0 vddc {gates} aimc_cell_group4 "
                                   f"wn={c.w_sw} wp={c.w_sw} wg={c.w_gnd} l={c.l_sw}")
                    if col == 0:  # the reference column: its buffer's input load, an ideal unity buffer
                        out += [f"clr{s}_{g} {k}_{R} 0 {c.c_load}", f"eref{s}_{g} vref{s}_{g} 0 {k}_{R} 0 1"]
        return out

    def _accumulators(self) -> list[str]:
        ta, S, G = self.ta, self.n_sub, self.cell.groups
        out = []
        for j in range(self.cols):
            col = j + 1
            out += [f"xtb{j} vtn{j} vtp{j} vddt 0 aimc_ta_bias i0={ta.i0:.6g}",
                    f"xramp{j} ramp{j} rstb run vtn{j} vddt 0 aimc_ta_ramp mr={ta.mr} cw={ta.cr_w} cl={ta.cr_w}"]
            for s in range(S):
                for g in range(G):
                    out.append(f"xv{j}_{s}_{g} k{s}_{g}_{col}_{self.rows} vref{s}_{g} ramp{j} acc{j} vdum vtn{j} vtp{j} "
                               f"vddt 0 aimc_ta_vtc mg={ta.weight(g)}")
            out.append(f"xt{j} acc{j} rst conv vmid vhi stop{j} vtn{j} vtp{j} vddt 0 aimc_ta_tdc md={ta.md} "
                       f"cw={ta.cacc_w} cl={ta.cacc_w}")
        return out

    def body(self, s: Mapping[str, Any]) -> str:
        nets = [netlist_path(n).read_text() for n in ("cell", "row_driver", self.ta.netlist)]
        return "\n".join(nets + self._phases() + self._rows(s["x"]) + self._columns() + self._accumulators()) + "\n"

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        R = self.rows
        rows = tuple(f"r{i}_{c}" for i in range(self.n_in) for c in range(self.cols + 1))
        cols = tuple(f"k{s}_{g}_{c}_{R}" for c in range(self.cols + 1) for s in range(self.n_sub)
                     for g in range(self.cell.groups))
        ta = tuple(f"{n}{j}" for j in range(self.cols) for n in ("acc", "stop"))
        sup = tuple(f"{v}#branch" for v in ("vddr", "vddc", "vddt", "vlogic", "vr", "vphs", "vphsb", "vphg", "vphrb"))
        return rows + cols + ta + sup

    # -- points ------------------------------------------------------------------------
    def normalize(self, point: Mapping[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in point.items() if k != "x"}
        p = super().normalize(rest)
        if "x" not in point:
            raise ParameterError(f"a slice point needs 'x' ({self.n_in} input codes)")
        x = np.asarray(point["x"])
        hi = 2 ** INPUT_BITS - 1
        if x.shape != (self.n_in,) or not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() > hi:
            raise ParameterError(f"slice x must be {self.n_in} integer codes in 0..{hi}; got shape {x.shape}, "
                                 f"dtype {x.dtype}")
        p["x"] = tuple(int(v) for v in x)
        return p

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran {self.tstep:.6g} {self.timing.t_end:.6g}"

    def stop_times(self, sim: SimResult) -> np.ndarray:
        """Each data column's TDC stop edge (s from TDC start; 0: tripped at TDC start; inf: none)."""
        t, tm, vdd = sim.scale, self.timing, self.cell.vdd
        out = []
        for j in range(self.cols):
            stop = sim[f"stop{j}"]
            if value_at(t, stop, tm.t_conv) > vdd / 2:
                out.append(0.0)
                continue
            try:
                out.append(crossing(t, stop, vdd / 2, rising=True, after=tm.t_conv) - tm.t_conv)
            except ValueError:
                out.append(float("inf"))
        return np.array(out)

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        t, tm, vdd = sim.scale, self.timing, self.cell.vdd
        S, G, R, C = self.n_sub, self.cell.groups, self.rows, self.cols
        def rows_at(when: float) -> np.ndarray:
            return np.array([[value_at(t, sim[f"r{i}_{c}"], when) for c in range(C + 1)] for i in range(self.n_in)])

        def cols_at(when: float) -> np.ndarray:
            return np.array([[[value_at(t, sim[f"k{s}_{g}_{c}_{R}"], when) for g in range(G)] for s in range(S)]
                             for c in range(C + 1)])

        def energy(src: str, t0: float, t1: float) -> float:
            return -vdd * integrate(t, sim[f"{src}#branch"], t0, t1)

        e_logic = sum(vdd * integrate(t, np.clip(-sim[f"{s}#branch"], 0, None), 0.0, tm.t_col)
                      for s in ("vlogic", "vphs", "vphsb", "vphg", "vphrb"))
        return {"v_row_frozen": rows_at(tm.t_reset_off), "v_row": rows_at(tm.t_s_off), "v_col": cols_at(tm.t_col), "v_col_end": cols_at(tm.t_conv),
                "v_acc": np.array([value_at(t, sim[f"acc{j}"], tm.t_conv) for j in range(C)]),
                "t_stop": self.stop_times(sim),
                "e_row": energy("vddr", 0.0, tm.t_col), "e_reset": -self.cell.vr * integrate(t, sim["vr#branch"], 0.0, tm.t_col),
                "e_logic": e_logic, "e_cell_well": energy("vddc", 0.0, tm.t_col),
                "e_ta": energy("vddt", tm.t_offset, tm.t_end)}
