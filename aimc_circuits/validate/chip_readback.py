"""The chip a Monte Carlo slice deck simulates, read back into the block models' chip.

A resolved ``_mm`` deck (:mod:`aimc_circuits.spice.resolve`) draws each device's mismatch from
the seed and the device's instance path only. A small testbench whose instances carry the slice
deck's names and parameters (:mod:`.slice_deck`) therefore draws exactly the devices of the
slice's blocks, and measures what the block model's chip holds the way each block's
characterization extracts it from its own Monte Carlo runs:

* **row drivers** (``xbias<i>``, ``xd<i>``, all rows in one deck): the static transfer over the
  256 codes on tt and on the draw, both fitted (``fit_static``): ``d_off = v0 - v0_tt``,
  ``d_gain = u / u_tt - 1``, ``d_eps = eps - eps_tt``;
* **VTCs** of data column j (``xtb<j>``, ``xramp<j>``, ``xv<j>_<s>_<g>``): the pump charges at the
  three Monte Carlo level sets on tt and on the draw: each channel's input offset and per-sign
  gains (``channel_mismatch``, as the characterization solves them);
* **TDCs** (``xt<j>`` with its column's bias ``xtb<j>``): the stop time at ``TDC_LEVELS`` levels
  over the TDC's window on tt and on the draw, fitted as ``t(V) = (1 + tdc_gain) t_tt(V - tdc_offset_v)``
  (least squares, to first order in the offset): a gain (the charge-up current) and a stop-threshold
  offset (the comparator). On one draw the four TDCs' gains were -5.2..+2.5 % and their thresholds
  -21..+10 mV (up to 4 % of full scale in the stop time): a relative spread averaged over levels
  near the threshold is mostly offset, not gain;
* **cells**: every bit capacitor, read straight from the slice's own resolved deck
  (``chip_from_deck``).

What the model's chip has no place for stays out of it: the cell switches' threshold shifts (the
cell model's ``sigma_0`` stands for them statistically), the row drivers' bit-weight errors
``d_eps`` (the evaluator does not fold them: they are read back, and the block models composed
directly use them), and whatever of the TA's mismatch the per-channel offset and gains do not
express. Those are part of the fidelity a ``tt_mm`` validation measures.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..blocks.cell.mom_bottom_plate.deck_chip import chip_from_deck
from ..blocks.cell.mom_bottom_plate.model import CellChip
from ..blocks.row_driver.dac_follower.design import N_CODES, RowDriverDesign
from ..blocks.row_driver.dac_follower.fit import fit_static
from ..blocks.row_driver.dac_follower.model import RowChip
from ..blocks.row_driver.dac_follower.testbench import BIT_NODES, bit_sources
from ..blocks.time_accumulator.pump_single_slope.characterize import channel_mismatch, monte_carlo_levels
from ..blocks.time_accumulator.pump_single_slope.model import TAChip
from ..blocks.time_accumulator.pump_single_slope.testbench import TdcTestbench, VtcTestbench, _core, _tdc_line
from ..errors import ConvergenceError, ParameterError
from ..macro.chip import Chip
from ..paths import netlist_path
from ..pdk import find_pdk
from ..spice.runner import SimResult
from ..spice.sweep import run_sweeps
from ..spice.testbench import Testbench
from .slice_deck import SliceTestbench

__all__ = ["RowReadbackTestbench", "SliceVtcTestbench", "SliceTdcTestbench", "read_chip", "TDC_LEVELS"]

TDC_LEVELS = 10  #: accumulator levels of the TDC readback (TDC_WINDOW_V below vhi)
TDC_WINDOW_V = (0.45, 0.05)  #: from vhi - 0.45 V (about 85 % of full scale) to vhi - 0.05 V
CELL_INSTANCE = r"xc(?P<row>\d+)_(?P<col>\d+)_(?P<group>\d+)"  #: the slice deck's cell groups (column 0: reference)


@dataclass(frozen=True)
class RowReadbackTestbench(Testbench):
    """The static transfer (``dc`` over the codes) of ``n`` row drivers at once, each with its bias,
    named as the slice deck's input i (``xbias<i>``, ``xd<i>``), unloaded. Measures ``v_row``
    (n x 256, driver-major): each driver's level per code (V)."""

    design: RowDriverDesign = field(default_factory=RowDriverDesign)
    n: int = 1
    resolve_devices: bool = True
    name = "slice_row_readback"
    params = {}
    options = "klu"

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= 4096:
            raise ParameterError(f"n={self.n!r} row drivers must be an integer in 1..4096")

    @property
    def keep(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"r{i}" for i in range(self.n))

    def body(self, s: Mapping[str, Any]) -> str:
        d = self.design
        out = [netlist_path("row_driver").read_text(), "vcode code 0 dc 0", f"vdd vdd 0 {d.cell.vdd}"] + bit_sources(d)
        for i in range(self.n):
            out += [f"xbias{i} vbp{i} vbn{i} vdd 0 aimc_row_bias {d.bias_params()}",
                    f"xd{i} {BIT_NODES} r{i} vbp{i} vbn{i} vdd 0 aimc_row_driver {d.driver_params()}"]
        return "\n".join(out) + "\n"

    def analysis(self, p: Mapping[str, Any]) -> str:
        return f"dc vcode 0 {N_CODES - 1} 1"

    def measure(self, sim: SimResult, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"v_row": np.concatenate([np.asarray(sim[f"r{i}"]) for i in range(self.n)])}


