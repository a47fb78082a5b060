"""A slice too large for one SPICE deck, simulated in two stages from the same block netlists.

The whole 1024-input column of the reference macro (8 sub-arrays x 128 rows, 1024 row drivers,
4096 cell groups) is too large for one deck on a small machine. Its sub-arrays interact only
through the time accumulator they feed, so the slice is split where the column lines' charge is
settled:

1. **sub-array stage** (:class:`SubarrayTestbench`): each sub-array alone, as in the end-to-end
   deck (its row drivers and row wires, the cells of every column, the column lines with their
   reset and wire ladders, and the time accumulator's VTCs on the data lines' ends, so the lines
   carry their real end load), simulated up to the ramp start. It gives the rows, the column
   lines at the ramp start and the energy of the row drivers and cells;
2. **conversion stage** (:class:`ConversionTestbench`): the slice's time accumulators alone
   (ramp, every VTC and pump, accumulator, TDC, bias), each data VTC input on a floating line of
   the column's capacitance (the cell model's fitted capacitance of that column, bit capacitors and
   parasitics, without the end load: the VTC is real here) precharged to SPICE's level of that line
   at the ramp start through an ideal switch that opens 0.1 ns before it; the reference inputs on
   ideal sources at SPICE's reference lines (the end-to-end deck buffers them ideally too).

What the split ignores: the column line is one lumped capacitor in the conversion stage (its wire
resistance, ~ r_wire x rows, and the junction capacitances' voltage dependence are dropped), the
sub-arrays share the ramp and the time accumulator's bias during the cells' phase in the
end-to-end deck but not here, and the time accumulator's supply current before the ramp start is
not counted. :func:`split_bound` runs a small slice both ways and states what that costs.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConvergenceError, ParameterError
from ..paths import netlist_path
from ..spice.measure import integrate, value_at
from ..spice.runner import SimResult
from ..spice.sweep import run_sweeps
from .slice_deck import SliceTestbench, _pwl

__all__ = ["SubarrayTestbench", "ConversionTestbench", "hierarchical_spice", "SWITCH_LEAD_S"]

SWITCH_LEAD_S = 0.1e-9  #: the conversion stage's line precharge switch opens this long before the ramp starts
LEVEL_MARGIN_V = 0.2  #: how far outside 0..vdd a line level may be (V)
_LEVEL_DIGITS = 7  #: levels written into the conversion deck, rounded to 0.1 uV (stable cache keys)


@dataclass(frozen=True)
class SubarrayTestbench(SliceTestbench):
    """One sub-array of a slice (``n_sub`` = 1), as in :class:`SliceTestbench`, simulated up to the
    ramp start. Point: ``x`` (the sub-array's input codes). Measures ``v_row_frozen``, ``v_row``,
    ``v_col`` and the energies ``e_row``, ``e_reset``, ``e_logic``, ``e_cell_well`` as the slice does."""

    name = "macro_subarray"

    def __post_init__(self):
        if self.n_sub != 1:
            raise ParameterError(f"a sub-array testbench has n_sub = 1; got {self.n_sub}")
        super().__post_init__()

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(k for k in super().keep if not k.startswith(("acc", "stop")))

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"tran {self.tstep:.6g} {self.timing.t_col + 2 * self.tstep:.6g}"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        t, tm, vdd = sim.scale, self.timing, self.cell.vdd
        G, R, C = self.cell.groups, self.rows, self.cols

        def rows_at(when: float) -> np.ndarray:
            return np.array([[value_at(t, sim[f"r{i}_{c}"], when) for c in range(C + 1)] for i in range(self.n_in)])

        def energy(src: str, v: float) -> float:
            return -v * integrate(t, sim[f"{src}#branch"], 0.0, tm.t_col)

        e_logic = sum(vdd * integrate(t, np.clip(-sim[f"{s}#branch"], 0, None), 0.0, tm.t_col)
                      for s in ("vlogic", "vphs", "vphsb", "vphg", "vphrb"))
        return {"v_row_frozen": rows_at(tm.t_reset_off), "v_row": rows_at(tm.t_s_off),
                "v_col": np.array([[[value_at(t, sim[f"k0_{g}_{c}_{R}"], tm.t_col) for g in range(G)]]
                                   for c in range(C + 1)]),
                "e_row": energy("vddr", vdd), "e_reset": energy("vr", self.cell.vr), "e_logic": e_logic,
                "e_cell_well": energy("vddc", vdd)}


def _levels(a: Any, shape: tuple[int, ...], name: str, vdd: float) -> tuple[float, ...]:
    """Line levels as written into the deck; a line may sit a little above vdd (the column reset's
    opening kicks lines that the cells barely discharge), not beyond ``LEVEL_MARGIN_V``."""
    v = np.asarray(a, dtype=float)
    lo, hi = -LEVEL_MARGIN_V, vdd + LEVEL_MARGIN_V
    if v.shape != shape or not np.all(np.isfinite(v)) or v.min() < lo or v.max() > hi:
        got = f"shape {v.shape}" + (f", range {np.nanmin(v):.4g}..{np.nanmax(v):.4g} V" if v.size else "")
        raise ParameterError(f"{name} must be finite levels in {lo:g}..{hi:g} V of shape {shape}; got {got}")
    return tuple(round(float(x), _LEVEL_DIGITS) for x in v.ravel())


@dataclass(frozen=True)
class ConversionTestbench(SliceTestbench):
    """The slice's time accumulators alone, from SPICE's column lines at the ramp start.

    Fields (besides the slice's): ``c_line`` (F, (cols, n_sub, groups) flattened): each data line's
    capacitance. Point: ``v_line`` ((cols, n_sub, groups) levels, V: the data lines at the ramp
    start) and ``v_ref`` ((n_sub, groups), the reference lines). Measures ``v_col_end`` ((cols + 1,
    n_sub, groups): the lines at TDC start, the reference column first), ``v_acc``, ``t_stop`` and
    ``e_ta`` as the slice does."""

    c_line: tuple[float, ...] = ()
    name = "macro_conversion"
    structural = {"v_line": (), "v_ref": ()}

    def __post_init__(self):
        super().__post_init__()
        n = self.cols * self.n_sub * self.cell.groups
        c = np.asarray(self.c_line, dtype=float)
        if c.shape != (n,) or not np.all(np.isfinite(c)) or c.min() <= 0:
            raise ParameterError(f"c_line must be {n} capacitances > 0 F (cols x n_sub x groups); got {c.shape}")

    def normalize(self, point: Mapping[str, Any]) -> dict[str, Any]:
        p = super(SliceTestbench, self).normalize({k: v for k, v in point.items() if k not in self.structural})
        S, G, vdd = self.n_sub, self.cell.groups, self.cell.vdd
        for k, shape in (("v_line", (self.cols, S, G)), ("v_ref", (S, G))):
            if k not in point:
                raise ParameterError(f"a conversion point needs {k!r} (levels of shape {shape}, V)")
            p[k] = _levels(point[k], shape, k, vdd)
        return p

    def body(self, s: Mapping[str, Any]) -> str:
        S, G, R, tm = self.n_sub, self.cell.groups, self.rows, self.timing
        vl = np.reshape(s["v_line"], (self.cols, S, G))
        vref = np.reshape(s["v_ref"], (S, G))
        cl = np.reshape(self.c_line, (self.cols, S, G))
        t_open = tm.t_col - SWITCH_LEAD_S
        e = self.cell.t_edge
        out = [netlist_path(self.ta.netlist).read_text()] + self._phases() + [
            f"vswl swl 0 {_pwl((0, 1), (t_open, 1), (t_open + e, 0))}",
            ".model aimc_ideal_switch sw vt=0.5 vh=0.1 ron=10 roff=1e15"]
        for s_ in range(S):
            for g in range(G):
                out.append(f"vref{s_}_{g} vref{s_}_{g} 0 {float(vref[s_, g])!r}")
                for j in range(self.cols):
                    k = f"k{s_}_{g}_{j + 1}_{R}"  # the data line's end, as the slice names it
                    out += [f"vpre{s_}_{g}_{j} pre{s_}_{g}_{j} 0 {float(vl[j, s_, g])!r}",
                            f"spre{s_}_{g}_{j} pre{s_}_{g}_{j} {k} swl 0 aimc_ideal_switch",
                            f"cline{s_}_{g}_{j} {k} 0 {cl[j, s_, g]:.6g}"]
        return "\n".join(out + self._accumulators()) + "\n"

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        R = self.rows
        lines = tuple(f"k{s}_{g}_{c}_{R}" for c in range(1, self.cols + 1) for s in range(self.n_sub)
                      for g in range(self.cell.groups))
        return lines + tuple(f"{n}{j}" for j in range(self.cols) for n in ("acc", "stop")) + ("vddt#branch",)

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        t, tm, vdd = sim.scale, self.timing, self.cell.vdd
        S, G, R, C = self.n_sub, self.cell.groups, self.rows, self.cols
        end = np.empty((C + 1, S, G))
        end[0] = np.reshape(p["v_ref"], (S, G))
        for c in range(1, C + 1):
            end[c] = [[value_at(t, sim[f"k{s}_{g}_{c}_{R}"], tm.t_conv) for g in range(G)] for s in range(S)]
        return {"v_col_end": end, "v_acc": np.array([value_at(t, sim[f"acc{j}"], tm.t_conv) for j in range(C)]),
                "t_stop": self.stop_times(sim), "e_ta": -vdd * integrate(t, sim["vddt#branch"], tm.t_offset, tm.t_end)}


def line_capacitances(cell_model: Any, w_ob: np.ndarray, n_sub: int, rows: int) -> np.ndarray:
    """(cols, n_sub, groups) capacitance (F) of each data column line without its end load: the
    cell model's bit capacitors and fitted parasitics of that sub-array's column."""
    cols = w_ob.shape[1]
    out = np.empty((cols, n_sub, cell_model.design.groups))
    for s in range(n_sub):
        out[:, s, :] = cell_model.column_capacitance_f(w_ob[s * rows:(s + 1) * rows], load_f=0.0)
    return out


def hierarchical_spice(tb: SliceTestbench, cell_model: Any, xi: np.ndarray, corner: str = "tt",
                       workers: int | None = None, progress: Callable[[str], None] | None = None) -> tuple[dict, float, dict]:
    """The slice `tb` simulated in the two stages of the module docstring, for the input vectors
    `xi` (B, n_inputs). Returns SPICE's measures as :class:`SliceTestbench` gives them (the
    sub-arrays' rows and lines stacked, the energies summed), the SPICE seconds per vector summed
    over both stages, and the counts of simulated and cached points."""
    say = progress or (lambda s: None)
    S, R, C, G = tb.n_sub, tb.rows, tb.cols, tb.cell.groups
    w = np.asarray(tb.weights)
    base = {f: getattr(tb, f) for f in ("cell", "row", "ta", "cols", "ref_word", "tstep", "options", "resolve_devices")}
    subs = [SubarrayTestbench(**base, n_sub=1, rows=R, weights=w[s * R:(s + 1) * R]) for s in range(S)]
    B = xi.shape[0]
    say(f"sub-array stage: {S} sub-arrays x {B} vectors, each deck up to the ramp start")
    kw = {"progress": progress is not None, "retry_failed": True}
    if workers is not None:
        kw["cores"] = workers
    res_a = run_sweeps([(sub, [{"x": xi[b, s * R:(s + 1) * R], "corner": corner} for b in range(B)])
                        for s, sub in enumerate(subs)], **kw)
    _raise_failed([r for res in res_a for r in res.records], "sub-array")
    meas = [[r.measures for r in res.records] for res in res_a]  # [s][b]
    v_col = np.stack([np.concatenate([meas[s][b]["v_col"] for s in range(S)], axis=1) for b in range(B)])
    sp: dict[str, Any] = {
        k: np.stack([np.concatenate([meas[s][b][k] for s in range(S)], axis=0) for b in range(B)])
        for k in ("v_row_frozen", "v_row")}
    sp["v_col"] = v_col
    for k in ("e_row", "e_reset", "e_logic", "e_cell_well"):
        sp[k] = np.array([sum(meas[s][b][k] for s in range(S)) for b in range(B)])
    conv = ConversionTestbench(**base, n_sub=S, rows=R, weights=tb.weights,
                               c_line=tuple(float(c) for c in line_capacitances(cell_model, w, S, R).ravel()))
    say(f"conversion stage: {B} vectors, {C * S * G} VTCs on lumped lines")
    res_b = run_sweeps([(conv, [{"v_line": v_col[b, 1:], "v_ref": v_col[b, 0], "corner": corner}
                                for b in range(B)])], **kw)[0]
    _raise_failed(res_b.records, "conversion")
    for k in ("v_col_end", "v_acc", "t_stop", "e_ta"):
        sp[k] = np.stack([r.measures[k] for r in res_b.records])
    spice_s = float(sum(r.elapsed_s for res in res_a for r in res.records) + sum(r.elapsed_s for r in res_b.records))
    counts = {"simulated": sum(res.n_simulated for res in res_a) + res_b.n_simulated,
              "cached": sum(res.n_cached for res in res_a) + res_b.n_cached}
    return sp, spice_s, counts


def _raise_failed(records: list, stage: str) -> None:
    failed = [r for r in records if not r.ok]
    if failed:
        raise ConvergenceError(f"{len(failed)} {stage}-stage simulations failed (the finished ones are cached; a "
                               f"rerun with the same seed simulates only the failed ones again): {failed[0].error}")

