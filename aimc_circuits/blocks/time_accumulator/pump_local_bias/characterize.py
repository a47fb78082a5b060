"""Characterize the time-accumulator variant ``pump_local_bias`` in SPICE: ``pump_single_slope``'s
sweeps and fits (:func:`..pump_single_slope.characterize.characterize_time_accumulator`) on this
variant's design and netlist."""
from __future__ import annotations

from typing import Any

from ..pump_single_slope.characterize import characterize_time_accumulator
from .design import LocalBiasTADesign

__all__ = ["characterize_local_bias"]


def characterize_local_bias(design: LocalBiasTADesign | None = None, profile: str = "fast", seed: int = 5,
                            progress: bool = False) -> dict[str, Any]:
    """The calibration content of `design` (default: :class:`LocalBiasTADesign`)."""
    return characterize_time_accumulator(design or LocalBiasTADesign(), profile=profile, seed=seed, progress=progress)