@dataclass(frozen=True)
class SliceVtcTestbench(VtcTestbench):
    """:class:`VtcTestbench` of data column ``column``: its bias, ramp and VTCs named as the slice
    deck names them (channel i = sub-array i // groups, group i % groups)."""

    column: int = 0
    name = "slice_vtc_readback"

    @property
    def bias_name(self) -> str:  # type: ignore[override]
        return f"xtb{self.column}"

    @property
    def ramp_name(self) -> str:  # type: ignore[override]
        return f"xramp{self.column}"

    def vtc_name(self, i: int) -> str:
        s, g = divmod(i, self.design.groups)
        return f"xv{self.column}_{s}_{g}"


@dataclass(frozen=True)
class SliceTdcTestbench(TdcTestbench):
    """One TDC per data column (``n_ch`` columns), each with its column's bias, named as the slice
    deck names them (``xt<j>``, ``xtb<j>``); point ``v_init``: each TDC's start level (V)."""

    name = "slice_tdc_readback"

    def body(self, s: Mapping[str, Any]) -> str:
        d = self.design
        out = _core(d)  # its bias and ramp are not the slice's: unused
        for j in range(self.n_ch):
            out += [f"xtb{j} vtn{j} vtp{j} vdd 0 aimc_ta_bias i0={d.i0:.6g}", f"vv_init{j} vi{j} 0 {d.vmid}",
                    _tdc_line(d, f"xt{j}", f"acc{j}", f"vi{j}", f"tdc_stop{j}", bias=(f"vtn{j}", f"vtp{j}"))]
        return "\n".join(out) + "\n"


def _check_ok(results: list, what: str) -> None:
    bad = [r for res in results for r in res.records if not r.ok]
    if bad:
        raise ConvergenceError(f"chip readback: {len(bad)} {what} run(s) failed: {str(bad[0].error)[:300]}")


