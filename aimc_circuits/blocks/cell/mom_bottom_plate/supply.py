"""Supply law of the cell variant ``mom_bottom_plate``: the operating points' random columns of 4,
16, 64 and 128 rows (``ColumnTestbench``) and the gate-drive testbench at tt / 27 C on every
supply of :func:`aimc_circuits.blocks.supply.supply_grid` (the column reset level vr is the rail,
so it moves with it; the row levels are the row driver's, set by its ideal DAC reference),
refitted there (columns weighted as in the operating points) -> the calibration's ``supply`` section. Shifted by the law: the column parameters
of the operating-point law (p_row, p_fix, v_ft, q_inj; add), the array energy (the row drivers'
and the reset's supply energy, e_s, e_n, e_r by one factor; mul) and the switch gate-drive
energy (mul)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ....spice.sweep import combined_provenance, run_sweep
from ...operating_point import check_entry
from ...supply import build_supply_section, summarize_supply, supply_grid, supply_key
from .characterize import column_energy_terms
from .fit import fit_column_subset
from .model import column_voltage, full_scale
from .operating_points import (OP_PARAMS, OP_ROWS, checks_by_rows, column_sweeps, concat_rows, op_patterns, row_weight,
                               rows_data)
from .testbench import GateEnergyTestbench

__all__ = ["SUPPLY_PARAMS", "characterize_supply"]

SUPPLY_PARAMS = {**OP_PARAMS,
                 "e_array": ("mul", "J", "array supply energy per cycle (row drivers' charge from vdd, reset from vr)"),
                 "e_gate": ("mul", "J", "switch gate-drive energy per cycle")}


def _array_energy(e_fit: dict[str, float], s, n, r) -> np.ndarray:
    return e_fit["e_s"] * s + e_fit["e_n"] * n + e_fit["e_r"] * r


def characterize_supply(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate the columns and the gate drive of `model`'s design on every supply at tt / 27 C,
    refit, and return the ``supply`` section (law, refits, checks against SPICE)."""
    d, M, base = model.design, model.design.max_code, dict(model.params)
    pats = op_patterns(d)
    fit_v, held_v = supply_grid(d.vdd)
    by_rows, energy, refits, sweeps = {}, {}, {}, []
    for v in sorted({*fit_v, *held_v}):
        dv = d.at_supply(v)
        results = column_sweeps(dv, pats, [("tt", 27.0)], progress)
        gate = run_sweep(GateEnergyTestbench(design=dv), points=[{}], progress=progress, retry_failed=True)
        if gate.failed:
            raise RuntimeError(f"cell gate-energy testbench failed at vdd={v} V: {gate.failed[0].error}")
        sweeps += [*results, gate]
        by_rows[v] = rows_data(results, dv, "tt", 27.0)
        s, n, r, e = column_energy_terms([rec for res in results for rec in res.records], dv)
        e_model = _array_energy(model.e_fit, s, n, r)
        energy[v] = (e, e_model, (s, n, r))
        cols = concat_rows(by_rows[v])
        refits[v] = {**{p: x for p, x in fit_column_subset(cols, M, dv.vr, base, tuple(OP_PARAMS),
                                                             row_weight(cols)).items() if p in OP_PARAMS},
                     "e_array": float(e @ e_model / (e_model @ e_model)),
                     "e_gate": float(gate.records[0].measures["e_gate"])}
    section = build_supply_section(SUPPLY_PARAMS, refits, d.vdd)
    probe = model.with_operating_points(section, "supply")
    moved = {v: probe.at_operating_point("tt", 27.0, v, warn=False) for v in by_rows}
    dr = concat_rows(by_rows[d.vdd])
    fs = full_scale(dr["rows"], M, d.v_fs, base["p_row"], base["p_fix"])
    ref_v = column_voltage(dr["s"], dr["n"], dr["rows"], M, d.vr, base)
    checks = {supply_key(v): check_entry(column_voltage(dd["s"], dd["n"], dd["rows"], M, moved[v].design.vr,
                                                        moved[v].params), dd["vcol"], ref_v, dr["vcol"], fs / 100,
                                         "% FS") for v, dd in ((v, concat_rows(b)) for v, b in by_rows.items())}
    checks_rows = checks_by_rows(model, {supply_key(v): (moved[v], b) for v, b in by_rows.items()}, by_rows[d.vdd])
    e_ref = energy[d.vdd][0]
    scale = float(np.mean(e_ref)) / 100
    checks_energy = {supply_key(v): check_entry(_array_energy(moved[v].e_fit, *inputs), e, energy[d.vdd][1], e_ref,
                                                scale, "% of the mean array energy")
                     for v, (e, _, inputs) in energy.items()}
    section.update(checks=checks, summary=summarize_supply(checks, d.vdd), checks_rows=checks_rows,
                   summary_rows={R: summarize_supply(c, d.vdd) for R, c in checks_rows.items()},
                   checks_energy=checks_energy, summary_energy=summarize_supply(checks_energy, d.vdd),
                   checked=f"group column voltages of random columns of {', '.join(map(str, OP_ROWS))} rows (% of "
                           f"the column's full scale) and their array energy per cycle, model on the supply vs "
                           f"SPICE; shift_*: the error of the change from the reference supply",
                   held_at_reference="as in the operating points; the unit capacitance",
                   provenance={**combined_provenance(sweeps), "corner": "tt", "temperature_c": 27.0})
    return section
