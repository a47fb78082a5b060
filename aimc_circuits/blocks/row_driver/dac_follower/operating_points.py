"""Operating points of the row-driver variant ``dac_follower``: the static transfer at every
corner x temperature (``RowTransferTestbench``, the 256-code DC sweep of the characterization),
refitted there, -> the calibration's ``operating_points`` section
(:mod:`aimc_circuits.blocks.operating_point`).

Shifted by the law: the static model's code-0 level ``v0`` (add), its unit step ``u`` (mul), its
compression ``a2`` and bit-weight errors ``eps1..7`` (add), and the static (bias and DAC) supply power (mul; it scales the energy
model's static terms e0, e1). Held at the reference (tt / 27 C): the per-code residual of
the smooth model, the loaded-line dynamic model, mismatch and noise; the checks
below include what that leaves.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ....spice.sweep import combined_provenance, run_sweep
from ...operating_point import (CORNERS, FIT_TEMPS_C, HELD_OUT_TEMPS_C, T_REF_C, build_section, check_entry,
                                op_key, operating_grid, parse_op_key, summarize_checks)
from .fit import fit_static
from .model import BITS
from .testbench import RowTransferTestbench

__all__ = ["OP_PARAMS", "characterize_operating_points"]

#: the parameters the operating point moves: name -> (kind, unit, meaning)
OP_PARAMS = {
    "v0": ("add", "V", "static model's code-0 level"),
    "u": ("mul", "V", "static model's unit step"),
    "a2": ("add", "1/V", "static model's compression"),
    **{f"eps{k}": ("add", "", f"static model's relative weight error of bit {k}") for k in range(1, BITS)},
    "p_static": ("mul", "W", "static supply power (bias and DAC), mean over the codes"),
}


def characterize_operating_points(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate the static transfer of `model`'s design at every operating point, refit, and
    return the ``operating_points`` section (laws, refits, checks against SPICE)."""
    d = model.design
    grid = operating_grid()
    res = run_sweep(RowTransferTestbench(design=d), points=[{"corner": c, "temp": t} for c, t in grid],
                    progress=progress, retry_failed=True)
    if res.failed:
        raise RuntimeError("row-driver operating-point sweep failed at " +
                           ", ".join(op_key(r.point["corner"], r.point["temp"]) for r in res.failed))
    curves, refits = {}, {}
    for r in res.records:
        key = op_key(r.point["corner"], r.point["temp"])
        v = np.asarray(r.measures["v_row"], dtype=float)
        fit = fit_static(v)["params"]
        curves[key] = v
        refits[key] = {**{k: fit[k]["value"] for k in OP_PARAMS if k != "p_static"},
                       "p_static": float(d.cell.vdd * np.mean(r.measures["i_vdd"]))}
    section = build_section(OP_PARAMS, refits)
    ref = op_key("tt", T_REF_C)
    table_ref = model.level_table()
    probe = model.with_operating_points(section)
    checks = {}
    for key in curves:
        m = probe.at_operating_point(*parse_op_key(key), warn=False)
        checks[key] = check_entry(m.level_table(), curves[key], table_ref, curves[ref], model.lsb, "LSB")
    section.update(checks=checks, summary=summarize_checks(checks),
                   checked="the static 256-code transfer, model at the operating point vs SPICE (LSB of the "
                           "reference transfer); shift_*: the error of the change from tt / 27 C",
                   held_at_reference="the per-code residual of the smooth static model, the loaded-line "
                                     "dynamic model, mismatch, noise",
                   provenance={**combined_provenance([res]), "corners": list(CORNERS), "temps_c": [*FIT_TEMPS_C],
                               "held_out_temps_c": [*HELD_OUT_TEMPS_C]})
    return section

