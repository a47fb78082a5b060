"""Typed calibration of the time-accumulator variant ``pump_local_bias``
(``calibration/time_accumulator/pump_local_bias.json``): the fields of ``pump_single_slope``'s."""
from __future__ import annotations

from typing import ClassVar

from ..pump_single_slope.calibration import TACalibration
from .design import LocalBiasTADesign

__all__ = ["LocalBiasTACalibration"]


class LocalBiasTACalibration(TACalibration):
    """:class:`TACalibration` of the local-bias circuit."""

    variant: ClassVar[str] = "pump_local_bias"
    version: ClassVar[int] = 1
    design_class = LocalBiasTADesign
