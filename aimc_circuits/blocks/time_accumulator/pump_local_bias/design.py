"""Design parameters of the time-accumulator variant ``pump_local_bias`` (SPICE-free): the
parameters of ``pump_single_slope`` on the netlist ``netlists/time_accumulator_local_bias.sp``,
where each VTC's comparators and pumps mirror their own local bias pair."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...design import param
from ..pump_single_slope.design import TADesign

__all__ = ["LocalBiasTADesign"]


@dataclass(frozen=True)
class LocalBiasTADesign(TADesign):
    """:class:`TADesign` of the local-bias circuit (same fields, units and ranges). The ramp has
    twice the shipped capacitance and sink current (the same slope): a comparator's switching
    kicks it half as far."""

    netlist: ClassVar[str] = "time_accumulator_local_bias"
    mr: int = param(32, "", "ramp sink units (slope ~ mr i0 / C_ramp)", 1, 1024, integer=True)
    cr_w: float = param(26.0, "um", "ramp MIM capacitor side", 1.0, 100.0)
    t_reset: float = param(1.0e-9, "s", "reset phase", 0.0, 1e-6, lo_open=True)
