"""Behavioral model of the time-accumulator variant ``pump_local_bias``: ``pump_single_slope``'s
model on this variant's calibration (``calibration/time_accumulator/pump_local_bias.json``)."""
from __future__ import annotations

from ..pump_single_slope.model import TimeAccumulatorModel
from .calibration import LocalBiasTACalibration

__all__ = ["LocalBiasTimeAccumulatorModel"]


class LocalBiasTimeAccumulatorModel(TimeAccumulatorModel):
    """Fitted model of the local-bias time accumulator."""

    calibration_class = LocalBiasTACalibration
