"""Row driver (netlists/row_driver.sp): 8-bit input code -> the row line's analog level.

Topology (documented choice, consistent with the cell's voltage sampling):

* **DAC**: binary-weighted pfet unit current sources (I_u, mirrored from a shared bias) steered
  by the code bits into a poly load resistor R_L (sky130 res_high_po); an always-on offset of
  ``nlo`` units sets the code-0 level ``v_lo`` (~0.15 V) so every device stays saturated.
  Unselected units steer to vss, so a code change dumps no drain charge into the output.
* **Line driver**: a replica-biased source follower. A diode-connected replica nfet (lvt, body
  tied to source in its own p-well) carries I_rep with its source on the DAC node; the
  follower (``kf`` times wider, ``kf`` x I_rep sink) runs at the same current density with the
  same Vgs, so the row follows the DAC node without a Vgs or body-effect offset. The follower
  is always on: the row line holds the previous level between cycles.
* **Row line**: distributed wire RC (``r_cell``, ``c_cell`` per cell-group pitch) loaded by every
  cell-group input on the row (``n_cols`` x ``groups``), built from the real cell subcircuit
  (``aimc_cell_group4`` with a multiplier, ``n_seg`` pi-sections) and its phase gating.

The row level spans ``v_lo .. v_lo + 255 LSB`` (about 0.15..0.95 V), inside the cell's
calibrated input range 0..v_fs; the ``v_lo`` pedestal adds a charge proportional to each
column's weight sum, which the macro removes digitally (weights are known).

The bias reference currents (bandgap) are ideal current sources; code bits are ideal logic
levels (B-sources) at the switch gates. Everything else is sky130 devices.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....errors import ParameterError
from ....paths import netlist_path
from ....spice.measure import integrate
from ....spice.runner import SimResult
from ....spice.testbench import Testbench
from .design import INPUT_BITS, N_CODES, RowDriverDesign

__all__ = ["RowTransferTestbench", "RowSettleTestbench", "RowNoiseTestbench"]

#: samples of the far-end waveform kept over phase S (for settling time vs the static target)
N_WAVE = 61


#: the driver's bit inputs as the code B-sources drive them (bits, then their complements)
BIT_NODES = " ".join(f"b{k}" for k in range(INPUT_BITS)) + " " + " ".join(f"bb{k}" for k in range(INPUT_BITS))


def bit_sources(d: RowDriverDesign) -> list[str]:
    """Code -> bit B-sources (ideal logic, from the ``code`` node in code units) onto BIT_NODES."""
    vdd = d.cell.vdd
    out = []
    for k in range(INPUT_BITS):
        # ideal logic: bit k of round(v(code)); 1e-3 keeps exact integers away from floor() edges
        out += [f"bbit{k} b{k} 0 v={{{vdd}*(floor(v(code)/{2**k}+1e-3)-2*floor(v(code)/{2**(k + 1)}+1e-3))}}",
                f"bbitb{k} bb{k} 0 v={{{vdd}-v(b{k})}}"]
    return out


def _driver_core(d: RowDriverDesign, row: str = "r0") -> list[str]:
    """Bias, code -> bit B-sources and the driver instance."""
    return ([f"vdd vdd 0 {d.cell.vdd}", f"xbias vbp vbn vdd 0 aimc_row_bias {d.bias_params()}"] + bit_sources(d)
            + [f"xdrv {BIT_NODES} {row} vbp vbn vdd 0 aimc_row_driver {d.driver_params()}"])


def _check_cols(d: RowDriverDesign, n_cols: Any) -> None:
    if isinstance(n_cols, bool) or not isinstance(n_cols, int) or n_cols < 1 or (n_cols * d.cell.groups) % d.n_seg:
        raise ParameterError(f"n_cols={n_cols!r} must be a positive integer with n_cols x groups a "
                             f"multiple of n_seg={d.n_seg}")


def _row_line(d: RowDriverDesign, n_cols: int, gates: list[str]) -> list[str]:
    """The row line r0 .. r<n_seg>: n_seg pi-sections, each with its share of the row's cells
    (every cell's group gates on the nets in `gates`), top plates on the ``col`` node."""
    c = d.cell
    per_seg = n_cols * c.groups // d.n_seg
    return [f"xseg{i} r{i} r{i + 1} col vdd 0 {' '.join(gates)} aimc_row_seg ncell={per_seg} "
            f"rcell={d.r_cell} ccell={d.c_cell:.6g} wn={c.w_sw} wp={c.w_sw} wg={c.w_gnd} l={c.l_sw}"
            for i in range(d.n_seg)]


@dataclass(frozen=True)
class RowTransferTestbench(Testbench):
    """Static transfer: ``dc`` sweep of the code 0..255 (unloaded: the row load is capacitive).
    Measures ``v_row`` and ``v_dac`` (V, per code) and ``i_vdd`` (A, supply current per code)."""

    design: RowDriverDesign = field(default_factory=RowDriverDesign)
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (spice.resolve)
    name = "row_driver_transfer"
    params = {}
    keep = ("r0", "xdrv.a", "vdd#branch")
    options = "klu"

    def body(self, s: Mapping[str, Any]) -> str:
        out = [netlist_path("row_driver").read_text(), "vcode code 0 dc 0"] + _driver_core(self.design)
        return "\n".join(out) + "\n"

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"dc vcode 0 {N_CODES - 1} 1"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"v_row": sim["r0"], "v_dac": sim["xdrv.a"], "i_vdd": -sim["vdd#branch"]}


