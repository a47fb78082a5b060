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

__all__ = ["OP_PARAMS", "characterize_operating_points", "check_static_transfer", "static_refit"]

#: the parameters the operating point moves: name -> (kind, unit, meaning)
OP_PARAMS = {
    "v0": ("add", "V", "static model's code-0 level"),
    "u": ("mul", "V", "static model's unit step"),
    "a2": ("add", "1/V", "static model's compression"),
    **{f"eps{k}": ("add", "", f"static model's relative weight error of bit {k}") for k in range(1, BITS)},
    "p_static": ("mul", "W", "static supply power (bias and DAC), mean over the codes"),
}


def static_refit(tb: RowTransferTestbench, points: list[dict[str, Any]], progress: bool = False) -> dict[str, Any]:
    """The static transfer at each point (corner, temp) and its refit of OP_PARAMS:
    {"sweep", "curves": op_key -> levels (V), "refits": op_key -> {name: value}}."""
    res = run_sweep(tb, points=points, progress=progress, retry_failed=True)
    if res.failed:
        raise RuntimeError("row-driver static-transfer sweep failed at " +
                           ", ".join(op_key(r.point["corner"], r.point["temp"]) for r in res.failed))
    curves, refits = {}, {}
    for r in res.records:
        key = op_key(r.point["corner"], r.point["temp"])
        v = np.asarray(r.measures["v_row"], dtype=float)
        fit = fit_static(v)["params"]
        curves[key] = v
        refits[key] = {**{k: fit[k]["value"] for k in OP_PARAMS if k != "p_static"},
                       "p_static": float(tb.design.vdd * np.mean(r.measures["i_vdd"]))}
    return {"sweep": res, "curves": curves, "refits": refits}


def check_static_transfer(moved: Any, model: Any, curve: np.ndarray, curve_ref: np.ndarray) -> dict[str, float]:
    """The moved model's static transfer against SPICE's `curve` (LSB of the reference model)."""
    return check_entry(moved.level_table(), curve, model.level_table(), curve_ref, model.lsb, "LSB")


def characterize_operating_points(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate the static transfer of `model`'s design at every operating point, refit, and
    return the ``operating_points`` section (laws, refits, checks against SPICE)."""
    d = model.design
    res = static_refit(RowTransferTestbench(design=d), [{"corner": c, "temp": t} for c, t in operating_grid()],
                       progress)
    curves = res["curves"]
    section = build_section(OP_PARAMS, res["refits"])
    ref = op_key("tt", T_REF_C)
    probe = model.with_operating_points(section)
    checks = {key: check_static_transfer(probe.at_operating_point(*parse_op_key(key), warn=False), model, curves[key],
                                         curves[ref]) for key in curves}
    section.update(checks=checks, summary=summarize_checks(checks),
                   checked="the static 256-code transfer, model at the operating point vs SPICE (LSB of the "
                           "reference transfer); shift_*: the error of the change from tt / 27 C",
                   held_at_reference="the per-code residual of the smooth static model, the loaded-line "
                                     "dynamic model, mismatch, noise",
                   provenance={**combined_provenance([res["sweep"]]), "corners": list(CORNERS), "temps_c": [*FIT_TEMPS_C],
                               "held_out_temps_c": [*HELD_OUT_TEMPS_C]})
    return section
