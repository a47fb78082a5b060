"""Operating points of the cell variant ``mom_bottom_plate``: random columns of 4, 16 and 64 rows
(``ColumnTestbench``, as in the characterization) at every corner x temperature, the column
model refitted there, -> the calibration's ``operating_points`` section
(:mod:`aimc_circuits.blocks.operating_point`).

Shifted by the law (all add): the column parasitic per row ``p_row`` and the fixed column load
``p_fix`` (the switches' junction capacitances: the column's attenuation), the reset switch's
feedthrough ``v_ft`` and charge injection ``q_inj`` (the column's offset). Three column heights
separate the per-row, the fixed and the 1/C parts, so the shifts carry over to other heights
through the model's R-law (as the reference model's parameters do; with 4 and 16 rows alone the
split went wrong: the law then moved 128-row columns by 0.3 % FS that SPICE did not move); the
checks are at those heights and, at the reference and three extreme operating points, at the
macro's 128 rows (resolved decks). Held at the reference: the injection's
split terms q_2, q_c, the junction nonlinearity a2, capacitor mismatch (the MOM capacitors have no
process-corner model here), energy and the unit capacitance. kT/C noise follows the temperature.
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

__all__ = ["OP_PARAMS", "OP_ROWS", "TALL_OPS", "characterize_operating_points"]

OP_PARAMS = {
    "p_row": ("add", "Cu", "column parasitic per row"),
    "p_fix": ("add", "Cu", "fixed column load"),
    "v_ft": ("add", "V", "reset-switch feedthrough"),
    "q_inj": ("add", "Cu V", "reset-switch charge injection"),
}
#: column heights simulated at every operating point: random patterns per height (64 rows and
#: more run as resolved decks, as in the characterization; their patterns come from
#: default_rng(OP_SEED + 1))
OP_ROWS = {4: 4, 16: 4, 64: 2}
#: the random patterns come from default_rng(this)
OP_SEED = 91
#: the law checked at the macro's column height (resolved decks, ~42 s a transient): these
#: operating points (the reference and the extremes), this many random patterns
TALL_ROWS = 128
TALL_OPS = (("tt", 27.0), ("ss", -40.0), ("ff", 85.0), ("fs", 60.0))
TALL_POINTS = 2


def characterize_operating_points(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate random columns of `model`'s design at every operating point, refit the shifted
    parameters, and return the ``operating_points`` section (laws, refits, checks against SPICE)."""
    d = model.design
    M = d.max_code
    rng = np.random.default_rng(OP_SEED)
    pats = {R: _random_points(rng, n, R, d) for R, n in OP_ROWS.items() if R < RESOLVE_FROM_ROWS}
    tall_pats = _random_points(rng, TALL_POINTS, TALL_ROWS, d)
    rng_tall = np.random.default_rng(OP_SEED + 1)
    pats.update({R: _random_points(rng_tall, n, R, d) for R, n in OP_ROWS.items() if R >= RESOLVE_FROM_ROWS})
    grid = operating_grid()
    results = [run_sweep(ColumnTestbench(design=d, rows=R, resolve_devices=R >= RESOLVE_FROM_ROWS),
                         points=[dict(q, corner=c, temp=t) for c, t in grid for q in pats[R]],
                         progress=progress, retry_failed=True) for R in OP_ROWS]
    failed = [r for res in results for r in res.failed]
    if failed:
        raise RuntimeError("cell operating-point sweep failed at " +
                           ", ".join(sorted({op_key(r.point["corner"], r.point["temp"]) for r in failed})))
    data = {}
    for c, t in grid:
        parts = [_column_data(res.where(corner=c, temp=t), d, R) for R, res in zip(OP_ROWS, results)]
        data[op_key(c, t)] = {k: np.concatenate([p[k] for p in parts]) for k in ("s", "n", "rows", "vcol")}
    base = dict(model.params)
    refits = {k: {p: v for p, v in fit_column_subset(dd, M, d.vr, base, tuple(OP_PARAMS)).items() if p in OP_PARAMS}
              for k, dd in data.items()}
    section = build_section(OP_PARAMS, refits)
    probe = model.with_operating_points(section)
    ref = op_key("tt", T_REF_C)
    dr = data[ref]
    fs = full_scale(dr["rows"], M, d.v_fs, base["p_row"], base["p_fix"])

    def predict(m, dd):
        return column_voltage(dd["s"], dd["n"], dd["rows"], M, d.vr, m.params)

    checks = {k: check_entry(predict(probe.at_operating_point(*parse_op_key(k), warn=False), dd), dd["vcol"],
                             predict(model, dr), dr["vcol"], fs / 100, "% FS") for k, dd in data.items()}
    # at the macro's column height, above the refits' heights: the R-law carries the shifts
    tall = run_sweep(ColumnTestbench(design=d, rows=TALL_ROWS, resolve_devices=True),
                     points=[dict(q, corner=c, temp=t) for c, t in TALL_OPS for q in tall_pats],
                     progress=progress, retry_failed=True)
    if tall.failed:
        raise RuntimeError(f"cell operating-point check at {TALL_ROWS} rows failed: {tall.failed[0].error}")
    tdata = {op_key(c, t): _column_data(tall.where(corner=c, temp=t), d, TALL_ROWS) for c, t in TALL_OPS}
    tr = tdata[ref]
    tfs = full_scale(TALL_ROWS, M, d.v_fs, base["p_row"], base["p_fix"])
    tall_checks = {k: check_entry(predict(probe.at_operating_point(*parse_op_key(k), warn=False), dd), dd["vcol"],
                                  predict(model, tr), tr["vcol"], tfs / 100, "% FS") for k, dd in tdata.items()}
    section.update(checks=checks, summary=summarize_checks(checks), checks_tall_column=tall_checks,
                   tall_column={"rows": TALL_ROWS, "points": TALL_POINTS, "resolved_devices": True,
                                "summary": summarize_checks(tall_checks)},
                   checked=f"group column voltages of random columns of {', '.join(map(str, OP_ROWS))} rows, "
                           f"model at the operating point vs SPICE (% of the column's full scale); shift_*: the "
                           f"error of the change from tt / 27 C",
                   held_at_reference="injection split q_2, q_c; junction nonlinearity a2; capacitor mismatch; "
                                     "energy; the unit capacitance",
                   provenance={**combined_provenance([*results, tall]), "corners": list(CORNERS), "temps_c": [*FIT_TEMPS_C],
                               "held_out_temps_c": [*HELD_OUT_TEMPS_C],
                               "points_per_rows": {str(r): n for r, n in OP_ROWS.items()}, "random_seed": OP_SEED})
    return section
