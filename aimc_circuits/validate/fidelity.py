"""``aimc validate``: SPICE of a slice of the macro against the behavioral macro, vector by vector.

Both sides see the same slice (:class:`.slice_deck.SliceTestbench` built from the calibrations'
designs; :class:`aimc_circuits.Macro` of the same geometry), the same held-out random vectors
and weights (drawn from ``seed``, never part of any fit), the same chip (tt: the nominal chip;
tt_mm: SPICE's per-instance draw of ``seed``, read back into the block models' chip by
:mod:`.chip_readback`), noise off in both, column trim off. Reported (time in % of the TDC full scale 2^bits t_lsb):

* **fidelity**: the evaluator's continuous TDC stop time against SPICE's (RMS, max), and the
  output codes (LSB);
* **per stage**, each block model fed SPICE's values of its inputs: the row levels (mV, when the
  column reset opens: the instant the column lines' charge is frozen; the kick the reset's
  opening then gives the rows is reported apart), the group column voltages (mV; the cell model
  fed SPICE's row levels of that instant), the time accumulator (the
  TA model fed SPICE's column voltages), and the same as a telescoping split of the stop-time
  error (evaluator folding + row + cell + time accumulator = total, exactly);
* what SPICE shows the models do not see: the VTC comparators' kick on the floating column
  lines between the ramp start and the TDC start (mV);
* the raw circuit error: SPICE's (and the model's) code against the ideal x @ w through the
  macro's readout (design trim), % of full scale;
* energy per VMM, SPICE (ideal supplies' charge over each block's window) vs the model;
* the evaluator's speed-up over SPICE per VMM.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from ..errors import ConvergenceError, ParameterError, did_you_mean
from ..macro.config import MacroConfig
from ..macro.trim import analog_target
from ..registry import REFERENCE
from ..spice.sweep import run_sweep, run_sweeps
from .hierarchical import ConversionTestbench, hierarchical_spice
from .slice_deck import SliceTestbench
from .stages import Stages

__all__ = ["validate", "validation_macro", "summary_lines", "split_bound", "split_bound_lines", "VALIDATE_SEED", "METHODS"]

VALIDATE_SEED = 2718  #: default seed of the held-out vectors and weights

_CORNERS = ("tt", "tt_mm")
#: how the slice is simulated: one deck, or sub-arrays then the conversion (validate.hierarchical)
METHODS = ("end_to_end", "hierarchical")


def validation_config(config: MacroConfig, mismatch: bool = False) -> MacroConfig:
    """The configuration both sides run: every static effect on, noise, quantization and
    clipping off (SPICE's continuous stop time is compared), column trim off; mismatch on only
    for a Monte Carlo chip (`mismatch`: the chip is then read back from SPICE's draw)."""
    ni = replace(config.nonidealities, row_noise=False, ktc_noise=False, vtc_noise=False, tdc_noise=False,
                 row_mismatch=mismatch, cell_mismatch=mismatch, ta_mismatch=mismatch, quantization=False,
                 clipping=False)
    return config.replace(nonidealities=ni, column_trim="none")


def validation_macro(config: MacroConfig, mismatch: bool = False) -> Any:
    from ..macro.evaluator import Macro

    for family, name in REFERENCE.items():
        if getattr(config, f"{family}_variant") != name:
            raise ParameterError(f"{family}_variant={getattr(config, f'{family}_variant')!r}: the slice deck is "
                                 f"assembled from the reference variants' netlists only ({family}/{name})")
    return Macro.from_config(validation_config(config, mismatch))


def in_range_weights(m: Any, seed: int, margin: float = 0.05, selection: int = 32) -> np.ndarray:
    """(n_inputs, n_outputs) random weights whose columns keep the evaluator's stop time inside
    margin .. 1 - margin of the TDC range for a *selection* batch of random inputs (its own stream,
    not the held-out vectors): the TDC range is a circuit constant, and a slice of fewer rows per
    sub-array swings further (at 16 rows about half of the random columns clip on some input)."""
    c = m.config
    half, top = 2 ** (c.weight_bits - 1), 2**c.output_bits
    rng = np.random.default_rng([seed, 0])
    xs = rng.integers(0, 2**c.input_bits, (selection, c.n_inputs))
    kept: list[np.ndarray] = []
    probe = type(m)(c.replace(n_outputs=64), m.cell, m.row, m.ta, chip_seed=None, _derived=True)  # 64 candidates a pass
    for _ in range(64):
        cand = rng.integers(-half, half, (c.n_inputs, 64))
        t = probe.continuous_code(xs, cand)
        ok = ((t > margin * top) & (t < (1 - margin) * top)).all(0)
        kept += [cand[:, j] for j in np.nonzero(ok)[0]]
        if len(kept) >= c.n_outputs:
            return np.stack(kept[:c.n_outputs], axis=1)
    raise ParameterError(f"no {c.n_outputs} random weight columns keep this slice's outputs inside the TDC range "
                         f"(found {len(kept)} in 4096): the slice geometry puts the outputs out of range")


def _rms(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.sqrt(np.mean(a**2))) if a.size else float("nan")


def _stat(a: np.ndarray, scale: float = 1.0) -> dict[str, float]:
    a = np.asarray(a, dtype=float) * scale
    return {"rms": _rms(a), "max": float(np.max(np.abs(a))) if a.size else float("nan"),
            "mean": float(np.mean(a)) if a.size else float("nan")}


def validate(config: MacroConfig | None = None, *, vectors: int = 5, seed: int = VALIDATE_SEED, corner: str = "tt",
             workers: int | None = None, progress: Callable[[str], None] | None = None,
             tstep: float | None = None, method: str = "end_to_end") -> dict[str, Any]:
    """Run the slice of `config` (default: the reference macro) in SPICE and in the evaluator on
    `vectors` held-out random vectors; the report described in the module docstring. `method`:
    ``"end_to_end"`` (the slice as one deck) or ``"hierarchical"`` (each sub-array up to the ramp
    start, then the time accumulators on lumped lines: :mod:`.hierarchical`, for slices too large
    for one deck)."""
    config = config or MacroConfig()
    if method not in METHODS:
        raise ParameterError(f"method={method!r}; allowed: {', '.join(METHODS)}{did_you_mean(str(method), METHODS)}")
    if corner not in _CORNERS:
        raise ParameterError(f"corner={corner!r}; allowed: {', '.join(_CORNERS)}{did_you_mean(str(corner), _CORNERS)}")
    mismatch = corner == "tt_mm"
    if mismatch and method != "end_to_end":
        raise ParameterError(f"corner={corner!r} with method={method!r} ({config.n_sub} sub-arrays x "
                             f"{config.rows_per_subarray} rows): a Monte Carlo chip is validated on the one-deck "
                             "slice only (the chip is read back by the slice deck's instance names; the split "
                             "decks' are not read back); use a slice small enough for one deck, e.g. "
                             "`aimc validate --corner tt_mm --sub-arrays 2 --rows-per-subarray 16 --columns 4 "
                             "--method end_to_end` (about 15 min of SPICE for 3 vectors)")
    if isinstance(vectors, bool) or not isinstance(vectors, int) or vectors < 1:
        raise ParameterError(f"vectors={vectors!r} must be an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be an integer >= 0")
    say = progress or (lambda s: None)
    m = validation_macro(config, mismatch)  # on tt_mm, its chip is read back from SPICE below
    c = m.config
    if c.n_sub != m.ta.design.n_sub:
        warnings.warn(f"{c.n_sub} sub-arrays: the time-accumulator model was characterized with {m.ta.design.n_sub} "
                      f"(its stage is extrapolated)", stacklevel=2)
    w = in_range_weights(m, seed)
    x = np.random.default_rng([seed, 1]).integers(0, 2**c.input_bits, (vectors, c.n_inputs))
    xi, w_ob = m.check_inputs(x, w)
    kw = {} if tstep is None else {"tstep": tstep}
    tb = SliceTestbench(cell=m.cell.design, row=m.row.design, ta=m.ta.design, n_sub=c.n_sub,
                        rows=c.rows_per_subarray, cols=c.n_outputs, weights=w_ob, **kw)
    say(f"slice: {c.n_sub} sub-arrays x {c.rows_per_subarray} rows, {c.n_outputs} data columns + the reference "
        f"column, {vectors} vectors (seed {seed}), corner {corner}: {c.n_inputs} row drivers, "
        f"{c.n_inputs * (c.n_outputs + 1) * c.groups} cell groups, {c.n_outputs * c.n_sub * c.groups} VTCs (for scale: "
        + ("one 128-row sub-array and one data column take ~2 min of SPICE per vector on one core, the "
           "conversion ~10 s)" if method == "hierarchical" else
           "128 row drivers and 512 cell groups take 5..10 min of SPICE per vector on one core)"))
    t0 = time.perf_counter()
    if method == "hierarchical":
        sp, spice_s, counts = hierarchical_spice(tb, m.cell, xi, corner=corner, workers=workers, progress=progress)
    else:
        points = [{"x": xi[b], "corner": "tt"} for b in range(vectors)]
        if mismatch:  # the same vectors on the draw, and on tt for the shift the draw gives
            from .chip_readback import read_chip

            points = [{**p, "corner": corner, "seed": seed} for p in points] + points
            m = m.with_chip_instance(read_chip(m, tb, seed, points[0], workers=workers, progress=progress))
        res = run_sweep(tb, points=points, workers=workers, progress=progress is not None, retry_failed=True)
        failed = [r for r in res.records if not r.ok]
        if failed:
            raise ConvergenceError(f"{len(failed)} of {len(points)} slice simulations failed (the finished ones are "
                                   f"cached; a rerun with the same seed simulates only the failed ones again): "
                                   f"{failed[0].error}")
        recs = res.records[:vectors]
        sp = {k: np.stack([r.measures[k] for r in recs]) for k in recs[0].measures}
        if mismatch:
            sp["t_stop_tt"] = np.stack([r.measures["t_stop"] for r in res.records[vectors:]])
        spice_s = float(sum(r.elapsed_s for r in res.records)) * vectors / len(points)
        counts = {"simulated": res.n_simulated, "cached": res.n_cached}
    if method == "hierarchical":  # the conversion again with the lines on ideal sources: no kick
        say("conversion stage again, the lines held (no VTC input kick)")
        sp.update(_held_line_conversion(tb, m, w_ob, sp, corner, workers, progress))
    spice_wall = time.perf_counter() - t0

    stg = Stages(m)
    t_lsb = m.ta.design.t_lsb
    fs_t = 2**c.output_bits * t_lsb
    # the evaluator (folded fast path) and the block models composed directly
    t_fast = m.continuous_code(xi, w) * t_lsb
    model = stg.all(xi, w_ob)
    # each stage fed SPICE's inputs; the cells take the rows' levels when the column reset opens
    # (the column lines' charge is frozen then: the reset's kick moves the rows afterwards)
    v_row_sp = sp["v_row_frozen"]
    v_col_from_spice_rows = stg.column_voltages(v_row_sp, w_ob)
    v_col_end_of_s = stg.column_voltages(sp["v_row"], w_ob)  # the same fed the rows at the end of S
    from_rows = stg.accumulator(v_col_from_spice_rows, w_ob)
    from_cols = stg.accumulator(sp["v_col"], w_ob)
    t_from_spice_rows, t_from_spice_cols = from_rows["t_stop"], from_cols["t_stop"]
    t_sp = sp["t_stop"]
    # the accumulator voltage at TDC start, in % of the TDC's input range (the swing below vhi that
    # the full-scale stop time covers, to first order): defined whether or not the TDC clips
    vfs = fs_t / m.ta.p_tdc["t1"]
    pv = 100.0 / vfs

    def dv(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        return _stat(a - b, pv)
    inside = np.isfinite(t_sp) & (t_sp > 0) & (t_sp < fs_t) & (t_fast > 0) & (t_fast < fs_t)
    pct = 100.0 / fs_t

    def d(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        return _stat((a - b)[inside], pct)

    shift = None
    if "t_stop_tt" in sp:  # the draw's shift of the stop time, SPICE against the model on the same chip
        t_tt_sp = sp["t_stop_tt"]
        t_tt_model = validation_macro(config).continuous_code(xi, w) * t_lsb
        ok = inside & np.isfinite(t_tt_sp) & (t_tt_sp > 0) & (t_tt_sp < fs_t)
        d_sp, d_md = (t_sp - t_tt_sp)[ok], (t_fast - t_tt_model)[ok]
        shift = {"spice": _stat(d_sp, pct), "model": _stat(d_md, pct), "error": _stat(d_md - d_sp, pct),
                 "correlation": float(np.corrcoef(d_sp, d_md)[0, 1]) if ok.sum() > 2 else float("nan"),
                 "outputs": int(ok.sum())}

    ta_split = None
    if "t_stop_held_lines" in sp:  # the time accumulator's stage = accumulation and TDC + the input's kick
        t_no_kick = m.ta.convert(sp["v_col"][:, 1:], sp["v_col"][:, :1], chip=m.chip.ta)["t_stop"]
        t_held = sp["t_stop_held_lines"]
        ok = inside & np.isfinite(t_held) & (t_held > 0) & (t_held < fs_t)
        ta_split = {"accumulation_and_tdc": _stat((t_no_kick - t_held)[ok], pct),
                    "vtc_input_kick": _stat(((t_from_spice_cols - t_no_kick) - (t_sp - t_held))[ok], pct),
                    "kick_spice": _stat((t_sp - t_held)[ok], pct),
                    "kick_model": _stat((t_from_spice_cols - t_no_kick)[ok], pct), "outputs": int(ok.sum())}

    # the raw circuit error: codes against the ideal product through the readout (design trim)
    alpha, beta = m._design_trim()
    f = m.fold(w_ob)[0]
    ideal_code = (analog_target(c, xi, w_ob, f.ped) - beta) / alpha
    codes_sp = np.minimum(np.floor(np.where(np.isfinite(t_sp), t_sp, fs_t) / t_lsb), 2**c.output_bits - 1)
    codes_fast = np.clip(np.floor(t_fast / t_lsb), 0, 2**c.output_bits - 1)
    # energy per VMM by block
    e_model = m.energy(xi, w_ob)
    e_sp = {"row_drivers": float(sp["e_row"].mean()),
            "cells": float((sp["e_reset"] + sp["e_logic"] + sp["e_cell_well"]).mean()),
            "time_accumulators": float(sp["e_ta"].mean())}
    e_sp["total"] = sum(e_sp.values())
    # the evaluator's time per VMM on the same vectors (best of a few repeats)
    reps = max(1, int(2000 // max(vectors, 1)))
    xr = np.repeat(xi, reps, axis=0)
    m.vmm(xr[:16], w)
    best = min(_timed(lambda: m.vmm(xr, w)) for _ in range(3)) / len(xr)

    report = {
        "config": {"n_inputs": c.n_inputs, "rows_per_subarray": c.rows_per_subarray, "n_sub": c.n_sub,
                   "n_outputs": c.n_outputs, "vectors": vectors, "seed": seed, "corner": corner, "method": method},
        "full_scale_s": fs_t,
        "inside": int(inside.sum()), "outputs": int(inside.size),
        "fidelity_pct_fs": d(t_fast, t_sp),
        "codes_lsb": _stat((codes_fast - codes_sp)[inside]),
        "tdc_input_range_v": vfs,
        "fidelity_vacc_pct": dv(model["v_acc"], sp["v_acc"]),
        "attribution_vacc_pct": {
            "row_driver": dv(model["v_acc"], from_rows["v_acc"]),
            "cell": dv(from_rows["v_acc"], from_cols["v_acc"]),
            "time_accumulator": dv(from_cols["v_acc"], sp["v_acc"]),
        },
        "attribution_pct_fs": {
            "evaluator_folding": d(t_fast, model["t_stop"]),
            "row_driver": d(model["t_stop"], t_from_spice_rows),
            "cell": d(t_from_spice_rows, t_from_spice_cols),
            "time_accumulator": d(t_from_spice_cols, t_sp),
        },
        **({} if ta_split is None else {"time_accumulator_split_pct_fs": ta_split}),
        **({} if shift is None else {"mismatch_shift_pct_fs": shift}),
        "stage_mv": {
            "row_levels": _stat(model["v_row"] - v_row_sp, 1e3),
            "row_kick_after_reset": _stat(sp["v_row"] - v_row_sp, 1e3),
            "column_voltages_rows_end_of_s": {
                side: _stat((v_col_end_of_s - sp["v_col"])[:, cols], 1e3)
                for side, cols in (("reference", slice(0, 1)), ("data", slice(1, None)))},
            "column_voltages": _stat(v_col_from_spice_rows - sp["v_col"], 1e3),
            "column_voltages_reference": _stat((v_col_from_spice_rows - sp["v_col"])[:, :1], 1e3),
            "column_voltages_data": _stat((v_col_from_spice_rows - sp["v_col"])[:, 1:], 1e3),
            "column_voltages_end_to_end": _stat(model["v_col"] - sp["v_col"], 1e3),
            "vtc_kick_on_data_columns": _stat(sp["v_col_end"][:, 1:] - sp["v_col"][:, 1:], 1e3),
        },
        "circuit_error_pct_fs": {"spice": _stat((t_sp / t_lsb - ideal_code)[inside], 100.0 / 2**c.output_bits),
                                 "model": _stat((t_fast / t_lsb - ideal_code)[inside], 100.0 / 2**c.output_bits)},
        "energy_per_vmm_j": {"spice": e_sp, "model": e_model.as_dict()},
        "speed": {"spice_s_per_vmm": spice_s / vectors, "spice_wall_s": spice_wall,
                  "evaluator_s_per_vmm": best, "speedup": (spice_s / vectors) / best if best > 0 else float("inf"),
                  **counts},
        "per_vector": {"t_stop_spice_s": t_sp.tolist(), "t_stop_model_s": t_fast.tolist(),
                       "v_acc_spice_v": sp["v_acc"].tolist(), "v_acc_model_v": model["v_acc"].tolist(),
                       "v_col_spice_v": sp["v_col"].tolist(), "v_col_end_spice_v": sp["v_col_end"].tolist(),
                       "x": xi.tolist(),
                       **({"t_stop_tt_spice_s": sp["t_stop_tt"].tolist()} if "t_stop_tt" in sp else {})},
    }
    say(" | ".join(summary_lines(report)[:2]))
    return report


HELD_LINE_F = 1e-6  #: a line this large does not move when its VTC input takes its few fC (an ideal source)


def _held_line_conversion(tb: SliceTestbench, m: Any, w_ob: np.ndarray, sp: dict[str, Any], corner: str,
                          workers: int | None, progress: Callable[[str], None] | None) -> dict[str, np.ndarray]:
    """The hierarchical conversion stage with every data line on an ideal source at SPICE's level
    (``HELD_LINE_F``): the time accumulator without its input's kick on the line."""
    n = tb.cols * tb.n_sub * tb.cell.groups
    conv = ConversionTestbench(cell=tb.cell, row=tb.row, ta=tb.ta, n_sub=tb.n_sub, rows=tb.rows, cols=tb.cols,
                               weights=tb.weights, ref_word=tb.ref_word, tstep=tb.tstep, options=tb.options,
                               resolve_devices=tb.resolve_devices, c_line=(HELD_LINE_F,) * n)
    v = sp["v_col"]
    kw = {} if workers is None else {"cores": workers}
    res = run_sweeps([(conv, [{"v_line": v[b, 1:], "v_ref": v[b, 0], "corner": corner} for b in range(len(v))])],
                     progress=progress is not None, retry_failed=True, **kw)[0]
    failed = [r for r in res.records if not r.ok]
    if failed:
        raise ConvergenceError(f"{len(failed)} held-line conversions failed: {failed[0].error}")
    return {"t_stop_held_lines": np.stack([r.measures["t_stop"] for r in res.records]),
            "v_acc_held_lines": np.stack([r.measures["v_acc"] for r in res.records])}


def split_bound(end_to_end: dict[str, Any], hierarchical: dict[str, Any]) -> dict[str, Any]:
    """What the hierarchical split costs: SPICE of the same slice and vectors as one deck
    (`end_to_end`, a :func:`validate` report) against the split (`hierarchical`, the same with
    ``method="hierarchical"``). Differences are split - one deck: the stop time (% of the TDC full
    scale, outputs inside the range in both), the accumulator at TDC start (% of the TDC input
    range), the column lines at the ramp start and the data lines at TDC start (mV)."""
    ce, ch = end_to_end["config"], hierarchical["config"]
    same = ("n_sub", "rows_per_subarray", "n_outputs", "vectors", "seed", "corner")
    if any(ce[k] != ch[k] for k in same) or (ce.get("method"), ch.get("method")) != ("end_to_end", "hierarchical"):
        raise ParameterError("split_bound needs an end-to-end and a hierarchical report of the same slice, vectors and "
                             f"seed; got {ce} and {ch}")
    pe, ph = end_to_end["per_vector"], hierarchical["per_vector"]
    fs, vfs = end_to_end["full_scale_s"], end_to_end["tdc_input_range_v"]
    te, th = np.asarray(pe["t_stop_spice_s"], float), np.asarray(ph["t_stop_spice_s"], float)
    ok = np.isfinite(te) & np.isfinite(th) & (te > 0) & (th > 0)
    col_e, col_h = np.asarray(pe["v_col_spice_v"]), np.asarray(ph["v_col_spice_v"])
    end_e, end_h = np.asarray(pe["v_col_end_spice_v"]), np.asarray(ph["v_col_end_spice_v"])
    return {"config": {k: ce[k] for k in same},
            "t_stop_pct_fs": _stat((th - te)[ok], 100.0 / fs), "outputs_compared": int(ok.sum()),
            "v_acc_pct": _stat(np.asarray(ph["v_acc_spice_v"]) - np.asarray(pe["v_acc_spice_v"]), 100.0 / vfs),
            "v_col_mv": {"reference": _stat((col_h - col_e)[:, :1], 1e3), "data": _stat((col_h - col_e)[:, 1:], 1e3)},
            "v_col_end_data_mv": _stat((end_h - end_e)[:, 1:], 1e3),
            "fidelity_rms_pct_fs": {"end_to_end": end_to_end["fidelity_pct_fs"]["rms"],
                                    "hierarchical": hierarchical["fidelity_pct_fs"]["rms"]},
            "spice_s_per_vmm": {"end_to_end": end_to_end["speed"]["spice_s_per_vmm"],
                                "hierarchical": hierarchical["speed"]["spice_s_per_vmm"]}}


def split_bound_lines(b: dict[str, Any]) -> list[str]:
    """A :func:`split_bound` result as short lines of text."""
    c, t = b["config"], b["t_stop_pct_fs"]
    return [f"split bound on the {c['n_sub']} x {c['rows_per_subarray']}-row slice, {c['vectors']} vectors: "
            f"hierarchical - one deck, stop time {t['rms']:.3f} % FS RMS, {t['max']:.3f} % max, mean {t['mean']:+.3f} % "
            f"({b['outputs_compared']} outputs); accumulator at TDC start {b['v_acc_pct']['rms']:.3f} % of the TDC input "
            f"range RMS",
            f"column lines at the ramp start {b['v_col_mv']['data']['rms']:.3f} mV RMS on the data lines "
            f"({b['v_col_mv']['data']['mean']:+.3f} mean), {b['v_col_mv']['reference']['rms']:.3f} mV on the reference "
            f"lines; data lines at TDC start {b['v_col_end_data_mv']['rms']:.3f} mV RMS "
            f"({b['v_col_end_data_mv']['mean']:+.3f} mean)",
            f"fidelity: one deck {b['fidelity_rms_pct_fs']['end_to_end']:.3f} % FS RMS, hierarchical "
            f"{b['fidelity_rms_pct_fs']['hierarchical']:.3f} %; SPICE per VMM {b['spice_s_per_vmm']['end_to_end']:.1f} s "
            f"vs {b['spice_s_per_vmm']['hierarchical']:.1f} s"]


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _row_levels_text(s: dict[str, Any]) -> str:
    rl = s["row_levels"]
    if "row_kick_after_reset" not in s:  # a report whose deck read the rows only when phase S ends
        return f"row levels (at the end of S) {rl['rms']:.2f} mV RMS"
    return (f"row levels (at the column reset opening) {rl['rms']:.2f} mV RMS, mean {rl['mean']:+.2f}; SPICE's rows "
            f"kicked {s['row_kick_after_reset']['mean']:+.2f} mV mean by the end of S")


def _ta_split_text(r: dict[str, Any]) -> list[str]:
    t = r.get("time_accumulator_split_pct_fs")
    if t is None:
        return []
    return [f"time accumulator stage split (% FS RMS / mean): accumulation and TDC (model without the kick vs SPICE "
            f"on held lines) {t['accumulation_and_tdc']['rms']:.3f} / {t['accumulation_and_tdc']['mean']:+.3f}, the VTC "
            f"input's kick {t['vtc_input_kick']['rms']:.3f} / {t['vtc_input_kick']['mean']:+.3f} (SPICE's kick moves the "
            f"stop time {t['kick_spice']['mean']:+.3f}, the model's {t['kick_model']['mean']:+.3f})"]


def _end_of_s_text(s: dict[str, Any]) -> str:
    e = s.get("column_voltages_rows_end_of_s")
    return "" if e is None else f"; fed the rows at the end of S {e['reference']['mean']:+.2f} / {e['data']['mean']:+.2f}"


def _shift_text(r: dict[str, Any]) -> list[str]:
    if "mismatch_shift_pct_fs" not in r:
        return []
    s = r["mismatch_shift_pct_fs"]
    return [f"the draw's shift of the stop time (tt_mm - tt, % FS RMS): SPICE {s['spice']['rms']:.3f}, model "
            f"{s['model']['rms']:.3f}; model - SPICE {s['error']['rms']:.3f} RMS, {s['error']['max']:.3f} max, "
            f"correlation {s['correlation']:.2f} ({s['outputs']} outputs)"]


def summary_lines(r: dict[str, Any]) -> list[str]:
    """The report as short lines of text."""
    f, a, s, e = r["fidelity_pct_fs"], r["attribution_pct_fs"], r["stage_mv"], r["energy_per_vmm_j"]
    c = r["config"]
    how = " (hierarchical: each sub-array to the ramp start, then the conversion)" \
        if c.get("method") == "hierarchical" else ""
    lines = [f"slice {c['n_sub']} x {c['rows_per_subarray']} rows, {c['n_outputs']} columns, {c['vectors']} vectors "
             f"({r['inside']} of {r['outputs']} outputs inside the range in both){how}",
             f"fidelity (model - SPICE stop time): {f['rms']:.3f} % FS RMS, {f['max']:.3f} % max, mean {f['mean']:+.3f} %; "
             f"codes {r['codes_lsb']['rms']:.2f} LSB RMS, {r['codes_lsb']['max']:.0f} max",
             f"accumulator voltage at TDC start (model - SPICE): {r['fidelity_vacc_pct']['rms']:.3f} % of the TDC input "
             f"range ({r['tdc_input_range_v'] * 1e3:.0f} mV) RMS, mean {r['fidelity_vacc_pct']['mean']:+.3f} %; per stage "
             + ", ".join(f"{k} {v['rms']:.3f} / {v['mean']:+.3f}" for k, v in r["attribution_vacc_pct"].items()),
             "stop time per stage (% FS RMS / mean): " + ", ".join(f"{k} {v['rms']:.3f} / {v['mean']:+.3f}" for k, v in a.items()),
             *_ta_split_text(r), *_shift_text(r),
             _row_levels_text(s) + "; column voltages (cell model on SPICE rows) "
             f"{s['column_voltages']['rms']:.2f} mV RMS (reference column mean {s['column_voltages_reference']['mean']:+.2f}, "
             f"data {s['column_voltages_data']['mean']:+.2f}" + _end_of_s_text(s) + "); VTC kick on the "
             f"data columns by TDC start {s['vtc_kick_on_data_columns']['mean']:+.1f} mV mean",
             f"circuit error vs ideal: SPICE {r['circuit_error_pct_fs']['spice']['rms']:.2f} % FS RMS, model "
             f"{r['circuit_error_pct_fs']['model']['rms']:.2f} %",
             f"energy per VMM: SPICE {e['spice']['total'] * 1e12:.2f} pJ, model {e['model']['total'] * 1e12:.2f} pJ "
             f"(row {e['spice']['row_drivers'] * 1e12:.2f} / {e['model']['row_drivers'] * 1e12:.2f}, cells "
             f"{e['spice']['cells'] * 1e12:.2f} / {e['model']['cells'] * 1e12:.2f}, TA "
             f"{e['spice']['time_accumulators'] * 1e12:.2f} / {e['model']['time_accumulators'] * 1e12:.2f})",
             f"speed: SPICE {r['speed']['spice_s_per_vmm']:.1f} s per VMM, evaluator "
             f"{r['speed']['evaluator_s_per_vmm'] * 1e6:.1f} us: {r['speed']['speedup']:.3g} x"]
    return lines
