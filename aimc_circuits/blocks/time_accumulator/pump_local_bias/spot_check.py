"""Spot check of the time-accumulator variant ``pump_local_bias``: ``pump_single_slope``'s, run on
this variant's design (its testbenches read the design's netlist)."""
from __future__ import annotations

from ..pump_single_slope.spot_check import spot_check

__all__ = ["spot_check"]