@dataclass(frozen=True)
class RowSettleTestbench(Testbench):
    """One conversion on a loaded row line: the code steps from ``prev`` to ``code`` at t = 0
    (start of phase G), then a gap and phase S; the cells sample the row when S ends.

    Structural: ``n_cols`` columns (``n_cols`` x groups cell-group inputs on the row).
    Point: ``code``, ``prev`` (0..255) and ``load_code`` (0..15: every cell on the row holds
    this group code, so the selected capacitance is n_cols x groups x load_code x Cu).
    Measures ``v_pos`` (V at the sampling instant at the n_seg + 1 line nodes, driver end
    first), ``v_far_t`` / ``t_grid`` (far-end waveform over phase S, time from S start), ``v_dac`` (DAC node at the start of S), ``e_vdd`` (J drawn from vdd over the
    conversion, bias and DAC included) and ``t_conv`` (s, the simulated conversion time).
    """

    design: RowDriverDesign = field(default_factory=RowDriverDesign)
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (spice.resolve)
    n_cols: int = 256
    tstep: float = 20e-12
    options: str = "klu reltol=1e-4"
    name = "row_driver_settle"
    params = {}

    def __post_init__(self):
        _check_cols(self.design, self.n_cols)

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"r{i}" for i in range(self.design.n_seg + 1)) + ("xdrv.a", "vdd#branch")

    def body(self, s: Mapping[str, Any]) -> str:
        d, c = self.design, self.design.cell
        vdd, gap, e = c.vdd, c.t_gap, c.t_edge
        t_s0 = c.t_ground + gap
        out = [netlist_path("cell").read_text(), netlist_path("row_driver").read_text(),
               "vcode code 0 pwl(0 0 1 0)", f"vcol col 0 {c.vr}",
               f"vphg phg 0 pwl(0 {vdd} {c.t_ground:.6g} {vdd} {c.t_ground + e:.6g} 0)",
               f"vphs phs 0 pwl(0 0 {t_s0:.6g} 0 {t_s0 + e:.6g} {vdd} {d.t_sample_end:.6g} {vdd} "
               f"{d.t_sample_end + e:.6g} 0)"] + _driver_core(d)
        gates = []
        for k in range(c.bits_per_group):
            out += [f"vl{k} l{k} 0 dc 0",
                    f"bs{k} s{k} 0 v={{v(l{k})*v(phs)/{vdd}}}",
                    f"bsb{k} sb{k} 0 v={{{vdd}-v(l{k})*v(phs)/{vdd}}}",
                    f"bg{k} g{k} 0 v={{{vdd}-v(l{k})*({vdd}-v(phg))/{vdd}}}"]
            gates.append(f"s{k} sb{k} g{k}")
        return "\n".join(out + _row_line(d, self.n_cols, gates)) + "\n"

    def normalize(self, point: Mapping[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in point.items() if k not in ("code", "prev", "load_code")}
        p = super().normalize(rest)
        for k, hi in (("code", N_CODES - 1), ("prev", N_CODES - 1), ("load_code", self.design.cell.max_code)):
            v = point.get(k, 0)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= hi:
                raise ParameterError(f"{k}={v!r} must be an integer in 0..{hi}")
            p[k] = int(v)
        return p

    def point_commands(self, p: Mapping[str, Any]) -> tuple[list[str], bool]:
        c, e = self.design.cell, self.design.cell.t_edge
        cmds = [f"alter vcode pwl = [ 0 {p['prev']} {e:.6g} {p['code']} ]"]
        cmds += [f"alter vl{k} dc={c.vdd if (p['load_code'] >> k) & 1 else 0.0}" for k in range(c.bits_per_group)]
        return cmds, False

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran {self.tstep:.6g} {self.design.t_sample_end + self.design.cell.t_edge:.6g}"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        d, t = self.design, sim.scale
        ts = d.t_sample_end
        v_pos = np.array([float(np.interp(ts, t, sim[f"r{i}"])) for i in range(d.n_seg + 1)])
        i_vdd = -sim["vdd#branch"]
        t_s0 = d.cell.t_ground + d.cell.t_gap
        grid = t_s0 + np.linspace(0.0, ts - t_s0, N_WAVE)
        return {"v_pos": v_pos, "v_dac": float(np.interp(t_s0, t, sim["xdrv.a"])),
                "v_far_t": np.interp(grid, t, sim[f"r{d.n_seg}"]), "t_grid": grid - t_s0,
                "e_vdd": d.cell.vdd * integrate(t, i_vdd, 0.0, ts), "t_conv": ts}


@dataclass(frozen=True)
class RowNoiseTestbench(Testbench):
    """Output noise at the far end of a loaded row in phase S (cells connected), ``.noise``
    from 1 kHz to 100 GHz: measures ``v_noise`` (V rms, integrated) at a fixed ``code``."""

    design: RowDriverDesign = field(default_factory=RowDriverDesign)
    resolve_devices: bool = False  #: the library's devices as plain elements and cards (spice.resolve)
    n_cols: int = 256
    load_code: int = 8
    code: int = 128
    name = "row_driver_noise"
    params = {}
    keep = None
    options = "klu"

    def __post_init__(self):
        _check_cols(self.design, self.n_cols)
        if not isinstance(self.code, int) or not 0 <= self.code < N_CODES:
            raise ParameterError(f"code={self.code!r} must be an integer in 0..{N_CODES - 1}")
        if not isinstance(self.load_code, int) or not 0 <= self.load_code <= self.design.cell.max_code:
            raise ParameterError(f"load_code={self.load_code!r} must be an integer in 0..{self.design.cell.max_code}")

    def body(self, s: Mapping[str, Any]) -> str:
        d, c = self.design, self.design.cell
        vdd = c.vdd
        out = [netlist_path("cell").read_text(), netlist_path("row_driver").read_text(),
               f"vcode code 0 dc {self.code} ac 1", f"vcol col 0 {c.vr}"] + _driver_core(d)
        gates = []
        for k in range(c.bits_per_group):
            on = (self.load_code >> k) & 1
            out += [f"vs{k} s{k} 0 {vdd if on else 0}", f"vsb{k} sb{k} 0 {0 if on else vdd}", f"vg{k} g{k} 0 {0 if on else vdd}"]
            gates.append(f"s{k} sb{k} g{k}")
        return "\n".join(out + _row_line(d, self.n_cols, gates)) + "\n"

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"noise v(r{self.design.n_seg}) vcode dec 20 1e3 1e11"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"v_noise": float(np.asarray(sim["onoise_total"]).ravel()[0])}
