"""Supply law of the row-driver variant ``dac_follower``: the static transfer
(``RowTransferTestbench``, the 256-code DC sweep) at tt / 27 C on every supply of
:func:`aimc_circuits.blocks.supply.supply_grid`, refitted there (the parameters of the
operating-point law: v0, u, a2, eps1..7, static power), -> the calibration's ``supply`` section.
The loaded line's charge is drawn from the rail: its energy scales as vdd (see the model)."""
from __future__ import annotations

from typing import Any

from ....spice.sweep import combined_provenance
from ...supply import build_supply_section, summarize_supply, supply_grid, supply_key
from .operating_points import OP_PARAMS, check_static_transfer, static_refit
from .testbench import RowTransferTestbench

__all__ = ["characterize_supply"]


def characterize_supply(model: Any, progress: bool = False) -> dict[str, Any]:
    """Simulate the static transfer of `model`'s design on every supply at tt / 27 C, refit, and
    return the ``supply`` section (law, refits, checks against SPICE)."""
    d = model.design
    fit_v, held_v = supply_grid(d.vdd)
    curves, refits, sweeps = {}, {}, []
    for v in sorted({*fit_v, *held_v}):
        dv = d.at_supply(v)
        res = static_refit(RowTransferTestbench(design=dv), [{"corner": "tt", "temp": 27.0}], progress)
        sweeps.append(res["sweep"])
        curves[v], refits[v] = res["curves"]["tt@27"], res["refits"]["tt@27"]
    section = build_supply_section(OP_PARAMS, refits, d.vdd)
    probe = model.with_operating_points(section, "supply")
    checks = {supply_key(v): check_static_transfer(probe.at_operating_point("tt", 27.0, v, warn=False), model,
                                                   curves[v], curves[d.vdd]) for v in curves}
    section.update(checks=checks, summary=summarize_supply(checks, d.vdd), checked="the static 256-code transfer, model on the supply vs SPICE (LSB of the "
                   "reference transfer); shift_*: the error of the change from the reference supply",
                   held_at_reference="as in the operating points; the line's charge energy scales as vdd",
                   provenance={**combined_provenance(sweeps), "corner": "tt", "temperature_c": 27.0})
    return section
