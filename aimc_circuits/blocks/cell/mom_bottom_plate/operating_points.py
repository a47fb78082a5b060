"""Operating points of the cell variant ``mom_bottom_plate``: random columns of 4, 16, 64 and 128
rows (``ColumnTestbench``, as in the characterization; 64 rows and more as resolved decks) at
every corner x temperature, the column model refitted there, -> the calibration's
``operating_points`` section (:mod:`aimc_circuits.blocks.operating_point`).

Shifted by the law (all add): the column parasitic per row ``p_row`` and the fixed column load
``p_fix`` (the switches' junction capacitances: the column's attenuation), the reset switch's
feedthrough ``v_ft`` and charge injection ``q_inj`` (the column's offset). The column heights
separate the per-row, the fixed and the 1/C parts, and the shifts carry over to other heights
through the model's R-law (as the reference model's parameters do). One set of four shifts does
not describe every height equally well (the 4- and 16-row columns move by up to 1.3 % FS, the
macro's 128 rows by 0.1 %), so each column's residual is weighted by R / 128 (``row_weight``): the
law is made for the macro's tall columns, and short ones carry more of its error (the checks are
per column height; equal weights left 0.21 % FS of law error at 128 rows, worse than the tt model). Held at the
reference: the injection's split terms q_2, q_c, the junction nonlinearity a2, capacitor mismatch
(the MOM capacitors have no process-corner model here), energy and the unit capacitance. kT/C
noise follows the temperature.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ....spice.sweep import combined_provenance, run_sweep
from ...operating_point import (CORNERS, FIT_TEMPS_C, HELD_OUT_TEMPS_C, T_REF_C, build_section, check_entry,
                                op_key, operating_grid, parse_op_key, summarize_checks)
from .characterize import RESOLVE_FROM_ROWS, _column_data, _random_points
from .fit import fit_column_subset
from .model import column_voltage, full_scale
from .testbench import ColumnTestbench

__all__ = ["OP_PARAMS", "OP_ROWS", "characterize_operating_points", "checks_by_rows", "column_sweeps", "concat_rows",
           "op_patterns", "row_weight", "rows_data"]

OP_PARAMS = {
    "p_row": ("add", "Cu", "column parasitic per row"),
    "p_fix": ("add", "Cu", "fixed column load"),
    "v_ft": ("add", "V", "reset-switch feedthrough"),
    "q_inj": ("add", "Cu V", "reset-switch charge injection"),
}
#: column heights simulated at every operating point: random patterns per height (64 rows and
#: more run as resolved decks, as in the characterization, ~42 s a 128-row transient)
OP_ROWS = {4: 4, 16: 4, 64: 2, 128: 2}
#: the random patterns come from default_rng(this) (below RESOLVE_FROM_ROWS, then the 128 rows) and
#: default_rng(this + 1) (64 rows)
OP_SEED = 91
#: the macro's column height: its checks are reported on their own
TALL_ROWS = 128


def op_patterns(d: Any) -> dict[int, list[dict[str, Any]]]:
    """The random column patterns per height (OP_ROWS) the operating points simulate."""
    rng = np.random.default_rng(OP_SEED)
    pats = {R: _random_points(rng, n, R, d) for R, n in OP_ROWS.items() if R < RESOLVE_FROM_ROWS}
    pats[TALL_ROWS] = _random_points(rng, OP_ROWS[TALL_ROWS], TALL_ROWS, d)
    rng_tall = np.random.default_rng(OP_SEED + 1)
    pats.update({R: _random_points(rng_tall, n, R, d) for R, n in OP_ROWS.items()
                 if RESOLVE_FROM_ROWS <= R < TALL_ROWS})
    return pats


def column_sweeps(d: Any, pats: dict[int, list[dict[str, Any]]], ops: list[tuple[str, float]],
                  progress: bool = False) -> list[Any]:
    """One sweep per column height of design `d`: every pattern at every (corner, temperature)."""
    results = [run_sweep(ColumnTestbench(design=d, rows=R, resolve_devices=R >= RESOLVE_FROM_ROWS),
                         points=[dict(q, corner=c, temp=t) for c, t in ops for q in pats[R]],
                         progress=progress, retry_failed=True) for R in OP_ROWS]
    failed = [r for res in results for r in res.failed]
    if failed:
        raise RuntimeError("cell column sweep failed at " +
                           ", ".join(sorted({op_key(r.point["corner"], r.point["temp"]) for r in failed})))
    return results


def rows_data(results: list[Any], d: Any, corner: str, temp: float) -> dict[int, dict[str, np.ndarray]]:
    """Column height -> the flattened columns (s, n, rows, vcol) of one operating point."""
    return {R: _column_data(res.where(corner=corner, temp=temp), d, R) for R, res in zip(OP_ROWS, results)}


def row_weight(data: dict[str, np.ndarray]) -> np.ndarray:
    """The refits' weight of each column: its height over the macro's (R / 128)."""
    return np.asarray(data["rows"], dtype=float) / TALL_ROWS


def concat_rows(by_rows: dict[int, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in by_rows.values()]) for k in ("s", "n", "rows", "vcol")}


def characterize_operating_points(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate random columns of `model`'s design at every operating point, refit the shifted
    parameters, and return the ``operating_points`` section (laws, refits, checks against SPICE)."""
    d = model.design
    M = d.max_code
    grid = operating_grid()
    results = column_sweeps(d, op_patterns(d), grid, progress)
    by_rows = {op_key(c, t): rows_data(results, d, c, t) for c, t in grid}
    data = {k: concat_rows(v) for k, v in by_rows.items()}
    base = dict(model.params)
    refits = {k: {p: v for p, v in fit_column_subset(dd, M, d.vr, base, tuple(OP_PARAMS), row_weight(dd)).items()
                  if p in OP_PARAMS} for k, dd in data.items()}
    section = build_section(OP_PARAMS, refits)
    probe = model.with_operating_points(section)
    ref = op_key("tt", T_REF_C)
    dr = data[ref]
    fs = full_scale(dr["rows"], M, d.v_fs, base["p_row"], base["p_fix"])

    def predict(m, dd):
        return column_voltage(dd["s"], dd["n"], dd["rows"], M, d.vr, m.params)

    checks = {k: check_entry(predict(probe.at_operating_point(*parse_op_key(k), warn=False), dd), dd["vcol"],
                             predict(model, dr), dr["vcol"], fs / 100, "% FS") for k, dd in data.items()}
    checks_rows = checks_by_rows(model, {k: (probe.at_operating_point(*parse_op_key(k), warn=False), v)
                                         for k, v in by_rows.items()}, by_rows[ref])
    section.update(checks=checks, summary=summarize_checks(checks), checks_rows=checks_rows,
                   summary_rows={R: summarize_checks(v) for R, v in checks_rows.items()},
                   checked=f"group column voltages of random columns of {', '.join(map(str, OP_ROWS))} rows, "
                           f"model at the operating point vs SPICE (% of the column's full scale); shift_*: the "
                           f"error of the change from tt / 27 C",
                   held_at_reference="injection split q_2, q_c; junction nonlinearity a2; capacitor mismatch; "
                                     "energy; the unit capacitance",
                   provenance={**combined_provenance(results), "corners": list(CORNERS), "temps_c": [*FIT_TEMPS_C],
                               "held_out_temps_c": [*HELD_OUT_TEMPS_C],
                               "points_per_rows": {str(r): n for r, n in OP_ROWS.items()}, "random_seed": OP_SEED})
    return section


def checks_by_rows(model: Any, moved: dict[str, tuple[Any, dict[int, dict[str, np.ndarray]]]],
                   ref_rows: dict[int, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """Per column height (each against its own full scale): the moved model at each key against
    SPICE there (`moved`: key -> (model, height -> columns)), shifts from `ref_rows`."""
    d, M, base = model.design, model.design.max_code, model.params
    out = {}
    for R in OP_ROWS:
        tr = ref_rows[R]
        tfs = full_scale(R, M, d.v_fs, base["p_row"], base["p_fix"])
        out[str(R)] = {k: check_entry(column_voltage(cols[R]["s"], cols[R]["n"], cols[R]["rows"], M, m.design.vr,
                                                     m.params), cols[R]["vcol"],
                                      column_voltage(tr["s"], tr["n"], tr["rows"], M, d.vr, base), tr["vcol"],
                                      tfs / 100, "% FS") for k, (m, cols) in moved.items()}
    return out
