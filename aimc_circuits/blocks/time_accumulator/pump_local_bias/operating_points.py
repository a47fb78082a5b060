"""Operating points of the time-accumulator variant ``pump_local_bias``: ``pump_single_slope``'s, run on
this variant's design (its testbenches read the design's netlist)."""
from __future__ import annotations

from ..pump_single_slope.operating_points import characterize_operating_points

__all__ = ["characterize_operating_points"]