def read_chip(m: Any, tb: SliceTestbench, seed: int, point: Mapping[str, Any], *, workers: int | None = None,
              progress: Callable[[str], None] | None = None) -> Chip:
    """The model chip (:class:`aimc_circuits.macro.chip.Chip`) of the chip that the slice `tb`
    simulates on ``tt_mm`` with `seed`, for the macro `m` of the same geometry; `point`: one of
    the slice's points (its resolved deck gives the cells' capacitors)."""
    say = progress or (lambda s: None)
    c = m.config
    S, G, J = c.n_sub, m.ta.design.groups, c.n_outputs
    ta = m.ta.design
    if ta.n_sub * ta.groups < S * G:
        raise ParameterError(f"{S} sub-arrays: the readback's VTC columns hold at most {ta.n_sub}")
    mm = {"corner": "tt_mm", "seed": seed}
    n_ch = S * G
    group = np.arange(n_ch) % G
    mc = monte_carlo_levels(n_ch)
    lv_tdc = np.linspace(ta.vhi - TDC_WINDOW_V[0], ta.vhi - TDC_WINDOW_V[1], TDC_LEVELS)
    rtb = RowReadbackTestbench(design=m.row.design, n=c.n_inputs)
    vtbs = [SliceVtcTestbench(design=ta, n_ch=n_ch, column=j, resolve_devices=True) for j in range(J)]
    ttb = SliceTdcTestbench(design=ta, n_ch=J, resolve_devices=True)
    tdc_pts = [{"v_init": np.full(J, v)} for v in lv_tdc]
    say(f"chip readback: {c.n_inputs} row drivers, {J} x {n_ch} VTCs, {J} TDCs on tt and tt_mm seed {seed}")
    jobs = [(rtb, [{"corner": "tt"}, mm])] + [(v, [dict(lv) for lv in mc] + [{**lv, **mm} for lv in mc]) for v in vtbs]
    jobs.append((ttb, tdc_pts + [{**p, **mm} for p in tdc_pts]))
    results = run_sweeps(jobs, workers=workers, progress=progress is not None, retry_failed=True)
    _check_ok(results, "readback")
    rres, vres, tres = results[0], results[1:1 + J], results[-1]

    # row drivers: the fitted static transfer of each, on the draw against tt
    v_tt, v_mm = (np.asarray(r.measures["v_row"]).reshape(c.n_inputs, N_CODES) for r in rres.records)

    def params(v: np.ndarray) -> np.ndarray:
        f = fit_static(v)["params"]
        return np.array([f["v0"]["value"], f["u"]["value"]] + [f[f"eps{k}"]["value"] for k in range(1, 8)])

    p_tt = np.array([params(v) for v in v_tt])
    p_mm = np.array([params(v) for v in v_mm])
    row = RowChip(d_off=p_mm[:, 0] - p_tt[:, 0], d_gain=p_mm[:, 1] / p_tt[:, 1] - 1,
                  d_eps=np.concatenate([np.zeros((c.n_inputs, 1)), p_mm[:, 2:] - p_tt[:, 2:]], axis=1))

    # time accumulators: per channel (offset, g+, g-) of each column; each column's TDC gain
    p_vtc = m.ta.p_vtc
    est = np.empty((J, S, G, 3))
    for j, res in enumerate(vres):
        q = [np.asarray(r.measures["q"]) for r in res.records]
        est[j] = channel_mismatch(q[:3], q[3:], mc, p_vtc, group, ta).reshape(S, G, 3)
    t = np.array([np.asarray(r.measures["t_stop"]) for r in tres.records])  # (2 x levels, J)
    t_tt, t_mm = t[:TDC_LEVELS], t[TDC_LEVELS:]
    if not (np.isfinite(t_tt).all() and np.isfinite(t_mm).all() and (t_tt > 0).all() and (t_mm > 0).all()):
        raise ConvergenceError(f"chip readback: a TDC stopped at once or not within full scale at levels "
                               f"{lv_tdc.round(3).tolist()} V")
    tdc_gain, tdc_off = _tdc_gain_and_offset(lv_tdc, t_tt, t_mm)
    per_channel = np.zeros((3, J, ta.n_sub, G))  # sub-arrays beyond the slice's: not simulated, not used
    per_channel[:, :, :S] = np.moveaxis(est, -1, 0)
    ta_chip = TAChip(offset_v=per_channel[0], gain_pos=per_channel[1], gain_neg=per_channel[2], tdc_gain=tdc_gain,
                     tdc_offset_v=tdc_off)

    # cells: from the slice's own resolved deck (column 0 is the reference; the model's is last)
    pdk = find_pdk()
    deck = tb.deck(tb.normalize(point), pdk.lib_line("tt_mm"), pdk)
    cap = chip_from_deck(deck, m.cell.design, m.cell.cu, instance=CELL_INSTANCE, n_rows=c.n_inputs,
                         n_cols=J + 1).cap_err
    cell = CellChip(cap_err=np.concatenate([cap[:, 1:], cap[:, :1]], axis=1))
    return Chip(seed, row, cell, ta_chip)


def _tdc_gain_and_offset(v: np.ndarray, t_tt: np.ndarray, t_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column (axis 1), g and dv of t_mm(v) = (1 + g) t_tt(v - dv) to first order in dv:
    t_mm - t_tt = g t_tt - e dt_tt/dv with e = (1 + g) dv, least squares over the levels v (V)."""
    g, dv = np.empty(t_tt.shape[1]), np.empty(t_tt.shape[1])
    for j in range(t_tt.shape[1]):
        a = np.stack([t_tt[:, j], -np.gradient(t_tt[:, j], v)], axis=1)
        g[j], e = np.linalg.lstsq(a, t_mm[:, j] - t_tt[:, j], rcond=None)[0]
        dv[j] = e / (1 + g[j])
    return g, dv
