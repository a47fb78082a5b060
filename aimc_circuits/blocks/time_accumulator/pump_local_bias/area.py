"""Area parts of the time-accumulator variant ``pump_local_bias``: ``pump_single_slope``'s, run on
this variant's design (the parts are read from its netlist)."""
from __future__ import annotations

from ..pump_single_slope.area import area_parts

__all__ = ["area_parts"]
